"""How much of a freezing body's weight the will of its liquid core bears.

A 40 cm cube of polyalloy, frozen at −60 °C except a cubic core at its centre made liquid at the
melting point (−19 °C, by hand after the body is built: a scene starts a body at one
temperature), hangs 0.6 m above the floor with its will holding it at its form. Conduction is
at the metal's real pace, so the core stays liquid over the 0.3 s. Frozen metal has no will
(kernels.will_share) and its weight is nobody's to bear, so the cube should fall at least as
fast as if the core bore only its own weight: a drop ≥ (1 − liquid share) · g t² / 2. Prints the
drop and the share of the cube's weight the will bore, 1 − drop / (g t² / 2), against the
liquid's share.

The will pulls each liquid particle toward its target at up to `max_acceleration` (100 m/s²)
and the grid passes the pull on to the frozen metal around it, so unlimited a liquid tenth can
carry the frozen rest: measured 2026-12-06 (4 cm cell, 0.3 s, free fall 0.441 m), liquid 0.043 /
0.092 / 0.167 / 0.274 of the cube bore 0.20 / 0.37 / 0.56 / 0.73 of its weight, and in the steel
mill at 2 cm his liquid core, 24 → 12 % of him, lifted his fallen frozen body at 0.4 m/s. Since
the will's net force is limited in a body more than 85 % frozen (control.WILL_LIMIT_FROZEN_SHARE)
the same cores bore 0.06 / 0.25 / 0.56 / 0.73 (2026-12-06): the 4 % core 1.5 × its own share.
Since the will itself fades over that band too, gone at 95 % frozen, they bear 0.00 / 0.13 /
0.56 / 0.73 (2026-12-06, later): the 4 % core nothing (the cube falls freely), the 9 % core
what its faded, partly limited will can (0.22 with the fade alone), the larger ones, under 85 %
frozen, their whole will.

    python benchmarks/study_will_lift.py [--cell 0.04] [--cores 0.0 0.07 0.09 0.11 0.13]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from polyalloy.materials import MATERIALS
from polyalloy.scene import Scene
from polyalloy.simulation import Simulation

DURATION = 0.3
"""Simulated time [s]."""

def lift_scene(cell: float) -> Scene:
    """The frozen cube hanging in its form, at `cell` [m]."""
    data = {
        "scene": {"name": "will_lift", "duration": DURATION, "fps": 20, "domain": [[-0.6, 0.0, -0.6], [0.6, 1.6, 0.6]],
                  "cell": cell, "walls": "separate", "ambient": -60.0},
        "forms": [{"name": "cube", "shape": "box", "size": [0.4, 0.4, 0.4]}],
        "bodies": [{"name": "t1000", "form": "cube", "position": [0.0, 0.6, 0.0], "temperature": -60.0}],
    }
    return Scene.from_dict(data, Path.cwd())


def melt_core(sim: Simulation, half_size: float) -> float:
    """Make the particles within `half_size` [m] of the cube's centre (on every axis) liquid at
    the melting point, unbonded and unstressed, through a checkpoint (so the body's thermal share,
    and with it its will's limit, is the melted one from the first step); returns their share of
    the cube's mass."""
    arrays, meta = sim.checkpoint_arrays()
    x = arrays["x"]
    core = np.all(np.abs(x - x.mean(axis=0)) < half_size, axis=1)
    arrays["phase"][core] = 1.0
    arrays["temperature"][core] = MATERIALS["polyalloy"].melting_point
    arrays["bond"][core] = 0.0
    arrays["shock"][core] = 0.0
    mass = sim.model.particle_mass.numpy()
    liquid = float(mass[core].sum() / mass.sum())
    meta["will"]["thermal_share"] = [liquid]
    sim.restore(arrays, meta)
    return liquid


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cell", type=float, default=0.04, help="grid cell [m]")
    parser.add_argument("--cores", type=float, nargs="+", default=[0.0, 0.07, 0.09, 0.11, 0.13],
                        help="half-sizes of the liquid core [m]")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    for half_size in args.cores:
        with Simulation(lift_scene(args.cell), device=args.device) as sim:
            free_fall = 0.5 * float(np.linalg.norm(sim.model.gravity)) * DURATION**2
            liquid = melt_core(sim, half_size)
            start = sim.state.x.numpy()[:, 1].mean()
            while sim.frame < sim.frame_count:
                sim.step_frame()
            drop = start - sim.state.x.numpy()[:, 1].mean()
        print(f"cell {args.cell} m, {DURATION} s, free fall {free_fall:.3f} m; liquid {liquid:.3f} of the cube: drop {drop:.3f} m, the will bore {1.0 - drop / free_fall:.2f} of its weight "
              f"(its own share: {liquid:.2f})")


if __name__ == "__main__":
    main()
