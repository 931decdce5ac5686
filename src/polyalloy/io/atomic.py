"""Atomic file writes: write to a temporary name in the same directory, then rename.

A reader (or a resumed run) therefore sees either the previous complete file or the new
complete file, never a partial one, even if the writer raises or the process is killed. The
temporary file is fsynced before the rename so that the rename cannot outlive its data after
a power loss. Temporary names start with ``.`` and end in ``.tmp`` plus the target's suffix,
so writers that pick a format from the extension (``imageio``) still work and globs such as
``frame_*.npz`` never match an unfinished file.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def _reserve_temp(path: Path) -> Path:
    """Create an empty, uniquely named temporary file next to ``path`` and return its path."""
    while True:
        temp = path.with_name(f".{path.stem}.{secrets.token_hex(4)}.tmp{path.suffix}")
        try:
            # Mode 0o666 minus the umask gives the final file ordinary permissions
            # (mkstemp would leave it readable by its owner only).
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        os.close(fd)
        return temp


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success it is renamed onto ``path``.

    The body of the ``with`` block writes the temporary file by name (it exists, empty, on
    entry). If the block raises, the temporary file is removed, ``path`` is left untouched and
    the exception propagates.
    """
    target = Path(path)
    temp = _reserve_temp(target)
    try:
        yield temp
        _fsync(temp)
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_path(path) as temp:
        temp.write_bytes(data)


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` to ``path`` atomically, UTF-8 encoded, newlines untranslated."""
    atomic_write_bytes(path, text.encode("utf-8"))
