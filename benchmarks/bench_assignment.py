"""Target assignment speed and quality: a sphere of particles assigned to a torus of equal volume.

Budget (issue): 1 M particles in <= 10 s on the CPU. The particles fill a sphere on the 8-per-cell
sub-lattice of a 2 cm grid (spacing h = 1 cm); the targets fill a torus of the same volume (tube
radius 0.45 sphere radii) standing on the same spot, resampled to the particle count with
``match_count``. Timings are the best of ``--repeats`` calls, each with a fresh seed.

Quality, per size:
- ``travel``: rms distance from particle to target, in spacings.
- ``crossing``: fraction of neighbouring particle pairs (closer than 1.5 h) whose paths cross,
  (x_i - x_j) . (y_i - y_j) < 0. An optimal assignment has none; such pairs pull against each
  other and the grid averages their forces away.
- ``local``: mean distance, in spacings, between a particle's displacement and the mean
  displacement of its neighbours (closer than 1.5 h): the shuffle left once the smooth part of
  the deformation is removed.
- ``pairs``: mean distance between neighbours' displacement vectors, in spacings (includes the
  deformation's stretch and the tear where the sphere's core splits around the torus hole).
- ``at rest``: the same particles re-assigned to targets 0.2 h (rms per axis) from them, as when
  a body that holds its form is re-assigned: the fraction that keeps its own target.
Neighbour statistics use up to 50 k particles and all their neighbours.

With ``--exact``, the total squared travel is also compared with the exact optimum
(scipy.optimize.linear_sum_assignment) on about 2 k points, for the torus and for a box of equal
volume 0.5 m away (the shape change alone and with a translation added).

    python benchmarks/bench_assignment.py [--sizes 20000 100000 1000000] [--repeats 3] [--exact]
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.spatial import cKDTree

from polyalloy.mimicry import Box, Sphere, Torus
from polyalloy.mimicry.assignment import assign_targets, match_count
from polyalloy.mimicry.sampling import fill_form

CELL = 0.02
"""Grid cell size [m]; with 8 particles per cell the particle spacing is CELL / 2."""

PARTICLES_PER_CELL = 8

TUBE = 0.45
"""Torus tube radius as a fraction of the sphere radius."""


def sphere_and_torus(count: int, cell: float = CELL, seed: int = 0) -> tuple[np.ndarray, np.ndarray, float]:
    """About ``count`` particles filling a sphere and as many targets filling a torus of equal
    volume at the same spot. Returns (particles (N, 3) [m], targets (N, 3) [m], spacing [m])."""
    spacing = cell / round(PARTICLES_PER_CELL ** (1.0 / 3.0))
    radius = (3.0 * count / (4.0 * math.pi)) ** (1.0 / 3.0) * spacing
    volume = 4.0 / 3.0 * math.pi * radius**3
    tube = TUBE * radius
    # 2 pi^2 R r^2 = 4/3 pi rho^3 gives the torus of the sphere's volume.
    ring = Torus("ring", volume / (2.0 * math.pi**2 * tube**2), tube)
    rng = np.random.default_rng(seed)
    particles, _ = fill_form(Sphere("ball", radius), np.zeros(3), cell, PARTICLES_PER_CELL, rng)
    targets, _ = fill_form(ring, np.array([0.0, radius - tube, 0.0]), cell, PARTICLES_PER_CELL, rng)
    return particles.astype(np.float64), match_count(targets, len(particles), rng), spacing


def neighbour_stats(particles: np.ndarray, targets: np.ndarray, perm: np.ndarray, spacing: float,
                    sample: int = 50_000) -> dict[str, float]:
    """Crossing fraction, local shuffle and neighbour-pair spread (module docstring) over up to
    ``sample`` particles and their neighbours closer than 1.5 spacings."""
    rng = np.random.default_rng(1)
    chosen = rng.choice(len(particles), size=min(sample, len(particles)), replace=False)
    distance, neighbour = cKDTree(particles).query(particles[chosen], k=33,
                                                   distance_upper_bound=1.5 * spacing, workers=-1)
    real = np.isfinite(distance) & (distance > 0.0)
    neighbour = np.where(real, neighbour, 0)
    displacement = targets[perm] - particles
    d_i = displacement[chosen][:, None, :]
    d_j = displacement[neighbour]
    count = real.sum(axis=1)
    mean_j = (d_j * real[..., None]).sum(axis=1) / np.maximum(count, 1)[:, None]
    dx = particles[chosen][:, None, :] - particles[neighbour]
    crossing = (np.einsum("ijk,ijk->ij", dx, dx + d_i - d_j) < 0.0) & real
    return {
        "crossing": crossing.sum() / real.sum(),
        "local": float(np.mean(np.linalg.norm(displacement[chosen] - mean_j, axis=1)[count > 0])) / spacing,
        "pairs": float((np.linalg.norm(d_i - d_j, axis=2) * real).sum() / real.sum()) / spacing,
    }


def bench_size(count: int, repeats: int) -> None:
    particles, targets, spacing = sphere_and_torus(count)
    n = len(particles)
    times = []
    for seed in range(repeats):
        t0 = time.perf_counter()
        perm = assign_targets(particles, targets, np.random.default_rng(seed), spacing)
        times.append(time.perf_counter() - t0)
    assert np.array_equal(np.sort(perm), np.arange(n))
    travel = math.sqrt(np.mean(np.sum((targets[perm] - particles) ** 2, axis=1))) / spacing
    stats = neighbour_stats(particles, targets, perm, spacing)
    jittered = particles + np.random.default_rng(2).normal(0.0, 0.2 * spacing, particles.shape)
    t0 = time.perf_counter()
    kept = np.mean(assign_targets(particles, jittered, np.random.default_rng(0), spacing) == np.arange(n))
    rest_time = time.perf_counter() - t0
    print(f"{n:>9,d}  {min(times):7.2f} s  travel {travel:6.1f} h  crossing {stats['crossing']:6.2%}  "
          f"local {stats['local']:.2f} h  pairs {stats['pairs']:.2f} h  at rest: {kept:6.1%} kept "
          f"({rest_time:.2f} s)")


def bench_exact() -> None:
    cell = 0.04
    particles, torus_targets, spacing = sphere_and_torus(2000, cell=cell)
    radius = np.ptp(particles[:, 0]) / 2.0
    side = (4.0 / 3.0 * math.pi * radius**3) ** (1.0 / 3.0)
    box, _ = fill_form(Box("box", [side] * 3), np.array([0.5, radius - side / 2.0, 0.0]), cell,
                       PARTICLES_PER_CELL, np.random.default_rng(3))
    box_targets = match_count(box, len(particles), np.random.default_rng(4))
    for name, targets in (("torus", torus_targets), ("box, 0.5 m away", box_targets)):
        # A common translation adds the same amount to every assignment's total, so the optimum
        # of the concentric problem (much faster for the solver) is the optimum here too.
        centred = targets - targets.mean(axis=0) + particles.mean(axis=0)
        cost = np.sum((particles[:, None, :] - centred[None, :, :]) ** 2, axis=2)
        optimum = linear_sum_assignment(cost)[1]
        total = lambda perm, t: float(np.sum((particles - t[perm]) ** 2))  # noqa: E731
        excess = [(total(p, targets) / total(optimum, targets) - 1.0, total(p, centred) / total(optimum, centred) - 1.0)
                  for p in (assign_targets(particles, targets, np.random.default_rng(s), spacing) for s in range(5))]
        raw, shape_only = np.array(excess).T
        print(f"exact optimum, {len(particles)} points, sphere -> {name}: total squared travel "
              f"{raw.mean():+.2%} (worst {raw.max():+.2%}) above optimal; shape change alone "
              f"(translation removed) {shape_only.mean():+.1%} (worst {shape_only.max():+.1%})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[20_000, 100_000, 1_000_000])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--exact", action="store_true", help="compare with the exact optimum on ~2 k points")
    args = parser.parse_args()
    print("particles  best time  quality (h = particle spacing)")
    for count in args.sizes:
        bench_size(count, args.repeats)
    if args.exact:
        bench_exact()


if __name__ == "__main__":
    main()
