"""Dam break against Martin & Moyce (1952), the classic experiment of a collapsing water column.

Reference: Martin, J. C. & Moyce, W. J. (1952), "An experimental study of the collapse of
liquid columns on a rigid horizontal plane", Phil. Trans. R. Soc. Lond. A 244, 312–324, Fig. 3,
n² = 2 (column height 2a, width a); data in tests/data/martin_moyce_1952.csv. Dimensionless
time T = t·√(2g/a), surge front Z = front position / a measured from the column's back wall.

The bundled `dam_break` scene at draft quality (a = 0.2 m, 10 cells across the column, sound
speed 100 m/s) is run once for the whole module.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from polyalloy.cli import bundled_scenes
from polyalloy.scene import Scene
from polyalloy.simulation import Simulation

DATA = Path(__file__).parent / "data" / "martin_moyce_1952.csv"
COLUMN_WIDTH = 0.2  # m, the `column` form of dam_break.toml
G = 9.81


def surge_front(x: np.ndarray, cell: float) -> float:
    """Leading edge [m] of the liquid on the floor: the 99.9th percentile of x among particles
    within 1.5 cells of the floor (a lone splashed particle is not the front)."""
    on_floor = x[x[:, 1] < 1.5 * cell]
    return float(np.quantile(on_floor[:, 0], 0.999))


@pytest.fixture(scope="module")
def front_history() -> tuple[np.ndarray, np.ndarray]:
    scene = Scene.load(bundled_scenes()["dam_break"]).with_quality("draft")
    sim = Simulation(scene, device="cpu")
    T, Z = [], []
    scale = np.sqrt(2.0 * G / COLUMN_WIDTH)
    while sim.time * scale < 3.2:
        sim.step_frame()
        T.append(sim.time * scale)
        Z.append(surge_front(sim.state.x.numpy(), scene.scene.cell) / COLUMN_WIDTH)
    return np.array(T), np.array(Z)


def _experiment(T_max: float) -> np.ndarray:
    data = np.loadtxt(DATA, delimiter=",", comments="#", skiprows=5)
    return data[data[:, 1] <= T_max]


def test_surge_front_speed_matches_martin_moyce(front_history):
    # Once the column has collapsed (1.2 ≤ T ≤ 3), the surge front advances at a steady
    # dZ/dT; the least-squares slope of both of Martin & Moyce's column sizes pooled is 1.25.
    # The simulated slope over the same range must lie within 10 % of it.
    T, Z = front_history
    data = _experiment(3.0)
    data = data[data[:, 1] >= 1.2]
    measured = np.polyfit(data[:, 1], data[:, 2], 1)[0]
    window = (T >= 1.2) & (T <= 3.0)
    simulated = np.polyfit(T[window], Z[window], 1)[0]
    assert abs(simulated / measured - 1.0) < 0.10, f"dZ/dT simulated {simulated:.3f}, Martin & Moyce {measured:.3f}"


def test_surge_front_within_10_percent_of_martin_moyce(front_history):
    # Z(T) at every measured point with T ≤ 3 within 10 % of the experiment.
    #
    # Measured 2026-11-22, worst point (always near T = 1.2, where the simulated front gains a
    # head start while the column collapses): at the 2 cm cell, sound speed 20 / 40 / 100 /
    # 150 m/s gives +12.4 / +10.3 / +6.8 / +4.9 %; at a 1 cm cell, 20 / 100 / 300 m/s gives
    # +18 / +14.7 / +10.6 %. The lead shrinks as the water nears incompressible and grows with
    # resolution, so part of the agreement here is the coarse grid's smoothing of the thin
    # leading tongue; a no-slip floor's skin friction (C_f = 0.0044) changed it by < 0.5 %.
    T, Z = front_history
    data = _experiment(3.0)
    simulated = np.interp(data[:, 1], T, Z)
    error = simulated / data[:, 2] - 1.0
    assert np.all(np.abs(error) < 0.10), f"relative errors {np.round(error, 3)} at T {data[:, 1]}"
