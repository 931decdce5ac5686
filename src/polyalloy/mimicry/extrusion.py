"""Part morphs (S4): a limb of a form becomes a blade or a needle while the rest keeps its form.

"Forms blades and stabbing weapons from part of the body (arm → blade, finger → needle)"
(BEHAVIOURS.md S4; screenplay 000: "index finger extends as a gleaming needle"). The limb that
starts at a part (the forearm and the hand beyond it, or the index finger) is taken out of the
form, and a blade grows from the limb's root along its direction: flat, `width` across and
`thickness` through, tapering to a point over 1.5 widths (at most its last third), as the blade
form does. A needle is a blade as thick as it is wide.
"""

from __future__ import annotations

import numpy as np

from .forms import BLADE_TIP_WIDTHS, Form, as_points
from .humanoid import Humanoid
from .sampling import estimate_volume

TIP_FRACTION = 1.0 / 3.0
"""Longest part of the blade's length over which it tapers to its point. Its point is otherwise
BLADE_TIP_WIDTHS widths long, as the blade form's: a point as long as a third of a 2 cm needle
held less than one particle's volume in the needle's last 10 % (~0.4 at a 2 cm cell), so no
metal could fill it and the needle's tip reached 0.885 of its length."""

BLADE_COLOR = np.array([0.82, 0.84, 0.88], dtype=np.float32)
"""Polished steel: the blade wears no clothes."""


class Extrusion(Form):
    """`base` with the limb starting at `part` replaced by a blade."""

    shape = "extrusion"

    def __init__(self, base: Humanoid, part: str, length: float, width: float, thickness: float):
        self.base = base
        self.part = part
        self.name = f"{base.name}/{part}-blade"
        self.root, self.axis, self.removed = base.limb(part)
        """Where the blade starts [m], its unit direction, and the parts it replaces."""
        # The blade is flat in the plane of its axis and the body's forward direction (an edge
        # leads, as a sword is held), unless it points forward itself.
        forward = np.array([0.0, 0.0, 1.0]) if abs(self.axis[2]) < 0.9 else np.array([1.0, 0.0, 0.0])
        across = forward - (forward @ self.axis) * self.axis
        self.across = across / np.linalg.norm(across)
        """Unit direction of the blade's width."""
        self.through = np.cross(self.axis, self.across)
        """Unit direction of the blade's thickness."""
        self.length, self.width, self.thickness = float(length), float(width), float(thickness)
        self.tip_length = min(BLADE_TIP_WIDTHS * max(self.width, self.thickness), TIP_FRACTION * self.length)
        """Length of the tapered point [m]."""
        self.part_names = (*base.part_names, "blade")
        self.part_colors = np.vstack([base.part_colors, BLADE_COLOR])
        self._volume: float | None = None

    def blade_sdf(self, p: np.ndarray) -> np.ndarray:
        """Signed distance bound [m] to the blade at local points ``p`` (N, 3): exact in sign,
        within the taper's slope of the true distance."""
        q = as_points(p) - self.root
        along = q @ self.axis
        taper = np.clip((self.length - along) / self.tip_length, 0.0, 1.0)
        return np.maximum.reduce([
            np.abs(q @ self.across) - 0.5 * self.width * taper,
            np.abs(q @ self.through) - 0.5 * self.thickness * taper,
            -along,
            along - self.length,
        ])

    def sdf(self, p):
        p = as_points(p)
        return np.minimum(self.base.sdf(p, without=self.removed), self.blade_sdf(p))

    def part_of(self, p):
        p = as_points(p)
        parts = self.base.part_of(p)
        on_blade = self.blade_sdf(p) < self.base.sdf(p, without=self.removed)
        parts[on_blade] = len(self.part_names) - 1
        return parts

    def legs(self):
        """The figure's legs: a blade grows only from an arm."""
        return self.base.legs()

    def bounds(self):
        lo, hi = self.base.bounds()
        tip = self.root + self.length * self.axis
        # Half the blade's cross-section along each world axis: its width and thickness
        # directions may both lean into the same axis.
        reach = 0.5 * (self.width * np.abs(self.across) + self.thickness * np.abs(self.through))
        return np.minimum(lo, np.minimum(self.root, tip) - reach), np.maximum(hi, np.maximum(self.root, tip) + reach)

    def volume(self):
        """Volume [m³]: a lattice count at 5 mm, computed once."""
        if self._volume is None:
            self._volume = estimate_volume(self, 0.005)
        return self._volume

    def tip_reach(self, points: np.ndarray, tolerance: float) -> float:
        """How far along the blade, as a fraction of its length, the farthest of the local
        ``points`` (N, 3) [m] lies that is within the blade's half width plus `tolerance` [m]
        of its axis: 1 when metal fills the blade to its tip."""
        q = as_points(points) - self.root
        along = q @ self.axis
        off_axis = np.linalg.norm(q - along[:, None] * self.axis, axis=1)
        near = (off_axis <= 0.5 * max(self.width, self.thickness) + tolerance) & (along > 0.0)
        return float(along[near].max() / self.length) if near.any() else 0.0
