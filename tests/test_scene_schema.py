"""Tests of the scene-file schema: a valid scene round-trips, and each kind of mistake is
reported at its key path with a message that says how to fix it, all mistakes at once."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from polyalloy.materials import MATERIALS
from polyalloy.scene import (
    BarsCollider,
    HumanoidForm,
    MeshForm,
    MorphEvent,
    MoveEvent,
    Scene,
    SceneError,
    estimate_grid_bytes,
    load_scene,
)

HEADER = """
[scene]
name = "test"
duration = 4.0
domain = [[-1, 0, -1], [1, 2, 1]]
cell = 0.05
"""

FULL = """
[scene]
name = "steel mill"
duration = 6.0
fps = 30
domain = [[-2, 0, -2], [2, 3, 2]]
cell = 0.02
ambient = 25
walls = "sticky"

[quality.draft]
cell = 0.04
particles_per_cell = 1
size = [320, 180]
fps = 12

[render]
camera = { eye = [0, 1.5, 5], target = [0, 1, 0] }
every = 2

[[forms]]
name = "cop"
shape = "humanoid"
colors = { head = "#ffcc99", torso = [0.1, 0.1, 0.4] }

[[forms]]
name = "blade"
shape = "blade"
length = 0.6
width = 0.08
thickness = 0.01

[[forms]]
name = "scan"
mesh = "meshes/cop.stl"
scale = 0.01

[[bodies]]
name = "t1000"
form = "cop"
library = ["blade", "scan"]
temperature = 30

[[bodies]]
name = "puddle"
material = "water"
form = "blade"
position = [1, 0, 1]
particles_per_cell = 27
control = false

[[colliders]]
name = "floor"
shape = "plane"

[[colliders]]
name = "door"
shape = "bars"
position = [0, 0, 1]
count = 8
spacing = 0.12
radius = 0.02
height = 2.2
surface = { pattern = "checker", colors = ["#000000", "#ffffff"], friction = 0.5 }
motion = { path = [[0, 0, 0, 1], [2, 1, 0, 1]] }

[[colliders]]
name = "press"
shape = "box"
size = [1, 0.2, 1]
position = [0, 2.5, 0]
temperature = -150
motion = { velocity = [0, -0.2, 0] }

[[pools]]
name = "steel"
region = { lo = [-2, 0, -2], hi = [-1, 0.5, -1] }
material = "molten_steel"
temperature = 1500

[[emitters]]
name = "nitrogen"
material = "liquid_nitrogen"
region = { lo = [1, 2, 1], hi = [1.2, 2.2, 1.2] }
velocity = [0, -1, 0]
rate = 0.001
temperature = -196
stop = 2

[[heaters]]
name = "torch"
position = [0, 1, 0]
radius = 0.1
power = 2000

[[events]]
at = 1.0
do = "morph"
body = "t1000"
form = "blade"

[[events]]
at = 2.0
do = "move"
body = "t1000"
to = [1, 0, 0]
over = 0.5
"""


def write(directory: Path, text: str, name: str = "scene.toml") -> Path:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def errors_of(directory: Path, text: str) -> list[str]:
    """The error lines of a scene that must fail to load."""
    with pytest.raises(SceneError) as caught:
        Scene.load(write(directory, text))
    return caught.value.errors


@pytest.fixture
def full_scene(tmp_path: Path) -> Path:
    (tmp_path / "meshes").mkdir()
    (tmp_path / "meshes" / "cop.stl").write_text("solid cop\nendsolid cop\n")
    return write(tmp_path, FULL)


def test_full_scene_loads_with_defaults_resolved(full_scene: Path) -> None:
    scene = load_scene(full_scene)
    assert scene.source_path == full_scene.resolve()
    assert scene.base_dir == full_scene.parent.resolve()
    cop, _, scan = scene.forms
    assert isinstance(cop, HumanoidForm) and cop.height == 1.8
    assert cop.colors["head"] == pytest.approx((1.0, 0.8, 0.6))
    assert isinstance(scan, MeshForm) and scan.shape == "mesh"
    assert scan.mesh == (full_scene.parent / "meshes" / "cop.stl").resolve()
    t1000, puddle = scene.bodies
    assert (t1000.material, t1000.particles_per_cell, t1000.temperature) == ("polyalloy", 8, 30.0)
    assert puddle.temperature == 25.0  # none: scene.ambient
    floor, door, press = scene.colliders
    assert floor.normal == (0.0, 1.0, 0.0) and floor.surface.friction == 0.3
    assert isinstance(door, BarsCollider) and door.motion.velocity is None and len(door.motion.path) == 2
    assert press.motion.velocity == (0.0, -0.2, 0.0) and press.motion.angular_velocity == 0.0
    assert isinstance(scene.events[0], MorphEvent) and isinstance(scene.events[1], MoveEvent)
    assert scene.render.size == (640, 360) and scene.render.camera.fov == 40.0


def test_full_scene_round_trips_through_toml(full_scene: Path, tmp_path: Path) -> None:
    scene = Scene.load(full_scene)
    text = scene.to_toml()
    again = Scene.load(write(tmp_path / "meshes", text, "resolved.toml"))  # elsewhere: paths are absolute
    assert again == scene
    assert again.model_dump() == scene.model_dump()
    assert again.to_toml() == text
    assert tomllib.loads(text)["bodies"][1]["temperature"] == 25.0  # defaults are written out


def test_all_mistakes_are_reported_at_once_at_their_keys(tmp_path: Path) -> None:
    errors = errors_of(
        tmp_path,
        """
        colour = "red"
        [scene]
        name = "bad"
        duration = 4.0
        domain = [[-1, 0, -1], [1, 2, 1]]
        cell = -0.02
        [[forms]]
        name = "cop"
        shape = "sphere"
        radius = "big"
        [[bodies]]
        name = "t1000"
        form = "cop2"
        posiiton = [0, 0, 0]
        """,
    )
    keys = [line.split(":")[0] for line in errors]
    assert sorted(keys) == sorted(
        ["colour", "scene.cell", "forms[0].radius", "bodies[0].posiiton", "bodies[0].form"]
    )
    assert any(line.startswith("bodies[0].posiiton: unknown key") and "'position'" in line for line in errors)
    assert "scene.cell: Input should be greater than 0 (got -0.02)" in errors


def test_error_text_is_headed_by_the_file(tmp_path: Path) -> None:
    path = write(
        tmp_path, HEADER + '[[bodies]]\nname = "a"\nform = "x"\n[[bodies]]\nname = "b"\nform = "y"\n'
    )
    with pytest.raises(SceneError) as caught:
        Scene.load(path)
    lines = str(caught.value).splitlines()
    assert str(path) in lines[0] and "2 errors" in lines[0]
    assert [line.strip() for line in lines[1:]] == caught.value.errors
    assert caught.value.path == path


def test_unknown_form_lists_the_forms(tmp_path: Path) -> None:
    errors = errors_of(
        tmp_path,
        HEADER
        + """
        [[forms]]
        name = "cop"
        shape = "humanoid"
        [[forms]]
        name = "guard"
        shape = "humanoid"
        [[bodies]]
        name = "t1000"
        form = "cop2"
        library = ["guard", "blade"]
        """,
    )
    assert errors == [
        "bodies[0].form: no form named 'cop2'; forms are: cop, guard",
        "bodies[0].library[1]: no form named 'blade'; forms are: cop, guard",
    ]


def test_unknown_material_lists_the_materials(tmp_path: Path) -> None:
    errors = errors_of(
        tmp_path,
        HEADER
        + '[[forms]]\nname = "b"\nshape = "sphere"\nradius = 0.1\n'
        + '[[bodies]]\nname = "a"\nform = "b"\nmaterial = "steel"\n',
    )
    assert errors == [f"bodies[0].material: no material named 'steel'; materials are: {', '.join(MATERIALS)}"]


def test_event_after_the_end_names_time_and_duration(tmp_path: Path) -> None:
    errors = errors_of(
        tmp_path,
        HEADER
        + """
        [[forms]]
        name = "ball"
        shape = "sphere"
        radius = 0.1
        [[bodies]]
        name = "a"
        form = "ball"
        [[events]]
        at = 5.0
        do = "morph"
        body = "b"
        form = "ball"
        """,
    )
    assert errors == [
        "events[0].at: 5 s is outside the scene: events happen within [0, scene.duration] = [0, 4] s",
        "events[0].body: no body named 'b'; bodies are: a",
    ]


def test_event_errors_drop_the_union_tag_and_unknown_kinds_list_the_known(tmp_path: Path) -> None:
    errors = errors_of(
        tmp_path,
        HEADER
        + """
        [[events]]
        at = 1.0
        do = "move"
        to = [1, 0]
        over = 1
        [[events]]
        at = 1.0
        do = "explode"
        """,
    )
    assert errors[0].startswith("events[0].body: required key is missing")
    assert errors[1].startswith("events[0].to: too few values")
    assert errors[2] == "events[1].do: 'explode' is not one of: morph, move, flip, extrude, camouflage, glitch, cleave, impact, grenade"


def test_overlapping_bars_are_refused(tmp_path: Path) -> None:
    errors = errors_of(
        tmp_path,
        HEADER
        + '[[colliders]]\nname = "door"\nshape = "bars"\n'
        + "count = 3\nspacing = 0.03\nradius = 0.02\nheight = 1\n",
    )
    assert errors == [
        "colliders[0].spacing: the bars overlap: spacing 0.03 m must exceed 2 × radius = 0.04 m"
    ]


def test_negative_heater_power_is_refused(tmp_path: Path) -> None:
    errors = errors_of(
        tmp_path,
        HEADER + '[[heaters]]\nname = "h"\nregion = { lo = [0, 0, 0], hi = [1, 1, 1] }\npower = -5\n',
    )
    assert errors == ["heaters[0].power: Input should be greater than or equal to 0 (got -5)"]


def test_temperature_below_absolute_zero_is_refused(tmp_path: Path) -> None:
    errors = errors_of(
        tmp_path,
        HEADER.replace("cell = 0.05", "cell = 0.05\nambient = -300")
        + '[[colliders]]\nname = "c"\nshape = "sphere"\nradius = 0.1\ntemperature = -274\n',
    )
    assert errors == [
        "scene.ambient: -300.0 °C is below absolute zero (-273.15 °C)",
        "colliders[0].temperature: -274.0 °C is below absolute zero (-273.15 °C)",
    ]


def test_grid_too_big_names_scene_cell_and_the_size(tmp_path: Path) -> None:
    errors = errors_of(tmp_path, HEADER.replace("cell = 0.05", "cell = 0.0005"))
    assert len(errors) == 1 and errors[0].startswith(
        "scene.cell: a 0.0005 m cell needs 64,144,108,027 grid nodes"
    )
    assert "GiB" in errors[0] and "the finest cell that fits this domain is 0.00312 m" in errors[0]
    assert estimate_grid_bytes(((-1, 0, -1), (1, 2, 1)), 0.00312) <= 16 * 2**30
    assert estimate_grid_bytes(((-1, 0, -1), (1, 2, 1)), 0.00311) > 16 * 2**30


def test_estimate_grid_bytes_counts_padded_nodes() -> None:
    # 1 m / 0.1 m = 10 cells per axis, + 3 padding nodes, 64 bytes per node.
    assert estimate_grid_bytes([[0, 0, 0], [1, 2, 0.5]], 0.1) == (10 + 3) * (20 + 3) * (5 + 3) * 64


def test_box_form_missing_size_and_foreign_size_key_are_named(tmp_path: Path) -> None:
    errors = errors_of(tmp_path, HEADER + '[[forms]]\nname = "crate"\nshape = "box"\nradius = 0.3\n')
    assert errors[0].startswith("forms[0].size: required key is missing — Full extents [x, y, z]")
    assert (
        errors[1].startswith("forms[0].radius: unknown key 'radius'; keys here are:") and "size" in errors[1]
    )
    assert len(errors) == 2


def test_form_needs_shape_or_mesh(tmp_path: Path) -> None:
    errors = errors_of(tmp_path, HEADER + '[[forms]]\nname = "a"\n[[forms]]\nname = "b"\nshape = "cube"\n')
    assert errors[0].startswith("forms[0].shape: required key is missing; one of: humanoid, sphere, box")
    assert (
        errors[1].startswith("forms[1].shape: 'cube' is not one of: humanoid, sphere, box")
        and "mesh" in errors[1]
    )


def test_toml_syntax_error_has_its_line(tmp_path: Path) -> None:
    errors = errors_of(tmp_path, '[scene]\nname = "x"\nduration = \n')
    assert errors == ["line 3, column 12: invalid TOML: Invalid value"]


def test_missing_file_is_a_scene_error(tmp_path: Path) -> None:
    with pytest.raises(SceneError, match="no such file"):
        Scene.load(tmp_path / "nope.toml")


def test_quality_override_applies(full_scene: Path) -> None:
    scene = Scene.load(full_scene)
    draft = scene.with_quality("draft")
    assert draft.scene.cell == 0.04
    assert [body.particles_per_cell for body in draft.bodies] == [1, 1]
    assert [emitter.particles_per_cell for emitter in draft.emitters] == [1]
    assert draft.scene.fps == 12
    assert draft.render.size == (320, 180)
    assert draft.source_path == scene.source_path
    assert scene.scene.cell == 0.02  # the original is untouched
    assert scene.with_quality("final") == scene  # no [quality.final] table: as written
    with pytest.raises(ValueError, match="draft, final"):
        scene.with_quality("best")


def test_quality_cell_is_checked_against_memory(tmp_path: Path) -> None:
    errors = errors_of(tmp_path, HEADER + "[quality.final]\ncell = 0.0005\n")
    assert len(errors) == 1 and errors[0].startswith("quality.final.cell: a 0.0005 m cell needs")


def test_from_dict_resolves_paths_against_base_dir(tmp_path: Path) -> None:
    (tmp_path / "ball.obj").write_text("")
    data = tomllib.loads(HEADER)
    data["forms"] = [{"name": "ball", "mesh": "ball.obj"}]
    assert Scene.from_dict(data, base_dir=tmp_path).forms[0].mesh == (tmp_path / "ball.obj").resolve()
    with pytest.raises(SceneError) as caught:
        Scene.from_dict(data, base_dir=tmp_path / "elsewhere")
    assert caught.value.path is None
    assert caught.value.errors[0].startswith("forms[0].mesh: no file ")


def test_json_schema_describes_every_table() -> None:
    schema = Scene.json_schema()
    assert set(schema["properties"]) == {
        "scene",
        "quality",
        "render",
        "forms",
        "bodies",
        "colliders",
        "pools",
        "emitters",
        "heaters",
        "events",
    }
    assert "[m]" in schema["$defs"]["SceneSettings"]["properties"]["cell"]["description"]


def test_sound_speed_stiffens_every_liquid_and_no_solid() -> None:
    # [scene] sound_speed c replaces the presets' artificial sound speed of liquids: bulk modulus
    # K = ρ c² (so the CFL step follows); solids keep their moduli.
    from polyalloy.scene.build import scene_material
    from polyalloy.scene.schema import SceneSettings

    settings = SceneSettings(name="s", duration=1.0, domain=[[0, 0, 0], [1, 1, 1]], cell=0.05, sound_speed=100.0)
    water = scene_material("water", settings)
    assert water.wave_speed == pytest.approx(100.0)
    assert scene_material("elastic", settings) == MATERIALS["elastic"]
    assert scene_material("water", settings.model_copy(update={"sound_speed": None})) == MATERIALS["water"]
