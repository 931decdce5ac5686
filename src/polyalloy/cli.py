"""The `polyalloy` command line: run, demo, scenes, validate, materials, bench.

Exit codes (DESIGN.md): 0 success, 2 bad input (scene, mesh, flag), 1 a run that failed.
"""

from __future__ import annotations

import json
import sys
from enum import Enum
from importlib import resources
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from .materials import MATERIALS

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    # Plain help text: rich markup would swallow the "[quality.draft]" and "[default: ...]" in it.
    rich_markup_mode=None,
    help="Simulate shape-shifting liquid metal (MLS-MPM on NVIDIA Warp).",
)
console = Console(stderr=True)

DEMO_SCENE = "steel_mill"
"""The bundled scene `polyalloy demo` runs: the film's climax, end to end (A2)."""

EXIT_BAD_INPUT = 2
EXIT_RUN_FAILED = 1


class Device(str, Enum):
    cpu = "cpu"
    cuda = "cuda"


class Quality(str, Enum):
    draft = "draft"
    final = "final"


def bundled_scenes() -> dict[str, Path]:
    """Bundled scene files by name (file stem)."""
    folder = resources.files("polyalloy") / "scenes"
    return {Path(str(p)).stem: Path(str(p)) for p in folder.iterdir() if str(p).endswith(".toml")}


def resolve_scene_path(scene: str) -> Path:
    """A scene argument as a path: an existing file, or the name of a bundled scene."""
    path = Path(scene)
    if path.exists():
        return path
    bundled = bundled_scenes()
    if scene in bundled:
        return bundled[scene]
    console.print(f"[red]error:[/] scene {scene!r}: no such file, and no bundled scene has that name; bundled scenes: {', '.join(sorted(bundled))}")
    raise typer.Exit(EXIT_BAD_INPUT)


def _load(scene_path: Path, quality: Quality | None, out: Path | None = None):
    """The validated scene; on bad input print every error, mark `out` failed, exit 2."""
    from .scene import Scene, SceneError

    try:
        scene = Scene.load(scene_path)
        return scene.with_quality(quality.value) if quality is not None else scene
    except SceneError as error:
        _refuse(error, out)


def _refuse(error: Exception, out: Path | None):
    """Report bad input and exit 2; a run directory asked for records the failure in run.json."""
    from .io import RunDirectory

    # Plain print: rich would wrap long lines and split key paths and file names.
    print(str(error), file=sys.stderr)
    if out is not None:
        RunDirectory(out).mark_failed(str(error))
    raise typer.Exit(EXIT_BAD_INPUT) from None


def _check_device(device: Device) -> str:
    import warp as wp

    # The progress bar says what is happening; Warp's banner and per-module load lines would not.
    wp.config.quiet = True
    wp.config.log_level = wp.LOG_WARNING
    wp.init()
    if device is Device.cuda and not wp.is_cuda_available():
        console.print("[red]error:[/] --device cuda: no CUDA device on this machine; use --device cpu")
        raise typer.Exit(EXIT_BAD_INPUT)
    return device.value


def _run(scene_path: Path, out: Path | None, device: Device, quality: Quality | None, frames: int | None, resume: bool, video: bool) -> Path:
    from .runner import CheckpointMismatch, RunFailed
    from .scene import SceneError
    from .simulation import Simulation

    scene = _load(scene_path, quality, out)
    out = out or Path("runs") / scene.scene.name
    device_name = _check_device(device)
    try:
        sim = Simulation(scene, device=device_name)
    except SceneError as error:
        _refuse(error, out)
    console.print(f"{scene.scene.name}: {sim.model.particle_count:,} particles, grid {sim.model.grid.shape}, {sim.frame_count} frames -> {out}")
    try:
        with sim:
            root = sim.run(out, frames=frames, resume=resume, video=video, progress=True)
    except CheckpointMismatch as error:
        print(f"error: {error}", file=sys.stderr)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    except RunFailed as error:
        console.print(f"[red]run failed:[/] {error}")
        raise typer.Exit(EXIT_RUN_FAILED) from None
    console.print(f"[green]done:[/] {root}")
    return root


@app.command()
def run(
    scene: str = typer.Argument(..., help="Scene file (TOML) or the name of a bundled scene."),
    out: Path = typer.Option(None, "--out", help="Run directory [default: runs/<scene name>]."),
    device: Device = typer.Option(Device.cpu, "--device", help="Warp device."),
    quality: Quality = typer.Option(None, "--quality", help="Apply the scene's [quality.draft] or [quality.final] overrides."),
    frames: int = typer.Option(None, "--frames", min=1, help="Stop after this many frames."),
    resume: bool = typer.Option(False, "--resume", help="Continue from the run directory's latest checkpoint."),
    no_video: bool = typer.Option(False, "--no-video", help="Skip frames and preview.mp4."),
) -> None:
    """Simulate a scene into a run directory."""
    _run(resolve_scene_path(scene), out, device, quality, frames, resume, not no_video)


@app.command()
def demo(
    out: Path = typer.Option(Path("runs/demo"), "--out", help="Run directory."),
    device: Device = typer.Option(Device.cpu, "--device", help="Warp device."),
) -> None:
    """Run the bundled demo scene at draft quality."""
    _run(bundled_scenes()[DEMO_SCENE], out, device, Quality.draft, None, False, True)


@app.command()
def scenes() -> None:
    """List the bundled scenes."""
    table = Table("scene", "description")
    for name, path in sorted(bundled_scenes().items()):
        first = path.read_text(encoding="utf-8").splitlines()[0].lstrip("# ").strip()
        table.add_row(name, first)
    Console().print(table)


@app.command()
def validate(
    scene: str = typer.Argument(..., help="Scene file (TOML) or the name of a bundled scene."),
    quality: Quality = typer.Option(None, "--quality", help="Check it with the scene's [quality.draft] or [quality.final] overrides."),
) -> None:
    """Check a scene file (schema, references, forms, meshes, particles in the domain, bodies inside
    one another or a solid) without simulating. Particles are sampled at the cell the run would
    use, so check each quality you will run."""
    from .scene import SceneError
    from .scene.build import build_scene

    path = resolve_scene_path(scene)
    loaded = _load(path, quality)
    _check_device(Device.cpu)
    try:
        built = build_scene(loaded, "cpu")
    except SceneError as error:
        _refuse(error, None)
    model = built.model
    Console().print(
        f"{path}: ok — {len(loaded.bodies)} bodies ({model.particle_count:,} particles), {len(loaded.forms)} forms, "
        f"{len(loaded.colliders)} colliders, grid {model.grid.shape} at {model.grid.dx} m"
    )


@app.command()
def materials(as_json: bool = typer.Option(False, "--json", help="Print JSON: preset name → SI properties.")) -> None:
    """List the material presets and their SI properties."""
    if as_json:
        print(json.dumps({name: m.to_json() for name, m in MATERIALS.items()}, indent=2))
        return
    table = Table("material", "model", "ρ kg/m³", "K Pa", "G Pa", "melt °C", "boil °C", "description")
    for name, m in MATERIALS.items():
        table.add_row(name, m.constitutive.name.lower(), f"{m.density:g}", f"{m.bulk_modulus:.3g}", f"{m.shear_modulus:.3g}",
                      f"{m.melting_point:g}", f"{m.boiling_point:g}", m.description)
    Console().print(table)


@app.command()
def bench(
    sizes: str = typer.Option("30k,260k,1M", "--sizes", help="Comma-separated particle counts (k and M suffixes)."),
    substeps: int = typer.Option(150, "--substeps", min=1, help="Timed substeps per size (a third of them above 300 k particles)."),
    taichi_python: str = typer.Option(None, "--taichi-python", help="Python with taichi installed, for the reference [default: this one]."),
) -> None:
    """Speed of the passive liquid (dam break) in particle-substeps/s, with Taichi as the reference."""
    from .bench import run_benchmark

    run_benchmark(sizes, substeps, taichi_python or sys.executable)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
