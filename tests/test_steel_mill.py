"""A2: the steel mill end to end, every stage in its order, with its mass accounted for every frame.

BEHAVIOURS.md A2 ("the climax of the film in one run", screenplay 000, 001, 003): the bundled
`steel_mill` scene at an 8 cm cell (2.8 k particles, about a minute): he freezes in the nitrogen
(T1), one pistol round shatters him (T2), the furnaces boil the nitrogen off (T3), his drops
gather and he re-forms (T4), three slugs crater him (D1), a grenade blows him open (D4), and in
the molten steel he goes through his forms and dissolves (T6); A1 on every row of every frame.
Each stage's own figure at the size it is specified for is its own test (test_thermal,
test_damage); this one asserts that the stages follow one another in one run, with the figures
an 8 cm man can show.
"""

from __future__ import annotations

import numpy as np
import pytest

from polyalloy.cli import bundled_scenes
from polyalloy.scene import Scene
from polyalloy.simulation import Simulation

CELL = 0.08
"""Grid cell of this run [m]: the demo's 6 cm takes twice as long."""


@pytest.fixture(scope="module")
def mill_run():
    """metrics rows (every body and emitter, every frame), t1000's events (time, kind, detail)
    and the scene, for the steel mill at an 8 cm cell."""
    draft = Scene.load(bundled_scenes()["steel_mill"]).with_quality("draft")
    data = draft.model_dump()
    data["scene"]["cell"] = CELL
    scene = Scene.from_dict(data, draft.base_dir)
    rows, events = [], []
    with Simulation(scene, device="cpu") as sim:
        while sim.frame < sim.frame_count:
            sim.step_frame()
            rows += sim.metrics_rows()
            events += [(e.time, e.kind, e.detail) for e in sim.applied_events if e.body == "t1000"]
    return rows, events, scene


def _his(rows):
    return [r for r in rows if r["body"] == "t1000"]


def test_mass_is_accounted_for_on_every_row_of_every_frame(mill_run):
    # A1: body + dissolved + evaporated + lost = initial; nothing unaccounted beyond 0.1 % of
    # what each body or emitter holds, on every frame (the nitrogen boils off, the metal dissolves).
    rows, _, _ = mill_run
    for row in rows:
        accounted = row["mass"] + row["dissolved_mass"] + row["evaporated_mass"]
        assert abs(row["lost_mass"]) <= 1e-3 * accounted, (row["time"], row["body"], row["lost_mass"])


def test_he_freezes_still_then_one_round_shatters_him(mill_run):
    # T1 just before the pistol round: frozen ≥ 0.95, authority 0, kinetic energy near 0 (under
    # 1 J for his 440 kg: an rms speed under 7 cm/s; 0.01 J measured). T2: the round breaks his
    # frozen metal into shards. A shard is ≥ 4 particles, 16 cm across at this cell, so his
    # 1.8 m yield fewer than the 100 T2 asks of a 4-6 cm man (the shatter test's 227 at 4 cm,
    # the demo's 106 at 6 cm); at 8 cm: ≥ 30 (52 measured, 2026-12-06).
    rows, _, scene = mill_run
    body = _his(rows)
    shot = min(e.at for e in scene.events if e.do == "impact")
    before = [r for r in body if r["time"] <= shot][-1]
    assert before["frozen_fraction"] >= 0.95 and before["authority"] == 0.0, before
    assert before["kinetic_energy"] < 1.0, before["kinetic_energy"]
    after = [r["solid_pieces"] for r in body if shot < r["time"] <= shot + 1.0]
    assert max(after) >= 30, after


def test_the_furnaces_boil_the_nitrogen_off_and_he_re_forms_before_the_slugs(mill_run):
    # T3: every kilogram of nitrogen poured (the flood and the rupture's pour) has boiled off
    # within 1.5 s of the furnaces' glow (0.9 s measured). T4: after the shot his metal is in
    # pieces (largest < 0.95), they gather into one (largest ≥ 0.95), he rises and stands
    # (`reformed`) before the first slug,
    # a man again: IoU ≥ 0.7 against his form (0.90 at best, 0.69-0.71 at rest, measured). T4's
    # 0.85 is not asserted here: at 8 cm his limbs are one or two voxels across and the man as
    # sampled, before anything moves, scores 0.86; blown open (D4) he scores under 0.5.
    rows, events, scene = mill_run
    glow = min(heater.start for heater in scene.heaters)
    for name in ("flood", "rupture"):
        late = [r for r in rows if r["body"] == name and r["time"] >= glow + 1.5]
        assert all(r["mass"] == 0.0 and r["evaporated_mass"] > 0.0 for r in late), name
    shots = sorted(e.at for e in scene.events if e.do == "impact")
    body = _his(rows)
    apart = next(r["time"] for r in body if r["time"] > shots[0] and r["largest_fragment"] < 0.95)
    fused = next(r["time"] for r in body if r["time"] > apart and r["largest_fragment"] >= 0.95)
    reformed = next(t for t, kind, _ in events if kind == "reformed")
    assert apart < fused < reformed < shots[1], (apart, fused, reformed, shots[1])
    best = max(r["iou"] for r in body if reformed <= r["time"] < shots[1])
    assert best >= 0.7, best


def test_slugs_and_a_grenade_strike_him_and_he_dies_in_the_steel(mill_run):
    # D1: each of the three slugs strikes and costs authority, less left after each (the
    # crater heals slower; test_damage asserts the healing). D4: the grenade opens him (IoU < 0.5
    # within 0.2 s). T6: in the steel every form he has taken (cop, guard, nurse) reaches
    # IoU ≥ 0.5 in the throes, and ≥ 99 % of his metal dissolves.
    rows, events, scene = mill_run
    slugs = [detail for t, kind, detail in events if kind == "impact"][1:]
    assert len(slugs) == 3 and all(d.startswith("shot at") for d in slugs), slugs
    left = [float(d.rsplit("authority now ", 1)[1]) for d in slugs]
    assert left[0] > left[1] > left[2], left
    body = _his(rows)
    burst = next(t for t, kind, _ in events if kind == "grenade")
    assert min(r["iou"] for r in body if burst < r["time"] <= burst + 0.2) < 0.5
    reached: dict[str, float] = {}
    for r in body:
        if "×" in r["form"]:
            form = r["form"].split("×")[0]
            reached[form] = max(reached.get(form, 0.0), r["iou"])
    assert set(reached) == {"cop", "guard", "nurse"} and min(reached.values()) >= 0.5, reached
    initial = body[0]["mass"]
    assert body[-1]["dissolved_mass"] >= 0.99 * initial, body[-1]["dissolved_mass"] / initial
