"""Metric plots: the run's ``metrics.csv`` as a grid of curves against time, one line per body.

Drawn with matplotlib's object API on an Agg canvas (no global pyplot state, no display) and
written to a temporary name, then renamed (the run directory's atomic-write contract).
"""

from __future__ import annotations

import csv
import math
import os
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

# Column, panel title (with unit). Metric definitions live in polyalloy.metrics.
PLOTTED = (
    ("mass", "mass [kg]"),
    ("fragments", "fragments"),
    ("largest_fragment", "largest fragment [mass fraction]"),
    ("iou", "IoU with form"),
    ("authority", "authority"),
    ("glitch", "glitch"),
    ("temp_mean", "mean temperature [°C]"),
    ("frozen_fraction", "frozen fraction"),
    ("kinetic_energy", "kinetic energy [J]"),
    ("substeps", "substeps per frame"),
)


def _number(text: str) -> float:
    try:
        return float(text)
    except (TypeError, ValueError):
        return math.nan


def plot_metrics(metrics_csv: Path, out_png: Path) -> None:
    """Plot the columns of ``PLOTTED`` present in ``metrics_csv`` against ``time`` [s] into ``out_png``."""
    metrics_csv, out_png = Path(metrics_csv), Path(out_png)
    with metrics_csv.open(newline="") as f:
        reader = csv.DictReader(f)
        columns = reader.fieldnames or []
        rows = list(reader)
    if "time" not in columns or "body" not in columns:
        raise ValueError(f"{metrics_csv} lacks the 'time' or 'body' column; it has: {', '.join(columns)}")
    panels = [(c, title) for c, title in PLOTTED if c in columns]
    if not panels:
        raise ValueError(f"{metrics_csv} has none of the plotted columns: {', '.join(c for c, _ in PLOTTED)}")

    bodies: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        bodies.setdefault(row["body"], []).append(row)

    ncols = min(len(panels), 4)
    nrows = math.ceil(len(panels) / ncols)
    fig = Figure(figsize=(3.6 * ncols, 2.6 * nrows), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax, (column, title) in zip(axes, panels):
        for body, body_rows in bodies.items():
            ax.plot([_number(r["time"]) for r in body_rows], [_number(r[column]) for r in body_rows],
                    label=f"body {body}", linewidth=1.4)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("time [s]", fontsize=8)
        ax.tick_params(labelsize=8)
        ax.grid(alpha=0.3)
    for ax in axes[len(panels):]:
        ax.set_visible(False)
    if bodies:
        axes[0].legend(fontsize=8)
    fig.suptitle(metrics_csv.parent.name or "metrics", fontsize=11)

    out_png.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_png.with_name(f".{out_png.stem}.{os.getpid()}.tmp.png")
    try:
        fig.savefig(tmp, format="png")
        os.replace(tmp, out_png)
    finally:
        tmp.unlink(missing_ok=True)
