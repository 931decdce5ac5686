"""`polyalloy demo` end to end: the steel mill at draft quality, into a scratch run directory.

Budget (issue 4): <= 5 minutes on a 2-core CPU. Prints the wall time of the whole run (video
included), of the substeps alone, the substep count and each stage's figure from metrics.csv.
Kernels are compiled (or loaded from Warp's cache) before the clock starts.

    python benchmarks/bench_demo.py [--device cpu|cuda] [--keep DIR] [--seed N]
"""

from __future__ import annotations

import argparse
import csv
import math
import tempfile
import time
from pathlib import Path

import numpy as np
import warp as wp

from polyalloy import metrics
from polyalloy.cli import DEMO_SCENE, bundled_scenes
from polyalloy.io.ply import read_ply
from polyalloy.runner import run_simulation
from polyalloy.scene import Scene, load_scene
from polyalloy.scene.build import build_colliders
from polyalloy.simulation import Simulation
from polyalloy.solver import kernels
from polyalloy.solver.colliders import ColliderData


def pieces_below_knees(run: Path, frame: int, knee: float, spacing: float) -> int:
    """T1: frozen pieces of t1000 (body 0) in `frame`, other than the largest, whose particles
    all stood below `knee` [m] in the first frame: his legs snapped at ankle and knee. (A PLY
    holds present particles in model order; none of his has gone yet.)"""
    first, now = (read_ply(run / "particles" / f"frame_{f:06d}.ply") for f in (1, frame))
    first_y = first["y"][first["body"] == 0]
    body = now["body"] == 0
    frozen = now["phase"][body] < 0.5
    if np.count_nonzero(frozen) < metrics.MIN_PIECE_PARTICLES:
        return 0
    labels = metrics.piece_labels(np.stack([now["x"], now["y"], now["z"]], axis=1)[body][frozen], spacing)
    sizes = np.bincount(labels)
    below = np.bincount(labels, weights=first_y[frozen] < knee) == sizes
    pieces = (sizes >= metrics.MIN_PIECE_PARTICLES) & below
    pieces[np.argmax(sizes)] = False
    return int(np.count_nonzero(pieces))


def last_row_before(body: list[dict[str, str]], time_s: float) -> int:
    """Index of t1000's last metrics row (one per frame, at the frame's end) at or before `time_s` [s]."""
    return max(i for i, r in enumerate(body) if float(r["time"]) <= time_s + 1e-6)


def standing_window(run: Path) -> tuple[float, float] | None:
    """(start, end) [s] of t1000 standing at rest after re-forming: from the frame after his
    `reformed` event to his next move or the next shot at him; None if he never re-formed."""
    with (run / "events.csv").open(newline="") as f:
        events = [e for e in csv.DictReader(f) if e["body"] == "t1000"]
    reformed = next((float(e["time"]) for e in events if e["event"] == "reformed"), None)
    if reformed is None:
        return None
    ends = [float(e["time"]) for e in events if e["event"] in ("move", "impact", "grenade") and float(e["time"]) > reformed]
    return reformed, min(ends, default=math.inf)


def rail_imprint(run: Path, rail: wp.array, device: str, walk_frame: int, end_frame: int, fps: float) -> str:
    """T5: the rail's colours on t1000's hand. His metal within RAIL_TOUCH of the collider
    `rail` (a one-element ColliderData array) in any frame after `walk_frame` (he stands still
    before it) up to `end_frame` is the hand that touched it; its colour change from `walk_frame`
    (RGB in [0, 1], summed, mean over that metal) is given where it leaves the rail and 1 s
    later, beside the rest of him 1 s later (the static alone)."""
    frames = {}
    for f in range(walk_frame, end_frame + 1):
        ply = read_ply(run / "particles" / f"frame_{f:06d}.ply")
        body = ply["body"] == 0
        points = np.stack([ply["x"], ply["y"], ply["z"]], axis=1)[body]
        frames[f] = points, np.stack([ply["red"], ply["green"], ply["blue"]], axis=1)[body] / 255.0  # 8-bit colours
    before = frames[walk_frame][1]
    touched = np.zeros(len(before), dtype=bool)
    left = None
    for f in range(walk_frame + 1, end_frame + 1):
        points = frames[f][0]
        if len(points) != len(before):
            # A PLY holds the particles present, in model order: once some have gone, rows no
            # longer name the same particle from frame to frame.
            return f"some of him gone at {f / fps:.1f} s: not measured"
        touching = kernels.solid_distances(points, rail, device) < RAIL_TOUCH
        if touching.any():
            touched |= touching
            left = None
        elif touched.any() and left is None:
            left = f
    if not touched.any():
        return "never touched it"
    if left is None:
        return "still on it"
    if left + round(fps) > end_frame:
        return f"left it at {left / fps:.1f} s, under 1 s before the end of the walk"
    later = left + round(fps)
    change = {f: np.abs(frames[f][1] - before).sum(axis=1) for f in (left, later)}
    return (f"{np.count_nonzero(touched)} particles, left at {left / fps:.1f} s: {change[left][touched].mean():.2f} then, "
            f"{change[later][touched].mean():.2f} 1 s later (the rest of him {change[later][~touched].mean():.2f})")


RAIL_TOUCH = 0.03
"""Metal this close to the rail touches it [m] (half a draft cell)."""


AT_REST_ENERGY = 0.1
"""He stands at rest below this kinetic energy [J]: 2 cm/s rms over his 437 kg. The rows between
`reformed` and it are his last settling (0.82 at 12.1 s with 0.5 J, seed 11)."""


def stage_figures(rows: list[dict[str, str]], shot_at: float, slugs_at: float,
                  standing: tuple[float, float] | None) -> dict[str, str]:
    """The mill's stage figures from the rows of its metrics.csv; the pistol round strikes at
    `shot_at` [s] (T1 is measured just before), the slugs from `slugs_at` [s] on (T4's re-formed
    man is measured before), and he stands at rest over `standing` (start, end) [s]."""
    body = [r for r in rows if r["body"] == "t1000"]

    def value(row: dict, key: str) -> float:
        return float(row[key])

    shattered = last_row_before(body, shot_at) + 1
    before = body[shattered - 1]
    nitrogen: dict[str, float] = {}
    for r in rows:
        if r["body"] in ("flood", "rupture"):
            nitrogen[r["time"]] = nitrogen.get(r["time"], 0.0) + value(r, "mass")
    boiled = next((t for t in sorted(nitrogen, key=float) if float(t) > 1.0 and nitrogen[t] == 0.0), "never")
    apart = next((i for i in range(shattered, len(body)) if value(body[i], "largest_fragment") < 0.95), len(body))
    fused = next((i for i in range(apart, len(body)) if value(body[i], "largest_fragment") >= 0.95), None)
    reformed = [value(r, "iou") for r in body[fused:] if value(r, "time") < slugs_at] if fused is not None else []
    at_rest = [
        value(r, "iou") for r in body
        if standing and standing[0] < value(r, "time") - 1e-6 and value(r, "time") <= standing[1] + 1e-6
        and value(r, "kinetic_energy") < AT_REST_ENERGY
    ]
    throes: dict[str, float] = {}
    for r in body:
        if "×" in r["form"]:
            name = r["form"].split("×")[0]
            throes[name] = max(throes.get(name, 0.0), value(r, "iou"))
    initial = value(body[0], "mass")
    dissolved = next((r["time"] for r in body if value(r, "dissolved_mass") >= 0.99 * initial), "never")
    return {
        "T1 frozen / authority / kinetic energy [J] before the shot":
            f"{value(before, 'frozen_fraction'):.3f} / {value(before, 'authority'):.3f} / {value(before, 'kinetic_energy'):.2f} at {before['time']} s",
        "T2 solid pieces (most)": str(max(int(r["solid_pieces"]) for r in body)),
        "T3 nitrogen all boiled at [s]": boiled,
        "T4 95 % in one piece at [s]": body[fused]["time"] if fused is not None else "never",
        f"T4 IoU standing at rest (KE < {AT_REST_ENERGY} J) after re-forming (min-max)": f"{min(at_rest):.2f}-{max(at_rest):.2f}" if at_rest else "never",
        "T4 best IoU re-formed, before the slugs": f"{max(reformed):.2f}" if reformed else "never",
        "T6 best IoU per form in the throes": ", ".join(f"{k} {v:.2f}" for k, v in throes.items()),
        "T6 99 % dissolved at [s]": dissolved,
        "A1 largest |lost mass| [kg]": f"{max(abs(value(r, 'lost_mass')) for r in rows):.1e}",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--keep", type=Path, help="run directory to keep (default: a scratch one)")
    parser.add_argument("--seed", type=int, help="the scene's seed instead of its own (the particles' jitter)")
    args = parser.parse_args()

    scene = load_scene(bundled_scenes()[DEMO_SCENE]).with_quality("draft")
    if args.seed is not None:
        data = scene.model_dump()
        data["scene"]["seed"] = args.seed
        scene = Scene.model_validate(data)
    with tempfile.TemporaryDirectory() as scratch:
        out = args.keep or Path(scratch) / "demo"
        with Simulation(scene, args.device) as warm_up:
            warm_up.step_frame()  # compiles or loads every kernel of the step
        with Simulation(scene, args.device) as sim:
            start = time.perf_counter()
            run_simulation(sim, out, progress=False)
            wall = time.perf_counter() - start
        with (out / "metrics.csv").open(newline="") as f:
            rows = list(csv.DictReader(f))
        body = [r for r in rows if r["body"] == "t1000"]
        substep_wall = sum(float(r["wall_s"]) for r in body)
        substeps = sum(int(r["substeps"]) for r in body)
        print(f"{DEMO_SCENE} at draft: {len(body)} frames, {sim.model.particle_count} particles, cell {scene.scene.cell} m")
        print(f"wall {wall:.0f} s in all (budget 300 s), {substep_wall:.0f} s in {substeps} substeps "
              f"({1000.0 * substep_wall / substeps:.1f} ms each)")
        impacts = sorted(event.at for event in scene.events if event.do == "impact")
        shot_at, slugs_at = impacts[0], impacts[1]
        for name, figure in stage_figures(rows, shot_at, slugs_at, standing_window(out)).items():
            print(f"  {name}: {figure}")
        before_shot = int(body[last_row_before(body, shot_at)]["frame"])
        t1000 = sim.model.bodies[0]
        knee = sim.forms["cop"].joints["knee_l"][1] + scene.bodies[0].position[1]
        print(f"  T1 solid pieces broken off below the knees before the shot: {pieces_below_knees(out, before_shot, knee, t1000.spacing)}")
        colliders = build_colliders(scene, args.device)[0]
        rail_index = [c.name for c in scene.all_colliders()].index("rail")
        rail = wp.array([colliders[rail_index]], dtype=ColliderData, device=args.device)
        walk_at = min(event.at for event in scene.events if event.do == "move" and event.at > shot_at)
        grenade_at = min(event.at for event in scene.events if event.do == "grenade")
        fps = scene.scene.fps
        imprint = rail_imprint(out, rail, args.device, round(walk_at * fps), round(grenade_at * fps), fps)
        print(f"  T5 the rail's colours on his hand (RGB change): {imprint}")


if __name__ == "__main__":
    main()
