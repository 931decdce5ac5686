"""Run a Simulation into a run directory: metrics, particles, frames, checkpoints, video, plots.

The loop writes each frame's outputs as it goes, checkpoints periodically and at the end, and
can resume from the latest checkpoint after a kill: a resumed run ends exactly where an
uninterrupted one would (the state is restored bit for bit and nothing in a step is random).
A blow-up stops the run with a clear error in run.json; the last good checkpoint stays.
"""

from __future__ import annotations

import time as wallclock
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import imageio.v3 as iio
import numpy as np
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from .io import RunDirectory, checkpoint_path, latest_checkpoint, load_checkpoint, prune_checkpoints, save_checkpoint, write_ply
from .io.atomic import atomic_path
from .render import Camera, PreviewRenderer, plot_metrics, write_video
from .simulation import Simulation
from .solver import NonFiniteStateError
from .state import PRESENT

CHECKPOINT_EVERY_S = 30.0
"""Wall-clock seconds between periodic checkpoints."""

PROGRESS_LINE_EVERY_S = 30.0
"""Wall-clock seconds between progress lines when the output is not a terminal (a log file, a
CI job): the bar cannot redraw there, and a final-quality run takes hours."""


class RunFailed(RuntimeError):
    """The simulation could not finish (a blow-up, an output that could not be written);
    run.json holds the error."""


class CheckpointMismatch(ValueError):
    """--resume found a checkpoint of another scene or quality (bad input)."""


def default_camera(sim: Simulation) -> Camera:
    """A camera that frames the domain from the front (+z), slightly above, looking at its centre."""
    lo, hi = sim.model.domain_lo, sim.model.domain_hi
    extent = hi - lo
    target = np.array([(lo[0] + hi[0]) / 2, lo[1] + 0.35 * extent[1], (lo[2] + hi[2]) / 2])
    reach = max(extent[0], extent[1]) * 1.25 + extent[2] / 2
    eye = target + np.array([0.0, 0.35 * reach, reach])
    return Camera(eye=tuple(eye), target=tuple(target), fov=40.0)


def make_renderer(sim: Simulation) -> PreviewRenderer:
    """The preview renderer for a simulation's scene (camera, size, colliders, floor)."""
    render = sim.scene.render
    camera = default_camera(sim)
    if render.camera is not None:
        camera = Camera(eye=tuple(render.camera.eye), target=tuple(render.camera.target), fov=render.camera.fov)
    return PreviewRenderer(
        camera,
        size=tuple(render.size),
        # A sphere of one particle spacing closes the surface between neighbours.
        particle_radius=render.particle_radius or min(b.spacing for b in sim.model.bodies),
        device=sim.device,
        floor_y=float(sim.model.domain_lo[1]),
        colliders=_collider_dicts(sim),
    )


POOL_GLOW = (0.9, 0.25, 0.03)
"""Colour the preview gives a bath's surface (molten steel's orange heat)."""


def _collider_dicts(sim: Simulation) -> list[dict]:
    """Collider tables as the renderer draws them, at their pose at the current time, and each
    pool that is on as a box of its bath (analytic, it has no particles to draw)."""
    tables = []
    for spec, motion in zip(sim.scene.all_colliders(), sim.model.collider_motions):
        table = spec.model_dump()
        if motion is not None:
            origin = np.asarray(motion(sim.time)[0])
            # A plane's motion moves position + point; the renderer adds `point` itself.
            table["position"] = list(origin - np.asarray(table.get("point", (0.0, 0.0, 0.0))))
        tables.append(table)
    for pool in sim.scene.pools:
        if pool.start <= sim.time < (np.inf if pool.stop is None else pool.stop):
            lo, hi = np.asarray(pool.region.lo), np.asarray(pool.region.hi)
            tables.append({"shape": "box", "position": [0.5 * (lo[0] + hi[0]), lo[1], 0.5 * (lo[2] + hi[2])],
                           "size": list(hi - lo), "surface": {"pattern": "solid", "colors": [POOL_GLOW]}})
    return tables


def _render_every(sim: Simulation) -> int:
    return sim.scene.render.every


def run_simulation(
    sim: Simulation,
    out: Path,
    frames: int | None = None,
    resume: bool = False,
    video: bool = True,
    progress: bool = True,
) -> Path:
    """Run `sim` for `frames` frames (default: the scene's duration) into the run directory `out`.

    Raises CheckpointMismatch when `resume` finds a checkpoint of another scene, and RunFailed
    (with run.json marked failed) when the run cannot finish; a KeyboardInterrupt is recorded
    as failed too, with the hint that --resume continues.
    """
    run = RunDirectory(out)
    total = sim.frame_count if frames is None else min(frames, sim.frame_count)
    if resume and (latest := latest_checkpoint(run.checkpoints)) is not None:
        arrays, meta = load_checkpoint(latest)
        try:
            sim.restore(arrays, meta)
        except ValueError as error:
            raise CheckpointMismatch(f"--resume: {latest}: {error}") from None
        run.truncate_metrics_after(sim.frame)
        run.truncate_events_after(sim.time)
        run.write_run_json(status="running")
        run.append_event(sim.time, None, "resume", f"resumed from checkpoint {latest.name}")
    else:
        _start_fresh(sim, run)
    run.write_run_json(
        status="running", device=sim.device, seed=sim.scene.scene.seed, scene=sim.scene.scene.name, frames=total,
        particles=sim.model.particle_count, lanes=sim.solver.lanes,
        collider_temperatures={spec.name: t for spec, t in zip(sim.scene.all_colliders(), sim.model.collider_temperatures)},
    )
    try:
        _frames(sim, run, total, video, progress)
        if video:
            write_video(run.frames, run.preview_mp4, fps=sim.scene.scene.fps / _render_every(sim))
        plot_metrics(run.metrics_csv, run.plots_png)
    except NonFiniteStateError as error:
        message = f"frame {sim.frame + 1}: {error}; the last good checkpoint is in {run.checkpoints}"
        run.mark_failed(message)
        raise RunFailed(message) from error
    except KeyboardInterrupt:
        run.mark_failed(f"interrupted at frame {sim.frame}; run again with --resume to continue")
        raise
    except Exception as error:
        message = f"frame {sim.frame}: {type(error).__name__}: {error}"
        run.mark_failed(message)
        raise RunFailed(message) from error
    run.write_run_json(status="complete", frames_done=sim.frame)
    return run.root


class _FrameWriter:
    """Writes each frame's particles and image on a thread of its own while the next frame is
    simulated (drawing and encoding cost a third of a draft frame). At most one frame is in
    hand; `wait` re-raises what went wrong in it."""

    def __init__(self, run: RunDirectory, renderer: PreviewRenderer | None):
        self._run = run
        self._renderer = renderer
        self._pool = ThreadPoolExecutor(max_workers=1)
        self._pending: Future | None = None

    def submit(self, frame: int, data: dict[str, np.ndarray], draw: bool, colliders: list[dict] | None) -> None:
        self.wait()
        self._pending = self._pool.submit(self._write, frame, data, draw, colliders)

    def _write(self, frame: int, data: dict[str, np.ndarray], draw: bool, colliders: list[dict] | None) -> None:
        _write_particles(self._run, frame, data)
        if self._renderer is None or not draw:
            return
        if colliders is not None:
            self._renderer.set_colliders(colliders)
        image = self._renderer.render(data["x"], data["color"], data["phase"])
        with atomic_path(self._run.frame_path(frame)) as temp:
            iio.imwrite(temp, image, extension=".png", compress_level=1)

    def wait(self) -> None:
        if self._pending is not None:
            pending, self._pending = self._pending, None
            pending.result()

    def close(self) -> None:
        self._pool.shutdown(wait=True)


def _frames(sim: Simulation, run: RunDirectory, total: int, video: bool, progress: bool) -> None:
    """Advance to frame `total`, writing each frame's metrics, particles and image as it goes."""
    writer = _FrameWriter(run, make_renderer(sim) if video else None)
    every = _render_every(sim)
    last_checkpoint = wallclock.monotonic()
    columns = (TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("frame {task.completed}/{task.total}"),
               TextColumn("t={task.fields[sim_time]:.3f} s"), TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn())
    try:
        with Progress(*columns, disable=not progress, transient=False) as bar:
            task = bar.add_task(sim.scene.scene.name, total=total, completed=sim.frame, sim_time=sim.time, rate="")
            lines = _ProgressLines(sim.scene.scene.name, sim.frame, total) if progress and not bar.console.is_terminal else None
            while sim.frame < total:
                stats = sim.step_frame()
                for event in sim.applied_events:
                    run.append_event(event.time, event.body, event.kind, event.detail)
                data = sim.particles()
                run.append_metrics(sim.metrics_rows(data))
                # Particles that have left the simulation (boiled off) are neither written nor drawn.
                present = data["status"] == PRESENT
                data = {key: value[present] for key, value in data.items()}
                draw = video and sim.frame % every == 0
                moved = draw and (sim.control.has_moving_colliders or bool(sim.scene.pools))
                writer.submit(sim.frame, data, draw, _collider_dicts(sim) if moved else None)
                rate = sim.model.particle_count * stats.substeps / max(stats.wall_s, 1e-9)
                bar.update(task, completed=sim.frame, sim_time=sim.time, rate=f"{stats.substeps} substeps, {rate / 1e6:.2f} M p·substep/s")
                if lines is not None and (line := lines.due(sim.frame, sim.time)):
                    bar.console.print(line, highlight=False)
                if wallclock.monotonic() - last_checkpoint > CHECKPOINT_EVERY_S or sim.frame == total:
                    # A checkpoint promises every frame before it is on disk.
                    writer.wait()
                    _checkpoint(sim, run)
                    last_checkpoint = wallclock.monotonic()
            writer.wait()
    finally:
        writer.close()


class _ProgressLines:
    """Plain progress lines for output that is not a terminal: the frame, the simulated time,
    the wall time a frame takes and the time left, at most every PROGRESS_LINE_EVERY_S and on
    the last frame."""

    def __init__(self, name: str, first_frame: int, total: int):
        self._name = name
        self._first_frame = first_frame
        self._total = total
        self._started = wallclock.monotonic()
        self._last_line = self._started

    def due(self, frame: int, sim_time: float) -> str | None:
        """The line to print after `frame` at `sim_time` [s], or None if it is not yet due."""
        now = wallclock.monotonic()
        if now - self._last_line < PROGRESS_LINE_EVERY_S and frame < self._total:
            return None
        self._last_line = now
        per_frame = (now - self._started) / max(frame - self._first_frame, 1)
        left = per_frame * (self._total - frame)
        return (f"{self._name}: frame {frame}/{self._total}, t = {sim_time:.3f} s, {per_frame:.1f} s a frame, "
                f"{_duration(left)} left")


def _duration(seconds: float) -> str:
    """`seconds` as "1 h 05 min", "12 min 30 s" or "42 s"."""
    seconds = int(round(seconds))
    if seconds >= 3600:
        return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"
    if seconds >= 60:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds} s"


def _start_fresh(sim: Simulation, run: RunDirectory) -> None:
    """Clear outputs of an earlier run in the same directory and write the resolved scene."""
    run.clear()
    run.write_run_json(status="running", device=sim.device, seed=sim.scene.scene.seed)
    with atomic_path(run.scene_toml) as temp:
        temp.write_text(sim.scene.to_toml(), encoding="utf-8")
    for body in sim.model.bodies:
        count = body.particle_slice.stop - body.particle_slice.start
        run.append_event(0.0, body.name, "spawn", f"{count} particles of {body.material.name} as form {body.form_name!r}")
    _checkpoint(sim, run)


def _checkpoint(sim: Simulation, run: RunDirectory) -> None:
    arrays, meta = sim.checkpoint_arrays()
    save_checkpoint(checkpoint_path(run.checkpoints, sim.frame), arrays, meta)
    prune_checkpoints(run.checkpoints, keep=2)


def _write_particles(run: RunDirectory, frame: int, data: dict[str, np.ndarray]) -> None:
    colors = np.clip(np.rint(data["color"] * 255.0), 0, 255).astype(np.uint8)
    write_ply(run.particle_path(frame), data["x"], data["v"], colors, data["temperature"], data["phase"], data["body"])
