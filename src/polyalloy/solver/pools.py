"""Pools: analytic baths (molten steel) that heat, buoy, drag and dissolve the matter in them.

A pool is a box of liquid that is not simulated as particles: a 2 m bath at a 2 cm cell would
be 4 M particles at ~1500 °C doing nothing but sit there. Inside its box, while it is on, a
particle feels the bath's buoyancy −g·ρ_pool/ρ and a drag toward rest at POOL_DRAG; grid nodes
are held at the bath's temperature (solver/heat.py), so the bath is an unbounded heat source;
and a body's particle that the bath heats to its boiling point dissolves (its mass is counted
as dissolved, T6).
"""

from __future__ import annotations

import warp as wp

from ..materials import Material

POOL_DRAG = wp.constant(4.0)
"""Rate at which a bath slows the matter in it [1/s]: a proxy for the inertia of the liquid it
must push aside (molten steel is dense though not viscous)."""


@wp.struct
class PoolData:
    """One pool as the kernels see it."""

    lo: wp.vec3
    """Lower corner of the bath [m]."""
    hi: wp.vec3
    """Upper corner of the bath [m]; its free surface is at hi.y."""
    temperature: float
    """Bath temperature [°C], held fixed."""
    exchange: float
    """Factor on the scene's conduction across the bath's surface [-]: the pool's own
    heat_transfer_scale over the scene's."""
    density: float
    """Bath density [kg/m³]."""
    start: float
    """Time it switches on [s]."""
    stop: float
    """Time it switches off [s] (a huge number for never)."""


def pool_data(lo, hi, temperature: float, exchange: float, material: Material, start: float, stop: float | None) -> PoolData:
    """Pack a pool for the kernels; lengths in metres, temperature in °C, times in seconds,
    `exchange` the factor on the scene's conduction across its surface."""
    data = PoolData()
    data.lo = wp.vec3(*lo)
    data.hi = wp.vec3(*hi)
    data.temperature = float(temperature)
    data.exchange = float(exchange)
    data.density = material.density
    data.start = float(start)
    data.stop = 1.0e30 if stop is None else float(stop)
    return data


@wp.func
def pool_at(x: wp.vec3, pools: wp.array(dtype=PoolData), time: float):
    """Index of the pool whose bath holds point x [m] at `time` [s], or −1."""
    for i in range(pools.shape[0]):
        pool = pools[i]
        if time >= pool.start and time < pool.stop:
            if x[0] >= pool.lo[0] and x[1] >= pool.lo[1] and x[2] >= pool.lo[2]:
                if x[0] <= pool.hi[0] and x[1] <= pool.hi[1] and x[2] <= pool.hi[2]:
                    return i
    return -1


@wp.func
def bath_acceleration(v: wp.vec3, density: float, gravity: wp.vec3, pool: PoolData):
    """Acceleration [m/s²] the bath gives matter of `density` [kg/m³] moving at v [m/s]:
    Archimedes' buoyancy and the drag toward rest."""
    return -gravity * (pool.density / density) - POOL_DRAG * v
