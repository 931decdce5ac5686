"""Sampling by touch (S1): a willed body that touches a sampleable collider adds that object's
form to its library ("imitate everything of equal size that it has sampled previously by
physical contact", 003).

A touch is a particle of the body within one grid cell of the collider's surface: the grid
update already couples matter to a solid across that distance. It is checked once per frame
on the device; only new touches reach the host.
"""

from __future__ import annotations

import numpy as np
import warp as wp

from .control import Control
from .events import AppliedEvent
from .model import Model
from .solver import kernels
from .state import State


class TouchSampler:
    """Finds which willed bodies touch which sampleable colliders and grows their libraries."""

    def __init__(self, model: Model, collider_names: list[str]):
        self._model = model
        self._names = collider_names
        self._colliders = sorted(model.sampleable)
        self._forms = [model.sampleable[c] for c in self._colliders]
        self._willed = [b for b, body in enumerate(model.bodies) if body.control]
        device = model.device
        self._indices = wp.array(np.asarray(self._colliders, dtype=np.int32), dtype=int, device=device)
        self._touched = wp.zeros((len(model.bodies), max(1, len(self._colliders))), dtype=int, device=device)

    def sample(self, state: State, control: Control, time: float) -> list[AppliedEvent]:
        """Add to each willed body's library the forms of the sampleable colliders it touches
        now and has not sampled yet; one `sample` event per new form."""
        pending = [
            (b, s) for b in self._willed for s, form in enumerate(self._forms) if form not in control.library[b]
        ]
        if not pending:
            return []
        self._touched.zero_()
        wp.launch(
            kernels.touch_colliders,
            dim=(self._model.particle_count, len(self._colliders)),
            inputs=[state.x, self._model.particle_body_device, control.colliders, self._indices, self._model.grid.dx, self._touched],
            device=self._model.device,
        )
        touched = self._touched.numpy()
        events = []
        for b, s in pending:
            if touched[b, s]:
                form = self._forms[s]
                control.library[b].append(form)
                events.append(AppliedEvent(
                    time, self._model.bodies[b].name, "sample",
                    f"touched {self._names[self._colliders[s]]!r} and sampled form {form!r}; "
                    f"its library is now: {', '.join(control.library[b])}",
                ))
        return events
