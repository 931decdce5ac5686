"""Thaw and coalescence (T4): a shattered body, thawed, gathers its drops and rises again.

Screenplay 000: "T-1000 droplets are creeping together. Fusing into larger blobs. These pools
shiver and run together, soon forming a central mass. ... A head is forming up out of a pool
... it rises, as shoulders form ... to man-height."

A shot that shatters a body marks it to re-form (Control.reform_stage). Frozen shards have no
will; as each thaws, its will comes back with its liquid fraction (thermal.will_share). Then:

- GATHER. The body wills itself into a pool of its own volume (POOL_THICKNESS deep) on the
  floor under the centre of its metal, with a soft will (GATHER_GAIN): every drop creeps
  across the floor toward it, so the drops fuse into blobs and a central mass. The pool's
  targets lie on the floor, so the will pulls the drops along it and never presses them into
  it (a form sunk below the floor pressed each drop down as hard as it pulled it in, and the
  floor's friction held the drops within half a metre of the centre where they lay). Which
  drop goes where is the ordinary transport assignment, re-made as the body moves
  (Timeline.reassign_if_due). No piece is left behind (WillReach skips a gathering body):
  every drop of a shattered body is its own.
- RISE. Once its largest piece holds REFORM_FUSED of its present mass and the last drops have
  joined it, down to single particles (or it has gathered for GATHER_PATIENCE: a drop in a pit
  cannot climb out), the body takes its form again sunk below the pool, its top at the pool's
  surface; after RISE_DELAY the form's pose moves up at RISE_SPEED until it stands on the
  floor: the head comes out of the pool first, then the shoulders, then the rest, willed with
  its own gain again.
"""

from __future__ import annotations

import numpy as np

from . import metrics
from .control import REFORM_GATHER, REFORM_NONE, REFORM_RISE, REFORM_SHATTERED, Control
from .events import AppliedEvent, Timeline
from .mimicry import placed_bounds
from .model import Model
from .solver.kernels import solid_distances
from .state import PRESENT, State

REFORM_FUSED = 0.95
"""Share of its present mass the largest piece must hold before the body rises [-] (T4's figure)."""

GATHER_GAIN = 9.0
"""Stiffness of the will while the drops gather [1/s²]: critically damped at ω = 3/s, a drop
1.2 m out of the pool creeps in at most ω·1.2 m/e ≈ 1.3 m/s and is in after ~1.5 s (the body's
own gain, 200, flings the drops across the floor at 7 m/s; 4 took 2 s to fuse 32 drops over a
2.9 m disc into the pool, as the pool's rim stops them short of the centre)."""

GATHER_PATIENCE = 3.0
"""How long a body gathers [s] before it rises without its last few drops (REFORM_FUSED holds)."""

POOL_THICKNESS = 0.25
"""Depth of the pool a shattered body gathers into [m]: a 0.075 m³ man makes a pool 0.62 m across."""

RISE_DELAY = 0.25
"""How long the pool settles into the form sunk below it [s], with the gathering's soft will,
before the form rises with the body's own: taken at once with its own will, the pool's rim
splashed drops off; rising with a will of 40/s², a drop lagged and parted from it."""

RISE_SPEED = 0.6
"""Speed at which the re-forming body's form rises out of its pool [m/s]: a 1.8 m man stands
RISE_DELAY + (1.8 − POOL_THICKNESS) / RISE_SPEED = 2.8 s after the drops have fused."""


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
            if stage == REFORM_RISE:
                # Rising needs no positions: the pose move carries it.
                if time >= control.reform_since[b] + RISE_DELAY:
                    if control.gains[b] != np.float32(body.gain):
                        control.set_gain(b, body.gain)
                    if time >= control.move_stop(b):
                        control.reform_stage[b] = REFORM_NONE
                        applied.append(AppliedEvent(time, body.name, "reformed", f"stands again as {control.forms[b]!r}"))
                continue
            sl = body.particle_slice
            present = states[0].status.numpy()[sl] == PRESENT
            if not present.any():
                continue
            x = states[0].x.numpy()[sl][present]
            if stage == REFORM_SHATTERED:
                applied.append(self._gather(b, x, time, states))
            else:
                masses = self._model.particle_mass.numpy()[sl][present]
                _, largest = metrics.fragments(x, masses, body.spacing)
                # Every drop joined, however small: a drop of 1–3 particles is no fragment, but
                # the rising form pulled such strays off the pool's rim with a few more particles
                # and the body was in two pieces for a frame or three.
                joined = largest >= 1.0 - 0.5 * masses.min() / masses.sum()
                if largest >= REFORM_FUSED and (joined or time - control.reform_since[b] >= GATHER_PATIENCE):
                    applied.append(self._rise(b, time, largest, states))
        return applied

    def _bounds(self, b: int, form: str) -> tuple[np.ndarray, np.ndarray]:
        """World bounds (lo, hi) [m] of `form` as body `b` would take it at zero pose offset."""
        return placed_bounds(self._timeline.form(form), self._model.bodies[b].position, self._control.heading(b))

    def _offset_on(self, b: int, form: str, centre: np.ndarray, ground: float) -> np.ndarray:
        """Pose offset [m] that stands `form` on the floor at height `ground`, centred over `centre`."""
        lo, hi = self._bounds(b, form)
        return np.array([centre[0] - 0.5 * (lo[0] + hi[0]), ground - lo[1], centre[2] - 0.5 * (lo[2] + hi[2])])

    def _floor_under(self, lowest: np.ndarray, spacing: float) -> float:
        """Height [m] of the surface metal whose lowest point is `lowest` [m] lies on: the solid or
        domain floor within two spacings straight below it, exactly, so the body stands again
        where it stood; half a spacing below it if none is that near."""
        colliders, device = self._control.colliders, self._model.device
        gap = min(float(solid_distances(lowest, colliders, device)[0]), float(lowest[1] - self._model.domain_lo[1]))
        # The nearest solid may be beside the metal (a rail, a wall): only one that the point
        # `gap` straight below lies on is the floor.
        below = lowest - np.array([0.0, gap, 0.0])
        on_floor = (below[1] - self._model.domain_lo[1] <= 0.25 * spacing
                    or abs(float(solid_distances(below, colliders, device)[0])) <= 0.25 * spacing)
        return float(lowest[1]) - (gap if 0.0 <= gap <= 2.0 * spacing and on_floor else 0.5 * spacing)

    def _gather(self, b: int, x: np.ndarray, time: float, states: list[State]) -> AppliedEvent:
        """Will the body into a pool on the floor under the centre of its metal `x` [m]."""
        control, body = self._control, self._model.bodies[b]
        # The floor the shards lie on is under the largest piece (drops that fell into a pit
        # lie lower).
        labels = metrics.piece_labels(x, body.spacing)
        largest = x[labels == np.argmax(np.bincount(labels))]
        lowest = largest.mean(axis=0)
        lowest[1] = np.quantile(largest[:, 1], 0.01)
        ground = self._floor_under(lowest, body.spacing)
        centre = x.mean(axis=0)
        pool = self._timeline.puddle(b, "pool", POOL_THICKNESS, states[0]).name
        if control.forms[b] != pool:
            control.reform_form[b] = control.forms[b]
        control.reform_standing[b] = self._offset_on(b, control.reform_form[b], centre, ground)
        held = np.flatnonzero(control.hold_mask[body.particle_slice]) + body.particle_slice.start
        if len(held):
            control.release(held)
        control.move_body(b, self._offset_on(b, pool, centre, ground), time, 0.0)
        control.set_gain(b, GATHER_GAIN)
        control.set_time(time)
        detail = self._timeline.morph(b, pool, states, seed=20_000 + int(round(time * 1000)))
        control.reform_stage[b] = REFORM_GATHER
        control.reform_since[b] = time
        return AppliedEvent(
            time, body.name, "gather",
            f"thawing: its drops creep together toward ({centre[0]:.2f}, {ground:.2f}, {centre[2]:.2f}); {detail}")

    def _rise(self, b: int, time: float, largest: float, states: list[State]) -> AppliedEvent:
        """Take the body's form again, sunk below its pool, and raise it to stand on the floor."""
        control, body = self._control, self._model.bodies[b]
        standing = control.reform_standing[b]
        lo, hi = self._bounds(b, control.reform_form[b])
        # Sunk with its top at the pool's surface, so the metal at the top of the pool becomes
        # the head (sunk with its top at the floor, the form drew the pool's surface down
        # through the pool and splashed drops off it). A form lower than the pool stands at once.
        height = max(float(hi[1] - lo[1]) - POOL_THICKNESS, 0.0)
        control.move_body(b, standing - np.array([0.0, height, 0.0]), time, 0.0)
        control.set_time(time)
        detail = self._timeline.morph(b, control.reform_form[b], states, seed=30_000 + int(round(time * 1000)))
        control.move_body(b, standing.copy(), time + RISE_DELAY, height / RISE_SPEED)
        control.reform_stage[b] = REFORM_RISE
        control.reform_since[b] = time
        return AppliedEvent(
            time, body.name, "rise",
            f"fused ({largest:.3f} of its mass in one piece): rises out of its pool over {RISE_DELAY + height / RISE_SPEED:.1f} s; {detail}")
