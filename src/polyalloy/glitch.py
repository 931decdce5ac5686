"""Glitching (item 6 of the mimetic-control issue; T5 drives it from heat later): a traumatised
body's contact colours become involuntary.

While a body's `glitch` level g (0–1, set by a `glitch` event) is above zero, every frame its
particles within a cell of any collider move toward that surface's colour, and so, fading
with distance d from the nearest touching particle, do their neighbours: each toward its form
colour mixed with the contact's by g·exp(−d / IMPRINT_LENGTH), at IMPRINT_RATE. A hand on a
striped railing is striped to about the elbow (000). The will restores
the form's colours at a rate scaled by (1 − g) (Simulation's colour relaxation), so at high g
an imprint persists for seconds; the relaxation also adds surface static of amplitude ∝ g.
"""

from __future__ import annotations

import numpy as np
import warp as wp
from scipy.spatial import cKDTree

from .control import Control
from .model import Model
from .solver import kernels
from .state import State

IMPRINT_LENGTH = 0.1
"""Distance over which an involuntary contact colour fades by 1/e [m]: striped to about the
elbow (~0.3 m, three lengths) from a hand on a railing."""


IMPRINT_RATE = 10.0
"""Rate at which a glitching body takes the colours it touches [1/s]."""


class Glitch:
    """Paints involuntary contact colours onto glitching bodies once per frame."""

    def __init__(self, model: Model):
        self._model = model
        device = model.device
        self._touching = wp.zeros(model.particle_count, dtype=int, device=device)
        self._contact_color = wp.zeros(model.particle_count, dtype=wp.vec3, device=device)

    def imprint(self, state: State, control: Control, frame_dt: float) -> None:
        """Move the colours of every glitching body (in `state`) over a frame of `frame_dt` [s]
        toward its contact colours: its form's colour mixed with the nearest contact's by
        g·exp(−d / IMPRINT_LENGTH)."""
        glitching = [b for b in range(len(self._model.bodies)) if control.glitch[b] > 0.0]
        if not glitching or not self._model.colliders:
            return
        wp.launch(
            kernels.contact_colors, dim=self._model.particle_count,
            inputs=[state.x, control.colliders, self._model.grid.dx, self._touching, self._contact_color],
            device=self._model.device,
        )
        touching = self._touching.numpy().astype(bool)
        contact_color = self._contact_color.numpy()
        x = state.x.numpy()
        colors = state.color.numpy()
        form_colors = control.form_colors.numpy()
        take = 1.0 - np.exp(-IMPRINT_RATE * frame_dt)
        for b in glitching:
            sl = self._model.bodies[b].particle_slice
            contacts = np.flatnonzero(touching[sl]) + sl.start
            if len(contacts) == 0:
                continue
            distance, nearest = cKDTree(x[contacts]).query(x[sl], distance_upper_bound=5.0 * IMPRINT_LENGTH)
            near = np.isfinite(distance)
            weight = np.zeros(len(distance))
            weight[near] = control.glitch[b] * np.exp(-distance[near] / IMPRINT_LENGTH)
            imprint = contact_color[contacts[np.minimum(nearest, len(contacts) - 1)]]
            target = form_colors[sl] + weight[:, None] * (imprint - form_colors[sl])
            touched = weight > 0.01
            colors[sl][touched] += take * (target[touched] - colors[sl][touched])
        state.color.assign(colors)
