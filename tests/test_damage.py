"""Gunshots: the crater's momentum and energy, and craters that heal, slower as trauma grows (D1).

BEHAVIOURS.md D1 ("craters … heal slowly. Its power is waning", screenplay page 001): a crater
drops IoU by ≥ 0.05 and recovers to within 0.02 of its IoU before the shot; healing time grows
with accumulated trauma.
"""

from __future__ import annotations

import numpy as np
import pytest

from polyalloy.damage import apply_impact
from polyalloy.scene.schema import ImpactEvent
from polyalloy.state import DISSOLVED

from .conftest import make_simulation, scene_dict
from .test_crossings import _box_sdf

BALL_RADIUS = 0.12


def _ball_scene(duration: float, events=(), gravity=(0.0, -9.81, 0.0), **body) -> dict:
    data = scene_dict("heal", duration, [[-0.4, 0.0, -0.4], [0.4, 0.5, 0.4]], 0.02, fps=24, walls="separate", gravity=list(gravity))
    data["forms"] = [{"name": "ball", "shape": "sphere", "radius": BALL_RADIUS}]
    data["bodies"] = [{"name": "alloy", "form": "ball", **body}]
    data["events"] = list(events)
    return data


def _shot(at: float, **keys) -> dict:
    return {"do": "impact", "at": at, "body": "alloy", "point": [0.0, BALL_RADIUS, BALL_RADIUS], "direction": [0.0, 0.0, -1.0], **keys}


def _crater_mass(sim, point, radius: float, present=None) -> float:
    """Σ w m of the crater about `point` [m]: weight w = 1 − (d/r)² within `radius` (polyalloy.damage)."""
    d2 = ((sim.state.x.numpy().astype(np.float64) - np.asarray(point)) ** 2).sum(axis=1)
    weight = np.clip(1.0 - d2 / radius**2, 0.0, None)
    if present is not None:
        weight = weight * present
    return float(weight @ sim.model.particle_mass.numpy())


def _lodged_momentum(event: ImpactEvent, crater_mass: float) -> float:
    """Momentum [N·s] a projectile lodging in a crater of `crater_mass` [kg] gives it: a perfectly
    inelastic collision moves both at m_b u_b / (M + m_b)."""
    return event.projectile_mass * event.speed * crater_mass / (crater_mass + event.projectile_mass)


def _strike_point(detail: str) -> np.ndarray:
    return np.array([float(c) for c in detail.split("[", 1)[1].split("]", 1)[0].split(",")])


def test_a_shot_gives_the_crater_the_projectiles_momentum_and_its_share_of_energy():
    # Momentum balance: the body gains exactly the projectile's momentum m_b·u_b along its path.
    # Energy: the outward throw carries `splash` of ½·m_b·u_b² and no net momentum; with a
    # projectile of negligible momentum (1 mg at 100 km/s: 0.1 N·s, 5 kJ) the body's kinetic
    # energy after the shot is that share alone (the kick's own ½ p²/M is 1e-3 of it).
    sim = make_simulation(_ball_scene(0.1, gravity=(0.0, 0.0, 0.0)))
    mass = sim.model.particle_mass.numpy()
    event = ImpactEvent.model_validate(_shot(0.0, projectile_mass=1e-6, speed=1e5, splash=0.05, trauma=0.3))
    apply_impact(sim.model, sim.state, sim.control, 0, event)
    v = sim.state.v.numpy().astype(np.float64)
    momentum = (mass[:, None] * v).sum(axis=0)
    np.testing.assert_allclose(momentum, [0.0, 0.0, -0.1], atol=2e-3)
    kinetic = 0.5 * float((mass * (v**2).sum(axis=1)).sum())
    assert kinetic == pytest.approx(0.05 * 0.5 * 1e-6 * 1e10, rel=0.02)
    assert sim.control.authority[0] == pytest.approx(0.7)


def test_a_shot_along_a_path_strikes_the_body_where_the_path_first_meets_it():
    # `along_path`: the shot's point is any point on its line of fire. Fired along −z from 1 m
    # in front of the ball, it strikes the metal it meets first, at the ball's front (z = R, to
    # within the crater radius of the line over a sphere, R − √(R² − r²) = 1.7 cm, plus a
    # particle spacing), and hands the body its momentum; a line that passes the ball by misses.
    sim = make_simulation(_ball_scene(0.1, gravity=(0.0, 0.0, 0.0)))
    mass = sim.model.particle_mass.numpy()
    event = ImpactEvent.model_validate(_shot(0.0, point=[0.0, BALL_RADIUS, 1.0], along_path=True, radius=0.05))
    struck, detail = apply_impact(sim.model, sim.state, sim.control, 0, event)
    assert struck
    strike = _strike_point(detail)
    assert strike[2] == pytest.approx(BALL_RADIUS, abs=BALL_RADIUS - np.sqrt(BALL_RADIUS**2 - 0.05**2) + 0.01)
    momentum = (mass[:, None] * sim.state.v.numpy().astype(np.float64)).sum(axis=0)
    expected = _lodged_momentum(event, _crater_mass(sim, strike, event.radius))
    np.testing.assert_allclose(momentum, [0.0, 0.0, -expected], rtol=1e-3, atol=1e-3)
    beside = ImpactEvent.model_validate(_shot(0.0, point=[2.0 * BALL_RADIUS, BALL_RADIUS, 1.0], along_path=True, radius=0.05))
    struck, detail = apply_impact(sim.model, sim.state, sim.control, 0, beside)
    assert not struck and detail.startswith("missed")


def test_a_shot_moves_only_the_metal_still_present():
    # Metal dissolved or boiled off stays where it left, at rest, outside the run: a shot through
    # where it lies must give it nothing, and hand the body's present metal what the lodging
    # projectile gives the crater it finds there, m_b u_b · M / (M + m_b) with M that metal's
    # weighted mass. Half the ball (z > 0, the side the shot strikes) is marked gone.
    sim = make_simulation(_ball_scene(0.1, gravity=(0.0, 0.0, 0.0)))
    mass = sim.model.particle_mass.numpy()
    gone = sim.state.x.numpy()[:, 2] > 0.0
    status = sim.state.status.numpy()
    status[gone] = DISSOLVED
    sim.state.status.assign(status)
    event = ImpactEvent.model_validate(_shot(0.0, point=[0.0, BALL_RADIUS, 0.0], radius=0.08))
    struck, _ = apply_impact(sim.model, sim.state, sim.control, 0, event)
    v = sim.state.v.numpy().astype(np.float64)
    assert struck and np.abs(v[gone]).max() == 0.0
    momentum = (mass[~gone, None] * v[~gone]).sum(axis=0)
    expected = _lodged_momentum(event, _crater_mass(sim, event.point, event.radius, present=~gone))
    np.testing.assert_allclose(momentum, [0.0, 0.0, -expected], rtol=1e-3, atol=1e-3)


def test_a_grazing_shot_moves_its_little_metal_no_faster_than_the_projectile():
    # A shot that finds less metal than its own mass (the steel mill's 2 cm run: a pistol round
    # grazing the fallen man, 8 g into 2 g) must not hand that metal the projectile's whole
    # momentum (it flew at 1.4 km/s from a 430 m/s round). The round lodges: a perfectly
    # inelastic collision moves the crater M at u_b m_b / (M + m_b) < u_b and gives the body
    # m_b u_b · M / (M + m_b); the throw, even all of the energy the collision dissipates
    # (splash = 1, ½ m_b u_b² · M / (M + m_b)), leaves the body with less kinetic energy than
    # the round brought. A 12-gauge slug (28 g, 430 m/s) into a 1.2 cm crater about the particle at the ball's front.
    sim = make_simulation(_ball_scene(0.1, gravity=(0.0, 0.0, 0.0)))
    mass = sim.model.particle_mass.numpy().astype(np.float64)
    x = sim.state.x.numpy()
    front = x[np.argmax(np.where(np.abs(x[:, 0]) + np.abs(x[:, 1] - BALL_RADIUS) < 0.01, x[:, 2], -np.inf))]
    event = ImpactEvent.model_validate(_shot(0.0, point=[float(c) for c in front], radius=0.012, splash=1.0))
    crater = _crater_mass(sim, front, event.radius)
    assert crater < event.projectile_mass
    struck, _ = apply_impact(sim.model, sim.state, sim.control, 0, event)
    v = sim.state.v.numpy().astype(np.float64)
    momentum = (mass[:, None] * v).sum(axis=0)
    assert struck
    np.testing.assert_allclose(momentum, [0.0, 0.0, -_lodged_momentum(event, crater)], rtol=1e-3, atol=1e-3)
    kinetic = 0.5 * float(mass @ (v**2).sum(axis=1))
    assert kinetic < 0.5 * event.projectile_mass * event.speed**2, kinetic


def _heal_times(rows, shots, drop_within=0.2):
    """For each shot: (IoU before, lowest IoU within `drop_within` s, seconds until the IoU is
    back within 0.02 of before, or None)."""
    times = np.array([r["time"] for r in rows])
    iou = np.array([r["iou"] for r in rows])
    result = []
    for k, at in enumerate(shots):
        end = shots[k + 1] if k + 1 < len(shots) else np.inf
        before = iou[times <= at][-1]
        after = (times > at) & (times < end)
        lowest = iou[after & (times <= at + drop_within)].min()
        healed = after & (times > at + drop_within) & (iou >= before - 0.02)
        result.append((before, lowest, times[healed][0] - at if healed.any() else None))
    return result


def test_craters_heal_and_healing_slows_as_trauma_accumulates():
    # D1 at a 2 cm cell on a ball dropped onto the floor at 1.5 m/s (so it is shot in a shape
    # it has re-formed, not in the perfect lattice it was sampled on). Two shots of a 12-gauge
    # slug (the defaults), each costing 0.6 of the authority; recovery 0.6/s divided by
    # (1 + accumulated trauma): 1.6 s to full authority after the first shot, 2.2 s after the
    # second. Each crater must drop IoU by ≥ 0.05 and heal to within 0.02 of its IoU before
    # the shot, the second measurably slower (by ≥ 5 frames).
    shots = [0.6, 2.8]
    sim = make_simulation(_ball_scene(5.2, [_shot(t, trauma=0.6) for t in shots], recovery=0.6, velocity=[0.0, -1.5, 0.0]))
    rows = []
    while sim.frame < sim.frame_count:
        sim.step_frame()
        rows += sim.metrics_rows()
    (before1, low1, heal1), (before2, low2, heal2) = _heal_times(rows, shots)
    assert before1 - low1 >= 0.05 and before2 - low2 >= 0.05, f"IoU drops {before1 - low1:.3f}, {before2 - low2:.3f}"
    assert heal1 is not None and heal2 is not None, f"IoU at the end {rows[-1]['iou']:.3f}, before the shots {before1:.3f}, {before2:.3f}"
    assert heal2 >= heal1 + 5.0 / 24.0, f"healing took {heal1:.2f} s, then {heal2:.2f} s"
    assert rows[-1]["fragments"] == 1


def _cleave_run():
    # A 3 cm steel plate cuts a 15 cm ball in two down to the floor at 3 m/s, stays 0.4 s and
    # is pulled out: in at 0.2–0.3 s, out at 0.7–0.8 s.
    data = _ball_scene(2.4, [{
        "do": "cleave", "at": 0.2, "body": "alloy", "start": [0.0, 0.5, 0.0], "end": [0.0, 0.0, 0.0],
        "over": 0.1, "hold": 0.4, "size": [0.03, 0.6, 0.5],
    }])
    data["forms"][0]["radius"] = 0.15
    sim = make_simulation(data)
    rows, deepest = [], np.inf
    while sim.frame < sim.frame_count:
        sim.step_frame()
        rows += sim.metrics_rows()
        if 0.3 <= sim.time <= 0.7:
            # Exact distance to the lodged plate, x ∈ ±0.015, y ∈ [0, 0.6], z ∈ ±0.25 [m].
            inside = _box_sdf(sim.state.x.numpy(), np.array([0.0, 0.3, 0.0]), np.array([0.015, 0.3, 0.25]))
            deepest = min(deepest, float(inside.min()))
    return rows, deepest


@pytest.fixture(scope="module")
def cleave_rows():
    return _cleave_run()


def test_a_cleaving_bar_splits_the_body_and_it_re_forms_within_1_5_s(cleave_rows):
    # D2 (000, 003: cleaved head to navel by a steel bar, it pulls the bar out and rejoins):
    # while the bar is lodged the body is two halves and no particle is inside the bar; within
    # 1.5 s of the bar leaving (0.8 s) the IoU is back to ≥ 0.85.
    rows, deepest = cleave_rows
    lodged = [r for r in rows if 0.35 <= r["time"] <= 0.7]
    assert all(r["largest_fragment"] < 0.6 for r in lodged), "the bar did not cut the ball in two"
    assert deepest >= -1e-4, f"a particle was {-deepest * 1000:.2f} mm inside the bar"
    healed = [r["time"] for r in rows if r["time"] > 0.8 and r["iou"] >= 0.85]
    assert healed and healed[0] - 0.8 <= 1.5


def test_the_cleaved_halves_are_one_fragment_again_within_1_5_s(cleave_rows):
    # D2's second half: the halves are one fragment again (DESIGN's link: 1.5 particle spacings)
    # within 1.5 s of the bar leaving. The seam the bar leaves is narrower than a cell, where the
    # grid moves both sides as one; the sub-cell will (solver.kernels.g2p_finish) closes it.
    # Measured 2026-12-05: one fragment 0.2 s after the bar leaves (1.62 s without the sub-cell
    # will, when this test was a strict xfail).
    rows, _ = cleave_rows
    joined = [r["time"] for r in rows if r["time"] > 0.8 and r["fragments"] == 1 and r["largest_fragment"] > 0.95]
    assert joined and joined[0] - 0.8 <= 1.5, f"one fragment again at {joined[0] if joined else None} s"


def test_a_severed_piece_stays_where_it_was_left_until_the_body_touches_it():
    # D3 (003: the hook left in the car trunk merges back when the body touches it). A plate
    # cuts a 15 % cap off the ball and stays lodged while the body walks 0.8 m away: the cap,
    # held back by the plate, falls out of the will's reach (0.5 m) and is left behind. After
    # the plate is gone (1.2 s) it keeps its shape and lies where it is, sagging a little
    # without the will's gravity compensation (its centroid moves < 5 cm; a willed piece would
    # cross the 0.6 m to the body within about 0.4 s); the body walks back (1.9–2.3 s),
    # touches it, and it rejoins: fragments 2 → 1 with the largest ≥ 99 % of the mass.
    data = _ball_scene(3.2, [
        {"do": "cleave", "at": 0.2, "body": "alloy", "start": [0.07, 0.5, 0.0], "end": [0.07, 0.0, 0.0],
         "over": 0.1, "hold": 0.9, "size": [0.03, 0.6, 0.5]},
        {"do": "move", "at": 0.35, "body": "alloy", "to": [-0.8, 0.0, 0.0], "over": 0.4},
        {"do": "move", "at": 1.9, "body": "alloy", "to": [0.0, 0.0, 0.0], "over": 0.4},
    ])
    data["scene"]["domain"] = [[-1.0, 0.0, -0.4], [0.4, 0.7, 0.4]]
    sim = make_simulation(data)
    kinds, centroids, rows = [], {}, []
    while sim.frame < sim.frame_count:
        sim.step_frame()
        kinds += [e.kind for e in sim.applied_events]
        rows += sim.metrics_rows()
        if sim.control.hold_mask.any():
            centroids[round(sim.time, 3)] = sim.state.x.numpy()[sim.control.hold_mask].mean(axis=0)
    assert "left_behind" in kinds and "rejoined" in kinds
    waiting = [c for t, c in centroids.items() if 1.25 <= t <= 1.9]
    assert waiting and np.linalg.norm(waiting[-1] - waiting[0]) < 0.05
    assert all(r["fragments"] >= 2 for r in rows if 1.25 <= r["time"] <= 1.9)
    assert rows[-1]["fragments"] == 1 and rows[-1]["largest_fragment"] >= 0.99


def test_a_grenade_bursting_inside_blows_the_body_open_and_throws_it_back():
    # D4 (BEHAVIOURS.md): a grenade exploding inside blows it open (IoU < 0.5) and throws it
    # off balance (momentum away from the blast). A willed 1.8 m man takes a 40 mm round
    # (230 g at 76 m/s, 2e4 J of blast) in the chest, travelling −z. 0.1 s later his IoU
    # against his form is below 0.5 and his metal's momentum points along the round's path:
    # the blast's outward throw carries no net momentum (polyalloy.damage), the round's does.
    data = scene_dict("grenade", 0.2, [[-1.5, 0.0, -1.5], [1.5, 2.2, 1.5]], 0.04, fps=20, walls="separate")
    data["forms"] = [{"name": "man", "shape": "humanoid", "height": 1.8}]
    data["bodies"] = [{"name": "alloy", "form": "man", "position": [0.0, 0.0, 0.0]}]
    data["events"] = [{"do": "grenade", "at": 0.05, "body": "alloy", "point": [0.0, 1.3, 0.0], "direction": [0.0, 0.0, -1.0]}]
    sim = make_simulation(data)
    mass = sim.model.particle_mass.numpy().astype(np.float64)
    rows = []
    while sim.frame < sim.frame_count:
        sim.step_frame()
        rows.append(sim.metrics_rows()[0])
    before = [r["iou"] for r in rows if r["time"] <= 0.05 + 1e-9]
    assert before[-1] > 0.8
    assert rows[-1]["iou"] < 0.5, [round(r["iou"], 3) for r in rows]
    momentum = mass @ sim.state.v.numpy().astype(np.float64)
    assert momentum[2] < -0.5 * 0.23 * 76.0, momentum
