"""Particle PLY files: one per frame in ``particles/`` (DESIGN.md, "Run directory").

Binary little-endian PLY with a single ``vertex`` element whose properties are, in order:

========================  =======  ==============================================
property                  type     meaning
========================  =======  ==============================================
``x y z``                 float    position [m]
``vx vy vz``              float    velocity [m/s]
``red green blue``        uchar    colour, 0–255
``temperature``           float    temperature [°C]
``phase``                 float    liquid fraction: 0 frozen … 1 liquid
``body``                  int      index into the scene's bodies, −1 other matter
========================  =======  ==============================================

Records are packed (39 bytes each), as the PLY format requires, so a file is its ASCII
header followed by ``N * 39`` bytes. Writing builds one NumPy structured array and writes it
in one call, which keeps a million-particle frame well under a second.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .atomic import atomic_path

PLY_VERTEX_DTYPE = np.dtype(
    [
        ("x", "<f4"),
        ("y", "<f4"),
        ("z", "<f4"),
        ("vx", "<f4"),
        ("vy", "<f4"),
        ("vz", "<f4"),
        ("red", "u1"),
        ("green", "u1"),
        ("blue", "u1"),
        ("temperature", "<f4"),
        ("phase", "<f4"),
        ("body", "<i4"),
    ]
)
"""Packed record of one particle, in the contract's property order."""

# PLY scalar type names and their little-endian NumPy equivalents (both spellings of the spec).
_PLY_TYPES = {
    "char": "i1", "int8": "i1",
    "uchar": "u1", "uint8": "u1",
    "short": "<i2", "int16": "<i2",
    "ushort": "<u2", "uint16": "<u2",
    "int": "<i4", "int32": "<i4",
    "uint": "<u4", "uint32": "<u4",
    "float": "<f4", "float32": "<f4",
    "double": "<f8", "float64": "<f8",
}  # fmt: skip
_PLY_NAMES = {"i1": "char", "u1": "uchar", "i2": "short", "u2": "ushort",
              "i4": "int", "u4": "uint", "f4": "float", "f8": "double"}  # fmt: skip


def _header(count: int) -> bytes:
    lines = [
        "ply",
        "format binary_little_endian 1.0",
        "comment polyalloy particles: x y z [m], vx vy vz [m/s], temperature [degC], "
        "phase = liquid fraction (0 frozen, 1 liquid), body = scene body index (-1 other)",
        f"element vertex {count}",
    ]
    for name in PLY_VERTEX_DTYPE.names:
        kind = PLY_VERTEX_DTYPE.fields[name][0].str[1:]
        lines.append(f"property {_PLY_NAMES[kind]} {name}")
    lines.append("end_header")
    return ("\n".join(lines) + "\n").encode("ascii")


def _column(name: str, values: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    array = np.asarray(values)
    if array.shape != shape:
        raise ValueError(f"PLY {name}: expected shape {shape}, got {array.shape}")
    return array


def write_ply(
    path: str | os.PathLike[str],
    positions: np.ndarray,
    velocities: np.ndarray,
    colors_u8: np.ndarray,
    temperature: np.ndarray,
    phase: np.ndarray,
    body: np.ndarray,
) -> None:
    """Write one frame's particles to ``path`` atomically.

    Args:
        path: Output file, normally ``RunDirectory.particle_path(frame)``.
        positions: Positions [m], shape (N, 3).
        velocities: Velocities [m/s], shape (N, 3).
        colors_u8: Colours as integers 0–255, shape (N, 3); floats are refused so that a
            0–1 colour is not silently written as black.
        temperature: Temperatures [°C], shape (N,).
        phase: Liquid fraction, 0 frozen … 1 liquid, shape (N,).
        body: Scene body index per particle, −1 for other matter, shape (N,).
    """
    n = len(np.asarray(positions))
    colors = _column("colors_u8", colors_u8, (n, 3))
    if not np.issubdtype(colors.dtype, np.integer):
        raise TypeError(
            f"PLY colors_u8 must be integers 0-255, got dtype {colors.dtype}; convert 0-1 "
            "colours with np.clip(np.rint(c * 255), 0, 255).astype(np.uint8)"
        )
    if n and (colors.min() < 0 or colors.max() > 255):
        raise ValueError("PLY colors_u8 must lie in 0-255")

    positions = _column("positions", positions, (n, 3))
    velocities = _column("velocities", velocities, (n, 3))
    records = np.empty(n, dtype=PLY_VERTEX_DTYPE)
    for axis, (p, v, c) in enumerate(zip("xyz", ("vx", "vy", "vz"), ("red", "green", "blue"))):
        records[p] = positions[:, axis]
        records[v] = velocities[:, axis]
        records[c] = colors[:, axis]
    records["temperature"] = _column("temperature", temperature, (n,))
    records["phase"] = _column("phase", phase, (n,))
    records["body"] = _column("body", body, (n,))

    with atomic_path(path) as temp, open(temp, "wb") as f:
        f.write(_header(n))
        records.tofile(f)


def read_ply(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """Read the ``vertex`` element of a binary little-endian PLY file.

    Elements before ``vertex`` are skipped; list properties are not supported.

    Returns:
        One contiguous array per vertex property, keyed by property name, in file order.

    Raises:
        ValueError: The file is not PLY, is ASCII or big-endian, has no vertex element, uses
            list properties or is shorter than its header says.
    """
    path = Path(path)
    with open(path, "rb") as f:
        if f.readline().strip() != b"ply":
            raise ValueError(f"{path}: not a PLY file (first line is not 'ply')")
        elements: list[tuple[str, int, list[tuple[str, str]]]] = []
        binary_little_endian = False
        while True:
            line = f.readline()
            if not line:
                raise ValueError(f"{path}: PLY header has no 'end_header'")
            words = line.decode("ascii", errors="replace").split()
            if not words or words[0] in ("comment", "obj_info"):
                continue
            if words[0] == "end_header":
                break
            if words[0] == "format":
                if words[1:2] != ["binary_little_endian"]:
                    raise ValueError(
                        f"{path}: PLY format {' '.join(words[1:])!r} is not supported; "
                        "only binary_little_endian is"
                    )
                binary_little_endian = True
            elif words[0] == "element":
                elements.append((words[1], int(words[2]), []))
            elif words[0] == "property":
                if words[1] == "list":
                    raise ValueError(f"{path}: PLY list property {words[-1]!r} is not supported")
                if not elements or words[1] not in _PLY_TYPES:
                    raise ValueError(f"{path}: bad PLY header line {line!r}")
                elements[-1][2].append((words[2], _PLY_TYPES[words[1]]))
        if not binary_little_endian:
            raise ValueError(f"{path}: PLY header has no 'format' line")
        for name, count, properties in elements:
            dtype = np.dtype(properties)
            data = np.fromfile(f, dtype=dtype, count=count)
            if len(data) != count:
                raise ValueError(
                    f"{path}: PLY element {name!r} truncated: {len(data)} of {count} records"
                )
            if name == "vertex":
                return {p: np.ascontiguousarray(data[p]) for p, _ in properties}
    raise ValueError(f"{path}: PLY file has no 'vertex' element")
