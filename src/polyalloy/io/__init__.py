"""Run-directory I/O: atomic writes, particle PLY files, checkpoints and the run directory.

See DESIGN.md, "Run directory (contract)", for what a run leaves behind.
"""

from .atomic import atomic_path, atomic_write_bytes, atomic_write_text
from .checkpoint import (
    checkpoint_path,
    latest_checkpoint,
    load_checkpoint,
    prune_checkpoints,
    save_checkpoint,
)
from .ply import PLY_VERTEX_DTYPE, read_ply, write_ply
from .rundir import EVENT_COLUMNS, RUN_STATUSES, RunDirectory

__all__ = [
    "EVENT_COLUMNS",
    "PLY_VERTEX_DTYPE",
    "RUN_STATUSES",
    "RunDirectory",
    "atomic_path",
    "atomic_write_bytes",
    "atomic_write_text",
    "checkpoint_path",
    "latest_checkpoint",
    "load_checkpoint",
    "prune_checkpoints",
    "read_ply",
    "save_checkpoint",
    "write_ply",
]
