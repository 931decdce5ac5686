"""Per-frame metrics of a run: the one place where each figure of ``metrics.csv`` is defined.

Every function here works on host-side NumPy arrays (copied from the device once per frame)
and is vectorised: neighbour searches use ``scipy.spatial.cKDTree`` and connected components
``scipy.sparse.csgraph``; nothing loops over particles in Python. Units are SI: metres,
kilograms, seconds, joules; temperatures in °C.

The column order of ``metrics.csv`` is :data:`METRIC_COLUMNS` (DESIGN.md, "Run directory").
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

METRIC_COLUMNS: tuple[str, ...] = (
    "frame",
    "time",
    "body",
    "particles",
    "mass",
    "dissolved_mass",
    "evaporated_mass",
    "lost_mass",
    "fragments",
    "solid_pieces",
    "largest_fragment",
    "form",
    "iou",
    "shape_error",
    "temp_mean",
    "temp_min",
    "temp_max",
    "frozen_fraction",
    "authority",
    "glitch",
    "kinetic_energy",
    "substeps",
    "wall_s",
)
"""Columns of ``metrics.csv``, in order (one row per frame per body)."""

LINK_SPACINGS = 1.5
"""Two particles are linked when at most this many particle spacings apart."""

MIN_PIECE_PARTICLES = 4
"""Fewest particles a connected piece needs to count as a fragment or a solid piece."""

# Voxel centres handed to ``inside_fn`` per call in :func:`iou`; bounds the temporary memory
# (about 24 bytes per point) whatever the size of the grid.
_IOU_CHUNK_POINTS = 1 << 20


def _as_points(positions: np.ndarray) -> np.ndarray:
    """Positions [m] as a float64 array of shape (N, 3)."""
    return np.asarray(positions, dtype=np.float64).reshape(-1, 3)


def piece_labels(points: np.ndarray, spacing: float) -> np.ndarray:
    """Connected-component label of each point, linking points within ``LINK_SPACINGS * spacing``.

    Args:
        points: Positions [m], shape (N, 3), N >= 1.
        spacing: Particle spacing [m].

    Returns:
        Labels 0 … K-1, shape (N,).
    """
    if spacing <= 0.0:
        raise ValueError(f"particle spacing must be positive, got {spacing!r} m")
    pairs = cKDTree(points).query_pairs(LINK_SPACINGS * spacing, output_type="ndarray")
    n = len(points)
    graph = coo_matrix(
        (np.ones(len(pairs), dtype=np.int8), (pairs[:, 0], pairs[:, 1])), shape=(n, n)
    )
    # Each pair is stored once (i < j); weak connectivity of that directed graph is the
    # undirected one and spares scipy a symmetrised copy.
    _, labels = connected_components(graph, directed=True, connection="weak")
    return labels


def fragments(positions: np.ndarray, masses: np.ndarray, spacing: float) -> tuple[int, float]:
    """Fragments of a body and the largest one's share of its mass.

    A fragment is a connected piece of at least :data:`MIN_PIECE_PARTICLES` particles, two
    particles being linked when at most ``1.5 * spacing`` apart. Smaller pieces (droplets of
    1–3 particles) are not fragments but their mass still counts in the total.

    Args:
        positions: Body particle positions [m], shape (N, 3).
        masses: Particle masses [kg], shape (N,).
        spacing: Particle spacing [m] of the body (cell / particles_per_cell^(1/3)).

    Returns:
        ``(count, largest)``: the number of fragments and the mass of the heaviest fragment
        divided by the mass of all N particles (0.0 when there is no fragment). Empty input
        gives ``(0, 0.0)``.
    """
    points = _as_points(positions)
    masses = np.asarray(masses, dtype=np.float64).reshape(-1)
    if len(points) == 0:
        return 0, 0.0
    labels = piece_labels(points, spacing)
    is_fragment = np.bincount(labels) >= MIN_PIECE_PARTICLES
    count = int(np.count_nonzero(is_fragment))
    total = float(masses.sum())
    if count == 0 or total <= 0.0:
        return count, 0.0
    piece_mass = np.bincount(labels, weights=masses)
    return count, float(piece_mass[is_fragment].max() / total)


def solid_pieces(
    positions: np.ndarray, frozen_mask: np.ndarray, intact_mask: np.ndarray, spacing: float
) -> int:
    """Solid pieces (shards) of a body.

    A solid piece is a group of at least :data:`MIN_PIECE_PARTICLES` particles that are frozen
    and intact, linked within ``1.5 * spacing``. "Intact" (undamaged: still within 1.5 spacings
    of the neighbours they had when they froze) is tracked by the fracture model and passed in
    as ``intact_mask``; a damaged particle never joins a solid piece, so cracks split them.

    Args:
        positions: Body particle positions [m], shape (N, 3).
        frozen_mask: True where the particle is frozen, shape (N,).
        intact_mask: True where the particle is undamaged, shape (N,).
        spacing: Particle spacing [m].

    Returns:
        The number of solid pieces; 0 for a liquid body.
    """
    points = _as_points(positions)
    solid = np.asarray(frozen_mask, dtype=bool).reshape(-1) & np.asarray(
        intact_mask, dtype=bool
    ).reshape(-1)
    if np.count_nonzero(solid) < MIN_PIECE_PARTICLES:
        return 0
    labels = piece_labels(points[solid], spacing)
    return int(np.count_nonzero(np.bincount(labels) >= MIN_PIECE_PARTICLES))


def iou(
    positions: np.ndarray,
    inside_fn: Callable[[np.ndarray], np.ndarray],
    cell: float,
    *,
    form_bounds: tuple[np.ndarray, np.ndarray] | None = None,
    margin: float | None = None,
    particles_per_voxel: float = 1.0,
) -> float:
    """Voxel intersection-over-union of a body and its current form.

    Voxels are cubes of side ``cell`` aligned to the world origin (voxel ``i`` spans
    ``[i * cell, (i + 1) * cell)`` on each axis). A voxel is occupied by the body if it holds
    at least half of ``particles_per_voxel`` (the count of a voxel full of matter at rest;
    at least one particle), and belongs to the form if ``inside_fn`` is True at its centre.
    Both are then the same half-full rule: a body that exactly fills its form scores ~1,
    where counting any particle would flag every partly filled surface voxel (a ball of 7.5
    cells' radius at rest would score only 0.85).

    The form is sampled over the body's bounding box grown by ``margin`` on every side, united
    with ``form_bounds`` when given. Form voxels outside that region are not counted, which
    can only overstate the IoU; pass ``form_bounds`` to make the figure exact. With
    ``form_bounds``, ``inside_fn`` is asked only about voxels within them (grown by a voxel):
    a shattered body spreads over thousands of voxels the form cannot reach.

    Args:
        positions: Body particle positions [m], shape (N, 3).
        inside_fn: Maps world-space points [m], shape (M, 3), to a boolean array (M,) that is
            True inside the form.
        cell: Voxel size [m] (the simulation cell size).
        form_bounds: ``(lo, hi)`` world-space bounding box of the form [m], each shape (3,).
        margin: Growth of the body's bounding box [m]; default a quarter of its largest
            extent plus one cell.
        particles_per_voxel: Particles in a full voxel at rest (the body's particles per cell).

    Returns:
        IoU in [0, 1]; 0.0 for an empty body.
    """
    if cell <= 0.0:
        raise ValueError(f"voxel size must be positive, got {cell!r} m")
    points = _as_points(positions)
    if len(points) == 0:
        return 0.0
    lo = points.min(axis=0)
    hi = points.max(axis=0)
    pad = 0.25 * float(np.max(hi - lo)) + cell if margin is None else float(margin)
    lo, hi = lo - pad, hi + pad
    if form_bounds is not None:
        lo = np.minimum(lo, np.asarray(form_bounds[0], dtype=np.float64))
        hi = np.maximum(hi, np.asarray(form_bounds[1], dtype=np.float64))
    first = np.floor(lo / cell).astype(np.int64)
    shape = tuple(np.floor(hi / cell).astype(np.int64) - first + 1)

    counts = np.zeros(shape, dtype=np.int32)
    index = np.floor(points / cell).astype(np.int64) - first
    np.add.at(counts, (index[:, 0], index[:, 1], index[:, 2]), 1)
    body = counts >= max(1.0, 0.5 * particles_per_voxel)

    centres = [(first[a] + np.arange(shape[a]) + 0.5) * cell for a in range(3)]
    reach = [slice(0, shape[a]) for a in range(3)]
    if form_bounds is not None:
        for a in range(3):
            lo_a, hi_a = np.searchsorted(centres[a], [form_bounds[0][a] - cell, form_bounds[1][a] + cell])
            reach[a] = slice(int(lo_a), int(hi_a))
    form = np.zeros(shape, dtype=bool)
    form[tuple(reach)] = _inside_grid(inside_fn, [centres[a][reach[a]] for a in range(3)])

    union = np.count_nonzero(body | form)
    return float(np.count_nonzero(body & form) / union) if union else 0.0


def _inside_grid(inside_fn: Callable[[np.ndarray], np.ndarray], centres: list[np.ndarray]) -> np.ndarray:
    """``inside_fn`` at every point of the grid with these centres [m] along x, y and z,
    evaluated slab by slab along x so memory stays bounded for large grids."""
    shape = tuple(len(c) for c in centres)
    inside = np.zeros(shape, dtype=bool)
    step = max(1, _IOU_CHUNK_POINTS // max(1, shape[1] * shape[2]))
    for start in range(0, shape[0], step):
        xs = centres[0][start : start + step]
        grid = np.stack(np.meshgrid(xs, centres[1], centres[2], indexing="ij"), axis=-1)
        if grid.size:
            inside[start : start + step] = np.asarray(inside_fn(grid.reshape(-1, 3)), dtype=bool).reshape(grid.shape[:3])
    return inside


def shape_error(positions: np.ndarray, sdf_fn: Callable[[np.ndarray], np.ndarray]) -> float:
    """Mean distance [m] of the body's particles outside its form.

    The mean is over all body particles of ``max(sdf, 0)``: particles inside the form count as
    0, so a body entirely inside its form scores 0 and a body half inside scores half the mean
    distance of the outside half.

    Args:
        positions: Body particle positions [m], shape (N, 3).
        sdf_fn: Signed distance to the form [m] of world-space points (M, 3) -> (M,),
            negative inside.

    Returns:
        Mean outside distance [m]; 0.0 for an empty body.
    """
    points = _as_points(positions)
    if len(points) == 0:
        return 0.0
    distance = np.asarray(sdf_fn(points), dtype=np.float64).reshape(-1)
    return float(np.maximum(distance, 0.0).mean())


def kinetic_energy(velocities: np.ndarray, masses: np.ndarray) -> float:
    """Kinetic energy sum(m |v|^2) / 2 [J].

    Args:
        velocities: Particle velocities [m/s], shape (N, 3).
        masses: Particle masses [kg], shape (N,).
    """
    v = np.asarray(velocities, dtype=np.float64).reshape(-1, 3)
    m = np.asarray(masses, dtype=np.float64).reshape(-1)
    return float(0.5 * np.dot(m, np.einsum("ij,ij->i", v, v)))


def temperature_stats(temps: np.ndarray) -> tuple[float, float, float]:
    """Mean, minimum and maximum temperature [°C]; NaNs for an empty body (no temperature)."""
    t = np.asarray(temps, dtype=np.float64).reshape(-1)
    if len(t) == 0:
        return float("nan"), float("nan"), float("nan")
    return float(t.mean()), float(t.min()), float(t.max())


def frozen_fraction(phase: np.ndarray, masses: np.ndarray) -> float:
    """Mass fraction of frozen particles: those whose liquid fraction ``phase`` is below 0.5.

    Args:
        phase: Liquid fraction per particle (0 frozen … 1 liquid), shape (N,).
        masses: Particle masses [kg], shape (N,).

    Returns:
        Frozen mass / total mass in [0, 1]; 0.0 when the total mass is 0.
    """
    p = np.asarray(phase, dtype=np.float64).reshape(-1)
    m = np.asarray(masses, dtype=np.float64).reshape(-1)
    total = float(m.sum())
    return float(m[p < 0.5].sum() / total) if total > 0.0 else 0.0
