"""Thaw and coalescence (T4): a shattered body, thawed, gathers its drops and rises again.

Screenplay 000: "T-1000 droplets are creeping together. Fusing into larger blobs. These pools
shiver and run together, soon forming a central mass. ... A head is forming up out of a pool
... it rises, as shoulders form ... to man-height."

A shot that shatters a body marks it to re-form (Control.reform_stage). Frozen shards have no
will; as each thaws, its will comes back with its liquid fraction (thermal.will_share). Then:

- GATHER. The body wills itself into its own form sunk below the floor, under the centre of
  its metal, with a soft will (GATHER_GAIN): every drop is pulled down onto the floor and
  creeps across it toward that centre, so the drops fuse into blobs and a central mass. Which drop goes where is the
  ordinary transport assignment of the form's points, re-made as the body moves
  (Timeline.reassign_if_due). No piece is left behind (WillReach skips a gathering body):
  every drop of a shattered body is its own.
- RISE. Once its largest piece holds REFORM_FUSED of its present mass, the form's pose moves
  up at RISE_SPEED until the form stands on the floor: the head comes out of the pool first,
  then the shoulders, then the rest, willed with the body's own gain again.
"""

from __future__ import annotations

import numpy as np

from . import metrics
from .control import REFORM_GATHER, REFORM_NONE, REFORM_RISE, REFORM_SHATTERED, Control
from .events import AppliedEvent, Timeline
from .mimicry import placed_bounds
from .model import Model
from .state import PRESENT, State

REFORM_FUSED = 0.95
"""Share of its present mass the largest piece must hold before the body rises [-] (T4's figure)."""

GATHER_GAIN = 4.0
"""Stiffness of the will while the drops gather [1/s²]: critically damped at ω = 2/s, a drop
2 m out creeps in at most ω·2 m/e ≈ 1.5 m/s and is in after ~2 s (the body's own gain, 200,
flings the drops across the floor at 7 m/s)."""

RISE_SPEED = 0.6
"""Speed at which the re-forming body's form rises out of its pool [m/s]: a 1.8 m man stands
3 s after the drops have fused."""


class Reforming:
    """Gathers each shattered body's thawed drops and raises it again; its stage lives in the
    Control (checkpointed)."""

    def __init__(self, model: Model, control: Control, timeline: Timeline):
        self._model = model
        self._control = control
        self._timeline = timeline

    def gathering(self, body: int) -> bool:
        """Whether `body` is gathering its drops (no piece of it is left behind meanwhile)."""
        return int(self._control.reform_stage[body]) == REFORM_GATHER

    def update(self, time: float, states: list[State]) -> list[AppliedEvent]:
        """Advance every re-forming body's stage at `time` [s] from the current state `states[0]`."""
        control = self._control
        applied = []
        for b, body in enumerate(self._model.bodies):
            stage = int(control.reform_stage[b])
            if stage == REFORM_NONE or control.effective_authority[b] <= 0.0:
                continue
            sl = body.particle_slice
            x = states[0].x.numpy()[sl]
            present = states[0].status.numpy()[sl] == PRESENT
            if not present.any():
                continue
            x = x[present]
            if stage == REFORM_SHATTERED:
                applied.append(self._gather(b, x, time, states))
            elif stage == REFORM_GATHER:
                _, largest = metrics.fragments(x, self._model.particle_mass.numpy()[sl][present], body.spacing)
                if largest >= REFORM_FUSED:
                    applied.append(self._rise(b, time, largest))
            elif time >= control.move_stop(b):
                control.reform_stage[b] = REFORM_NONE
                applied.append(AppliedEvent(time, body.name, "reformed", f"stands again as {control.forms[b]!r}"))
        return applied

    def _gather(self, b: int, x: np.ndarray, time: float, states: list[State]) -> AppliedEvent:
        """Sink the body's form under the centre of its metal `x` [m] and will it there."""
        control, body = self._control, self._model.bodies[b]
        # The floor the shards lie on: the lowest metal, half a spacing above the surface.
        ground = float(np.quantile(x[:, 1], 0.01)) - 0.5 * body.spacing
        centre = x.mean(axis=0)
        # The form's world bounds at zero pose offset.
        lo, hi = placed_bounds(self._timeline.form(control.forms[b]), body.position, control.heading(b))
        standing = np.array([centre[0] - 0.5 * (lo[0] + hi[0]), ground - lo[1], centre[2] - 0.5 * (lo[2] + hi[2])])
        control.reform_standing[b] = standing
        sunk = standing - np.array([0.0, hi[1] - lo[1], 0.0])
        held = np.flatnonzero(control.hold_mask[body.particle_slice]) + body.particle_slice.start
        if len(held):
            control.release(held)
        control.move_body(b, sunk, time, 0.0)
        control.set_gain(b, GATHER_GAIN)
        control.set_time(time)
        detail = self._timeline.morph(b, control.forms[b], states, seed=20_000 + int(round(time * 1000)))
        control.reform_stage[b] = REFORM_GATHER
        return AppliedEvent(
            time, body.name, "gather",
            f"thawing: its drops creep together toward ({centre[0]:.2f}, {ground:.2f}, {centre[2]:.2f}); {detail}")

    def _rise(self, b: int, time: float, largest: float) -> AppliedEvent:
        """Raise the body's form out of its pool to stand on the floor."""
        control = self._control
        standing = control.reform_standing[b]
        height = float(standing[1] - control.offsets[b][1])
        control.move_body(b, standing.copy(), time, height / RISE_SPEED)
        control.set_gain(b, self._model.bodies[b].gain)
        control.reform_stage[b] = REFORM_RISE
        return AppliedEvent(
            time, self._model.bodies[b].name, "rise",
            f"fused ({largest:.3f} of its mass in one piece): rises out of its pool over {height / RISE_SPEED:.1f} s")

