"""Frozen pieces frozen onto a surface stand still with it: a frozen man stands where he froze.

The frozen moduli are scaled down so explicit steps stay affordable (materials.FROZEN_WAVE_SPEED,
45 m/s against ~3 km/s for real metal). At that stiffness a frozen man's ankles, a couple of
cells across at a draft cell, are a hinge some ten times weaker than the toppling moment of his
own weight (m g h ≈ 3.8 kN·m): a statue left standing on a floor lay down in 0.8 s, whole, though
its feet were frozen onto the floor (kernels.FROST_REACH) and the real metal, 10⁴ times stiffer,
would not have bent at all. So frost holds the whole piece, not only the particles that touch:
at the start of every substep each piece of bonded frozen metal that touches a surface (within
half a cell, or kernels.FROST_REACH_MIN through a film of nitrogen at a fine cell) and moves
slower than HOLD_SPEED relative to it takes the surface's velocity, every particle of it. That
only ever takes kinetic energy away (the surface absorbs it).

Elastic strain still accrues within each substep and is not undone, so a held piece loaded by
its weight or by the will pulling its half-frozen metal builds up its stress quasi-statically,
and its bonds break where the stress is highest (polyalloy.fracture): the thin ankles and knees.
A piece that breaks off is free again at the next labelling. A piece moving faster (a block
dropped on the floor, a landing shard) first spends its motion in its impact, cracking as the
elastic model says, and is held once it has slowed.

A piece is a connected set of at least metrics.MIN_PIECE_PARTICLES present, bonded, frozen
particles of one body (or emitter) on the grid, linked as metrics.piece_labels links them. The
host labels them once a frame and again after a shot; a particle that stops being frozen, bonded
or on the grid within the frame leaves its piece at once, one that freezes joins at the next
labelling.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import warp as wp

from .. import metrics
from ..state import PRESENT
from . import constitutive as cm
from .colliders import ColliderData
from .kernels import FROST_REACH, FROST_REACH_MIN, HOLD_SPEED, surface_contact

if TYPE_CHECKING:
    from ..model import Model
    from ..state import State


@wp.func
def piece_of(p: int, piece: wp.array(dtype=int), particle_material: wp.array(dtype=int), materials: wp.array(dtype=cm.MaterialData),
             phase_in: wp.array(dtype=float), status_in: wp.array(dtype=int), bond_in: wp.array(dtype=float), airborne_in: wp.array(dtype=int)):
    """The piece particle p moves with now, or -1: its labelled piece while it stays present,
    bonded, frozen and on the grid."""
    k = piece[p]
    if k < 0 or status_in[p] != PRESENT or airborne_in[p] != 0 or bond_in[p] <= 0.0:
        return -1
    if not cm.is_frozen(materials[particle_material[p]], phase_in[p]):
        return -1
    return k


@wp.kernel
def piece_sums(
    piece: wp.array(dtype=int),
    particle_mass: wp.array(dtype=float),
    particle_material: wp.array(dtype=int),
    materials: wp.array(dtype=cm.MaterialData),
    colliders: wp.array(dtype=ColliderData),
    domain_lo: wp.vec3,
    domain_hi: wp.vec3,
    frost_reach: float,
    x_in: wp.array(dtype=wp.vec3),
    v_in: wp.array(dtype=wp.vec3),
    phase_in: wp.array(dtype=float),
    status_in: wp.array(dtype=int),
    bond_in: wp.array(dtype=float),
    airborne_in: wp.array(dtype=int),
    mass_out: wp.array(dtype=float),
    momentum_out: wp.array(dtype=wp.vec3),
    vis_viva_out: wp.array(dtype=float),
    touching_out: wp.array(dtype=float),
    surface_velocity_out: wp.array(dtype=wp.vec3),
):
    """Per piece: Σ m, Σ m v, Σ m |v|², and the count and summed surface velocity of its
    particles touching a surface."""
    p = wp.tid()
    k = piece_of(p, piece, particle_material, materials, phase_in, status_in, bond_in, airborne_in)
    if k < 0:
        return
    m = particle_mass[p]
    v = v_in[p]
    wp.atomic_add(mass_out, k, m)
    wp.atomic_add(momentum_out, k, m * v)
    wp.atomic_add(vis_viva_out, k, m * wp.dot(v, v))
    touching, v_surface = surface_contact(x_in[p], colliders, domain_lo, domain_hi, frost_reach)
    if touching == 1:
        wp.atomic_add(touching_out, k, 1.0)
        wp.atomic_add(surface_velocity_out, k, v_surface)


@wp.kernel
def piece_holds(
    mass: wp.array(dtype=float),
    momentum: wp.array(dtype=wp.vec3),
    vis_viva: wp.array(dtype=float),
    touching: wp.array(dtype=float),
    surface_velocity: wp.array(dtype=wp.vec3),
    hold_speed: float,
    held_out: wp.array(dtype=int),
    velocity_out: wp.array(dtype=wp.vec3),
):
    """held_out[k] = 1 and velocity_out[k] = the surface's mean velocity [m/s] for each piece
    touching a surface and moving slower than hold_speed relative to it, else 0."""
    k = wp.tid()
    held_out[k] = 0
    if touching[k] <= 0.0 or mass[k] <= 0.0:
        return
    surface = surface_velocity[k] / touching[k]
    # Σ m |v − u|² / Σ m = (Σ m |v|² − 2 u·Σ m v) / Σ m + |u|².
    relative = (vis_viva[k] - 2.0 * wp.dot(surface, momentum[k])) / mass[k] + wp.dot(surface, surface)
    if relative < hold_speed * hold_speed:
        held_out[k] = 1
        velocity_out[k] = surface


@wp.kernel
def hold_pieces(
    piece: wp.array(dtype=int),
    particle_material: wp.array(dtype=int),
    materials: wp.array(dtype=cm.MaterialData),
    held: wp.array(dtype=int),
    velocity: wp.array(dtype=wp.vec3),
    phase_in: wp.array(dtype=float),
    status_in: wp.array(dtype=int),
    bond_in: wp.array(dtype=float),
    airborne_in: wp.array(dtype=int),
    first_particle: int,
    v_inout: wp.array(dtype=wp.vec3),
    C_inout: wp.array(dtype=wp.mat33),
):
    """Every particle of a held piece moves with its surface (v = u, C = 0)."""
    p = wp.tid() + first_particle
    k = piece_of(p, piece, particle_material, materials, phase_in, status_in, bond_in, airborne_in)
    if k < 0:
        return
    if held[k] == 1:
        v_inout[p] = velocity[k]
        C_inout[p] = wp.mat33(0.0)


class FrozenPieces:
    """The pieces of frozen metal of one Model, labelled on the host, held on the device."""

    def __init__(self, model: Model):
        self.model = model
        self.count = 0
        """Pieces labelled now."""
        self.piece = wp.full(model.particle_count, -1, dtype=int, device=model.device)
        """Piece of each particle at the last labelling, or -1, shape (particle_count,)."""
        self._freezes = any(material.freezes for material in model.materials)
        self._slices = [(body.particle_slice, body.spacing) for body in model.bodies]
        self._slices += [(sl, spacing) for _, sl, spacing in model.emitter_slices]
        self._allocate(1)

    def _allocate(self, count: int) -> None:
        device = self.model.device
        self._mass = wp.zeros(count, dtype=float, device=device)
        self._momentum = wp.zeros(count, dtype=wp.vec3, device=device)
        self._vis_viva = wp.zeros(count, dtype=float, device=device)
        self._touching = wp.zeros(count, dtype=float, device=device)
        self._surface_velocity = wp.zeros(count, dtype=wp.vec3, device=device)
        self.held = wp.zeros(count, dtype=int, device=device)
        """1 for each piece a surface holds this substep, else 0 (entries past `count` unused)."""
        self.velocity = wp.zeros(count, dtype=wp.vec3, device=device)
        """Velocity of each held piece: its surface's [m/s]."""

    def label(self, state: State) -> None:
        """Label the pieces of `state`'s present, bonded, frozen metal on the grid."""
        if not self._freezes:
            return
        # Only frozen metal has bonds: most frames of most scenes have none, and then only
        # this one array comes to the host (and nothing goes back unless pieces vanished).
        bond = state.bond.numpy()
        if not np.any(bond > 0.0):
            if self.count:
                self.piece.fill_(-1)
                self._set_pieces(0)
            return
        status, phase, airborne = state.status.numpy(), state.phase.numpy(), state.airborne.numpy()
        solid = (status == PRESENT) & (airborne == 0) & (bond > 0.0) & (phase < 0.5)
        piece = np.full(self.model.particle_count, -1, dtype=np.int32)
        x = state.x.numpy()
        count = 0
        for sl, spacing in self._slices:
            index = np.arange(sl.start, sl.stop)[solid[sl]]
            if len(index) < metrics.MIN_PIECE_PARTICLES:
                continue
            labels = metrics.piece_labels(x[index], spacing)
            size = np.bincount(labels)
            kept = size >= metrics.MIN_PIECE_PARTICLES
            numbering = np.where(kept, count + np.cumsum(kept) - 1, -1).astype(np.int32)
            piece[index] = numbering[labels]
            count += int(kept.sum())
        self.piece.assign(piece)
        self._set_pieces(count)

    def _set_pieces(self, count: int) -> None:
        self.count = count
        if count > self.held.shape[0]:
            self._allocate(count)

    def hold(self, state: State, colliders: wp.array, work_ranges: list[tuple[int, int]], in_lanes) -> None:
        """Hold every piece of `state` that a surface holds (its velocities and C, in place)."""
        if self.count == 0:
            return
        m = self.model
        sums = [self._mass, self._momentum, self._vis_viva, self._touching, self._surface_velocity]
        for array in sums:
            array.zero_()
        # One launch: the sums add into shared entries, and a CPU launch runs on one thread.
        wp.launch(
            piece_sums, dim=m.particle_count,
            inputs=[self.piece, m.particle_mass, m.particle_material, m.material_data, colliders,
                    wp.vec3(*m.domain_lo), wp.vec3(*m.domain_hi), max(FROST_REACH * m.grid.dx, FROST_REACH_MIN),
                    state.x, state.v, state.phase, state.status, state.bond, state.airborne, *sums],
            device=m.device,
        )
        wp.launch(piece_holds, dim=self.count, inputs=[*sums, HOLD_SPEED, self.held, self.velocity], device=m.device)

        def launch(particles: tuple[int, int]) -> None:
            first, count = particles
            wp.launch(
                hold_pieces, dim=count,
                inputs=[self.piece, m.particle_material, m.material_data, self.held, self.velocity,
                        state.phase, state.status, state.bond, state.airborne, first, state.v, state.C],
                device=m.device,
            )

        in_lanes(launch, work_ranges)
