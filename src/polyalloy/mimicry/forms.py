"""Forms: the shapes a mimetic body can take, as signed distance functions (SDFs).

A form lives in its own local frame: metres, y up, origin at the centre of the bottom face of
its axis-aligned bounding box (the DESIGN.md contract), so a form placed at ``[0, 0, 0]`` stands
on a floor at y = 0. ``Form.sdf`` is negative inside and is either the exact Euclidean distance
or a conservative one (1-Lipschitz, never larger in magnitude than the true distance), which is
what sphere tracing and the block culling in ``sampling.py`` rely on.

This module holds the ``Form`` base class, the built-in analytic shapes (box, sphere, capsule,
cylinder, torus, blade), the NumPy SDF primitives the procedural humanoid is built from, colour
parsing, and ``make_form``, which turns a scene file's ``[[forms]]`` entry into a ``Form``.
The primitive distance formulas follow Inigo Quilez, "Distance functions"
(https://iquilezles.org/articles/distfunctions/).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np

SILVER = (0.75, 0.77, 0.80)
"""Default form colour: liquid-metal silver, linear RGB in [0, 1]."""

SHAPE_NAMES = ("box", "sphere", "capsule", "cylinder", "torus", "blade", "humanoid")
"""Values accepted for a form's ``shape`` key."""


class FormError(ValueError):
    """A form description is invalid; the message says what is wrong and how to fix it."""


# --------------------------------------------------------------------------------------------
# SDF primitives: NumPy float64, p has shape (N, 3) [m], results have shape (N,) [m].
# --------------------------------------------------------------------------------------------


def as_points(p: np.ndarray) -> np.ndarray:
    """Return ``p`` as a float64 array of shape (N, 3) [m]; raise ValueError for other shapes."""
    p = np.asarray(p, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] != 3:
        raise ValueError(f"points must have shape (N, 3); got {p.shape}")
    return p


def sd_sphere(p: np.ndarray, center: np.ndarray, radius: float) -> np.ndarray:
    """Exact signed distance [m] to a sphere of ``radius`` [m] at ``center`` [m]."""
    return np.linalg.norm(p - center, axis=1) - radius


def sd_round_box(p: np.ndarray, center: np.ndarray, half: np.ndarray, rounding: float) -> np.ndarray:
    """Exact signed distance [m] to an axis-aligned box with half extents ``half`` [m] whose
    edges are rounded with radius ``rounding`` [m] (0 gives a sharp box); the rounding lies
    inside the half extents."""
    q = np.abs(p - center) - (half - rounding)
    outside = np.linalg.norm(np.maximum(q, 0.0), axis=1)
    inside = np.minimum(q.max(axis=1), 0.0)
    return outside + inside - rounding


def sd_round_cone(p: np.ndarray, a: np.ndarray, b: np.ndarray, r1: float, r2: float) -> np.ndarray:
    """Exact signed distance [m] to the convex hull of a sphere of radius ``r1`` at ``a`` and one
    of radius ``r2`` at ``b`` [m] (a capsule when r1 == r2); needs |b - a| > |r1 - r2|."""
    ba = b - a
    l2 = float(ba @ ba)
    rr = r1 - r2
    a2 = l2 - rr * rr
    il2 = 1.0 / l2
    pa = p - a
    y = pa @ ba
    z = y - l2
    x2 = np.sum((pa * l2 - y[:, None] * ba) ** 2, axis=1)
    y2 = y * y * l2
    z2 = z * z * l2
    k = math.copysign(1.0, rr) * rr * rr * x2
    near_b = np.sqrt(x2 + z2) * il2 - r2
    near_a = np.sqrt(x2 + y2) * il2 - r1
    side = (np.sqrt(x2 * a2 * il2) + y * rr) * il2 - r1
    return np.where(np.sign(z) * a2 * z2 > k, near_b, np.where(np.sign(y) * a2 * y2 < k, near_a, side))


def sd_ellipsoid(p: np.ndarray, center: np.ndarray, axes: np.ndarray, radii: np.ndarray) -> np.ndarray:
    """Conservative signed distance [m] to an ellipsoid: ``axes`` (3, 3) holds its unit axes as
    columns, ``radii`` (3,) its semi-axes [m]. (|q/r| - 1) * min(r) is exact on the surface and
    at the centre and 1-Lipschitz everywhere, so it never overstates the distance."""
    q = (p - center) @ axes
    return (np.linalg.norm(q / radii, axis=1) - 1.0) * float(np.min(radii))


def smooth_min(a: np.ndarray, b: np.ndarray, k: float) -> np.ndarray:
    """Quadratic smooth minimum of two distances [m] with blend radius ``k`` [m]: equal to
    min(a, b) where they differ by more than k, at most k/4 below it elsewhere. Its gradient
    is a convex combination of the two inputs' gradients, so it stays 1-Lipschitz."""
    h = np.maximum(k - np.abs(a - b), 0.0) / k
    return np.minimum(a, b) - h * h * (0.25 * k)


# --------------------------------------------------------------------------------------------
# Colours
# --------------------------------------------------------------------------------------------


def parse_color(value, where: str) -> np.ndarray:
    """Parse an RGB colour given as ``[r, g, b]`` (each in [0, 1]) or ``"#rrggbb"``; returns a
    float32 array of shape (3,). ``where`` names the setting in error messages."""
    if isinstance(value, str):
        text = value.strip()
        if len(text) == 7 and text[0] == "#":
            try:
                return np.array([int(text[i : i + 2], 16) for i in (1, 3, 5)], np.float32) / 255.0
            except ValueError:
                pass
        raise FormError(f"{where}: {value!r} is not a colour; write '#rrggbb' (e.g. '#c0c4cc') or [r, g, b] in 0..1")
    try:
        rgb = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        rgb = np.empty(0)
    if rgb.shape != (3,) or not np.all(np.isfinite(rgb)):
        raise FormError(f"{where}: {value!r} is not a colour; write [r, g, b] with each in 0..1, or '#rrggbb'")
    if np.any(rgb < 0.0) or np.any(rgb > 1.0):
        raise FormError(
            f"{where}: {value!r} has components outside 0..1; colours are [r, g, b] in 0..1 "
            "(divide 0..255 values by 255) or '#rrggbb'"
        )
    return rgb.astype(np.float32)


# --------------------------------------------------------------------------------------------
# Form base class
# --------------------------------------------------------------------------------------------


STRIDE_PER_LEG_LENGTH = 1.2 / 0.83
"""Walking stride over leg length [1]: a 1.80 m adult's 1.2 m strides on 0.83 m legs."""

LIFT_PER_LEG_LENGTH = 0.12 / 0.83
"""Height a swinging foot is lifted over leg length [1]: 12 cm on 0.83 m legs."""


@dataclass(frozen=True)
class Legs:
    """Where a form's legs are, in its local frame [m], and how they walk (polyalloy.walk)."""

    hip: np.ndarray
    """Midpoint of the hip joints."""
    leg_length: float
    """Height of the hips over the ankles."""
    half_width: float
    """Farthest a leg's metal lies from the centre line x = 0 (the hands hang farther out)."""
    stride: float
    """Length of a walking stride, two steps [m]."""
    lift: float
    """Height a swinging foot is lifted [m]."""

    @classmethod
    def declared(cls, hip: np.ndarray, ankle_height: float, half_width: float,
                 stride: float | None = None, lift: float | None = None) -> "Legs":
        """Legs with their hip point and ankle height [m]; the stride and lift by default in a
        walking adult's proportions to the leg length (1.2 m and 12 cm on 0.83 m legs)."""
        length = float(hip[1] - ankle_height)
        return cls(hip, length, half_width, stride or STRIDE_PER_LEG_LENGTH * length, lift or LIFT_PER_LEG_LENGTH * length)

    def scaled(self, factor: float) -> "Legs":
        """The same legs on the form scaled uniformly by `factor` about its origin."""
        return Legs(factor * self.hip, factor * self.leg_length, factor * self.half_width,
                    factor * self.stride, factor * self.lift)


class Form:
    """A shape a body can take, in local coordinates [m] (y up, origin at the bottom-face centre
    of the bounding box), with a colour per named part.

    Subclasses implement ``sdf``, ``bounds`` and ``volume``; multi-part forms also override
    ``part_names`` and ``part_of``.
    """

    shape: ClassVar[str] = ""
    size_keys: ClassVar[dict[str, tuple[str, str]]] = {}
    """Required scene keys: key -> (kind, description); kind is "length", "vec3" or "factor"."""
    optional_keys: ClassVar[dict[str, tuple[str, str]]] = {}
    """Optional scene keys, same layout as ``size_keys``."""
    part_names: tuple[str, ...] = ("body",)
    color_groups: ClassVar[dict[str, tuple[str, ...]]] = {}
    """Names accepted in ``colors`` besides part names, each standing for several parts."""

    def __init__(self, name: str, color=None, colors: dict | None = None):
        self.name = name
        self.part_colors = self._resolve_colors(color, colors)
        """Colour of each part, float32 RGB in [0, 1], shape (len(part_names), 3)."""
        self.declared_legs: Legs | None = None
        """Legs a scene gave the form (a mesh's `legs` table), for forms that do not know their own."""

    @classmethod
    def from_params(cls, name: str, params: dict, color=None, colors: dict | None = None) -> Form:
        """Build the form from a scene file's size keys (lengths in metres), validating them."""
        return cls(name, **check_size_keys(name, cls.shape, params, cls.size_keys, cls.optional_keys),
                   color=color, colors=colors)

    def sdf(self, p: np.ndarray) -> np.ndarray:
        """Signed distance [m] at local points ``p`` (N, 3) [m]; negative inside, shape (N,)."""
        raise NotImplementedError

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Local axis-aligned bounding box (lo, hi) [m]: lo.y == 0, centred in x and z."""
        raise NotImplementedError

    def volume(self) -> float:
        """Volume enclosed by the form [m^3]."""
        raise NotImplementedError

    def part_of(self, p: np.ndarray) -> np.ndarray:
        """Index into ``part_names`` of the part nearest each local point ``p`` (N, 3) [m]; (N,) int64."""
        return np.zeros(len(as_points(p)), dtype=np.int64)

    def legs(self) -> Legs | None:
        """The form's legs, if it walks on any (None: a move glides it)."""
        return self.declared_legs

    def color_at(self, p: np.ndarray) -> np.ndarray:
        """Colour at local points ``p`` (N, 3) [m]: float32 RGB in [0, 1], shape (N, 3)."""
        return self.part_colors[self.part_of(p)]

    def __repr__(self) -> str:
        lo, hi = self.bounds()
        return f"{type(self).__name__}({self.name!r}, extents={np.round(hi - lo, 4).tolist()} m)"

    def _resolve_colors(self, color, colors: dict | None) -> np.ndarray:
        """Per-part colours: ``color`` for every part (silver if None), then ``colors`` entries,
        group names first and part names after, so a part name overrides its group."""
        where = f"form {self.name!r}"
        base = SILVER if color is None else color
        out = np.tile(parse_color(base, f"{where}.color"), (len(self.part_names), 1))
        if not colors:
            return out
        if not isinstance(colors, dict):
            raise FormError(f"{where}.colors must be a table mapping part names to colours; got {colors!r}")
        valid = list(dict.fromkeys([*self.color_groups, *self.part_names]))
        unknown = [key for key in colors if key not in valid]
        if unknown:
            raise FormError(
                f"{where}.colors: unknown part {', '.join(map(repr, unknown))}; "
                f"this {self.shape or 'mesh'} form has: {', '.join(valid)}"
            )
        index = {part: i for i, part in enumerate(self.part_names)}
        for key in sorted(colors, key=lambda key: key in index):
            rgb = parse_color(colors[key], f"{where}.colors.{key}")
            for part in self.color_groups.get(key, (key,)):
                out[index[part]] = rgb
        return out


def check_size_keys(name: str, shape: str, params: dict, required: dict, optional: dict) -> dict:
    """Validate a form's size keys and return them as floats (or float arrays for "vec3")."""
    params = {key: value for key, value in (params or {}).items() if value is not None}
    where = f"form {name!r} (shape {shape!r})" if shape else f"form {name!r}"
    known = {**required, **optional}
    unknown = sorted(set(params) - set(known))
    if unknown:
        accepted = ", ".join(known) if known else "none"
        raise FormError(f"{where}: unknown key {', '.join(map(repr, unknown))}; accepted keys: {accepted}")
    out = {}
    for key, (kind, description) in known.items():
        if key not in params:
            if key in required:
                example = "[0.4, 0.6, 0.3]" if kind == "vec3" else "0.3"
                raise FormError(f"{where} needs '{key}' ({description}), e.g. {key} = {example}")
            continue
        value = params[key]
        if kind == "vec3":
            ok = (isinstance(value, (list, tuple, np.ndarray)) and len(value) == 3
                  and all(_is_number(v) for v in value))
            if not ok:
                raise FormError(f"{where}: '{key}' must be three numbers [x, y, z] in metres; got {value!r}")
            arr = np.asarray(value, dtype=np.float64)
            if not np.all(arr > 0.0):
                raise FormError(f"{where}: every component of '{key}' must be > 0 m; got {value!r}")
            out[key] = arr
        else:
            if not _is_number(value):
                raise FormError(f"{where}: '{key}' must be a number ({description}); got {value!r}")
            if not value > 0.0:
                raise FormError(f"{where}: '{key}' must be > 0 ({description}); got {value!r}")
            out[key] = float(value)
    return out


def _is_number(value) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool) \
        and math.isfinite(float(value))


# --------------------------------------------------------------------------------------------
# Built-in analytic shapes
# --------------------------------------------------------------------------------------------


class Box(Form):
    """Axis-aligned box with full extents ``size`` = [x, y, z] [m]; exact SDF."""

    shape = "box"
    size_keys = {"size": ("vec3", "full extents [x, y, z] in metres")}

    def __init__(self, name: str, size, color=None, colors=None):
        super().__init__(name, color, colors)
        self.size = np.asarray(size, dtype=np.float64)
        self._center = np.array([0.0, 0.5 * self.size[1], 0.0])

    def sdf(self, p):
        return sd_round_box(as_points(p), self._center, 0.5 * self.size, 0.0)

    def bounds(self):
        h = 0.5 * self.size
        return np.array([-h[0], 0.0, -h[2]]), np.array([h[0], self.size[1], h[2]])

    def volume(self):
        return float(np.prod(self.size))


class Sphere(Form):
    """Sphere of ``radius`` [m]; exact SDF."""

    shape = "sphere"
    size_keys = {"radius": ("length", "radius in metres")}

    def __init__(self, name: str, radius: float, color=None, colors=None):
        super().__init__(name, color, colors)
        self.radius = float(radius)
        self._center = np.array([0.0, self.radius, 0.0])

    def sdf(self, p):
        return sd_sphere(as_points(p), self._center, self.radius)

    def bounds(self):
        r = self.radius
        return np.array([-r, 0.0, -r]), np.array([r, 2.0 * r, r])

    def volume(self):
        return 4.0 / 3.0 * math.pi * self.radius**3


class Capsule(Form):
    """Capsule standing along y: a cylinder of ``radius`` [m] whose axis segment between the two
    hemisphere centres is ``length`` [m] long, so its total height is length + 2 radius; exact SDF."""

    shape = "capsule"
    size_keys = {
        "radius": ("length", "radius in metres"),
        "length": ("length", "length of the straight part between the hemisphere centres, in metres; "
                             "total height = length + 2 radius"),
    }

    def __init__(self, name: str, radius: float, length: float, color=None, colors=None):
        super().__init__(name, color, colors)
        self.radius = float(radius)
        self.length = float(length)
        self._a = np.array([0.0, self.radius, 0.0])
        self._b = np.array([0.0, self.radius + self.length, 0.0])

    def sdf(self, p):
        return sd_round_cone(as_points(p), self._a, self._b, self.radius, self.radius)

    def bounds(self):
        r = self.radius
        return np.array([-r, 0.0, -r]), np.array([r, self.length + 2.0 * r, r])

    def volume(self):
        r = self.radius
        return math.pi * r * r * self.length + 4.0 / 3.0 * math.pi * r**3


class Cylinder(Form):
    """Flat-capped cylinder standing along y, ``radius`` [m] and total height ``length`` [m]; exact SDF."""

    shape = "cylinder"
    size_keys = {
        "radius": ("length", "radius in metres"),
        "length": ("length", "total height along y in metres"),
    }

    def __init__(self, name: str, radius: float, length: float, color=None, colors=None):
        super().__init__(name, color, colors)
        self.radius = float(radius)
        self.length = float(length)

    def sdf(self, p):
        p = as_points(p)
        dr = np.hypot(p[:, 0], p[:, 2]) - self.radius
        dy = np.abs(p[:, 1] - 0.5 * self.length) - 0.5 * self.length
        return np.minimum(np.maximum(dr, dy), 0.0) + np.hypot(np.maximum(dr, 0.0), np.maximum(dy, 0.0))

    def bounds(self):
        r = self.radius
        return np.array([-r, 0.0, -r]), np.array([r, self.length, r])

    def volume(self):
        return math.pi * self.radius**2 * self.length


class Torus(Form):
    """Ring torus lying in the xz plane: ``major_radius`` [m] from the y axis to the tube's
    centre line, tube radius ``minor_radius`` [m] (must be smaller); exact SDF."""

    shape = "torus"
    size_keys = {
        "major_radius": ("length", "distance from the centre to the middle of the tube, in metres"),
        "minor_radius": ("length", "radius of the tube in metres"),
    }

    def __init__(self, name: str, major_radius: float, minor_radius: float, color=None, colors=None):
        if not minor_radius < major_radius:
            raise FormError(
                f"form {name!r} (shape 'torus'): minor_radius ({minor_radius} m) must be smaller than "
                f"major_radius ({major_radius} m), or the ring has no hole; use a sphere or cylinder instead"
            )
        super().__init__(name, color, colors)
        self.major_radius = float(major_radius)
        self.minor_radius = float(minor_radius)

    def sdf(self, p):
        p = as_points(p)
        q = np.hypot(p[:, 0], p[:, 2]) - self.major_radius
        return np.hypot(q, p[:, 1] - self.minor_radius) - self.minor_radius

    def bounds(self):
        R = self.major_radius + self.minor_radius
        return np.array([-R, 0.0, -R]), np.array([R, 2.0 * self.minor_radius, R])

    def volume(self):
        return 2.0 * math.pi**2 * self.major_radius * self.minor_radius**2


BLADE_TIP_WIDTHS = 1.5
"""Default length of a blade's tapered point, in widths [-]."""


class Blade(Form):
    """Flat, pointed, double-edged blade standing along y, point up.

    ``width`` [m] runs along x, ``thickness`` [m] along z, ``length`` [m] along y. The cross
    section is a rhombus (thick spine in the middle, both edges sharp); the top ``tip_length``
    [m] (default min(1.5 width, length / 2)) narrows linearly to a point in both x and z; the
    bottom face is flat. The solid is convex, so the SDF is the largest signed distance to its
    nine bounding planes: exact inside, conservative outside.
    """

    shape = "blade"
    size_keys = {
        "length": ("length", "length along y in metres, including the point"),
        "width": ("length", "width across both edges (x) in metres"),
        "thickness": ("length", "thickness at the spine (z) in metres"),
    }
    optional_keys = {"tip_length": ("length", "length of the tapered point in metres")}

    def __init__(self, name: str, length: float, width: float, thickness: float,
                 tip_length: float | None = None, color=None, colors=None):
        tip = min(BLADE_TIP_WIDTHS * width, 0.5 * length) if tip_length is None else float(tip_length)
        if tip > length:
            raise FormError(f"form {name!r} (shape 'blade'): tip_length ({tip} m) must not exceed length ({length} m)")
        super().__init__(name, color, colors)
        self.length, self.width, self.thickness, self.tip_length = float(length), float(width), float(thickness), tip
        a, b, h = 0.5 * self.width, 0.5 * self.thickness, self.tip_length
        # the faces are |x|/a + |z|/b = 1 (edges) and |x|/a + |z|/b + (y - tip_start)/h = 1
        # (point); dividing by the norm of each left-hand side's gradient makes them distances
        self._edge_scale = 1.0 / math.hypot(1.0 / a, 1.0 / b)
        self._tip_scale = 1.0 / math.sqrt(1.0 / a**2 + 1.0 / b**2 + 1.0 / h**2)
        self._tip_start = self.length - h

    def sdf(self, p):
        p = as_points(p)
        ax, az, y = np.abs(p[:, 0]), np.abs(p[:, 2]), p[:, 1]
        a, b, h = 0.5 * self.width, 0.5 * self.thickness, self.tip_length
        edge = (ax / a + az / b - 1.0) * self._edge_scale
        tip = (ax / a + az / b + (y - self._tip_start) / h - 1.0) * self._tip_scale
        return np.maximum(np.maximum(edge, tip), -y)

    def bounds(self):
        a, b = 0.5 * self.width, 0.5 * self.thickness
        return np.array([-a, 0.0, -b]), np.array([a, self.length, b])

    def volume(self):
        # rhombus area (width * thickness / 2) times the straight part plus a third of the point
        return 0.5 * self.width * self.thickness * (self._tip_start + self.tip_length / 3.0)


# --------------------------------------------------------------------------------------------
# Scene entry -> Form
# --------------------------------------------------------------------------------------------


def make_form(name: str, shape: str | None, mesh: str | Path | None, params: dict, color,
              colors: dict | None, base_dir: Path) -> Form:
    """Build a form from a scene file's ``[[forms]]`` entry.

    Exactly one of ``shape`` (one of ``SHAPE_NAMES``) or ``mesh`` (a path relative to
    ``base_dir``, the scene file's folder) is given; ``params`` holds the size keys in metres
    (keys whose value is None are ignored); ``color`` is [r, g, b] in [0, 1] or "#rrggbb"
    (default silver); ``colors`` maps part or group names to colours. Raises ``FormError``.
    """
    # imported here because both modules build on this one
    from polyalloy.mimicry.humanoid import Humanoid
    from polyalloy.mimicry.meshes import MeshForm

    if (shape is None) == (mesh is None):
        raise FormError(
            f"form {name!r}: give exactly one of shape = \"...\" ({', '.join(SHAPE_NAMES)}) "
            f"or mesh = \"path/to/file.obj\"; got {'both' if shape is not None else 'neither'}"
        )
    if mesh is not None:
        return MeshForm.from_file(name, mesh, base_dir, params, color, colors)
    classes = {cls.shape: cls for cls in (Box, Sphere, Capsule, Cylinder, Torus, Blade, Humanoid)}
    if shape not in classes:
        raise FormError(f"form {name!r}: unknown shape {shape!r}; known shapes: {', '.join(SHAPE_NAMES)}")
    return classes[shape].from_params(name, params, color, colors)


class Scaled(Form):
    """`base` scaled uniformly by `factor` about its origin (a morph with fit = true)."""

    shape = "scaled"

    def __init__(self, base: Form, factor: float):
        self.base = base
        self.factor = float(factor)
        self.name = f"{base.name}×{self.factor:.3g}"
        self.part_names = base.part_names
        self.part_colors = base.part_colors

    def sdf(self, p):
        return self.factor * self.base.sdf(as_points(p) / self.factor)

    def bounds(self):
        lo, hi = self.base.bounds()
        return self.factor * lo, self.factor * hi

    def volume(self):
        return self.factor**3 * self.base.volume()

    def part_of(self, p):
        return self.base.part_of(as_points(p) / self.factor)

    def legs(self):
        legs = self.base.legs()
        return None if legs is None else legs.scaled(self.factor)
