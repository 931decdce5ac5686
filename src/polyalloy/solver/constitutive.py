"""Constitutive models as Warp functions: deformation → Kirchhoff stress, and plastic return maps.

Each model supplies `*_stress(F, C, mat)` giving the Kirchhoff stress τ = J·σ [Pa] and, where it
has plasticity, a projection of the trial deformation gradient. The solver's kernel factory
includes only the models a scene uses (`wp.static`), so a scene of liquid alone compiles no SVD.

- Liquid: weakly compressible, p = K (1 − J) clamped at p ≥ 0 (a free surface carries no
  tension), plus Newtonian viscosity τ_v = μ J (∇v + ∇vᵀ) with ∇v ≈ C (APIC).
- Elastic: compressible neo-Hookean, τ = G (F Fᵀ − I) + λ ln J · I (Bonet & Wood 2008).
- Frozen liquid (below half melted): neo-Hookean with the material's frozen moduli; once its
  bonds break (polyalloy.fracture), rubble: Hencky at the frozen moduli kept inside a
  Drucker–Prager cone at materials.RUBBLE_FRICTION_ANGLE (no tension, frictional shear).
- Sand: Hencky (St. Venant–Kirchhoff in log strain) with the Drucker–Prager return map of
  Klár et al. 2016, "Drucker-Prager elastoplasticity for sand animation", §7.
"""

from __future__ import annotations

import math

import warp as wp

from ..materials import RUBBLE_FRICTION_ANGLE, Constitutive, Material


@wp.struct
class MaterialData:
    """One material as the kernels see it (SI units)."""

    constitutive: int
    bulk_modulus: float
    shear_modulus: float
    lame_lambda: float
    viscosity: float
    friction_alpha: float
    """Drucker–Prager cone coefficient α = √(2/3)·2 sin φ / (3 − sin φ) [-]."""
    frozen_shear_modulus: float
    """Shear modulus of the frozen liquid [Pa] (0: it does not freeze)."""
    frozen_lame_lambda: float
    """Lamé λ of the frozen liquid [Pa]."""
    frozen_strength: float
    """Tensile strength of the frozen liquid's grains [Pa]."""
    rubble_friction_alpha: float
    """Drucker–Prager cone coefficient of the frozen liquid once broken, from
    materials.RUBBLE_FRICTION_ANGLE [-]."""
    shock_energy_per_kelvin2: float
    """Thermal-shock strain energy a quenched solid stores per m³ and per K² of undercooling
    below its melting point, ½ E_real α² [J/(m³·K²)] (polyalloy.fracture)."""
    density: float
    """Mass density [kg/m³]."""
    melting_point: float
    """Melting point [°C]."""
    latent_heat: float
    """Latent heat of fusion [J/kg]."""
    heat_capacity_solid: float
    """Specific heat capacity of the solid [J/(kg·K)]."""
    heat_capacity_liquid: float
    """Specific heat capacity of the liquid [J/(kg·K)]."""
    conductivity_solid: float
    """Thermal conductivity of the solid [W/(m·K)] (unscaled; the scene's factor is applied in the kernels)."""
    conductivity_liquid: float
    """Thermal conductivity of the liquid [W/(m·K)]."""
    boiling_point: float
    """Boiling point [°C]."""
    latent_heat_vaporization: float
    """Latent heat of vaporisation [J/kg]."""


def cone_coefficient(friction_angle: float) -> float:
    """Drucker–Prager α = √(2/3)·2 sin φ / (3 − sin φ) [-] of an internal friction angle φ [degrees]
    (Klár et al. 2016, eq. 21: the cone inscribed in Mohr–Coulomb's)."""
    sin_phi = math.sin(math.radians(friction_angle))
    return math.sqrt(2.0 / 3.0) * 2.0 * sin_phi / (3.0 - sin_phi)


def material_data(material: Material) -> MaterialData:
    """Pack a preset into the struct the kernels read."""
    data = MaterialData()
    data.constitutive = int(material.constitutive)
    data.bulk_modulus = material.bulk_modulus
    data.shear_modulus = material.shear_modulus
    data.lame_lambda = material.bulk_modulus - 2.0 * material.shear_modulus / 3.0
    data.viscosity = material.viscosity
    data.friction_alpha = cone_coefficient(material.friction_angle)
    data.frozen_shear_modulus = material.frozen_shear_modulus if material.freezes else 0.0
    data.frozen_lame_lambda = material.frozen_bulk_modulus - 2.0 * material.frozen_shear_modulus / 3.0
    data.frozen_strength = material.frozen_strength
    data.rubble_friction_alpha = cone_coefficient(RUBBLE_FRICTION_ANGLE)
    data.shock_energy_per_kelvin2 = 0.5 * material.real_frozen_young_modulus * material.thermal_expansion**2
    data.density = material.density
    data.melting_point = material.melting_point
    data.latent_heat = material.latent_heat
    data.heat_capacity_solid = material.heat_capacity_solid
    data.heat_capacity_liquid = material.heat_capacity_liquid
    data.conductivity_solid = material.conductivity_solid
    data.conductivity_liquid = material.conductivity_liquid
    data.boiling_point = material.boiling_point
    data.latent_heat_vaporization = material.latent_heat_vaporization
    return data


FLUID = wp.constant(int(Constitutive.FLUID))
ELASTIC = wp.constant(int(Constitutive.ELASTIC))
SAND = wp.constant(int(Constitutive.SAND))


@wp.func
def fluid_stress(F: wp.mat33, C: wp.mat33, mat: MaterialData):
    """Kirchhoff stress [Pa] of the weakly compressible liquid; only J = det F matters."""
    J = wp.determinant(F)
    pressure = wp.max(mat.bulk_modulus * (1.0 - J), 0.0)
    identity = wp.identity(n=3, dtype=float)
    return -pressure * J * identity + mat.viscosity * J * (C + wp.transpose(C))


@wp.func
def fluid_project(F: wp.mat33):
    """A liquid keeps no shape: only its volume ratio J = det F survives, stored as diag(J, 1, 1)
    (the same determinant as J^(1/3)·I without a cube root, which cost a third of G2P)."""
    J = wp.clamp(wp.determinant(F), 0.2, 5.0)
    return wp.diag(wp.vec3(J, 1.0, 1.0))


@wp.func
def neo_hookean_stress(F: wp.mat33, C: wp.mat33, mat: MaterialData):
    """Kirchhoff stress [Pa] of a compressible neo-Hookean solid."""
    J = wp.max(wp.determinant(F), 1.0e-6)
    identity = wp.identity(n=3, dtype=float)
    return mat.shear_modulus * (F * wp.transpose(F) - identity) + mat.lame_lambda * wp.log(J) * identity


@wp.func
def frozen_stress(F: wp.mat33, C: wp.mat33, mat: MaterialData):
    """Kirchhoff stress [Pa] of a frozen liquid: neo-Hookean with the frozen moduli."""
    J = wp.max(wp.determinant(F), 1.0e-6)
    identity = wp.identity(n=3, dtype=float)
    return mat.frozen_shear_modulus * (F * wp.transpose(F) - identity) + mat.frozen_lame_lambda * wp.log(J) * identity


@wp.func
def broken_stress(F: wp.mat33, mat: MaterialData):
    """Kirchhoff stress [Pa] of frozen metal whose bonds have broken: Hencky elasticity at the
    frozen moduli, which `rubble_project` keeps inside a Drucker–Prager cone, so the rubble
    carries no tension and only as much shear as friction on its pressure allows."""
    return hencky_kirchhoff(F, mat.frozen_shear_modulus, mat.frozen_lame_lambda)


@wp.func
def largest_principal_stress(tau: wp.mat33, F: wp.mat33):
    """Largest principal Cauchy stress σ = τ / J [Pa] (positive in tension)."""
    Q = wp.mat33()
    d = wp.vec3()
    wp.eig3(tau / wp.max(wp.determinant(F), 1.0e-6), Q, d)
    return wp.max(d[0], wp.max(d[1], d[2]))


@wp.func
def is_frozen(mat: MaterialData, phase: float):
    """Whether a particle of `mat` with liquid fraction `phase` is a solid: a freezing liquid
    counts as frozen below half melted."""
    return mat.constitutive == FLUID and mat.frozen_shear_modulus > 0.0 and phase < 0.5


@wp.func
def hencky_strain(F: wp.mat33):
    """F = U Σ Vᵀ as (U, ε, V) with ε = log Σ, the principal logarithmic (Hencky) strains."""
    U = wp.mat33()
    sigma = wp.vec3()
    V = wp.mat33()
    wp.svd3(F, U, sigma, V)
    eps = wp.vec3(wp.log(wp.max(sigma[0], 1.0e-6)), wp.log(wp.max(sigma[1], 1.0e-6)), wp.log(wp.max(sigma[2], 1.0e-6)))
    return U, eps, V


@wp.func
def hencky_kirchhoff(F: wp.mat33, shear_modulus: float, lame_lambda: float):
    """Kirchhoff stress [Pa] of Hencky elasticity with moduli G and λ [Pa]:
    τ = U (2G ε + λ tr(ε) I) Uᵀ, ε = log Σ."""
    U, eps, V = hencky_strain(F)
    trace = eps[0] + eps[1] + eps[2]
    tau = 2.0 * shear_modulus * eps + wp.vec3(lame_lambda * trace)
    return U * wp.diag(tau) * wp.transpose(U)


@wp.func
def hencky_stress(F: wp.mat33, C: wp.mat33, mat: MaterialData):
    """Kirchhoff stress [Pa] of sand: Hencky elasticity with the material's moduli."""
    return hencky_kirchhoff(F, mat.shear_modulus, mat.lame_lambda)


@wp.func
def drucker_prager_return(F: wp.mat33, shear_modulus: float, lame_lambda: float, alpha: float):
    """Return the trial F of a cohesionless granular solid with moduli G, λ [Pa] onto the
    Drucker–Prager yield cone of coefficient α (Klár et al. 2016, Algorithm 2)."""
    U, eps, V = hencky_strain(F)
    trace = eps[0] + eps[1] + eps[2]
    if trace >= 0.0:
        # Expansion: a cohesionless solid cannot carry tension, so it returns to the stress-free tip.
        return U * wp.transpose(V)
    deviator = eps - wp.vec3(trace / 3.0)
    deviator_norm = wp.length(deviator)
    if deviator_norm < 1.0e-12:
        return F
    plastic = deviator_norm + (3.0 * lame_lambda + 2.0 * shear_modulus) / (2.0 * shear_modulus) * trace * alpha
    if plastic <= 0.0:
        return F
    eps = eps - plastic / deviator_norm * deviator
    return U * wp.diag(wp.vec3(wp.exp(eps[0]), wp.exp(eps[1]), wp.exp(eps[2]))) * wp.transpose(V)


@wp.func
def drucker_prager_project(F: wp.mat33, mat: MaterialData):
    """Return sand's trial F onto its Drucker–Prager cone."""
    return drucker_prager_return(F, mat.shear_modulus, mat.lame_lambda, mat.friction_alpha)


@wp.func
def rubble_project(F: wp.mat33, mat: MaterialData):
    """Return broken frozen metal's trial F onto the rubble's Drucker–Prager cone."""
    return drucker_prager_return(F, mat.frozen_shear_modulus, mat.frozen_lame_lambda, mat.rubble_friction_alpha)
