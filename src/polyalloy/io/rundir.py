"""The run directory: everything ``polyalloy run SCENE --out DIR`` leaves behind.

Layout (DESIGN.md, "Run directory (contract)")::

    DIR/scene.toml          the scene as resolved
    DIR/run.json            version, device, seed, status, error, wall time, timestamps
    DIR/metrics.csv         one row per frame per body, columns metrics.METRIC_COLUMNS
    DIR/events.csv          time,body,event,detail
    DIR/checkpoints/        frame_000123.npz (see io.checkpoint)
    DIR/particles/          frame_000123.ply (see io.ply)
    DIR/frames/             frame_000123.png
    DIR/preview.mp4
    DIR/plots/metrics.png

Whole files (``run.json``, rewritten CSVs) are replaced atomically. The CSVs grow by
appending whole rows; a row cut short by a kill is dropped when a resumed run truncates the
CSVs back to its checkpoint (:meth:`RunDirectory.truncate_metrics_after`,
:meth:`RunDirectory.truncate_events_after`).
"""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from ..metrics import METRIC_COLUMNS
from .atomic import atomic_write_text
from .checkpoint import json_default

EVENT_COLUMNS: tuple[str, ...] = ("time", "body", "event", "detail")
"""Columns of ``events.csv``: time [s], body name, event kind, free-text detail."""

RUN_STATUSES = ("running", "complete", "failed")
"""Values of ``status`` in ``run.json``."""

_FLOAT_FORMAT = "%.9g"  # 9 significant digits round-trip float32 exactly


def _package_version() -> str:
    try:
        from polyalloy import __version__

        return __version__
    except ImportError:
        return "0.1.0"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _cell(value: Any) -> Any:
    """One CSV cell: floats at 9 significant digits, booleans as 0/1, None as empty."""
    if value is None:
        return ""
    if isinstance(value, (bool, int, np.bool_, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return _FLOAT_FORMAT % value
    return value


def _csv_line(values: Iterable[Any]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow([_cell(v) for v in values])
    return buffer.getvalue()


class RunDirectory:
    """Paths and writers of one run directory.

    Args:
        root: The run directory; it and its subdirectories are created if missing.
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        for directory in (self.root, self.checkpoints, self.particles, self.frames, self.plots):
            directory.mkdir(parents=True, exist_ok=True)
        # Wall time accumulates across resumed sessions: what run.json held when this
        # session opened the directory, plus this session's elapsed time.
        self._opened = time.monotonic()
        self._wall_before = float(self.read_run_json().get("wall_time") or 0.0)

    # Paths ------------------------------------------------------------------------------

    @property
    def scene_toml(self) -> Path:
        return self.root / "scene.toml"

    @property
    def run_json(self) -> Path:
        return self.root / "run.json"

    @property
    def metrics_csv(self) -> Path:
        return self.root / "metrics.csv"

    @property
    def events_csv(self) -> Path:
        return self.root / "events.csv"

    @property
    def checkpoints(self) -> Path:
        return self.root / "checkpoints"

    @property
    def particles(self) -> Path:
        return self.root / "particles"

    @property
    def frames(self) -> Path:
        return self.root / "frames"

    @property
    def plots(self) -> Path:
        return self.root / "plots"

    @property
    def preview_mp4(self) -> Path:
        return self.root / "preview.mp4"

    @property
    def plots_png(self) -> Path:
        return self.plots / "metrics.png"

    def particle_path(self, frame: int) -> Path:
        """``particles/frame_000123.ply``: the particles at the end of ``frame``."""
        return self.particles / f"frame_{frame:06d}.ply"

    def frame_path(self, frame: int) -> Path:
        """``frames/frame_000123.png``: the preview image of ``frame``."""
        return self.frames / f"frame_{frame:06d}.png"

    def clear(self) -> None:
        """Delete the outputs of an earlier run here, before a fresh (not resumed) run.

        Only files this layout names are removed (and temporaries of interrupted atomic
        writes), never anything else a user keeps in the directory. The wall-time clock
        restarts at 0.
        """
        for path in (
            self.scene_toml,
            self.run_json,
            self.metrics_csv,
            self.events_csv,
            self.preview_mp4,
            self.plots_png,
            self.root / "scene.usd",
        ):
            path.unlink(missing_ok=True)
        for directory, pattern in (
            (self.checkpoints, "frame_*.npz"),
            (self.particles, "frame_*.ply"),
            (self.frames, "frame_*.png"),
        ):
            for path in directory.glob(pattern):
                path.unlink()
        for directory in (self.root, self.checkpoints, self.particles, self.frames, self.plots):
            for path in directory.glob(".*.tmp*"):
                path.unlink()
        self._opened = time.monotonic()
        self._wall_before = 0.0

    # run.json ---------------------------------------------------------------------------

    def read_run_json(self) -> dict[str, Any]:
        """The contents of ``run.json``, or an empty dict before it is first written."""
        if not self.run_json.exists():
            return {}
        return json.loads(self.run_json.read_text(encoding="utf-8"))

    def write_run_json(self, **fields: Any) -> dict[str, Any]:
        """Merge ``fields`` into ``run.json`` and rewrite it atomically.

        The file always has ``version``, ``device``, ``seed``, ``status`` (running, complete or
        failed), ``error`` (None or the message), ``wall_time`` [s], ``started`` and
        ``finished`` (ISO 8601, UTC). Unless given: ``started`` is set on the first write,
        ``wall_time`` is the wall-clock time of all sessions of the run so far, and setting
        ``status`` to complete or failed stamps ``finished``, while setting it back to running
        (a resume) clears ``finished`` and ``error``.

        Returns:
            The merged contents written.
        """
        status = fields.get("status")
        if status is not None and status not in RUN_STATUSES:
            raise ValueError(f"run status must be one of {RUN_STATUSES}, got {status!r}")
        data: dict[str, Any] = {
            "version": _package_version(),
            "device": None,
            "seed": None,
            "status": "running",
            "error": None,
            "wall_time": 0.0,
            "started": _now(),
            "finished": None,
        }
        data.update(self.read_run_json())
        data["wall_time"] = self._wall_before + (time.monotonic() - self._opened)
        if status == "running":
            data.update(finished=None, error=None)
        elif status is not None:
            data["finished"] = _now()
        data.update(fields)
        atomic_write_text(
            self.run_json, json.dumps(data, indent=2, default=json_default) + "\n"
        )
        return data

    def mark_failed(self, error: str) -> None:
        """Record that the run failed with ``error`` (a message for the user)."""
        self.write_run_json(status="failed", error=error)

    # metrics.csv and events.csv -----------------------------------------------------------

    def append_metrics(self, rows: list[dict[str, Any]]) -> None:
        """Append rows to ``metrics.csv``, writing the header first if the file is new.

        Each row must have exactly the keys :data:`~polyalloy.metrics.METRIC_COLUMNS`; None
        is written as an empty cell.
        """
        expected = set(METRIC_COLUMNS)
        for row in rows:
            if row.keys() != expected:
                missing = sorted(expected - row.keys())
                unknown = sorted(row.keys() - expected)
                raise ValueError(
                    f"metrics row for frame {row.get('frame')!r}: missing columns {missing}, "
                    f"unknown columns {unknown}"
                )
        text = "".join(_csv_line(row[c] for c in METRIC_COLUMNS) for row in rows)
        self._append(self.metrics_csv, METRIC_COLUMNS, text)

    def append_event(self, time: float, body: str | None, kind: str, detail: str) -> None:
        """Append one timeline event to ``events.csv``.

        Args:
            time: Simulation time [s] at which the event happened.
            body: Name of the body concerned, None for the whole scene.
            kind: Event kind (``morph``, ``impact``, ``froze``, …).
            detail: Free text for the reader.
        """
        self._append(self.events_csv, EVENT_COLUMNS, _csv_line((float(time), body, kind, detail)))

    def truncate_metrics_after(self, frame: int) -> None:
        """Drop the rows of ``metrics.csv`` with a frame above ``frame`` (for a resume)."""
        self._filter(self.metrics_csv, "frame", lambda value: int(value) <= frame)

    def truncate_events_after(self, time: float) -> None:
        """Drop the rows of ``events.csv`` later than ``time`` [s] (for a resume)."""
        # Compare with the time as it was written, so an event at exactly `time` is kept.
        written = float(_FLOAT_FORMAT % time)
        self._filter(self.events_csv, "time", lambda value: float(value) <= written)

    def _append(self, path: Path, columns: tuple[str, ...], text: str) -> None:
        header = _csv_line(columns)
        if path.exists() and path.stat().st_size > 0:
            with open(path, encoding="utf-8", newline="") as f:
                found = f.readline()
            if found != header:
                raise ValueError(
                    f"{path} has columns {found.strip()!r}, expected {header.strip()!r}; "
                    "it belongs to another version of polyalloy: start a fresh run directory"
                )
        else:
            text = header + text
        with open(path, "a", encoding="utf-8", newline="") as f:
            f.write(text)
            f.flush()

    def _filter(self, path: Path, column: str, keep: Callable[[str], bool]) -> None:
        """Rewrite ``path`` atomically with its header and the rows where ``keep(row[column])``."""
        if not path.exists():
            return
        with open(path, encoding="utf-8", newline="") as f:
            text = f.read()
        # Whatever follows the last newline was cut short by a kill; it is not a row.
        rows = list(csv.reader(io.StringIO(text[: text.rfind("\n") + 1])))
        if not rows:
            atomic_write_text(path, "")
            return
        header = rows[0]
        index = header.index(column)
        kept = [row for row in rows[1:] if len(row) == len(header) and keep(row[index])]
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerows([header, *kept])
        atomic_write_text(path, buffer.getvalue())
