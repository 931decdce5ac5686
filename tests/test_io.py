"""Run-directory I/O (polyalloy.io): atomic writes, PLY, checkpoints and RunDirectory."""

import csv
import json

import numpy as np
import pytest

from polyalloy.io import (
    PLY_VERTEX_DTYPE,
    RunDirectory,
    atomic_path,
    atomic_write_text,
    checkpoint_path,
    latest_checkpoint,
    load_checkpoint,
    prune_checkpoints,
    read_ply,
    save_checkpoint,
    write_ply,
)
from polyalloy.metrics import METRIC_COLUMNS

# PLY -------------------------------------------------------------------------------------------

# Reference: DESIGN.md, "Run directory (contract)": x y z vx vy vz (float), red green blue
# (uchar), temperature, phase (float), body (int), in this order.
CONTRACT_PROPERTIES = [
    "property float x",
    "property float y",
    "property float z",
    "property float vx",
    "property float vy",
    "property float vz",
    "property uchar red",
    "property uchar green",
    "property uchar blue",
    "property float temperature",
    "property float phase",
    "property int body",
]


def particles(n, seed=0):
    rng = np.random.default_rng(seed)
    return dict(
        positions=rng.normal(size=(n, 3)).astype(np.float32),
        velocities=rng.normal(size=(n, 3)).astype(np.float32),
        colors_u8=rng.integers(0, 256, size=(n, 3), dtype=np.uint8),
        temperature=rng.uniform(-40, 1500, n).astype(np.float32),
        phase=rng.uniform(0, 1, n).astype(np.float32),
        body=rng.integers(-1, 3, n).astype(np.int32),
    )


def header_of(path):
    data = path.read_bytes()
    end = data.index(b"end_header\n") + len(b"end_header\n")
    return data[:end].decode("ascii")


def test_ply_round_trip_is_exact(tmp_path):
    # Construction: float32 / uint8 / int32 inputs are stored without conversion, so reading
    # back must give the same bits.
    n = 1000
    data = particles(n)
    path = tmp_path / "frame_000001.ply"
    write_ply(path, **data)
    back = read_ply(path)
    assert list(back) == [line.split()[-1] for line in CONTRACT_PROPERTIES]
    for axis, (p, v) in enumerate([("x", "vx"), ("y", "vy"), ("z", "vz")]):
        np.testing.assert_array_equal(back[p], data["positions"][:, axis])
        np.testing.assert_array_equal(back[v], data["velocities"][:, axis])
    for axis, c in enumerate(["red", "green", "blue"]):
        np.testing.assert_array_equal(back[c], data["colors_u8"][:, axis])
    for name in ("temperature", "phase", "body"):
        np.testing.assert_array_equal(back[name], data[name])


def test_ply_is_read_by_an_independent_reader(tmp_path):
    # Reference: trimesh's PLY loader (not written here) must see the same vertices, colours
    # and property layout.
    trimesh = pytest.importorskip("trimesh")
    data = particles(100)
    path = tmp_path / "p.ply"
    write_ply(path, **data)
    cloud = trimesh.load(path)
    np.testing.assert_array_equal(cloud.vertices, data["positions"].astype(np.float64))
    np.testing.assert_array_equal(cloud.colors[:, :3], data["colors_u8"])
    raw = cloud.metadata["_ply_raw"]["vertex"]["data"]
    assert list(raw.dtype.names) == [line.split()[-1] for line in CONTRACT_PROPERTIES]
    np.testing.assert_array_equal(raw["body"], data["body"])


def test_ply_header_and_size_follow_the_contract(tmp_path):
    # Reference: the PLY spec stores binary records packed, so the size is the header plus
    # N * (6 * 4 + 3 * 1 + 2 * 4 + 4) = N * 39 bytes.
    n = 257
    path = tmp_path / "p.ply"
    write_ply(path, **particles(n))
    header = header_of(path)
    lines = header.splitlines()
    assert lines[:2] == ["ply", "format binary_little_endian 1.0"]
    assert f"element vertex {n}" in lines
    assert [line for line in lines if line.startswith("property")] == CONTRACT_PROPERTIES
    assert PLY_VERTEX_DTYPE.itemsize == 39
    assert path.stat().st_size == len(header) + n * 39


def test_ply_of_no_particles(tmp_path):
    path = tmp_path / "empty.ply"
    write_ply(path, **particles(0))
    assert all(len(column) == 0 for column in read_ply(path).values())


def test_ply_refuses_float_colours(tmp_path):
    data = particles(4)
    data["colors_u8"] = data["colors_u8"] / 255.0
    with pytest.raises(TypeError, match="0-255"):
        write_ply(tmp_path / "p.ply", **data)
    assert list(tmp_path.iterdir()) == []


def test_read_ply_refuses_ascii(tmp_path):
    path = tmp_path / "ascii.ply"
    path.write_text("ply\nformat ascii 1.0\nelement vertex 1\nproperty float x\nend_header\n1\n")
    with pytest.raises(ValueError, match="binary_little_endian"):
        read_ply(path)


def test_read_ply_detects_truncation(tmp_path):
    path = tmp_path / "p.ply"
    write_ply(path, **particles(10))
    path.write_bytes(path.read_bytes()[:-5])
    with pytest.raises(ValueError, match="truncated"):
        read_ply(path)


# checkpoints -----------------------------------------------------------------------------------


def test_checkpoint_round_trip(tmp_path):
    arrays = {
        "x": np.random.default_rng(1).normal(size=(50, 3)).astype(np.float32),
        "body": np.arange(50, dtype=np.int32),
        "frozen": np.arange(50) % 2 == 0,
        "forms": np.array(["cop", "guard"]),
    }
    meta = {"frame": np.int64(12), "time": 0.5, "bodies": ["cop"], "rng": {"seed": 7}}
    path = checkpoint_path(tmp_path, 12)
    assert path.name == "frame_000012.npz"
    save_checkpoint(path, arrays, meta)
    back, back_meta = load_checkpoint(path)
    assert back.keys() == arrays.keys()
    for name, array in arrays.items():
        assert back[name].dtype == array.dtype
        np.testing.assert_array_equal(back[name], array)
    assert back_meta == {"frame": 12, "time": 0.5, "bodies": ["cop"], "rng": {"seed": 7}}


def test_checkpoint_refuses_object_arrays(tmp_path):
    # Object arrays can only be stored by pickling: refused when saving, and a file holding one
    # (written here with plain np.savez, which pickles) is refused when loading.
    with pytest.raises(TypeError, match="pickle"):
        save_checkpoint(tmp_path / "a.npz", {"bad": np.array([{"x": 1}], dtype=object)}, {})
    assert not (tmp_path / "a.npz").exists()
    path = tmp_path / "frame_000001.npz"
    np.savez(path, bad=np.array([{"x": 1}], dtype=object), __meta__=np.array("{}"))
    with pytest.raises(ValueError, match="allow_pickle"):
        load_checkpoint(path)


def test_latest_and_prune_checkpoints(tmp_path):
    assert latest_checkpoint(tmp_path) is None
    assert latest_checkpoint(tmp_path / "missing") is None
    for frame in (2, 10, 9, 100, 1):
        save_checkpoint(checkpoint_path(tmp_path, frame), {"a": np.zeros(1)}, {"frame": frame})
    # Neither a temporary file of an unfinished write nor an unrelated file is a checkpoint.
    (tmp_path / ".frame_000999.0badf00d.tmp.npz").write_bytes(b"")
    (tmp_path / "frame_000500.npz.bak").write_bytes(b"")
    assert latest_checkpoint(tmp_path) == checkpoint_path(tmp_path, 100)
    deleted = prune_checkpoints(tmp_path, keep=2)
    assert sorted(p.name for p in deleted) == [
        "frame_000001.npz",
        "frame_000002.npz",
        "frame_000009.npz",
    ]
    assert sorted(p.name for p in tmp_path.glob("frame_*.npz")) == [
        "frame_000010.npz",
        "frame_000100.npz",
    ]
    with pytest.raises(ValueError):
        prune_checkpoints(tmp_path, keep=0)


# atomic writes ---------------------------------------------------------------------------------


def test_atomic_write_leaves_no_partial_file_when_the_writer_raises(tmp_path):
    path = tmp_path / "run.json"
    atomic_write_text(path, "old")
    with pytest.raises(RuntimeError):
        with atomic_path(path) as temp:
            temp.write_text("half of the new conte")
            raise RuntimeError("killed mid-write")
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["run.json"]
    # A new file that fails is never created at all.
    with pytest.raises(RuntimeError):
        with atomic_path(tmp_path / "new.ply") as temp:
            assert temp.suffix == ".ply"  # format-by-extension writers keep working
            raise RuntimeError
    assert [p.name for p in tmp_path.iterdir()] == ["run.json"]


# RunDirectory ----------------------------------------------------------------------------------


def metrics_row(frame, body="cop", **values):
    row = dict.fromkeys(METRIC_COLUMNS, 0.0)
    row.update(frame=frame, time=frame / 24, body=body, form="cop", particles=100, **values)
    return row


def test_run_directory_layout(tmp_path):
    run = RunDirectory(tmp_path / "out")
    for d in ("checkpoints", "particles", "frames", "plots"):
        assert (tmp_path / "out" / d).is_dir()
    assert run.plots_png == tmp_path / "out" / "plots" / "metrics.png"
    assert run.particle_path(123) == tmp_path / "out" / "particles" / "frame_000123.ply"
    assert run.frame_path(7) == tmp_path / "out" / "frames" / "frame_000007.png"
    assert run.preview_mp4.name == "preview.mp4"


def test_metrics_append_and_truncate(tmp_path):
    run = RunDirectory(tmp_path)
    run.append_metrics([metrics_row(0), metrics_row(0, body="guard")])
    run.append_metrics([metrics_row(1, iou=1 / 3, glitch=True), metrics_row(2)])
    run.append_metrics([metrics_row(3)])
    with open(run.metrics_csv, newline="") as f:
        lines = f.read().splitlines()
    assert lines[0] == ",".join(METRIC_COLUMNS)  # the header is written once
    rows = list(csv.DictReader(lines))
    assert [r["frame"] for r in rows] == ["0", "0", "1", "2", "3"]
    assert rows[2]["iou"] == "0.333333333" and rows[2]["glitch"] == "1"
    assert rows[2]["time"] == "0.0416666667" and rows[2]["particles"] == "100"

    # A kill mid-append leaves a partial last line; a resume from frame 1 drops it and frames 2, 3.
    with open(run.metrics_csv, "a") as f:
        f.write("4,0.16,co")
    run.truncate_metrics_after(1)
    rows = list(csv.DictReader(run.metrics_csv.read_text().splitlines()))
    assert [(r["frame"], r["body"]) for r in rows] == [("0", "cop"), ("0", "guard"), ("1", "cop")]
    run.append_metrics([metrics_row(2)])
    assert run.metrics_csv.read_text().splitlines()[-1].startswith("2,")

    with pytest.raises(ValueError, match="missing columns \\['wall_s'\\]"):
        run.append_metrics([{k: v for k, v in metrics_row(5).items() if k != "wall_s"}])


def test_events_append_and_truncate(tmp_path):
    run = RunDirectory(tmp_path)
    run.append_event(0.25, "cop", "morph", "to guard, over 1 s")
    run.append_event(1 / 3, "cop", "impact", "bars")
    run.append_event(2.0, None, "explode", "")
    run.truncate_events_after(1 / 3)  # keeps the event at exactly 1/3 s
    rows = list(csv.reader(run.events_csv.read_text().splitlines()))
    assert rows == [
        ["time", "body", "event", "detail"],
        ["0.25", "cop", "morph", "to guard, over 1 s"],
        ["0.333333333", "cop", "impact", "bars"],
    ]


def test_run_json_merge_and_status(tmp_path):
    run = RunDirectory(tmp_path)
    run.write_run_json(device="cpu", seed=7)
    data = json.loads(run.run_json.read_text())
    for key in ("version", "device", "seed", "status", "error", "wall_time", "started", "finished"):
        assert key in data
    assert (data["device"], data["seed"], data["status"]) == ("cpu", 7, "running")
    assert data["error"] is None and data["finished"] is None

    run.mark_failed("NaN in particle velocities at frame 3")
    data = json.loads(run.run_json.read_text())
    assert (data["device"], data["seed"], data["status"]) == ("cpu", 7, "failed")
    assert data["error"].startswith("NaN") and data["finished"] is not None

    # A resumed session reopens the directory: start time is kept, wall time keeps growing.
    resumed = RunDirectory(tmp_path)
    data2 = resumed.write_run_json(status="running")
    assert data2["started"] == data["started"] and data2["wall_time"] >= data["wall_time"]
    assert data2["error"] is None and data2["finished"] is None
    done = resumed.write_run_json(status="complete", frames=48)
    assert done["frames"] == 48 and done["finished"] is not None and done["seed"] == 7
    with pytest.raises(ValueError, match="status"):
        resumed.write_run_json(status="done")


def test_clear_removes_only_the_outputs_of_an_earlier_run(tmp_path):
    run = RunDirectory(tmp_path)
    run.write_run_json(status="complete", wall_time=100.0)
    run.append_metrics([metrics_row(1)])
    run.append_event(0.0, "cop", "morph", "")
    write_ply(run.particle_path(1), **particles(3))
    save_checkpoint(checkpoint_path(run.checkpoints, 1), {"a": np.zeros(1)}, {})
    (run.frames / ".frame_000002.0badf00d.tmp.png").write_bytes(b"")  # a killed write
    (tmp_path / "notes.txt").write_text("the user's own file")
    fresh = RunDirectory(tmp_path)
    fresh.clear()
    left = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    assert left == ["notes.txt"]
    # The fresh run's wall time does not include the earlier run's 100 s.
    assert fresh.write_run_json()["wall_time"] < 100.0
