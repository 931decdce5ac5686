"""Glitching (item 6 of the mimetic-control issue; T5 drives it from heat later): a traumatised
body's contact colours become involuntary.

While a body's `glitch` level g (0–1, set by a `glitch` event) is above zero, every frame its
particles within a cell of any collider move toward that surface's colour, and so, fading
with distance d from the nearest touching particle, do their neighbours: each toward its form
colour mixed with the contact's by g·exp(−d / IMPRINT_LENGTH), at IMPRINT_RATE, wherever that
takes it farther from its form's colour (a contact only adds colour; the will takes it away).
A hand on a striped railing is striped to about the elbow (000).

How long the colour stays depends on how long the contact lasted. Each particle's imprint (a
State field) is how long the contact that last pressed it lasted, up to IMPRINT_SET_TIME, or the
deepest imprint of a contact that has tinted it since, if deeper; a patch newly pressed (a foot
set down) starts it again, a new form or the end of the glitch clears it. Where the body is
pressed to the surface (within a cell of what touches it) its will cannot restore the colour at
all. Off the surface, a touch held no longer than IMPRINT_SHALLOW_TIME (a step: 0.7 s at 1 m/s)
goes as fast as it came, at IMPRINT_RATE × authority, so the tiles fade from a foot as it is
lifted and return as it is set down; a touch held IMPRINT_SET_TIME or longer (a hand dragged
along a railing, feet planted while he stands) has sunk in, and the glitching will takes it back
only at (1 − g)² of its colour rate (6/s): the hand stays striped for seconds, until the glitch
eases (Simulation's colour relaxation, kernels.relax_colors, which also adds surface static ∝ g).
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
"""Rate at which a glitching body takes the colours it touches, and loses those that have not
sunk in once it stops touching [1/s]."""

IMPRINT_SHALLOW_TIME = 0.9
"""Contact time [s] up to which a contact's colour stays on the surface of the metal: it goes
at IMPRINT_RATE once the contact ends. A walking step at 1 m/s is down for 0.72 s (walk.STANCE
of a 1.2 m stride), and the melding holds it to 0.8 s (glitch scene, draft)."""

IMPRINT_SET_TIME = 1.2
"""Contact time [s] from which a contact's colour has sunk in: a glitching will restores it
only at (1 − g)² of its rate. A hand dragged along a railing in passing touches it 1.2–1.5 s."""


class Glitch:
    """Paints involuntary contact colours onto glitching bodies once per frame."""

    def __init__(self, model: Model):
        self._model = model
        device = model.device
        self._touching = wp.zeros(model.particle_count, dtype=int, device=device)
        self._contact_color = wp.zeros(model.particle_count, dtype=wp.vec3, device=device)

    def imprint(self, state: State, control: Control, frame_dt: float) -> None:
        """Over a frame of `frame_dt` [s], paint every glitching body's contact colours (in
        `state`) onto it: its form's colour mixed with the nearest contact's by
        g·exp(−d / IMPRINT_LENGTH), where it touches or that is farther from the form's colour
        than it is; time the contacts of the patches pressed to a surface, and give every
        particle it tints its nearest contact's imprint where deeper."""
        glitching = [b for b in range(len(self._model.bodies)) if control.glitch[b] > 0.0]
        if not glitching or not self._model.colliders:
            # Without a glitch nothing is pressed in, and what was has gone with it.
            state.pressed.zero_()
            state.imprint.zero_()
            return
        wp.launch(
            kernels.contact_colors, dim=self._model.particle_count,
            inputs=[state.x, control.colliders, self._model.grid.dx, self._touching, self._contact_color],
            device=self._model.device,
        )
        touching = self._touching.numpy().astype(bool)
        was_pressed = state.pressed.numpy().astype(bool)
        pressed = np.zeros(len(touching), dtype=bool)
        dx = self._model.grid.dx
        contact_color = self._contact_color.numpy()
        x = state.x.numpy()
        colors = state.color.numpy()
        imprint = state.imprint.numpy()
        form_colors = control.form_colors.numpy()
        take = 1.0 - np.exp(-IMPRINT_RATE * frame_dt)
        for b, body in enumerate(self._model.bodies):
            if b not in glitching:
                imprint[body.particle_slice] = 0.0
        for b in glitching:
            sl = self._model.bodies[b].particle_slice
            contacts = np.flatnonzero(touching[sl]) + sl.start
            if len(contacts) == 0:
                continue
            distance, nearest = cKDTree(x[contacts]).query(x[sl], distance_upper_bound=5.0 * IMPRINT_LENGTH)
            near = np.isfinite(distance)
            nearest = contacts[np.minimum(nearest, len(contacts) - 1)]
            # The patch pressed to the surface, not each particle that touches it this frame
            # (they come and go as the metal flows), keeps the time of the contact: a particle
            # joining a patch takes the time of the pressed particle nearest it, within a cell;
            # a patch newly pressed (a foot set down) starts from none.
            pressed[sl] = distance < dx
            joining = np.flatnonzero(pressed[sl] & ~was_pressed[sl]) + sl.start
            held = np.flatnonzero(was_pressed[sl]) + sl.start
            imprint[joining] = 0.0
            if len(joining) and len(held):
                gap, which = cKDTree(x[held]).query(x[joining], distance_upper_bound=dx)
                joined = np.isfinite(gap)
                imprint[joining[joined]] = imprint[held[which[joined]]]
            imprint[sl][pressed[sl]] = np.minimum(imprint[sl][pressed[sl]] + frame_dt, IMPRINT_SET_TIME)
            weight = np.zeros(len(distance))
            weight[near] = control.glitch[b] * np.exp(-distance[near] / IMPRINT_LENGTH)
            target = form_colors[sl] + weight[:, None] * (contact_color[nearest] - form_colors[sl])
            # What touches takes the surface's colour whatever it wore; its neighbours only gain.
            painted = touching[sl] | (weight > 0.01) & (
                np.abs(target - form_colors[sl]).sum(axis=1) >= np.abs(colors[sl] - form_colors[sl]).sum(axis=1))
            colors[sl][painted] += take * (target[painted] - colors[sl][painted])
            tinted = weight > 0.01
            imprint[sl][tinted] = np.maximum(imprint[sl][tinted], imprint[nearest[tinted]])
        state.color.assign(colors)
        state.imprint.assign(imprint)
        state.pressed.assign(pressed.astype(np.int32))
