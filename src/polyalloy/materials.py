"""Material presets: SI properties of every material polyalloy simulates, in one place.

Each preset names its constitutive model (how the MPM solver turns deformation into stress)
and its mechanical and thermal constants. Temperatures are in °C, everything else in SI.

Stiffness is scaled down for explicit time stepping: a real liquid metal has a bulk modulus of
tens of GPa (sound speed ~2 km/s), which would force a time step of ~1e-6 s at 2 cm cells. The
presets keep the real density and give each material an artificial sound speed of ~20 m/s
(bulk modulus = density × c²), ten times faster than the flows we simulate, so the liquid stays
within ~1 % of incompressible (weakly compressible SPH/MPM practice, Monaghan 1994). The real
value is kept in ``real_bulk_modulus`` for reference.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from enum import IntEnum


class Constitutive(IntEnum):
    """Constitutive model of a material, as the solver's kernels see it."""

    FLUID = 0
    """Weakly compressible liquid: pressure from volume change J, Newtonian viscosity."""
    ELASTIC = 1
    """Neo-Hookean elastic solid (compressible, Bonet & Wood 2008)."""
    SAND = 2
    """Drucker–Prager elastoplastic granular material (Klár et al. 2016)."""


@dataclass(frozen=True)
class Material:
    """One material preset. Units: SI, temperatures in °C."""

    name: str
    constitutive: Constitutive
    density: float
    """Mass density [kg/m³]."""
    bulk_modulus: float
    """Simulation bulk modulus K [Pa] (scaled for explicit stability, see module docstring)."""
    shear_modulus: float
    """Simulation shear modulus G [Pa]; 0 for liquids."""
    viscosity: float
    """Dynamic viscosity [Pa·s]."""
    melting_point: float
    """Melting (freezing) point [°C]."""
    boiling_point: float
    """Boiling point [°C]."""
    latent_heat: float
    """Latent heat of fusion [J/kg]."""
    latent_heat_vaporization: float
    """Latent heat of vaporisation [J/kg]."""
    heat_capacity_solid: float
    """Specific heat capacity of the solid phase [J/(kg·K)]."""
    heat_capacity_liquid: float
    """Specific heat capacity of the liquid phase [J/(kg·K)]."""
    conductivity_solid: float
    """Thermal conductivity of the solid phase [W/(m·K)]."""
    conductivity_liquid: float
    """Thermal conductivity of the liquid phase [W/(m·K)]."""
    frozen_bulk_modulus: float = 0.0
    """Simulation bulk modulus of the frozen liquid [Pa] (liquids with latent heat only; scaled
    like the liquid's, see `_frozen_moduli`)."""
    frozen_shear_modulus: float = 0.0
    """Simulation shear modulus of the frozen liquid [Pa]."""
    frozen_strength: float = 0.0
    """Tensile strength of the frozen liquid's grains [Pa] (their boundaries hold a third of it,
    see polyalloy.fracture)."""
    friction_angle: float = 0.0
    """Internal friction angle [degrees] (sand only)."""
    real_bulk_modulus: float = 0.0
    """Physical bulk modulus [Pa], for reference; not used by the solver."""
    real_frozen_young_modulus: float = 0.0
    """Physical Young's modulus of the frozen solid [Pa]: with thermal_expansion it sets the
    thermal-shock energy a quenched solid stores (polyalloy.fracture), which the scaled-down
    frozen moduli could not hold as strain."""
    thermal_expansion: float = 0.0
    """Linear thermal expansion coefficient of the frozen solid [1/K]."""
    description: str = ""

    @property
    def wave_speed(self) -> float:
        """Fastest elastic (P-)wave speed sqrt((K + 4G/3) / ρ) [m/s]; sets the CFL time step."""
        return math.sqrt((self.bulk_modulus + 4.0 * self.shear_modulus / 3.0) / self.density)

    @property
    def freezes(self) -> bool:
        """Whether this liquid becomes a solid below its melting point."""
        return self.constitutive == Constitutive.FLUID and self.latent_heat > 0.0 and self.frozen_shear_modulus > 0.0

    @property
    def frozen_wave_speed(self) -> float:
        """P-wave speed of the frozen material [m/s] (its own wave speed if it does not freeze)."""
        if not self.freezes:
            return self.wave_speed
        return math.sqrt((self.frozen_bulk_modulus + 4.0 * self.frozen_shear_modulus / 3.0) / self.density)

    def to_json(self) -> dict:
        """The preset as JSON-ready SI keys (the `polyalloy materials --json` contract)."""
        data = asdict(self)
        data["constitutive"] = self.constitutive.name.lower()
        data["wave_speed"] = self.wave_speed
        return data


def _bulk_for_sound_speed(density: float, sound_speed: float) -> float:
    """Bulk modulus [Pa] that gives a liquid of `density` [kg/m³] the sound speed [m/s]."""
    return density * sound_speed**2


FROZEN_WAVE_SPEED = 45.0
"""P-wave speed of every frozen liquid preset [m/s]. Real solid metal carries sound at ~3 km/s;
45 m/s (E ≈ 1e7 Pa for the alloy, the stiffness notes/fracture.md shattered) keeps a frozen
body rigid to the eye (a 1.8 m man shortens by ~1 cm under his own weight, ρgh²/2E) at 2.3× the
liquid's substep count instead of 150×."""

FROZEN_POISSON_RATIO = 0.3
"""Poisson's ratio of the frozen presets [-] (metals: 0.3)."""

FROZEN_FAILURE_STRAIN = 0.3
"""Tensile strain at which a frozen preset's grains break [-]: with the scaled-down stiffness,
strength = 0.3·E (2.9e6 Pa for the alloy); the seams between grains hold 1/30 of it (9.7e4 Pa),
inside the 5e4–1e6 Pa notes/fracture.md tried (polyalloy.fracture)."""

RUBBLE_FRICTION_ANGLE = 35.0
"""Internal friction angle of frozen metal whose bonds have broken [degrees]: crushed angular
solids (gravel, crushed ice) stand at 35–45°. Frictionless, the rubble of a frozen man's broken
knees flowed like a liquid under his weight and he slumped for seconds after freezing
(polyalloy.fracture)."""


def _frozen_moduli(density: float) -> dict[str, float]:
    """Bulk and shear moduli [Pa] of a frozen preset of `density` [kg/m³]: the P-wave modulus
    K + 4G/3 = ρ·FROZEN_WAVE_SPEED² split by FROZEN_POISSON_RATIO."""
    nu = FROZEN_POISSON_RATIO
    p_wave = density * FROZEN_WAVE_SPEED**2
    young = p_wave * (1.0 + nu) * (1.0 - 2.0 * nu) / (1.0 - nu)
    return {
        "frozen_bulk_modulus": young / (3.0 * (1.0 - 2.0 * nu)),
        "frozen_shear_modulus": young / (2.0 * (1.0 + nu)),
        "frozen_strength": FROZEN_FAILURE_STRAIN * young,
    }


MATERIALS: dict[str, Material] = {
    m.name: m
    for m in (
        Material(
            name="polyalloy",
            constitutive=Constitutive.FLUID,
            density=6440.0,
            **_frozen_moduli(6440.0),
            bulk_modulus=_bulk_for_sound_speed(6440.0, 20.0),
            shear_modulus=0.0,
            viscosity=2.4e-3,
            melting_point=-19.0,
            boiling_point=1300.0,
            latent_heat=80.0e3,
            latent_heat_vaporization=1.9e6,
            heat_capacity_solid=296.0,
            heat_capacity_liquid=296.0,
            conductivity_solid=25.0,
            conductivity_liquid=16.5,
            real_bulk_modulus=2.4e10,
            real_frozen_young_modulus=5.0e10,
            thermal_expansion=2.5e-5,
            description="mimetic poly-alloy: a galinstan-like liquid metal that freezes at −19 °C",
        ),
        Material(
            name="water",
            constitutive=Constitutive.FLUID,
            density=1000.0,
            **_frozen_moduli(1000.0),
            bulk_modulus=_bulk_for_sound_speed(1000.0, 20.0),
            shear_modulus=0.0,
            viscosity=1.0e-3,
            melting_point=0.0,
            boiling_point=100.0,
            latent_heat=334.0e3,
            latent_heat_vaporization=2.257e6,
            heat_capacity_solid=2100.0,
            heat_capacity_liquid=4186.0,
            conductivity_solid=2.2,
            conductivity_liquid=0.6,
            real_bulk_modulus=2.2e9,
            real_frozen_young_modulus=9.0e9,
            thermal_expansion=5.1e-5,
            description="water",
        ),
        Material(
            name="elastic",
            constitutive=Constitutive.ELASTIC,
            density=1100.0,
            bulk_modulus=2.5e5,
            shear_modulus=1.0e5,
            viscosity=0.0,
            melting_point=180.0,
            boiling_point=400.0,
            latent_heat=0.0,
            latent_heat_vaporization=0.0,
            heat_capacity_solid=1900.0,
            heat_capacity_liquid=1900.0,
            conductivity_solid=0.15,
            conductivity_liquid=0.15,
            real_bulk_modulus=2.0e9,
            description="soft rubber-like neo-Hookean solid",
        ),
        Material(
            name="sand",
            constitutive=Constitutive.SAND,
            density=1600.0,
            bulk_modulus=2.9e5,
            shear_modulus=1.35e5,
            viscosity=0.0,
            melting_point=1700.0,
            boiling_point=2230.0,
            latent_heat=0.0,
            latent_heat_vaporization=0.0,
            heat_capacity_solid=830.0,
            heat_capacity_liquid=830.0,
            conductivity_solid=0.3,
            conductivity_liquid=0.3,
            friction_angle=30.0,
            real_bulk_modulus=3.0e7,
            description="dry sand, Drucker–Prager",
        ),
        Material(
            name="molten_steel",
            constitutive=Constitutive.FLUID,
            density=7000.0,
            **_frozen_moduli(7000.0),
            bulk_modulus=_bulk_for_sound_speed(7000.0, 20.0),
            shear_modulus=0.0,
            viscosity=6.0e-3,
            melting_point=1450.0,
            boiling_point=2860.0,
            latent_heat=247.0e3,
            latent_heat_vaporization=6.09e6,
            heat_capacity_solid=490.0,
            heat_capacity_liquid=820.0,
            conductivity_solid=30.0,
            conductivity_liquid=35.0,
            real_bulk_modulus=1.6e11,
            real_frozen_young_modulus=2.0e11,
            thermal_expansion=1.2e-5,
            description="molten steel at ~1500 °C",
        ),
        Material(
            name="liquid_nitrogen",
            constitutive=Constitutive.FLUID,
            density=808.0,
            **_frozen_moduli(808.0),
            bulk_modulus=_bulk_for_sound_speed(808.0, 20.0),
            shear_modulus=0.0,
            viscosity=1.6e-4,
            melting_point=-210.0,
            boiling_point=-195.8,
            latent_heat=25.7e3,
            latent_heat_vaporization=199.0e3,
            heat_capacity_solid=2000.0,
            heat_capacity_liquid=2040.0,
            conductivity_solid=0.2,
            conductivity_liquid=0.14,
            real_bulk_modulus=1.0e9,
            description="liquid nitrogen at −196 °C; boils off as it warms",
        ),
    )
}


def get_material(name: str) -> Material:
    """The preset called `name`; raises KeyError naming the known presets."""
    try:
        return MATERIALS[name]
    except KeyError:
        raise KeyError(f"no material named {name!r}; materials are: {', '.join(MATERIALS)}") from None
