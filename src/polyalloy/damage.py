"""Damage to a body: gunshots that blow craters (D1) and grenades that burst inside it (D4).

A projectile of mass m_b and speed u_b strikes the particles within the crater radius, weighted
w = 1 − (d/r)², of weighted mass M. It lodges in them, a perfectly inelastic collision: the crater
moves at u_b · m_b / (M + m_b) along its path (never faster than the projectile came, however
little metal a grazing shot finds) and the body gains m_b·u_b · M / (M + m_b) of momentum, the rest
staying with the round, which is not simulated. On top of that an outward throw of the crater's
metal that carries no net momentum: for a bullet a fraction `splash` of the energy the collision
dissipates, ½·m_b·u_b² · M / (M + m_b) (the rest is heat and deformation, not modelled); for a
grenade the blast's `blast_energy` · M / (M + 3/5 charge), Gurney's share for the metal about a
charge. The shock also costs the body authority (Control.traumatise), so the crater stays open until
the weakened will pulls it shut.
"""

from __future__ import annotations

import numpy as np
import warp as wp

from .control import Control
from .model import Model
from .scene.schema import GrenadeEvent, ImpactEvent
from .solver import kernels
from .state import State


def apply_impact(
    model: Model, state: State, control: Control, body: int, event: ImpactEvent | GrenadeEvent
) -> tuple[bool, str]:
    """Apply a gunshot or a grenade burst to `body` in `state` (velocities change in place); returns whether it
    struck the body and what happened, for events.csv."""
    direction = np.asarray(event.direction, dtype=float)
    direction /= np.linalg.norm(direction)
    control.traumatise(body, event.trauma)
    point = np.asarray(event.point, dtype=float)
    if event.along_path:
        point = _first_along_path(model, state, body, point, direction, event.radius)
    target = f"the path through {list(event.point)}" if event.along_path else f"{list(event.point)}"
    missed = f"missed: no particle of the body within {event.radius} m of {target}"
    if point is None:
        return False, missed
    where = [round(float(c), 3) for c in point]
    point = wp.vec3(*point)
    sums = wp.zeros(8, dtype=float, device=model.device)
    wp.launch(
        kernels.impact_sums, dim=model.particle_count,
        inputs=[state.x, model.particle_mass, model.particle_body_device, state.status, body, point, event.radius, sums],
        device=model.device,
    )
    total = sums.numpy().astype(np.float64)
    weighted_mass, mean_outward = total[0], np.zeros(3)
    if weighted_mass <= 0.0:
        return False, missed
    momentum = event.projectile_mass * event.speed
    mean_outward = total[1:4] / weighted_mass
    # ½ s² Σ w² m |r̂ − r̄|², with |r̂| = 1 for every particle off the impact point.
    spread = total[4] - 2.0 * mean_outward @ total[5:8] + mean_outward @ mean_outward * total[4]
    throw_energy = event.throw_energy * weighted_mass / (weighted_mass + event.sharing_mass)
    splash_speed = float(np.sqrt(2.0 * throw_energy / spread)) if spread > 0.0 else 0.0
    kick = direction * (momentum / (weighted_mass + event.projectile_mass))
    wp.launch(
        kernels.apply_impact, dim=model.particle_count,
        inputs=[state.x, model.particle_body_device, state.status, body, point, event.radius, wp.vec3(*kick), splash_speed,
                wp.vec3(*mean_outward), state.v],
        device=model.device,
    )
    return True, (
        f"shot at {where}: {momentum:.3g} N·s into {weighted_mass:.3g} kg (weighted) of crater, "
        f"moving it at {float(np.linalg.norm(kick)):.3g} m/s, "
        f"splash {splash_speed:.3g} m/s, authority now {float(control.effective_authority[body]):.2f}"
    )


def _first_along_path(
    model: Model, state: State, body: int, point: np.ndarray, direction: np.ndarray, radius: float
) -> np.ndarray | None:
    """Where a projectile on the line through `point` [m] along the unit `direction` meets the
    body's metal first (its nearest particle within `radius` [m] of the line, measured along
    it), or None if the line passes it by."""
    first = wp.array([np.inf], dtype=float, device=model.device)
    wp.launch(
        kernels.first_along_path, dim=model.particle_count,
        inputs=[state.x, model.particle_body_device, state.status, body, wp.vec3(*point), wp.vec3(*direction), radius, first],
        device=model.device,
    )
    along = float(first.numpy()[0])
    return None if not np.isfinite(along) else point + along * direction
