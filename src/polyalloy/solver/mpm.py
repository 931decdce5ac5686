"""The MLS-MPM solver: one explicit substep as named stages, and the CFL time step.

`step(state_in, state_out, control, dt)` is the whole algorithm of Hu et al. 2018 (MLS-MPM with
APIC transfers): clear the grid, scatter particles to it, update grid velocities under gravity
and boundary conditions, gather back to particles. Each stage only launches kernels.
"""

from __future__ import annotations

import math

from typing import TYPE_CHECKING

import numpy as np
import warp as wp

from . import kernels

if TYPE_CHECKING:
    from ..control import Control
    from ..model import Model
    from ..state import State


class NonFiniteStateError(RuntimeError):
    """The simulation produced NaN or infinite values (a blow-up)."""


class MPMSolver:
    """Explicit MLS-MPM for every material of a Model, sharing one grid."""

    def __init__(self, model: Model):
        self.model = model
        device = model.device
        shape = model.grid.shape
        self.grid_mass = wp.zeros(shape, dtype=float, device=device)
        """Node masses [kg], shape grid.shape."""
        self.grid_momentum = wp.zeros(shape, dtype=wp.vec3, device=device)
        """Node momenta [kg·m/s], shape grid.shape."""
        self.grid_velocity = wp.zeros(shape, dtype=wp.vec3, device=device)
        """Node velocities after forces and boundaries [m/s], shape grid.shape."""
        self._scratch_float = wp.zeros(1, dtype=float, device=device)
        self._scratch_int = wp.zeros(1, dtype=int, device=device)
        self._transfer = kernels.build_transfer_kernels(frozenset(int(m.constitutive) for m in model.materials))
        self._grid_origin = wp.vec3(*model.grid.origin)
        self._inv_dx = 1.0 / model.grid.dx
        self._lo = wp.vec3(*model.domain_lo)
        self._hi = wp.vec3(*model.domain_hi)

    def step(self, state_in: State, state_out: State, control: Control, dt: float) -> None:
        """Advance the particles by one substep of `dt` seconds, from state_in into state_out."""
        self._clear_grid()
        self._p2g(state_in, dt)
        self._grid_update(control, dt)
        self._g2p(state_in, state_out, control, dt)
        self._carry_unchanged(state_in, state_out)

    def _clear_grid(self) -> None:
        self.grid_mass.zero_()
        self.grid_momentum.zero_()

    def _p2g(self, state: State, dt: float) -> None:
        m = self.model
        wp.launch(
            self._transfer.p2g,
            dim=m.particle_count,
            inputs=[
                m.particle_mass, m.particle_volume, m.particle_material, m.material_data,
                self._grid_origin, self._inv_dx,
                state.x, state.v, state.C, state.F,
                self.grid_mass, self.grid_momentum, dt,
            ],
            device=m.device,
        )

    def _grid_update(self, control: Control, dt: float) -> None:
        m = self.model
        wp.launch(
            kernels.grid_update,
            dim=m.grid.shape,
            inputs=[
                self._grid_origin, m.grid.dx, self._lo, self._hi, m.wall_boundary, m.wall_friction,
                wp.vec3(*m.gravity), control.colliders,
                self.grid_mass, self.grid_momentum, self.grid_velocity, dt,
            ],
            device=m.device,
        )

    def _g2p(self, state_in: State, state_out: State, control: Control, dt: float) -> None:
        m = self.model
        wp.launch(
            self._transfer.g2p,
            dim=m.particle_count,
            inputs=[
                m.particle_material, m.material_data, self._grid_origin, self._inv_dx,
                self._lo, self._hi, control.colliders, self.grid_velocity,
                state_in.x, state_in.F, state_out.x, state_out.v, state_out.C, state_out.F, dt,
            ],
            device=m.device,
        )

    @staticmethod
    def _carry_unchanged(state_in: State, state_out: State) -> None:
        """Fields no stage of this solver changes yet are carried to the output state."""
        wp.copy(state_out.temperature, state_in.temperature)
        wp.copy(state_out.phase, state_in.phase)
        wp.copy(state_out.color, state_in.color)

    def max_particle_speed(self, state: State) -> float:
        """Largest particle speed [m/s]."""
        self._scratch_float.zero_()
        wp.launch(kernels.max_speed, dim=self.model.particle_count, inputs=[state.v, self._scratch_float], device=self.model.device)
        return float(self._scratch_float.numpy()[0])

    def check_finite(self, state: State) -> None:
        """Raise NonFiniteStateError if any particle position or velocity is NaN or infinite."""
        self._scratch_int.zero_()
        wp.launch(kernels.count_non_finite, dim=self.model.particle_count, inputs=[state.x, state.v, self._scratch_int], device=self.model.device)
        bad = int(self._scratch_int.numpy()[0])
        if bad:
            raise NonFiniteStateError(f"{bad} particles have non-finite position or velocity (the simulation blew up)")

    def substeps_for(self, state: State, frame_dt: float, max_collider_speed: float = 0.0) -> tuple[int, float]:
        """Substep count and dt [s] for the next frame from the CFL condition.

        dt = cfl · dx / (c + v), with c the fastest wave speed and v the fastest particle or
        collider plus what gravity can add over the frame, so the bound holds to the frame's end.
        """
        m = self.model
        speed = max(self.max_particle_speed(state), max_collider_speed) + float(np.linalg.norm(m.gravity)) * frame_dt
        dt_max = m.cfl * m.grid.dx / (m.max_wave_speed + speed)
        count = max(1, math.ceil(frame_dt / dt_max - 1e-9))
        return count, frame_dt / count
