"""The MLS-MPM solver: one explicit substep as named stages, and the CFL time step.

`step(state_in, state_out, control, dt)` is the whole algorithm of Hu et al. 2018 (MLS-MPM with
APIC transfers): scatter particles to the grid, update grid velocities under gravity and
boundary conditions, gather back to particles. Each stage only launches kernels. The grid update
leaves the scatter layers zero, so the grid needs no clearing pass of its own.

Warp runs a CPU kernel on the thread that launches it. On the CPU a stage is therefore split
into launches over disjoint particle ranges (or grid slabs) issued from a thread pool, one per
core. The scatter adds into nodes, so each scatter lane writes its own grid layer, summed in the
grid update, and no two threads ever add to the same node; a layer costs a grid's memory and
a read per node, so there are scatter lanes only for large particle counts, while the stages that
write only their own particles or nodes split whenever there is enough work. On a GPU one
launch already fills the device. The splits are fixed by the particle and active node counts,
so results are reproducible.
"""

from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import TYPE_CHECKING, Iterator

import numpy as np
import warp as wp

from . import kernels
from .pieces import FrozenPieces

if TYPE_CHECKING:
    from ..control import Control
    from ..model import Model
    from ..state import State


class NonFiniteStateError(RuntimeError):
    """The simulation produced NaN or infinite values (a blow-up)."""


def _split(count: int, parts: int) -> list[tuple[int, int]]:
    """(first, count) of `parts` nearly equal consecutive ranges of `count` items."""
    bounds = np.linspace(0, count, parts + 1).round().astype(int)
    return [(int(a), int(b - a)) for a, b in zip(bounds[:-1], bounds[1:])]


class MPMSolver:
    """Explicit MLS-MPM for every material of a Model, sharing one grid."""

    MAX_SUBSTEPS_PER_FRAME = 20000
    """More substeps than this in one frame means the simulation blew up (speeds of ~km/s)."""

    MIN_PARTICLES_PER_LANE = 8192
    """Below this many particles per scatter lane, its own grid layer costs more than it saves."""

    MIN_WORK_PER_CORE = 8192
    """Below this many particles or nodes per core, a stage runs as one launch: handing a launch
    to another thread costs tens of microseconds. At 2048 the draft steel mill (4.4 k
    particles) took 3.8–4.1 ms per substep, at 8192 3.5–3.8 and in one launch everywhere
    3.2–3.5; the 28 k dam break ran 6.3–6.5 M particle-substeps/s at 2048 and at 8192, 5.3–5.7
    at 16384."""

    def __init__(self, model: Model, lanes: int | None = None):
        self.model = model
        device = model.device
        shape = model.grid.shape
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        self.cores = 1 if wp.get_device(device).is_cuda else cores
        """Concurrent launches a stage may split into (CPU cores used); 1 on a GPU."""
        if lanes is None:
            lanes = max(1, min(self.cores, model.particle_count // self.MIN_PARTICLES_PER_LANE))
        self.lanes = lanes
        """Scatter lanes: P2G launches over disjoint particle ranges, each into its own grid layer."""
        self.particle_ranges = _split(model.particle_count, lanes)
        """(first particle, count) of each scatter lane's particles."""
        self.work_ranges = _split(model.particle_count, max(1, min(self.cores, model.particle_count // self.MIN_WORK_PER_CORE)))
        """(first particle, count) per core for the stages that write only their own particles."""
        self._pool = ThreadPoolExecutor(max_workers=self.cores) if self.cores > 1 else None
        self.grid_scatter = wp.zeros((lanes, *shape), dtype=wp.vec4, device=device)
        """Node momentum [kg·m/s] (xyz) and mass [kg] (w) scattered by each lane, shape
        (lanes, *grid.shape); one vec4 so P2G makes one atomic add per node. Zero between
        substeps: whatever sums the lanes (the grid update, the heat step's nodes) zeroes them."""
        self.grid_velocity_mass = wp.zeros(shape, dtype=wp.vec4, device=device)
        """Node velocities after forces and boundaries [m/s] (xyz) and node mass [kg] (w),
        shape grid.shape."""
        n = model.particle_count
        self.scatter_mass = wp.zeros(n, dtype=float, device=device)
        """Mass each particle scatters this substep [kg]: 0 for one off the grid."""
        self.scatter_velocity = wp.zeros(n, dtype=wp.vec3, device=device)
        """Velocity each particle scatters [m/s]: its own plus this substep's will and bath impulses."""
        self.scatter_affine = wp.zeros(n, dtype=wp.mat33, device=device)
        """APIC affine momentum each particle scatters, m C plus the stress impulse [kg/s]."""
        self.stencil_mass = wp.zeros(n, dtype=float, device=device)
        """Grid mass Σ w m_i over each particle's stencil after the scatter [kg] (its density
        seen by the grid, for a willed liquid's J)."""
        self._speed = wp.zeros(1, dtype=float, device=device)
        self._frozen = wp.zeros(len(model.materials), dtype=int, device=device)
        self.planned_frozen = np.zeros(len(model.materials), dtype=bool)
        """Per material: whether the last plan_frame took its frozen wave speed."""
        self._scratch_int = wp.zeros(1, dtype=int, device=device)
        block_shape = tuple(-(-n // kernels.BLOCK) for n in shape)
        self.block_flags = wp.zeros(block_shape, dtype=int, device=device)
        """1 for each grid block in `active_blocks`, else 0, shape: blocks along x, y, z."""
        self._block_slots = wp.zeros(block_shape, dtype=int, device=device)
        """Inclusive prefix sum of block_flags in flat order: a flagged block's slot + 1."""
        self._flat_flags = self.block_flags.flatten()
        self._flat_slots = self._block_slots.flatten()
        self._active_total = self._flat_slots[-1:]
        self.active_blocks = wp.zeros(int(np.prod(block_shape)), dtype=wp.vec3i, device=device)
        """Grid blocks (BLOCK³ nodes each) the particles can reach this frame; the first
        `active_block_count` entries are valid. Grid stages touch only their nodes."""
        self.active_block_count = 0
        self.sparse_grid = True
        """Whether grid stages skip blocks no particle can reach (False: every block, for checks)."""
        self._nodes_per_block = kernels.BLOCK**3
        self._transfer = kernels.build_transfer_kernels(
            frozenset(int(m.constitutive) for m in model.materials),
            freezing=any(m.freezes for m in model.materials),
            willed=any(b.control for b in model.bodies),
        )
        self._grid_origin = wp.vec3(*model.grid.origin)
        self._inv_dx = 1.0 / model.grid.dx
        self._lo = wp.vec3(*model.domain_lo)
        self._hi = wp.vec3(*model.domain_hi)
        self._gravity = wp.vec3(*model.gravity)
        bodies = max(len(model.bodies), 1)
        self._will_force = wp.zeros(bodies, dtype=wp.vec3, device=device)
        self._will_borne = wp.zeros(bodies, dtype=float, device=device)
        self.will_excess = wp.zeros(bodies, dtype=wp.vec3, device=device)
        """Per body, the acceleration per unit authority its particles' wills give up this substep
        so its will's net force keeps within its limit [m/s²] (kernels.will_excess); 0 unlimited."""
        self._will_limited = False
        self.pieces = FrozenPieces(model)
        """The pieces of frozen metal; the caller labels them (`pieces.label`) once a frame."""

    def step(self, state_in: State, state_out: State, control: Control, dt: float) -> None:
        """Advance the particles by one substep of `dt` seconds, from state_in into state_out.

        Only positions, velocities, C, F, bonds and flight are written (and the velocities and C
        of state_in's frozen pieces a surface holds); temperature, phase, colour, boiled and status are
        not changed by any stage and must already be equal in both states (the heat step and
        Simulation keep them so)."""
        self.pieces.hold(state_in, control.colliders, self.work_ranges, self.in_lanes)
        self._limit_will(state_in, control)
        self.activate_blocks(state_in)
        with self.scattering():
            self._p2g(state_in, control, dt)
            self._grid_update(control, dt)
        self._g2p(state_in, state_out, control, dt)

    @contextmanager
    def scattering(self) -> Iterator[None]:
        """Around a scatter and the pass that sums (and so zeroes) its lanes: if anything is
        raised in between, zero every lane, or the next scatter would add onto the stale sums."""
        try:
            yield
        except BaseException:
            self.grid_scatter.zero_()
            raise

    def close(self) -> None:
        """Stop the lane threads (the solver cannot step afterwards)."""
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None

    def in_lanes(self, launch, work: list) -> None:
        """Call `launch(item)` for every item of `work`, concurrently when there are cores."""
        if self._pool is None or len(work) == 1:
            for item in work:
                launch(item)
        else:
            for future in [self._pool.submit(launch, item) for item in work]:
                future.result()

    def _limit_will(self, state: State, control: Control) -> None:
        """Set will_excess for this substep: the part of each nearly frozen body's will's net
        force beyond its limit (control.Control.will_limit)."""
        limited = bool(np.any(control.will_limit > 0.0))
        if not limited:
            if self._will_limited:
                self.will_excess.zero_()
                self._will_limited = False
            return
        self._will_limited = True
        m = self.model
        self._will_force.zero_()
        self._will_borne.zero_()
        # One launch: the sums add into shared entries, and a CPU launch runs on one thread.
        wp.launch(
            kernels.will_sums, dim=m.particle_count,
            inputs=[
                m.particle_mass, m.particle_material, m.material_data, m.particle_body_device, self._gravity,
                state.x, state.v, state.phase, state.temperature, state.status, state.airborne,
                control.targets, control.will_mode, control.hold_velocity, control.hold_elapsed, control.body_will, control.body_gain,
                control.body_max_acceleration, control.body_offset, control.body_offset_velocity, control.gaits, control.body_will_limit, m.pools, control.time,
                self._will_force, self._will_borne,
            ],
            device=m.device,
        )
        wp.launch(
            kernels.will_excess, dim=len(m.bodies),
            inputs=[self._will_force, self._will_borne, control.body_will_limit, kernels.WILL_FORCE_RATIO, self._gravity, self.will_excess],
            device=m.device,
        )

    def _p2g(self, state: State, control: Control, dt: float) -> None:
        m = self.model

        def prepare(particles: tuple[int, int]) -> None:
            first, count = particles
            wp.launch(
                self._transfer.p2g_prepare,
                dim=count,
                inputs=[
                    m.particle_mass, m.particle_volume, m.particle_material, m.material_data,
                    self._inv_dx, m.particle_body_device, self._gravity,
                    state.x, state.v, state.C, state.F, state.phase, state.temperature, state.status, state.bond, state.airborne,
                    control.targets, control.will_mode, control.hold_velocity, control.hold_elapsed, control.body_will, control.body_gain, control.body_max_acceleration,
                    control.body_offset, control.body_offset_velocity, control.gaits, self.will_excess, m.pools, control.time,
                    self.scatter_mass, self.scatter_velocity, self.scatter_affine, first, dt,
                ],
                device=m.device,
            )

        def scatter(lane: int) -> None:
            first, count = self.particle_ranges[lane]
            wp.launch(
                kernels.p2g_scatter,
                dim=count,
                inputs=[
                    self._grid_origin, self._inv_dx, state.x, self.scatter_mass, self.scatter_velocity, self.scatter_affine,
                    self.grid_scatter, first, lane,
                ],
                device=m.device,
            )

        self.in_lanes(prepare, self.work_ranges)
        self.in_lanes(scatter, list(range(self.lanes)))

    def node_ranges(self) -> list[tuple[int, int]]:
        """(first thread, thread count) per core over the nodes of the active blocks: each
        launch updates its own range of blocks."""
        nodes = self._nodes_per_block
        parts = max(1, min(self.cores, self.active_block_count * nodes // self.MIN_WORK_PER_CORE))
        return [(first * nodes, count * nodes) for first, count in _split(self.active_block_count, parts) if count > 0]

    def _grid_update(self, control: Control, dt: float) -> None:
        m = self.model
        ranges = self.node_ranges()

        def launch(threads: tuple[int, int]) -> None:
            first, count = threads
            wp.launch(
                kernels.grid_update,
                dim=count,
                inputs=[
                    self._grid_origin, m.grid.dx, self._lo, self._hi, m.wall_boundary, m.wall_friction,
                    wp.vec3(*m.gravity), control.colliders,
                    self.grid_scatter, self.grid_velocity_mass, self.active_blocks, first, dt,
                ],
                device=m.device,
            )

        self.in_lanes(launch, ranges)

    def _g2p(self, state_in: State, state_out: State, control: Control, dt: float) -> None:
        m = self.model

        def gather(particles: tuple[int, int]) -> None:
            first, count = particles
            wp.launch(
                kernels.g2p_gather,
                dim=count,
                inputs=[
                    self._grid_origin, self._inv_dx, self.grid_velocity_mass, state_in.x, state_in.status, state_in.airborne,
                    state_out.v, state_out.C, self.stencil_mass, first,
                ],
                device=m.device,
            )

        def finish(particles: tuple[int, int]) -> None:
            first, count = particles
            wp.launch(
                self._transfer.g2p_finish,
                dim=count,
                inputs=[
                    m.particle_mass, m.particle_volume, m.particle_material, m.material_data, m.particle_body_device,
                    self._grid_origin, self._inv_dx, self._lo, self._hi, self._gravity, control.colliders, self.grid_velocity_mass,
                    self.stencil_mass, control.body_authority, control.body_will, control.targets, control.will_mode, control.body_offset, control.gaits, control.body_glitch,
                    state_in.x, state_in.v, state_in.F, state_in.phase, state_in.temperature, state_in.status, state_in.bond, state_in.airborne,
                    state_out.x, state_out.v, state_out.C, state_out.F, state_out.bond, state_out.airborne, first, dt,
                ],
                device=m.device,
            )

        self.in_lanes(gather, self.work_ranges)
        self.in_lanes(finish, self.work_ranges)

    def max_particle_speed(self, state: State) -> float:
        """Largest particle speed [m/s]."""
        self._speed.zero_()
        wp.launch(kernels.max_speed, dim=self.model.particle_count, inputs=[state.v, self._speed], device=self.model.device)
        return float(self._speed.numpy()[0])

    def frozen_materials(self, state: State) -> np.ndarray:
        """Per material of the model: whether some of its matter is frozen."""
        m = self.model
        self._frozen.zero_()
        wp.launch(kernels.frozen_materials, dim=m.particle_count, inputs=[m.particle_material, m.material_data, state.phase, state.status, self._frozen], device=m.device)
        return self._frozen.numpy() != 0

    def check_finite(self, state: State) -> None:
        """Raise NonFiniteStateError if any particle position or velocity is NaN or infinite."""
        self._scratch_int.zero_()
        wp.launch(kernels.count_non_finite, dim=self.model.particle_count, inputs=[state.x, state.v, self._scratch_int], device=self.model.device)
        bad = int(self._scratch_int.numpy()[0])
        if bad:
            raise NonFiniteStateError(f"{bad} particles have non-finite position or velocity (the simulation blew up)")

    def plan_frame(self, state: State, frame_dt: float, max_collider_speed: float = 0.0) -> tuple[int, float]:
        """Substep count and dt [s] for the next frame from the CFL condition.

        dt = cfl · dx / (c + v), with c the fastest wave speed and v the fastest particle or
        collider plus what gravity can add over the frame, so the bound holds to the frame's end.
        A frozen material's stiffer waves count only while some of it is frozen (kept in
        `planned_frozen`): phase changes only in the heat step, and a caller that sees another
        material freeze there plans again.
        """
        m = self.model
        particle_speed = self.max_particle_speed(state)
        speed = max(particle_speed, max_collider_speed) + float(np.linalg.norm(m.gravity)) * frame_dt
        self.planned_frozen = self.frozen_materials(state)
        dt_max = m.cfl * m.grid.dx / (m.max_wave_speed(self.planned_frozen) + speed)
        count = math.ceil(frame_dt / dt_max - 1e-9) if math.isfinite(speed) else math.inf
        if count > self.MAX_SUBSTEPS_PER_FRAME:
            raise NonFiniteStateError(
                f"a particle moves at {particle_speed:.3g} m/s, which would need {count} substeps in one frame "
                f"(limit {self.MAX_SUBSTEPS_PER_FRAME}): the simulation blew up"
            )
        count = max(1, count)
        return count, frame_dt / count

    def activate_blocks(self, state: State) -> None:
        """Collect the grid blocks some particle's stencil touches into `active_blocks`.

        Matter usually fills a small part of the domain; the grid is updated (and its scatter
        layers zeroed) only in these blocks. The count is read back to size the grid launches (one small copy per
        substep).
        """
        m = self.model
        if self.sparse_grid:
            self.block_flags.zero_()

            def launch(particles: tuple[int, int]) -> None:
                first, count = particles
                wp.launch(
                    kernels.seed_blocks,
                    dim=count,
                    inputs=[self._grid_origin, self._inv_dx, wp.vec3i(*m.grid.shape), state.x, state.status, first, self.block_flags],
                    device=m.device,
                )

            self.in_lanes(launch, self.work_ranges)
        else:
            self.block_flags.fill_(1)
        wp.utils.array_scan(self._flat_flags, self._flat_slots, inclusive=True)
        self.active_block_count = int(self._active_total.numpy()[0])
        wp.launch(
            kernels.compact_blocks,
            dim=self.block_flags.shape,
            inputs=[self.block_flags, self._block_slots, self.active_blocks],
            device=m.device,
        )
