"""Model: what does not change during a run — grid, materials, particles' fixed properties, colliders.

Built from a scene by `polyalloy.scene.build`; read by the solver. Arrays live on one device.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import warp as wp

from .materials import Material
from .solver.colliders import ColliderData


@dataclass
class GridSpec:
    """A dense MPM grid: node (i, j, k) sits at origin + (i, j, k)·dx."""

    origin: np.ndarray
    """World position of node (0, 0, 0) [m], shape (3,)."""
    dx: float
    """Node spacing (cell size) [m]."""
    shape: tuple[int, int, int]
    """Node counts along x, y, z."""

    @property
    def node_count(self) -> int:
        return int(np.prod(self.shape))

    @staticmethod
    def for_domain(lo: np.ndarray, hi: np.ndarray, dx: float, padding: int = 3) -> "GridSpec":
        """Grid covering the domain [lo, hi] with `padding` nodes beyond each wall.

        Particles are kept inside the domain, and the quadratic stencil reaches 1.5 cells from a
        particle, so two nodes of padding suffice; a third keeps wall nodes off the edge.
        """
        counts = np.ceil((np.asarray(hi) - np.asarray(lo)) / dx - 1e-9).astype(int) + 1 + 2 * padding
        origin = np.asarray(lo, dtype=np.float64) - padding * dx
        return GridSpec(origin=origin, dx=float(dx), shape=tuple(int(c) for c in counts))


@dataclass
class BodyInfo:
    """A body of particles as the run reports it."""

    name: str
    material: Material
    form_name: str
    position: np.ndarray
    """Form origin in the world [m], shape (3,)."""
    rotation_y: float
    """Form rotation about y [degrees]."""
    particle_slice: slice
    """The body's particles: a contiguous range of the particle arrays."""
    spacing: float
    """Particle spacing [m] (cell size / particles_per_cell^(1/3))."""
    control: bool
    gain: float
    """Stiffness of the body's will [1/s²]."""
    max_acceleration: float
    """Bound of the will's pull [m/s²]."""
    recovery: float
    """Authority regained per second after trauma [1/s], before the accumulated-trauma slow-down."""
    reach: float
    """Distance from the body's largest piece within which its will holds other pieces [m]."""
    library: tuple[str, ...]
    """Forms the body may take: its starting form and its library."""

    @property
    def volume(self) -> float:
        """Volume of the body's matter at rest [m³]: its particles times the spacing cubed."""
        return (self.particle_slice.stop - self.particle_slice.start) * self.spacing**3


@dataclass
class Model:
    """Everything constant during a run, on `device`."""

    device: str
    grid: GridSpec
    domain_lo: np.ndarray
    """Domain lower corner [m]."""
    domain_hi: np.ndarray
    """Domain upper corner [m]."""
    gravity: np.ndarray
    """Gravitational acceleration [m/s²], shape (3,)."""
    wall_boundary: int
    """Boundary condition code of the domain walls (see solver.colliders.BOUNDARY_CODES)."""
    wall_friction: float
    """Coulomb friction coefficient of the domain walls [-]."""
    cfl: float
    """CFL number: the fraction of a cell the fastest wave or particle may cross per substep."""
    materials: list[Material]
    """Materials the particles refer to by index."""
    material_data: wp.array
    """The materials packed for the kernels, shape (len(materials),)."""
    particle_mass: wp.array
    """Particle masses [kg], shape (particle_count,)."""
    particle_volume: wp.array
    """Particle rest volumes [m³], shape (particle_count,)."""
    particle_material: wp.array
    """Index into `materials` per particle, shape (particle_count,)."""
    particle_body: np.ndarray
    """Index into `bodies` per particle, −1 for other matter (host copy), shape (particle_count,)."""
    particle_body_device: wp.array
    """The same on the device, shape (particle_count,)."""
    bodies: list[BodyInfo]
    colliders: list[ColliderData]
    """Colliders at rest pose (time 0); kinematic ones are moved by the Control."""
    collider_motions: list = field(default_factory=list)
    """Per collider: None (static) or a callable time [s] → (origin, rotation quat xyzw, velocity, angular velocity)."""
    collider_temperatures: list[float] = field(default_factory=list)
    """Held temperature of each collider [°C] (also in each ColliderData, for the kernels)."""
    ambient: float = 20.0
    """Ambient temperature [°C]: the domain walls are held at it."""
    heat_transfer_scale: float = 1.0
    """Factor on every thermal conductivity [-] (the film freezes a man in seconds)."""
    air_heat_transfer: float = 10.0
    """Heat transfer coefficient between matter and the air around it [W/(m²·K)]."""
    meshes: list = field(default_factory=list)
    """wp.Mesh and wp.Volume objects the colliders refer to, kept alive for the run."""
    emitter_slices: list[tuple[str, slice, float]] = field(default_factory=list)
    """Each emitter's name, particles (a contiguous range after the bodies') and particle spacing [m]."""
    emissions: list[tuple[float, int, int]] = field(default_factory=list)
    """Emitter batches in time order: (time [s], first particle, end particle); each batch's
    particles wait PENDING until its time."""
    pools: wp.array | None = None
    """Analytic baths (solver.pools.PoolData), shape (pool_count,)."""
    heaters: wp.array | None = None
    """Heaters (solver.heaters.HeaterData), shape (heater_count,)."""
    heater_specs: list = field(default_factory=list)
    """The scene's [[heaters]] entries (their power [W] counts the heat they give)."""
    sampleable: dict[int, str] = field(default_factory=dict)
    """Collider index → the form a body adds to its library by touching that collider."""

    @property
    def particle_count(self) -> int:
        return self.particle_mass.shape[0]

    seed: int = 0
    """The scene's random seed (grains of frozen metal are laid out from it)."""
    isothermal: bool = False
    """Whether everything starts at and is held at one temperature with nothing to heat it (no
    pools): then no heat ever flows and the heat step is skipped."""
    def max_wave_speed(self, frozen: np.ndarray) -> float:
        """Fastest elastic wave speed among the scene's materials [m/s], with the frozen speed
        for each material whose entry in `frozen` (one per material) is true."""
        return max(m.frozen_wave_speed if flag else m.wave_speed for m, flag in zip(self.materials, frozen))
