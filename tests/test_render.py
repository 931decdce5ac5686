"""Preview renderer, video writer and metric plots (polyalloy.render)."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import imageio.v2 as imageio
import numpy as np
import pytest

from polyalloy.render import Camera, PreviewRenderer, plot_metrics, write_video

WIDTH, HEIGHT = 320, 240
DISTANCE = 2.0  # eye to sphere centre [m]
SPACING = 0.01  # particle spacing [m]
BALL = 0.2  # radius of the ball holding the particle centres [m]


@pytest.fixture(scope="module")
def camera() -> Camera:
    return Camera(eye=(0.0, 0.0, DISTANCE), target=(0.0, 0.0, 0.0), fov=40.0)


@pytest.fixture(scope="module")
def ball() -> np.ndarray:
    """Particle centres on a cubic lattice of SPACING inside a ball of radius BALL at the origin."""
    g = np.arange(-BALL, BALL + 0.5 * SPACING, SPACING)
    p = np.stack(np.meshgrid(g, g, g, indexing="ij"), -1).reshape(-1, 3)
    return p[np.linalg.norm(p, axis=1) <= BALL].astype(np.float32)


def _uniform(color, n: int) -> np.ndarray:
    return np.tile(np.asarray(color, np.float32), (n, 1))


def _silhouette(image: np.ndarray, empty: np.ndarray) -> np.ndarray:
    """Pixels the body changed against the same view without particles."""
    return np.abs(image.astype(int) - empty.astype(int)).sum(axis=-1) > 24


def _pixel_distance_from_centre() -> np.ndarray:
    yy, xx = np.mgrid[:HEIGHT, :WIDTH]
    return np.hypot(xx + 0.5 - 0.5 * WIDTH, yy + 0.5 - 0.5 * HEIGHT)


@pytest.mark.parametrize("radius_in_spacings", [1.0, 0.5])
def test_sphere_covers_pinhole_area_without_holes(camera, ball, radius_in_spacings):
    # Pinhole projection of a sphere of radius R at distance D on the optical axis: a disc of
    # radius rho = f R / sqrt(D^2 - R^2) pixels, f = (H/2) / tan(fov/2). The union of the
    # particle spheres has R = (largest centre distance) + particle radius.
    radius = radius_in_spacings * SPACING
    renderer = PreviewRenderer(camera, (WIDTH, HEIGHT), particle_radius=radius, floor_y=None)
    # A saturated red body cannot be mistaken for the neutral backdrop, pixel by pixel.
    image = renderer.render(ball, _uniform((0.9, 0.1, 0.1), len(ball)))
    empty = renderer.render(np.zeros((0, 3), np.float32), np.zeros((0, 3), np.float32))
    mask = _silhouette(image, empty)

    big_r = float(np.linalg.norm(ball, axis=1).max()) + radius
    f = 0.5 * HEIGHT / math.tan(math.radians(camera.fov) / 2)
    rho = f * big_r / math.sqrt(DISTANCE**2 - big_r**2)
    measured = math.sqrt(mask.sum() / math.pi)
    assert measured == pytest.approx(rho, rel=0.10)

    # Filled: every pixel well inside the disc shows the body, none of the backdrop.
    inside = _pixel_distance_from_centre() < 0.9 * rho
    assert mask[inside].all(), f"{(~mask[inside]).sum()} holes inside the silhouette"
    # And nothing is drawn far outside it.
    assert not mask[_pixel_distance_from_centre() > 1.15 * rho].any()


def test_sphere_is_shaded_not_flat(camera, ball):
    # A flat-dot renderer gives near-constant luminance over the disc; reflections, Fresnel and
    # highlights spread it widely (std in 8-bit luminance units).
    renderer = PreviewRenderer(camera, (WIDTH, HEIGHT), particle_radius=SPACING, floor_y=None)
    image = renderer.render(ball, _uniform((0.8, 0.8, 0.82), len(ball)))
    f = camera.focal_length_px(HEIGHT)
    rho = f * BALL / math.sqrt(DISTANCE**2 - BALL**2)
    inside = _pixel_distance_from_centre() < 0.9 * rho
    luminance = image[inside].astype(float) @ np.array([0.2126, 0.7152, 0.0722])
    assert luminance.std() > 25.0
    # Chrome shows both dark and bright reflections.
    assert luminance.min() < 80.0 and luminance.max() > 200.0


def test_red_body_renders_red(camera, ball):
    renderer = PreviewRenderer(camera, (WIDTH, HEIGHT), particle_radius=SPACING, floor_y=None)
    image = renderer.render(ball, _uniform((0.9, 0.1, 0.1), len(ball)))
    f = camera.focal_length_px(HEIGHT)
    rho = f * BALL / math.sqrt(DISTANCE**2 - BALL**2)
    mean = image[_pixel_distance_from_centre() < 0.9 * rho].astype(float).mean(axis=0)
    assert mean[0] > mean[1] and mean[0] > mean[2]


def test_frozen_particles_render_frosty(camera, ball):
    # Frozen alloy (liquid fraction 0) turns white: brighter and less saturated than liquid.
    renderer = PreviewRenderer(camera, (WIDTH, HEIGHT), particle_radius=SPACING, floor_y=None)
    red = _uniform((0.9, 0.1, 0.1), len(ball))
    liquid = renderer.render(ball, red, np.ones(len(ball), np.float32)).astype(float)
    frozen = renderer.render(ball, red, np.zeros(len(ball), np.float32)).astype(float)
    inside = _pixel_distance_from_centre() < 0.5 * camera.focal_length_px(HEIGHT) * BALL / DISTANCE
    assert frozen[inside].mean() > liquid[inside].mean()
    chroma = lambda img: (img[inside].max(axis=1) - img[inside].min(axis=1)).mean()  # noqa: E731
    assert chroma(frozen) < chroma(liquid)


def test_empty_scene_draws_backdrop_floor_and_colliders():
    camera = Camera(eye=(0.0, 1.5, 4.0), target=(0.0, 0.5, 0.0), fov=40.0)
    box = {"shape": "box", "position": [0.0, 0.0, 0.0], "size": [0.6, 0.6, 0.6], "color": [0.9, 0.2, 0.2]}
    nothing = (np.zeros((0, 3), np.float32), np.zeros((0, 3), np.float32))
    bare = PreviewRenderer(camera, (WIDTH, HEIGHT), floor_y=0.0).render(*nothing)
    boxed = PreviewRenderer(camera, (WIDTH, HEIGHT), floor_y=0.0, colliders=[box]).render(*nothing)
    assert bare.shape == (HEIGHT, WIDTH, 3) and bare.dtype == np.uint8
    # Backdrop is not black, and the floor (lower rows) differs from the backdrop (upper rows).
    assert bare.mean() > 30.0
    assert np.abs(bare[:20].astype(float).mean(axis=(0, 1)) - bare[-20:].astype(float).mean(axis=(0, 1))).sum() > 20.0
    # The box's centre (0, 0.3, 0) projects below the image centre and shows its red.
    right, up, forward = camera.basis()
    rel = np.array([0.0, 0.3, 0.0]) - np.asarray(camera.eye)
    z = rel @ forward
    f = camera.focal_length_px(HEIGHT)
    col = int(0.5 * WIDTH + f * (rel @ right) / z)
    row = int(0.5 * HEIGHT - f * (rel @ up) / z)
    r, g, b = boxed[row, col].astype(int)
    assert r > g + 30 and r > b + 30
    assert not np.array_equal(boxed[row, col], bare[row, col])


def test_camera_rejects_degenerate_views():
    with pytest.raises(ValueError, match="fov"):
        Camera(eye=(0, 0, 1), target=(0, 0, 0), fov=0.0)
    with pytest.raises(ValueError, match="same point"):
        Camera(eye=(1, 2, 3), target=(1, 2, 3))
    # Looking straight down still gives an orthonormal frame.
    right, up, forward = Camera(eye=(0, 5, 0), target=(0, 0, 0)).basis()
    assert np.allclose(np.array([right, up, forward]) @ np.array([right, up, forward]).T, np.eye(3))


@pytest.mark.parametrize("size", [(64, 48), (65, 49)])
def test_write_video_roundtrip(tmp_path: Path, size):
    frames = tmp_path / "frames"
    frames.mkdir()
    width, height = size
    for i in range(7):
        image = np.zeros((height, width, 3), np.uint8)
        image[:, : (i + 1) * width // 7] = (200, 60, 30)
        imageio.imwrite(frames / f"{i:05d}.png", image)
    out = tmp_path / "preview.mp4"
    write_video(frames, out, fps=24.0)
    assert [p.name for p in tmp_path.iterdir() if p.is_file()] == ["preview.mp4"]  # no temp left
    with imageio.get_reader(out, format="FFMPEG") as reader:
        count = reader.count_frames()
        first = reader.get_data(0)
        fps = reader.get_meta_data()["fps"]
    assert count == 7
    assert fps == pytest.approx(24.0)
    assert first.shape[0] >= height and first.shape[1] >= width


def test_write_video_without_frames_says_so(tmp_path: Path):
    with pytest.raises(FileNotFoundError, match="no PNG frames"):
        write_video(tmp_path, tmp_path / "preview.mp4", fps=24.0)


CONTRACT_COLUMNS = (
    "frame,time,body,particles,mass,dissolved_mass,evaporated_mass,lost_mass,fragments,solid_pieces,"
    "largest_fragment,form,iou,shape_error,temp_mean,temp_min,temp_max,frozen_fraction,authority,glitch,"
    "kinetic_energy,substeps,wall_s"
).split(",")


def test_plot_metrics_writes_png(tmp_path: Path):
    run = tmp_path / "run"
    run.mkdir()
    csv_path = run / "metrics.csv"
    with csv_path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=CONTRACT_COLUMNS)
        writer.writeheader()
        for frame in range(6):
            for body in (0, 1):
                row = {c: 0 for c in CONTRACT_COLUMNS}
                row.update(frame=frame, time=frame / 24, body=body, particles=1000, mass=7.0 - 0.1 * frame * body,
                           fragments=1 + frame // 3, largest_fragment=1.0, form="cop", iou=0.5 + 0.05 * frame,
                           temp_mean=20 - 5 * frame * body, frozen_fraction=0.1 * frame * body, authority=1.0,
                           kinetic_energy=0.5 * frame, substeps=12, wall_s=0.1)
                writer.writerow(row)
    out = run / "plots" / "metrics.png"
    plot_metrics(csv_path, out)
    image = imageio.imread(out)
    assert image.ndim == 3 and image.shape[0] > 200 and image.shape[1] > 200
    assert sorted(p.name for p in out.parent.iterdir()) == ["metrics.png"]  # no temp left


def test_plot_metrics_skips_absent_columns(tmp_path: Path):
    csv_path = tmp_path / "metrics.csv"
    csv_path.write_text("frame,time,body,mass,iou\n0,0.0,0,1.0,0.2\n1,0.04,0,1.0,0.4\n")
    out = tmp_path / "metrics.png"
    plot_metrics(csv_path, out)
    assert imageio.imread(out).shape[1] > 100


def test_a_pool_is_drawn_as_its_bath_while_it_is_on():
    # A pool is analytic (no particles), so the preview draws its bath as a glowing box, only
    # between its start and stop.
    from polyalloy.runner import POOL_GLOW, _collider_dicts

    from .conftest import make_simulation, scene_dict

    data = scene_dict("vat", 0.2, [[-0.3, 0.0, -0.3], [0.3, 0.6, 0.3]], 0.05, fps=10)
    data["forms"] = [{"name": "drop", "shape": "sphere", "radius": 0.05}]
    data["bodies"] = [{"name": "drop", "form": "drop", "position": [0.2, 0.4, 0.0], "control": False}]
    data["pools"] = [{"name": "steel", "material": "molten_steel", "temperature": 1500.0, "start": 0.1,
                      "region": {"lo": [-0.3, 0.0, -0.2], "hi": [0.1, 0.3, 0.2]}}]
    sim = make_simulation(data)
    assert _collider_dicts(sim) == []
    sim.step_frame()
    sim.step_frame()
    (bath,) = _collider_dicts(sim)
    assert bath["shape"] == "box" and bath["surface"]["colors"] == [POOL_GLOW]
    np.testing.assert_allclose(bath["position"], [-0.1, 0.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(bath["size"], [0.4, 0.3, 0.4], atol=1e-12)
