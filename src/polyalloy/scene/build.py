"""Build a validated Scene into the solver's Model, initial State and Control.

Forms are made (and mesh files checked) here, bodies are filled with particles, colliders are
packed for the kernels. Every problem found is reported at once as a SceneError naming the key,
before any simulation starts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import warp as wp

from ..control import Control
from ..materials import MATERIALS, Constitutive, Material
from ..mimicry import Box, Form, FormError, Humanoid, Legs, MeshForm, fill_form, make_form, particle_volume, placed_bounds, placed_sdf
from ..model import BodyInfo, GridSpec, Model
from ..solver.colliders import BOUNDARY_CODES, PATTERN_CODES, SHAPE_CODES, ColliderData, bake_signed_distance
from ..solver.constitutive import MaterialData, material_data
from ..solver.kernels import solid_distances
from ..solver.heaters import HeaterData, heater_data
from ..solver.pools import PoolData, pool_data
from ..state import PENDING, PRESENT, State
from ..thermal import initial_phase
from .errors import SceneError
from .schema import Scene

FORM_SIZE_KEYS = ("size", "radius", "length", "height", "major_radius", "minor_radius", "width", "thickness", "scale")


def scene_material(name: str, settings) -> Material:
    """The preset `name` as the scene uses it: liquids take `[scene] sound_speed` when it is set
    (bulk modulus = density × c², so the CFL step follows)."""
    material = MATERIALS[name]
    if settings.sound_speed is None or material.constitutive != Constitutive.FLUID:
        return material
    return replace(material, bulk_modulus=material.density * settings.sound_speed**2)


@dataclass
class BuiltScene:
    model: Model
    state: State
    control: Control
    forms: dict[str, Form]


def build_forms(scene: Scene) -> dict[str, Form]:
    """Every form of the scene by name; raises SceneError listing every bad form."""
    forms, errors = _forms(scene)
    if errors:
        raise SceneError(errors, path=scene.source_path)
    return forms


def _forms(scene: Scene) -> tuple[dict[str, Form], list[str]]:
    """The forms that could be made, and one error line per form that could not."""
    forms, errors = {}, []
    for i, spec in enumerate(scene.forms):
        params = {k: getattr(spec, k, None) for k in FORM_SIZE_KEYS}
        mesh = getattr(spec, "mesh", None)
        shape = None if mesh is not None else spec.shape
        try:
            forms[spec.name] = make_form(spec.name, shape, mesh, params, spec.color, spec.colors, scene.base_dir)
        except FormError as error:
            errors.append(f"forms[{i}]: {error}")
            continue
        legs = getattr(spec, "legs", None)
        if legs is not None:
            forms[spec.name].declared_legs = Legs.declared(
                np.asarray(legs.hip, dtype=float), legs.ankle_height, legs.half_width, legs.stride, legs.lift)
    return forms, errors


def _quat_y(degrees: float) -> np.ndarray:
    """Quaternion (x, y, z, w) of a rotation by `degrees` about +y."""
    half = np.radians(degrees) / 2.0
    return np.array([0.0, np.sin(half), 0.0, np.cos(half)])


def _collider_params(spec) -> tuple[int, np.ndarray]:
    """Shape code and the kernel's 4 size parameters of a collider spec (see ColliderData)."""
    shape = spec.shape
    if shape == "plane":
        n = np.asarray(spec.normal, dtype=float)
        return SHAPE_CODES[shape], np.append(n / np.linalg.norm(n), 0.0)
    if shape == "box":
        return SHAPE_CODES[shape], np.append(0.5 * np.asarray(spec.size, dtype=float), 0.0)
    if shape == "sphere":
        return SHAPE_CODES[shape], np.array([spec.radius, 0.0, 0.0, 0.0])
    if shape in ("capsule", "cylinder"):
        return SHAPE_CODES[shape], np.array([spec.radius, spec.length, 0.0, 0.0])
    if shape == "bars":
        return SHAPE_CODES[shape], np.array([spec.radius, spec.height, spec.spacing, float(spec.count)])
    raise ValueError(f"collider shape {shape!r} has no analytic parameters")


WALL_OVERHANG = 3.0
"""How far [cells] a static solid that meets a domain wall is carried on through it."""


def _through_domain_walls(
    shape: str, origin: np.ndarray, params: np.ndarray, rotation_deg: float, scene: Scene
) -> tuple[np.ndarray, np.ndarray]:
    """Origin and parameters of a static solid with every face that lies on a domain wall (within
    a quarter cell) carried WALL_OVERHANG cells through it.

    A particle in a solid is pushed out through its nearest face. A deck standing on the floor has
    its bottom face on the floor, where the walls hold every particle at y = 0: a drop pulled
    along the floor into the deck is on that face (distance 0, not inside), so nothing pushes it
    out and it creeps on under the deck (2 % of the shattered man did, in the steel mill). Beyond
    the wall there is nothing to see or reach, so moving the face there changes only where the
    solid's inside leads out: up through its top, or out of its sides. Boxes turned by a multiple
    of 90° about y are carried through every wall they meet; cylinders and bars through the floor
    and the ceiling."""
    cell = scene.scene.cell
    wall_lo, wall_hi = (np.asarray(corner, dtype=float) for corner in scene.scene.domain)
    reach, overhang = 0.25 * cell, WALL_OVERHANG * cell
    origin, params = origin.copy(), params.copy()
    if shape == "box" and rotation_deg % 90.0 == 0.0:
        turned = rotation_deg % 180.0 == 90.0
        half = params[[2, 1, 0]] if turned else params[:3]
        lo = origin - [half[0], 0.0, half[2]]
        hi = origin + [half[0], 2.0 * half[1], half[2]]
        lo = np.where(lo <= wall_lo + reach, np.minimum(lo, wall_lo - overhang), lo)
        hi = np.where(hi >= wall_hi - reach, np.maximum(hi, wall_hi + overhang), hi)
        half = 0.5 * (hi - lo)
        origin = np.array([lo[0] + half[0], lo[1], lo[2] + half[2]])
        params[:3] = half[[2, 1, 0]] if turned else half
    elif shape in ("cylinder", "bars"):
        top = origin[1] + params[1]  # params[1]: the cylinder's length, the bars' height
        if origin[1] <= wall_lo[1] + reach:
            origin[1] = min(origin[1], wall_lo[1] - overhang)
        if top >= wall_hi[1] - reach:
            top = max(top, wall_hi[1] + overhang)
        params[1] = top - origin[1]
    return origin, params


def _motion(spec, origin: np.ndarray, rotation_deg: float):
    """A callable time [s] → (origin, quaternion xyzw, velocity, angular velocity) or None if static."""
    motion = spec.motion
    if motion is None:
        return None
    if getattr(motion, "path", None):
        keys = np.asarray(motion.path, dtype=float)
        times, points = keys[:, 0], keys[:, 1:4]
        rotation = _quat_y(rotation_deg)

        def along_path(t: float):
            position = np.array([np.interp(t, times, points[:, a]) for a in range(3)])
            segment = int(np.clip(np.searchsorted(times, t, side="right") - 1, 0, len(times) - 2))
            inside = times[0] <= t < times[-1]
            velocity = (points[segment + 1] - points[segment]) / (times[segment + 1] - times[segment]) if inside else np.zeros(3)
            return position, rotation, velocity, np.zeros(3)

        return along_path
    velocity = np.asarray(motion.velocity if motion.velocity is not None else (0.0, 0.0, 0.0), dtype=float)
    omega = np.radians(float(motion.angular_velocity or 0.0))

    def constant(t: float):
        return origin + velocity * t, _quat_y(rotation_deg + np.degrees(omega) * t), velocity, np.array([0.0, omega, 0.0])

    return constant


def build_colliders(scene: Scene, device: str) -> tuple[list[ColliderData], list, list, list[float]]:
    """Colliders packed for the kernels, their motions, the wp.Mesh and wp.Volume objects they
    use, their temperatures [°C]; raises SceneError listing every bad collider."""
    *built, errors = _colliders(scene, device, build_forms(scene))
    if errors:
        raise SceneError(errors, path=scene.source_path)
    return tuple(built)


def _colliders(scene: Scene, device: str, forms: dict[str, Form]):
    """Like build_colliders, with the error lines returned last instead of raised."""
    colliders, motions, meshes, temperatures, errors = [], [], [], [], []
    for i, spec in enumerate(scene.all_colliders()):
        data = ColliderData()
        origin = np.asarray(spec.position, dtype=float)
        if spec.shape == "plane":
            origin = origin + np.asarray(spec.point, dtype=float)
        rotation = float(getattr(spec, "rotation", 0.0) or 0.0)
        if spec.shape == "mesh":
            try:
                solid = MeshForm.from_file(spec.name, spec.mesh, scene.base_dir, {"scale": spec.scale}).mesh
            except FormError as error:
                errors.append(f"colliders[{i}].mesh: {error}")
                continue
            mesh = wp.Mesh(
                points=wp.array(solid.vertices.astype(np.float32), dtype=wp.vec3, device=device),
                indices=wp.array(solid.faces.astype(np.int32).ravel(), dtype=int, device=device),
            )
            meshes.append(mesh)
            data.shape = SHAPE_CODES["mesh"]
            data.mesh = mesh.id
            extent = float(np.linalg.norm(np.asarray(scene.scene.domain[1]) - np.asarray(scene.scene.domain[0])))
            data.params = wp.vec4(extent, 0.0, 0.0, 0.0)
        elif spec.shape == "form":
            if spec.form not in forms:
                continue  # the unknown form is reported by the schema's cross check
            form = forms[spec.form]
            volume = bake_signed_distance(form.sdf, *form.bounds(), 0.5 * scene.scene.cell, device)
            meshes.append(volume)
            data.shape = SHAPE_CODES["form"]
            data.volume = volume.id
        else:
            code, params = _collider_params(spec)
            if spec.motion is None:
                origin, params = _through_domain_walls(spec.shape, origin, params, rotation, scene)
            data.shape = code
            data.params = wp.vec4(*params)
        data.boundary = BOUNDARY_CODES[spec.boundary]
        data.friction = float(spec.surface.friction)
        surface = spec.surface
        if surface.pattern == "image":
            errors.append(
                f"colliders[{i}].surface.pattern: image patterns are drawn by nothing yet (neither the simulation's "
                "camouflage nor the preview); use solid, checker or stripes"
            )
            continue
        colors = [np.asarray(c, dtype=float) for c in surface.colors] or [np.array([0.55, 0.55, 0.58])]
        data.pattern = PATTERN_CODES[surface.pattern]
        data.pattern_scale = float(surface.scale)
        data.color_a = wp.vec3(*colors[0])
        data.color_b = wp.vec3(*(colors[1] if len(colors) > 1 else 0.6 * colors[0]))
        data.origin = wp.vec3(*origin)
        data.rotation = wp.quat(*_quat_y(rotation))
        data.velocity = wp.vec3(0.0, 0.0, 0.0)
        data.angular_velocity = wp.vec3(0.0, 0.0, 0.0)
        motion = _motion(spec, origin, rotation)
        if motion is not None:
            o, q, v, w = motion(0.0)
            data.origin, data.rotation, data.velocity, data.angular_velocity = wp.vec3(*o), wp.quat(*q), wp.vec3(*v), wp.vec3(*w)
        data.temperature = float(spec.temperature)
        data.exchange = _exchange(spec.heat_transfer_scale, scene.scene.heat_transfer_scale)
        colliders.append(data)
        motions.append(motion)
        temperatures.append(float(spec.temperature))
    return colliders, motions, meshes, temperatures, errors


MAX_EMITTED_PARTICLES = 4_000_000
"""Most particles the emitters of one scene may pour (all are allocated up front)."""

EMITTED_COLOR = (0.82, 0.88, 0.95)
"""Colour of emitted matter (RGB in [0, 1]): emitters name no colour."""


def _emitter_batches(
    scene: Scene, dx: float, first: int
) -> tuple[list[dict], list[tuple[float, int, int]], list[tuple[str, slice, float]], list[str]]:
    """Particle chunks of every emitter, one batch per fill of its region, the batches' (time,
    first, end particle) from particle index `first` on, each emitter's (name, particles,
    particle spacing [m]), and errors.

    An emitter pours rate·(stop − start) m³ (stop: the scene's end if none) as fills of its
    region, each when what came before it has been poured at `rate`, the last one cut to what
    is left. Give a region about as deep along the velocity as the matter moves between fills,
    so they follow each other without a gap."""
    chunks, batches, ranges, errors = [], [], [], []
    settings = scene.scene
    for index, spec in enumerate(scene.emitters):
        if spec.rate <= 0.0:
            continue
        own_first = first
        lo, hi = np.asarray(spec.region.lo, dtype=float), np.asarray(spec.region.hi, dtype=float)
        region = Box(spec.name, hi - lo, color=EMITTED_COLOR)
        base = np.array([0.5 * (lo[0] + hi[0]), lo[1], 0.5 * (lo[2] + hi[2])])
        stop = settings.duration if spec.stop is None else min(spec.stop, settings.duration)
        volume = particle_volume(dx, spec.particles_per_cell)
        total = max(0, round(spec.rate * (stop - spec.start) / volume))
        if total > MAX_EMITTED_PARTICLES:
            errors.append(
                f"emitters[{index}].rate: {spec.rate:g} m³/s for {stop - spec.start:g} s would pour about {total:,} particles "
                f"(at most {MAX_EMITTED_PARTICLES:,}); lower the rate, shorten start–stop or use fewer particles_per_cell"
            )
            continue
        poured, k = 0, 0
        while poured < total:
            positions, colors = fill_form(region, base, dx, spec.particles_per_cell, np.random.default_rng([settings.seed, 1000 + index, k]))
            # The batch's time is when the emitter has poured what came before it; the last
            # batch is cut to what is left of the total.
            when = spec.start + poured * volume / spec.rate
            positions, colors = positions[: total - poured], colors[: total - poured]
            n = len(positions)
            if n == 0:
                errors.append(f"emitters[{index}].region: holds no particle at cell {dx} m; make it at least a cell deep")
                break
            temperature = float(spec.temperature)
            chunks.append({
                "emitter": index,
                "x": positions,
                "v": np.broadcast_to(np.asarray(spec.velocity, dtype=np.float32), (n, 3)),
                "color": colors,
                "temperature": np.full(n, temperature, dtype=np.float32),
                "phase": np.full(n, initial_phase(MATERIALS[spec.material], temperature), dtype=np.float32),
                "volume": np.full(n, volume, dtype=np.float32),
                "body": np.full(n, -1, dtype=np.int32),
                "J": np.ones(n, dtype=np.float32),
                "status": np.full(n, int(PENDING), dtype=np.int32),
            })
            batches.append((when, first, first + n))
            first += n
            poured += n
            k += 1
        ranges.append((spec.name, slice(own_first, first), dx / spec.particles_per_cell ** (1.0 / 3.0)))
    return chunks, sorted(batches), ranges, errors


def _pool_errors(scene: Scene, solids: wp.array | None, dx: float, device: str) -> list[str]:
    """Pools that reach into one of the scene's solid colliders `solids` (a bath cannot fill a
    solid), one error each."""
    if not scene.pools or solids is None:
        return []
    errors = []
    for index, pool in enumerate(scene.pools):
        lo, hi = np.asarray(pool.region.lo, dtype=float), np.asarray(pool.region.hi, dtype=float)
        # Cell centres strictly inside the bath; a solid it merely touches is fine.
        axes = [np.arange(a + 0.5 * dx, b, dx) for a, b in zip(lo, hi)]
        points = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3).astype(np.float32)
        if len(points) == 0:
            continue
        inside = solid_distances(points, solids, device) < -0.5 * dx
        if inside.any():
            errors.append(
                f"pools[{index}].region: {int(inside.sum())} cells of pool {pool.name!r} lie inside a solid collider; "
                "a bath cannot fill a solid: shrink the region or move the collider"
            )
    return errors


def _overlap_errors(
    scene: Scene, forms: dict[str, Form], sampled: list[tuple[int, np.ndarray, float]], solids: wp.array | None, device: str
) -> list[str]:
    """Bodies that start inside one another, and willed bodies inside one of the scene's solid
    colliders `solids` (passive ones were sampled around them), one error each. Their particles
    would start interpenetrating and burst apart. A body merely touching another or resting on a
    solid is fine: only particles more than a quarter of their spacing deep count. `sampled`
    holds each body's index, particle positions [m] and particle spacing [m]."""
    errors = []
    for index, positions, spacing in sampled:
        spec = scene.bodies[index]
        depth = 0.25 * spacing
        for other, _, _ in sampled:
            if other == index:
                continue
            them = scene.bodies[other]
            lo, hi = placed_bounds(forms[them.form], them.position, them.rotation)
            near = positions[np.all((positions > lo) & (positions < hi), axis=1)]
            inside = int(np.count_nonzero(placed_sdf(forms[them.form], them.position, them.rotation)(near) < -depth)) if len(near) else 0
            if inside:
                errors.append(
                    f"bodies[{index}].position: {inside} particles of body {spec.name!r} start inside body {them.name!r} "
                    f"(bodies[{other}]); two bodies cannot fill the same space: move one or shrink its form"
                )
        if not spec.control or solids is None or not np.any(solid_distances(positions, solids, device) < -depth):
            continue
        # Some are inside a solid: name each solid they are in.
        for k in range(solids.shape[0]):
            inside = int(np.count_nonzero(solid_distances(positions, solids[k : k + 1], device) < -depth))
            if inside:
                errors.append(
                    f"bodies[{index}].position: {inside} particles of body {spec.name!r} start inside solid collider "
                    f"{scene.colliders[k].name!r} (colliders[{k}]): move the body or the collider"
                )
    return errors


def _sampleable_forms(scene: Scene, forms: dict[str, Form]) -> tuple[dict[int, str], list[str]]:
    """The form each sampleable collider gives a body that touches it (collider index → form
    name), adding forms made from primitive colliders to `forms`; and error lines."""
    sampleable, errors = {}, []
    for i, spec in enumerate(scene.colliders):
        if not spec.sampleable:
            continue
        if spec.shape == "form":
            if spec.form in forms:
                sampleable[i] = spec.form
            continue
        if spec.shape == "plane":
            errors.append(f"colliders[{i}].sampleable: a plane has no size to take; set sampleable = false")
            continue
        if spec.shape == "bars":
            errors.append(
                f"colliders[{i}].sampleable: bars are {spec.count} separate solids and a form must be one solid "
                "(no complex machines, S3); set sampleable = false"
            )
            continue
        if spec.name in forms:
            errors.append(
                f"colliders[{i}].name: a sampleable collider gives a form named after it, and form {spec.name!r} "
                "already exists; rename the collider or the form"
            )
            continue
        params = {k: getattr(spec, k, None) for k in FORM_SIZE_KEYS}
        mesh = getattr(spec, "mesh", None)
        colors = spec.surface.colors
        try:
            forms[spec.name] = make_form(
                spec.name, None if mesh is not None else spec.shape, mesh, params, colors[0] if colors else None, None, scene.base_dir,
            )
        except FormError as error:
            errors.append(f"colliders[{i}]: {error}")
            continue
        sampleable[i] = spec.name
    return sampleable, errors


MORPH_VOLUME_TOLERANCE = 0.10
"""A form may differ from the body's volume by this fraction at most (equal size only, S2)."""


def _morph_errors(scene: Scene, forms: dict[str, Form], bodies: list[BodyInfo], touchable: set[str]) -> list[str]:
    """A morph must name a form of the body's own volume that it has sampled (its form or
    library) or can sample by touching a sampleable collider (`touchable`; whether it did is
    known only when the morph is due)."""
    by_name = {b.name: b for b in bodies}
    errors = []
    for i, event in enumerate(scene.events):
        body = by_name.get(event.body)
        if event.do == "extrude" and body is not None:
            if not any(isinstance(forms.get(name), Humanoid) for name in body.library):
                errors.append(f"events[{i}].body: body {body.name!r} has no humanoid form to grow a blade from")
            elif event.part not in Humanoid.limb_part_names():
                errors.append(
                    f"events[{i}].part: {event.part!r} is not a limb part; a blade grows from one of: "
                    f"{', '.join(Humanoid.limb_part_names())}"
                )
            continue
        if event.do != "morph" or body is None or event.form not in forms:
            continue
        if event.form not in body.library and event.form not in touchable:
            can_touch = f"; sampleable colliders offer: {', '.join(sorted(touchable))}" if touchable else ""
            errors.append(
                f"events[{i}].form: body {body.name!r} has never sampled form {event.form!r}; its library is: "
                f"{', '.join(body.library)}{can_touch} (add the form to bodies.library, or give the body a "
                "sampleable collider of that shape to touch)"
            )
            continue
        body_volume = body.volume
        form_volume = forms[event.form].volume()
        if not event.fit and abs(form_volume / body_volume - 1.0) > MORPH_VOLUME_TOLERANCE:
            errors.append(
                f"events[{i}].form: form {event.form!r} holds {form_volume:.4g} m³ but body {body.name!r} is "
                f"{body_volume:.4g} m³; a body only takes forms within {MORPH_VOLUME_TOLERANCE:.0%} of its own volume "
                "(or say fit = true in the event to scale the form to it)"
            )
    return errors


def _volume_ratio_as_F(volume_ratio: np.ndarray) -> np.ndarray:
    """Initial deformation gradients diag(J, 1, 1): the liquids' form (see fluid_project); J = 1 is I."""
    F = np.broadcast_to(np.eye(3, dtype=np.float32), (len(volume_ratio), 3, 3)).copy()
    F[:, 0, 0] = volume_ratio
    return F


def _exchange(own_scale: float | None, scene_scale: float) -> float:
    """Factor on the scene's conduction across a collider's or a pool's surface: its own
    heat_transfer_scale over the scene's (1 when it has none)."""
    return 1.0 if own_scale is None else own_scale / scene_scale


def _conducting(material: Material, own_scale: float | None, scene_scale: float) -> Material:
    """`material` as a body with its own heat_transfer_scale conducts: its conductivities times
    its scale over the scene's (the scene's scale multiplies them again in the heat step)."""
    if own_scale is None:
        return material
    factor = own_scale / scene_scale
    return replace(material, conductivity_solid=material.conductivity_solid * factor, conductivity_liquid=material.conductivity_liquid * factor)


def build_scene(scene: Scene, device: str) -> BuiltScene:
    """Model, initial State and Control of `scene` on `device`; raises SceneError on bad input."""
    settings = scene.scene
    forms, errors = _forms(scene)
    lo, hi = (np.asarray(c, dtype=float) for c in settings.domain)
    dx = float(settings.cell)
    grid = GridSpec.for_domain(lo, hi, dx)

    colliders, motions, meshes, collider_temperatures, collider_errors = _colliders(scene, device, forms)
    errors += collider_errors
    # The scene's own solids; a cleave event's bar waits out of the way until it swings.
    solids = wp.array(colliders[: len(scene.colliders)], dtype=ColliderData, device=device) if colliders and not collider_errors else None
    materials: list[Material] = []
    chunks, bodies, sampled = [], [], []
    start = 0
    for index, spec in enumerate(scene.bodies):
        material = _conducting(scene_material(spec.material, settings), spec.heat_transfer_scale, settings.heat_transfer_scale)
        if spec.form not in forms:
            continue  # its form's error is already listed
        liquid = material.constitutive == Constitutive.FLUID
        if material not in materials:
            materials.append(material)
        rng = np.random.default_rng([settings.seed, index])
        positions, colors = fill_form(forms[spec.form], np.asarray(spec.position, dtype=float), dx, spec.particles_per_cell, rng, spec.rotation)
        if not spec.control and solids is not None and len(positions):
            # Passive matter fills its form around the solids in it (a flood around a rail's
            # foot); a willed body inside a solid is refused below (its form would be cut).
            outside_solids = solid_distances(positions, solids, device) >= 0.0
            if not outside_solids.any():
                errors.append(f"bodies[{index}].position: body {spec.name!r} lies wholly inside solid colliders; move it out of them")
                continue
            positions, colors = positions[outside_solids], colors[outside_solids]
        if len(positions) == 0:
            errors.append(f"bodies[{index}].form: form {spec.form!r} holds no particle at cell {dx} m; make it larger or the cell smaller")
            continue
        outside = np.any((positions < lo) | (positions > hi), axis=1)
        if outside.any():
            errors.append(
                f"bodies[{index}].position: {int(outside.sum())} of {len(positions)} particles of body {spec.name!r} lie outside "
                f"the domain {settings.domain}; move the body or enlarge scene.domain"
            )
            continue
        spacing = dx / round(spec.particles_per_cell ** (1.0 / 3.0))
        sampled.append((index, positions, spacing))
        count = len(positions)
        volume_change = np.ones(count, dtype=np.float32)
        if spec.hydrostatic and liquid and initial_phase(material, spec.temperature) == 1.0:
            # p = K (1 − J) = ρ |g| depth below the form's top surface.
            top = float(spec.position[1]) + float(forms[spec.form].bounds()[1][1])
            depth = np.clip(top - positions[:, 1], 0.0, None)
            pressure = material.density * np.linalg.norm(settings.gravity) * depth
            volume_change = np.clip(1.0 - pressure / material.bulk_modulus, 0.2, 1.0).astype(np.float32)
        temperature = spec.temperature
        chunks.append(
            {
                "x": positions,
                "v": np.broadcast_to(np.asarray(spec.velocity, dtype=np.float32), (count, 3)),
                "color": colors,
                "temperature": np.full(count, temperature, dtype=np.float32),
                "phase": np.full(count, initial_phase(material, temperature), dtype=np.float32),
                "volume": np.full(count, particle_volume(dx, spec.particles_per_cell), dtype=np.float32),
                "material": np.full(count, materials.index(material), dtype=np.int32),
                "body": np.full(count, index, dtype=np.int32),
                "J": volume_change,
                "status": np.full(count, int(PRESENT), dtype=np.int32),
            }
        )
        bodies.append(
            BodyInfo(
                name=spec.name, material=material, form_name=spec.form, position=np.asarray(spec.position, dtype=float),
                rotation_y=float(spec.rotation), particle_slice=slice(start, start + count), spacing=spacing, control=spec.control,
                gain=spec.gain, max_acceleration=spec.max_acceleration, recovery=spec.recovery, reach=spec.reach, library=(spec.form, *spec.library),
            )
        )
        start += count
    emitted, emissions, emitter_slices, emitter_errors = _emitter_batches(scene, dx, start)
    errors += emitter_errors
    for chunk in emitted:
        spec = scene.emitters[chunk.pop("emitter")]
        material = _conducting(scene_material(spec.material, settings), spec.heat_transfer_scale, settings.heat_transfer_scale)
        if material not in materials:
            materials.append(material)
        chunk["material"] = np.full(len(chunk["x"]), materials.index(material), dtype=np.int32)
    chunks += emitted
    sampleable, sampleable_errors = _sampleable_forms(scene, forms)
    errors += sampleable_errors
    errors += _pool_errors(scene, solids, dx, device)
    if not collider_errors:
        errors += _overlap_errors(scene, forms, sampled, solids, device)
    errors += _morph_errors(scene, forms, bodies, set(sampleable.values()))
    if not scene.bodies:
        errors.append("bodies: the scene has no body; add a [[bodies]] table")
    if errors:
        raise SceneError(errors, path=scene.source_path)

    def joined(key: str) -> np.ndarray:
        return np.concatenate([c[key] for c in chunks])

    temperatures = [float(settings.ambient), *collider_temperatures, *(float(b.temperature) for b in scene.bodies),
                    *(float(e.temperature) for e in scene.emitters)]
    volume = joined("volume")
    density = np.array([m.density for m in materials], dtype=np.float32)[joined("material")]
    model = Model(
        device=device,
        grid=grid,
        domain_lo=lo,
        domain_hi=hi,
        gravity=np.asarray(settings.gravity, dtype=float),
        wall_boundary=BOUNDARY_CODES[settings.walls],
        wall_friction=float(settings.wall_friction),
        cfl=float(settings.cfl),
        materials=materials,
        material_data=wp.array([material_data(m) for m in materials], dtype=MaterialData, device=device),
        particle_mass=wp.array(volume * density, dtype=float, device=device),
        particle_volume=wp.array(volume, dtype=float, device=device),
        particle_material=wp.array(joined("material"), dtype=int, device=device),
        particle_body=joined("body"),
        particle_body_device=wp.array(joined("body"), dtype=int, device=device),
        bodies=bodies,
        colliders=colliders,
        collider_motions=motions,
        meshes=meshes,
        collider_temperatures=collider_temperatures,
        ambient=float(settings.ambient),
        isothermal=len(set(temperatures)) == 1 and not scene.pools and not scene.heaters,
        seed=int(settings.seed),
        emissions=emissions,
        emitter_slices=emitter_slices,
        heat_transfer_scale=float(settings.heat_transfer_scale),
        air_heat_transfer=float(settings.air_heat_transfer),
        sampleable=sampleable,
        pools=wp.array(
            [pool_data(p.region.lo, p.region.hi, p.temperature, _exchange(p.heat_transfer_scale, settings.heat_transfer_scale), scene_material(p.material, settings), p.start, p.stop)
             for p in scene.pools],
            dtype=PoolData, device=device,
        ),
        heaters=wp.array([heater_data(h) for h in scene.heaters], dtype=HeaterData, device=device),
        heater_specs=list(scene.heaters),
    )
    state = State(model.particle_count, device)
    count = model.particle_count
    state.assign(
        {
            "x": joined("x"),
            "v": joined("v"),
            "C": np.zeros((count, 3, 3), dtype=np.float32),
            "F": _volume_ratio_as_F(joined("J")),
            "temperature": joined("temperature"),
            "phase": joined("phase"),
            "color": joined("color"),
            "boiled": np.zeros(count, dtype=np.float32),
            "status": joined("status"),
            "bond": np.zeros(count, dtype=np.float32),
            "shock": np.zeros(count, dtype=np.float32),
            "airborne": np.zeros(count, dtype=np.int32),
        }
    )
    return BuiltScene(model=model, state=state, control=Control(model, joined("x"), joined("color")), forms=forms)
