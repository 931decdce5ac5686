"""The command line and the run directory it leaves (DESIGN.md's contracts), end to end.

Bad input must exit with code 2 naming the key and leave no run that looks complete; a run
must leave every file of the contract; a resumed run must end exactly where an uninterrupted
one ends.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import tomli_w
from typer.testing import CliRunner

from polyalloy.cli import app
from polyalloy.io import read_ply
from polyalloy.metrics import METRIC_COLUMNS
from polyalloy.scene import Scene

runner = CliRunner()


def small_scene(**changes) -> dict:
    scene = {
        "scene": {"name": "small", "duration": 0.24, "fps": 25, "domain": [[-0.5, 0.0, -0.4], [0.5, 0.8, 0.4]], "cell": 0.04, "walls": "separate"},
        "render": {"size": [160, 96]},
        "forms": [{"name": "ball", "shape": "sphere", "radius": 0.15}],
        "bodies": [{"name": "blob", "form": "ball", "position": [-0.1, 0.2, 0.0], "velocity": [1.0, 0.0, 0.0]}],
        "colliders": [{"name": "crate", "shape": "box", "size": [0.2, 0.2, 0.3], "position": [0.3, 0.0, 0.0]}],
    }
    for key, value in changes.items():
        table, _, field = key.partition(".")
        if isinstance(scene[table], list):
            scene[table][0][field] = value
        else:
            scene[table][field] = value
    return scene


def write_scene(folder: Path, scene: dict, name: str = "scene.toml") -> Path:
    path = folder / name
    path.write_text(tomli_w.dumps(scene), encoding="utf-8")
    return path


def test_run_leaves_the_whole_run_directory(tmp_path):
    scene = write_scene(tmp_path, small_scene())
    out = tmp_path / "run"
    result = runner.invoke(app, ["run", str(scene), "--out", str(out)])
    assert result.exit_code == 0, result.output
    # Not a terminal here, as in a log file: progress comes as plain lines, the last one at the end.
    assert "small: frame 6/6, t = 0.240 s," in result.output and " left" in result.output, result.output
    run = json.loads((out / "run.json").read_text())
    assert run["status"] == "complete" and run["error"] is None and run["device"] == "cpu" and run["seed"] == 0
    assert run["collider_temperatures"] == {"crate": 20.0}
    assert Scene.load(out / "scene.toml") == Scene.load(scene)
    lines = (out / "metrics.csv").read_text().splitlines()
    assert tuple(lines[0].split(",")) == METRIC_COLUMNS
    assert len(lines) == 1 + 6  # one row per frame for the one body
    plys = sorted((out / "particles").glob("frame_*.ply"))
    assert len(plys) == 6
    particles = read_ply(plys[-1])
    assert list(particles) == ["x", "y", "z", "vx", "vy", "vz", "red", "green", "blue", "temperature", "phase", "body"]
    assert np.all(particles["body"] == 0) and np.allclose(particles["temperature"], 20.0)
    assert len(list((out / "frames").glob("frame_*.png"))) == 6
    assert (out / "preview.mp4").stat().st_size > 1000
    assert (out / "plots" / "metrics.png").stat().st_size > 1000
    assert list((out / "checkpoints").glob("frame_*.npz"))
    events = (out / "events.csv").read_text().splitlines()
    assert events[0] == "time,body,event,detail" and events[1].startswith("0,blob,spawn,")


def _whole_and_resumed(tmp_path, scene: dict) -> tuple[Path, Path]:
    """Run directories of `scene` run whole, and run for 3 frames then resumed to the end."""
    path = write_scene(tmp_path, scene)
    whole, split = tmp_path / "whole", tmp_path / "split"
    assert runner.invoke(app, ["run", str(path), "--out", str(whole), "--no-video"]).exit_code == 0
    assert runner.invoke(app, ["run", str(path), "--out", str(split), "--no-video", "--frames", "3"]).exit_code == 0
    result = runner.invoke(app, ["run", str(path), "--out", str(split), "--no-video", "--resume"])
    assert result.exit_code == 0, result.output
    return whole, split


def _physics(run: Path) -> list[list[str]]:
    """metrics.csv rows without the wall-clock column."""
    rows = [line.split(",") for line in (run / "metrics.csv").read_text().splitlines()]
    wall = rows[0].index("wall_s")
    return [row[:wall] + row[wall + 1 :] for row in rows]


def test_resumed_run_ends_where_an_uninterrupted_run_ends(tmp_path):
    whole, split = _whole_and_resumed(tmp_path, small_scene())
    assert _physics(split) == _physics(whole)
    last = "particles/frame_000006.ply"
    assert (split / last).read_bytes() == (whole / last).read_bytes()


def test_a_run_resumed_after_forms_were_made_during_it_ends_where_an_uninterrupted_run_ends(tmp_path):
    # Forms made during a run (a morph fitted to the body's volume, the puddle of a camouflage)
    # live nowhere in the scene file: the checkpoint says how they were made. Resumed after
    # both, the run used to stop at its next metrics row on the unknown form.
    scene = small_scene()
    scene["bodies"][0]["library"] = ["ball"]
    scene["events"] = [
        {"do": "morph", "at": 0.04, "body": "blob", "form": "ball", "fit": True},
        {"do": "camouflage", "at": 0.08, "body": "blob", "surface": "crate", "thickness": 0.05},
    ]
    whole, split = _whole_and_resumed(tmp_path, scene)
    assert _physics(split) == _physics(whole)
    assert "blob/puddle" in (whole / "metrics.csv").read_text()


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"bodies.form": "cop2"}, "bodies[0].form: no form named 'cop2'; forms are: ball"),
        ({"scene.cell": -0.02}, "scene.cell"),
        ({"bodies.colour": [1, 0, 0]}, "bodies[0].colour"),
        ({"scene.cell": 0.0004}, "scene.cell"),
        ({"bodies.temperature": -300.0}, "bodies[0].temperature"),
        ({"bodies.position": [0.0, 0.0, 3.0]}, "bodies[0].position"),
        ({"scene.heat_transfer_scale": -1.0}, "scene.heat_transfer_scale"),
    ],
)
def test_bad_scene_exits_2_naming_the_key_and_leaves_a_failed_run(tmp_path, changes, expected):
    scene = write_scene(tmp_path, small_scene(**changes))
    out = tmp_path / "run"
    result = runner.invoke(app, ["run", str(scene), "--out", str(out)])
    assert result.exit_code == 2
    assert expected in result.output
    run = json.loads((out / "run.json").read_text())
    assert run["status"] == "failed" and expected in run["error"]
    assert not list((out / "particles").glob("*.ply"))
    assert runner.invoke(app, ["validate", str(scene)]).exit_code == 2


def test_errors_of_forms_bodies_and_colliders_are_reported_together(tmp_path):
    # The body's origin is inside the domain but its sphere pokes out through the z wall.
    scene = small_scene(**{"bodies.position": [0.0, 0.0, 0.35]})
    scene["forms"].append({"name": "thing", "mesh": "thing.stl"})
    (tmp_path / "thing.stl").write_text("solid broken\nendsolid broken\n")
    scene["colliders"].append({"name": "statue", "shape": "mesh", "mesh": "thing.stl"})
    result = runner.invoke(app, ["validate", str(write_scene(tmp_path, scene))])
    assert result.exit_code == 2
    for key in ("forms[1]", "bodies[0].position", "colliders[1].mesh"):
        assert key in result.output


def test_bodies_starting_inside_one_another_or_a_solid_are_refused_naming_both(tmp_path):
    # Bad input: two bodies sampled into the same space, or a willed body sampled inside a
    # solid, start with interpenetrating particles that burst apart (the molten_steel scene's
    # man stood 5 cm into its catwalk until this check). Bodies that only touch, one beside the
    # other or one resting on the crate, are fine.
    scene = small_scene(**{"bodies.position": [0.3, 0.1, 0.0]})
    scene["bodies"].append({"name": "drop", "form": "ball", "position": [-0.2, 0.3, 0.0]})
    scene["bodies"].append({"name": "twin", "form": "ball", "position": [-0.1, 0.3, 0.0]})
    result = runner.invoke(app, ["validate", str(write_scene(tmp_path, scene))])
    assert result.exit_code == 2
    assert "bodies[0].position" in result.output and "inside solid collider 'crate' (colliders[0])" in result.output
    assert "bodies[1].position" in result.output and "inside body 'twin' (bodies[2])" in result.output
    touching = small_scene(**{"bodies.position": [-0.3, 0.0, 0.0]})
    touching["bodies"].append({"name": "beside", "form": "ball", "position": [0.0, 0.0, 0.0]})
    touching["bodies"].append({"name": "on_top", "form": "ball", "position": [0.3, 0.2, 0.0]})
    result = runner.invoke(app, ["validate", str(write_scene(tmp_path, touching, "touching.toml"))])
    assert result.exit_code == 0, result.output


def test_passive_matter_fills_its_form_around_the_solids_in_it():
    # A flood poured as a box over the crate (control = false: passive water) is sampled around
    # it: no particle starts inside the solid, and the box's particles outside it are all there.
    import warp as wp

    from polyalloy.scene.build import build_scene
    from polyalloy.solver.colliders import ColliderData
    from polyalloy.solver.kernels import solid_distances

    scene = small_scene()
    scene["bodies"] = [{"name": "flood", "form": "slab", "material": "water", "control": False, "position": [0.2, 0.0, 0.0]}]
    scene["forms"] = [{"name": "slab", "shape": "box", "size": [0.4, 0.12, 0.6]}]
    built = build_scene(Scene.from_dict(scene), "cpu")
    x = built.state.x.numpy()
    crate = solid_distances(x, wp.array(built.model.colliders, dtype=ColliderData, device="cpu"), "cpu")
    assert crate.min() >= 0.0
    # The slab spans x 0..0.4, the crate x 0.2..0.4 and z ±0.15 of the slab's ±0.3: a quarter
    # of the slab lies inside the crate (its full 0.2 m height covers the slab's 0.12 m).
    full = 0.4 * 0.12 * 0.6 / 0.02**3
    assert len(x) == pytest.approx(0.75 * full, rel=0.03), (len(x), full)


def test_resuming_another_scene_is_refused(tmp_path):
    out = tmp_path / "run"
    first = write_scene(tmp_path, small_scene(), "first.toml")
    assert runner.invoke(app, ["run", str(first), "--out", str(out), "--no-video", "--frames", "2"]).exit_code == 0
    other = write_scene(tmp_path, small_scene(**{"bodies.velocity": [-1.0, 0.0, 0.0]}), "other.toml")
    result = runner.invoke(app, ["run", str(other), "--out", str(out), "--no-video", "--resume"])
    assert result.exit_code == 2 and "another scene" in result.output


def test_every_error_is_reported_at_once(tmp_path):
    scene = small_scene(**{"bodies.form": "cop2", "scene.cell": -1.0})
    scene["colliders"][0]["radius"] = 0.1
    result = runner.invoke(app, ["validate", str(write_scene(tmp_path, scene))])
    assert result.exit_code == 2
    for key in ("bodies[0].form", "scene.cell", "colliders[0].radius"):
        assert key in result.output


def test_missing_and_open_meshes_are_refused(tmp_path):
    import trimesh

    open_box = trimesh.creation.box(extents=(0.2, 0.2, 0.2))
    open_box.update_faces(np.arange(len(open_box.faces)) != 0)
    open_box.export(tmp_path / "open.stl")
    for mesh, expected in (("missing.obj", "no file"), ("open.stl", "open")):
        scene = small_scene()
        scene["forms"].append({"name": "thing", "mesh": mesh})
        result = runner.invoke(app, ["validate", str(write_scene(tmp_path, scene))])
        assert result.exit_code == 2
        assert "forms[1]" in result.output and expected in result.output


def test_cuda_on_a_machine_without_gpu_is_bad_input(tmp_path):
    import warp as wp

    if wp.is_cuda_available():
        pytest.skip("this machine has a GPU")
    result = runner.invoke(app, ["run", str(write_scene(tmp_path, small_scene())), "--device", "cuda", "--out", str(tmp_path / "r")])
    assert result.exit_code == 2 and "no CUDA device" in result.output


def test_materials_json_has_the_contract_keys():
    result = runner.invoke(app, ["materials", "--json"])
    assert result.exit_code == 0
    data = json.loads(result.output)
    keys = {"density", "melting_point", "boiling_point", "latent_heat", "heat_capacity_solid", "heat_capacity_liquid",
            "conductivity_solid", "conductivity_liquid", "bulk_modulus", "shear_modulus", "viscosity"}
    assert {"polyalloy", "water", "elastic", "sand", "molten_steel", "liquid_nitrogen"} <= set(data)
    assert all(keys <= set(props) for props in data.values())


def test_every_bundled_scene_validates_and_runs_a_frame(tmp_path):
    # Bundled scenes are tested documentation: each one validates at both qualities (particles
    # are sampled at each one's cell, and a body can reach into a solid at one only), runs a
    # frame at draft quality, and its mass is accounted for (A1: body + dissolved + evaporated + lost =
    # initial; nothing unaccounted beyond 0.1 %, every body and emitter row).
    from polyalloy.cli import bundled_scenes

    for name in bundled_scenes():
        for quality in ("draft", "final"):
            assert runner.invoke(app, ["validate", name, "--quality", quality]).exit_code == 0, (name, quality)
        result = runner.invoke(app, ["run", name, "--quality", "draft", "--frames", "1", "--no-video", "--out", str(tmp_path / name)])
        assert result.exit_code == 0, result.output
        with open(tmp_path / name / "metrics.csv", newline="") as f:
            for row in csv.DictReader(f):
                accounted = float(row["mass"]) + float(row["dissolved_mass"]) + float(row["evaporated_mass"])
                assert abs(float(row["lost_mass"])) <= 1e-3 * accounted, (name, row["body"])
