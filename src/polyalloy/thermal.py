"""Enthalpy, latent heat and phase: how a material's heat content maps to temperature and phase.

The enthalpy method (Stomakhin et al. 2014, "Augmented MPM for phase-change and varied
materials", §5) keeps per particle a specific enthalpy h [J/kg] measured from the solid at its
melting point T_m, so heat is conserved exactly and the latent heat L is absorbed at constant
temperature:

    h < 0          solid,   T = T_m + h / c_s,          phase 0
    0 ≤ h ≤ L      melting, T = T_m,                    phase h / L
    h > L          liquid,  T = T_m + (h − L) / c_l,    phase 1

A particle stores T [°C] and phase (liquid fraction); h follows from the pair. The same
relations exist as Warp functions in `polyalloy.solver.heat` for the kernels; this module is
the host-side reference the tests and metrics use.
"""

from __future__ import annotations

import numpy as np

from .materials import Material

DIFFUSION_NEIGHBOURS = 6
"""Face neighbours of a grid node in 3D; sets the explicit diffusion limit ρc·dx²/(6k)."""


def specific_enthalpy(material: Material, temperature: np.ndarray, phase: np.ndarray) -> np.ndarray:
    """Specific enthalpy h [J/kg] of particles at `temperature` [°C] and liquid fraction `phase`."""
    t = np.asarray(temperature, dtype=np.float64) - material.melting_point
    return (
        material.heat_capacity_solid * np.minimum(t, 0.0)
        + material.latent_heat * np.asarray(phase, dtype=np.float64)
        + material.heat_capacity_liquid * np.maximum(t, 0.0)
    )


def temperature_and_phase(material: Material, enthalpy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Temperature [°C] and liquid fraction [-] of particles with specific enthalpy `enthalpy` [J/kg]."""
    h = np.asarray(enthalpy, dtype=np.float64)
    latent = material.latent_heat
    temperature = np.where(
        h < 0.0,
        material.melting_point + h / material.heat_capacity_solid,
        np.where(h > latent, material.melting_point + (h - latent) / material.heat_capacity_liquid, material.melting_point),
    )
    phase = np.clip(h / latent, 0.0, 1.0) if latent > 0.0 else (h > 0.0).astype(np.float64)
    return temperature, phase


def heat_fade(material: Material, temperature: np.ndarray) -> np.ndarray:
    """Share of its will over-heated metal keeps [0, 1]: all of it up to halfway between its
    melting and boiling points, fading to none at boiling."""
    hot = 0.5 * (material.melting_point + material.boiling_point)
    return np.clip((material.boiling_point - np.asarray(temperature, dtype=np.float64)) / (material.boiling_point - hot), 0.0, 1.0)


def will_share(material: Material, temperature: np.ndarray, phase: np.ndarray) -> np.ndarray:
    """Share of its body's will each particle feels [0, 1] (as the solver's `will_share`): its
    liquid fraction if the material freezes, times its heat_fade."""
    share = np.asarray(phase, dtype=np.float64) if material.freezes else np.ones(np.shape(temperature))
    return share * heat_fade(material, temperature)


def initial_phase(material: Material, temperature: float) -> float:
    """Liquid fraction of matter created at `temperature` [°C]: 1 above the melting point, else 0."""
    return 1.0 if temperature > material.melting_point else 0.0


def diffusion_time_step(materials: list[Material], dx: float, conductivity_scale: float) -> float:
    """Longest stable explicit heat step [s] on cells of `dx` [m]: min over materials of
    ρ·c·dx² / (6·k) with the smaller heat capacity and the larger (scaled) conductivity."""
    limits = []
    for m in materials:
        conductivity = conductivity_scale * max(m.conductivity_solid, m.conductivity_liquid)
        if conductivity > 0.0:
            capacity = m.density * min(m.heat_capacity_solid, m.heat_capacity_liquid)
            limits.append(capacity * dx * dx / (DIFFUSION_NEIGHBOURS * conductivity))
    return min(limits) if limits else float("inf")
