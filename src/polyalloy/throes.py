"""Death throes (T6): a willed body falling into metal hot enough to dissolve it loses control
and "screams through every form it has ever taken, faster and faster" (screenplay 001, 003).

The throes begin the first frame THROES_IMMERSED of its metal lies in such a pool (a bath at or
above its boiling point, polyalloy.solver.pools), counting the metal the pool has already
dissolved, which stays where it dissolved: a few drops flung into the vat dissolve there, but the
body has not fallen in; and a body stepping in loses its feet as fast as they enter (counting only
what is left, it never had a tenth of itself in the steel and stood on it). From then on it
morphs to each form of its library in turn, starting with the second (the first is the form it started in): the first for THROES_FIRST_HOLD seconds, each next one
THROES_SPEEDUP times as long, down to THROES_SHORTEST_HOLD, round and round while any will is
left. Once the forms come at their fastest it can no longer hold itself up in the metal that is
dissolving it: its form sinks to the pool's floor at THROES_SINK_SPEED, and it dissolves. Its
will fades with the heat meanwhile (thermal.will_share).
"""

from __future__ import annotations

import math

import numpy as np

from .control import Control
from .events import AppliedEvent, Timeline
from .model import Model
from .scene import Scene
from .state import DISSOLVED, PRESENT, State

THROES_IMMERSED = 0.1
"""Share of a body's metal, present or dissolved, in a dissolving pool from which its death throes begin [-]."""

THROES_FIRST_HOLD = 0.6
"""Seconds the first form of the death throes is held [s]."""

THROES_SPEEDUP = 0.75
"""Each form of the death throes is held this fraction of the time of the one before [-]."""

THROES_SHORTEST_HOLD = 0.12
"""Shortest hold of a form [s]: a few frames, time for the will to show it."""

THROES_SINK_SPEED = 0.3
"""Speed at which a body's form goes under once its forms come at their fastest [m/s]."""


def _geometric_holds() -> tuple[int, float]:
    """How many holds shrink geometrically before reaching the shortest, and their total [s]."""
    r = THROES_SPEEDUP
    count = max(0, math.ceil(math.log(THROES_SHORTEST_HOLD / THROES_FIRST_HOLD) / math.log(r)))
    return count, THROES_FIRST_HOLD * (1.0 - r**count) / (1.0 - r)


def stage_at(elapsed: float) -> int:
    """Index of the death-throes form held `elapsed` seconds after they began."""
    # Holds THROES_FIRST_HOLD · r^k until they reach the shortest, then the shortest.
    r = THROES_SPEEDUP
    geometric, geometric_span = _geometric_holds()
    if elapsed < geometric_span:
        return int(math.floor(math.log(1.0 - elapsed * (1.0 - r) / THROES_FIRST_HOLD) / math.log(r) + 1e-9))
    return geometric + int((elapsed - geometric_span) / THROES_SHORTEST_HOLD + 1e-9)


class DeathThroes:
    """Starts each willed body's death throes when it falls into a dissolving pool and morphs it
    through its library on their schedule. Its state lives in the Control (checkpointed)."""

    def __init__(self, scene: Scene, model: Model, control: Control, timeline: Timeline):
        self._model = model
        self._control = control
        self._timeline = timeline
        self._pools = [p for p in scene.pools]

    def update(self, time: float, states: list[State]) -> list[AppliedEvent]:
        """Begin or advance the death throes of every willed body at `time` [s]."""
        control = self._control
        applied = []
        x, status = None, None
        for b, body in enumerate(self._model.bodies):
            if not body.control or control.effective_authority[b] <= 0.0:
                continue
            if np.isnan(control.throes_start[b]):
                if x is None:
                    x, status = states[0].x.numpy(), states[0].status.numpy()
                sl = body.particle_slice
                metal = (status[sl] == PRESENT) | (status[sl] == DISSOLVED)
                floor = self._pool_floor(x[sl][metal], body.material.boiling_point, time)
                if floor is None:
                    continue
                control.throes_start[b] = time
                control.throes_stage[b] = -1
                depth = float(np.max(x[sl][status[sl] == PRESENT][:, 1])) - floor
                control.move_body(b, control.offsets[b] - np.array([0.0, depth, 0.0]), time + _geometric_holds()[1], depth / THROES_SINK_SPEED)
                applied.append(AppliedEvent(time, body.name, "throes", "fell into metal hot enough to dissolve it: death throes begin"))
            stage = stage_at(time - control.throes_start[b])
            if stage == control.throes_stage[b]:
                continue
            control.throes_stage[b] = stage
            library = control.library[b]
            form = library[(stage + 1) % len(library)]
            detail = self._timeline.morph(b, self._timeline.fitted(b, form, states[0]), states, seed=10_000 + stage)
            applied.append(AppliedEvent(time, body.name, "throes", f"death throes, form {stage + 1}: {form!r}; {detail}"))
        return applied

    def _pool_floor(self, x: np.ndarray, boiling_point: float, time: float) -> float | None:
        """Floor height [m] of the first pool at `time` [s] at or above `boiling_point` [°C]
        holding THROES_IMMERSED of the points x [m], or None."""
        for pool in self._pools:
            stop = np.inf if pool.stop is None else pool.stop
            if pool.temperature < boiling_point or not (pool.start <= time < stop):
                continue
            inside = np.all((x >= np.asarray(pool.region.lo)) & (x <= np.asarray(pool.region.hi)), axis=1)
            if len(x) and inside.mean() >= THROES_IMMERSED:
                return float(pool.region.lo[1])
        return None
