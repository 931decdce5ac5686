"""One-to-one assignment of particles to target points for mimetic control.

Mimetic control pulls every particle towards its own target point, so the assignment decides
how the body flows from one form to the next. We want the permutation that minimises the total
squared travel sum_i |x_i - y_perm(i)|^2 [m^2] (discrete optimal transport, OT): then
neighbouring particles travel side by side. Exact OT is O(N^3); this module approximates it in
O(N log N) with sorts only, in four stages:

1. **Sliced optimal transport** (Rabin, Peyre, Delon & Bernot 2011, "Wasserstein barycenter and
   its application to texture mixing"; Bonneel, Rabin, Peyre & Pfister 2015, "Sliced and Radon
   Wasserstein barycenters of measures"). Each particle carries a proxy point, starting at the
   particle. An iteration picks three random orthonormal directions; along each, the 1D OT
   between the proxies' and the targets' projections is solved by sorting both, and every proxy
   moves along the direction onto its matched projection. The proxies then fill the target
   shape and each proxy marks where its particle should go.
2. **Recursive bisection with sliced OT in the cells.** Sliced OT fixes the large scales fast
   but small-scale mismatch only after thousands of iterations (a random direction rarely
   lines up with a short-wavelength density error), so proxies and targets are split into the
   same number of cells, recursively: each cell is cut at the median of both its proxies and its
   targets along its widest axis, so both halves hold equal counts of each, down to cells of
   at most four. While cells are large, each level first runs one sliced-OT iteration inside
   every cell (one segmented sort per direction for all cells at once); that moves the proxies
   onto the targets of their own cell, so the two median cuts fall in the same place. Without
   it (plain recursive bisection after sliced OT) particles near each cut land in the wrong
   half, which is the ~2-spacing local shuffle described in the mimetic-control notes.
3. **Exact matching in the leaves**: each leaf's (at most 4! = 24) pairings are enumerated
   and the one with the least true squared distance kept.
4. **Local 2-opt swaps.** Two particles i, j swap targets when that lowers the total, i.e.
   when (x_i - x_j) . (y_perm(i) - y_perm(j)) < 0: their paths cross, which is what makes
   neighbours pull against each other. Candidate pairs are particles a few places apart in a
   Morton (Z-order) sort of the particles, or of their targets, in a randomly turned and shifted
   frame; each pass uses disjoint pairs, so all improving swaps of a pass apply together, and
   every swap strictly lowers the total.

A greedy nearest-neighbour final match (the notes' other candidate) was measured and dropped: its
tail grows with N, because the last particles to be matched must reach the holes the sliced-OT
proxies left, tens of spacings away at 1 M particles.

Everything is vectorised NumPy: Python loops run over iterations, levels and passes only.
Results are deterministic for a given ``rng`` seed.
"""

from __future__ import annotations

import itertools

import numpy as np
from scipy.spatial import cKDTree

_SLICED_ITERATIONS = 10
"""Global sliced-OT iterations (three directions each) before the bisection."""

_LEAF_SIZE = 4
"""Bisection stops when no cell holds more particles; leaves are matched by enumeration."""

_SWAP_ROUNDS = 6
"""Rounds of 2-opt swaps, each with a fresh Morton order (alternately of the particles and of
their targets)."""

_SWAP_STRIDES = (1, 2, 3, 4, 5)
"""A particle is paired with the one this many places further in the Morton order."""

_MATCH_JITTER = 0.25
"""Copies added by ``match_count`` are moved by up to this fraction of the distance from the
copied target to its nearest neighbour, along each axis."""


def assign_targets(particles: np.ndarray, targets: np.ndarray, rng: np.random.Generator,
                   spacing: float | None = None) -> np.ndarray:
    """Assign each particle its own target point, approximately minimising the total squared
    travel distance (see the module docstring for the method).

    ``particles`` and ``targets`` are positions [m], shape (N, 3), with the same N (use
    ``match_count`` to resample the targets first). ``rng`` draws the random directions and
    frames, so a seeded generator gives the same assignment every time. ``spacing`` is the
    particle spacing [m] (grid cell size / cbrt(particles per cell)); it sets the grain of the
    swap stage's Morton sort and is estimated from the particles' bounding box when omitted.

    Returns ``perm``, int64 of shape (N,), a permutation of 0..N-1: particle i goes to
    ``targets[perm[i]]``.
    """
    x = _as_points(particles, "particles")
    y = _as_points(targets, "targets")
    n = len(x)
    if len(y) != n:
        raise ValueError(
            f"assign_targets needs as many targets as particles; got {len(y)} targets for {n} "
            f"particles. Resample the targets with match_count(targets, {n}, rng) first."
        )
    if spacing is not None and not (np.isfinite(spacing) and spacing > 0.0):
        raise ValueError(f"spacing must be a positive length in metres or None; got {spacing!r}")
    if n < 2:
        return np.zeros(n, dtype=np.int64)
    # Translating both sets changes no assignment's optimality; centring keeps the float64
    # sort keys and dot products below precise when the body is far from the origin.
    centre = x.mean(axis=0)
    x = x - centre
    y = y - centre
    if spacing is None:
        spacing = _estimate_spacing(x)

    proxies = _sliced_ot(x, y, rng, _SLICED_ITERATIONS)
    leaf_particles, leaf_targets, leaf_counts = _bisect(proxies, y, rng)
    perm = _match_leaves(x, y, leaf_particles, leaf_targets, leaf_counts)
    _swap_crossings(x, y, perm, rng, float(spacing))
    return perm


def match_count(targets: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Resample ``targets`` (positions [m], shape (M, 3)) to exactly ``n`` points, float64 (n, 3).

    Filling two forms of equal volume gives nearly equal counts; this fixes the last few per
    cent. With too many targets, a random subset of M - n is dropped (the rest keep their
    order). With too few, n - M targets drawn at random (with repetition only when n > 2 M) are
    copied and each copy is moved by a uniform jitter of up to 0.25 times the distance from its
    original to the nearest other target, along each axis, so copies stay inside the form and
    do not sit exactly on their originals. ``rng`` makes the choice reproducible.
    """
    y = _as_points(targets, "targets")
    m = len(y)
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"n must be a non-negative integer count of points; got {n!r}")
    n = int(n)
    if n <= m:
        keep = np.sort(rng.choice(m, size=n, replace=False))
        return y[keep]
    if m == 0:
        raise ValueError(f"cannot make {n} target points from an empty target set")
    extra = rng.choice(m, size=n - m, replace=n - m > m)
    if m == 1:
        # A single point has no neighbour to scale the jitter by: copies coincide with it.
        return np.concatenate([y, y[extra]])
    neighbour_distance = cKDTree(y).query(y[extra], k=2)[0][:, 1]
    jitter = rng.uniform(-1.0, 1.0, size=(n - m, 3)) * (_MATCH_JITTER * neighbour_distance)[:, None]
    return np.concatenate([y, y[extra] + jitter])


def _as_points(points: np.ndarray, name: str) -> np.ndarray:
    """``points`` as float64 (N, 3) [m]; raise ValueError naming ``name`` otherwise."""
    p = np.asarray(points, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] != 3:
        raise ValueError(f"{name} must be an array of positions with shape (N, 3); got shape {p.shape}")
    if not np.all(np.isfinite(p)):
        raise ValueError(f"{name} contain NaN or infinite coordinates")
    return p


def _estimate_spacing(x: np.ndarray) -> float:
    """Particle spacing [m] if the particles filled their bounding box: an overestimate for
    shapes that do not (about 1.25x for a sphere), which only coarsens the swap stage's grain."""
    extent = np.ptp(x, axis=0)
    extent = np.maximum(extent, extent.max() * 1e-6)
    return float((np.prod(extent) / len(x)) ** (1.0 / 3.0)) or 1.0


def _random_basis(rng: np.random.Generator) -> np.ndarray:
    """Random rotation: orthonormal columns, uniformly distributed (QR of a Gaussian matrix,
    with the sign fix that makes the distribution uniform)."""
    q, r = np.linalg.qr(rng.standard_normal((3, 3)))
    return q * np.sign(np.diag(r))


def _sliced_ot(x: np.ndarray, y: np.ndarray, rng: np.random.Generator, iterations: int) -> np.ndarray:
    """Proxies [m], (N, 3): the particles ``x`` moved by ``iterations`` sliced-OT iterations
    towards the distribution of the targets ``y`` (both (N, 3) [m])."""
    n = len(x)
    # Rows are coordinates, so each direction's projections are contiguous.
    proxies = np.ascontiguousarray(x.T)
    target_rows = np.ascontiguousarray(y.T)
    index_bits = int(n - 1).bit_length()
    # Sorting int64 keys is ~2x faster than argsort of floats: the projection, scaled to the
    # high bits, carries the order and the particle index rides in the low bits.
    key_scale = float(2 ** (62 - index_bits) - 1)
    index = np.arange(n, dtype=np.int64)
    low_mask = (1 << index_bits) - 1
    shift = np.empty(n)
    for _ in range(iterations):
        basis = _random_basis(rng)
        projected = basis.T @ proxies
        target_sorted = np.sort(basis.T @ target_rows, axis=1)
        for d in range(3):
            p = projected[d]
            lo, hi = p.min(), p.max()
            key = ((p - lo) * (key_scale / max(hi - lo, np.finfo(float).tiny))).astype(np.int64)
            key <<= index_bits
            key |= index
            key.sort()
            order = key & low_mask
            # The k-th smallest proxy projection moves onto the k-th smallest target projection.
            shift[order] = target_sorted[d] - p[order]
            proxies += np.outer(basis[:, d], shift)
    return proxies.T


def _bisect(proxies: np.ndarray, y: np.ndarray,
            rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Split proxies and targets (both (N, 3) [m]) into matching cells of at most
    ``_LEAF_SIZE`` each, moving the proxies by a 1D OT step inside each cell before each cut.

    Returns (particle indices, target indices, counts): both index arrays list the cells one
    after the other, cell k holding ``counts[k]`` particles and as many targets.
    """
    n = len(proxies)
    # Rows are coordinates and each cell's points are kept contiguous, cells in order.
    zt = np.ascontiguousarray(proxies.T)
    yt = np.ascontiguousarray(y.T)
    particle_index = np.arange(n)
    target_index = np.arange(n)
    slot = np.arange(n)
    counts = np.array([n])
    # Segmented sort: key = cell number + projection scaled into [0, 1), so one argsort orders
    # every cell's points by projection and keeps the cells in order.
    radius = np.sqrt(3.0) * max(np.abs(zt).max(), np.abs(yt).max()) * 1.01 + np.finfo(float).tiny
    scale = (1.0 - 1e-9) / (2.0 * radius)
    while counts.max() > _LEAF_SIZE:
        starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
        cell = np.repeat(np.arange(len(counts), dtype=np.float64), counts)
        basis = _random_basis(rng)
        zq = basis.T @ zt
        spread = np.add.reduceat(zq * zq, starts, axis=1) - np.add.reduceat(zq, starts, axis=1) ** 2 / counts
        # Cutting across the widest of the three axes keeps cells compact, so few points lie
        # near a cut. ``flat`` picks each point's coordinate along its cell's widest axis.
        flat = np.repeat(np.argmax(spread, axis=0) * n, counts) + slot
        pz = zq.ravel()[flat]
        py = (basis.T @ yt).ravel()[flat]
        z_order = np.argsort(cell + (pz + radius) * scale)
        y_order = np.argsort(cell + (py + radius) * scale)
        # 1D OT inside each cell along that axis: the k-th proxy moves onto the k-th target's
        # coordinate, so the proxies' median cut is the targets' median cut.
        moved = np.empty(n)
        moved[z_order] = py[y_order]
        zq.ravel()[flat] = moved
        # The lower half of each cell (in both sets) becomes its first child.
        zt = basis @ zq[:, z_order]
        yt = yt[:, y_order]
        particle_index = particle_index[z_order]
        target_index = target_index[y_order]
        counts = np.stack([counts // 2, counts - counts // 2], axis=1).ravel()
    return particle_index, target_index, counts


def _match_leaves(x: np.ndarray, y: np.ndarray, particle_index: np.ndarray, target_index: np.ndarray,
                  counts: np.ndarray) -> np.ndarray:
    """Permutation (N,) that matches every leaf cell's particles to its targets with the least
    squared distance, by enumerating the cell's pairings (cells hold at most ``_LEAF_SIZE``)."""
    perm = np.empty(len(x), dtype=np.int64)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    for size in range(1, int(counts.max()) + 1):
        first = starts[counts == size]
        if len(first) == 0:
            continue
        slots = first[:, None] + np.arange(size)
        p = particle_index[slots]
        t = target_index[slots]
        # sum |x - y|^2 over a pairing = const - 2 sum x . y, so maximise the dot products.
        dots = np.matmul(x[p], y[t].transpose(0, 2, 1))
        pairings = np.array(list(itertools.permutations(range(size))))
        score = np.zeros((len(first), len(pairings)))
        for k in range(size):
            score += dots[:, k, :][:, pairings[:, k]]
        best = pairings[np.argmax(score, axis=1)]
        perm[p] = np.take_along_axis(t, best, axis=1)
    return perm


def _morton_order(rows: np.ndarray, cell: float, rng: np.random.Generator) -> np.ndarray:
    """Indices that sort points (given as coordinate rows, (3, N) [m]) along a Z-order curve
    through cubes of edge ``cell`` [m], in a randomly turned and shifted frame, so that pairs
    the curve separates in one call are neighbours in another."""
    n = rows.shape[1]
    local = _random_basis(rng).T @ rows
    local -= local.min(axis=1, keepdims=True) - rng.uniform(0.0, cell, size=(3, 1))
    index_bits = int(n - 1).bit_length()
    # Interleaved cube coordinates and the point's index share one int64 (sorting int64 is
    # ~3x faster than argsort); coarsen the cubes if the body spans too many of them.
    axis_bits = min(21, (63 - index_bits) // 3)
    cell = max(cell, float(local.max()) / (2**axis_bits - 1))
    key = np.zeros(n, dtype=np.int64)
    for axis in range(3):
        v = (local[axis] / cell).astype(np.int64)
        # Spread the bits of v three apart (standard magic-number bit interleaving).
        v = (v | (v << 32)) & 0x1F00000000FFFF
        v = (v | (v << 16)) & 0x1F0000FF0000FF
        v = (v | (v << 8)) & 0x100F00F00F00F00F
        v = (v | (v << 4)) & 0x10C30C30C30C30C3
        v = (v | (v << 2)) & 0x1249249249249249
        key |= v << axis
    key <<= index_bits
    key |= np.arange(n, dtype=np.int64)
    key.sort()
    return key & ((1 << index_bits) - 1)


def _swap_crossings(x: np.ndarray, y: np.ndarray, perm: np.ndarray, rng: np.random.Generator,
                    spacing: float) -> None:
    """Improve ``perm`` in place by rounds of 2-opt swaps between particles a few places apart
    in a Morton order; every applied swap lowers sum |x_i - y_perm(i)|^2. ``x``, ``y`` are
    positions [m], (N, 3); ``spacing`` [m] is the Morton cube edge."""
    n = len(x)
    xt = np.ascontiguousarray(x.T)
    yt = np.ascontiguousarray(y.T)
    for round_index in range(_SWAP_ROUNDS):
        # Alternate neighbourhoods: particles close at the start, and particles whose targets
        # are close; a crossing can be short in one space and long in the other.
        if round_index % 2 == 0:
            particles = _morton_order(xt, spacing, rng)
            targets = perm[particles]
        else:
            targets = _morton_order(yt[:, perm], spacing, rng)
            particles, targets = targets, perm[targets]
        xs = xt[:, particles]
        ys = yt[:, targets]
        for stride in _SWAP_STRIDES:
            for offset in (0, stride):
                # Blocks of 2 * stride consecutive slots: slot a pairs with a + stride, so the
                # pairs of a pass are disjoint and their swaps do not interact.
                end = offset + (n - offset) // (2 * stride) * (2 * stride)
                if end <= offset:
                    continue
                xb = xs[:, offset:end].reshape(3, -1, 2, stride)
                yb = ys[:, offset:end].reshape(3, -1, 2, stride)
                # Swapping changes the total by 2 (x_i - x_j) . (y_perm(i) - y_perm(j)).
                d = (xb[:, :, 0] - xb[:, :, 1]) * (yb[:, :, 0] - yb[:, :, 1])
                pair = np.flatnonzero((d[0] + d[1] + d[2]).ravel() < 0.0)
                i = offset + pair // stride * (2 * stride) + pair % stride
                j = i + stride
                swapped = targets[i]
                targets[i] = targets[j]
                targets[j] = swapped
                swapped = ys[:, i]
                ys[:, i] = ys[:, j]
                ys[:, j] = swapped
        perm[particles] = targets
