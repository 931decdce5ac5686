"""What the mimetic will costs on top of the passive substep (issue: at most ~30 %).

The 1.8 m humanoid (68 k particles at a 2 cm cell) holds its form; the same substeps are then
timed from the same state with the body's authority at 1 and at 0 (the will's branch skipped,
the particles and active grid blocks identical), alternating to spread machine noise; and once
more at authority 1 with the body reported 90 % frozen (its will half faded and its net force
limited: control.WILL_LIMIT_FADE_FROM, kernels.will_sums), for what the limit's extra pass over
the particles costs. Reported as particle-substeps per second and the ratios. The once-per-frame
work of the will (touch, reach, colours) is timed separately, per frame.

    python benchmarks/bench_control.py [--cell 0.02] [--substeps 60] [--rounds 3]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import warp as wp

from polyalloy.scene import Scene
from polyalloy.simulation import Simulation


def _scene(cell: float) -> Scene:
    return Scene.from_dict({
        "scene": {"name": "bench_control", "duration": 1.0, "domain": [[-0.8, 0.0, -0.8], [0.8, 2.1, 0.8]], "cell": cell, "fps": 24},
        "forms": [{"name": "man", "shape": "humanoid"}],
        "bodies": [{"name": "alloy", "form": "man"}],
    }, base_dir=".")


def _time_substeps(
    sim: Simulation, authority: float, substeps: int, dt: float, start: dict, thermal_share: float = 1.0
) -> float:
    """Seconds for `substeps` substeps from state `start` at `authority`, the body's thermal
    share of its will set to `thermal_share` (below 0.15 its will is faded and limited)."""
    sim.state.assign(start)
    sim.control.set_authority(authority)
    sim.control.set_thermal_share(np.array([thermal_share]), np.array([1.0]))
    states = [sim.state, sim._states[1]]
    t0 = time.perf_counter()
    for _ in range(substeps):
        sim.solver.step(states[0], states[1], sim.control, dt)
        states.reverse()
    wp.synchronize_device(sim.device)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cell", type=float, default=0.02)
    parser.add_argument("--substeps", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    with Simulation(_scene(args.cell), device=args.device) as sim:
        stats = sim.step_frame()
        start = sim.state.to_numpy()
        n = sim.model.particle_count
        willed, passive, limited = [], [], []
        for _ in range(args.rounds):
            willed.append(_time_substeps(sim, 1.0, args.substeps, stats.dt, start))
            passive.append(_time_substeps(sim, 0.0, args.substeps, stats.dt, start))
            limited.append(_time_substeps(sim, 1.0, args.substeps, stats.dt, start, thermal_share=0.1))
        sim.control.set_authority(1.0)
        sim.control.set_thermal_share(np.array([1.0]), np.array([1.0]))
        t0 = time.perf_counter()
        sim.touch.sample(sim.state, sim.control, sim.time)
        sim.reach.update(sim.state.x.numpy(), sim.state.v.numpy(), sim.control, sim.time, skip=sim.reforming.gathering)
        sim._relax_colors()
        per_frame = time.perf_counter() - t0
    w, p, lim = min(willed), min(passive), min(limited)
    print(f"{n} particles, {args.substeps} substeps × {args.rounds} rounds (best of each)")
    print(f"passive: {n * args.substeps / p / 1e6:.2f} M particle-substeps/s")
    print(f"willed:  {n * args.substeps / w / 1e6:.2f} M particle-substeps/s")
    print(f"willed, 90 % frozen (limited): {n * args.substeps / lim / 1e6:.2f} M particle-substeps/s, "
          f"{100.0 * (lim / w - 1.0):+.1f} % on the willed substep")
    print(f"the will costs {100.0 * (w / p - 1.0):+.1f} % per substep; once per frame {per_frame * 1000:.0f} ms "
          f"({100.0 * per_frame / (p / args.substeps * stats.substeps):.1f} % of a {stats.substeps}-substep frame)")


if __name__ == "__main__":
    main()
