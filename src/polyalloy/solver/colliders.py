"""Solid colliders as signed distance functions the MPM kernels evaluate on grid nodes and particles.

A collider is data (`ColliderData`): a shape code, its size parameters, a pose (origin and a
rotation about its origin) and a rigid velocity. The grid update enforces the boundary condition
on nodes inside or on a collider; the particle update pushes any particle that ended inside a
solid back onto its surface, so no particle ever rests inside one.

Shapes follow the scene-file origin convention: the origin is the centre of the bottom face of
the shape's bounding box, y up. Boundary conditions (relative to the collider's velocity):
sticky (no relative motion), slip (normal component removed), separate (normal component removed
only when moving into the surface), the last two with Coulomb friction.
"""

from __future__ import annotations

import numpy as np
import warp as wp

SHAPE_PLANE = wp.constant(0)
SHAPE_BOX = wp.constant(1)
SHAPE_SPHERE = wp.constant(2)
SHAPE_CAPSULE = wp.constant(3)
SHAPE_CYLINDER = wp.constant(4)
SHAPE_BARS = wp.constant(5)
SHAPE_MESH = wp.constant(6)
SHAPE_BAKED = wp.constant(7)

SHAPE_CODES = {"plane": 0, "box": 1, "sphere": 2, "capsule": 3, "cylinder": 4, "bars": 5, "mesh": 6, "form": 7}

BOUNDARY_STICKY = wp.constant(0)
BOUNDARY_SLIP = wp.constant(1)
BOUNDARY_SEPARATE = wp.constant(2)

BOUNDARY_CODES = {"sticky": 0, "slip": 1, "separate": 2}

PATTERN_SOLID = wp.constant(0)
PATTERN_CHECKER = wp.constant(1)
PATTERN_STRIPES = wp.constant(2)

PATTERN_CODES = {"solid": 0, "checker": 1, "stripes": 2}


@wp.struct
class ColliderData:
    """One collider as the kernels see it. Lengths [m], velocities [m/s], angular velocity [rad/s]."""

    shape: int
    boundary: int
    friction: float
    origin: wp.vec3
    rotation: wp.quat
    velocity: wp.vec3
    angular_velocity: wp.vec3
    params: wp.vec4
    """Shape sizes: plane normal (x,y,z); box half extents; sphere (r); capsule (r, segment length);
    cylinder (r, length); bars (r, height, spacing, count); mesh (max query distance)."""
    mesh: wp.uint64
    """wp.Mesh id of a mesh collider."""
    volume: wp.uint64
    """wp.Volume id of a baked signed distance (a form collider), in collider-local metres."""
    pattern: int
    """Surface pattern code (PATTERN_*)."""
    pattern_scale: float
    """Checker square or stripe width [m]."""
    color_a: wp.vec3
    """First surface colour, RGB in [0, 1]."""
    color_b: wp.vec3
    """Second surface colour (checker and stripes), RGB in [0, 1]."""
    temperature: float
    """Surface temperature [°C], held fixed: grid nodes on and inside the solid are held at it."""
    exchange: float
    """Factor on the scene's conduction across its surface [-]: its own heat_transfer_scale over
    the scene's."""


@wp.func
def _sdf_segment_y(q: wp.vec3, y0: float, y1: float, radius: float):
    """Distance [m] from q to a capsule around the y-axis segment [y0, y1] of `radius`."""
    y = wp.clamp(q[1], y0, y1)
    return wp.length(q - wp.vec3(0.0, y, 0.0)) - radius


@wp.func
def _sdf_cylinder_y(q: wp.vec3, radius: float, length: float):
    """Exact distance [m] from q to the solid cylinder x²+z² ≤ r², 0 ≤ y ≤ length."""
    dr = wp.sqrt(q[0] * q[0] + q[2] * q[2]) - radius
    dy = wp.abs(q[1] - 0.5 * length) - 0.5 * length
    outside = wp.length(wp.vec2(wp.max(dr, 0.0), wp.max(dy, 0.0)))
    return outside + wp.min(wp.max(dr, dy), 0.0)


@wp.func
def _sdf_local(c: ColliderData, q: wp.vec3):
    """Signed distance [m] at collider-local point q (origin at the bottom centre), negative inside."""
    p = c.params
    if c.shape == SHAPE_BOX:
        d = wp.vec3(wp.abs(q[0]), wp.abs(q[1] - p[1]), wp.abs(q[2])) - wp.vec3(p[0], p[1], p[2])
        outside = wp.length(wp.vec3(wp.max(d[0], 0.0), wp.max(d[1], 0.0), wp.max(d[2], 0.0)))
        return outside + wp.min(wp.max(d[0], wp.max(d[1], d[2])), 0.0)
    if c.shape == SHAPE_SPHERE:
        return wp.length(q - wp.vec3(0.0, p[0], 0.0)) - p[0]
    if c.shape == SHAPE_CAPSULE:
        return _sdf_segment_y(q, p[0], p[0] + p[1], p[0])
    if c.shape == SHAPE_CYLINDER:
        return _sdf_cylinder_y(q, p[0], p[1])
    if c.shape == SHAPE_BARS:
        # The nearest bar of the row decides the distance: bars run along x, centred on the origin.
        half_row = 0.5 * (p[3] - 1.0)
        index = wp.clamp(wp.round(q[0] / p[2] + half_row), 0.0, p[3] - 1.0)
        local = wp.vec3(q[0] - (index - half_row) * p[2], q[1], q[2])
        return _sdf_cylinder_y(local, p[0], p[1])
    if c.shape == SHAPE_MESH:
        query = wp.mesh_query_point_sign_normal(c.mesh, q, p[0])
        if query.result:
            closest = wp.mesh_eval_position(c.mesh, query.face, query.u, query.v)
            return query.sign * wp.length(q - closest)
        return p[0]
    if c.shape == SHAPE_BAKED:
        return wp.volume_sample_f(c.volume, wp.volume_world_to_index(c.volume, q), wp.Volume.LINEAR)
    # SHAPE_PLANE: the origin is a point on the plane, params hold its unit normal.
    return wp.dot(q, wp.vec3(p[0], p[1], p[2]))


@wp.func
def collider_sdf(c: ColliderData, x: wp.vec3):
    """Signed distance [m] from world point x to the collider, negative inside."""
    return _sdf_local(c, wp.quat_rotate_inv(c.rotation, x - c.origin))


@wp.func
def _box_gradient(q: wp.vec3, half: wp.vec3):
    """Gradient of the SDF of a box of half extents `half` centred at the origin, at q: outside,
    along q's offset from the nearest surface point; inside, the normal of the nearest face."""
    d = wp.vec3(wp.abs(q[0]), wp.abs(q[1]), wp.abs(q[2])) - half
    s = wp.vec3(wp.where(q[0] < 0.0, -1.0, 1.0), wp.where(q[1] < 0.0, -1.0, 1.0), wp.where(q[2] < 0.0, -1.0, 1.0))
    if d[0] > 0.0 or d[1] > 0.0 or d[2] > 0.0:
        return wp.normalize(wp.cw_mul(s, wp.vec3(wp.max(d[0], 0.0), wp.max(d[1], 0.0), wp.max(d[2], 0.0))))
    if d[0] >= d[1] and d[0] >= d[2]:
        return wp.vec3(s[0], 0.0, 0.0)
    if d[1] >= d[2]:
        return wp.vec3(0.0, s[1], 0.0)
    return wp.vec3(0.0, 0.0, s[2])


@wp.func
def collider_normal(c: ColliderData, x: wp.vec3):
    """Outward unit normal at world point x: the SDF's gradient, in closed form for a box (the
    commonest collider: floors, decks, walls) and by central differences for the rest."""
    q = wp.quat_rotate_inv(c.rotation, x - c.origin)
    if c.shape == SHAPE_BOX:
        p = c.params
        return wp.quat_rotate(c.rotation, _box_gradient(q - wp.vec3(0.0, p[1], 0.0), wp.vec3(p[0], p[1], p[2])))
    h = 1.0e-4
    g = wp.vec3(
        _sdf_local(c, q + wp.vec3(h, 0.0, 0.0)) - _sdf_local(c, q - wp.vec3(h, 0.0, 0.0)),
        _sdf_local(c, q + wp.vec3(0.0, h, 0.0)) - _sdf_local(c, q - wp.vec3(0.0, h, 0.0)),
        _sdf_local(c, q + wp.vec3(0.0, 0.0, h)) - _sdf_local(c, q - wp.vec3(0.0, 0.0, h)),
    )
    n = wp.length(g)
    if n < 1.0e-12:
        return wp.vec3(0.0, 1.0, 0.0)
    return wp.quat_rotate(c.rotation, g / n)


@wp.func
def surface_pattern(
    pattern: int, scale: float, color_a: wp.vec3, color_b: wp.vec3, p: wp.vec3, n: wp.vec3, footprint: float
) -> wp.vec3:
    """Colour of a patterned surface at world point p with normal n, seen at a footprint [m].

    Checker tiles and stripes (bands across x, or across z on faces looking along x) of side
    ``scale`` [m], projected along the normal's dominant axis (a box projection); a footprint
    above zero (the renderer's pixel) fades distant tiles to their average instead of aliasing.
    """
    if pattern == PATTERN_SOLID:
        return color_a
    k = 3.14159265 / scale
    width = wp.max(k * footprint, 1.0e-4)
    axis = int(0)
    if wp.abs(n[1]) > wp.abs(n[axis]):
        axis = 1
    if wp.abs(n[2]) > wp.abs(n[axis]):
        axis = 2
    s = float(1.0)
    if pattern == PATTERN_CHECKER:
        for a in range(3):
            if a != axis:
                s = s * wp.clamp(wp.sin(k * p[a]) / width, -1.0, 1.0)
    else:
        a = wp.where(axis == 0, 2, 0)
        s = wp.clamp(wp.sin(k * p[a]) / width, -1.0, 1.0)
    m = 0.5 + 0.5 * s
    return color_a * m + color_b * (1.0 - m)


@wp.func
def collider_color(c: ColliderData, x: wp.vec3):
    """Surface colour of the collider at the surface point nearest world point x."""
    n = collider_normal(c, x)
    on_surface = x - collider_sdf(c, x) * n
    return surface_pattern(c.pattern, c.pattern_scale, c.color_a, c.color_b, on_surface, n, 0.0)


@wp.func
def collider_velocity(c: ColliderData, x: wp.vec3):
    """Rigid velocity [m/s] of the collider's material at world point x."""
    return c.velocity + wp.cross(c.angular_velocity, x - c.origin)


@wp.func
def apply_boundary(v: wp.vec3, v_solid: wp.vec3, n: wp.vec3, boundary: int, friction: float):
    """Velocity [m/s] after a boundary condition against a solid moving at v_solid with normal n.

    Coulomb friction: the tangential relative speed drops by friction × the removed normal speed
    (Bridson's collision response, as in Stomakhin et al. 2013 §8).
    """
    if boundary == BOUNDARY_STICKY:
        return v_solid
    rel = v - v_solid
    vn = wp.dot(rel, n)
    if boundary == BOUNDARY_SEPARATE and vn >= 0.0:
        return v
    tangential = rel - vn * n
    vt = wp.length(tangential)
    if vt > 0.0:
        tangential = tangential * wp.max(0.0, 1.0 + friction * wp.min(vn, 0.0) / vt)
    return v_solid + tangential


BAKE_PADDING = 3
"""Voxels of margin around a baked shape; outside the baked box the distance reads as this
margin (positive: outside the solid)."""


def bake_signed_distance(sdf, lo: np.ndarray, hi: np.ndarray, voxel: float, device: str) -> wp.Volume:
    """A wp.Volume holding `sdf` (an (M, 3) → (M,) function of local points [m], negative
    inside) sampled every `voxel` [m] over the box [lo, hi] [m] plus BAKE_PADDING voxels; the
    kernels read it with trilinear interpolation in collider-local metres."""
    margin = BAKE_PADDING * voxel
    lo = np.asarray(lo, dtype=float) - margin
    counts = np.ceil((np.asarray(hi, dtype=float) + margin - lo) / voxel).astype(int) + 1
    axes = [lo[a] + voxel * np.arange(counts[a]) for a in range(3)]
    points = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3)
    values = np.asarray(sdf(points), dtype=np.float32).reshape(*counts)
    return wp.Volume.load_from_numpy(values, min_world=tuple(lo), voxel_size=voxel, bg_value=margin, device=device)
