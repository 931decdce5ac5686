"""One-to-one assignment of particles to target points for mimetic control.

Mimetic control pulls every particle towards its own target point, so the assignment decides
how the body flows from one form to the next. We want the permutation that minimises the total
squared travel sum_i |x_i - y_perm(i)|^2 [m^2] (discrete optimal transport, OT): then
neighbouring particles travel side by side instead of pulling against each other. Exact OT is
O(N^3); this module approximates it in O(N log N), in four stages.

1. **Sliced optimal transport** (Rabin, Peyre, Delon & Bernot 2011, "Wasserstein barycenter and
   its application to texture mixing"; Bonneel, Rabin, Peyre & Pfister 2015, "Sliced and Radon
   Wasserstein barycenters of measures"). Each particle carries a proxy point, starting at the
   particle. An iteration picks three random orthonormal directions; along each, the 1D OT
   between the proxies' and the targets' projections is solved by sorting both, and every proxy
   moves along the direction onto its matched projection. The proxies come to fill the target
   shape, and each proxy marks where its particle should go. The first iterations take half
   steps, which keeps the map closer to the optimal one.
2. **Recursive bisection.** Sliced OT fixes large scales in a few iterations but small-scale
   mismatch only after thousands (a random direction rarely lines up with a short-wavelength
   density error). So proxies and targets are cut into cells holding equal numbers of each,
   recursively: each cell is cut at the median of its proxies and at the median of its targets
   along its widest axis (of a random frame), after a 1D OT step along that axis inside the
   cell moves the proxies onto the targets' coordinates, so the two median cuts agree. Cells of
   at most four are matched exactly by enumerating their pairings (4! = 24).
3. **Proximity match where the transport is small.** A cut through a region where every
   particle already sits next to its target separates some particles from their targets, and
   the forced re-pairing ripples through long cycles of neighbours: an assignment of a body
   that nearly holds its form would shuffle every particle by about a spacing. So a cell whose
   proxies already agree with its targets (1D OT shifts under a quarter spacing, rms) and whose
   proxies moved less than half a spacing from their particles (rms) is not cut further; all
   such cells are matched together by greedy nearest neighbour: each round, every unmatched
   proxy claims its nearest free target (scipy cKDTree), each target goes to its closest
   claimant.
4. **Local 2-opt swaps.** Two particles i, j swap targets when that lowers the total, i.e. when
   (x_i - x_j) . (y_perm(i) - y_perm(j)) < 0: their paths cross. Candidate pairs are particles
   a few places apart in a Morton (Z-order) sort of the particles, or of the targets, in a
   randomly turned and shifted frame; each pass uses disjoint pairs, so all improving swaps of a
   pass apply together, and every swap strictly lowers the total.

Greedy nearest neighbour alone (the mimetic-control notes' better final match) was measured and
kept only for stage 3: after sliced OT its tail grows with N, because the last particles matched
must reach holes the proxies left tens of spacings away (at 1 M particles).

Everything is vectorised NumPy: Python loops run over iterations, levels, rounds and passes
only. Independent halves of the heavy steps (the proxies' and the targets' sorts, two halves of
a swap pass) run on two threads, as NumPy releases the GIL. Results are deterministic for a
given ``rng`` seed. Cost on this project's two-core machine: about 0.1 s for 20 k particles,
0.5 s for 100 k and 8-9 s for 1 M (benchmarks/bench_assignment.py).
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from scipy.spatial import cKDTree

_SLICED_ITERATIONS = 20
"""Sliced-OT iterations (three directions each) before the bisection."""

_DAMPED_ITERATIONS = 6
"""The first iterations move the proxies only half way: the early, large moves decide which
part of the body goes where, and full steps there overshoot and twist the map (2 k points,
sphere to torus, 10 seeds: 2.4 % above the optimal total on average instead of 3.6 %, worst
3.1 % instead of 5.4 %)."""

_LEAF_SIZE = 4
"""Bisection stops when no cell holds more particles; leaves are matched by enumeration."""

_FREEZE_SHIFT = 0.25
"""A cell stops being cut when the rms of its 1D OT shifts is below this many spacings..."""

_FREEZE_TRAVEL = 0.5
"""...and its proxies moved less than this many spacings (rms) from their particles."""

_GREEDY_ROUNDS = 64
"""Cap on greedy rounds; the few particles still unmatched (degenerate input only) are matched
by bisection."""

_SWAP_ROUNDS = 6
"""Rounds of 2-opt swaps, each with a fresh Morton order (alternately of the particles and of
the targets)."""

_SWAP_STRIDES = (1, 2, 3, 4, 5)
"""A particle is paired with the one this many places further in the Morton order."""

_TAIL_SPACINGS = 2.0
"""Stage 5 works on particles matched farther than this many spacings from their target..."""

_TAIL_MEDIANS = 3.0
"""...and farther than this many times the median match distance (during a morph every
particle is far from its target; only the tail beyond the body's own travel is a defect)."""

_TAIL_NEIGHBOURS = 27
"""Swap partners stage 5 considers for each tail particle: its nearest particles."""

_TAIL_ROUNDS = 32
"""Cap on stage 5's rounds; each moves a tail target about two spacings along its chain."""

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
    particle spacing [m] (grid cell size / cbrt(particles per cell)); it scales the tolerances
    that decide where the transport is small, and is estimated from the particles when omitted.

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
    spacing = _estimate_spacing(x) if spacing is None else float(spacing)

    proxies = _sliced_ot(x, y, rng, _SLICED_ITERATIONS)
    leaves, frozen = _bisect(x, proxies, y, rng, spacing)
    perm = np.empty(n, dtype=np.int64)
    leaf_particles, leaf_targets, leaf_counts = leaves
    perm[leaf_particles] = leaf_targets[_match_leaves(x[leaf_particles], y[leaf_targets], leaf_counts)]
    frozen_particles, frozen_targets, frozen_proxies = frozen
    perm[frozen_particles] = frozen_targets[
        _greedy_match(x[frozen_particles], frozen_proxies, y[frozen_targets], rng)]
    _swap_crossings(x, y, perm, rng, spacing)
    _shorten_tail(x, y, perm, spacing)
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
    """Particle spacing [m] from the volume the particles occupy: occupied cubes of about two
    spacings are counted (twice, the first guess coming from the bounding box), which works for
    thin and hollow shapes where the bounding box would not."""
    n = len(x)
    extent = np.ptp(x, axis=0)
    if not extent.max() > 0.0:
        return 1.0  # all particles at one point: any length scales the tolerances alike
    # A flat or linear set gets a nominal thickness so that the first guess is not zero.
    extent = np.maximum(extent, 1e-3 * extent.max())
    spacing = float(np.prod(extent) / n) ** (1.0 / 3.0)
    for _ in range(2):
        edge = 2.0 * spacing
        cube = np.floor((x - x.min(axis=0)) / edge).astype(np.int64)
        span = cube.max(axis=0) + 1
        occupied = len(np.unique((cube[:, 0] * span[1] + cube[:, 1]) * span[2] + cube[:, 2]))
        spacing = (occupied * edge**3 / n) ** (1.0 / 3.0)
    return spacing


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
    proxies = np.array(x.T, order="C")
    target_rows = np.ascontiguousarray(y.T)
    index_bits = int(n - 1).bit_length()
    # Sorting int64 keys is ~2x faster than argsort of floats: the projection, scaled to the
    # high bits, carries the order and the particle index rides in the low bits.
    key_scale = float(2 ** (62 - index_bits) - 1)
    index = np.arange(n, dtype=np.int64)
    low_mask = (1 << index_bits) - 1
    shift = np.empty((3, n))

    def sort_order(p: np.ndarray) -> np.ndarray:
        lo, span = p.min(), np.ptp(p)
        key = ((p - lo) * (key_scale / span)).astype(np.int64) if span > 0.0 else np.zeros(n, dtype=np.int64)
        key <<= index_bits
        key |= index
        key.sort()
        return key & low_mask

    for iteration in range(iterations):
        basis = _random_basis(rng)
        projected = basis.T @ proxies
        orders, target_sorted = _in_parallel(lambda: [sort_order(p) for p in projected],
                                             lambda: np.sort(basis.T @ target_rows, axis=1))
        for d, order in enumerate(orders):
            # The k-th smallest proxy projection moves onto the k-th smallest target projection.
            shift[d, order] = target_sorted[d] - np.take(projected[d], order)
        # The directions are orthonormal, so a move along one leaves the projections onto the
        # others unchanged and the three moves can be applied at once.
        proxies += (0.5 if iteration < _DAMPED_ITERATIONS else 1.0) * (basis @ shift)
    return proxies.T


def _bisect(x: np.ndarray, proxies: np.ndarray, y: np.ndarray, rng: np.random.Generator,
            spacing: float) -> tuple[tuple[np.ndarray, ...], tuple[np.ndarray, ...]]:
    """Cut proxies and targets (both (N, 3) [m]) into cells of equal counts of each (stages 2
    and 3 of the module docstring); ``x`` (N, 3) [m] are the particles, ``spacing`` [m] scales
    the freezing tolerances.

    Returns (leaves, frozen). leaves = (particle indices, target indices, counts): both index
    arrays list the leaf cells one after the other, leaf k holding ``counts[k]`` of each.
    frozen = (particle indices, target indices, proxies (M, 3) [m]) of the cells left whole.
    """
    n = len(proxies)
    travel2 = np.sum((proxies - x) ** 2, axis=1)
    # Rows are coordinates; each cell's points are contiguous, cells in order.
    zt = np.ascontiguousarray(proxies.T)
    yt = np.ascontiguousarray(y.T)
    particle_index = np.arange(n)
    target_index = np.arange(n)
    counts = np.array([n])
    frozen: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    while len(counts) and counts.max() > _LEAF_SIZE:
        m = len(particle_index)
        starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
        cell = np.repeat(np.arange(len(counts), dtype=np.float64), counts)
        basis = _random_basis(rng)
        zq = basis.T @ zt
        spread = np.add.reduceat(zq * zq, starts, axis=1) - np.add.reduceat(zq, starts, axis=1) ** 2 / counts
        # Cutting across the widest of the three axes keeps cells compact, so few points lie
        # near a cut. ``flat`` picks each point's coordinate along its cell's widest axis.
        flat = np.repeat(np.argmax(spread, axis=0) * m, counts) + np.arange(m)
        pz = zq.ravel()[flat]
        py = (basis.T @ yt).ravel()[flat]
        # Segmented sort: key = cell number + coordinate scaled into [0, 1), so one argsort
        # orders every cell's points along its axis and keeps the cells in order.
        lo = min(pz.min(), py.min())
        span = max(pz.max(), py.max()) - lo
        scale = (1.0 - 1e-9) / span if span > 0.0 else 0.0
        z_order, y_order = _in_parallel(lambda: np.argsort(cell + (pz - lo) * scale),
                                        lambda: np.argsort(cell + (py - lo) * scale))
        # 1D OT inside each cell along that axis: the k-th proxy moves onto the k-th target's
        # coordinate, so the proxies' median cut is the targets' median cut.
        shift = np.empty(m)
        shift[z_order] = np.take(py, y_order) - np.take(pz, z_order)
        freeze = ((np.add.reduceat(shift**2, starts) < (_FREEZE_SHIFT * spacing) ** 2 * counts)
                  & (np.add.reduceat(travel2[particle_index], starts) < (_FREEZE_TRAVEL * spacing) ** 2 * counts))
        if freeze.any():
            member = np.repeat(freeze, counts)
            frozen.append((particle_index[member], target_index[member], zt[:, member].T))
            # Dropping whole cells from both sorted orders keeps them cell-major.
            z_order = z_order[~member[z_order]]
            y_order = y_order[~member[y_order]]
            counts = counts[~freeze]
        zq.ravel()[flat] = pz + shift
        # The lower half of each cell (in both sets) becomes its first child.
        # (np.take is several times faster than fancy indexing for these gathers.)
        zt, yt = _in_parallel(lambda: basis @ np.take(zq, z_order, axis=1), lambda: np.take(yt, y_order, axis=1))
        particle_index = np.take(particle_index, z_order)
        target_index = np.take(target_index, y_order)
        counts = np.stack([counts // 2, counts - counts // 2], axis=1).ravel()
    if frozen:
        frozen_parts = tuple(np.concatenate(part) for part in zip(*frozen))
    else:
        frozen_parts = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros((0, 3)))
    return (particle_index, target_index, counts), frozen_parts


def _match_leaves(x: np.ndarray, y: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Permutation (N,) matching particles ``x`` to targets ``y`` (both (N, 3) [m], listed cell
    by cell, cell k holding ``counts[k]`` of each, at most ``_LEAF_SIZE``) with the least
    squared distance inside every cell, by enumerating the cell's pairings."""
    perm = np.empty(len(x), dtype=np.int64)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1])).astype(np.int64)
    for size in np.unique(counts):
        slots = starts[counts == size][:, None] + np.arange(size)
        # sum |x - y|^2 over a pairing = const - 2 sum x . y, so maximise the dot products.
        dots = np.matmul(x[slots], y[slots].transpose(0, 2, 1))
        pairings = np.array(list(itertools.permutations(range(size))))
        score = np.zeros((len(slots), len(pairings)))
        for k in range(size):
            score += dots[:, k, :][:, pairings[:, k]]
        perm[slots] = np.take_along_axis(slots, pairings[np.argmax(score, axis=1)], axis=1)
    return perm


def _greedy_match(x: np.ndarray, proxies: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Permutation (N,) matching proxies (N, 3) [m] to targets ``y`` (N, 3) [m] by rounds of
    greedy nearest neighbour; ``x`` (N, 3) [m] are the particles, used only for a degenerate
    tail."""
    n = len(proxies)
    perm = np.empty(n, dtype=np.int64)
    free_particles = np.arange(n)
    free_targets = np.arange(n)
    for _ in range(_GREEDY_ROUNDS):
        if len(free_particles) == 0:
            return perm
        distance, nearest = cKDTree(y[free_targets]).query(proxies[free_particles], workers=-1)
        # Each claimed target goes to its closest claimant (ties to the lower particle index).
        order = np.lexsort((distance, nearest))
        claimed = nearest[order]
        winners = order[np.concatenate(([True], claimed[1:] != claimed[:-1]))]
        perm[free_particles[winners]] = free_targets[nearest[winners]]
        taken = np.zeros(len(free_targets), dtype=bool)
        taken[nearest[winners]] = True
        free_targets = free_targets[~taken]
        free_particles = np.delete(free_particles, winners)
    if len(free_particles):
        # Proxies bunched far from the free targets: match the rest by bisection instead.
        tail_leaves = _bisect(x[free_particles], proxies[free_particles], y[free_targets], rng, 0.0)[0]
        tail_particles, tail_targets, tail_counts = tail_leaves
        tail = _match_leaves(x[free_particles][tail_particles], y[free_targets][tail_targets], tail_counts)
        perm[free_particles[tail_particles]] = free_targets[tail_targets[tail]]
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
    owner = np.empty(n, dtype=np.int64)
    for round_index in range(_SWAP_ROUNDS):
        # Alternate neighbourhoods: particles close at the start, and particles whose targets
        # are close; a crossing can be short in one space and long in the other. Slots hold
        # the sorted points; the other side of each pair (target or particle) is what moves.
        if round_index % 2 == 0:
            particles = _morton_order(xt, spacing, rng)
            targets = perm[particles]
        else:
            targets = _morton_order(yt, spacing, rng)
            owner[perm] = np.arange(n)
            particles = owner[targets]
        xs = np.take(xt, particles, axis=1)
        ys = np.take(yt, targets, axis=1)
        moving, moving_rows = (targets, ys) if round_index % 2 == 0 else (particles, xs)
        for stride in _SWAP_STRIDES:
            for offset in (0, stride):
                # Blocks of 2 * stride consecutive slots: slot a pairs with a + stride, so the
                # pairs of a pass are disjoint, and two threads can take half the blocks each.
                blocks = (n - offset) // (2 * stride)
                if blocks == 0:
                    continue
                _in_parallel(
                    lambda: _swap_blocks(xs, ys, moving, moving_rows, offset, stride, 0, blocks // 2),
                    lambda: _swap_blocks(xs, ys, moving, moving_rows, offset, stride, blocks // 2, blocks))
        perm[particles] = targets


def _shorten_tail(x: np.ndarray, y: np.ndarray, perm: np.ndarray, spacing: float) -> None:
    """Stage 5: pass far targets along chains of neighbours, in place.

    A greedy match leaves a few particles whose target is a hole far away (the last claimants
    take what is left), and a settled body then holds them there against their neighbours. The
    optimal fix shifts a chain of particles each by a little toward the hole; a 2-opt swap
    between a tail particle i and a neighbour j lying toward its target does one link of it,
    since the swap lowers the total by -2 (x_i - x_j) . (y_perm(i) - y_perm(j)) > 0. Each round
    every tail particle proposes its best swap among its nearest particles; a proposal is
    applied when it is the best one touching both of its particles, so the applied swaps are
    disjoint; the far target then travels on with its new owner. ``x``, ``y`` [m], (N, 3)."""
    distance = np.linalg.norm(x - y[perm], axis=1)
    threshold = max(_TAIL_SPACINGS * spacing, _TAIL_MEDIANS * float(np.median(distance)))
    tail = np.flatnonzero(distance > threshold)
    if len(tail) == 0:
        return
    tree = cKDTree(x)
    k = min(_TAIL_NEIGHBOURS, len(x))
    for _ in range(_TAIL_ROUNDS):
        _, neighbours = tree.query(x[tail], k=k)
        neighbours = neighbours.reshape(len(tail), k)
        # Lowering of the total by each candidate swap: -2 (x_i - x_j) . (y_i - y_j).
        gain = -2.0 * np.einsum(
            "ikd,ikd->ik", x[tail][:, None, :] - x[neighbours], y[perm[tail]][:, None, :] - y[perm[neighbours]])
        best = np.argmax(gain, axis=1)
        i = tail
        j = neighbours[np.arange(len(tail)), best]
        g = gain[np.arange(len(tail)), best]
        keep = g > 0.0
        i, j, g = i[keep], j[keep], g[keep]
        if len(i) == 0:
            return
        # A proposal wins where it is the best touching each of its two particles (ties go
        # to the lower proposal index), so the winners share no particle.
        rank = np.empty(len(g), dtype=np.int64)
        rank[np.lexsort((np.arange(len(g)), -g))] = np.arange(len(g))
        first = np.full(len(x), len(g), dtype=np.int64)
        np.minimum.at(first, i, rank)
        np.minimum.at(first, j, rank)
        won = (first[i] == rank) & (first[j] == rank)
        i, j = i[won], j[won]
        perm[i], perm[j] = perm[j], perm[i].copy()
        moved = np.concatenate([tail, j])
        distance = np.linalg.norm(x[moved] - y[perm[moved]], axis=1)
        tail = np.unique(moved[distance > threshold])
        if len(tail) == 0:
            return


def _swap_blocks(xs: np.ndarray, ys: np.ndarray, moving: np.ndarray, moving_rows: np.ndarray,
                 offset: int, stride: int, first: int, last: int) -> None:
    """One 2-opt pass over blocks ``first``..``last`` - 1 of 2 * ``stride`` slots from ``offset``:
    ``xs``, ``ys`` (3, N) [m] are the particle and target of each slot; where a pair's paths
    cross, swap its entries of ``moving`` (indices) and ``moving_rows`` (xs or ys)."""
    start = offset + first * 2 * stride
    end = offset + last * 2 * stride
    if end <= start:
        return
    xb = xs[:, start:end].reshape(3, -1, 2, stride)
    yb = ys[:, start:end].reshape(3, -1, 2, stride)
    # Swapping changes the total by 2 (x_i - x_j) . (y_perm(i) - y_perm(j)).
    d = (xb[:, :, 0] - xb[:, :, 1]) * (yb[:, :, 0] - yb[:, :, 1])
    pair = np.flatnonzero((d[0] + d[1] + d[2]).ravel() < 0.0)
    i = start + pair // stride * (2 * stride) + pair % stride
    j = i + stride
    swapped = moving[i]
    moving[i] = moving[j]
    moving[j] = swapped
    swapped = moving_rows[:, i]
    moving_rows[:, i] = moving_rows[:, j]
    moving_rows[:, j] = swapped


_helper: tuple[int, ThreadPoolExecutor] | None = None
"""(process id, executor) of the one helper thread, started on first use by ``_in_parallel``."""


def _in_parallel(first: Callable, second: Callable) -> tuple:
    """Return (first(), second()), running ``second`` on a helper thread meanwhile. NumPy's
    sorts, gathers and arithmetic release the GIL, so two independent halves of a stage use two
    cores; the results do not depend on the threads' timing."""
    global _helper
    # A forked child inherits the executor but not its thread: start a new one there.
    if _helper is None or _helper[0] != os.getpid():
        _helper = (os.getpid(), ThreadPoolExecutor(max_workers=1, thread_name_prefix="assign_targets"))
    future = _helper[1].submit(second)
    return first(), future.result()
