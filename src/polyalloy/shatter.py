"""A frozen body shattered by a shot: its grains fly apart as shards on its stored energy (T2).

Frozen metal holds thermal-shock energy (`State.shock`, polyalloy.fracture). In a brittle,
prestressed solid a bullet's stress wave sets cracks running that branch through the whole
piece, as one knock bursts tempered glass; the film's frozen man is shattered "into a million
diamonds" by one shot. The branching runs along the grain seams, finer than the grid: a 2 cm
grid cannot carry a velocity jump across a 1 cm seam, and the prototype measured that an
expansion kick of 2.5 kJ given inside the grid was arrested to 0.36 kJ within 0.05 s while the
body stayed 5 pieces. So the outcome is modelled, not the crack tips:

- A shot (`impact`) into a body at least SHATTER_FROZEN_FRACTION frozen shatters all its
  frozen metal. Each particle goes with the grain it lies in now (the Voronoi cell of the
  nearest grain seed, polyalloy.fracture), and every grain takes one velocity, so shards stay
  whole.
- The stored energy becomes the grains' motion apart: Δv = k (s − c), s the grain's seed,
  c the mass-weighted mean of the seeds, so the kicks carry no net momentum; k solves
  ΔKE = k Σ m v·(s − c) + ½ k² Σ m |s − c|² = Σ V₀ e, so kinetic energy rises by exactly the
  energy stored, which is then spent (a test checks the total never rises).
- Shards fly ballistically off the grid (`State.airborne`, solver.kernels.g2p) and rejoin it
  when they meet other matter or a surface, where the grid resolves the collision.
"""

from __future__ import annotations

import math

import numpy as np
import warp as wp

from .fracture import nearest_seed
from .model import Model
from .solver import constitutive as cm
from .state import PRESENT, State

SHATTER_FROZEN_FRACTION = 0.5
"""Frozen share of a body's mass [-] from which a shot shatters it; a body more liquid than
this only takes a crater (polyalloy.damage)."""


@wp.func
def shatters(p: int, body: int, particle_body: wp.array(dtype=int), particle_material: wp.array(dtype=int),
             materials: wp.array(dtype=cm.MaterialData), phase_in: wp.array(dtype=float), status_in: wp.array(dtype=int)):
    """Whether particle p is frozen metal of `body` that a shattering takes."""
    if particle_body[p] != body or status_in[p] != PRESENT:
        return False
    return cm.is_frozen(materials[particle_material[p]], phase_in[p])


@wp.kernel
def shatter_sums(
    particle_mass: wp.array(dtype=float),
    particle_volume: wp.array(dtype=float),
    particle_body: wp.array(dtype=int),
    particle_material: wp.array(dtype=int),
    materials: wp.array(dtype=cm.MaterialData),
    x_in: wp.array(dtype=wp.vec3),
    v_in: wp.array(dtype=wp.vec3),
    phase_in: wp.array(dtype=float),
    status_in: wp.array(dtype=int),
    shock_in: wp.array(dtype=float),
    body: int,
    seed: int,
    sums_out: wp.array(dtype=wp.float64),
):
    """Moments of a body's frozen metal: Σ m (0), Σ m s (1..3), Σ m |s|² (4), Σ m v·s (5),
    Σ m v (6..8), Σ V₀ e (9), and the body's present mass (10)."""
    p = wp.tid()
    if particle_body[p] != body or status_in[p] != PRESENT:
        return
    m = particle_mass[p]
    wp.atomic_add(sums_out, 10, wp.float64(m))
    if not shatters(p, body, particle_body, particle_material, materials, phase_in, status_in):
        return
    s = nearest_seed(x_in[p], seed)
    v = v_in[p]
    # Double precision: the kicks' net momentum is the sums' rounding times the rate.
    wp.atomic_add(sums_out, 0, wp.float64(m))
    wp.atomic_add(sums_out, 4, wp.float64(m) * wp.float64(wp.length_sq(s)))
    wp.atomic_add(sums_out, 5, wp.float64(m) * wp.float64(wp.dot(v, s)))
    wp.atomic_add(sums_out, 9, wp.float64(particle_volume[p]) * wp.float64(shock_in[p]))
    for axis in range(3):
        wp.atomic_add(sums_out, 1 + axis, wp.float64(m) * wp.float64(s[axis]))
        wp.atomic_add(sums_out, 6 + axis, wp.float64(m) * wp.float64(v[axis]))


@wp.kernel
def shatter_kick(
    particle_body: wp.array(dtype=int),
    particle_material: wp.array(dtype=int),
    materials: wp.array(dtype=cm.MaterialData),
    x_in: wp.array(dtype=wp.vec3),
    phase_in: wp.array(dtype=float),
    status_in: wp.array(dtype=int),
    body: int,
    seed: int,
    centre: wp.vec3,
    rate: float,
    v_inout: wp.array(dtype=wp.vec3),
    C_out: wp.array(dtype=wp.mat33),
    shock_out: wp.array(dtype=float),
    airborne_out: wp.array(dtype=int),
):
    """Δv = rate·(s − centre) for the body's frozen metal, its stored energy spent, in flight."""
    p = wp.tid()
    if not shatters(p, body, particle_body, particle_material, materials, phase_in, status_in):
        return
    v_inout[p] = v_inout[p] + rate * (nearest_seed(x_in[p], seed) - centre)
    C_out[p] = wp.mat33(0.0)
    shock_out[p] = 0.0
    airborne_out[p] = 1


def shatter(model: Model, states: list[State], body: int) -> str | None:
    """Shatter `body` if it is frozen enough: its frozen metal flies apart in grains on its
    stored energy, in every state of `states` (the first is current). Returns what happened for
    events.csv, or None when the body is too liquid to shatter."""
    state = states[0]
    sums = wp.zeros(11, dtype=wp.float64, device=model.device)
    wp.launch(
        shatter_sums, dim=model.particle_count,
        inputs=[model.particle_mass, model.particle_volume, model.particle_body_device, model.particle_material, model.material_data,
                state.x, state.v, state.phase, state.status, state.shock, body, model.seed, sums],
        device=model.device,
    )
    total = sums.numpy()
    mass, body_mass, energy = total[0], total[10], total[9]
    if body_mass <= 0.0 or mass < SHATTER_FROZEN_FRACTION * body_mass:
        return None
    centre = total[1:4] / mass
    # Σ m |s − c|² and Σ m v·(s − c), from the moments about the origin.
    spread = total[4] - mass * centre @ centre
    drift = total[5] - total[6:9] @ centre
    rate = (-drift + math.sqrt(drift * drift + 2.0 * spread * energy)) / spread if spread > 0.0 else 0.0
    for target in states:
        wp.launch(
            shatter_kick, dim=model.particle_count,
            inputs=[model.particle_body_device, model.particle_material, model.material_data, state.x, state.phase, state.status,
                    body, model.seed, wp.vec3(*centre), rate, target.v, target.C, target.shock, target.airborne],
            device=model.device,
        )
    return f"shattered: {mass:.3g} kg of frozen metal flies apart in grains on {energy:.3g} J of stored thermal shock"
