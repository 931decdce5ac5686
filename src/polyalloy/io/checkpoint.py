"""Checkpoints: the full simulation state of one frame as an uncompressed ``.npz`` file.

A checkpoint holds named NumPy arrays (whatever the state needs to resume bit for bit) and a
JSON metadata dict stored as a 0-d unicode array under :data:`META_KEY`. Nothing is pickled:
object arrays are refused when saving, and loading uses ``allow_pickle=False``. Files are
written atomically and named ``frame_000123.npz`` after the frame they end, so
:func:`latest_checkpoint` is the one a resumed run starts from.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from .atomic import atomic_path

META_KEY = "__meta__"
"""Name of the member holding the JSON metadata; not allowed as an array name."""

_NAME = re.compile(r"frame_(\d+)\.npz")


def json_default(value: Any) -> Any:
    """``json.dumps`` fallback for NumPy scalars and arrays and for paths; TypeError otherwise."""
    if isinstance(value, (np.generic, np.ndarray)):
        return value.tolist()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable")


def checkpoint_path(directory: str | os.PathLike[str], frame: int) -> Path:
    """Path of the checkpoint ending ``frame``: ``directory/frame_000123.npz``."""
    if frame < 0:
        raise ValueError(f"frame must be >= 0, got {frame}")
    return Path(directory) / f"frame_{frame:06d}.npz"


def save_checkpoint(
    path: str | os.PathLike[str], arrays: dict[str, np.ndarray], meta: dict[str, Any]
) -> None:
    """Save ``arrays`` and ``meta`` to ``path`` atomically.

    Args:
        path: Output ``.npz`` file, normally :func:`checkpoint_path`.
        arrays: Named arrays; numeric, boolean or string dtypes only.
        meta: JSON-serialisable metadata (frame, time [s], scene hash, …); NumPy scalars
            and arrays become numbers and lists.

    Raises:
        TypeError: An array has an object dtype (it would need pickle), or ``meta`` is not
            JSON-serialisable.
        ValueError: An array is named :data:`META_KEY`.
    """
    if META_KEY in arrays:
        raise ValueError(f"checkpoint array name {META_KEY!r} is reserved for the metadata")
    members = {}
    for name, value in arrays.items():
        array = np.asarray(value)
        if array.dtype.hasobject:
            raise TypeError(
                f"checkpoint array {name!r} has dtype {array.dtype}, which needs pickle; "
                "store numeric, boolean or string arrays only"
            )
        members[name] = array
    members[META_KEY] = np.array(json.dumps(meta, default=json_default))
    with atomic_path(path) as temp, open(temp, "wb") as f:
        # A file object, not a name: np.savez would append ".npz" to the temporary name.
        np.savez(f, **members)


def load_checkpoint(path: str | os.PathLike[str]) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Load a checkpoint written by :func:`save_checkpoint`.

    Returns:
        ``(arrays, meta)``.

    Raises:
        ValueError: The file holds an object array (pickle is never allowed) or has no
            metadata, i.e. it is not a polyalloy checkpoint.
    """
    with np.load(path, allow_pickle=False) as npz:
        if META_KEY not in npz.files:
            raise ValueError(f"{path}: not a polyalloy checkpoint (no {META_KEY!r} member)")
        arrays = {name: npz[name] for name in npz.files if name != META_KEY}
        meta = json.loads(npz[META_KEY].item())
    return arrays, meta


def _checkpoints(directory: str | os.PathLike[str]) -> list[tuple[int, Path]]:
    """Checkpoints in ``directory`` as ``(frame, path)``, ascending by frame."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    found = []
    for path in directory.iterdir():
        match = _NAME.fullmatch(path.name)
        if match:
            found.append((int(match.group(1)), path))
    return sorted(found)


def latest_checkpoint(directory: str | os.PathLike[str]) -> Path | None:
    """The checkpoint with the highest frame in ``directory``, or None if there is none."""
    found = _checkpoints(directory)
    return found[-1][1] if found else None


def prune_checkpoints(directory: str | os.PathLike[str], keep: int = 3) -> list[Path]:
    """Delete all but the ``keep`` highest-frame checkpoints in ``directory``.

    Returns:
        The deleted paths.
    """
    if keep < 1:
        raise ValueError(f"keep must be >= 1 so a run can still resume, got {keep}")
    doomed = [path for _, path in _checkpoints(directory)[:-keep]]
    for path in doomed:
        path.unlink(missing_ok=True)
    return doomed
