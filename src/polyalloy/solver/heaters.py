"""Heaters: furnaces and burners that deliver a set power to the matter inside a box or a ball.

A heater is a region, not a body: the radiant heat of a furnace mouth, the flame of a burner.
While it is on, the matter inside shares its `power` in proportion to mass (each kilogram
takes P / M, M the mass inside at that heat step), so the heat delivered is P·dt whatever fills
the region; with nothing inside it delivers nothing. A particle at or above the heater's
`temperature` (if one is given) takes no more, and one below takes at most the heat that brings
it there, so a furnace does not heat beyond its own glow (the last cold particles do not take
the whole power: the rest of it is not delivered). The heat goes into the particles' enthalpy in the heat step's gather
(solver/heat.py), so it melts and boils matter like any other heat.
"""

from __future__ import annotations

import warp as wp

NO_CAP = wp.constant(1.0e30)
"""Temperature cap of a heater that has none [°C]."""


@wp.struct
class HeaterData:
    """One heater as the kernels see it."""

    lo: wp.vec3
    """Lower corner of a box heater [m] (a ball heater: its bounding box)."""
    hi: wp.vec3
    """Upper corner of a box heater [m]."""
    centre: wp.vec3
    """Centre of a ball heater [m]."""
    radius: float
    """Radius of a ball heater [m]; 0 for a box."""
    power: float
    """Power delivered to the matter inside [W]."""
    cap: float
    """Temperature beyond which it heats no particle [°C] (NO_CAP: none)."""
    start: float
    """Time it switches on [s]."""
    stop: float
    """Time it switches off [s] (a huge number for never)."""


def heater_data(spec) -> HeaterData:
    """Pack a [[heaters]] entry (scene.schema.HeaterSpec) for the kernels."""
    data = HeaterData()
    if spec.region is not None:
        data.lo, data.hi = wp.vec3(*spec.region.lo), wp.vec3(*spec.region.hi)
        data.centre, data.radius = wp.vec3(0.0), 0.0
    else:
        r = float(spec.radius)
        data.centre, data.radius = wp.vec3(*spec.position), r
        data.lo = wp.vec3(*(c - r for c in spec.position))
        data.hi = wp.vec3(*(c + r for c in spec.position))
    data.power = float(spec.power)
    data.cap = NO_CAP if spec.temperature is None else float(spec.temperature)
    data.start = float(spec.start)
    data.stop = 1.0e30 if spec.stop is None else float(spec.stop)
    return data


@wp.func
def heats(heater: HeaterData, x: wp.vec3, temperature: float, time: float):
    """Whether `heater` heats a particle at x [m] and `temperature` [°C] at `time` [s]."""
    if time < heater.start or time >= heater.stop or temperature >= heater.cap:
        return False
    if heater.radius > 0.0:
        return wp.length(x - heater.centre) <= heater.radius
    return x[0] >= heater.lo[0] and x[1] >= heater.lo[1] and x[2] >= heater.lo[2] and x[0] <= heater.hi[0] and x[1] <= heater.hi[1] and x[2] <= heater.hi[2]
