"""T5 at small size: the bundled `glitch` scene at draft quality (3 cm cells).

BEHAVIOURS.md T5 (screenplay 000): after the freeze the man glitches at level 0.8. "ANGLE ON ITS
HAND as it touches a railing in passing ... The hand turns yellow and black, the color fading to
normal by about the elbow"; "With each step, the pattern on the tile floor 'invades' its lower
legs. Fades as the foot is lifted. Returns as it is set down." The figures: contact colour
persists ≥ 2 s and decays with distance from contact; feet carry floor colours only while down.
He walks 2.3 m in steps (walk = true), past the taped railing, and stands.

Parts are those of each particle's target in the form (targets are re-assigned as he moves).
Colour change is |colour − form colour| summed over RGB, beyond the static of his torso.
"""

from __future__ import annotations

import numpy as np

from polyalloy.cli import bundled_scenes
from polyalloy.mimicry import Humanoid
from polyalloy.scene import Scene
from polyalloy.simulation import Simulation


def _glitch_walk() -> list[dict]:
    scene = Scene.load(bundled_scenes()["glitch"]).with_quality("draft")
    sim = Simulation(scene, device="cpu")
    body = scene.bodies[0]
    man = Humanoid("man", 1.8)
    names = np.array(man.part_names)
    start_height = {}
    rows, previous = [], sim.state.x.numpy()
    while sim.time < 4.6:
        sim.step_frame()
        x = sim.state.x.numpy()
        change = np.abs(sim.state.color.numpy() - sim.control.form_colors.numpy()).sum(axis=1)
        parts = names[man.part_of(sim.control.targets.numpy() - np.asarray(body.position))]
        pressed = sim.state.pressed.numpy().astype(bool)
        row = {"time": sim.time, "static": change[parts == "torso"].mean()}
        for part in ("foot_l", "foot_r", "hand_r", "forearm_r", "upper_arm_r"):
            mine = parts == part
            height = x[mine, 1].mean()
            start_height.setdefault(part, height)
            row[part] = {
                "change": change[mine].mean() - row["static"],
                "lift": height - start_height[part],
                "speed": np.linalg.norm(x[mine] - previous[mine], axis=1).mean() / sim.frame_dt,
                "pressed": int(np.count_nonzero(pressed[mine])),
            }
        rows.append(row)
        previous = x
    return rows


def test_the_glitching_man_steps_with_the_tiles_on_his_feet_only_while_down_and_keeps_the_railing_on_his_hand():
    rows = _glitch_walk()
    walking = [r for r in rows if 0.8 <= r["time"] <= 2.4]

    # He walks in steps: each foot is lifted (the walk lifts it 12 cm) and, while down, stays
    # where it was set (a glide would carry it at his 1 m/s).
    for foot in ("foot_l", "foot_r"):
        assert max(r[foot]["lift"] for r in walking) > 0.08, foot
        down = [r[foot]["speed"] for r in walking if r[foot]["lift"] < 0.01]
        assert len(down) >= 6 and np.median(down) < 0.2, (foot, down)

    # The tiles' colours while a foot is down; lifted 6 cm or more (the middle of its swing,
    # 0.05–0.45 s after it left the floor, going at 10/s since: 1–60 % left, ~20 % on
    # average) they are mostly gone. From the second step on: the first foot to lift stood 1.05 s
    # (0.3 s before he set off, then its stance), long enough to begin to sink in.
    steps = [r for r in rows if 1.6 <= r["time"] <= 2.6]
    down = [r[f]["change"] for r in steps for f in ("foot_l", "foot_r") if r[f]["lift"] < 0.01]
    lifted = [r[f]["change"] for r in steps for f in ("foot_l", "foot_r") if r[f]["lift"] > 0.06]
    assert len(lifted) >= 6 and np.mean(lifted) < 0.4 * np.mean(down), (lifted, np.mean(down))

    # The railing: his hand is pressed to it for over 1.2 s, the colours sink in, and 2 s after
    # it leaves the railing ≥ half its colour change is left (the will restores it at 0.24/s:
    # 62 %). The change fades toward the elbow: the forearm takes less, the upper arm little.
    on_rail = [i for i, r in enumerate(rows) if r["hand_r"]["pressed"] > 0]
    assert on_rail == list(range(on_rail[0], on_rail[-1] + 1)), "the hand left the railing and came back"
    assert rows[on_rail[-1]]["time"] - rows[on_rail[0]]["time"] > 1.2
    left = rows[on_rail[-1] + 1]
    later = next(r for r in rows if r["time"] >= left["time"] + 2.0)
    hand, forearm, upper_arm = (left[part]["change"] for part in ("hand_r", "forearm_r", "upper_arm_r"))
    assert later["hand_r"]["change"] >= 0.5 * hand, (later["hand_r"]["change"], hand)
    assert forearm < 0.5 * hand and upper_arm < 0.1 * hand, (hand, forearm, upper_arm)
    assert later["forearm_r"]["change"] < 0.5 * later["hand_r"]["change"]
