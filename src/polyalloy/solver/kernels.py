"""MLS-MPM kernels: particle-to-grid, grid update, grid-to-particle (Hu et al. 2018, APIC).

Quadratic B-spline weights over the 3×3×3 node stencil. Grid arrays are dense, with the origin
at `grid_origin` and nodes every `dx` metres, but grid stages run only on the 4×4×4 blocks
that particles touch. Each transfer is two kernels: a loop over the 27 stencil nodes with no
branches (p2g_scatter, g2p_gather), shared by every scene, and the per-particle work around it
(stress, will, baths; fracture, plasticity, advection, colliders), built per set of constitutive
models a scene uses and whether it has freezing metal and willed bodies
(`build_transfer_kernels`), so a scene compiles only the code it can reach. Kept apart, the node
loops run about a quarter faster than with that work inline: the compiler schedules a straight
loop far better.

Kernel signatures follow one order: Model inputs, then State in, then State out (suffixes
`_in` / `_out`), then Control, then scalars.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import warp as wp

from ..materials import Constitutive
from ..state import PENDING, PRESENT
from . import constitutive as cm
from .colliders import (
    ColliderData,
    apply_boundary,
    collider_color,
    collider_normal,
    collider_sdf,
    collider_velocity,
)
from .gait import GaitData, gait_shift
from .options import MODULE_OPTIONS
from .pools import PoolData, bath_acceleration, pool_at

wp.set_module_options(MODULE_OPTIONS)


@wp.func
def stencil_base(x: wp.vec3, grid_origin: wp.vec3, inv_dx: float, grid_shape: wp.vec3i):
    """Lower corner node of the 3×3×3 stencil and the particle's offset from it [cells].

    The corner is clamped into the grid: particles never leave the domain, but a NaN position
    (a blow-up, caught at the end of the frame) must not write outside the grid first.
    """
    g = (x - grid_origin) * inv_dx
    base = wp.vec3i(
        wp.clamp(int(g[0] - 0.5), 0, grid_shape[0] - 3),
        wp.clamp(int(g[1] - 0.5), 0, grid_shape[1] - 3),
        wp.clamp(int(g[2] - 0.5), 0, grid_shape[2] - 3),
    )
    fx = g - wp.vec3(float(base[0]), float(base[1]), float(base[2]))
    return base, fx


@wp.func
def bspline_weights(f: float):
    """Quadratic B-spline weights of the three nodes at offsets 0, 1, 2 from the base node."""
    return wp.vec3(0.5 * (1.5 - f) * (1.5 - f), 0.75 - (f - 1.0) * (f - 1.0), 0.5 * (f - 0.5) * (f - 0.5))


@wp.func
def stencil(x: wp.vec3, grid_origin: wp.vec3, inv_dx: float, grid_shape: wp.vec3i):
    """The 3×3×3 stencil of a particle at x [m]: its corner node, its offset from it [cells], and
    the B-spline weights of the three nodes along x, y and z."""
    base, fx = stencil_base(x, grid_origin, inv_dx, grid_shape)
    return base, fx, bspline_weights(fx[0]), bspline_weights(fx[1]), bspline_weights(fx[2])


@wp.func
def wall_boundary(
    v: wp.vec3, node: wp.vec3, lo: wp.vec3, hi: wp.vec3, dx: float, boundary: int, friction: float
):
    """Apply the domain's six walls (planes at the domain faces) to a node velocity [m/s].

    Nodes on a wall count as wall nodes; the tolerance keeps a node that float32 rounding puts
    a hair inside the domain from being missed (which would move that wall out by a cell).
    """
    zero = wp.vec3(0.0)
    tolerance = 1.0e-3 * dx
    for axis in range(3):
        if node[axis] <= lo[axis] + tolerance:
            n = wp.vec3(0.0)
            n[axis] = 1.0
            v = apply_boundary(v, zero, n, boundary, friction)
        if node[axis] >= hi[axis] - tolerance:
            n = wp.vec3(0.0)
            n[axis] = -1.0
            v = apply_boundary(v, zero, n, boundary, friction)
    return v


BLOCK = wp.constant(4)
"""Nodes per side of a grid block, the unit in which the active part of the grid is tracked."""

WILL_FORM = wp.constant(1)
"""Will mode of a particle pulled toward its form target at its body's pose."""

WILL_HOLD = wp.constant(2)
"""Will mode of a particle held at a fixed world target (a piece left behind, polyalloy.reach)."""

J_RELAXATION = wp.constant(0.05)
"""Fraction of the gap between a willed liquid particle's J and the grid's density ratio closed
per substep (the prototype's 5 %, notes/mimetic-control.md)."""


SUBCELL_WILL_RATE = wp.constant(3.0)
"""Rate [1/s] at which a fully willed liquid particle within SUBCELL_WILL_REACH of its target
closes the gap directly (see g2p_finish)."""

SUBCELL_WILL_REACH = wp.constant(2.0)
"""Distance [cells] from its target within which the sub-cell will acts: the B-spline stencil's
width (3 nodes), over which the grid averages a lone particle's pull with its neighbours'. Within
one cell only, stragglers 2–4 cm outside a settled man at a 2 cm cell stayed there for good, and
the body never got back to one fragment."""


@wp.func
def block_node(active_blocks: wp.array(dtype=wp.vec3i), t: int):
    """Node (i, j, k) of thread t when every active block gets BLOCK³ consecutive threads."""
    origin = active_blocks[t // (BLOCK * BLOCK * BLOCK)] * BLOCK
    local = t % (BLOCK * BLOCK * BLOCK)
    return origin + wp.vec3i(local // (BLOCK * BLOCK), (local // BLOCK) % BLOCK, local % BLOCK)


@wp.kernel
def seed_blocks(
    # Model:
    grid_origin: wp.vec3,
    inv_dx: float,
    grid_shape: wp.vec3i,
    # State in:
    x_in: wp.array(dtype=wp.vec3),
    status_in: wp.array(dtype=int),
    first_particle: int,
    # State out:
    block_flags_out: wp.array3d(dtype=int),
):
    """Flag every block each present particle's 3-node stencil reaches (lanes may race: all
    write 1). The stencil spans nodes base … base + 2, so along each axis it reaches block
    base // BLOCK and block (base + 2) // BLOCK (the same one, or the next): eight writes,
    some repeated, and no branches."""
    p = wp.tid() + first_particle
    if status_in[p] != PRESENT:
        return
    base, fx = stencil_base(x_in[p], grid_origin, inv_dx, grid_shape)
    lo = wp.vec3i(base[0] // BLOCK, base[1] // BLOCK, base[2] // BLOCK)
    hi = wp.vec3i((base[0] + 2) // BLOCK, (base[1] + 2) // BLOCK, (base[2] + 2) // BLOCK)
    block_flags_out[lo[0], lo[1], lo[2]] = 1
    block_flags_out[lo[0], lo[1], hi[2]] = 1
    block_flags_out[lo[0], hi[1], lo[2]] = 1
    block_flags_out[lo[0], hi[1], hi[2]] = 1
    block_flags_out[hi[0], lo[1], lo[2]] = 1
    block_flags_out[hi[0], lo[1], hi[2]] = 1
    block_flags_out[hi[0], hi[1], lo[2]] = 1
    block_flags_out[hi[0], hi[1], hi[2]] = 1


@wp.kernel
def compact_blocks(
    block_flags_in: wp.array3d(dtype=int), block_slots_in: wp.array3d(dtype=int), active_blocks_out: wp.array(dtype=wp.vec3i)
):
    """Write the coordinates of each flagged block to its slot (the inclusive prefix sum of the
    flags, less one)."""
    i, j, k = wp.tid()
    if block_flags_in[i, j, k] != 0:
        active_blocks_out[block_slots_in[i, j, k] - 1] = wp.vec3i(i, j, k)


@wp.kernel
def grid_update(
    # Model:
    grid_origin: wp.vec3,
    dx: float,
    domain_lo: wp.vec3,
    domain_hi: wp.vec3,
    wall_boundary_kind: int,
    wall_friction: float,
    gravity: wp.vec3,
    colliders: wp.array(dtype=ColliderData),
    # State in/out:
    grid_scatter_inout: wp.array4d(dtype=wp.vec4),
    # State out:
    grid_velocity_mass_out: wp.array3d(dtype=wp.vec4),
    # Scalars:
    active_blocks: wp.array(dtype=wp.vec3i),
    first_thread: int,
    dt: float,
):
    """Sum the scatter lanes, momentum → velocity, gravity, then collider and wall boundary
    conditions on each node of the active blocks; the node's mass goes along in w. The lanes
    are left zero: every node a scatter reaches lies in the active blocks, so the next scatter
    finds the whole grid clear without a pass of its own."""
    node_index = block_node(active_blocks, wp.tid() + first_thread)
    i = node_index[0]
    j = node_index[1]
    k = node_index[2]
    if i >= grid_velocity_mass_out.shape[0] or j >= grid_velocity_mass_out.shape[1] or k >= grid_velocity_mass_out.shape[2]:
        return
    scattered = wp.vec4(0.0)
    for lane in range(grid_scatter_inout.shape[0]):
        scattered += grid_scatter_inout[lane, i, j, k]
        grid_scatter_inout[lane, i, j, k] = wp.vec4(0.0)
    m = scattered[3]
    momentum = wp.vec3(scattered[0], scattered[1], scattered[2])
    if m <= 0.0:
        grid_velocity_mass_out[i, j, k] = wp.vec4(0.0)
        return
    v = momentum / m + dt * gravity
    node = grid_origin + wp.vec3(float(i), float(j), float(k)) * dx
    for c in range(colliders.shape[0]):
        col = colliders[c]
        # Nodes on or inside the surface carry the solid's boundary condition (Stomakhin 2013 §8).
        if collider_sdf(col, node) <= 0.0:
            v = apply_boundary(v, collider_velocity(col, node), collider_normal(col, node), col.boundary, col.friction)
    v = wall_boundary(v, node, domain_lo, domain_hi, dx, wall_boundary_kind, wall_friction)
    grid_velocity_mass_out[i, j, k] = wp.vec4(v[0], v[1], v[2], m)


@wp.kernel
def p2g_scatter(
    # Model:
    grid_origin: wp.vec3,
    inv_dx: float,
    # State in:
    x_in: wp.array(dtype=wp.vec3),
    scatter_mass_in: wp.array(dtype=float),
    scatter_velocity_in: wp.array(dtype=wp.vec3),
    scatter_affine_in: wp.array(dtype=wp.mat33),
    # State out:
    grid_scatter_out: wp.array4d(dtype=wp.vec4),
    # Scalars:
    first_particle: int,
    lane: int,
):
    """Scatter each particle's APIC momentum and mass into scatter lane `lane` (lanes run
    concurrently over disjoint particle ranges). The per-particle work (stress, will, baths) is
    done before, by the material's p2g_prepare: this loop has no branches, which lets the
    compiler keep its 27 node updates tight."""
    p = wp.tid() + first_particle
    m = scatter_mass_in[p]
    if m <= 0.0:
        return
    affine = scatter_affine_in[p]
    grid_shape = wp.vec3i(grid_scatter_out.shape[1], grid_scatter_out.shape[2], grid_scatter_out.shape[3])
    base, fx, wx, wy, wz = stencil(x_in[p], grid_origin, inv_dx, grid_shape)
    # Node momentum m v + affine (x_i − x_p) with x_i − x_p = ((a, b, c) − fx) dx, summed
    # axis by axis: the affine term grows by one column of affine·dx per stencil step.
    dx = 1.0 / inv_dx
    step_x = dx * wp.vec3(affine[0, 0], affine[1, 0], affine[2, 0])
    step_y = dx * wp.vec3(affine[0, 1], affine[1, 1], affine[2, 1])
    step_z = dx * wp.vec3(affine[0, 2], affine[1, 2], affine[2, 2])
    corner = m * scatter_velocity_in[p] - affine * (fx * dx)
    for a in range(3):
        along_x = corner + float(a) * step_x
        for b in range(3):
            along_y = along_x + float(b) * step_y
            wab = wx[a] * wy[b]
            for c in range(3):
                w = wab * wz[c]
                node_momentum = w * (along_y + float(c) * step_z)
                wp.atomic_add(
                    grid_scatter_out, lane, base[0] + a, base[1] + b, base[2] + c,
                    wp.vec4(node_momentum[0], node_momentum[1], node_momentum[2], w * m),
                )


@wp.kernel
def g2p_gather(
    # Model:
    grid_origin: wp.vec3,
    inv_dx: float,
    grid_velocity_mass_in: wp.array3d(dtype=wp.vec4),
    # State in:
    x_in: wp.array(dtype=wp.vec3),
    status_in: wp.array(dtype=int),
    airborne_in: wp.array(dtype=int),
    # State out:
    v_out: wp.array(dtype=wp.vec3),
    C_out: wp.array(dtype=wp.mat33),
    stencil_mass_out: wp.array(dtype=float),
    # Scalars:
    first_particle: int,
):
    """Gather each present particle's grid velocity, its APIC gradient C and the stencil's
    mass Σ w m_i [kg]. The material's g2p_finish does the rest; this loop, like the scatter, has
    no branches to slow it."""
    p = wp.tid() + first_particle
    if status_in[p] != PRESENT or airborne_in[p] == 1:
        return
    grid_shape = wp.vec3i(grid_velocity_mass_in.shape[0], grid_velocity_mass_in.shape[1], grid_velocity_mass_in.shape[2])
    base, fx, wx, wy, wz = stencil(x_in[p], grid_origin, inv_dx, grid_shape)
    # B = Σ w v_i ((a, b, c) − fx)ᵀ, gathered as Σ w v_i, Σ w v_i a, Σ w v_i b, Σ w v_i c; each
    # row of three nodes along z is summed first (its weighted sum and its c-moment).
    total = wp.vec4(0.0)
    moment_x = wp.vec3(0.0)
    moment_y = wp.vec3(0.0)
    moment_z = wp.vec3(0.0)
    for a in range(3):
        plane = wp.vec4(0.0)
        for b in range(3):
            n0 = grid_velocity_mass_in[base[0] + a, base[1] + b, base[2]]
            n1 = grid_velocity_mass_in[base[0] + a, base[1] + b, base[2] + 1]
            n2 = grid_velocity_mass_in[base[0] + a, base[1] + b, base[2] + 2]
            wab = wx[a] * wy[b]
            row = wab * (wz[0] * n0 + wz[1] * n1 + wz[2] * n2)
            row_moment = wab * (wz[1] * n1 + (2.0 * wz[2]) * n2)
            plane += row
            moment_y += float(b) * wp.vec3(row[0], row[1], row[2])
            moment_z += wp.vec3(row_moment[0], row_moment[1], row_moment[2])
        total += plane
        moment_x += float(a) * wp.vec3(plane[0], plane[1], plane[2])
    v = wp.vec3(total[0], total[1], total[2])
    v_out[p] = v
    C_out[p] = (4.0 * inv_dx) * (wp.matrix_from_cols(moment_x, moment_y, moment_z) - wp.outer(v, fx))
    stencil_mass_out[p] = total[3]


@wp.func
def advanced_pose(col: ColliderData, dt: float):
    """The collider moved rigidly by its velocity and angular velocity over dt [s]."""
    moved = col
    moved.origin = col.origin + dt * col.velocity
    spin = wp.length(col.angular_velocity)
    if spin > 0.0:
        turn = wp.quat_from_axis_angle(col.angular_velocity / spin, spin * dt)
        moved.rotation = turn * col.rotation
    return moved


@wp.func
def project_out_of_colliders(
    x: wp.vec3, v: wp.vec3, colliders: wp.array(dtype=ColliderData), lo: wp.vec3, hi: wp.vec3, dt: float
):
    """Push a particle that ended inside a solid back to its surface and drop its inward velocity.

    The particle's new position is for the end of the substep, so it is tested against each
    collider where the collider will be then, not where it was at the start.
    """
    for c in range(colliders.shape[0]):
        col = advanced_pose(colliders[c], dt)
        d = collider_sdf(col, x)
        if d < 0.0:
            n = collider_normal(col, x)
            x = x - d * n
            v_solid = collider_velocity(col, x)
            vn = wp.dot(v - v_solid, n)
            if vn < 0.0:
                v = v - vn * n
    for axis in range(3):
        if x[axis] < lo[axis]:
            x[axis] = lo[axis]
            v[axis] = wp.max(v[axis], 0.0)
        if x[axis] > hi[axis]:
            x[axis] = hi[axis]
            v[axis] = wp.min(v[axis], 0.0)
    return x, v


FROST_REACH = wp.constant(0.5)
"""Frozen particles within this many cells of a solid surface are frozen onto it [cells]."""


@wp.func
def collider_contact(x: wp.vec3, colliders: wp.array(dtype=ColliderData), reach: float):
    """(1, its velocity at x [m/s]) if x lies within `reach` [m] of a collider (the first in
    the list), else (0, 0)."""
    for c in range(colliders.shape[0]):
        if collider_sdf(colliders[c], x) < reach:
            return 1, collider_velocity(colliders[c], x)
    return 0, wp.vec3(0.0)


@wp.func
def surface_contact(x: wp.vec3, colliders: wp.array(dtype=ColliderData), lo: wp.vec3, hi: wp.vec3, reach: float):
    """(1, surface velocity [m/s]) if x lies within `reach` [m] of a collider or a domain wall
    (the first such collider's velocity; walls stand still), else (0, 0)."""
    touching, v_surface = collider_contact(x, colliders, reach)
    if touching == 1:
        return 1, v_surface
    for axis in range(3):
        if x[axis] < lo[axis] + reach or x[axis] > hi[axis] - reach:
            return 1, wp.vec3(0.0)
    return 0, wp.vec3(0.0)


GLITCH_TEAR_REACH = wp.constant(0.1)
"""A glitching body's liquid metal touching a collider melds with it (T5: "It rips the hand from
the railing with difficulty"): it moves with the surface until its will has drawn it this far
× the glitch level from where it belongs [m], then tears free (8 cm at the freeze's 0.8)."""


FROST_REACH_MIN = wp.constant(0.02)
"""Frozen metal slower than HOLD_SPEED relative to a surface within this distance of it is frozen
onto it however fine the cell [m]. Frozen metal, eight times denser than liquid nitrogen,
squeezes a film of it out from under itself; a grid moving each node with one velocity cannot
drain the film's last cell, and at a 2 cm cell a fallen frozen man slid on a sheet of nitrogen
1–3 cm deep, out of FROST_REACH (half a cell, 1 cm)."""

HOLD_SPEED = wp.constant(0.5)
"""Frozen metal touching a surface through a film (FROST_REACH_MIN), or a piece touching it
(solver.pieces), is held once it moves slower than this relative to the surface [m/s]: frost
bonds form on contact at rest, and a dropped frozen block or a landing shard spends its motion
in its impact first."""


@wp.func
def frozen_onto_surface(x: wp.vec3, v: wp.vec3, colliders: wp.array(dtype=ColliderData), lo: wp.vec3, hi: wp.vec3, inv_dx: float):
    """(1, surface velocity [m/s]) if frozen metal at x moving at v is frozen onto a surface:
    within FROST_REACH cells of it, or within FROST_REACH_MIN [m] of it and slower than
    HOLD_SPEED relative to it; else (0, 0)."""
    near = FROST_REACH / inv_dx
    touching, v_surface = surface_contact(x, colliders, lo, hi, near)
    if touching == 1:
        return 1, v_surface
    if FROST_REACH_MIN > near:
        touching, v_surface = surface_contact(x, colliders, lo, hi, FROST_REACH_MIN)
        if touching == 1 and wp.length(v - v_surface) < HOLD_SPEED:
            return 1, v_surface
    return 0, wp.vec3(0.0)


@wp.kernel
def collider_distances(points: wp.array(dtype=wp.vec3), colliders: wp.array(dtype=ColliderData), distance_out: wp.array(dtype=float)):
    """distance_out[i] = signed distance [m] from points[i] to the nearest collider (inside < 0)."""
    i = wp.tid()
    nearest = float(1.0e30)
    for c in range(colliders.shape[0]):
        nearest = wp.min(nearest, collider_sdf(colliders[c], points[i]))
    distance_out[i] = nearest


def solid_distances(points: np.ndarray, colliders: wp.array, device: str) -> np.ndarray:
    """Signed distance [m] from each of `points` [m], shape (N, 3), to the nearest of `colliders`
    (inside < 0; 1e30 with none), computed on `device`."""
    points = np.asarray(points, dtype=np.float32).reshape(-1, 3)
    distance = wp.zeros(len(points), dtype=float, device=device)
    wp.launch(collider_distances, dim=len(points), inputs=[wp.array(points, dtype=wp.vec3, device=device), colliders, distance], device=device)
    return distance.numpy()


@wp.kernel
def max_speed(v_in: wp.array(dtype=wp.vec3), speed_out: wp.array(dtype=float)):
    """speed_out[0] = largest particle speed [m/s] (it must hold 0 on entry)."""
    i = wp.tid()
    wp.atomic_max(speed_out, 0, wp.length(v_in[i]))


@wp.kernel
def frozen_materials(
    particle_material: wp.array(dtype=int),
    materials: wp.array(dtype=cm.MaterialData),
    phase_in: wp.array(dtype=float),
    status_in: wp.array(dtype=int),
    frozen_out: wp.array(dtype=int),
):
    """frozen_out[m] = 1 if some particle of material m, present or still to be poured, is frozen
    (it must hold 0 on entry)."""
    i = wp.tid()
    if status_in[i] != PRESENT and status_in[i] != PENDING:
        return
    if cm.is_frozen(materials[particle_material[i]], phase_in[i]):
        frozen_out[particle_material[i]] = 1


@wp.kernel
def count_non_finite(x_in: wp.array(dtype=wp.vec3), v_in: wp.array(dtype=wp.vec3), out: wp.array(dtype=int)):
    """out[0] += number of particles whose position or velocity is NaN or infinite."""
    i = wp.tid()
    x = x_in[i]
    v = v_in[i]
    s = x[0] + x[1] + x[2] + v[0] + v[1] + v[2]
    if not wp.isfinite(s):
        wp.atomic_add(out, 0, 1)


@wp.kernel
def relax_colors(
    x_in: wp.array(dtype=wp.vec3),
    particle_body: wp.array(dtype=int),
    form_colors: wp.array(dtype=wp.vec3),
    body_authority: wp.array(dtype=float),
    body_camouflage: wp.array(dtype=int),
    body_glitch: wp.array(dtype=float),
    colliders: wp.array(dtype=ColliderData),
    pressed: wp.array(dtype=int),
    imprint: wp.array(dtype=float),
    camouflage_depth: float,
    rate: float,
    imprint_rate: float,
    imprint_shallow: float,
    imprint_set: float,
    static_deviation: float,
    seed: int,
    dt: float,
    colors_inout: wp.array(dtype=wp.vec3),
):
    """A willed body's colours move toward their targets over dt [s]: its form's colours, or,
    while it camouflages on collider body_camouflage[b], the colour of that surface under every
    particle within `camouflage_depth` [m] of it, at `rate`·authority [1/s]. A glitching body
    restores its colours where no contact's have sunk in (imprint ≤ `imprint_shallow` [s]) as
    fast as contacts paint them, at `imprint_rate`·authority; where they have (imprint ≥
    `imprint_set` [s], smoothly between) at `rate`·authority·(1 − g)²: it has lost its hold
    there. Its particles pressed to a surface are not restored at all. It also shows surface
    static, the will's own noise: an Ornstein–Uhlenbeck jitter per channel relaxing at the
    colour's rate, its standard deviation `static_deviation`·g wherever the will acts (random
    for `seed`)."""
    p = wp.tid()
    body = particle_body[p]
    if body < 0:
        return
    authority = body_authority[body]
    if authority <= 0.0:
        return
    glitch = body_glitch[body]
    if glitch > 0.0 and pressed[p] == 1:
        return
    target = form_colors[p]
    surface = body_camouflage[body]
    if surface >= 0:
        if collider_sdf(colliders[surface], x_in[p]) < camouflage_depth:
            target = collider_color(colliders[surface], x_in[p])
    shallow_rate = rate
    if glitch > 0.0:
        shallow_rate = imprint_rate
    depth = wp.smoothstep(imprint_shallow, imprint_set, imprint[p])
    keep = wp.exp(-authority * ((1.0 - depth) * shallow_rate + depth * rate * (1.0 - glitch) * (1.0 - glitch)) * dt)
    color = keep * colors_inout[p] + (1.0 - keep) * target
    if glitch > 0.0:
        # Uniform noise of unit variance, scaled so the jitter's stationary deviation is the
        # same whatever the rate: x ← keep·x + σ·sqrt(1 − keep²)·ξ.
        state = wp.rand_init(seed, p)
        noise = wp.vec3(wp.randf(state) - 0.5, wp.randf(state) - 0.5, wp.randf(state) - 0.5)
        color = color + (wp.sqrt(12.0 * (1.0 - keep * keep)) * static_deviation * glitch) * noise
        color = wp.vec3(wp.clamp(color[0], 0.0, 1.0), wp.clamp(color[1], 0.0, 1.0), wp.clamp(color[2], 0.0, 1.0))
    colors_inout[p] = color


@wp.kernel
def contact_colors(
    x_in: wp.array(dtype=wp.vec3),
    colliders: wp.array(dtype=ColliderData),
    reach: float,
    touching_out: wp.array(dtype=int),
    color_out: wp.array(dtype=wp.vec3),
):
    """touching_out[p] = 1 and color_out[p] = the surface colour where particle p lies within
    `reach` [m] of a collider (the nearest one), else 0."""
    p = wp.tid()
    x = x_in[p]
    nearest = reach
    touching_out[p] = 0
    for c in range(colliders.shape[0]):
        d = collider_sdf(colliders[c], x)
        if d < nearest:
            nearest = d
            touching_out[p] = 1
            color_out[p] = collider_color(colliders[c], x)


@wp.kernel
def touch_colliders(
    x_in: wp.array(dtype=wp.vec3),
    particle_body: wp.array(dtype=int),
    colliders: wp.array(dtype=ColliderData),
    sampleable: wp.array(dtype=int),
    reach: float,
    touched_out: wp.array2d(dtype=int),
):
    """touched_out[body, s] = 1 where a particle of `body` lies within `reach` [m] of the
    surface of collider sampleable[s] (or inside it)."""
    p, s = wp.tid()
    if collider_sdf(colliders[sampleable[s]], x_in[p]) < reach:
        touched_out[particle_body[p], s] = 1


@wp.func
def crater_weight(x: wp.vec3, point: wp.vec3, radius: float):
    """Share of an impact a particle at x takes: 1 − (d/r)² within the crater radius, else 0."""
    d = wp.length(x - point) / radius
    return wp.max(1.0 - d * d, 0.0)


@wp.func
def outward(x: wp.vec3, point: wp.vec3):
    """Unit vector from the impact point to x (zero at the point itself)."""
    offset = x - point
    d = wp.length(offset)
    if d < 1.0e-9:
        return wp.vec3(0.0)
    return offset / d


@wp.func
def present_in(body: int, p: int, particle_body: wp.array(dtype=int), status_in: wp.array(dtype=int)):
    """Whether particle p belongs to `body` and is present (a shot moves no metal that has left)."""
    return particle_body[p] == body and status_in[p] == PRESENT


@wp.kernel
def first_along_path(
    x_in: wp.array(dtype=wp.vec3),
    particle_body: wp.array(dtype=int),
    status_in: wp.array(dtype=int),
    body: int,
    point: wp.vec3,
    direction: wp.vec3,
    radius: float,
    first_out: wp.array(dtype=float),
):
    """first_out[0] = least distance [m] along the unit `direction` from `point` to a present
    particle of `body` within `radius` of that line (left as it was if there is none)."""
    p = wp.tid()
    if not present_in(body, p, particle_body, status_in):
        return
    offset = x_in[p] - point
    along = wp.dot(offset, direction)
    if wp.length_sq(offset - along * direction) < radius * radius:
        wp.atomic_min(first_out, 0, along)


@wp.kernel
def impact_sums(
    x_in: wp.array(dtype=wp.vec3),
    particle_mass: wp.array(dtype=float),
    particle_body: wp.array(dtype=int),
    status_in: wp.array(dtype=int),
    body: int,
    point: wp.vec3,
    radius: float,
    sums_out: wp.array(dtype=float),
):
    """Crater moments of one body's present metal: Σ w m, Σ w m r̂ (1..3), Σ w² m (4), Σ w² m r̂ (5..7)."""
    p = wp.tid()
    if not present_in(body, p, particle_body, status_in):
        return
    w = crater_weight(x_in[p], point, radius)
    if w <= 0.0:
        return
    m = particle_mass[p]
    r = outward(x_in[p], point)
    wp.atomic_add(sums_out, 0, w * m)
    wp.atomic_add(sums_out, 4, w * w * m)
    for axis in range(3):
        wp.atomic_add(sums_out, 1 + axis, w * m * r[axis])
        wp.atomic_add(sums_out, 5 + axis, w * w * m * r[axis])


@wp.kernel
def apply_impact(
    x_in: wp.array(dtype=wp.vec3),
    particle_body: wp.array(dtype=int),
    status_in: wp.array(dtype=int),
    body: int,
    point: wp.vec3,
    radius: float,
    kick: wp.vec3,
    splash_speed: float,
    mean_outward: wp.vec3,
    v_inout: wp.array(dtype=wp.vec3),
):
    """Δv = w·kick + splash_speed·w·(r̂ − r̄) on the body's present metal: the first part carries
    the projectile's momentum, the second throws the crater open and sums to zero momentum (r̄ is
    the w·m-weighted mean r̂)."""
    p = wp.tid()
    if not present_in(body, p, particle_body, status_in):
        return
    w = crater_weight(x_in[p], point, radius)
    if w > 0.0:
        v_inout[p] = v_inout[p] + w * kick + (splash_speed * w) * (outward(x_in[p], point) - mean_outward)


@wp.func
def control_acceleration(
    x: wp.vec3,
    v: wp.vec3,
    target: wp.vec3,
    target_velocity: wp.vec3,
    authority: float,
    gain: float,
    max_acceleration: float,
    gravity: wp.vec3,
):
    """The will of a mimetic body on one particle [m/s²] with `authority` in (0, 1].

    A critically damped PD pull toward the particle's target, a = k (t − x) + 2√k (v_t − v)
    with k = authority · gain, bounded by authority · max_acceleration, plus the same fraction
    of gravity compensated, so a well body at its form rests (notes/mimetic-control.md) and a
    weakened one is slower and sags.
    """
    k = authority * gain
    pull = k * (target - x) + 2.0 * wp.sqrt(k) * (target_velocity - v)
    size = wp.length(pull)
    bound = authority * max_acceleration
    if size > bound:
        pull = pull * (bound / size)
    return pull - authority * gravity


@wp.func
def will_share(mat: cm.MaterialData, phase: float, temperature: float):
    """Share of its body's will a particle feels [0, 1]. Frozen metal has none, so in a freezing
    material the pull fades with the particle's liquid fraction; over-heated metal loses it too,
    fading from halfway between its melting and boiling points to none at boiling."""
    share = float(1.0)
    if mat.constitutive == cm.FLUID and mat.frozen_shear_modulus > 0.0:
        share = phase
    hot = 0.5 * (mat.melting_point + mat.boiling_point)
    if temperature > hot:
        share = share * wp.max((mat.boiling_point - temperature) / (mat.boiling_point - hot), 0.0)
    return share


@wp.func
def form_target(p: int, body: int, targets: wp.array(dtype=wp.vec3), body_offset: wp.array(dtype=wp.vec3), gaits: wp.array(dtype=GaitData)):
    """Where body `body` wills its particle p in its form now [m]: its target moved by the
    body's pose offset and its walk."""
    step, step_velocity = gait_shift(gaits[body], targets[p])
    return targets[p] + body_offset[body] + step


@wp.kernel
def walked_targets(
    targets: wp.array(dtype=wp.vec3),
    particle_body: wp.array(dtype=int),
    gaits: wp.array(dtype=GaitData),
    walked_out: wp.array(dtype=wp.vec3),
):
    """Each particle's form target (base pose) [m] with its body's walk applied."""
    p = wp.tid()
    target = targets[p]
    body = particle_body[p]
    if body >= 0:
        step, step_velocity = gait_shift(gaits[body], target)
        target = target + step
    walked_out[p] = target


@wp.func
def particle_will(
    p: int,
    body: int,
    x: wp.vec3,
    v: wp.vec3,
    material: cm.MaterialData,
    phase: float,
    temperature: float,
    gravity: wp.vec3,
    bath: int,
    pools: wp.array(dtype=PoolData),
    targets: wp.array(dtype=wp.vec3),
    will_mode: wp.array(dtype=int),
    hold_velocity: wp.array(dtype=wp.vec3),
    hold_elapsed: float,
    body_will: wp.array(dtype=float),
    body_gain: wp.array(dtype=float),
    body_max_acceleration: wp.array(dtype=float),
    body_offset: wp.array(dtype=wp.vec3),
    body_offset_velocity: wp.array(dtype=wp.vec3),
    gaits: wp.array(dtype=GaitData),
):
    """(authority, will [m/s²]) of body `body` on its particle p at x moving at v, in pool `bath`
    (-1: none): the will before the body's net-force limit (will_excess); 0 without authority."""
    authority = body_will[body] * will_share(material, phase, temperature)
    if authority <= 0.0:
        return 0.0, wp.vec3(0.0)
    # A held piece keeps its shape but has no will to go anywhere: its world targets move with it
    # (polyalloy.reach) and gravity is not resisted, so it falls and rests.
    target_velocity = hold_velocity[p]
    target = targets[p] + hold_elapsed * target_velocity
    resisted_gravity = wp.vec3(0.0)
    if will_mode[p] != WILL_HOLD:
        step, step_velocity = gait_shift(gaits[body], targets[p])
        target = targets[p] + body_offset[body] + step
        target_velocity = body_offset_velocity[body] + step_velocity
        # The will bears the particle's apparent weight: in a bath, gravity less Archimedes'
        # lift (metal lighter than steel is held down, not buoyed up twice).
        resisted_gravity = gravity
        if bath >= 0:
            resisted_gravity = gravity * (1.0 - pools[bath].density / material.density)
    will = control_acceleration(x, v, target, target_velocity, authority, body_gain[body], body_max_acceleration[body], resisted_gravity)
    return authority, will


WILL_FORCE_RATIO = 1.5
"""A freezing body's will (control.WILL_LIMIT_FADE_FROM to WILL_LIMIT_FROZEN_SHARE) gives up
the share body_will_limit of its net force beyond this many times the weight of the liquid it
pulls [1]: enough to move that liquid within the body, not to carry the frozen metal around it."""


@wp.kernel
def will_sums(
    # Model:
    particle_mass: wp.array(dtype=float),
    particle_material: wp.array(dtype=int),
    materials: wp.array(dtype=cm.MaterialData),
    particle_body: wp.array(dtype=int),
    gravity: wp.vec3,
    # State in:
    x_in: wp.array(dtype=wp.vec3),
    v_in: wp.array(dtype=wp.vec3),
    phase_in: wp.array(dtype=float),
    temperature_in: wp.array(dtype=float),
    status_in: wp.array(dtype=int),
    airborne_in: wp.array(dtype=int),
    # Control:
    targets: wp.array(dtype=wp.vec3),
    will_mode: wp.array(dtype=int),
    hold_velocity: wp.array(dtype=wp.vec3),
    hold_elapsed: float,
    body_will: wp.array(dtype=float),
    body_gain: wp.array(dtype=float),
    body_max_acceleration: wp.array(dtype=float),
    body_offset: wp.array(dtype=wp.vec3),
    body_offset_velocity: wp.array(dtype=wp.vec3),
    gaits: wp.array(dtype=GaitData),
    body_will_limit: wp.array(dtype=float),
    pools: wp.array(dtype=PoolData),
    time: float,
    # Out:
    force_out: wp.array(dtype=wp.vec3),
    borne_out: wp.array(dtype=float),
):
    """Per body whose will is limited: the net force of its will Σ m a [N] and the mass its will
    bears, Σ m · authority [kg] (its particles' weight the will compensates, over g)."""
    p = wp.tid()
    body = particle_body[p]
    if body < 0 or status_in[p] != PRESENT or airborne_in[p] == 1:
        return
    if body_will_limit[body] <= 0.0:
        return
    material = materials[particle_material[p]]
    bath = pool_at(x_in[p], pools, time)
    authority, will = particle_will(
        p, body, x_in[p], v_in[p], material, phase_in[p], temperature_in[p], gravity, bath, pools, targets, will_mode,
        hold_velocity, hold_elapsed, body_will, body_gain, body_max_acceleration, body_offset, body_offset_velocity, gaits,
    )
    if authority > 0.0:
        m = particle_mass[p]
        wp.atomic_add(force_out, body, m * will)
        wp.atomic_add(borne_out, body, m * authority)


@wp.kernel
def will_excess(
    force: wp.array(dtype=wp.vec3),
    borne: wp.array(dtype=float),
    body_will_limit: wp.array(dtype=float),
    force_ratio: float,
    gravity: wp.vec3,
    excess_out: wp.array(dtype=wp.vec3),
):
    """Per body, the acceleration per unit authority [m/s²] each particle's will gives up so the
    will's net force exceeds `force_ratio` × the weight it bears by only (1 − limit) of the excess
    (body_will_limit: 0 unlimited, 1 fully limited). Taken in proportion to each particle's
    authority, it changes the net force alone: pulls that cancel (the body's shaping) stay whole."""
    b = wp.tid()
    excess_out[b] = wp.vec3(0.0)
    net = force[b]
    size = wp.length(net)
    mass = borne[b]
    if body_will_limit[b] <= 0.0 or mass <= 0.0 or size <= 0.0:
        return
    over = body_will_limit[b] * wp.max(size - force_ratio * mass * wp.length(gravity), 0.0)
    excess_out[b] = net * (over / (size * mass))


@dataclass(frozen=True)
class TransferKernels:
    """The material-dependent kernels of one scene: the per-particle work around the shared
    scatter and gather loops (p2g_scatter, g2p_gather)."""

    p2g_prepare: wp.Kernel
    g2p_finish: wp.Kernel


_TRANSFER_CACHE: dict[tuple, TransferKernels] = {}


def build_transfer_kernels(constitutives: frozenset[int], freezing: bool, willed: bool) -> TransferKernels:
    """P2G and G2P kernels that include exactly the constitutive models in `constitutives`, the
    frozen metal's mechanics (brittle stress, fracture, frost on surfaces, shards in flight) only
    if some material `freezing`, and a mimetic body's will only if some body is `willed`.

    Code a scene cannot reach still costs when compiled in: the passive dam break's G2P took
    52 ns per particle with the frozen and willed branches in (never taken) and 27 without.
    """
    constitutives = frozenset(int(c) for c in constitutives)
    key = (constitutives, freezing, willed)
    if key in _TRANSFER_CACHE:
        return _TRANSFER_CACHE[key]
    has_fluid = int(Constitutive.FLUID) in constitutives
    has_elastic = int(Constitutive.ELASTIC) in constitutives
    has_sand = int(Constitutive.SAND) in constitutives
    freezes = has_fluid and freezing
    module = "polyalloy_mpm_" + "".join(str(c) for c in sorted(constitutives)) + ("f" if freezes else "") + ("w" if willed else "")
    wp.set_module_options(MODULE_OPTIONS, module)

    @wp.func
    def kirchhoff_stress(F: wp.mat33, C: wp.mat33, mat: cm.MaterialData, phase: float, bond: float):
        tau = wp.mat33(0.0)
        if wp.static(has_fluid):
            if mat.constitutive == cm.FLUID:
                tau = cm.fluid_stress(F, C, mat)
                if wp.static(freezes):
                    if cm.is_frozen(mat, phase):
                        if bond > 0.0:
                            tau = cm.frozen_stress(F, C, mat)
                        else:
                            tau = cm.broken_stress(F, mat)
        if wp.static(has_elastic):
            if mat.constitutive == cm.ELASTIC:
                tau = cm.neo_hookean_stress(F, C, mat)
        if wp.static(has_sand):
            if mat.constitutive == cm.SAND:
                tau = cm.hencky_stress(F, C, mat)
        return tau

    @wp.func
    def plastic_projection(F: wp.mat33, mat: cm.MaterialData, phase: float, bond: float):
        if wp.static(has_fluid):
            # Liquid keeps only its volume ratio, intact frozen metal its whole deformation, and
            # broken frozen metal what its friction holds.
            if mat.constitutive == cm.FLUID:
                if wp.static(freezes):
                    if cm.is_frozen(mat, phase):
                        if bond > 0.0:
                            return F
                        return cm.rubble_project(F, mat)
                return cm.fluid_project(F)
        if wp.static(has_sand):
            if mat.constitutive == cm.SAND:
                return cm.drucker_prager_project(F, mat)
        return F

    @wp.kernel(module=module)
    def p2g_prepare(
        # Model:
        particle_mass: wp.array(dtype=float),
        particle_volume: wp.array(dtype=float),
        particle_material: wp.array(dtype=int),
        materials: wp.array(dtype=cm.MaterialData),
        inv_dx: float,
        particle_body: wp.array(dtype=int),
        gravity: wp.vec3,
        # State in:
        x_in: wp.array(dtype=wp.vec3),
        v_in: wp.array(dtype=wp.vec3),
        C_in: wp.array(dtype=wp.mat33),
        F_in: wp.array(dtype=wp.mat33),
        phase_in: wp.array(dtype=float),
        temperature_in: wp.array(dtype=float),
        status_in: wp.array(dtype=int),
        bond_in: wp.array(dtype=float),
        airborne_in: wp.array(dtype=int),
        # Control:
        targets: wp.array(dtype=wp.vec3),
        will_mode: wp.array(dtype=int),
        hold_velocity: wp.array(dtype=wp.vec3),
        hold_elapsed: float,
        body_will: wp.array(dtype=float),
        body_gain: wp.array(dtype=float),
        body_max_acceleration: wp.array(dtype=float),
        body_offset: wp.array(dtype=wp.vec3),
        body_offset_velocity: wp.array(dtype=wp.vec3),
        gaits: wp.array(dtype=GaitData),
        will_excess: wp.array(dtype=wp.vec3),
        pools: wp.array(dtype=PoolData),
        time: float,
        # State out:
        scatter_mass_out: wp.array(dtype=float),
        scatter_velocity_out: wp.array(dtype=wp.vec3),
        scatter_affine_out: wp.array(dtype=wp.mat33),
        # Scalars:
        first_particle: int,
        dt: float,
    ):
        """What each particle scatters (p2g_scatter): its mass, its velocity with this substep's
        will and bath impulses, and its affine momentum with the stress impulse folded in
        (MLS-MPM eq. 29). Absent particles and shards in flight scatter nothing (mass 0)."""
        p = wp.tid() + first_particle
        if status_in[p] != PRESENT or airborne_in[p] == 1:
            scatter_mass_out[p] = 0.0
            return
        m = particle_mass[p]
        phase = phase_in[p]
        material = materials[particle_material[p]]
        stress = kirchhoff_stress(F_in[p], C_in[p], material, phase, bond_in[p])
        v = v_in[p]
        bath = pool_at(x_in[p], pools, time)
        # A mimetic body's will enters as an impulse on the grid momentum, so other materials
        # feel it through the shared grid (momentum exchange stays right).
        if wp.static(willed):
            body = particle_body[p]
            if body >= 0:
                authority, will = particle_will(
                    p, body, x_in[p], v, material, phase, temperature_in[p], gravity, bath, pools, targets, will_mode,
                    hold_velocity, hold_elapsed, body_will, body_gain, body_max_acceleration, body_offset, body_offset_velocity, gaits,
                )
                if authority > 0.0:
                    v = v + dt * (will - authority * will_excess[body])
        if bath >= 0:
            v = v + dt * bath_acceleration(v, material.density, gravity, pools[bath])
        scatter_mass_out[p] = m
        scatter_velocity_out[p] = v
        scatter_affine_out[p] = (-dt * particle_volume[p] * 4.0 * inv_dx * inv_dx) * stress + m * C_in[p]

    @wp.kernel(module=module)
    def g2p_finish(
        # Model:
        particle_mass: wp.array(dtype=float),
        particle_volume: wp.array(dtype=float),
        particle_material: wp.array(dtype=int),
        materials: wp.array(dtype=cm.MaterialData),
        particle_body: wp.array(dtype=int),
        grid_origin: wp.vec3,
        inv_dx: float,
        domain_lo: wp.vec3,
        domain_hi: wp.vec3,
        gravity: wp.vec3,
        colliders: wp.array(dtype=ColliderData),
        grid_velocity_mass_in: wp.array3d(dtype=wp.vec4),
        stencil_mass_in: wp.array(dtype=float),
        # Control:
        body_authority: wp.array(dtype=float),
        body_will: wp.array(dtype=float),
        targets: wp.array(dtype=wp.vec3),
        will_mode: wp.array(dtype=int),
        body_offset: wp.array(dtype=wp.vec3),
        gaits: wp.array(dtype=GaitData),
        body_glitch: wp.array(dtype=float),
        # State in:
        x_in: wp.array(dtype=wp.vec3),
        v_in: wp.array(dtype=wp.vec3),
        F_in: wp.array(dtype=wp.mat33),
        phase_in: wp.array(dtype=float),
        temperature_in: wp.array(dtype=float),
        status_in: wp.array(dtype=int),
        bond_in: wp.array(dtype=float),
        airborne_in: wp.array(dtype=int),
        # State out (v and C hold g2p_gather's velocity and gradient on entry):
        x_out: wp.array(dtype=wp.vec3),
        v_out: wp.array(dtype=wp.vec3),
        C_out: wp.array(dtype=wp.mat33),
        F_out: wp.array(dtype=wp.mat33),
        bond_out: wp.array(dtype=float),
        airborne_out: wp.array(dtype=int),
        # Scalars:
        first_particle: int,
        dt: float,
    ):
        """After g2p_gather: fracture, plasticity, advection, keeping particles out of solids.
        A particle no longer present stays where it left, at rest; a shard in flight falls freely.
        Bonds and flight change only in frozen metal: without a freezing material both states
        keep the values they were made with, and they are not copied."""
        p = wp.tid() + first_particle
        if wp.static(freezes):
            bond_out[p] = bond_in[p]
            airborne_out[p] = 0
        if status_in[p] != PRESENT:
            x_out[p] = x_in[p]
            v_out[p] = wp.vec3(0.0)
            return
        x = x_in[p]
        if wp.static(freezes):
            if airborne_in[p] == 1:
                # A shard of a shattered body (polyalloy.shatter) flies ballistically, off the grid,
                # until it closes in on matter on the grid or touches a surface; then it rejoins with
                # its velocity and the grid resolves the collision. Matter it moves away from (the
                # shards it burst from, as they land) does not stop it.
                grid_shape = wp.vec3i(grid_velocity_mass_in.shape[0], grid_velocity_mass_in.shape[1], grid_velocity_mass_in.shape[2])
                base, fx, wx, wy, wz = stencil(x, grid_origin, inv_dx, grid_shape)
                v_free = v_in[p] + dt * gravity
                x_free, v_free = project_out_of_colliders(x + dt * v_free, v_free, colliders, domain_lo, domain_hi, dt)
                met = float(0.0)
                offset = wp.vec3(0.0)
                momentum = wp.vec3(0.0)
                for a in range(3):
                    for b in range(3):
                        for c in range(3):
                            node = grid_velocity_mass_in[base[0] + a, base[1] + b, base[2] + c]
                            wm = wx[a] * wy[b] * wz[c] * node[3]
                            met += wm
                            offset += wm * (fx - wp.vec3(float(a), float(b), float(c)))
                            momentum += wm * wp.vec3(node[0], node[1], node[2])
                closing = False
                if met > 0.0:
                    closing = wp.dot(v_free - momentum / met, offset) < 0.0
                touching, v_surface = surface_contact(x_free, colliders, domain_lo, domain_hi, FROST_REACH / inv_dx)
                if not closing and touching == 0:
                    airborne_out[p] = 1
                x_out[p] = x_free
                v_out[p] = v_free
                C_out[p] = wp.mat33(0.0)
                F_out[p] = F_in[p]
                return
        v = v_out[p]
        C = C_out[p]
        F = (wp.identity(n=3, dtype=float) + dt * C) * F_in[p]
        material = materials[particle_material[p]]
        phase = phase_in[p]
        bond = bond_in[p]
        if wp.static(freezes):
            # Brittle fracture (polyalloy.fracture): bonds break for good under tension beyond
            # their strength, and the broken metal is frictional rubble.
            if cm.is_frozen(material, phase) and bond > 0.0:
                if cm.largest_principal_stress(cm.frozen_stress(F, C, material), F) > bond:
                    bond = 0.0
                    bond_out[p] = bond
        F = plastic_projection(F, material, phase, bond)
        if wp.static(has_fluid and willed):
            # det F integrates the grid's smooth divergence, not the particles' reshuffling,
            # so a willed liquid's J drifts from its true density and the body swells
            # (notes/mimetic-control.md). Nudge J toward the density the grid sees:
            # J_grid = ρ_rest / ρ_grid with ρ_grid = Σ w m_i / dx³.
            if material.constitutive == cm.FLUID and not cm.is_frozen(material, phase) and particle_body[p] >= 0:
                node_mass = stencil_mass_in[p]
                if body_authority[particle_body[p]] > 0.0 and node_mass > 0.0:
                    grid_J = particle_mass[p] / (particle_volume[p] * node_mass * inv_dx * inv_dx * inv_dx)
                    F = cm.fluid_project(wp.diag(wp.vec3(F[0, 0] + J_RELAXATION * (grid_J - F[0, 0]), 1.0, 1.0)))
        if wp.static(freezes):
            # Frozen metal touching a surface is frozen onto it (T1: the feet stick to the
            # floor), its rubble too: it moves with the surface until it thaws.
            if cm.is_frozen(material, phase):
                stuck, v_surface = frozen_onto_surface(x, v, colliders, domain_lo, domain_hi, inv_dx)
                if stuck == 1:
                    v = v_surface
        if wp.static(has_fluid and willed):
            # A glitching body's liquid melds with the colliders it touches (GLITCH_TEAR_REACH):
            # it moves with the surface, losing only its speed relative to it, until its will has
            # drawn it the tear reach from its target. The sub-cell will below still creeps it
            # toward its place (at 3/s × the will): held fast, a glitching man's feet could not
            # settle as he re-forms on the deck (standing IoU 0.82–0.84 against 0.87–0.88 at 6 cm).
            # Metal without a will cannot tear free, so it does not meld; domain walls bound the
            # scene and meld nothing.
            if material.constitutive == cm.FLUID and not cm.is_frozen(material, phase) and particle_body[p] >= 0:
                body = particle_body[p]
                glitch = body_glitch[body]
                if glitch > 0.0 and body_will[body] > 0.0 and will_mode[p] == WILL_FORM:
                    if wp.length(form_target(p, body, targets, body_offset, gaits) - x) < glitch * GLITCH_TEAR_REACH:
                        touching, v_surface = collider_contact(x, colliders, FROST_REACH / inv_dx)
                        if touching == 1:
                            v = v_surface
        x_next = x + dt * v
        if wp.static(has_fluid and willed):
            # The grid moves the particles of a stencil together (its velocities are smooth), so it
            # cannot bring each to its own target within the last cells of the approach: a willed
            # liquid particle within SUBCELL_WILL_REACH of its target closes that gap directly, at
            # SUBCELL_WILL_RATE × the will it feels on the grid (p2g_prepare's). Without it a risen
            # body spent seconds settling (a guard at 3 cm: IoU 0.80 1.5 s after the morph, 0.85
            # after 4 s; with it 0.945 at 1.5 s). Velocities are untouched, so momentum and
            # kinetic energy are too.
            if material.constitutive == cm.FLUID and not cm.is_frozen(material, phase) and particle_body[p] >= 0:
                body = particle_body[p]
                if will_mode[p] == WILL_FORM and body_will[body] > 0.0:
                    authority = body_will[body] * will_share(material, phase, temperature_in[p])
                    gap = form_target(p, body, targets, body_offset, gaits) - x_next
                    if authority > 0.0 and wp.length_sq(gap) * inv_dx * inv_dx < SUBCELL_WILL_REACH * SUBCELL_WILL_REACH:
                        x_next = x_next + wp.min(authority * SUBCELL_WILL_RATE * dt, 1.0) * gap
        x_new, v_new = project_out_of_colliders(x_next, v, colliders, domain_lo, domain_hi, dt)
        x_out[p] = x_new
        v_out[p] = v_new
        F_out[p] = F

    kernels = TransferKernels(p2g_prepare=p2g_prepare, g2p_finish=g2p_finish)
    _TRANSFER_CACHE[key] = kernels
    return kernels
