"""The procedural humanoid form: a standing person built from smooth-unioned primitives.

The figure is laid out for a 1.80 m adult and scaled uniformly to the requested ``height``.
It faces +z with y up, so its left side is +x (suffix ``_l``) and its right side -x (``_r``),
and stands in a relaxed A-pose with the arms 20 degrees out from vertical. Every part is one or
a few round cones (tapered capsules), ellipsoids or rounded boxes; the whole body is their
smooth union (quadratic smooth min, blend radius 1.5 cm at 1.80 m), which fillets the joints.

Constraints the simulation relies on, at 1.80 m:
- knees and ankles are the narrowest cross sections of each leg, so a frozen body breaks there;
- limbs are at least 5 cm (2.5 cells of 2 cm) thick, the hand's thinnest axis included; only the
  index finger (a part of its own, for the finger-to-needle morph) is thinner;
- below the armpit the arms stand at least 4 cm clear of the torso, so MPM at 2 cm cells keeps
  them separate;
- the volume is 0.068 m^3, a 70 kg adult at the body's density of about 1030 kg/m^3.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from polyalloy.mimicry.forms import (
    Form,
    Legs,
    as_points,
    sd_ellipsoid,
    sd_round_box,
    sd_round_cone,
    smooth_min,
)
from polyalloy.mimicry.sampling import estimate_volume

REFERENCE_HEIGHT = 1.8
"""Height [m] the layout below is written for; other heights scale it uniformly."""

BLEND = 0.015
"""Smooth-union blend radius at the reference height [m]: fillets joints by at most BLEND / 4."""

HAIR_DEPTH = 0.015
"""Thickness of the hair shell inside the head at the reference height [m]."""

EXACT_WITHIN = 0.1
"""Distance from a primitive's box at the reference height [m] within which it is evaluated;
must exceed 3 BLEND for the surface to be exact (see ``Humanoid.sdf``)."""

ARM_ANGLE_DEG = 20.0
"""A-pose: angle of the arms from vertical [degrees]."""

_I3 = np.eye(3)


def _round_cone(a, b, r1, r2):
    return ("round_cone", np.array(a, float), np.array(b, float), float(r1), float(r2))


def _ellipsoid(center, radii, axes=_I3):
    return ("ellipsoid", np.array(center, float), np.array(axes, float), np.array(radii, float))


def _round_box(center, half, rounding):
    return ("round_box", np.array(center, float), np.array(half, float), float(rounding))


def _layout() -> tuple[dict[str, list[tuple]], dict[str, np.ndarray]]:
    """Primitives of each part and the joint positions for a 1.80 m figure (before centring in z).

    Returns (parts, joints): parts maps a part name to its primitives, joints maps a joint name
    to its position [m]. Lengths follow average adult anthropometry (head 0.23 m from chin to
    crown, shoulder joints 0.39 m apart, upper arm 0.29 m, forearm 0.26 m, hip joints 0.18 m
    apart, thigh 0.41 m, shin 0.42 m, foot 0.26 m).
    """
    parts: dict[str, list[tuple]] = {
        "head": [_ellipsoid([0.0, 1.675, 0.005], [0.077, 0.11, 0.097])],
        # a cap over the crown and the back of the head, 0.5 to 1.5 cm proud of the skull
        "hair": [_ellipsoid([0.0, 1.69, -0.012], [0.082, 0.11, 0.1])],
        "neck": [_round_cone([0.0, 1.45, -0.005], [0.0, 1.60, -0.005], 0.058, 0.052)],
        "torso": [
            _round_box([0.0, 1.27, 0.0], [0.15, 0.155, 0.12], 0.08),    # chest
            _round_cone([0.0, 1.45, -0.01], [0.17, 1.41, -0.01], 0.06, 0.055),   # left trapezius
            _round_cone([0.0, 1.45, -0.01], [-0.17, 1.41, -0.01], 0.06, 0.055),  # right trapezius
            _ellipsoid([0.0, 1.10, 0.01], [0.145, 0.13, 0.115]),         # abdomen
        ],
        "pelvis": [_round_box([0.0, 0.96, -0.01], [0.155, 0.10, 0.11], 0.07)],
    }
    joints: dict[str, np.ndarray] = {}
    angle = math.radians(ARM_ANGLE_DEG)
    for side, sign in (("l", 1.0), ("r", -1.0)):
        down = np.array([sign * math.sin(angle), -math.cos(angle), 0.0])  # along the arm
        across = np.array([sign * math.cos(angle), math.sin(angle), 0.0])  # palm normal, outwards
        forward = np.array([0.0, 0.0, 1.0])
        shoulder = np.array([sign * 0.195, 1.42, -0.01])
        elbow = shoulder + 0.29 * down
        wrist = elbow + 0.26 * down
        hip = np.array([sign * 0.09, 0.93, 0.0])
        knee = np.array([sign * 0.10, 0.52, 0.005])
        calf = np.array([sign * 0.102, 0.40, -0.012])
        ankle = np.array([sign * 0.105, 0.10, -0.02])
        joints.update({f"shoulder_{side}": shoulder, f"elbow_{side}": elbow, f"wrist_{side}": wrist,
                       f"hip_{side}": hip, f"knee_{side}": knee, f"ankle_{side}": ankle})
        parts[f"upper_arm_{side}"] = [_round_cone(shoulder, elbow, 0.052, 0.04)]
        parts[f"forearm_{side}"] = [_round_cone(elbow, wrist, 0.042, 0.028)]
        # a mitten 5 cm thick, 9 cm wide and 18 cm long, palm towards the thigh, thumb forward
        parts[f"hand_{side}"] = [_ellipsoid(wrist + 0.075 * down, [0.025, 0.09, 0.045],
                                            np.column_stack([across, down, forward]))]
        # the index finger runs along the mitten's front edge and pokes 2 cm past it
        parts[f"index_{side}"] = [_round_cone(wrist + 0.10 * down + 0.03 * forward,
                                              wrist + 0.175 * down + 0.028 * forward, 0.011, 0.011)]
        parts[f"thigh_{side}"] = [_round_cone(hip, knee, 0.09, 0.045)]
        # the shin swells from the knee to the calf and tapers to the ankle: two local minima
        parts[f"shin_{side}"] = [_round_cone(knee, calf, 0.045, 0.06), _round_cone(calf, ankle, 0.06, 0.034)]
        parts[f"foot_{side}"] = [_round_box([sign * 0.105, 0.035, 0.04], [0.048, 0.035, 0.13], 0.03)]
    return parts, joints


def _eval(prim: tuple, p: np.ndarray) -> np.ndarray:
    kind = prim[0]
    if kind == "round_cone":
        return sd_round_cone(p, *prim[1:])
    if kind == "ellipsoid":
        return sd_ellipsoid(p, *prim[1:])
    return sd_round_box(p, *prim[1:])


def _scaled(prim: tuple, s: float, shift: np.ndarray) -> tuple:
    kind = prim[0]
    if kind == "round_cone":
        return (kind, s * prim[1] + shift, s * prim[2] + shift, s * prim[3], s * prim[4])
    if kind == "ellipsoid":
        return (kind, s * prim[1] + shift, prim[2], s * prim[3])
    return (kind, s * prim[1] + shift, s * prim[2], s * prim[3])


def _aabb(prim: tuple) -> tuple[np.ndarray, np.ndarray]:
    kind = prim[0]
    if kind == "round_cone":
        _, a, b, r1, r2 = prim
        return np.minimum(a - r1, b - r2), np.maximum(a + r1, b + r2)
    if kind == "ellipsoid":
        _, c, axes, radii = prim
        half = np.sqrt((axes**2) @ (radii**2))
        return c - half, c + half
    _, c, half, _ = prim
    return c - half, c + half


class Humanoid(Form):
    """A standing person of ``height`` [m] (default 1.8), facing +z, relaxed A-pose.

    Parts (``part_names``): head, hair, neck, torso, pelvis, and per side (_l = +x, the figure's
    left; _r = -x) upper_arm, forearm, hand, index (finger), thigh, shin, foot. Colour groups for
    ``colors``: skin (head, neck, hands, index fingers), hair, shirt (torso and arms), trousers
    (pelvis and legs), shoes (feet); part names override their group.
    """

    shape = "humanoid"
    optional_keys = {"height": ("length", "standing height in metres, default 1.8")}
    part_names = ("head", "hair", "neck", "torso", "pelvis",
                  "upper_arm_l", "upper_arm_r", "forearm_l", "forearm_r", "hand_l", "hand_r",
                  "index_l", "index_r", "thigh_l", "thigh_r", "shin_l", "shin_r", "foot_l", "foot_r")
    color_groups = {
        "skin": ("head", "neck", "hand_l", "hand_r", "index_l", "index_r"),
        "hair": ("hair",),
        "shirt": ("torso", "upper_arm_l", "upper_arm_r", "forearm_l", "forearm_r"),
        "trousers": ("pelvis", "thigh_l", "thigh_r", "shin_l", "shin_r"),
        "shoes": ("foot_l", "foot_r"),
    }

    def __init__(self, name: str, height: float = REFERENCE_HEIGHT, color=None, colors=None):
        super().__init__(name, color, colors)
        self.height = float(height)
        """Standing height [m]."""
        s = self.height / REFERENCE_HEIGHT
        self.blend = BLEND * s
        """Smooth-union blend radius [m]."""
        parts, joints = _layout()
        lo, hi = _layout_bounds(parts)
        # shift in z so the bounding box is centred (toes reach further forward than the heels)
        shift = np.array([0.0, 0.0, -0.5 * s * (lo[2] + hi[2])])
        self.hair_depth = HAIR_DEPTH * s
        """Depth [m] under the head's surface that the hair part reaches."""
        self.exact_within = EXACT_WITHIN * s
        """Distance [m] from a primitive's box within which it is evaluated (see ``sdf``)."""
        self._prims = []
        for index, part in enumerate(self.part_names):
            for prim in parts[part]:
                prim = _scaled(prim, s, shift)
                factor = float(prim[3].min() / prim[3].max()) if prim[0] == "ellipsoid" else 1.0
                self._prims.append((index, prim, *_aabb(prim), factor))
        self.joints = {key: s * value + shift for key, value in joints.items()}
        """Joint positions in local coordinates [m], e.g. ``joints["knee_l"]``."""
        self._lo = s * lo + shift
        self._hi = s * hi + shift

    def part_distances(self, p: np.ndarray) -> np.ndarray:
        """Signed distance [m] from local points ``p`` (N, 3) [m] to each part, shape (N, P),
        columns ordered as ``part_names``: the minimum over the part's primitives, except that
        hair owns only a ``hair_depth`` shell under the head's surface. Distances beyond
        ``exact_within`` are reported as ``exact_within``, a lower bound."""
        order, ps = _sorted_by_height(as_points(p))
        # one contiguous row per part: the per-primitive updates touch a row, not a strided column
        rows = np.full((len(self.part_names), len(ps)), self.exact_within)
        for part, near, d in self._near_primitives(ps):
            rows[part, near] = np.minimum(rows[part, near], d)
        hair, head = self.part_names.index("hair"), self.part_names.index("head")
        np.maximum(rows[hair], -rows[head] - self.hair_depth, out=rows[hair])
        result = np.empty_like(rows)
        result[:, order] = rows
        return result.T

    def sdf(self, p, without: tuple[str, ...] = ()):
        """Signed distance [m] at local points ``p`` (N, 3) [m], shape (N,): the smooth union of
        the primitives (of every part not named in ``without``) and of the constant
        ``exact_within`` - ``blend``. So it is 1-Lipschitz everywhere, the union's own value
        within about ``exact_within`` - 3 ``blend`` of the body, and capped near
        ``exact_within`` farther out."""
        order, ps = _sorted_by_height(as_points(p))
        skipped = {self.part_names.index(part) for part in without}
        # Starting the chain at that constant makes skipping far primitives exact: a primitive
        # is skipped only where it is at least exact_within away, and smooth_min ignores a term
        # that exceeds the running value by the blend radius.
        d = np.full(len(ps), self.exact_within - self.blend)
        for part, near, e in self._near_primitives(ps):
            if part not in skipped:
                d[near] = smooth_min(d[near], e, self.blend)
        result = np.empty_like(d)
        result[order] = d
        return result

    def part_of(self, p):
        return np.argmin(self.part_distances(p).T, axis=0)

    def legs(self) -> Legs:
        """The figure's legs: their metal lies within 0.26 m of the centre line (its thighs reach
        0.19 m, its hands hang from 0.37 m out), and it walks in 1.2 m strides lifting each foot
        12 cm (at 1.80 m; scaled with the height)."""
        hip = 0.5 * (self.joints["hip_l"] + self.joints["hip_r"])
        return Legs.declared(hip, float(self.joints["ankle_l"][1]), 0.26 * self.height / REFERENCE_HEIGHT)

    def limb(self, part: str) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
        """The limb that starts at ``part`` (one of ``LIMB_PARTS``, e.g. "forearm_r"): its root
        point [m], its unit direction and the parts it consists of (``part`` and the parts
        beyond it), for part morphs that grow a blade in its place."""
        kind, _, side = part.rpartition("_")
        if kind not in LIMB_PARTS or side not in ("l", "r"):
            raise ValueError(f"{part!r} is not a limb part; limb parts are: {', '.join(self.limb_part_names())}")
        index = self.part_names.index(part)
        start, end = next((prim[1], prim[2]) for p, prim, *_ in self._prims if p == index)
        direction = (end - start) / np.linalg.norm(end - start)
        return start.copy(), direction, (part, *(f"{beyond}_{side}" for beyond in LIMB_PARTS[kind]))

    @classmethod
    def limb_part_names(cls) -> list[str]:
        """Every part a limb can start at (see ``limb``)."""
        return [f"{kind}_{side}" for kind in LIMB_PARTS for side in ("l", "r")]

    def _near_primitives(self, ps: np.ndarray):
        """For points ``ps`` (N, 3) [m] sorted by height, yield (part index, point indices,
        distances [m]) per primitive for the points whose distance to the primitive's box is under
        ``exact_within`` (divided by r_min / r_max for an ellipsoid, whose bound can be that much
        below the true distance). Sorting lets each primitive look only at its own slab of y."""
        heights = ps[:, 1]
        for part, prim, lo, hi, factor in self._prims:
            reach = self.exact_within / factor
            start, stop = np.searchsorted(heights, [lo[1] - reach, hi[1] + reach])
            slab = ps[start:stop]
            gap = np.maximum(np.maximum(lo - slab, slab - hi), 0.0)
            near = np.flatnonzero(np.einsum("ij,ij->i", gap, gap) < reach * reach)
            yield part, near + start, _eval(prim, slab[near])

    def bounds(self):
        return self._lo.copy(), self._hi.copy()

    def volume(self):
        """Volume [m^3]: a lattice count at 5 mm for the 1.80 m figure, scaled by (height / 1.8)^3."""
        return _reference_volume() * (self.height / REFERENCE_HEIGHT) ** 3


LIMB_PARTS = {
    "upper_arm": ("forearm", "hand", "index"),
    "forearm": ("hand", "index"),
    "index": (),
    "thigh": ("shin", "foot"),
    "shin": ("foot",),
}
"""Parts a limb can start at (their first primitive is a round cone from the root joint), each
with the parts beyond it that belong to the limb."""


def _sorted_by_height(p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The permutation sorting points (N, 3) by y, and the sorted points."""
    order = np.argsort(p[:, 1], kind="stable")
    return order, p[order]


def _layout_bounds(parts: dict[str, list[tuple]]) -> tuple[np.ndarray, np.ndarray]:
    """Union of the primitives' boxes [m]. The smooth union may bulge past it by at most BLEND / 4
    where two primitives meet at an extreme, which the layout avoids except at the crown (< 1 mm)."""
    boxes = [_aabb(prim) for prims in parts.values() for prim in prims]
    return np.min([b[0] for b in boxes], axis=0), np.max([b[1] for b in boxes], axis=0)


@functools.cache
def _reference_volume() -> float:
    return estimate_volume(Humanoid("reference"), 0.005)
