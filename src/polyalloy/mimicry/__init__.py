"""Mimicry: the forms a mimetic body takes (signed distance functions, the procedural humanoid,
meshes) and filling them with particles."""

from polyalloy.mimicry.forms import (
    SHAPE_NAMES,
    SILVER,
    Blade,
    Box,
    Capsule,
    Cylinder,
    Form,
    FormError,
    Legs,
    Scaled,
    Sphere,
    Torus,
    make_form,
    parse_color,
)
from polyalloy.mimicry.assignment import assign_targets, match_count
from polyalloy.mimicry.humanoid import Humanoid
from polyalloy.mimicry.extrusion import Extrusion
from polyalloy.mimicry.meshes import MeshForm
from polyalloy.mimicry.sampling import estimate_volume, fill_form, particle_volume, placed_bounds, placed_sdf, rotation_y

__all__ = [
    "Extrusion",
    "SHAPE_NAMES",
    "SILVER",
    "Blade",
    "Box",
    "Capsule",
    "Cylinder",
    "Scaled",
    "Form",
    "FormError",
    "Legs",
    "Humanoid",
    "MeshForm",
    "Sphere",
    "Torus",
    "assign_targets",
    "estimate_volume",
    "fill_form",
    "placed_bounds",
    "placed_sdf",
    "make_form",
    "match_count",
    "parse_color",
    "particle_volume",
    "rotation_y",
]
