"""Preview renderer: screen-space liquid-metal rendering of particles in Warp kernels.

The technique is screen-space fluid rendering (van der Laan, Green and Sainz, "Screen Space
Fluid Rendering with Curvature Flow", I3D 2009; Green, "Screen Space Fluid Rendering for
Games", GDC 2010) with screen-space reflections, in Warp kernels that run unchanged on the
CPU or a GPU:

1. every particle is splatted as a sphere into a depth buffer (atomic min);
2. pixels seen through gaps deep into the body are dropped, and the coverage is closed
   morphologically, so sparse particles still make a solid body with its true outline;
3. particles within one radius of the front surface add their colour and liquid fraction;
4. a separable bilateral filter smooths depth, colour and coverage over a few particle radii,
   so the sphere bumps melt into one continuous surface while a limb in front of a torso
   stays separate; coverage 0.5 is the smooth, anti-aliased silhouette;
5. normals come from the smoothed depth (central differences, one-sided across depth edges),
   bent towards the outline's outward direction at the rim so edges read rounded;
6. shading is metallic: Schlick's Fresnel with the particle colour as base reflectance
   mirrors a procedural studio (dark cyclorama, horizon glow, soft boxes fixed to the
   camera's heading), the checker floor with the body's contact shadow and the colliders,
   plus a key-light highlight; frozen particles turn frosty white, grainy and diffuse;
7. mirror rays are marched through the depth buffer (screen-space reflections) so the body
   mirrors itself (a blob in its pool) and the glossy floor mirrors the body near contact;
   then ACES-fitted tone mapping to 8-bit sRGB.

The floor and simple colliders are ray-traced analytically per pixel. The cost is two passes
over the particles (each proportional to the pixels a particle covers) and a few passes over
the image; the smoothing pass dominates and grows with the particles' size on screen.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import warp as wp

from polyalloy.render.camera import Camera
from polyalloy.solver.colliders import PATTERN_CHECKER, PATTERN_SOLID, PATTERN_STRIPES, surface_pattern

_EMPTY = wp.constant(1.0e30)
"""Depth [m] of a pixel no particle covers."""

_NEAR = wp.constant(1.0e-3)
"""Nearest view depth [m] drawn; particles closer than this (or behind the eye) are skipped."""

_SMOOTH_RADII = wp.constant(3.0)
"""Gaussian sigma of the screen-space smoothing, in particle radii at the pixel's depth."""

_MAX_SIGMA_PX = wp.constant(12.0)
"""Cap on the smoothing sigma [pixels]; bounds the cost when particles come close to the eye."""

_DEPTH_SIGMA_RADII = wp.constant(3.0)
"""Bilateral depth sigma in particle radii: surfaces further apart than this stay separate."""

_GAP_DEPTH_RADII = wp.constant(6.0)
"""A pixel deeper than the front surface within one particle radius on screen by more than this
many particle radii is a gap between particles, not surface."""

_REFLECTION_REACH = wp.constant(2.0)
"""Longest screen-space reflection ray [m] from the body."""

_FLOOR_REFLECTION_REACH = wp.constant(0.5)
"""Longest screen-space reflection ray [m] from the floor: its faint mirror image of the body
matters near the contact, and long floor rays would cost most of the frame."""

_SHADOW_RES = 128
"""Cells per side of the floor's contact-shadow map."""

_SHADOW_SOFTNESS = 0.02
"""Gaussian sigma [m] of the contact shadow's penumbra."""

# Collider kinds understood by the ray tracer.
_BOX = 0
_SPHERE = 1
_CYLINDER = 2
_CAPSULE = 3
_PLANE = 4
# Surface patterns of colliders: the codes and the albedo function the simulation uses.
_SOLID = int(PATTERN_SOLID)
_CHECKER = int(PATTERN_CHECKER)
_STRIPES = int(PATTERN_STRIPES)


# ----------------------------------------------------------------------------------------
# Small helpers


@wp.func
def _smoothstep(e0: float, e1: float, x: float) -> float:
    t = wp.clamp((x - e0) / (e1 - e0), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


@wp.func
def _bump(t: float) -> float:
    """(1 - t)^3 for t = (distance / support)^2 < 1, else 0: a compact, exp-free stand-in for a
    Gaussian of sigma = support / 3 (same variance)."""
    u = wp.max(1.0 - t, 0.0)
    return u * u * u


@wp.func
def _tonemap(c: wp.vec3) -> wp.vec3:
    # Narkowicz's fit of the ACES filmic curve keeps the soft-box reflections from clipping
    # hard, then sRGB-like gamma 2.2.
    out = wp.vec3()
    for k in range(3):
        x = wp.max(c[k], 0.0)
        v = (x * (2.51 * x + 0.03)) / (x * (2.43 * x + 0.59) + 0.14)
        out[k] = wp.pow(wp.clamp(v, 0.0, 1.0), 1.0 / 2.2)
    return out


@wp.func
def _sample_map(m: wp.array2d(dtype=float), u: float, v: float) -> float:
    """Bilinear sample of a map at cell coordinates (u along axis 1, v along axis 0); 0 outside."""
    rows = m.shape[0]
    cols = m.shape[1]
    fu = u - 0.5
    fv = v - 0.5
    i0 = int(wp.floor(fu))
    j0 = int(wp.floor(fv))
    tu = fu - float(i0)
    tv = fv - float(j0)
    total = float(0.0)
    for dj in range(2):
        for di in range(2):
            i = i0 + di
            j = j0 + dj
            if i >= 0 and i < cols and j >= 0 and j < rows:
                wu = wp.where(di == 0, 1.0 - tu, tu)
                wv = wp.where(dj == 0, 1.0 - tv, tv)
                total += wu * wv * m[j, i]
    return total


# ----------------------------------------------------------------------------------------
# Environment: studio sky, floor, colliders


@wp.func
def _sky(d: wp.vec3, toward_cam: wp.vec3, side: wp.vec3, panels: int) -> wp.vec3:
    """Radiance of the studio sky in unit direction d; soft-box panels when panels != 0.

    The studio is fixed to the camera's heading (``toward_cam`` is the horizontal direction
    from the scene to the eye) so the panels always land in the reflections the camera sees.
    """
    el = wp.asin(wp.clamp(d[1], -1.0, 1.0))
    az = wp.atan2(wp.dot(d, side), wp.dot(d, toward_cam))
    # A dark studio with a glow along the horizon: chrome reads as chrome through the contrast
    # of its reflections (dark ground, bright horizon line, darker zenith).
    glow = wp.exp(-wp.abs(el) / 0.08)
    if panels != 0:
        # Window-like bands along the horizon put detail into every reflection.
        bands = _smoothstep(-0.3, 0.3, wp.sin(az * 18.0))
        bands = bands * _smoothstep(-0.02, 0.02, el) * (1.0 - _smoothstep(0.2, 0.3, el))
        glow = glow + 0.8 * bands
    c = wp.vec3(0.07, 0.08, 0.10) + wp.vec3(0.30, 0.31, 0.33) * glow
    if d[1] < 0.0:
        # Below the horizon without a floor: a dark studio ground.
        c = wp.vec3(0.02, 0.02, 0.025) + wp.vec3(0.30, 0.31, 0.33) * glow
    if panels != 0:
        deg = 3.14159265 / 180.0
        # Soft boxes: a bright key strip left of the camera, a fill strip right of it, two
        # rim strips behind the subject and an overhead box. Dark gaps between them give the
        # reflections their contrast.
        tall = _smoothstep(-4.0 * deg, 4.0 * deg, el) * (1.0 - _smoothstep(45.0 * deg, 55.0 * deg, el))
        key = _smoothstep(-70.0 * deg, -64.0 * deg, az) * (1.0 - _smoothstep(-44.0 * deg, -38.0 * deg, az))
        fill = _smoothstep(40.0 * deg, 45.0 * deg, az) * (1.0 - _smoothstep(55.0 * deg, 60.0 * deg, az))
        back = wp.abs(az)
        rim = _smoothstep(125.0 * deg, 130.0 * deg, back) * (1.0 - _smoothstep(140.0 * deg, 145.0 * deg, back))
        top = _smoothstep(58.0 * deg, 64.0 * deg, el) * (1.0 - _smoothstep(40.0 * deg, 50.0 * deg, wp.abs(az)))
        c = c + wp.vec3(8.0, 7.7, 7.2) * (key * tall) + wp.vec3(3.0, 3.1, 3.4) * (fill * tall)
        c = c + wp.vec3(5.0, 5.0, 5.0) * (rim * tall) + wp.vec3(3.0, 3.0, 3.0) * top
        # A dim fill card above and behind the camera: what flat, upward-facing liquid (pools,
        # puddles) mirrors at the usual downward camera angles.
        card = _smoothstep(-32.0 * deg, -26.0 * deg, az) * (1.0 - _smoothstep(26.0 * deg, 32.0 * deg, az))
        card = card * _smoothstep(10.0 * deg, 16.0 * deg, el) * (1.0 - _smoothstep(36.0 * deg, 42.0 * deg, el))
        c = c + wp.vec3(0.55, 0.57, 0.62) * card
    return c


@wp.func
def _rotate_y(v: wp.vec3, c: float, s: float) -> wp.vec3:
    """v turned about +y by the angle with cosine c and sine s."""
    return wp.vec3(c * v[0] + s * v[2], v[1], c * v[2] - s * v[0])


@wp.func
def _intersect(
    kind: int, center: wp.vec3, dims: wp.vec3, yaw: float, o_world: wp.vec3, d_world: wp.vec3
) -> wp.vec4:
    """Nearest hit of the ray o + t d (d unit) with one collider: (t [m], normal); t < 0 if none.

    Shapes have their axis along y, turned by ``yaw`` [rad] about it (which only boxes show);
    ``dims`` holds half extents (box), (radius, half length, 0) (cylinder, capsule),
    (radius, 0, 0) (sphere) or the unit normal (plane).
    """
    miss = wp.vec4(-1.0, 0.0, 0.0, 0.0)
    o = o_world
    d = d_world
    if kind == _BOX:
        # In the box's own frame, centred on it.
        cy = wp.cos(yaw)
        sy = wp.sin(yaw)
        o = _rotate_y(o_world - center, cy, -sy)
        d = _rotate_y(d_world, cy, -sy)
        tmin = float(-1.0e30)
        tmax = float(1.0e30)
        axis = int(0)
        sgn = float(1.0)
        for k in range(3):
            if wp.abs(d[k]) < 1.0e-12:
                if wp.abs(o[k]) > dims[k]:
                    return miss
            else:
                t0 = (-dims[k] - o[k]) / d[k]
                t1 = (dims[k] - o[k]) / d[k]
                s = float(-1.0)
                if t0 > t1:
                    tt = t0
                    t0 = t1
                    t1 = tt
                    s = 1.0
                if t0 > tmin:
                    tmin = t0
                    axis = k
                    sgn = s
                tmax = wp.min(tmax, t1)
        if tmin > tmax or tmin <= 0.0:
            return miss
        n = wp.vec3()
        n[axis] = sgn
        n = _rotate_y(n, cy, sy)
        return wp.vec4(tmin, n[0], n[1], n[2])
    if kind == _SPHERE:
        oc = o - center
        r = dims[0]
        b = wp.dot(oc, d)
        c = wp.dot(oc, oc) - r * r
        disc = b * b - c
        if disc < 0.0:
            return miss
        t = -b - wp.sqrt(disc)
        if t <= 0.0:
            return miss
        n = (o + d * t - center) / r
        return wp.vec4(t, n[0], n[1], n[2])
    if kind == _PLANE:
        denom = wp.dot(d, dims)
        if denom >= -1.0e-9:
            return miss
        t = wp.dot(center - o, dims) / denom
        if t <= 0.0:
            return miss
        return wp.vec4(t, dims[0], dims[1], dims[2])
    # Cylinder and capsule about the vertical axis through center.
    r = dims[0]
    hl = dims[1]
    ox = o[0] - center[0]
    oz = o[2] - center[2]
    a = d[0] * d[0] + d[2] * d[2]
    best = float(1.0e30)
    n = wp.vec3()
    if a > 1.0e-12:
        b = ox * d[0] + oz * d[2]
        c = ox * ox + oz * oz - r * r
        disc = b * b - a * c
        if disc >= 0.0:
            t = (-b - wp.sqrt(disc)) / a
            y = o[1] + d[1] * t - center[1]
            if t > 0.0 and wp.abs(y) <= hl:
                best = t
                n = wp.normalize(wp.vec3(ox + d[0] * t, 0.0, oz + d[2] * t))
    if kind == _CYLINDER:
        if wp.abs(d[1]) > 1.0e-12:
            for k in range(2):
                cap_y = center[1] + wp.where(k == 0, hl, -hl)
                t = (cap_y - o[1]) / d[1]
                px = ox + d[0] * t
                pz = oz + d[2] * t
                if t > 0.0 and t < best and px * px + pz * pz <= r * r:
                    best = t
                    n = wp.vec3(0.0, wp.where(k == 0, 1.0, -1.0), 0.0)
    else:
        for k in range(2):
            cap = center + wp.vec3(0.0, wp.where(k == 0, hl, -hl), 0.0)
            oc = o - cap
            b = wp.dot(oc, d)
            c = wp.dot(oc, oc) - r * r
            disc = b * b - c
            if disc >= 0.0:
                t = -b - wp.sqrt(disc)
                if t > 0.0 and t < best:
                    best = t
                    n = (o + d * t - cap) / r
    if best >= 1.0e30:
        return miss
    return wp.vec4(best, n[0], n[1], n[2])


@wp.func
def _first_hit(
    kinds: wp.array(dtype=int), centers: wp.array(dtype=wp.vec3), dims: wp.array(dtype=wp.vec3),
    yaws: wp.array(dtype=float), o: wp.vec3, d: wp.vec3,
):
    """Nearest collider hit of the ray o + t d: (t, normal) as a vec4 (t < 0 if none) and its index."""
    best = wp.vec4(-1.0, 0.0, 0.0, 0.0)
    idx = int(-1)
    for k in range(kinds.shape[0]):
        h = _intersect(kinds[k], centers[k], dims[k], yaws[k], o, d)
        if h[0] > 0.0 and (best[0] < 0.0 or h[0] < best[0]):
            best = h
            idx = k
    return best, idx


@wp.func
def _floor_albedo(p: wp.vec3, footprint: float) -> wp.vec3:
    # A dark 0.5 m studio checker gives scale and perspective without competing with the body.
    light_tile = wp.vec3(0.075, 0.075, 0.08)
    dark_tile = wp.vec3(0.035, 0.035, 0.04)
    return surface_pattern(PATTERN_CHECKER, 0.5, light_tile, dark_tile, p, wp.vec3(0.0, 1.0, 0.0), footprint)


# ----------------------------------------------------------------------------------------
# Kernels


@wp.func
def _footprint(
    position: wp.vec3, eye: wp.vec3, right: wp.vec3, up: wp.vec3, forward: wp.vec3, focal: float, width: int, height: int, radius: float
):
    """A particle's depth z [m], screen centre (sx, sy) and radius rp [px]; rp = 0 when it is
    behind the near plane or off screen."""
    rel = position - eye
    z = wp.dot(rel, forward)
    if z < _NEAR + radius:
        return z, 0.0, 0.0, 0.0
    sx = 0.5 * float(width) + focal * wp.dot(rel, right) / z
    sy = 0.5 * float(height) - focal * wp.dot(rel, up) / z
    # A far particle still marks the pixel it falls in.
    rp = wp.max(focal * radius / z, 0.75)
    if sx + rp < 0.0 or sx - rp > float(width) or sy + rp < 0.0 or sy - rp > float(height):
        return z, sx, sy, 0.0
    return z, sx, sy, rp


@wp.kernel
def _splat_depth(
    # Camera:
    eye: wp.vec3,
    right: wp.vec3,
    up: wp.vec3,
    forward: wp.vec3,
    focal: float,
    width: int,
    height: int,
    # Particles in:
    positions: wp.array(dtype=wp.vec3),
    radius: float,
    # Image out:
    depth_out: wp.array2d(dtype=float),
):
    """Nearest sphere depth [m] per pixel: each particle is a sphere of ``radius`` [m]."""
    i = wp.tid()
    z, sx, sy, rp = _footprint(positions[i], eye, right, up, forward, focal, width, height, radius)
    if rp <= 0.0:
        return
    x0 = wp.max(int(wp.floor(sx - rp)), 0)
    x1 = wp.min(int(wp.ceil(sx + rp)), width - 1)
    y0 = wp.max(int(wp.floor(sy - rp)), 0)
    y1 = wp.min(int(wp.ceil(sy + rp)), height - 1)
    inv = 1.0 / rp
    for y in range(y0, y1 + 1):
        dy = (float(y) + 0.5 - sy) * inv
        for x in range(x0, x1 + 1):
            dx = (float(x) + 0.5 - sx) * inv
            d2 = dx * dx + dy * dy
            if d2 < 1.0:
                wp.atomic_min(depth_out, y, x, z - radius * wp.sqrt(1.0 - d2))


@wp.kernel
def _splat_attributes(
    # Camera:
    eye: wp.vec3,
    right: wp.vec3,
    up: wp.vec3,
    forward: wp.vec3,
    focal: float,
    width: int,
    height: int,
    # Particles in:
    positions: wp.array(dtype=wp.vec3),
    colors: wp.array(dtype=wp.vec3),
    phase: wp.array(dtype=float),
    radius: float,
    depth_in: wp.array2d(dtype=float),
    # Image out:
    attr_out: wp.array2d(dtype=wp.vec4),
    weight_out: wp.array2d(dtype=float),
):
    """Weighted sums of (colour, liquid fraction) of the particles near each pixel's front surface."""
    i = wp.tid()
    z, sx, sy, rp = _footprint(positions[i], eye, right, up, forward, focal, width, height, radius)
    if rp <= 0.0:
        return
    x0 = wp.max(int(wp.floor(sx - rp)), 0)
    x1 = wp.min(int(wp.ceil(sx + rp)), width - 1)
    y0 = wp.max(int(wp.floor(sy - rp)), 0)
    y1 = wp.min(int(wp.ceil(sy + rp)), height - 1)
    inv = 1.0 / rp
    c = colors[i]
    a = wp.vec4(c[0], c[1], c[2], phase[i])
    for y in range(y0, y1 + 1):
        dy = (float(y) + 0.5 - sy) * inv
        for x in range(x0, x1 + 1):
            dx = (float(x) + 0.5 - sx) * inv
            d2 = dx * dx + dy * dy
            if d2 < 1.0:
                # Only the visible layer (within one radius of the front) colours the pixel;
                # gaps (no depth) take their colour from the smoothing.
                front = depth_in[y, x]
                if front < _EMPTY and z - radius * wp.sqrt(1.0 - d2) <= front + radius:
                    w = 1.0 - d2
                    wp.atomic_add(attr_out, y, x, a * w)
                    wp.atomic_add(weight_out, y, x, w)


@wp.kernel
def _min_filter(
    # Region:
    x0: int,
    y0: int,
    # Parameters:
    reach: int,
    step_x: int,
    step_y: int,
    # Image in:
    depth_in: wp.array2d(dtype=float),
    # Image out:
    depth_out: wp.array2d(dtype=float),
):
    """One axis of a separable minimum over 2 reach + 1 pixels: the nearest depth [m] around.

    Launched over the region of the image the particles can affect, from pixel (x0, y0).
    """
    j, i = wp.tid()
    y = y0 + j
    x = x0 + i
    rows = depth_in.shape[0]
    cols = depth_in.shape[1]
    z = float(_EMPTY)
    for k in range(-reach, reach + 1):
        xx = x + k * step_x
        yy = y + k * step_y
        if xx >= 0 and xx < cols and yy >= 0 and yy < rows:
            z = wp.min(z, depth_in[yy, xx])
    depth_out[y, x] = z


@wp.kernel
def _open_gaps(
    radius: float,
    front_in: wp.array2d(dtype=float),
    depth: wp.array2d(dtype=float),
):
    """Turn see-through pixels into gaps: a pixel far behind the nearby front surface looks
    between particles (down the channels of a lattice, say) deep into the body; as a gap it is
    filled from the front surface by the smoothing instead of punching a pit into it."""
    y, x = wp.tid()
    if depth[y, x] < _EMPTY and depth[y, x] > front_in[y, x] + _GAP_DEPTH_RADII * radius:
        depth[y, x] = _EMPTY


@wp.kernel
def _coverage(depth_in: wp.array2d(dtype=float), cov_out: wp.array2d(dtype=float)):
    """1 where a pixel has a depth, else 0."""
    y, x = wp.tid()
    cov_out[y, x] = wp.where(depth_in[y, x] < _EMPTY, 1.0, 0.0)


@wp.kernel
def _smooth(
    # Camera:
    focal: float,
    # Region:
    x0: int,
    y0: int,
    # Parameters:
    radius: float,
    sigma_empty: float,
    step_x: int,
    step_y: int,
    # Image in:
    depth_in: wp.array2d(dtype=float),
    cov_in: wp.array2d(dtype=float),
    attr_in: wp.array2d(dtype=wp.vec4),
    weight_in: wp.array2d(dtype=float),
    # Image out:
    depth_out: wp.array2d(dtype=float),
    cov_out: wp.array2d(dtype=float),
    attr_out: wp.array2d(dtype=wp.vec4),
    weight_out: wp.array2d(dtype=float),
):
    """One axis of the separable bilateral filter over depth, coverage and colour sums.

    The spatial sigma is a fixed number of particle radii at the pixel's depth (a world-space
    smoothing length); pixels with no depth use ``sigma_empty`` [pixels], which is what fills
    gaps between particles. Coverage is blurred without the depth term, so its 0.5 level is a
    smoothed silhouette. Launched over the region the particles can affect, from (x0, y0).
    """
    j, i = wp.tid()
    y = y0 + j
    x = x0 + i
    rows = depth_in.shape[0]
    cols = depth_in.shape[1]
    zc = depth_in[y, x]
    sigma = sigma_empty
    if zc < _EMPTY:
        sigma = wp.clamp(_SMOOTH_RADII * focal * radius / zc, 0.5, _MAX_SIGMA_PX)
    reach = int(wp.ceil(3.0 * sigma))
    inv_reach2 = 1.0 / float(reach * reach)
    support_z = 3.0 * _DEPTH_SIGMA_RADII * radius
    inv_z2 = 1.0 / (support_z * support_z)
    z_sum = float(0.0)
    z_w = float(0.0)
    c_sum = float(0.0)
    g_sum = float(0.0)
    a_sum = wp.vec4()
    w_sum = float(0.0)
    for k in range(-reach, reach + 1):
        g = _bump(float(k * k) * inv_reach2)
        g_sum += g
        xx = x + k * step_x
        yy = y + k * step_y
        if xx >= 0 and xx < cols and yy >= 0 and yy < rows:
            c_sum += g * cov_in[yy, xx]
            zq = depth_in[yy, xx]
            if zq < _EMPTY:
                b = g
                if zc < _EMPTY:
                    dz = zq - zc
                    b = g * _bump(dz * dz * inv_z2)
                z_sum += b * zq
                z_w += b
                a_sum += attr_in[yy, xx] * b
                w_sum += weight_in[yy, xx] * b
    cov_out[y, x] = c_sum / g_sum
    depth_out[y, x] = wp.where(z_w > 0.0, z_sum / z_w, _EMPTY)
    attr_out[y, x] = a_sum
    weight_out[y, x] = w_sum


@wp.kernel
def _splat_shadow(
    # Floor:
    floor_y: float,
    light: wp.vec3,
    origin_x: float,
    origin_z: float,
    cell: float,
    # Particles in:
    positions: wp.array(dtype=wp.vec3),
    radius: float,
    # Map out:
    occ_out: wp.array2d(dtype=float),
):
    """Particles projected along the key light onto the floor: occlusion per floor cell."""
    i = wp.tid()
    p = positions[i]
    h = p[1] - floor_y
    if h < -radius:
        return
    q = p - light * (h / light[1])
    cu = (q[0] - origin_x) / cell
    cv = (q[2] - origin_z) / cell
    rc = wp.max(radius / cell, 0.75)
    rows = occ_out.shape[0]
    cols = occ_out.shape[1]
    # Matter far above the floor casts a fainter shadow: light wraps around it.
    strength = 0.4 + 0.6 * wp.exp(-wp.max(h, 0.0) / 0.3)
    i0 = wp.max(int(wp.floor(cu - rc)), 0)
    i1 = wp.min(int(wp.ceil(cu + rc)), cols - 1)
    j0 = wp.max(int(wp.floor(cv - rc)), 0)
    j1 = wp.min(int(wp.ceil(cv + rc)), rows - 1)
    for j in range(j0, j1 + 1):
        for k in range(i0, i1 + 1):
            du = float(k) + 0.5 - cu
            dv = float(j) + 0.5 - cv
            if du * du + dv * dv < rc * rc:
                wp.atomic_max(occ_out, j, k, strength)


@wp.kernel
def _blur_map(
    sigma: float,
    step_x: int,
    step_y: int,
    map_in: wp.array2d(dtype=float),
    map_out: wp.array2d(dtype=float),
):
    """One axis of a plain separable blur with the Gaussian-like ``_bump`` kernel (sigma in cells)."""
    y, x = wp.tid()
    rows = map_in.shape[0]
    cols = map_in.shape[1]
    reach = int(wp.ceil(3.0 * sigma))
    inv_reach2 = 1.0 / float(reach * reach)
    s = float(0.0)
    g_sum = float(0.0)
    for k in range(-reach, reach + 1):
        g = _bump(float(k * k) * inv_reach2)
        g_sum += g
        xx = x + k * step_x
        yy = y + k * step_y
        if xx >= 0 and xx < cols and yy >= 0 and yy < rows:
            s += g * map_in[yy, xx]
    map_out[y, x] = s / g_sum


@wp.func
def _floor_radiance(
    p: wp.vec3,
    footprint: float,
    light: wp.vec3,
    shadow: wp.array2d(dtype=float),
    shadow_origin: wp.vec3,
    shadow_cell: float,
    kinds: wp.array(dtype=int),
    centers: wp.array(dtype=wp.vec3),
    dims: wp.array(dtype=wp.vec3),
    yaws: wp.array(dtype=float),
) -> wp.vec3:
    """Lit floor at world point p: checker albedo, contact shadow of particles and colliders."""
    occ = _sample_map(shadow, (p[0] - shadow_origin[0]) / shadow_cell, (p[2] - shadow_origin[2]) / shadow_cell)
    lit = 1.0 - 0.9 * wp.clamp(occ, 0.0, 1.0)
    blocker, blocker_idx = _first_hit(kinds, centers, dims, yaws, p + wp.vec3(0.0, 1.0e-4, 0.0), light)
    if blocker[0] > 0.0:
        lit = lit * 0.35
    albedo = _floor_albedo(p, footprint)
    # Ambient is darkened too, less than the key: a contact shadow is mostly occlusion.
    return albedo * (0.45 * (1.0 - 0.7 * wp.clamp(occ, 0.0, 1.0)) + 1.1 * light[1] * lit)


@wp.func
def _collider_radiance(
    idx: int,
    p: wp.vec3,
    n: wp.vec3,
    footprint: float,
    light: wp.vec3,
    patterns: wp.array(dtype=int),
    scales: wp.array(dtype=float),
    colors_a: wp.array(dtype=wp.vec3),
    colors_b: wp.array(dtype=wp.vec3),
) -> wp.vec3:
    albedo = surface_pattern(patterns[idx], scales[idx], colors_a[idx], colors_b[idx], p, n, footprint)
    # Half-Lambert wrap keeps the unlit faces readable in a preview.
    ndl = 0.5 + 0.5 * wp.dot(n, light)
    return albedo * (0.25 + 0.9 * ndl * ndl)


@wp.func
def _pixel_ray(
    x: int, y: int, rows: int, cols: int, right: wp.vec3, up: wp.vec3, forward: wp.vec3, focal: float
) -> wp.vec3:
    """Ray through the centre of pixel (x, y) with unit forward component: its parameter is the view depth [m]."""
    return (
        forward
        + right * ((float(x) + 0.5 - 0.5 * float(cols)) / focal)
        - up * ((float(y) + 0.5 - 0.5 * float(rows)) / focal)
    )


@wp.func
def _tangent(
    depth_in: wp.array2d(dtype=float),
    x: int,
    y: int,
    step_x: int,
    step_y: int,
    p_c: wp.vec3,
    z: float,
    edge: float,
    right: wp.vec3,
    up: wp.vec3,
    forward: wp.vec3,
    focal: float,
):
    """Surface tangent [m] one pixel along (step_x, step_y) at pixel (x, y), and 1 if it exists.

    Central difference on smooth surface; across a depth edge (the two sides' depth changes
    differ by more than ``edge`` [m]) the side with the smaller change, so a near surface's
    normals do not bend towards a far one behind it (van der Laan et al. 2009, sec. 4).
    """
    rows = depth_in.shape[0]
    cols = depth_in.shape[1]
    t_plus = wp.vec3(0.0)
    t_minus = wp.vec3(0.0)
    dz_plus = float(-1.0)
    dz_minus = float(-1.0)
    xp = x + step_x
    yp = y + step_y
    if xp >= 0 and xp < cols and yp >= 0 and yp < rows:
        zq = depth_in[yp, xp]
        if zq < _EMPTY:
            t_plus = _pixel_ray(xp, yp, rows, cols, right, up, forward, focal) * zq - p_c
            dz_plus = wp.abs(zq - z)
    xm = x - step_x
    ym = y - step_y
    if xm >= 0 and xm < cols and ym >= 0 and ym < rows:
        zq = depth_in[ym, xm]
        if zq < _EMPTY:
            t_minus = p_c - _pixel_ray(xm, ym, rows, cols, right, up, forward, focal) * zq
            dz_minus = wp.abs(zq - z)
    if dz_plus >= 0.0 and dz_minus >= 0.0:
        if wp.abs(dz_plus - dz_minus) < edge:
            return (t_plus + t_minus) * 0.5, 1
        if dz_plus < dz_minus:
            return t_plus, 1
        return t_minus, 1
    if dz_plus >= 0.0:
        return t_plus, 1
    if dz_minus >= 0.0:
        return t_minus, 1
    return wp.vec3(0.0), 0


@wp.kernel
def _shade(
    # Camera:
    eye: wp.vec3,
    right: wp.vec3,
    up: wp.vec3,
    forward: wp.vec3,
    focal: float,
    # Particles:
    radius: float,
    # Lighting:
    light: wp.vec3,
    toward_cam: wp.vec3,
    side: wp.vec3,
    # Floor:
    has_floor: int,
    floor_y: float,
    shadow: wp.array2d(dtype=float),
    shadow_origin: wp.vec3,
    shadow_cell: float,
    # Colliders:
    kinds: wp.array(dtype=int),
    centers: wp.array(dtype=wp.vec3),
    dims: wp.array(dtype=wp.vec3),
    yaws: wp.array(dtype=float),
    patterns: wp.array(dtype=int),
    scales: wp.array(dtype=float),
    colors_a: wp.array(dtype=wp.vec3),
    colors_b: wp.array(dtype=wp.vec3),
    # Image in:
    depth_in: wp.array2d(dtype=float),
    cov_in: wp.array2d(dtype=float),
    attr_in: wp.array2d(dtype=wp.vec4),
    weight_in: wp.array2d(dtype=float),
    # Image out:
    radiance_out: wp.array2d(dtype=wp.vec3),
    mirror_out: wp.array2d(dtype=wp.vec3),
    env_out: wp.array2d(dtype=wp.vec3),
    mirror_dir_out: wp.array2d(dtype=wp.vec3),
    mirror_from_out: wp.array2d(dtype=wp.vec2),
):
    """Linear colour per pixel: the liquid metal over the floor, colliders and studio backdrop.

    For the screen-space reflection pass it also records, per pixel, the weight of the
    mirrored environment in the colour (``mirror_out``), that environment (``env_out``), the
    mirror direction (``mirror_dir_out``, world, unit) and (view depth [m] of the mirroring
    point, longest reflection to look for [m]; 0 for none) in ``mirror_from_out``.
    """
    y, x = wp.tid()
    rows = depth_in.shape[0]
    cols = depth_in.shape[1]
    ray = _pixel_ray(x, y, rows, cols, right, up, forward, focal)
    ray_len = wp.length(ray)
    dn = ray / ray_len

    # --- what lies behind the body: backdrop, floor or collider
    bg = _sky(dn, toward_cam, side, 0)
    bg_z = float(_EMPTY)
    mirror = wp.vec3(0.0)
    env_used = wp.vec3(0.0)
    mirror_dir = wp.vec3(0.0)
    mirror_from = wp.vec2(0.0)
    if has_floor != 0 and wp.abs(dn[1]) > 1.0e-6:
        t = (floor_y - eye[1]) / dn[1]
        if t > 0.0:
            p = eye + dn * t
            fp = t / (focal * wp.max(wp.abs(dn[1]), 0.05))
            c = _floor_radiance(p, fp, light, shadow, shadow_origin, shadow_cell, kinds, centers, dims, yaws)
            # Glossy floor: a faint Fresnel reflection of the studio.
            fr = 0.04 + 0.96 * wp.pow(1.0 - wp.abs(dn[1]), 5.0)
            floor_dir = wp.vec3(dn[0], -dn[1], dn[2])
            floor_env = _sky(floor_dir, toward_cam, side, 0)
            c = c * (1.0 - fr) + floor_env * fr
            # Haze towards the backdrop with distance hides the floor's far edge.
            haze = 1.0 - wp.exp(-t / 25.0)
            bg = c * (1.0 - haze) + bg * haze
            bg_z = t / ray_len
            # The floor mirrors the body faintly, near the contact only.
            mirror = wp.vec3(fr * (1.0 - haze))
            env_used = floor_env
            mirror_dir = floor_dir
            mirror_from = wp.vec2(bg_z, _FLOOR_REFLECTION_REACH)
    hit, idx = _first_hit(kinds, centers, dims, yaws, eye, dn)
    if hit[0] > 0.0 and hit[0] / ray_len < bg_z:
        p = eye + dn * hit[0]
        n_hit = wp.vec3(hit[1], hit[2], hit[3])
        bg = _collider_radiance(idx, p, n_hit, hit[0] / focal, light, patterns, scales, colors_a, colors_b)
        bg_z = hit[0] / ray_len
        mirror = wp.vec3(0.0)
        mirror_from = wp.vec2(0.0)

    col = bg
    z = depth_in[y, x]
    cov = cov_in[y, x]
    if z < bg_z and cov > 0.4:
        # --- normal from the smoothed depth's tangents
        p_c = ray * z
        tx, ok_x = _tangent(depth_in, x, y, 1, 0, p_c, z, 2.0 * radius, right, up, forward, focal)
        ty, ok_y = _tangent(depth_in, x, y, 0, -1, p_c, z, 2.0 * radius, right, up, forward, focal)
        n = -dn
        if ok_x == 1 and ok_y == 1:
            nn = wp.cross(ty, tx)
            if wp.length(nn) > 0.0:
                n = wp.normalize(nn)
                if wp.dot(n, dn) > 0.0:
                    n = -n
        # At the rim the depth is extrapolated and too flat; bend the normal towards the
        # silhouette's outward screen direction so the edge reads as a rounded liquid.
        gx = float(0.0)
        gy = float(0.0)
        if x > 0 and x < cols - 1:
            gx = cov_in[y, x + 1] - cov_in[y, x - 1]
        if y > 0 and y < rows - 1:
            gy = cov_in[y - 1, x] - cov_in[y + 1, x]
        g_len = wp.sqrt(gx * gx + gy * gy)
        if g_len > 1.0e-4:
            rim = 1.0 - _smoothstep(0.4, 0.95, cov)
            out = wp.normalize(-right * gx - up * gy)
            n = wp.normalize(n * (1.0 - rim) + (out - dn * 0.15) * rim)

        # --- material: colour and liquid fraction averaged over the visible particles
        a = attr_in[y, x]
        w = weight_in[y, x]
        base = wp.vec3(0.7, 0.7, 0.72)
        liquid = float(1.0)
        if w > 0.0:
            base = wp.vec3(a[0], a[1], a[2]) / w
            liquid = wp.clamp(a[3] / w, 0.0, 1.0)
        frost = 1.0 - liquid

        p_w = eye + p_c
        v = -dn
        ndv = wp.max(wp.dot(n, v), 1.0e-3)
        r = n * (2.0 * ndv) - v
        # Reflected environment: colliders, else floor, else studio sky with its soft boxes.
        env = _sky(r, toward_cam, side, 1)
        rh, ridx = _first_hit(kinds, centers, dims, yaws, p_w + n * 1.0e-3, r)
        floor_hit = float(-1.0)
        if has_floor != 0 and r[1] < -1.0e-6:
            floor_hit = (floor_y - p_w[1]) / r[1]
        if rh[0] > 0.0 and (floor_hit < 0.0 or rh[0] < floor_hit):
            n_hit = wp.vec3(rh[1], rh[2], rh[3])
            env = _collider_radiance(ridx, p_w + r * rh[0], n_hit, 0.01, light, patterns, scales, colors_a, colors_b)
        elif floor_hit > 0.0:
            q = p_w + r * floor_hit
            # A curved surface spreads one pixel's reflection over a wide cone: filter the
            # checker by a footprint growing with distance, and let the far floor fade into
            # the horizon, which gives chrome its horizon line.
            fp = (0.01 + 0.04 * floor_hit) / wp.max(-r[1], 0.1)
            env = _floor_radiance(q, fp, light, shadow, shadow_origin, shadow_cell, kinds, centers, dims, yaws)
            haze = 1.0 - wp.exp(-floor_hit / 4.0)
            env = env * (1.0 - haze) + _sky(r, toward_cam, side, 0) * haze

        # Metal: Schlick's Fresnel with the particle colour as base reflectance.
        f5 = wp.pow(1.0 - ndv, 5.0)
        fres = base + (wp.vec3(1.0) - base) * f5
        h = wp.normalize(light + v)
        ndh = wp.max(wp.dot(n, h), 0.0)
        ndl = wp.max(wp.dot(n, light), 0.0)
        spec = 12.0 * wp.pow(ndh, 300.0) * ndl
        metal = wp.cw_mul(fres, env) + fres * spec + base * (0.02 + 0.05 * ndl)
        # Frost: white, rough and diffuse, grainy with ice glints, over a dulled metal sheen.
        # The grain is a hash of the surface point on a 3 mm lattice.
        q = wp.vec3(wp.floor(p_w[0] / 0.003), wp.floor(p_w[1] / 0.003), wp.floor(p_w[2] / 0.003))
        grain = wp.sin(wp.dot(q, wp.vec3(12.9898, 78.233, 37.719))) * 43758.5453
        grain = grain - wp.floor(grain)
        ice = (base * 0.3 + wp.vec3(0.80, 0.84, 0.90) * 0.7) * (0.8 + 0.35 * grain)
        glint = wp.where(grain > 0.97, 3.0 * ndl, 0.0)
        frosty = ice * (0.3 + 0.7 * ndl) + wp.cw_mul(fres, env) * 0.25 + wp.vec3(glint)
        body = metal * (1.0 - frost) + frosty * frost
        alpha = _smoothstep(0.4, 0.6, cov)
        col = body * alpha + bg * (1.0 - alpha)
        mirror = fres * ((1.0 - frost + 0.25 * frost) * alpha)
        env_used = env
        mirror_dir = r
        mirror_from = wp.vec2(z, _REFLECTION_REACH)

    radiance_out[y, x] = col
    mirror_out[y, x] = mirror
    env_out[y, x] = env_used
    mirror_dir_out[y, x] = mirror_dir
    mirror_from_out[y, x] = mirror_from


@wp.kernel
def _reflect_screen(
    # Camera:
    right: wp.vec3,
    up: wp.vec3,
    forward: wp.vec3,
    focal: float,
    # Particles:
    radius: float,
    # Region:
    x0: int,
    y0: int,
    x1: int,
    y1: int,
    # Image in:
    depth_in: wp.array2d(dtype=float),
    cov_in: wp.array2d(dtype=float),
    radiance_in: wp.array2d(dtype=wp.vec3),
    mirror_in: wp.array2d(dtype=wp.vec3),
    env_in: wp.array2d(dtype=wp.vec3),
    mirror_dir_in: wp.array2d(dtype=wp.vec3),
    mirror_from_in: wp.array2d(dtype=wp.vec2),
    # Image out:
    image_out: wp.array3d(dtype=wp.uint8),
):
    """Screen-space reflections of the body, then tone mapping to 8-bit sRGB.

    The mirror ray of each reflecting pixel is marched through the smoothed depth buffer in
    screen space, one pixel at a time with perspective-correct depth (McGuire and Mara,
    "Efficient GPU Screen-Space Ray Tracing", JCGT 2014). Where it passes just behind the body
    surface it hits, and the colour there replaces the analytic environment the shading pass
    reflected: a pool mirrors the blob standing in it, an arm mirrors in the torso, the floor
    mirrors the feet. Rays leaving the screen or their reach keep the analytic environment.
    All body pixels lie in the region [x0, x1) x [y0, y1): only pixels there are traced, and a
    ray stops where it leaves it.
    """
    y, x = wp.tid()
    rows = depth_in.shape[0]
    cols = depth_in.shape[1]
    col = radiance_in[y, x]
    mirror = mirror_in[y, x]
    start = mirror_from_in[y, x]
    inside = x >= x0 and x < x1 and y >= y0 and y < y1
    if inside and start[1] > 0.0 and wp.max(mirror[0], wp.max(mirror[1], mirror[2])) > 0.01:
        z0 = start[0]
        r = mirror_dir_in[y, x]
        # Camera coordinates (x right, y up, z = view depth) of the ray's ends.
        p0 = _pixel_ray(x, y, rows, cols, right, up, forward, focal) * z0
        q0 = wp.vec3(wp.dot(p0, right), wp.dot(p0, up), z0)
        rv = wp.vec3(wp.dot(r, right), wp.dot(r, up), wp.dot(r, forward))
        length = start[1]
        if rv[2] < 0.0:
            # Rays towards the eye stop at a tenth of the start depth, short of the near plane.
            length = wp.min(length, 0.9 * z0 / -rv[2])
        q1 = q0 + rv * length
        half_w = 0.5 * float(cols)
        half_h = 0.5 * float(rows)
        s0 = wp.vec2(half_w + focal * q0[0] / q0[2], half_h - focal * q0[1] / q0[2])
        s1 = wp.vec2(half_w + focal * q1[0] / q1[2], half_h - focal * q1[1] / q1[2])
        k0 = 1.0 / q0[2]
        k1 = 1.0 / q1[2]
        steps = int(wp.min(wp.max(wp.abs(s1[0] - s0[0]), wp.abs(s1[1] - s0[1])), 400.0))
        # Start a particle radius off the surface so the ray does not hit its own pixel.
        first = int(wp.ceil(focal * radius / z0)) + 1
        thickness = 4.0 * radius
        for i in range(first, steps + 1):
            t = float(i) / float(steps)
            sx = s0[0] + (s1[0] - s0[0]) * t
            sy = s0[1] + (s1[1] - s0[1]) * t
            px = int(wp.floor(sx))
            py = int(wp.floor(sy))
            if px < x0 or px >= x1 or py < y0 or py >= y1:
                break
            z_ray = 1.0 / (k0 + (k1 - k0) * t)
            zb = depth_in[py, px]
            if cov_in[py, px] > 0.5 and z_ray > zb and z_ray < zb + thickness:
                # Fade towards the screen border and the end of the ray, where the buffer
                # stops knowing what the mirror would see.
                border = wp.min(wp.min(sx, float(cols) - sx), wp.min(sy, float(rows) - sy))
                fade = _smoothstep(0.0, 20.0, border) * (1.0 - _smoothstep(0.7, 1.0, t))
                col = col + wp.cw_mul(mirror, radiance_in[py, px] - env_in[y, x]) * fade
                break
    c8 = _tonemap(col)
    for k in range(3):
        image_out[y, x, k] = wp.uint8(int(c8[k] * 255.0 + 0.5))


# ----------------------------------------------------------------------------------------
# Host side


def _rgb(value) -> np.ndarray:
    """A colour as RGB in [0, 1] from a '#rrggbb' string, [0, 1] floats or 0-255 ints."""
    if isinstance(value, str):
        s = value.lstrip("#")
        if len(s) != 6:
            raise ValueError(f"colour {value!r} is not '#rrggbb'")
        return np.array([int(s[i : i + 2], 16) for i in (0, 2, 4)], float) / 255.0
    c = np.asarray(value, float).reshape(3)
    return c / 255.0 if c.max() > 1.0 else c


def _collider_arrays(colliders: Sequence[dict]) -> dict[str, np.ndarray]:
    """Flatten collider dicts into the ray tracer's parallel arrays.

    Positions follow the scene contract: a shape's origin is the centre of the bottom of its
    bounding box, y up, and ``rotation`` [degrees] turns it about the vertical axis through
    that origin; a plane passes through ``position + point``. ``bars`` expands to one cylinder
    per bar. ``mesh`` colliders (and any
    other shape) are not drawn by the preview. Colour comes from ``color`` or
    ``surface.colors``; ``surface.pattern`` "checker" or "stripes" uses the first two colours
    with tiles of ``surface.scale`` [m] (default 0.1 m).
    """
    kinds, centers, dims, yaws, patterns, scales, ca, cb = [], [], [], [], [], [], [], []
    for c in colliders:
        shape = c.get("shape")
        pos = np.asarray(c.get("position", (0.0, 0.0, 0.0)), float)
        yaw = np.radians(float(c.get("rotation") or 0.0))
        # Turns a local offset about +y by the collider's rotation.
        turn = np.array([[np.cos(yaw), 0.0, np.sin(yaw)], [0.0, 1.0, 0.0], [-np.sin(yaw), 0.0, np.cos(yaw)]])
        surface = c.get("surface") or {}
        colors = surface.get("colors") or ([c["color"]] if "color" in c else [(0.55, 0.55, 0.58)])
        a = _rgb(colors[0])
        b = _rgb(colors[1]) if len(colors) > 1 else a * 0.6
        pattern = {"checker": _CHECKER, "stripes": _STRIPES}.get(surface.get("pattern"), _SOLID)
        scale = float(surface.get("scale", 0.1))
        parts: list[tuple[int, np.ndarray, np.ndarray]] = []
        if shape == "box":
            half = 0.5 * np.asarray(c["size"], float)
            parts.append((_BOX, pos + [0.0, half[1], 0.0], half))
        elif shape == "sphere":
            r = float(c["radius"])
            parts.append((_SPHERE, pos + [0.0, r, 0.0], np.array([r, 0.0, 0.0])))
        elif shape == "cylinder":
            r, hl = float(c["radius"]), 0.5 * float(c["length"])
            parts.append((_CYLINDER, pos + [0.0, hl, 0.0], np.array([r, hl, 0.0])))
        elif shape == "capsule":
            # length is the straight part between the hemisphere centres.
            r, hl = float(c["radius"]), 0.5 * float(c["length"])
            parts.append((_CAPSULE, pos + [0.0, r + hl, 0.0], np.array([r, hl, 0.0])))
        elif shape == "bars":
            r, hl = float(c["radius"]), 0.5 * float(c["height"])
            count, spacing = int(c["count"]), float(c["spacing"])
            for k in range(count):
                dx = (k - 0.5 * (count - 1)) * spacing
                parts.append((_CYLINDER, pos + turn @ [dx, hl, 0.0], np.array([r, hl, 0.0])))
        elif shape == "plane":
            n = turn @ np.asarray(c.get("normal", (0.0, 1.0, 0.0)), float)
            point = pos + np.asarray(c.get("point", (0.0, 0.0, 0.0)), float)
            parts.append((_PLANE, point, n / np.linalg.norm(n)))
        for kind, center, dim in parts:
            kinds.append(kind)
            centers.append(center)
            dims.append(dim)
            yaws.append(yaw)
            patterns.append(pattern)
            scales.append(scale)
            ca.append(a)
            cb.append(b)
    return {
        "kinds": np.array(kinds, np.int32),
        "centers": np.array(centers, np.float32).reshape(-1, 3),
        "dims": np.array(dims, np.float32).reshape(-1, 3),
        "yaws": np.array(yaws, np.float32),
        "patterns": np.array(patterns, np.int32),
        "scales": np.array(scales, np.float32),
        "colors_a": np.array(ca, np.float32).reshape(-1, 3),
        "colors_b": np.array(cb, np.float32).reshape(-1, 3),
    }


@dataclass(frozen=True)
class _Region:
    """Pixel rectangle [x0, x0 + width) x [y0, y0 + height) the particles affect this frame."""

    x0: int
    y0: int
    width: int
    height: int
    gap_reach: int
    """Gap-test and coverage-closing window half-width [pixels]: a typical particle radius."""
    sigma_empty: float
    """Smoothing sigma [pixels] at pixels without depth: that of a typical particle."""


class PreviewRenderer:
    """Renders particles as smooth, reflective liquid metal from a scene's camera.

    camera: the view.
    size: image (width, height) [pixels].
    particle_radius: radius [m] of each particle's sphere; about the particle spacing gives a
        closed surface.
    device: Warp device ("cpu", "cuda", "cuda:0" ...).
    floor_y: height [m] of the ground plane drawn under the scene, or None for no floor.
    colliders: scene collider tables (dicts with "shape", "position" and size keys); see
        :meth:`set_colliders`.
    """

    def __init__(
        self,
        camera: Camera,
        size: tuple[int, int] = (640, 360),
        particle_radius: float = 0.01,
        device: str = "cpu",
        floor_y: float | None = 0.0,
        colliders: list[dict] | None = None,
    ) -> None:
        width, height = int(size[0]), int(size[1])
        if width < 1 or height < 1:
            raise ValueError(f"image size must be positive, got {size}")
        if particle_radius <= 0.0:
            raise ValueError(f"particle_radius must be > 0 m, got {particle_radius}")
        self.camera = camera
        self.width = width
        self.height = height
        self.particle_radius = float(particle_radius)
        self.device = wp.get_device(device)
        self.floor_y = floor_y
        self._right, self._up, self._forward = camera.basis()
        self._focal = camera.focal_length_px(height)
        # Studio frame fixed to the camera heading (see _sky).
        toward = -self._forward * np.array([1.0, 0.0, 1.0])
        if np.linalg.norm(toward) < 1e-6:
            toward = self._up * np.array([1.0, 0.0, 1.0])
        self._toward_cam = toward / np.linalg.norm(toward)
        self._side = np.cross([0.0, 1.0, 0.0], self._toward_cam)
        # Key light from above, over the camera's left shoulder.
        light = 0.5 * self._toward_cam - 0.45 * self._side + np.array([0.0, 1.0, 0.0])
        self._light = light / np.linalg.norm(light)

        # Image buffers, shape (height, width); pairs ping-pong through the separable passes.
        shape = (height, width)
        with wp.ScopedDevice(self.device):
            # Front-surface view depth [m], _EMPTY where no particle.
            self._depth = [wp.empty(shape, dtype=float) for _ in range(2)]
            # Body coverage in [0, 1]; 0.5 is the silhouette.
            self._cov = [wp.empty(shape, dtype=float) for _ in range(2)]
            # Weighted sums of (red, green, blue, liquid fraction) and their weights.
            self._attr = [wp.empty(shape, dtype=wp.vec4) for _ in range(2)]
            self._weight = [wp.empty(shape, dtype=float) for _ in range(2)]
            # Floor occlusion in [0, 1], shape (_SHADOW_RES, _SHADOW_RES), rows along z.
            self._shadow = [wp.zeros((_SHADOW_RES, _SHADOW_RES), dtype=float) for _ in range(2)]
            # Linear radiance and what the reflection pass needs (see _shade).
            self._radiance = wp.empty(shape, dtype=wp.vec3)
            self._mirror = wp.empty(shape, dtype=wp.vec3)
            self._env = wp.empty(shape, dtype=wp.vec3)
            self._mirror_dir = wp.empty(shape, dtype=wp.vec3)
            self._mirror_from = wp.empty(shape, dtype=wp.vec2)
            # Final 8-bit sRGB image, shape (height, width, 3).
            self._image = wp.empty((height, width, 3), dtype=wp.uint8)
        self.set_colliders(colliders or [])

    def set_colliders(self, colliders: list[dict]) -> None:
        """Replace the drawn colliders (e.g. after they moved).

        Shapes drawn: box (``size``), sphere (``radius``), cylinder (``radius``, ``length``)
        and capsule (``radius``, ``length`` between the cap centres), axis along y, bars
        (``count``, ``spacing``, ``radius``, ``height``) and plane (``point``, ``normal``), at
        ``position`` [m] = centre of the bounding box's bottom, turned by ``rotation``
        [degrees] about y. Other shapes (meshes) are not drawn.
        """
        arrays = _collider_arrays(colliders)
        dtypes = {"kinds": int, "centers": wp.vec3, "dims": wp.vec3, "yaws": float, "patterns": int,
                  "scales": float, "colors_a": wp.vec3, "colors_b": wp.vec3}
        self._colliders = {k: wp.array(v, dtype=dtypes[k], device=self.device) for k, v in arrays.items()}

    def render(self, positions: np.ndarray, colors: np.ndarray, phase: np.ndarray | None = None) -> np.ndarray:
        """Render one frame.

        positions: particle positions [m], shape (N, 3).
        colors: particle colours, RGB floats in [0, 1] (or uint8 0-255), shape (N, 3).
        phase: liquid fraction per particle (1 liquid ... 0 frozen, drawn frosty), shape (N,);
            None means all liquid.
        Returns the image as uint8 RGB, shape (height, width, 3).
        """
        positions = np.ascontiguousarray(positions, dtype=np.float32).reshape(-1, 3)
        count = positions.shape[0]
        if np.asarray(colors).dtype == np.uint8:
            colors = np.asarray(colors, np.float32) / 255.0  # PLY-style 0-255 colours
        colors = np.ascontiguousarray(colors, dtype=np.float32).reshape(-1, 3)
        if colors.shape[0] != count:
            raise ValueError(f"colors has {colors.shape[0]} rows for {count} positions")
        if phase is None:
            phase = np.ones(count, np.float32)
        phase = np.ascontiguousarray(phase, dtype=np.float32).reshape(-1)
        if phase.shape[0] != count:
            raise ValueError(f"phase has {phase.shape[0]} entries for {count} positions")

        self._shadow_origin, self._shadow_cell = np.zeros(3), 1.0
        self._shadow[0].zero_()
        dev = self.device
        pos_wp = wp.array(positions, dtype=wp.vec3, device=dev)
        region = self._region(positions)
        if region is not None:
            col_wp = wp.array(colors, dtype=wp.vec3, device=dev)
            self._splat(pos_wp, col_wp, wp.array(phase, dtype=float, device=dev), region)
            self._smooth(region)
        else:
            self._depth[0].fill_(_EMPTY)
            self._cov[0].zero_()
        # Matter out of view still shades the floor in view.
        if count and self.floor_y is not None:
            self._contact_shadow(positions, pos_wp)
        self._shade(region)
        # On the CPU .numpy() is a view of the buffer the next frame overwrites.
        return self._image.numpy().copy()

    def _region(self, positions: np.ndarray) -> _Region | None:
        """Screen rectangle the particles can affect through splatting and smoothing, or None.

        Only this rectangle is filtered: a body usually covers a fraction of the frame, and
        the smoothing is the costliest pass.
        """
        rel = positions - np.asarray(self.camera.eye, np.float32)
        z = rel @ self._forward.astype(np.float32)
        seen = z > _NEAR + self.particle_radius
        if not seen.any():
            return None
        rel, z = rel[seen], z[seen]
        sx = 0.5 * self.width + self._focal * (rel @ self._right.astype(np.float32)) / z
        sy = 0.5 * self.height - self._focal * (rel @ self._up.astype(np.float32)) / z
        radius_px = np.maximum(self._focal * self.particle_radius / z, 0.75)
        # Typical on-screen particle radius [pixels]: the gap window and the hole filling.
        typical = float(np.median(radius_px))
        gap_reach = int(np.clip(np.ceil(typical), 1, 8))
        sigma_empty = float(np.clip(_SMOOTH_RADII * typical, 0.5, _MAX_SIGMA_PX))
        sigma_max = float(np.clip(_SMOOTH_RADII * radius_px.max(), sigma_empty, _MAX_SIGMA_PX))
        margin = int(np.ceil(3.0 * sigma_max)) + gap_reach + 2
        x0 = max(int(np.floor((sx - radius_px).min())) - margin, 0)
        x1 = min(int(np.ceil((sx + radius_px).max())) + margin, self.width)
        y0 = max(int(np.floor((sy - radius_px).min())) - margin, 0)
        y1 = min(int(np.ceil((sy + radius_px).max())) + margin, self.height)
        if x0 >= x1 or y0 >= y1:
            return None
        return _Region(x0, y0, x1 - x0, y1 - y0, gap_reach, sigma_empty)

    def _camera_args(self) -> list:
        return [wp.vec3(*self.camera.eye), wp.vec3(*self._right), wp.vec3(*self._up), wp.vec3(*self._forward),
                float(self._focal)]

    def _splat(self, pos_wp: wp.array, col_wp: wp.array, phase_wp: wp.array, region: _Region) -> None:
        """Depth of the front surface, gaps opened and closed, coverage, colour sums -> buffers [0]."""
        dev, w, h, r = self.device, self.width, self.height, self.particle_radius
        depth, cov, attr, weight = self._depth, self._cov, self._attr, self._weight
        cam = self._camera_args()
        count = pos_wp.shape[0]
        box = (region.height, region.width)
        reach = region.gap_reach
        for buf, empty in ((depth[0], _EMPTY), (depth[1], _EMPTY), (cov[1], _EMPTY), (attr[0], 0.0), (weight[0], 0.0)):
            buf.fill_(empty)
        wp.launch(_splat_depth, dim=count, inputs=[*cam, w, h, pos_wp, r], outputs=[depth[0]], device=dev)
        # Nearest depth within one particle radius on screen (cov[1] as scratch): finds pixels
        # seen through gaps, and dilates the coverage.
        wp.launch(_min_filter, dim=box, inputs=[region.x0, region.y0, reach, 1, 0, depth[0]], outputs=[depth[1]],
                  device=dev)
        wp.launch(_min_filter, dim=box, inputs=[region.x0, region.y0, reach, 0, 1, depth[1]], outputs=[cov[1]],
                  device=dev)
        wp.launch(_open_gaps, dim=(h, w), inputs=[r, cov[1]], outputs=[depth[0]], device=dev)
        # Coverage closed morphologically (dilate, then erode by the same window): gaps between
        # sparse particles are inside the body, the outer silhouette stays where it was.
        wp.launch(_coverage, dim=(h, w), inputs=[cov[1]], outputs=[cov[0]], device=dev)
        depth[1].zero_()
        wp.launch(_min_filter, dim=box, inputs=[region.x0, region.y0, reach, 1, 0, cov[0]], outputs=[depth[1]],
                  device=dev)
        wp.launch(_min_filter, dim=box, inputs=[region.x0, region.y0, reach, 0, 1, depth[1]], outputs=[cov[0]],
                  device=dev)
        wp.launch(_splat_attributes, dim=count, inputs=[*cam, w, h, pos_wp, col_wp, phase_wp, r, depth[0]],
                  outputs=[attr[0], weight[0]], device=dev)

    def _smooth(self, region: _Region) -> None:
        """Separable bilateral smoothing of buffers [0] over the region, ending in buffers [0]."""
        bufs = (self._depth, self._cov, self._attr, self._weight)
        # Outside the region the intermediate buffers must read as empty.
        for b, empty in zip(bufs, (_EMPTY, 0.0, 0.0, 0.0)):
            b[1].fill_(empty)
        for step_x, step_y in ((1, 0), (0, 1)):
            wp.launch(_smooth, dim=(region.height, region.width),
                      inputs=[float(self._focal), region.x0, region.y0, self.particle_radius, region.sigma_empty,
                              step_x, step_y, *(b[0] for b in bufs)],
                      outputs=[b[1] for b in bufs], device=self.device)
            for b in bufs:
                b.reverse()

    def _shade(self, region: _Region | None) -> None:
        c = self._colliders
        wp.launch(
            _shade,
            dim=(self.height, self.width),
            inputs=[
                *self._camera_args(),
                self.particle_radius,
                wp.vec3(*self._light), wp.vec3(*self._toward_cam), wp.vec3(*self._side),
                int(self.floor_y is not None), float(self.floor_y or 0.0),
                self._shadow[0], wp.vec3(*self._shadow_origin), float(self._shadow_cell),
                c["kinds"], c["centers"], c["dims"], c["yaws"], c["patterns"], c["scales"], c["colors_a"], c["colors_b"],
                self._depth[0], self._cov[0], self._attr[0], self._weight[0],
            ],
            outputs=[self._radiance, self._mirror, self._env, self._mirror_dir, self._mirror_from],
            device=self.device,
        )
        wp.launch(
            _reflect_screen,
            dim=(self.height, self.width),
            inputs=[wp.vec3(*self._right), wp.vec3(*self._up), wp.vec3(*self._forward), float(self._focal),
                    self.particle_radius, *self._bounds(region), self._depth[0], self._cov[0],
                    self._radiance, self._mirror, self._env, self._mirror_dir, self._mirror_from],
            outputs=[self._image],
            device=self.device,
        )

    @staticmethod
    def _bounds(region: _Region | None) -> tuple[int, int, int, int]:
        if region is None:
            return 0, 0, 0, 0
        return region.x0, region.y0, region.x0 + region.width, region.y0 + region.height

    def _contact_shadow(self, positions: np.ndarray, pos_wp: wp.array) -> None:
        """Blurred floor occlusion map of the particles along the key light, its origin and cell [m]."""
        light = self._light
        floor_y = float(self.floor_y)
        height = positions[:, 1] - floor_y
        above = height >= -self.particle_radius
        if not above.any():
            return
        q = positions[above][:, [0, 2]] - light[[0, 2]] * (height[above] / light[1])[:, None]
        margin = self.particle_radius + 3.0 * _SHADOW_SOFTNESS
        lo = q.min(axis=0) - margin
        extent = float((q.max(axis=0) + margin - lo).max())
        cell = extent / _SHADOW_RES
        dev = self.device
        wp.launch(_splat_shadow, dim=positions.shape[0],
                  inputs=[floor_y, wp.vec3(*light), float(lo[0]), float(lo[1]), cell, pos_wp, self.particle_radius],
                  outputs=[self._shadow[0]], device=dev)
        sigma = max(1.0, _SHADOW_SOFTNESS / cell)
        wp.launch(_blur_map, dim=(_SHADOW_RES, _SHADOW_RES), inputs=[sigma, 1, 0, self._shadow[0]],
                  outputs=[self._shadow[1]], device=dev)
        wp.launch(_blur_map, dim=(_SHADOW_RES, _SHADOW_RES), inputs=[sigma, 0, 1, self._shadow[1]],
                  outputs=[self._shadow[0]], device=dev)
        self._shadow_origin, self._shadow_cell = np.array([lo[0], floor_y, lo[1]]), cell
