"""The MLS-MPM solver: one explicit substep as named stages, and the CFL time step.

`step(state_in, state_out, control, dt)` is the whole algorithm of Hu et al. 2018 (MLS-MPM with
APIC transfers): clear the grid, scatter particles to it, update grid velocities under gravity
and boundary conditions, gather back to particles. Each stage only launches kernels.

Warp runs a CPU kernel on the thread that launches it. On the CPU a stage is therefore split
into `lanes` launches over disjoint particle ranges (or grid slabs) issued from a thread pool,
one per core; each scatter lane writes its own grid layer, summed in the grid update, so no two
threads ever add to the same node. On a GPU one launch already fills the device: one lane.
The split is fixed by the particle count and the lane count, so results are reproducible.
"""

from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor
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

    MIN_PARTICLES_PER_LANE = 8192
    """Below this many particles per lane, a launch costs more than splitting saves."""

    def __init__(self, model: Model, lanes: int | None = None):
        self.model = model
        device = model.device
        shape = model.grid.shape
        if lanes is None:
            cores = os.cpu_count() or 1
            lanes = 1 if wp.get_device(device).is_cuda else max(1, min(cores, model.particle_count // self.MIN_PARTICLES_PER_LANE))
        self.lanes = lanes
        """Concurrent launches per stage (CPU cores used); 1 on a GPU."""
        bounds = np.linspace(0, model.particle_count, lanes + 1).round().astype(int)
        self._particle_ranges = [(int(a), int(b - a)) for a, b in zip(bounds[:-1], bounds[1:])]
        self._pool = ThreadPoolExecutor(max_workers=lanes) if lanes > 1 else None
        self.grid_mass = wp.zeros((lanes, *shape), dtype=float, device=device)
        """Node masses [kg] scattered by each lane, shape (lanes, *grid.shape)."""
        self.grid_momentum = wp.zeros((lanes, *shape), dtype=wp.vec3, device=device)
        """Node momenta [kg·m/s] scattered by each lane, shape (lanes, *grid.shape)."""
        self.grid_velocity = wp.zeros(shape, dtype=wp.vec3, device=device)
        """Node velocities after forces and boundaries [m/s], shape grid.shape."""
        self._extent_lo = wp.zeros(3, dtype=float, device=device)
        self._extent_hi = wp.zeros(3, dtype=float, device=device)
        self._speed = wp.zeros(1, dtype=float, device=device)
        self._scratch_int = wp.zeros(1, dtype=int, device=device)
        self.region_offset = (0, 0, 0)
        """First node (i, j, k) of the active region: the nodes the particles can reach this frame."""
        self.region_shape = tuple(shape)
        """Node counts of the active region; grid stages touch only these nodes."""
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

    def _in_lanes(self, launch, work: list) -> None:
        """Call `launch(item)` for every item of `work`, concurrently when there are lanes."""
        if self._pool is None or len(work) == 1:
            for item in work:
                launch(item)
        else:
            for future in [self._pool.submit(launch, item) for item in work]:
                future.result()

    def _clear_grid(self) -> None:
        wp.launch(
            kernels.clear_grid_region,
            dim=(self.lanes, *self.region_shape),
            inputs=[wp.vec3i(*self.region_offset), self.grid_mass, self.grid_momentum],
            device=self.model.device,
        )

    def _p2g(self, state: State, dt: float) -> None:
        m = self.model

        def launch(lane: int) -> None:
            first, count = self._particle_ranges[lane]
            wp.launch(
                self._transfer.p2g,
                dim=count,
                inputs=[
                    m.particle_mass, m.particle_volume, m.particle_material, m.material_data,
                    self._grid_origin, self._inv_dx,
                    state.x, state.v, state.C, state.F,
                    self.grid_mass, self.grid_momentum, first, lane, dt,
                ],
                device=m.device,
            )

        self._in_lanes(launch, list(range(self.lanes)))

    def _grid_update(self, control: Control, dt: float) -> None:
        m = self.model
        # Slabs along x: each lane updates its own range of node columns.
        edges = np.linspace(0, self.region_shape[0], self.lanes + 1).round().astype(int)
        slabs = [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:]) if b > a]

        def launch(slab: tuple[int, int]) -> None:
            start, stop = slab
            offset = (self.region_offset[0] + start, self.region_offset[1], self.region_offset[2])
            wp.launch(
                kernels.grid_update,
                dim=(stop - start, self.region_shape[1], self.region_shape[2]),
                inputs=[
                    self._grid_origin, m.grid.dx, self._lo, self._hi, m.wall_boundary, m.wall_friction,
                    wp.vec3(*m.gravity), control.colliders,
                    self.grid_mass, self.grid_momentum, self.grid_velocity, wp.vec3i(*offset), dt,
                ],
                device=m.device,
            )

        self._in_lanes(launch, slabs)

    def _g2p(self, state_in: State, state_out: State, control: Control, dt: float) -> None:
        m = self.model

        def launch(particles: tuple[int, int]) -> None:
            first, count = particles
            wp.launch(
                self._transfer.g2p,
                dim=count,
                inputs=[
                    m.particle_material, m.material_data, self._grid_origin, self._inv_dx,
                    self._lo, self._hi, control.colliders, self.grid_velocity,
                    state_in.x, state_in.F, state_out.x, state_out.v, state_out.C, state_out.F, first, dt,
                ],
                device=m.device,
            )

        self._in_lanes(launch, self._particle_ranges)

    @staticmethod
    def _carry_unchanged(state_in: State, state_out: State) -> None:
        """Fields no stage of this solver changes yet are carried to the output state."""
        wp.copy(state_out.temperature, state_in.temperature)
        wp.copy(state_out.phase, state_in.phase)
        wp.copy(state_out.color, state_in.color)

    def particle_extent(self, state: State) -> tuple[np.ndarray, np.ndarray, float]:
        """Particles' bounding box (lo, hi) [m] and largest speed [m/s]."""
        self._extent_lo.fill_(np.inf)
        self._extent_hi.fill_(-np.inf)
        self._speed.zero_()
        wp.launch(
            kernels.particle_extent,
            dim=self.model.particle_count,
            inputs=[state.x, state.v, self._extent_lo, self._extent_hi, self._speed],
            device=self.model.device,
        )
        return self._extent_lo.numpy().astype(np.float64), self._extent_hi.numpy().astype(np.float64), float(self._speed.numpy()[0])

    def check_finite(self, state: State) -> None:
        """Raise NonFiniteStateError if any particle position or velocity is NaN or infinite."""
        self._scratch_int.zero_()
        wp.launch(kernels.count_non_finite, dim=self.model.particle_count, inputs=[state.x, state.v, self._scratch_int], device=self.model.device)
        bad = int(self._scratch_int.numpy()[0])
        if bad:
            raise NonFiniteStateError(f"{bad} particles have non-finite position or velocity (the simulation blew up)")

    def plan_frame(self, state: State, frame_dt: float, max_collider_speed: float = 0.0) -> tuple[int, float]:
        """Substep count and dt [s] for the next frame, and the active grid region for it.

        dt = cfl · dx / (c + v), with c the fastest wave speed and v the fastest particle or
        collider plus what gravity can add over the frame, so the bound holds to the frame's
        end. No particle can then travel further than v · frame_dt, so the active region is
        the particles' bounding box grown by that distance and the 3-node stencil reach; the
        grid is cleared and updated only there (matter usually fills a fraction of the domain).
        """
        m = self.model
        lo, hi, particle_speed = self.particle_extent(state)
        speed = max(particle_speed, max_collider_speed) + float(np.linalg.norm(m.gravity)) * frame_dt
        dt_max = m.cfl * m.grid.dx / (m.max_wave_speed + speed)
        count = max(1, math.ceil(frame_dt / dt_max - 1e-9))
        reach = speed * frame_dt + 3.0 * m.grid.dx
        first = np.floor((lo - reach - m.grid.origin) / m.grid.dx).astype(int)
        last = np.ceil((hi + reach - m.grid.origin) / m.grid.dx).astype(int)
        first = np.clip(first, 0, np.array(m.grid.shape) - 1)
        last = np.clip(last, first, np.array(m.grid.shape) - 1)
        self.region_offset = tuple(int(v) for v in first)
        self.region_shape = tuple(int(v) for v in last - first + 1)
        return count, frame_dt / count
