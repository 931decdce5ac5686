"""The walk cycle (polyalloy.walk): where each foot is as a body walks.

A foot that is down must not slide: its displacement from its place in the form falls back at
exactly the body's speed, so its world velocity is zero (d step / d travelled = −heading).
A swinging foot is lifted by up to `lift` and the two feet are half a stride apart. The walk
starts and ends standing (no step at either end).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from polyalloy.control import PoseMove
from polyalloy.mimicry import Humanoid
from polyalloy.walk import STANCE, foot_steps

from .conftest import make_simulation, scene_dict

HEADING = np.array([0.6, 0.0, 0.8])
STRIDE, LIFT, DISTANCE = 1.2, 0.12, 6.0


def test_a_foot_that_is_down_stays_where_it_was_set_and_a_lifted_one_swings_forward():
    down_rates, lifts = [], []
    for travelled in np.linspace(STRIDE, DISTANCE - STRIDE, 601):
        steps, rates = foot_steps(travelled, DISTANCE, HEADING, STRIDE, LIFT)
        for leg in range(2):
            if steps[leg, 1] == 0.0:
                down_rates.append(rates[leg])
            else:
                lifts.append(steps[leg, 1])
                # Swinging: the foot moves forward at least as fast as the body (its step grows).
                assert rates[leg] @ HEADING >= -1e-9
    # Down, the step falls back at the body's pace: world velocity heading + rate = 0.
    np.testing.assert_allclose(np.array(down_rates), np.tile(-HEADING, (len(down_rates), 1)), atol=1e-6)
    # Each foot is down STANCE of the time and lifted the rest, up to LIFT.
    assert len(down_rates) / (len(down_rates) + len(lifts)) == pytest.approx(STANCE, abs=0.01)
    assert max(lifts) == pytest.approx(LIFT, rel=1e-3)


def test_the_steps_rates_are_their_derivatives():
    h = 1.0e-6
    # Sampled off the kinks where a foot is set down or lifted (phases 0 and STANCE).
    for travelled in np.linspace(0.0137, DISTANCE - 0.0137, 96):
        ahead, behind = foot_steps(travelled + h, DISTANCE, HEADING, STRIDE, LIFT)[0], foot_steps(travelled - h, DISTANCE, HEADING, STRIDE, LIFT)[0]
        np.testing.assert_allclose(foot_steps(travelled, DISTANCE, HEADING, STRIDE, LIFT)[1], (ahead - behind) / (2 * h), atol=1e-5)


def test_the_feet_are_half_a_stride_apart_and_the_walk_starts_and_ends_standing():
    np.testing.assert_allclose(foot_steps(0.0, DISTANCE, HEADING, STRIDE, LIFT)[0], 0.0, atol=1e-12)
    np.testing.assert_allclose(foot_steps(DISTANCE, DISTANCE, HEADING, STRIDE, LIFT)[0], 0.0, atol=1e-12)
    at = 2.0
    left = foot_steps(at, DISTANCE, HEADING, STRIDE, LIFT)[0][0]
    right = foot_steps(at + 0.5 * STRIDE, DISTANCE, HEADING, STRIDE, LIFT)[0][1]
    np.testing.assert_allclose(left, right, atol=1e-12)
    # Both feet are down together only at the change of foot: 2 × (STANCE − 0.5) of the stride.
    both = [np.all(foot_steps(s, DISTANCE, HEADING, STRIDE, LIFT)[0][:, 1] == 0.0)
            for s in np.linspace(STRIDE, 2 * STRIDE, 1000, endpoint=False)]
    assert np.mean(both) == pytest.approx(2 * (STANCE - 0.5), abs=0.01)


def test_a_humanoid_walks_on_its_legs_and_not_its_hands():
    man = Humanoid("man", 1.8)
    legs = man.legs()
    assert legs.hip[1] == pytest.approx(0.93) and legs.leg_length == pytest.approx(0.83)
    # Every point of the thighs, shins and feet lies within the legs' half width of the centre
    # line, and every point of the hands outside it (they hang below the hips in the A-pose).
    points = np.random.default_rng(3).uniform([-0.6, 0.0, -0.3], [0.6, 1.0, 0.3], size=(200_000, 3))
    points = points[man.sdf(points) < 0.0]
    parts = np.array(man.part_names)[man.part_of(points)]
    leg = np.isin(parts, ["thigh_l", "thigh_r", "shin_l", "shin_r", "foot_l", "foot_r"])
    hand = np.isin(parts, ["hand_l", "hand_r", "index_l", "index_r"])
    assert np.abs(points[leg, 0]).max() < legs.half_width < np.abs(points[hand, 0]).min()


def test_on_a_slope_a_foot_that_is_down_stays_where_it_was_set_over_the_ground():
    # The walk's clock is the distance covered over the ground: on a path that climbs 1 m in 4
    # a planted foot's step falls back at the body's horizontal speed, not along its path.
    move = PoseMove(0.0, 4.0, np.zeros(3), np.array([3.0, 1.0, 4.0]), stride=STRIDE, lift=LIFT)
    rate = np.array([3.0, 1.0, 4.0]) / 4.0
    for time in np.linspace(1.0, 3.0, 41):
        offset, _ = move.offset(time)
        steps, velocities = move.steps(offset, rate)
        for leg in range(2):
            if steps[leg, 1] == 0.0:
                np.testing.assert_allclose((rate + velocities[leg])[[0, 2]], 0.0, atol=1e-9)


def test_a_glide_that_cuts_a_walk_short_sets_the_feet_down():
    # A walk replaced mid-stride by a glide: the kernels' steps are zero from then on (they kept
    # the walk's last steps, and their velocities pulled the legs on at 1 m/s).
    data = scene_dict("walk", 0.6, [[-1.0, 0.0, -1.0], [1.0, 2.0, 2.0]], 0.08, fps=10)
    data["forms"] = [{"name": "man", "shape": "humanoid"}]
    data["bodies"] = [{"name": "alloy", "form": "man", "position": [0.0, 0.0, -0.5]}]
    data["events"] = [
        {"do": "move", "at": 0.0, "body": "alloy", "to": [0.0, 0.0, 1.5], "over": 2.0, "walk": True},
        {"do": "move", "at": 0.35, "body": "alloy", "to": [0.0, 0.0, 0.0], "over": 0.1},
    ]
    sim = make_simulation(data)
    sim.step_frame()
    sim.step_frame()
    assert np.abs(sim.control.steps[0]).max() > 0.01
    while sim.frame < sim.frame_count:
        sim.step_frame()
    gait = sim.control.gaits.numpy()[0]
    for field in ("step_left", "step_right", "velocity_left", "velocity_right"):
        assert np.all(np.asarray(gait[field]) == 0.0), field


def test_a_mesh_form_walks_on_the_legs_its_scene_declares(tmp_path):
    # A mesh knows no joints: its [[forms]] table may declare its legs (hip point, ankle height,
    # half width); the stride and lift default to the humanoid's proportions to the leg length.
    import trimesh

    trimesh.creation.box(extents=(0.4, 1.0, 0.3)).apply_translation([0.0, 0.5, 0.0]).export(tmp_path / "block.stl")
    data = scene_dict("walk", 0.8, [[-1.0, 0.0, -1.0], [1.0, 1.4, 2.0]], 0.08, fps=10)
    data["forms"] = [{"name": "block", "mesh": "block.stl",
                      "legs": {"hip": [0.0, 0.5, 0.0], "ankle_height": 0.1, "half_width": 0.25}}]
    data["bodies"] = [{"name": "alloy", "form": "block", "position": [0.0, 0.0, -0.5]}]
    data["events"] = [{"do": "move", "at": 0.0, "body": "alloy", "to": [0.0, 0.0, 1.5], "over": 2.0, "walk": True}]
    sim = make_simulation(data, tmp_path)
    legs = sim.forms["block"].legs()
    assert legs.leg_length == pytest.approx(0.4) and legs.stride == pytest.approx(1.2 / 0.83 * 0.4)
    sim.step_frame()
    assert any(e.kind == "move" and e.detail.endswith("walking") for e in sim.applied_events)
    while sim.frame < sim.frame_count:
        sim.step_frame()
    # 0.8 m walked by 0.8 s, past the steps' ramp (half a stride, 0.29 m): the feet are where
    # walk.foot_steps puts them on these legs, the right one lifted in its swing.
    travelled = float(sim.control.offsets[0] @ np.array([0.0, 0.0, 1.0]))
    assert travelled == pytest.approx(0.8, abs=0.01)
    expected, _ = foot_steps(travelled, 2.0, np.array([0.0, 0.0, 1.0]), legs.stride, legs.lift)
    np.testing.assert_allclose(sim.control.steps[0, :, :3], expected, atol=1e-6)
    assert sim.control.steps[0, 1, 1] > 0.02


def test_declared_ankles_must_lie_below_the_hips():
    from polyalloy.scene import Scene, SceneError

    data = scene_dict("walk", 0.1, [[-1.0, 0.0, -1.0], [1.0, 1.4, 1.0]], 0.08)
    data["forms"] = [{"name": "block", "mesh": "block.stl", "legs": {"hip": [0.0, 0.5, 0.0], "ankle_height": 0.6, "half_width": 0.25}}]
    with pytest.raises(SceneError) as caught:
        Scene.from_dict(data, Path("."))
    assert any("legs.ankle_height" in line and "below the hip" in line for line in caught.value.errors), caught.value.errors
