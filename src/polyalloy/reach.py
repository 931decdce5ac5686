"""How far a body's will reaches: pieces left behind and pieces that rejoin (D3).

A severed piece (the hook left in the car trunk, 003) stays where it is, a passive liquid,
until the body touches it; then it merges back. So once per frame each willed body is split
into pieces (particles linked within 1.5 spacings, as metrics.fragments counts them): its
largest piece is willed, and so is every other piece with a particle within the body's
`reach` of it, and every piece too small to matter (spray, under SMALLEST_LEFT_BEHIND of the
body's particles: droplets creep back). The rest are left behind: each keeps the shape it had
(the hook stays a hook) but has no will to go anywhere: every frame its targets are moved to
its centre and then travel with its mean downward velocity, and gravity is not resisted
(the WILL_HOLD mode), so it falls and lies where it lands, until the body comes within reach
of it again and it rejoins.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.spatial import cKDTree

from . import metrics
from .control import Control
from .events import AppliedEvent
from .model import Model


SMALLEST_LEFT_BEHIND = 0.002
"""Fraction of a body's particles a piece must hold to be left behind (0.2 %: a 5 cm blob of
the 1.8 m figure at a 2 cm cell)."""


class WillReach:
    """Holds pieces left out of a body's reach where they are, and releases them when the body
    reaches them again (Control.hold / Control.release)."""

    def __init__(self, model: Model):
        self._model = model

    def update(self, positions: np.ndarray, velocities: np.ndarray, control: Control, time: float,
               skip: Callable[[int], bool]) -> list[AppliedEvent]:
        """Recompute which particles each willed body reaches at `time` [s], from `positions`
        [m] and `velocities` [m/s], each (N, 3); bodies for which `skip(index)` holds reach
        every piece of themselves (a shattered body gathering its drops)."""
        events = []
        for b, body in enumerate(self._model.bodies):
            if not body.control or skip(b):
                continue
            sl = body.particle_slice
            labels, reached = self._reached(positions[sl], body.spacing, body.reach)
            held = control.hold_mask[sl]
            if held.any():
                control.follow(sl.start + np.flatnonzero(held), positions[sl][held], velocities[sl][held], labels[held], time)
            left = np.flatnonzero(~reached & ~held) + sl.start
            back = np.flatnonzero(reached & held) + sl.start
            # A piece's edge trades a few particles with the body from frame to frame; only
            # changes the size of a piece that can be left behind are worth a line.
            worth_a_line = SMALLEST_LEFT_BEHIND * (sl.stop - sl.start)
            if len(left):
                # A piece keeps the shape it has now (the hook in the trunk).
                control.hold(left, positions[left])
            if len(left) >= worth_a_line:
                events.append(AppliedEvent(
                    time, body.name, "left_behind",
                    f"{len(left)} particles out of the will's reach ({body.reach:g} m) are left behind, keeping their shape"))
            if len(back):
                control.release(back)
            if len(back) >= worth_a_line:
                events.append(AppliedEvent(
                    time, body.name, "rejoined",
                    f"{len(back)} particles back within reach; {int(control.hold_mask[sl].sum())} still left behind"))
        return events

    @staticmethod
    def _reached(x: np.ndarray, spacing: float, reach: float) -> np.ndarray:
        """Piece label of each particle of one body, and the mask of those its will reaches."""
        labels = metrics.piece_labels(x, spacing)
        counts = np.bincount(labels)
        if len(counts) == 1:
            return labels, np.ones(len(x), dtype=bool)
        main = labels == np.argmax(counts)
        distance, _ = cKDTree(x[main]).query(x[~main], distance_upper_bound=reach)
        near_labels = np.unique(labels[~main][np.isfinite(distance)])
        small_labels = np.flatnonzero(counts < SMALLEST_LEFT_BEHIND * len(x))
        return labels, main | np.isin(labels, near_labels) | np.isin(labels, small_labels)
