"""`polyalloy bench`: engine speed on the dam break, as a ratio to Taichi in the same run.

Each size runs in its own subprocess so peak memory is that size's alone: polyalloy's passive
liquid at ~30 k, ~260 k and ~1 M particles (the geometry of `polyalloy.taichi_reference`, which
both sides share), then the same algorithm in Taichi on its CPU backend. Speed is reported as
particle-substeps per second over whole frames after the first (the solver's own frame loop:
CFL substeps, active grid region); compile time is measured on the first size with an empty
Warp kernel cache.
"""

from __future__ import annotations

import atexit
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

from rich.console import Console
from rich.table import Table

def parse_sizes(text: str) -> list[int]:
    """'30k,260k,1M' → [30000, 260000, 1000000]."""
    sizes = []
    for item in text.split(","):
        item = item.strip().lower()
        scale = 1_000_000 if item.endswith("m") else 1_000 if item.endswith("k") else 1
        sizes.append(int(float(item.rstrip("km")) * scale))
    return sizes


def dam_break_scene(n_target: int) -> dict:
    """The reference dam break (see taichi_reference.make_dam_break) as a polyalloy scene dict."""
    from .taichi_reference import COLUMN_WIDTH, make_dam_break

    reference = make_dam_break(n_target)
    a = COLUMN_WIDTH
    lx, ly, lz = reference["domain"]
    return {
        "scene": {"name": "bench_dam_break", "duration": 1.0, "domain": [[0.0, 0.0, 0.0], [lx, ly, lz]], "cell": reference["dx"], "walls": "slip"},
        "forms": [{"name": "column", "shape": "box", "size": [a, 2 * a, a]}],
        "bodies": [{"name": "water", "material": "water", "form": "column", "position": [a / 2, 0.0, a / 2], "control": False}],
    }


def measure_polyalloy(n_target: int, substeps: int, fresh_cache: bool) -> dict:
    """Time `substeps` substeps of the passive liquid after a warm-up (run in its own process)."""
    import warp as wp

    if fresh_cache:
        # Removed when this benchmark process exits.
        cache = tempfile.TemporaryDirectory(prefix="polyalloy-bench-cache-")
        atexit.register(cache.cleanup)
        wp.config.kernel_cache_dir = cache.name
    wp.config.quiet = True
    from .scene import Scene
    from .simulation import Simulation

    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    sim = Simulation(Scene.from_dict(dam_break_scene(n_target)), device="cpu")
    # The first frame compiles (or loads) the kernels; it is timed apart from the rest.
    t0 = time.perf_counter()
    sim.step_frame()
    first_frame = time.perf_counter() - t0
    done, seconds = 0, 0.0
    while done < substeps:
        stats = sim.step_frame()
        done += stats.substeps
        seconds += stats.wall_s
    substeps = done
    n = sim.model.particle_count
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024.0
    return {
        "particles": n,
        "grid_nodes": sim.model.grid.node_count,
        "substeps": substeps,
        "seconds": seconds,
        "particle_substeps_per_s": n * substeps / seconds,
        "first_frame_s": first_frame,
        "peak_rss_bytes": peak,
        "bytes_per_particle": (peak - rss_before * 1024.0) / n,
    }


def _subprocess_json(command: list[str]) -> dict | str:
    """The JSON object on the last stdout line of `command`, or the error text."""
    result = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    if result.returncode != 0 or not lines:
        return (result.stderr.strip().splitlines() or ["no output"])[-1]
    return json.loads(lines[-1])


def run_benchmark(sizes_text: str, substeps: int, taichi_python: str) -> None:
    """Measure every size with polyalloy and Taichi; print a table and a JSON summary."""
    console = Console()
    rows = []
    for index, n in enumerate(parse_sizes(sizes_text)):
        steps = max(5, substeps if n <= 300_000 else substeps // 3)
        console.print(f"[bold]{n:,} particles[/]: polyalloy ({steps} substeps) …")
        ours = _subprocess_json([sys.executable, "-m", "polyalloy.bench", str(n), str(steps), "fresh" if index == 0 else "cached"])
        console.print(f"[bold]{n:,} particles[/]: Taichi ({steps} substeps) …")
        theirs = _subprocess_json([taichi_python, "-m", "polyalloy.taichi_reference", "--particles", str(n), "--substeps", str(steps)])
        rows.append((n, ours, theirs))
    table = Table("target", "particles", "polyalloy M p·substep/s", "B/particle", "first frame s", "Taichi M p·substep/s", "ratio")
    summary = []
    for n, ours, theirs in rows:
        ok = isinstance(ours, dict)
        ti_ok = isinstance(theirs, dict)
        ratio = ours["particle_substeps_per_s"] / theirs["particle_substeps_per_s"] if ok and ti_ok else None
        table.add_row(
            f"{n:,}",
            f"{ours['particles']:,}" if ok else "-",
            f"{ours['particle_substeps_per_s'] / 1e6:.2f}" if ok else f"failed: {ours}",
            f"{ours['bytes_per_particle']:.0f}" if ok else "-",
            f"{ours['first_frame_s']:.1f}" if ok else "-",
            f"{theirs['particle_substeps_per_s'] / 1e6:.2f}" if ti_ok else f"unavailable: {theirs}",
            f"{ratio:.2f}×" if ratio else "-",
        )
        summary.append({"target": n, "polyalloy": ours, "taichi": theirs, "ratio": ratio})
    console.print(table)
    console.print("first frame s: the first frame of the first size includes compiling every kernel (empty cache).")
    if any(not isinstance(t, dict) for _, _, t in rows):
        console.print("Taichi reference unavailable: install it for the benchmark with  pip install 'polyalloy[bench]'  (or pass --taichi-python).")
    print(json.dumps(summary))
    if not all(isinstance(ours, dict) for _, ours, _ in rows):
        raise SystemExit(1)


if __name__ == "__main__":
    print(json.dumps(measure_polyalloy(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "fresh")))
