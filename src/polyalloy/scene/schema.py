"""The scene file: a TOML document, its pydantic schema and its validation.

A scene names the simulation domain and settings (``[scene]``), quality presets
(``[quality]``), the preview camera (``[render]``), the shapes bodies can take
(``[[forms]]``), the bodies of liquid metal (``[[bodies]]``), solid obstacles
(``[[colliders]]``), analytic pools, emitters and heaters, and the timeline
(``[[events]]``). The keys and their meanings are the contract of DESIGN.md, "Scene file".

Units: lengths in metres, times in seconds, temperatures in °C, angles in degrees.

Validation happens in two passes so that a user sees every mistake at once:

1. pydantic validates each key (types, ranges, unknown keys, the keys each shape needs);
   every table is strict (``extra="forbid"``, no silent string-to-number coercion).
2. :func:`cross_check` checks what spans tables: unique names, references between tables,
   event times within the duration, body origins inside the domain and the grid's memory.
   It runs on the validated scene, and also on the raw data when pass 1 failed, so
   references are still reported when some other key is wrong.

Build scenes with :meth:`Scene.load` or :meth:`Scene.from_dict`; both raise
:class:`~polyalloy.scene.errors.SceneError` listing every problem.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, Union, get_args

import tomli_w
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    Strict,
    ValidationError,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from polyalloy.materials import MATERIALS
from polyalloy.scene.errors import Loc, SceneError, format_loc, format_validation_error, problems_error

ABSOLUTE_ZERO_C = -273.15
"""Absolute zero [°C]; no temperature in a scene may be below it."""

GRID_BYTES_PER_NODE = 64
"""Estimated device memory per grid node [bytes]: mass, momentum, velocity, temperature and
heat fields of float32/float64 (a field per node)."""

GRID_PADDING_NODES = 3
"""Nodes added per axis beyond domain/cell: the quadratic B-spline stencil of boundary particles."""

GRID_MEMORY_LIMIT = 16 * 2**30
"""Largest grid a scene may ask for [bytes] (16 GiB): beyond it the run would not fit a GPU."""

QUALITY_LEVELS = ("draft", "final")
"""Names of the quality presets a scene may define in ``[quality]``."""

"""Polished chrome, the colour of a form that names none."""

DEFAULT_SURFACE_COLOR = (0.5, 0.5, 0.5)
"""Mid grey, the colour of a collider surface that names none."""


# ----------------------------------------------------------------------------- value types


def _not_below_absolute_zero(value: float) -> float:
    if value < ABSOLUTE_ZERO_C:
        raise PydanticCustomError(
            "below_absolute_zero", "{value} °C is below absolute zero (-273.15 °C)", {"value": value}
        )
    return value


def _known_material(value: str) -> str:
    if value not in MATERIALS:
        raise PydanticCustomError(
            "unknown_material",
            "no material named '{name}'; materials are: {known}",
            {"name": value, "known": ", ".join(MATERIALS)},
        )
    return value


def _parse_hex_color(value: Any) -> Any:
    """'#rrggbb' → (r, g, b) in 0..1; anything else is left to the tuple validator."""
    if not isinstance(value, str):
        return value
    if not re.fullmatch(r"#[0-9a-fA-F]{6}", value):
        raise PydanticCustomError(
            "color", "a colour is '#rrggbb' or [r, g, b] in 0..1, not '{value}'", {"value": value}
        )
    return tuple(int(value[i : i + 2], 16) / 255.0 for i in (1, 3, 5))


def _existing_file(value: Path, info: ValidationInfo) -> Path:
    """Resolve a path against the scene file's directory and require the file to exist."""
    base = Path((info.context or {}).get("base_dir") or Path.cwd())
    path = (base / value.expanduser()).resolve()
    if not path.is_file():
        raise PydanticCustomError(
            "file_not_found", "no file {path} (paths are relative to the scene file)", {"path": str(path)}
        )
    return path


# TOML arrays arrive as lists; tuples are kept lax so they accept them (every other type is strict).
Vec3 = Annotated[tuple[float, float, float], Strict(False)]
"""Three floats [x, y, z]."""
_Positive = Annotated[float, Field(gt=0)]
Size3 = Annotated[tuple[_Positive, _Positive, _Positive], Strict(False)]
"""Three positive extents [x, y, z] [m]."""
Keyframe = Annotated[tuple[float, float, float, float], Strict(False)]
"""A keyframe [t, x, y, z]: time [s] and position [m]."""
_Unit = Annotated[float, Field(ge=0, le=1)]
Color = Annotated[
    tuple[_Unit, _Unit, _Unit],
    Strict(False),
    BeforeValidator(_parse_hex_color),
    WithJsonSchema(
        {
            "anyOf": [
                {
                    "type": "array",
                    "items": {"type": "number", "minimum": 0, "maximum": 1},
                    "minItems": 3,
                    "maxItems": 3,
                },
                {"type": "string", "pattern": "^#[0-9a-fA-F]{6}$"},
            ]
        }
    ),
]
"""A colour: [r, g, b] in 0..1, or '#rrggbb' (converted to [r, g, b])."""
Celsius = Annotated[
    float,
    AfterValidator(_not_below_absolute_zero),
    WithJsonSchema({"type": "number", "minimum": ABSOLUTE_ZERO_C}),
]
"""A temperature [°C], not below absolute zero."""
MaterialName = Annotated[
    str, AfterValidator(_known_material), WithJsonSchema({"type": "string", "enum": list(MATERIALS)})
]
"""The name of a material preset (``polyalloy.materials.MATERIALS``)."""
FilePath = Annotated[Path, Strict(False), AfterValidator(_existing_file), WithJsonSchema({"type": "string"})]
"""A file, relative to the scene file; resolved to an absolute path when validated."""
Pixels = Annotated[int, Field(ge=16, le=7680)]
ImageSize = Annotated[tuple[Pixels, Pixels], Strict(False)]
"""Image size [width, height] [pixels]."""
ParticlesPerCell = Literal[1, 8, 27, 64]
"""Particles sampled per grid cell (a cube number: 1, 2, 3 or 4 per axis)."""


class _Spec(BaseModel):
    """Base of every scene table: unknown keys and wrongly typed values are errors, never
    silently dropped or coerced (a typo must fail at the key that is wrong)."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)


# ----------------------------------------------------------------------------- [scene], [quality], [render]


class SceneSettings(_Spec):
    """``[scene]``: the simulation domain and global settings."""

    name: str = Field(min_length=1, description="Name of the scene (for titles and run directories).")
    duration: float = Field(gt=0, description="Simulated time [s].")
    fps: float = Field(24.0, gt=0, description="Output frames per simulated second [1/s].")
    domain: Annotated[tuple[Vec3, Vec3], Strict(False)] = Field(
        description="Simulation box [[x0, y0, z0], [x1, y1, z1]]: lower and upper corners [m]; y is up."
    )
    cell: float = Field(gt=0, description="Grid cell edge length [m].")
    gravity: Vec3 = Field((0.0, -9.81, 0.0), description="Gravitational acceleration [m/s²].")
    ambient: Celsius = Field(
        20.0, description="Ambient temperature [°C]: walls, and anything given no temperature."
    )
    seed: int = Field(0, ge=0, description="Random seed (integer) for particle sampling and anything random.")
    heat_transfer_scale: float = Field(
        1.0,
        ge=0,
        description="Factor on every thermal conductivity (dimensionless); >1 speeds heat transfer up.",
    )
    air_heat_transfer: float = Field(
        10.0,
        ge=0,
        description="Heat transfer coefficient between matter and the still air around it [W/(m²·K)] "
        "(natural convection: 5–25), toward scene.ambient. heat_transfer_scale does not multiply it: the "
        "film's fast freeze is by contact, while metal in air takes hours to change temperature. 0: no air.",
    )
    cfl: float = Field(
        0.4,
        gt=0,
        le=1,
        description="CFL number (dimensionless): fraction of a cell the fastest wave may cross per substep.",
    )
    walls: Literal["slip", "sticky", "separate"] = Field(
        "slip", description="Boundary condition of the domain's six walls (slip, sticky or separate)."
    )
    wall_friction: float = Field(
        0.0, ge=0, description="Coulomb friction coefficient of the domain's walls (dimensionless)."
    )
    sound_speed: float | None = Field(
        None,
        gt=0,
        le=2000,
        description="Artificial sound speed of every liquid in the scene [m/s], in place of the presets' 20 m/s. "
        "Liquids are weakly compressible: their density varies by about (u/c)² at flow speed u, and a "
        "slow c lets fast flows run ahead (the dam break's front leads by 12 % at 20 m/s, 5 % at 100). "
        "Cost grows in proportion: substeps per second scale with c.",
    )

    @field_validator("domain")
    @classmethod
    def _upper_corner_above_lower(cls, domain: tuple[Vec3, Vec3]) -> tuple[Vec3, Vec3]:
        lo, hi = domain
        flat = [axis for axis, a, b in zip("xyz", lo, hi) if b <= a]
        if flat:
            raise PydanticCustomError(
                "empty_domain",
                "the upper corner must be above the lower one on every axis; it is not on {axes}",
                {"axes": ", ".join(flat)},
            )
        return domain


class QualityOverride(_Spec):
    """``[quality.draft]`` / ``[quality.final]``: values replacing the scene's at that quality."""

    cell: float | None = Field(None, gt=0, description="Grid cell edge length [m] replacing scene.cell.")
    particles_per_cell: ParticlesPerCell | None = Field(
        None, description="Particles per cell (1, 8, 27 or 64) replacing every body's and emitter's."
    )
    size: ImageSize | None = Field(
        None, description="Render size [width, height] [pixels] replacing render.size."
    )
    fps: float | None = Field(
        None, gt=0, description="Output frames per simulated second [1/s] replacing scene.fps (fewer frames to write and render)."
    )


class QualitySettings(_Spec):
    """``[quality]``: named presets; ``polyalloy run --quality NAME`` applies one."""

    draft: QualityOverride | None = Field(None, description="Fast preview settings.")
    final: QualityOverride | None = Field(
        None, description="Production settings (none: the scene as written)."
    )


class Camera(_Spec):
    """``[render].camera``: a pinhole camera looking from `eye` at `target`, y up."""

    eye: Vec3 = Field(description="Camera position [m].")
    target: Vec3 = Field(description="Point the camera looks at [m].")
    fov: float = Field(40.0, ge=1, le=170, description="Vertical field of view [degrees].")

    @model_validator(mode="after")
    def _looks_somewhere(self) -> Camera:
        if self.eye == self.target:
            raise problems_error([(("target",), "the camera's target is its eye; they must differ")])
        return self


class RenderSettings(_Spec):
    """``[render]``: the preview renderer."""

    camera: Camera | None = Field(
        None, description="Preview camera; none: framed on the domain automatically."
    )
    size: ImageSize = Field((640, 360), description="Image size [width, height] [pixels], each 16..7680.")
    particle_radius: float | None = Field(
        None, gt=0, description="Drawn particle radius [m]; none: derived from the particle spacing."
    )
    every: int = Field(1, ge=1, description="Render every n-th output frame (integer ≥ 1).")


# ----------------------------------------------------------------------------- shapes (forms and colliders)


def _mesh_key_means_mesh_shape(value: Any) -> Any:
    """``mesh = "path"`` alone stands for ``shape = "mesh", mesh = "path"``."""
    if isinstance(value, dict) and "mesh" in value:
        shape = value.get("shape", "mesh")
        if shape != "mesh":
            raise PydanticCustomError(
                "shape_and_mesh",
                "give either shape = '{shape}' or mesh = \"path\", not both",
                {"shape": shape},
            )
        return {**value, "shape": "mesh"}
    return value


def _tagged_union(kinds: tuple[type[BaseModel], ...], tag: str, *validators: Any) -> Any:
    """A union of `kinds` told apart by their Literal field `tag`."""
    return Annotated[Union[kinds], Field(discriminator=tag), *validators]


def _tag_of(kind: type[BaseModel], tag: str) -> str:
    return get_args(kind.model_fields[tag].annotation)[0]


class _FormBase(_Spec):
    name: str = Field(min_length=1, description="Unique name of the form, used by bodies and events.")
    # Each shape re-declares `shape` as its Literal tag; declaring it here puts it second in
    # the resolved TOML, after the name.
    shape: str = Field(description="Shape of the form, or 'mesh' (implied by a `mesh` key).")
    color: Color | None = Field(
        None,
        description="Colour of the form: [r, g, b] in 0..1 or '#rrggbb'; none: liquid-metal silver, or a mesh's own vertex colours.",
    )
    colors: dict[str, Color] = Field(
        default_factory=dict,
        description="Colours of named parts (part name → colour); other parts take `color`.",
    )


class HumanoidForm(_FormBase):
    """A procedural human figure standing along +y, facing +z."""

    shape: Literal["humanoid"]
    height: float = Field(1.8, gt=0, description="Standing height [m].")


class SphereForm(_FormBase):
    """A ball."""

    shape: Literal["sphere"]
    radius: float = Field(gt=0, description="Sphere radius [m].")


class BoxForm(_FormBase):
    """An axis-aligned box."""

    shape: Literal["box"]
    size: Size3 = Field(description="Full extents [x, y, z] of the box [m].")


class CapsuleForm(_FormBase):
    """A cylinder with hemispherical caps, axis along y."""

    shape: Literal["capsule"]
    radius: float = Field(gt=0, description="Radius of the capsule [m].")
    length: float = Field(
        gt=0, description="Distance between the centres of the two caps [m] (total height length + 2·radius)."
    )


class CylinderForm(_FormBase):
    """A solid cylinder, axis along y."""

    shape: Literal["cylinder"]
    radius: float = Field(gt=0, description="Radius of the cylinder [m].")
    length: float = Field(gt=0, description="Height of the cylinder along its axis [m].")


class TorusForm(_FormBase):
    """A ring lying in the xz plane (axis along y)."""

    shape: Literal["torus"]
    major_radius: float = Field(gt=0, description="Distance from the torus centre to the tube centre [m].")
    minor_radius: float = Field(gt=0, description="Radius of the tube [m]; less than major_radius.")

    @model_validator(mode="after")
    def _has_a_hole(self) -> TorusForm:
        if self.minor_radius >= self.major_radius:
            raise problems_error(
                [(("minor_radius",), "must be less than major_radius, or the ring has no hole")]
            )
        return self


class BladeForm(_FormBase):
    """A flat blade standing along y: long in y, wide in x, thin in z."""

    shape: Literal["blade"]
    length: float = Field(gt=0, description="Length of the blade along y [m].")
    width: float = Field(gt=0, description="Width of the blade along x [m].")
    thickness: float = Field(gt=0, description="Thickness of the blade along z [m].")


class LegsSpec(_Spec):
    """A mesh form's legs, so that a move with walk = true walks it (the humanoid knows its own)."""

    hip: Vec3 = Field(
        description="Midpoint of the hip joints in the form's frame [m] (origin at its bottom-face centre, y up, "
        "facing +z, its left +x); the metal below it and within half_width of it across is legs.",
    )
    ankle_height: float = Field(gt=0, description="Height of the ankles above the soles [m]; below them a leg takes its whole step.")
    half_width: float = Field(gt=0, description="Farthest the legs' metal lies from the hip point across the form (x) [m].")
    stride: float | None = Field(None, gt=0, description="Length of a walking stride, two steps [m]; default 1.45 × the leg length.")
    lift: float | None = Field(None, gt=0, description="Height a swinging foot is lifted [m]; default 0.145 × the leg length.")

    @model_validator(mode="after")
    def _ankles_below_hips(self) -> LegsSpec:
        if self.ankle_height >= self.hip[1]:
            raise problems_error([(("ankle_height",), f"must be below the hip point's height, {self.hip[1]:g} m")])
        return self


class MeshForm(_FormBase):
    """A closed triangle mesh read from a file (any format trimesh reads)."""

    shape: Literal["mesh"] = "mesh"
    mesh: FilePath = Field(description="Mesh file, relative to the scene file.")
    scale: float = Field(1.0, gt=0, description="Uniform scale from mesh units to metres (dimensionless).")
    legs: LegsSpec | None = Field(None, description="Its legs, if it walks (a move with walk = true); none: it glides.")


FORM_KINDS = (HumanoidForm, SphereForm, BoxForm, CapsuleForm, CylinderForm, TorusForm, BladeForm, MeshForm)
"""Every form shape; a new shape is a class here (its `shape` Literal is its tag)."""
FormSpec = _tagged_union(FORM_KINDS, "shape", BeforeValidator(_mesh_key_means_mesh_shape))
"""One ``[[forms]]`` table: a form of any shape, told apart by ``shape``."""


class SurfaceSpec(_Spec):
    """A collider's surface: friction and the pattern bodies can camouflage to."""

    friction: float = Field(0.3, ge=0, description="Coulomb friction coefficient (dimensionless).")
    pattern: Literal["solid", "checker", "stripes", "image"] = Field("solid", description="Surface pattern.")
    colors: list[Color] = Field(
        default_factory=lambda: [DEFAULT_SURFACE_COLOR],
        min_length=1,
        description="Colours of the pattern, [r, g, b] in 0..1 or '#rrggbb'; patterns cycle through them.",
    )
    scale: float = Field(0.1, gt=0, description="Checker square or stripe width, or the image's width [m].")
    image: FilePath | None = Field(
        None, description="Image file for pattern = 'image', relative to the scene file."
    )

    @model_validator(mode="after")
    def _image_iff_image_pattern(self) -> SurfaceSpec:
        if self.pattern == "image" and self.image is None:
            raise problems_error([(("image",), "pattern = 'image' needs image = \"path\"")])
        if self.pattern != "image" and self.image is not None:
            raise problems_error(
                [(("image",), f"an image is only used with pattern = 'image', not {self.pattern!r}")]
            )
        return self


class MotionSpec(_Spec):
    """How a collider moves: constant velocities, or keyframes of its origin (not both)."""

    velocity: Vec3 | None = Field(None, description="Constant velocity of the origin [m/s].")
    angular_velocity: float | None = Field(
        None, description="Constant spin about the y axis through the origin [degrees/s]."
    )
    path: list[Keyframe] | None = Field(
        None,
        min_length=2,
        description="Keyframes [[t, x, y, z], …] of the origin: times [s] increasing, positions [m].",
    )

    @model_validator(mode="after")
    def _one_kind_of_motion(self) -> MotionSpec:
        if self.path is None:
            self.velocity = self.velocity if self.velocity is not None else (0.0, 0.0, 0.0)
            self.angular_velocity = self.angular_velocity if self.angular_velocity is not None else 0.0
            return self
        problems: list[tuple[Loc, str]] = [
            ((key,), "give either velocity/angular_velocity or path, not both")
            for key in ("velocity", "angular_velocity")
            if getattr(self, key) is not None
        ]
        problems += [
            (("path", i, 0), f"keyframe times must increase strictly; {key[0]:g} s follows {prev[0]:g} s")
            for i, (prev, key) in enumerate(zip(self.path, self.path[1:]), start=1)
            if key[0] <= prev[0]
        ]
        if problems:
            raise problems_error(problems)
        return self


class _ColliderBase(_Spec):
    name: str = Field(min_length=1, description="Unique name of the collider.")
    shape: str = Field(description="Shape of the collider (each shape re-declares it as its tag).")
    position: Vec3 = Field(
        (0.0, 0.0, 0.0),
        description="Where the shape's origin (centre of its bounding box's bottom face) is placed [m].",
    )
    rotation: float = Field(0.0, description="Rotation about the y axis through the origin [degrees].")
    boundary: Literal["sticky", "slip", "separate"] = Field(
        "separate", description="Contact condition: sticky, slip, or separate (may leave the surface)."
    )
    surface: SurfaceSpec = Field(
        default_factory=SurfaceSpec, description="Friction and appearance of the surface."
    )
    temperature: Celsius | None = Field(
        None, description="Fixed surface temperature [°C]; none: scene.ambient."
    )
    heat_transfer_scale: float | None = Field(
        None,
        gt=0,
        description="Multiplier of conduction across its surface instead of scene.heat_transfer_scale; none: the "
        "scene's (1: a floor that does not boil a spill off in a second when the scene is sped up 10⁵ times).",
    )
    sampleable: bool = Field(
        False,
        description="Whether a body that touches it adds its shape, size and surface colours to its library "
        "(true/false); the form is named after the collider, or after the form of a shape = 'form' collider.",
    )
    motion: MotionSpec | None = Field(None, description="How the collider moves; none: it stays put.")


class PlaneCollider(_ColliderBase):
    """An infinite plane; matter is kept on the side the normal points to."""

    shape: Literal["plane"]
    point: Vec3 = Field((0.0, 0.0, 0.0), description="A point on the plane, relative to position [m].")
    normal: Vec3 = Field(
        (0.0, 1.0, 0.0), description="Normal of the plane, pointing to the free side (any length ≠ 0)."
    )

    @field_validator("normal")
    @classmethod
    def _nonzero(cls, normal: Vec3) -> Vec3:
        if not any(normal):
            raise PydanticCustomError("zero_normal", "the normal must not be [0, 0, 0]")
        return normal


class BoxCollider(_ColliderBase):
    """A solid box."""

    shape: Literal["box"]
    size: Size3 = Field(description="Full extents [x, y, z] of the box [m].")


class SphereCollider(_ColliderBase):
    """A solid ball."""

    shape: Literal["sphere"]
    radius: float = Field(gt=0, description="Sphere radius [m].")


class CapsuleCollider(_ColliderBase):
    """A solid capsule, axis along y."""

    shape: Literal["capsule"]
    radius: float = Field(gt=0, description="Radius of the capsule [m].")
    length: float = Field(
        gt=0, description="Distance between the centres of the two caps [m] (total height length + 2·radius)."
    )


class CylinderCollider(_ColliderBase):
    """A solid cylinder, axis along y."""

    shape: Literal["cylinder"]
    radius: float = Field(gt=0, description="Radius of the cylinder [m].")
    length: float = Field(gt=0, description="Height of the cylinder along its axis [m].")


class BarsCollider(_ColliderBase):
    """A row of vertical bars (a cell door): the row runs along x, centred on position."""

    shape: Literal["bars"]
    count: int = Field(ge=1, description="Number of bars (integer ≥ 1).")
    spacing: float = Field(
        gt=0, description="Distance between neighbouring bars' axes [m]; more than 2·radius."
    )
    radius: float = Field(gt=0, description="Radius of each bar [m].")
    height: float = Field(gt=0, description="Height of each bar [m].")

    @model_validator(mode="after")
    def _bars_apart(self) -> BarsCollider:
        if self.count > 1 and self.spacing <= 2 * self.radius:
            raise problems_error(
                [
                    (
                        ("spacing",),
                        f"the bars overlap: spacing {self.spacing:g} m must exceed 2 × radius"
                        f" = {2 * self.radius:g} m",
                    )
                ]
            )
        return self


class MeshCollider(_ColliderBase):
    """A solid triangle mesh read from a file."""

    shape: Literal["mesh"] = "mesh"
    mesh: FilePath = Field(description="Mesh file, relative to the scene file.")
    scale: float = Field(1.0, gt=0, description="Uniform scale from mesh units to metres (dimensionless).")


class FormCollider(_ColliderBase):
    """A solid shaped like one of the scene's forms (a statue of the guard, say): its signed
    distance is baked on a grid of half the cell size."""

    shape: Literal["form"]
    form: str = Field(description="Name of the form whose shape the solid has.")


COLLIDER_KINDS = (
    PlaneCollider,
    BoxCollider,
    SphereCollider,
    CapsuleCollider,
    CylinderCollider,
    BarsCollider,
    MeshCollider,
    FormCollider,
)
"""Every collider shape; a new shape is a class here."""
ColliderSpec = _tagged_union(COLLIDER_KINDS, "shape", BeforeValidator(_mesh_key_means_mesh_shape))
"""One ``[[colliders]]`` table: a collider of any shape, told apart by ``shape``."""


# ----------------------------------------------------------------------------- bodies, sources


class BodySpec(_Spec):
    """``[[bodies]]``: a body of matter sampled from a form."""

    name: str = Field(min_length=1, description="Unique name of the body, used by events.")
    material: MaterialName = Field("polyalloy", description="Material preset (see `polyalloy materials`).")
    form: str = Field(description="Name of the form the body starts as.")
    library: list[str] = Field(
        default_factory=list, description="Names of further forms the body can take (sampled up front)."
    )
    position: Vec3 = Field(
        (0.0, 0.0, 0.0),
        description="Where the form's origin (centre of its bounding box's bottom face) is placed [m].",
    )
    rotation: float = Field(
        0.0, description="Rotation of the form about the y axis through its origin [degrees]."
    )
    velocity: Vec3 = Field((0.0, 0.0, 0.0), description="Initial velocity [m/s].")
    gain: float = Field(
        200.0,
        gt=0,
        description="Stiffness of the body's will to hold its form [1/s²]: the spring of its critically damped "
        "pull toward the form (notes: 200 reaches IoU 0.85 in ~0.3–0.4 s at 2 cm cells).",
    )
    max_acceleration: float = Field(
        100.0, gt=0, description="Largest acceleration the will exerts on a particle [m/s²] (before gravity compensation)."
    )
    recovery: float = Field(
        0.5,
        ge=0,
        description="Authority regained per second after trauma [1/s], divided by (1 + the trauma accumulated so "
        "far): a body that has taken more hits heals more slowly (D1).",
    )
    reach: float = Field(
        0.5,
        ge=0,
        description="How far from its largest piece the body's will reaches [m], about an arm's length: a piece "
        "farther away is left behind, keeping its shape, until the body comes within reach again (D3).",
    )
    hydrostatic: bool = Field(
        False,
        description="Start a liquid body at rest in hydrostatic equilibrium (pressure ρ·g·depth below the "
        "form's top) instead of unpressurised; for liquid resting in a container.",
    )
    particles_per_cell: ParticlesPerCell = Field(
        8, description="Particles sampled per grid cell (1, 8, 27 or 64)."
    )
    temperature: Celsius | None = Field(None, description="Initial temperature [°C]; none: scene.ambient.")
    heat_transfer_scale: float | None = Field(
        None,
        gt=0,
        description="Multiplier of conduction within the body's matter instead of scene.heat_transfer_scale; none: "
        "the scene's (10⁴ in a scene sped up 10⁵ times: his metal still evens out its heat in a fifth of a second "
        "while the heat step, limited by the fastest diffusion, is ten times longer).",
    )
    control: bool = Field(
        True, description="Whether the body holds its form; false: passive matter of its material."
    )


class BoxRegion(_Spec):
    """An axis-aligned box in the world."""

    lo: Vec3 = Field(description="Lower corner [m].")
    hi: Vec3 = Field(description="Upper corner [m]; above lo on every axis.")

    @model_validator(mode="after")
    def _upper_corner_above_lower(self) -> BoxRegion:
        flat = [axis for axis, a, b in zip("xyz", self.lo, self.hi) if b <= a]
        if flat:
            raise problems_error(
                [(("hi",), f"must be above lo on every axis; it is not on {', '.join(flat)}")]
            )
        return self


class _Timed(_Spec):
    # Subclasses re-declare `name` with their own description; declaring it here keeps it the
    # first key of the table, where people look for it.
    name: str = Field(min_length=1, description="Unique name.")
    start: float = Field(0.0, ge=0, description="Time it switches on [s].")
    stop: float | None = Field(None, description="Time it switches off [s], after start; none: never.")

    @model_validator(mode="after")
    def _stops_after_start(self) -> _Timed:
        if self.stop is not None and self.stop <= self.start:
            raise problems_error([(("stop",), f"must be after start ({self.start:g} s)")])
        return self


class PoolSpec(_Timed):
    """``[[pools]]``: an analytic bath (e.g. molten steel) that heats, buoys and drags matter in it."""

    name: str = Field(min_length=1, description="Unique name of the pool.")
    region: BoxRegion = Field(description="The bath's volume [m].")
    material: MaterialName = Field(description="Material of the bath (its density and thermal properties).")
    temperature: Celsius = Field(description="Temperature of the bath [°C], held fixed.")
    heat_transfer_scale: float | None = Field(
        None,
        gt=0,
        description="Multiplier of conduction across the bath's surface instead of scene.heat_transfer_scale; "
        "none: the scene's (a scene that freezes a man in seconds would dissolve him in the bath at once).",
    )


class EmitterSpec(_Timed):
    """``[[emitters]]``: a source pouring new matter into the scene."""

    name: str = Field(min_length=1, description="Unique name of the emitter.")
    material: MaterialName = Field(description="Material emitted.")
    region: BoxRegion = Field(description="Where the matter appears [m].")
    velocity: Vec3 = Field((0.0, 0.0, 0.0), description="Velocity of the new matter [m/s].")
    rate: float = Field(ge=0, description="Volume emitted per second [m³/s].")
    temperature: Celsius | None = Field(
        None, description="Temperature of the new matter [°C]; none: scene.ambient."
    )
    heat_transfer_scale: float | None = Field(
        None,
        gt=0,
        description="Multiplier of conduction within the new matter instead of scene.heat_transfer_scale; none: "
        "the scene's (as a body's).",
    )
    particles_per_cell: ParticlesPerCell = Field(
        8, description="Particles per grid cell of new matter (1, 8, 27 or 64)."
    )


class HeaterSpec(_Timed):
    """``[[heaters]]``: power delivered to the matter in a box region or a ball."""

    name: str = Field(min_length=1, description="Unique name of the heater.")
    region: BoxRegion | None = Field(None, description="Heated box [m]; or give position and radius.")
    position: Vec3 | None = Field(
        None, description="Centre of a heated ball [m]; with radius, instead of region."
    )
    radius: float | None = Field(None, gt=0, description="Radius of the heated ball [m]; with position.")
    power: float = Field(ge=0, description="Heat delivered to the matter inside [W].")
    temperature: Celsius | None = Field(
        None, description="Temperature the heater does not heat beyond [°C]; none: no limit."
    )

    @model_validator(mode="after")
    def _box_or_ball(self) -> HeaterSpec:
        ball = (self.position is not None, self.radius is not None)
        if self.region is not None and any(ball):
            raise problems_error([(("region",), "give either region or position and radius, not both")])
        if self.region is None and not all(ball):
            missing = "radius" if ball[0] else "position" if ball[1] else "region"
            raise problems_error([((missing,), "a heater needs region = {lo, hi}, or position and radius")])
        return self


# ----------------------------------------------------------------------------- [[events]]


class _EventBase(_Spec):
    references: ClassVar[dict[str, str]] = {"body": "bodies"}
    """Keys naming an item of another list (key → list), checked by :func:`cross_check`."""

    do: str = Field(description="Kind of event (each kind re-declares it as its tag).")
    at: float = Field(description="Time the event happens [s], within [0, scene.duration].")
    body: str = Field(description="Name of the body it acts on.")


class MorphEvent(_EventBase):
    """The body takes another form."""

    references: ClassVar[dict[str, str]] = {**_EventBase.references, "form": "forms"}

    do: Literal["morph"]
    form: str = Field(description="Name of the form to take.")
    fit: bool = Field(
        False,
        description="Scale the form uniformly to the body's volume (true/false); false: a form more than 10 % "
        "off the body's volume is refused (equal size only, S2).",
    )


class MoveEvent(_EventBase):
    """The body's form moves to a new place."""

    do: Literal["move"]
    to: Vec3 = Field(description="New position of the form's origin [m].")
    over: float = Field(ge=0, description="Time the move takes [s].")
    walk: bool = Field(
        False,
        description="Step along the way on its legs (a form with legs, e.g. humanoid) instead of gliding (true/false).",
    )
    stride: float | None = Field(
        None, gt=0, description="Length of a walking stride, two steps [m]; default the form's own (1.2 m at 1.80 m tall).",
    )


class FlipEvent(_EventBase):
    """The body reorients through itself: its form turns about its vertical axis while the
    metal flows inside it (S5), with no rotation of the whole."""

    do: Literal["flip"]
    angle: float = Field(180.0, description="Turn about the vertical axis [degrees]; 180: face to the back.")


class ExtrudeEvent(_EventBase):
    """A part morph (S4): the limb starting at `part` becomes a blade, the rest of the form
    unchanged; a later morph to the whole form takes it back."""

    do: Literal["extrude"]
    part: str = Field(
        description="Humanoid part the blade grows from, replacing it and the parts beyond it: upper_arm_l/r, "
        "forearm_l/r (arm → blade), index_l/r (finger → needle), thigh_l/r, shin_l/r."
    )
    length: float = Field(0.6, gt=0, description="Length of the blade from the limb's root [m].")
    width: float = Field(0.09, gt=0, description="Width of the blade [m].")
    thickness: float = Field(0.02, gt=0, description="Thickness of the blade [m]; equal to width: a needle.")


class CamouflageEvent(_EventBase):
    """The body flattens into a disc of its own volume on a surface and takes that surface's
    colours (S6, Lewis the guard's checkered floor); a later morph raises it as a new form."""

    references: ClassVar[dict[str, str]] = {**_EventBase.references, "surface": "colliders"}

    do: Literal["camouflage"]
    surface: str = Field(description="Name of the collider whose surface it lies on and mimics.")
    thickness: float = Field(0.04, gt=0, description="Thickness of the flattened body [m].")


class GlitchEvent(_EventBase):
    """Sets the body's glitch level: its contact colours become involuntary, fading with
    distance from the contact, and static ripples over it (T5's symptoms; heat drives it later)."""

    do: Literal["glitch"]
    level: float = Field(ge=0, le=1, description="Glitch level, 0 (well) to 1.")


class CleaveEvent(_EventBase):
    """A steel bar hacks into the body, stays lodged, and is pulled back out (D2): a box
    collider moving start → end over `over` s, held `hold` s, then back to start."""

    do: Literal["cleave"]
    start: Vec3 = Field(description="Where the bar's origin (centre of its bottom face) starts, clear of the body [m].")
    end: Vec3 = Field(description="Where the bar's origin is when it is lodged deepest [m].")
    over: float = Field(0.15, gt=0, description="Time the bar takes to cut in, and to be pulled out [s].")
    hold: float = Field(0.5, ge=0, description="Time the bar stays lodged [s].")
    size: Size3 = Field(
        (0.03, 1.0, 0.6), description="Full extents [x, y, z] of the bar [m]: thin in x, tall enough to split head to navel."
    )
    trauma: float = Field(0.3, ge=0, le=1, description="Authority the wound takes from the body (0..1).")

    def bar(self, index: int, temperature: float) -> "BoxCollider":
        """The bar as a keyframed box collider named after the event, at `temperature` [°C]."""
        path = [[self.at, *self.start], [self.at + self.over, *self.end],
                [self.at + self.over + self.hold, *self.end], [self.at + 2 * self.over + self.hold, *self.start]]
        if self.at > 0.0:
            path.insert(0, [0.0, *self.start])
        return BoxCollider(
            name=f"cleave_bar_{index}", shape="box", size=self.size, position=self.start,
            surface=SurfaceSpec(friction=0.0, colors=[(0.5, 0.52, 0.55)]), motion=MotionSpec(path=path),
            temperature=temperature,
        )


class _ShotEvent(_EventBase):
    """A projectile striking the body: where, which way, and the authority the shock takes."""

    point: Vec3 = Field(description="Where the projectile strikes [m].")
    direction: Vec3 = Field(description="Direction the projectile travels (any length, not zero).")
    along_path: bool = Field(
        False,
        description="If true, `point` is any point on the projectile's path, and it strikes wherever it first meets "
        "the body's metal along `direction` (within `radius` of the path): a shot aimed down a line the body "
        "walks across, wherever it has got to.",
    )

    @field_validator("direction")
    @classmethod
    def _not_zero(cls, value):
        if sum(c * c for c in value) == 0.0:
            raise ValueError("direction must not be [0, 0, 0]; give the way the projectile travels, e.g. [0, 0, -1]")
        return value


class ImpactEvent(_ShotEvent):
    """A gunshot: the projectile's momentum and part of its energy go into a crater of the body,
    and the shock costs the body authority (trauma)."""

    do: Literal["impact"]
    projectile_mass: float = Field(0.028, gt=0, description="Mass of the projectile [kg] (a 12-gauge slug: 28 g).")
    speed: float = Field(430.0, gt=0, description="Speed of the projectile [m/s] (a 12-gauge slug: 430 m/s).")
    radius: float = Field(0.1, gt=0, description="Radius of the crater the shot blows open [m].")
    splash: float = Field(
        0.02, ge=0, le=1,
        description="Fraction of the energy the projectile loses lodging in a crater of mass M, "
        "½ m_b u_b² · M / (M + m_b), that throws the crater's metal outward (0..1); "
        "the rest goes into heat and deformation. 0.02 opens craters 'like splashes frozen' (001) that heal; "
        "0.1 sprays droplets that a 2 cm grid no longer pulls back whole.",
    )
    trauma: float = Field(0.3, ge=0, le=1, description="Authority the shock takes from the body (0..1).")

    @property
    def throw_energy(self) -> float:
        """Kinetic energy [J] that throws the crater's metal outward when the crater is much
        heavier than the projectile (see `sharing_mass`)."""
        return self.splash * 0.5 * self.projectile_mass * self.speed**2

    @property
    def sharing_mass(self) -> float:
        """Mass [kg] that shares the throw with a crater of metal M, which gets M / (M + this) of
        `throw_energy`: the projectile's own, since a perfectly inelastic collision dissipates
        ½ m_b u_b² · M / (M + m_b), the energy `splash` is a share of."""
        return self.projectile_mass


class GrenadeEvent(_ShotEvent):
    """A grenade round that bursts inside the body (D4): its momentum and the blast's energy throw
    the metal around the burst outward, blowing the body open and pushing it back."""

    do: Literal["grenade"]
    projectile_mass: float = Field(0.23, gt=0, description="Mass of the round [kg] (a 40 mm grenade: 230 g).")
    speed: float = Field(76.0, gt=0, description="Speed of the round [m/s] (a 40 mm grenade launcher: 76 m/s).")
    radius: float = Field(0.35, gt=0, description="Reach of the blast into the body [m].")
    blast_energy: float = Field(
        2.0e4, gt=0,
        description="Kinetic energy the blast gives the metal it reaches [J]; a 40 mm round's 32 g of explosive "
        "release ~1.5e5 J, a seventh of it 2e4 J.",
    )
    charge_mass: float = Field(
        0.032, gt=0,
        description="Mass of the round's explosive [kg] (a 40 mm round: 32 g); the gases it becomes keep a share "
        "of the blast that grows as the metal around the burst gets lighter (Gurney's sphere).",
    )
    trauma: float = Field(0.8, ge=0, le=1, description="Authority the blast takes from the body (0..1).")

    @property
    def throw_energy(self) -> float:
        """Kinetic energy [J] that throws the metal around the burst outward when that metal is
        much heavier than the charge (see `sharing_mass`)."""
        return self.blast_energy

    @property
    def sharing_mass(self) -> float:
        """Mass [kg] that shares the blast with metal M around it, which gets M / (M + this) of
        `throw_energy`: 3/5 of the charge C, by Gurney's sphere (a shell of metal M about a charge
        C of Gurney energy E moves at √(2E/C) / √(M/C + 3/5), so ½ M V² = E · M / (M + 3C/5))."""
        return 0.6 * self.charge_mass


EVENT_KINDS = (MorphEvent, MoveEvent, FlipEvent, ExtrudeEvent, CamouflageEvent, GlitchEvent, CleaveEvent, ImpactEvent, GrenadeEvent)
"""Every event kind; a new kind is a class here (its `do` Literal is its name)."""
EventSpec = _tagged_union(EVENT_KINDS, "do")
"""One ``[[events]]`` table: an event of any kind, told apart by ``do``."""
_EVENT_BY_NAME = {_tag_of(kind, "do"): kind for kind in EVENT_KINDS}


# ----------------------------------------------------------------------------- cross checks


def estimate_grid_bytes(domain: Any, cell: float) -> int:
    """Estimated device memory of the grid [bytes] for `domain` [[x0,y0,z0],[x1,y1,z1]] [m]
    and cell size `cell` [m]: Π(round(extent / cell) + 3) nodes × 64 bytes per node."""
    nodes = math.prod(round((hi - lo) / cell) + GRID_PADDING_NODES for lo, hi in zip(*domain))
    return nodes * GRID_BYTES_PER_NODE


def _finest_fitting_cell(domain: Any) -> float:
    """Smallest cell [m], to three significant digits, whose grid fits GRID_MEMORY_LIMIT."""

    def fits(cell: float) -> bool:
        return estimate_grid_bytes(domain, cell) <= GRID_MEMORY_LIMIT

    small, large = 1e-9, max(hi - lo for lo, hi in zip(*domain))  # `large` gives a 4-node axis
    for _ in range(200):
        middle = math.sqrt(small * large)
        small, large = (small, middle) if fits(middle) else (middle, large)
    step = 10.0 ** (math.floor(math.log10(large)) - 2)
    cell = math.ceil(large / step) * step
    while not fits(cell):  # round() makes the node count not quite monotonic in the cell size
        cell += step
    return float(f"{cell:.3g}")


def _grid_problem(domain: Any, cell: float) -> str | None:
    size = estimate_grid_bytes(domain, cell)
    if size <= GRID_MEMORY_LIMIT:
        return None
    nodes = size // GRID_BYTES_PER_NODE
    return (
        f"a {cell:g} m cell needs {nodes:,} grid nodes ≈ {size / 2**30:.1f} GiB, over the "
        f"{GRID_MEMORY_LIMIT / 2**30:g} GiB limit; the finest cell that fits this domain is "
        f"{_finest_fitting_cell(domain):g} m"
    )


def _number(value: Any) -> float | None:
    return (
        float(value)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        else None
    )


def _vec3(value: Any) -> tuple[float, ...] | None:
    if isinstance(value, (list, tuple)) and len(value) == 3:
        numbers = tuple(_number(v) for v in value)
        return numbers if None not in numbers else None  # type: ignore[return-value]
    return None


def _domain(value: Any) -> tuple[tuple[float, ...], tuple[float, ...]] | None:
    if isinstance(value, (list, tuple)) and len(value) == 2:
        lo, hi = _vec3(value[0]), _vec3(value[1])
        if lo is not None and hi is not None and all(b > a for a, b in zip(lo, hi)):
            return lo, hi
    return None


def _tables(data: Mapping, key: str) -> list[tuple[int, Mapping]]:
    items = data.get(key)
    if not isinstance(items, list):
        return []
    return [(i, item) for i, item in enumerate(items) if isinstance(item, Mapping)]


_NAMED_LISTS = {
    "forms": "form",
    "bodies": "body",
    "colliders": "collider",
    "pools": "pool",
    "emitters": "emitter",
    "heaters": "heater",
}
"""Lists whose items have unique names: list key → what one item is called."""


def _unknown(key: str, name: str, known: list[str]) -> str:
    """Message for a reference `name` to no item of the list `key`."""
    listing = f"{key} are: {', '.join(known)}" if known else f"the scene has no {key}"
    return f"no {_NAMED_LISTS[key]} named {name!r}; {listing}"


def cross_check(data: Any) -> list[tuple[Loc, str]]:
    """Problems spanning tables, as (location, message): duplicate names, references to
    missing forms or bodies, events outside the duration, body origins outside the domain,
    and grids too large for memory.

    `data` is a scene as plain data: a validated scene's ``model_dump()``, or the raw TOML
    of a scene that failed validation. Values of the wrong type are skipped, not reported:
    field validation reports them.
    """
    if not isinstance(data, Mapping):
        return []
    problems: list[tuple[Loc, str]] = []
    names: dict[str, list[str]] = {}
    for key in _NAMED_LISTS:
        first: dict[str, int] = {}
        for i, item in _tables(data, key):
            name = item.get("name")
            if not isinstance(name, str):
                continue
            if name in first:
                problems.append(
                    (
                        (key, i, "name"),
                        f"duplicate name {name!r} (also {format_loc((key, first[name], 'name'))})",
                    )
                )
            else:
                first[name] = i
        names[key] = list(first)

    settings = data.get("scene") if isinstance(data.get("scene"), Mapping) else {}
    domain = _domain(settings.get("domain"))
    duration = _number(settings.get("duration"))

    def inside(loc: Loc, point: Any, what: str) -> None:
        point = _vec3(point)
        if (
            domain is not None
            and point is not None
            and not all(a <= p <= b for p, a, b in zip(point, *domain))
        ):
            problems.append(
                (
                    loc,
                    f"{what} {list(point)} is outside the domain"
                    f" (scene.domain = {[list(corner) for corner in domain]})",
                )
            )

    for i, body in _tables(data, "bodies"):
        form = body.get("form")
        if isinstance(form, str) and form not in names["forms"]:
            problems.append((("bodies", i, "form"), _unknown("forms", form, names["forms"])))
        library = body.get("library")
        for j, form in enumerate(library if isinstance(library, list) else []):
            if isinstance(form, str) and form not in names["forms"]:
                problems.append((("bodies", i, "library", j), _unknown("forms", form, names["forms"])))
        inside(("bodies", i, "position"), body.get("position", (0.0, 0.0, 0.0)), "the body's origin")

    # A sampleable collider that is not shaped like a form gives a form named after itself.
    touchable = [
        c["name"] for _, c in _tables(data, "colliders")
        if c.get("sampleable") is True and c.get("shape") != "form" and isinstance(c.get("name"), str)
    ]
    for i, collider in _tables(data, "colliders"):
        form = collider.get("form")
        if collider.get("shape") == "form" and isinstance(form, str) and form not in names["forms"]:
            problems.append((("colliders", i, "form"), _unknown("forms", form, names["forms"])))

    for i, event in _tables(data, "events"):
        at = _number(event.get("at"))
        if at is not None and duration is not None and not 0 <= at <= duration:
            problems.append(
                (
                    ("events", i, "at"),
                    f"{at:g} s is outside the scene: events happen within [0, scene.duration]"
                    f" = [0, {duration:g}] s",
                )
            )
        do = event.get("do")
        kind = _EVENT_BY_NAME.get(do, _EventBase) if isinstance(do, str) else _EventBase
        for key, target in kind.references.items():
            value = event.get(key)
            known = names[target] + (touchable if target == "forms" else [])
            if isinstance(value, str) and value not in known:
                problems.append((("events", i, key), _unknown(target, value, known)))

    cells: list[tuple[Loc, Any]] = [(("scene", "cell"), settings.get("cell"))]
    quality = data.get("quality") if isinstance(data.get("quality"), Mapping) else {}
    cells += [
        (("quality", level, "cell"), quality[level].get("cell"))
        for level in QUALITY_LEVELS
        if isinstance(quality.get(level), Mapping)
    ]
    for loc, cell in cells:
        cell = _number(cell)
        if domain is not None and cell is not None and cell > 0 and (problem := _grid_problem(domain, cell)):
            problems.append((loc, problem))
    return problems


# ----------------------------------------------------------------------------- the scene


class Scene(_Spec):
    """A whole scene file. Build with :meth:`load` or :meth:`from_dict`."""

    scene: SceneSettings = Field(description="Domain and global settings.")
    quality: QualitySettings = Field(default_factory=QualitySettings, description="Quality presets.")
    render: RenderSettings = Field(default_factory=RenderSettings, description="Preview renderer settings.")
    forms: list[FormSpec] = Field(default_factory=list, description="Shapes bodies can take.")
    bodies: list[BodySpec] = Field(default_factory=list, description="Bodies of matter.")
    colliders: list[ColliderSpec] = Field(default_factory=list, description="Solid obstacles.")
    pools: list[PoolSpec] = Field(default_factory=list, description="Analytic baths.")
    emitters: list[EmitterSpec] = Field(default_factory=list, description="Sources of new matter.")
    heaters: list[HeaterSpec] = Field(default_factory=list, description="Heat sources.")
    events: list[EventSpec] = Field(default_factory=list, description="The timeline.")

    _source_path: Path | None = PrivateAttr(None)
    _base_dir: Path | None = PrivateAttr(None)

    @model_validator(mode="after")
    def _consistent(self) -> Scene:
        problems = cross_check(self.model_dump())
        if problems:
            raise problems_error(problems)
        # Resolve "none: scene.ambient" here so every consumer sees a temperature.
        for item in (*self.bodies, *self.colliders, *self.emitters):
            if item.temperature is None:
                item.temperature = self.scene.ambient
        return self

    def __eq__(self, other: object) -> bool:
        """Scenes are equal when their contents are; where they were loaded from does not matter."""
        if not isinstance(other, Scene):
            return NotImplemented
        return self.model_dump() == other.model_dump()

    def all_colliders(self) -> list:
        """The scene's colliders, then the steel bars its cleave events swing (in event order)."""
        bars = [e.bar(i, self.scene.ambient) for i, e in enumerate(self.events) if e.do == "cleave"]
        return [*self.colliders, *bars]

    @property
    def source_path(self) -> Path | None:
        """The scene file this scene was loaded from (absolute), or None."""
        return self._source_path

    @property
    def base_dir(self) -> Path:
        """Directory that relative paths of the scene (meshes, images) were resolved against."""
        return self._base_dir or Path.cwd()

    @classmethod
    def load(cls, path: str | Path) -> Scene:
        """Read and validate a TOML scene file; raises SceneError listing every problem."""
        path = Path(path).expanduser().resolve()
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise SceneError(["no such file"], path) from None
        except UnicodeDecodeError as exc:
            raise SceneError([f"not UTF-8 text: {exc.reason} at byte {exc.start}"], path) from None
        except OSError as exc:
            raise SceneError([f"cannot read the file: {exc.strerror}"], path) from None
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise SceneError([_toml_error_line(str(exc))], path) from None
        return cls._validated(data, base_dir=path.parent, source_path=path)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], base_dir: str | Path | None = None) -> Scene:
        """Validate a scene given as data (the TOML document as a dict); relative paths are
        resolved against `base_dir` (default: the current directory). Raises SceneError."""
        return cls._validated(
            data, base_dir=Path(base_dir) if base_dir is not None else Path.cwd(), source_path=None
        )

    @classmethod
    def _validated(cls, data: Any, base_dir: Path, source_path: Path | None) -> Scene:
        try:
            scene = cls.model_validate(data, context={"base_dir": base_dir.resolve()})
        except ValidationError as exc:
            # The cross checks live in a model validator that pydantic skips once a key is
            # invalid; run them on the raw data so those problems are reported now too.
            lines = format_validation_error(exc, cls)
            lines += [f"{format_loc(loc)}: {message}" for loc, message in cross_check(data)]
            raise SceneError(list(dict.fromkeys(lines)), source_path) from None
        scene._source_path = source_path
        scene._base_dir = base_dir.resolve()
        return scene

    def with_quality(self, name: str) -> Scene:
        """A copy with the quality preset `name` ('draft' or 'final') applied: its cell
        replaces scene.cell, its particles_per_cell every body's and emitter's, its size
        render.size, its fps scene.fps. A level the scene does not define leaves the scene as it is."""
        if name not in QUALITY_LEVELS:
            raise ValueError(f"no quality named {name!r}; qualities are: {', '.join(QUALITY_LEVELS)}")
        override: QualityOverride | None = getattr(self.quality, name)
        data = self.model_dump()
        if override is not None:
            if override.cell is not None:
                data["scene"]["cell"] = override.cell
            if override.particles_per_cell is not None:
                for item in (*data["bodies"], *data["emitters"]):
                    item["particles_per_cell"] = override.particles_per_cell
            if override.size is not None:
                data["render"]["size"] = override.size
            if override.fps is not None:
                data["scene"]["fps"] = override.fps
        return self._validated(data, base_dir=self.base_dir, source_path=self._source_path)

    def to_toml(self) -> str:
        """The resolved scene as TOML: defaults filled in, paths absolute, unset keys omitted."""
        return tomli_w.dumps(_without_none(self.model_dump(mode="json")))

    @classmethod
    def json_schema(cls) -> dict[str, Any]:
        """JSON Schema of a scene file (for editors' completion and checking of TOML)."""
        return cls.model_json_schema()


def load_scene(path: str | Path) -> Scene:
    """Read and validate a TOML scene file (same as :meth:`Scene.load`)."""
    return Scene.load(path)


def _without_none(value: Any) -> Any:
    """`value` without None entries (TOML has no null) nor empty tables, recursively."""
    if isinstance(value, dict):
        return {k: _without_none(v) for k, v in value.items() if v is not None and v != {}}
    if isinstance(value, list):
        return [_without_none(v) for v in value]
    return value


def _toml_error_line(message: str) -> str:
    """tomllib's "Reason (at line L, column C)" as "line L, column C: invalid TOML: reason"."""
    match = re.fullmatch(r"(.*) \(at line (\d+), column (\d+)\)", message)
    if match is None:
        return f"invalid TOML: {message}"
    reason, line, column = match.groups()
    return f"line {line}, column {column}: invalid TOML: {reason}"
