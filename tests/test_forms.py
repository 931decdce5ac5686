"""Tests of the form library: SDFs against closed forms, the origin contract, volumes from
sampling, the humanoid's anatomy constraints, mesh loading and its errors, and sampling."""

import math

import numpy as np
import pytest
import trimesh

from polyalloy.mimicry import (
    SHAPE_NAMES,
    SILVER,
    FormError,
    estimate_volume,
    fill_form,
    make_form,
    particle_volume,
)


def form(shape, **params):
    return make_form(shape, shape, None, params, None, None, base_dir=".")


SIZES = {
    "box": {"size": [0.3, 0.2, 0.25]},
    "sphere": {"radius": 0.15},
    "capsule": {"radius": 0.1, "length": 0.3},
    "cylinder": {"radius": 0.12, "length": 0.3},
    "torus": {"major_radius": 0.2, "minor_radius": 0.06},
    "blade": {"length": 0.6, "width": 0.08, "thickness": 0.02},
    "humanoid": {"height": 1.8},
}


# --- SDFs against closed forms ----------------------------------------------------------------
# Each row: local point [m] and its exact signed distance [m], worked by hand from the shape's
# definition with the origin at the bottom-face centre of the bounding box.
CLOSED_FORMS = {
    # sphere r = 0.5 centred at (0, 0.5, 0): d = |p - c| - r
    ("sphere", (("radius", 0.5),)): [
        ((0.0, 0.5, 0.0), -0.5),
        ((0.0, 2.0, 0.0), 1.0),
        ((0.3, 0.9, 0.0), 0.0),
        ((0.0, 0.5, 0.2), -0.3),
    ],
    # box 2 x 1 x 4 spanning x in [-1, 1], y in [0, 1], z in [-2, 2]
    ("box", (("size", (2.0, 1.0, 4.0)),)): [
        ((0.0, 0.5, 0.0), -0.5),           # nearest faces are y = 0 and y = 1
        ((3.0, 0.5, 0.0), 2.0),            # face x = 1
        ((2.0, 2.0, 3.0), math.sqrt(3.0)),  # corner (1, 1, 2) is (1, 1, 1) away
        ((0.9, 0.5, 1.5), -0.1),           # face x = 1
    ],
    # capsule r = 0.2, segment y in [0.2, 1.2] on the y axis: d = |p - closest(segment)| - r
    ("capsule", (("radius", 0.2), ("length", 1.0))): [
        ((0.5, 0.7, 0.0), 0.3),
        ((0.0, 1.6, 0.0), 0.2),
        ((0.0, 0.7, 0.0), -0.2),
        ((0.3, -0.2, 0.4), math.sqrt(0.41) - 0.2),
    ],
    # cylinder r = 0.3, y in [0, 1]: distance to the side, a cap, or the rim circle
    ("cylinder", (("radius", 0.3), ("length", 1.0))): [
        ((0.0, 0.5, 0.0), -0.3),
        ((0.5, 0.5, 0.0), 0.2),
        ((0.0, 1.5, 0.0), 0.5),
        ((0.6, 1.4, 0.0), 0.5),             # rim at (0.3, 1.0): hypot(0.3, 0.4)
        ((0.2, 0.9, 0.0), -0.1),
    ],
    # torus R = 0.5, r = 0.1, tube centre circle at y = 0.1: d = hypot(rho - R, y - r) - r
    ("torus", (("major_radius", 0.5), ("minor_radius", 0.1))): [
        ((0.5, 0.1, 0.0), -0.1),
        ((0.0, 0.1, 0.0), 0.4),
        ((0.0, 0.1, 0.9), 0.3),
        ((0.3, 0.5, 0.4), 0.3),             # rho = 0.5, 0.4 above the tube centre
    ],
}


@pytest.mark.parametrize("key", list(CLOSED_FORMS), ids=[k[0] for k in CLOSED_FORMS])
def test_sdf_matches_closed_form(key):
    shape, params = key
    points, expected = zip(*CLOSED_FORMS[key])
    d = form(shape, **{k: list(v) if isinstance(v, tuple) else v for k, v in params}).sdf(np.array(points))
    np.testing.assert_allclose(d, expected, atol=1e-12)


def test_blade_is_pointed_double_edged_and_conservative():
    # Reference: the blade's definition (rhombus section |x|/a + |z|/b <= 1 with a = width / 2,
    # b = thickness / 2, narrowing linearly to a point at y = length).
    blade = form("blade", length=0.6, width=0.08, thickness=0.02, tip_length=0.1)
    # spine centre at half height is b = 0.01 from the flat faces' planes, scaled by the rhombus
    # face normal: distance a*b / hypot(a, b)
    a, b = 0.04, 0.01
    np.testing.assert_allclose(blade.sdf(np.array([[0.0, 0.3, 0.0]])), [-a * b / math.hypot(a, b)], rtol=1e-12)
    # sharp edges: a point on the x axis just inside the edge is that close to the surface
    assert -0.001 < blade.sdf(np.array([[0.039, 0.3, 0.0]]))[0] < 0.0
    # the point: above the tip and beside it is outside; below the tip on the axis is inside
    assert blade.sdf(np.array([[0.0, 0.61, 0.0]]))[0] > 0.0
    assert blade.sdf(np.array([[0.0, 0.59, 0.0]]))[0] < 0.0
    assert blade.sdf(np.array([[0.03, 0.58, 0.0]]))[0] > 0.0
    # never overstates the distance: above the tip by 0.1 m the true distance is 0.1
    assert 0.0 < blade.sdf(np.array([[0.0, 0.7, 0.0]]))[0] <= 0.1
    # volume: rhombus area (w t / 2) times the straight part plus a third of the point
    assert blade.volume() == pytest.approx(0.5 * 0.08 * 0.02 * (0.5 + 0.1 / 3.0))


@pytest.mark.parametrize("shape", ["blade", "humanoid"])
def test_conservative_sdfs_are_1_lipschitz(shape):
    # Reference: a (conservative) distance function satisfies |d(p) - d(q)| <= |p - q|.
    f = form(shape, **SIZES[shape])
    lo, hi = f.bounds()
    rng = np.random.default_rng(3)
    p = rng.uniform(lo - 0.05, hi + 0.05, size=(20000, 3))
    q = p + rng.normal(scale=0.01, size=p.shape)
    assert np.all(np.abs(f.sdf(p) - f.sdf(q)) <= np.linalg.norm(p - q, axis=1) + 1e-9)


# --- origin contract --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mesh_dir(tmp_path_factory):
    directory = tmp_path_factory.mktemp("meshes")
    # an icosphere moved off-centre, so loading must re-centre it
    trimesh.creation.icosphere(subdivisions=3, radius=0.2).apply_translation([1.0, -2.0, 0.5]).export(
        directory / "ball.stl")
    box = trimesh.creation.box([0.5, 0.5, 0.5])
    trimesh.Trimesh(box.vertices, box.faces[:-2]).export(directory / "open.stl")
    two = trimesh.util.concatenate([trimesh.creation.box([0.2] * 3),
                                    trimesh.creation.box([0.2] * 3).apply_translation([1.0, 0.0, 0.0])])
    two.export(directory / "two.obj")
    return directory


@pytest.mark.parametrize("shape", SHAPE_NAMES + ("mesh",))
def test_origin_is_bottom_face_centre(shape, mesh_dir):
    # Reference: DESIGN.md, a form's origin is the centre of the bottom face of its bounding box.
    if shape == "mesh":
        f = make_form("ball", None, "ball.stl", {}, None, None, mesh_dir)
    else:
        f = form(shape, **SIZES[shape])
    lo, hi = f.bounds()
    assert lo[1] == 0.0
    np.testing.assert_allclose(lo[[0, 2]], -hi[[0, 2]], atol=1e-7)
    # the solid fills its box: sampled particles span it to within a lattice step (except
    # towards the blade's sharp edges and point, which no lattice reaches)
    x, _ = fill_form(f, np.zeros(3), 0.02, 8, np.random.default_rng(0))
    reached = [0, 1, 2] if shape != "blade" else [1]
    np.testing.assert_allclose(x.min(axis=0)[reached], lo[reached], atol=0.011)
    np.testing.assert_allclose(x.max(axis=0)[reached[:-1] if shape == "blade" else reached],
                               hi[reached[:-1] if shape == "blade" else reached], atol=0.011)


# --- volumes ------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", ["sphere", "box", "torus", "capsule", "cylinder", "blade"])
def test_particle_count_times_volume_matches_analytic_volume(shape):
    # Reference: V_sphere = 4/3 pi r^3, V_box = x y z, V_torus = 2 pi^2 R r^2,
    # V_capsule = pi r^2 L + 4/3 pi r^3, V_cylinder = pi r^2 L (checked against the formulas here).
    f = form(shape, **SIZES[shape])
    analytic = {
        "sphere": 4.0 / 3.0 * math.pi * 0.15**3,
        "box": 0.3 * 0.2 * 0.25,
        "torus": 2.0 * math.pi**2 * 0.2 * 0.06**2,
        "capsule": math.pi * 0.1**2 * 0.3 + 4.0 / 3.0 * math.pi * 0.1**3,
        "cylinder": math.pi * 0.12**2 * 0.3,
        "blade": f.volume(),
    }[shape]
    assert f.volume() == pytest.approx(analytic, rel=1e-12)
    x, colors = fill_form(f, np.array([0.3, 0.1, -0.2]), 0.01, 8, np.random.default_rng(1))
    assert len(x) * particle_volume(0.01, 8) == pytest.approx(analytic, rel=0.03)
    assert x.dtype == np.float32 and colors.dtype == np.float32
    np.testing.assert_allclose(colors, np.tile(SILVER, (len(x), 1)), atol=1e-6)


def test_block_culling_keeps_every_inside_lattice_point():
    # Reference: brute force, the SDF evaluated at every point of the same lattice.
    f = form("humanoid", height=1.8)
    h = 0.02
    lo, hi = f.bounds()
    # the sampler's lattice, (i + 0.5) h, computed the same way so points on flat faces agree
    axes = [(np.arange(np.floor(lo[i] / h - 1.5), np.ceil(hi[i] / h + 1.5)) + 0.5) * h for i in range(3)]
    grid = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3)
    assert estimate_volume(f, h) == pytest.approx(np.count_nonzero(f.sdf(grid) < 0.0) * h**3, rel=1e-12)


# --- humanoid -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def person():
    f = form("humanoid", height=1.8)
    x, _ = fill_form(f, np.zeros(3), 0.015, 8, np.random.default_rng(7))
    return f, x.astype(np.float64)


def _slab_area(x, y0, x_range, thickness=0.02):
    """Cross-section area [m^2] of the points in a y-slab: count * sub-cell volume / thickness."""
    m = (np.abs(x[:, 1] - y0) < 0.5 * thickness) & (x[:, 0] > x_range[0]) & (x[:, 0] < x_range[1])
    return np.count_nonzero(m) * (0.015 / 2) ** 3 / thickness


def test_humanoid_height_and_volume(person):
    # Reference: the requested height; an adult's volume (mass / density ~ 60-80 kg / 1000 kg/m^3).
    f, x = person
    assert f.bounds()[1][1] == pytest.approx(1.8)
    assert x[:, 1].max() - x[:, 1].min() == pytest.approx(1.8, rel=0.02)
    assert 0.06 < f.volume() < 0.08
    assert len(x) * particle_volume(0.015, 8) == pytest.approx(f.volume(), rel=0.03)
    # scaling: every length scales with height, the volume with its cube
    small = form("humanoid", height=0.9)
    assert small.bounds()[1][1] == pytest.approx(0.9)
    assert small.volume() == pytest.approx(f.volume() / 8.0)


def test_humanoid_has_all_named_parts(person):
    # Reference: the part list promised for part morphs (DESIGN.md, mimetic control).
    f, x = person
    required = {"head", "neck", "torso", "pelvis"} | {
        f"{limb}_{side}" for limb in ("upper_arm", "forearm", "hand", "thigh", "shin", "foot") for side in "lr"}
    assert required <= set(f.part_names)
    present = {f.part_names[i] for i in np.unique(f.part_of(x))}
    assert present == set(f.part_names)
    # the figure's left (+x, facing +z) holds the left parts
    labels = np.array(f.part_names)[f.part_of(x)]
    assert np.all(x[labels == "hand_l", 0] > 0.0) and np.all(x[labels == "hand_r", 0] < 0.0)
    assert x[labels == "foot_l", 2].mean() > x[labels == "shin_l", 2].mean()  # toes point to +z


def test_humanoid_knees_and_ankles_are_the_narrowest_points(person):
    # Reference: the design constraint, measured as cross-section areas of the left leg.
    f, x = person
    leg = (0.0, 0.25)
    knee, ankle = f.joints["knee_l"][1], f.joints["ankle_l"][1]
    hip = f.joints["hip_l"][1]
    calf = max(np.arange(ankle, knee, 0.02), key=lambda y: _slab_area(x, y, leg))
    knee_area = _slab_area(x, knee, leg)
    ankle_area = _slab_area(x, ankle, leg)
    assert knee_area < 0.85 * _slab_area(x, 0.5 * (knee + hip), leg)  # mid-thigh
    assert knee_area < 0.85 * _slab_area(x, calf, leg)
    assert ankle_area < 0.5 * _slab_area(x, calf, leg)
    # limbs are at least 5 cm (2.5 cells of 2 cm) thick: area of a 5 cm disc
    assert ankle_area > math.pi * 0.025**2


def test_humanoid_arms_stand_clear_of_the_torso(person):
    # Reference: the design constraint (>= 4 cm gap below the armpit for 2 cm MPM cells),
    # measured as the widest empty x-interval in a slab on the figure's left.
    f, x = person
    shoulder, elbow, wrist = (f.joints[k][1] for k in ("shoulder_l", "elbow_l", "wrist_l"))
    for y in (0.5 * (shoulder + elbow), elbow, wrist):
        slab = np.sort(x[(np.abs(x[:, 1] - y) < 0.01) & (x[:, 0] > 0.0), 0])
        assert np.diff(slab).max() >= 0.04, f"arm within 4 cm of the body at y = {y:.2f} m"


def test_humanoid_colors_by_group_and_part():
    # Reference: the documented rule, group colours first, part names override.
    f = make_form("cop", "humanoid", None, {}, "#808080", {"shirt": [0.0, 0.0, 1.0], "forearm_l": "#ff0000"}, ".")
    colors = dict(zip(f.part_names, f.part_colors.tolist()))
    assert colors["torso"] == [0.0, 0.0, 1.0]
    assert colors["forearm_l"] == [1.0, 0.0, 0.0]
    np.testing.assert_allclose(colors["head"], [128 / 255] * 3, rtol=1e-6)
    head = f.joints["shoulder_l"] * [0, 1, 0] + [0, 0.25, 0]
    np.testing.assert_allclose(f.color_at(head[None])[0], [128 / 255] * 3, rtol=1e-6)


# --- meshes -------------------------------------------------------------------------------------


def test_mesh_form_loads_recentres_and_keeps_its_volume(mesh_dir):
    # Reference: trimesh's volume of the same icosphere; its inscribed sphere for the SDF.
    f = make_form("ball", None, "ball.stl", {}, None, None, mesh_dir)
    ball = trimesh.creation.icosphere(subdivisions=3, radius=0.2)
    assert f.volume() == pytest.approx(ball.volume, rel=1e-6)
    np.testing.assert_allclose(f.bounds()[1], [0.2, 0.4, 0.2], atol=1e-6)
    d = f.sdf(np.array([[0.0, 0.2, 0.0], [0.0, 0.7, 0.0], [0.0, 0.0, 0.0]]))
    # from the centre, the nearest point is on the nearest face plane: min |n . v0|
    inscribed = np.min(np.abs(np.einsum("ij,ij->i", ball.face_normals, ball.triangles[:, 0])))
    np.testing.assert_allclose(d, [-inscribed, 0.3, 0.0], atol=1e-5)
    x, _ = fill_form(f, np.zeros(3), 0.02, 8, np.random.default_rng(0))
    assert len(x) * particle_volume(0.02, 8) == pytest.approx(ball.volume, rel=0.03)
    scaled = make_form("ball", None, "ball.stl", {"height": 0.8}, None, None, mesh_dir)
    assert scaled.volume() == pytest.approx(8.0 * ball.volume, rel=1e-6)


def test_open_mesh_is_refused_with_its_edge_count(mesh_dir):
    # Reference: a cube missing one square face (two triangles) has 4 boundary edges.
    with pytest.raises(FormError, match=r"not watertight: 4 open"):
        make_form("bad", None, "open.stl", {}, None, None, mesh_dir)


def test_two_body_mesh_is_refused_with_its_part_count(mesh_dir):
    # Reference: the file holds two disjoint boxes.
    with pytest.raises(FormError, match=r"2 separate connected parts"):
        make_form("bad", None, "two.obj", {}, None, None, mesh_dir)


def test_missing_mesh_names_the_resolved_path(mesh_dir):
    # Reference: DESIGN.md, mesh paths are relative to the scene file; the error shows where it looked.
    with pytest.raises(FormError, match=str(mesh_dir / "nowhere.obj")):
        make_form("bad", None, "nowhere.obj", {}, None, None, mesh_dir)


# --- make_form errors -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "shape, mesh, params, color, message",
    [
        ("cube", None, {}, None, r"unknown shape 'cube'; known shapes: box, sphere"),
        ("sphere", None, {}, None, r"needs 'radius'"),
        ("box", None, {"size": [1.0, 0.0, 1.0]}, None, r"'size' must be > 0"),
        ("capsule", None, {"radius": -0.1, "length": 1.0}, None, r"'radius' must be > 0"),
        ("torus", None, {"major_radius": 0.1, "minor_radius": 0.2}, None, r"minor_radius .* smaller"),
        ("sphere", None, {"radius": 0.1, "radious": 0.2}, None, r"unknown key 'radious'"),
        ("sphere", None, {"radius": 0.1}, [255, 0, 0], r"outside 0..1"),
        ("sphere", None, {"radius": 0.1}, "#zzzzzz", r"not a colour"),
        (None, None, {}, None, r"exactly one of shape"),
        ("sphere", "ball.stl", {}, None, r"exactly one of shape"),
    ],
)
def test_make_form_errors_say_what_and_how(shape, mesh, params, color, message):
    # Reference: STYLE.md, errors say what is wrong and how to fix it (named key, known shapes).
    with pytest.raises(FormError, match=message):
        make_form("f", shape, mesh, params, color, None, ".")


def test_unknown_color_part_lists_the_valid_ones():
    # Reference: the documented colour keys, the part names plus the humanoid's groups.
    with pytest.raises(FormError, match=r"unknown part 'shirt'; this sphere form has: body"):
        make_form("f", "sphere", None, {"radius": 0.1}, None, {"shirt": "#ffffff"}, ".")
    with pytest.raises(FormError, match=r"skin, hair, shirt, trousers, shoes, head"):
        make_form("f", "humanoid", None, {}, None, {"sleeves": "#ffffff"}, ".")


# --- sampling -----------------------------------------------------------------------------------


def test_fill_form_is_deterministic_for_a_seed():
    # Reference: DESIGN.md reliability, a seeded run repeats exactly.
    f = form("torus", **SIZES["torus"])
    a = fill_form(f, np.array([0.1, 0.0, 0.2]), 0.02, 8, np.random.default_rng(42), rotation_y_deg=30.0)
    b = fill_form(f, np.array([0.1, 0.0, 0.2]), 0.02, 8, np.random.default_rng(42), rotation_y_deg=30.0)
    c = fill_form(f, np.array([0.1, 0.0, 0.2]), 0.02, 8, np.random.default_rng(43), rotation_y_deg=30.0)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])


def test_fill_form_places_and_rotates():
    # Reference: world = position + R_y(theta) local; a 90 degree turn maps +x to -z.
    f = form("box", size=[0.4, 0.1, 0.1])
    x, _ = fill_form(f, np.array([1.0, 2.0, 3.0]), 0.02, 8, np.random.default_rng(0), rotation_y_deg=90.0)
    np.testing.assert_allclose(x.min(axis=0), [0.95, 2.0, 2.8], atol=0.01)
    np.testing.assert_allclose(x.max(axis=0), [1.05, 2.1, 3.2], atol=0.01)
    # the sub-lattice sits on world multiples of dx / 2, jittered by at most a quarter step
    offset = (x - 0.005) / 0.01
    assert np.all(np.abs(offset - np.round(offset)) <= 0.25 + 1e-3)


def test_particles_per_cell_must_be_a_cube():
    # Reference: particle_volume = dx^3 / n.
    assert particle_volume(0.02, 27) == pytest.approx(0.02**3 / 27)
    with pytest.raises(ValueError, match="must be a cube"):
        fill_form(form("sphere", radius=0.1), np.zeros(3), 0.02, 10, np.random.default_rng(0))
