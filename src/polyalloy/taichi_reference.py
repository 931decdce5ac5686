"""Reference MLS-MPM dam break in Taichi (CPU backend): the yardstick of ``polyalloy bench``.

Runs the same substep as polyalloy's fluid solver so that both speeds can be measured in one
run and reported as a ratio: the moving least squares material point method of Hu et al. 2018,
"A moving least squares material point method with displacement discontinuity and two-way
rigid body coupling" (ACM Trans. Graph. 37(4), 150), with APIC transfer, quadratic B-spline
weights over the 3×3×3 stencil, a dense grid, explicit time integration and a weakly
compressible fluid (pressure p = K (1 − J), bulk modulus K = ρ c²). The layout is the plain
Taichi one of the mpm88 example: one field per particle or grid quantity, vectors stored whole,
particles in their initial lattice order (never re-sorted). Units are SI: metres, seconds,
kilograms, pascals.

Taichi is imported only in this module, so polyalloy works without it. ``polyalloy bench`` runs
this file in a subprocess with a Python that has Taichi (``pip install taichi``) and reads the
JSON object printed on the last line of standard output::

    python -m polyalloy.taichi_reference --particles 30000 --substeps 200 --threads 1
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import time

import numpy as np

DENSITY = 1000.0
"""Fluid density ρ [kg/m³]."""

SOUND_SPEED = 20.0
"""Artificial sound speed c [m/s] of the weakly compressible fluid."""

GRAVITY = (0.0, -9.81, 0.0)
"""Gravitational acceleration [m/s²]."""

CFL = 0.4
"""Time step as a fraction of the time sound takes to cross a cell: dt = CFL · dx / c."""

COLUMN_WIDTH = 0.5
"""Width a [m] of the water column; the whole scene scales with it (see make_dam_break)."""

GHOST_NODES = 3
"""Grid nodes beyond each wall; they form the slip boundary and keep every stencil in the grid."""


def make_dam_break(n_target: int) -> dict:
    """Dam-break scene with a particle count close to `n_target`.

    The geometry is fixed, with a = COLUMN_WIDTH = 0.5 m: the domain is the box
    [0, 4a] × [0, 3a] × [0, a] (2 m × 1.5 m × 0.5 m) and the water column fills
    [0, a] × [0, 2a] × [0, a] in the corner x = 0. The cell size is dx = a / k for a whole
    number k of cells across the column, so that the walls lie on grid nodes; the column holds
    8 particles per cell on the regular lattice of spacing dx / 2 (one particle at the centre of
    each half-cell), N = 16 k³ particles. k is the one that brings N nearest to `n_target`:
    27 648 particles for 30 000, 250 000 for 260 000, 1 024 000 for 1 000 000.

    The dense grid has GHOST_NODES nodes beyond each wall: node (i, j, l) lies at
    ((i, j, l) − GHOST_NODES) · dx, and there are (4k + 7) × (3k + 7) × (k + 7) nodes.

    Args:
        n_target: Wanted number of particles, at least 16.

    Returns:
        ``positions`` [m], float32 array of shape (N, 3); ``dx`` cell size [m]; ``dt`` time
        step [s] (CFL 0.4 on the sound speed); ``domain`` (Lx, Ly, Lz) [m]; ``cells`` cells of
        the domain along each axis; ``grid_shape`` nodes of the dense grid along each axis;
        ``particle_volume`` V0 = (dx / 2)³ [m³]; ``particle_mass`` ρ V0 [kg];
        ``bulk_modulus`` K = ρ c² [Pa]; ``gravity`` [m/s²].
    """
    if n_target < 16:
        raise ValueError(f"n_target must be at least 16 particles (one cell), got {n_target}")
    k_low = max(1, math.floor((n_target / 16.0) ** (1.0 / 3.0)))
    k = min((k_low, k_low + 1), key=lambda kk: abs(16 * kk**3 - n_target))
    dx = COLUMN_WIDTH / k
    cells = (4 * k, 3 * k, k)
    column = (2 * k, 4 * k, 2 * k)  # lattice points across the column along x, y, z
    axes = [(np.arange(count, dtype=np.float64) + 0.5) * (0.5 * dx) for count in column]
    lattice = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3)
    particle_volume = (0.5 * dx) ** 3
    return {
        "positions": lattice.astype(np.float32),
        "dx": dx,
        "dt": CFL * dx / SOUND_SPEED,
        "domain": tuple(count * dx for count in cells),
        "cells": cells,
        "grid_shape": tuple(count + 2 * GHOST_NODES + 1 for count in cells),
        "particle_volume": particle_volume,
        "particle_mass": DENSITY * particle_volume,
        "bulk_modulus": DENSITY * SOUND_SPEED**2,
        "gravity": GRAVITY,
    }


def _dam_break_solver(scene: dict):
    """Taichi fields for `scene`, filled with its initial state, and its substep kernel.

    `ti.init` must have been called. Returns (x, v, substep): particle positions [m] and
    velocities [m/s], vector fields of shape (N,), and the kernel advancing them by dt.
    """
    import taichi as ti

    n = len(scene["positions"])
    dx = scene["dx"]
    inv_dx = 1.0 / dx
    dt = scene["dt"]
    mass = scene["particle_mass"]
    # −dt · V0 · (4 / dx²) times the Kirchhoff stress τ = −p J I gives the stress part of the
    # affine momentum: this factor times p J on the diagonal.
    stress_factor = dt * scene["particle_volume"] * 4.0 * inv_dx**2
    bulk = scene["bulk_modulus"]
    gravity = ti.Vector(scene["gravity"])
    upper_wall = ti.Vector([count + GHOST_NODES for count in scene["cells"]])
    last_base = ti.Vector([count - 3 for count in scene["grid_shape"]])

    x = ti.Vector.field(3, ti.f32, shape=n)  # particle positions [m]
    v = ti.Vector.field(3, ti.f32, shape=n)  # particle velocities [m/s]
    C = ti.Matrix.field(3, 3, ti.f32, shape=n)  # APIC affine velocity matrices [1/s]
    J = ti.field(ti.f32, shape=n)  # particle volume ratios V / V0 [-]
    # Node momenta [kg m/s], turned into velocities [m/s] by the grid update.
    grid_v = ti.Vector.field(3, ti.f32, shape=scene["grid_shape"])
    grid_m = ti.field(ti.f32, shape=scene["grid_shape"])  # node masses [kg]

    @ti.func
    def stencil(xp):
        """First node of the 3×3×3 stencil of a particle at `xp` [m], the particle's position
        from that node [cells] and its quadratic B-spline weights (row = node, column = axis).

        The clamp only acts on a diverged particle; it keeps the run inside the grid so that the
        state check after the run can report it.
        """
        Xp = xp * inv_dx + GHOST_NODES
        base = ti.math.clamp(ti.floor(Xp - 0.5, ti.i32), 0, last_base)
        fx = Xp - base
        w = ti.Matrix.rows([0.5 * (1.5 - fx) ** 2, 0.75 - (fx - 1.0) ** 2, 0.5 * (fx - 0.5) ** 2])
        return base, fx, w

    @ti.kernel
    def substep():
        # Grid reset.
        for I in ti.grouped(grid_m):
            grid_v[I] = ti.Vector.zero(ti.f32, 3)
            grid_m[I] = 0.0
        # P2G: scatter APIC momentum plus the stress impulse.
        for p in x:
            base, fx, w = stencil(x[p])
            pressure = bulk * (1.0 - J[p])
            stress = stress_factor * pressure * J[p]
            affine = stress * ti.Matrix.identity(ti.f32, 3) + mass * C[p]
            momentum = mass * v[p]
            for i, j, k in ti.static(ti.ndrange(3, 3, 3)):
                offset = ti.Vector([i, j, k])
                dpos = (offset - fx) * dx
                weight = w[i, 0] * w[j, 1] * w[k, 2]
                ti.atomic_add(grid_v[base + offset], weight * (momentum + affine @ dpos))
                ti.atomic_add(grid_m[base + offset], weight * mass)
        # Grid update: momentum to velocity, gravity, slip walls on the ghost nodes.
        for I in ti.grouped(grid_m):
            if grid_m[I] > 0.0:
                vel = grid_v[I] / grid_m[I] + dt * gravity
                for d in ti.static(range(3)):
                    below = I[d] < GHOST_NODES and vel[d] < 0.0
                    above = I[d] > upper_wall[d] and vel[d] > 0.0
                    if below or above:
                        vel[d] = 0.0
                grid_v[I] = vel
        # G2P: gather velocity and affine matrix, update J and position.
        for p in x:
            base, fx, w = stencil(x[p])
            new_v = ti.Vector.zero(ti.f32, 3)
            new_C = ti.Matrix.zero(ti.f32, 3, 3)
            for i, j, k in ti.static(ti.ndrange(3, 3, 3)):
                offset = ti.Vector([i, j, k])
                dpos = (offset - fx) * dx
                weight = w[i, 0] * w[j, 1] * w[k, 2]
                node_v = grid_v[base + offset]
                new_v += weight * node_v
                new_C += (4.0 * inv_dx**2 * weight) * node_v.outer_product(dpos)
            v[p] = new_v
            C[p] = new_C
            J[p] *= 1.0 + dt * new_C.trace()
            x[p] += dt * new_v

    x.from_numpy(scene["positions"])
    J.fill(1.0)
    return x, v, substep


def _check_state(positions: np.ndarray, velocities: np.ndarray, scene: dict) -> None:
    """Raise FloatingPointError if the run went non-finite or particles left the grid."""
    bad = ~(np.isfinite(positions).all(axis=1) & np.isfinite(velocities).all(axis=1))
    if bad.any():
        raise FloatingPointError(
            f"Taichi reference diverged: {int(bad.sum())} of {len(bad)} particles have a "
            f"non-finite position or velocity (dx = {scene['dx']:.4g} m, dt = {scene['dt']:.4g} s)"
        )
    # The stencil of a particle more than 2 cells beyond a wall would reach outside the grid.
    margin = 2.0 * scene["dx"]
    upper = np.array(scene["domain"]) + margin
    outside = (positions < -margin).any(axis=1) | (positions > upper).any(axis=1)
    if outside.any():
        raise FloatingPointError(
            f"Taichi reference went unstable: {int(outside.sum())} particles left the grid "
            f"(dx = {scene['dx']:.4g} m, dt = {scene['dt']:.4g} s)"
        )


def run_taichi(
    n_target: int, substeps: int = 200, warmup: int = 20, threads: int | None = None
) -> dict:
    """Time the dam break of `make_dam_break(n_target)` on Taichi's CPU backend.

    The first substep compiles the kernel; `warmup` more substeps follow, then `substeps`
    timed ones between two `ti.sync()`. The run simulates (1 + warmup + substeps) · dt seconds
    and fails with FloatingPointError if it produced a non-finite value.

    Args:
        n_target: Wanted number of particles (see make_dam_break).
        substeps: Timed substeps, at least 1.
        warmup: Untimed substeps after the first, at least 0.
        threads: CPU threads for Taichi; None uses every hardware thread.

    Returns:
        ``particles``; ``grid_nodes``; ``dx`` [m]; ``dt`` [s]; ``substeps`` timed;
        ``threads`` used; ``seconds`` wall time of the timed substeps [s];
        ``particle_substeps_per_s`` particles × substeps / seconds; ``compile_s`` wall time of
        the first substep minus that of a timed one [s]; ``sim_time_s`` simulated time [s];
        ``front_start_m`` / ``front_end_m`` largest particle x [m] at the start and end;
        ``mean_y_start_m`` / ``mean_y_end_m`` mean particle height [m] at the start and end;
        ``peak_rss_mb`` peak resident memory of this process [MiB]; ``taichi_version``.
    """
    if substeps < 1 or warmup < 0:
        raise ValueError(
            f"need substeps >= 1 and warmup >= 0, got substeps={substeps}, warmup={warmup}"
        )
    if threads is not None and threads < 1:
        raise ValueError(f"threads must be at least 1 (or None for all), got {threads}")
    import taichi as ti

    init_options = {} if threads is None else {"cpu_max_num_threads": threads}
    # No offline cache, so compile_s is the real compile time of every run.
    ti.init(arch=ti.cpu, default_fp=ti.f32, offline_cache=False, **init_options)
    scene = make_dam_break(n_target)
    x, v, substep = _dam_break_solver(scene)
    start = scene["positions"]

    first = time.perf_counter()
    substep()
    ti.sync()
    first_s = time.perf_counter() - first
    for _ in range(warmup):
        substep()
    ti.sync()
    timed = time.perf_counter()
    for _ in range(substeps):
        substep()
    ti.sync()
    seconds = time.perf_counter() - timed

    end = x.to_numpy()
    _check_state(end, v.to_numpy(), scene)
    particles = len(start)
    return {
        "particles": particles,
        "grid_nodes": math.prod(scene["grid_shape"]),
        "dx": scene["dx"],
        "dt": scene["dt"],
        "substeps": substeps,
        "threads": ti.lang.impl.current_cfg().cpu_max_num_threads,
        "seconds": seconds,
        "particle_substeps_per_s": particles * substeps / seconds,
        "compile_s": max(0.0, first_s - seconds / substeps),
        "sim_time_s": (1 + warmup + substeps) * scene["dt"],
        "front_start_m": float(start[:, 0].max()),
        "front_end_m": float(end[:, 0].max()),
        "mean_y_start_m": float(start[:, 1].mean()),
        "mean_y_end_m": float(end[:, 1].mean()),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "taichi_version": ".".join(map(str, ti.__version__)),
    }


def main() -> None:
    """Command line: run the benchmark and print its result as one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--particles", type=int, default=30000, help="wanted particle count (default 30000)"
    )
    parser.add_argument("--substeps", type=int, default=200, help="timed substeps (default 200)")
    parser.add_argument(
        "--warmup", type=int, default=20, help="untimed substeps after compiling (default 20)"
    )
    parser.add_argument("--threads", type=int, default=None, help="CPU threads (default: all)")
    args = parser.parse_args()
    result = run_taichi(
        args.particles, substeps=args.substeps, warmup=args.warmup, threads=args.threads
    )
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
