"""Heat: particle enthalpy carried to the grid, diffused there, and gathered back (one explicit step).

The stages mirror the MPM substep (notes/thermal.md, coupling "A"):

1. **Scatter.** Each particle gives its nodes heat capacity m·c, thermal energy m·c·T, volume
   V and V·k, weighted by the quadratic B-spline.
2. **Nodes.** A node's temperature is Σ w m c T / Σ w m c; its fill φ = Σ w V / dx³ and
   conductivity k = Σ w V k / Σ w V.
3. **Exchange.** Finite-volume conduction between face neighbours with conductance
   k_face·dx·min(φᵢ, φⱼ, 1): empty space is adiabatic and a half-filled skin conducts half as
   well. Nodes on or inside a collider, in a pool's bath (less than half full of matter: the
   matter displaces the bath), and on or beyond a domain wall, are *held* at that temperature, like an MPM velocity boundary: their neighbours exchange heat with
   them over a full cell (conductance k·dx·φ of the neighbour), and their particles are pushed
   to the surface temperature (ΔTᵢ = T_s − Tᵢ). Where matter meets free air it exchanges
   heat with it by Newton's law of cooling, h·A·(T_ambient − Tᵢ), with A = |∇φ̂| dx³ the free
   surface in the node's cell (coarea formula; φ̂ = min(φ / 0.9, 1), 1 at solids and walls).
   Every transfer is written as a node energy change ΔEᵢ, so heat is conserved to round-off;
   what the held nodes and the air give is counted as heat in.
4. **Gather.** A particle's specific enthalpy grows by c·Σ w ΔTᵢ with ΔTᵢ = ΔEᵢ / Σ w m c, so
   Σ m Δh = Σ ΔEᵢ exactly, plus a relaxation toward its nodes' temperatures that sums to zero
   node by node and carries a share of the conduction (see `heat_gather`). Temperature and phase follow from the new enthalpy
   (polyalloy.thermal); a freezing material's deformation gradient changes form as it crosses
   half-frozen (a liquid keeps only its volume ratio, a solid its full F). Heat above the
   boiling point boils the particle off at the boiling temperature (liquid nitrogen, T3); a
   body's particle that reaches it inside a pool's bath dissolves instead (T6).

The step borrows the MPM solver's grid (the scatter lanes, zero between steps, and the vec4
node array); of its own it keeps two vec2 per node: the held temperature and the change the
gather takes.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import warp as wp

from .. import thermal
from ..fracture import bond_strength, shock_energy
from . import constitutive as cm
from .colliders import ColliderData, collider_sdf
from ..state import DISSOLVED, EVAPORATED, PRESENT
from .heaters import HeaterData, heats
from .kernels import BLOCK, block_node, stencil
from .pools import PoolData, pool_at

if TYPE_CHECKING:
    from ..control import Control
    from ..model import Model
    from ..state import State
    from .mpm import MPMSolver

wp.set_module_options({"enable_backward": False})

AIR_FULL_FILL = wp.constant(0.9)
# Fill φ [-] above which a node counts as full for the free-surface area: inside a liquid the
# fill scatters by ±0.02–0.04 about 1, and counting that as surface would cool the interior
# directly; with 0.9 a ball's summed area is within 3 % of 4πR² at 2–4 cm cells.


@wp.func
def heat_capacity(mat: cm.MaterialData, phase: float):
    """Specific heat capacity [J/(kg·K)] of matter with liquid fraction `phase`."""
    return (1.0 - phase) * mat.heat_capacity_solid + phase * mat.heat_capacity_liquid


@wp.func
def conductivity(mat: cm.MaterialData, phase: float):
    """Thermal conductivity [W/(m·K)] of matter with liquid fraction `phase` (unscaled)."""
    return (1.0 - phase) * mat.conductivity_solid + phase * mat.conductivity_liquid


@wp.func
def specific_enthalpy(mat: cm.MaterialData, temperature: float, phase: float):
    """h [J/kg] from the solid at the melting point (polyalloy.thermal)."""
    t = temperature - mat.melting_point
    return mat.heat_capacity_solid * wp.min(t, 0.0) + mat.latent_heat * phase + mat.heat_capacity_liquid * wp.max(t, 0.0)


@wp.func
def temperature_of(mat: cm.MaterialData, h: float):
    """Temperature [°C] at specific enthalpy h [J/kg]."""
    if h < 0.0:
        return mat.melting_point + h / mat.heat_capacity_solid
    if h > mat.latent_heat:
        return mat.melting_point + (h - mat.latent_heat) / mat.heat_capacity_liquid
    return mat.melting_point


@wp.func
def phase_of(mat: cm.MaterialData, h: float):
    """Liquid fraction [-] at specific enthalpy h [J/kg]."""
    if mat.latent_heat > 0.0:
        return wp.clamp(h / mat.latent_heat, 0.0, 1.0)
    if h > 0.0:
        return 1.0
    return 0.0


@wp.func
def held_temperature(
    node: wp.vec3, fill: float, colliders: wp.array(dtype=ColliderData), pools: wp.array(dtype=PoolData), time: float,
    lo: wp.vec3, hi: wp.vec3, dx: float, ambient: float,
):
    """(1, T, f) if the node at `node` [m], `fill` full of matter, is held at a temperature T
    [°C] (inside or on a collider; in a pool at `time` [s] where the matter leaves the bath most
    of the node; on or beyond a domain wall at ambient, or at the pool's temperature where the
    wall is the pool's floor or side), else (0, 0, 0); f is the factor on the conduction across
    that surface (a pool's or a collider's exchange, else 1 at a domain wall)."""
    tolerance = 1.0e-3 * dx
    bath = pool_at(node, pools, time)
    if fill < 0.5 and bath >= 0:
        return 1, pools[bath].temperature, pools[bath].exchange
    for c in range(colliders.shape[0]):
        if collider_sdf(colliders[c], node) <= 0.0:
            return 1, colliders[c].temperature, colliders[c].exchange
    for axis in range(3):
        if node[axis] <= lo[axis] + tolerance or node[axis] >= hi[axis] - tolerance:
            # A wall a pool lies against is the pool's floor or side. The nodes beyond the wall
            # lie outside every pool's region, so ask at the wall itself: asked where they are,
            # the vat's floor held the metal sunk onto it at ambient, and it never dissolved.
            wall_bath = pool_at(wp.min(wp.max(node, lo), hi), pools, time)
            if wall_bath >= 0:
                return 1, pools[wall_bath].temperature, pools[wall_bath].exchange
            return 1, ambient, 1.0
    return 0, 0.0, 0.0


@wp.kernel
def heat_scatter(
    # Model:
    particle_mass: wp.array(dtype=float),
    particle_volume: wp.array(dtype=float),
    particle_material: wp.array(dtype=int),
    materials: wp.array(dtype=cm.MaterialData),
    grid_origin: wp.vec3,
    inv_dx: float,
    # State in:
    x_in: wp.array(dtype=wp.vec3),
    temperature_in: wp.array(dtype=float),
    phase_in: wp.array(dtype=float),
    status_in: wp.array(dtype=int),
    # Out:
    grid_scatter_out: wp.array4d(dtype=wp.vec4),
    # Scalars:
    first_particle: int,
    lane: int,
):
    """Scatter (m c T, m c, V, V k) of each present particle into scatter lane `lane`."""
    p = wp.tid() + first_particle
    if status_in[p] != PRESENT:
        return
    mat = materials[particle_material[p]]
    phase = phase_in[p]
    capacity = particle_mass[p] * heat_capacity(mat, phase)
    volume = particle_volume[p]
    carried = wp.vec4(capacity * temperature_in[p], capacity, volume, volume * conductivity(mat, phase))
    grid_shape = wp.vec3i(grid_scatter_out.shape[1], grid_scatter_out.shape[2], grid_scatter_out.shape[3])
    base, fx, wx, wy, wz = stencil(x_in[p], grid_origin, inv_dx, grid_shape)
    for a in range(3):
        for b in range(3):
            for c in range(3):
                wp.atomic_add(grid_scatter_out, lane, base[0] + a, base[1] + b, base[2] + c, (wx[a] * wy[b] * wz[c]) * carried)


@wp.kernel
def heat_nodes(
    grid_scatter_inout: wp.array4d(dtype=wp.vec4),
    grid_origin: wp.vec3,
    dx: float,
    domain_lo: wp.vec3,
    domain_hi: wp.vec3,
    ambient: float,
    colliders: wp.array(dtype=ColliderData),
    pools: wp.array(dtype=PoolData),
    time: float,
    active_blocks: wp.array(dtype=wp.vec3i),
    first_thread: int,
    node_thermal_out: wp.array3d(dtype=wp.vec4),
    node_held_out: wp.array3d(dtype=wp.vec2),
):
    """Node temperature [°C], heat capacity [J/K], fill φ = Σ w V / dx³ [-] (above 1 where
    particles crowd) and conductivity [W/(m·K)] from the summed lanes (zeros at an empty node);
    and, at a node with matter, whether it is held at a surface's temperature: (T [°C], f) with
    f > 0 the factor on the conduction across that surface, (0, 0) if it is free (see
    `held_temperature`). An empty node's is left for `heat_exchange` to work out where needed:
    most empty nodes of the active blocks neighbour no matter. The lanes are left zero (the
    grid's state between steps, see `kernels.grid_update`)."""
    node = block_node(active_blocks, wp.tid() + first_thread)
    i = node[0]
    j = node[1]
    k = node[2]
    if i >= node_thermal_out.shape[0] or j >= node_thermal_out.shape[1] or k >= node_thermal_out.shape[2]:
        return
    sums = wp.vec4(0.0)
    for lane in range(grid_scatter_inout.shape[0]):
        sums += grid_scatter_inout[lane, i, j, k]
        grid_scatter_inout[lane, i, j, k] = wp.vec4(0.0)
    if sums[1] <= 0.0:
        node_thermal_out[i, j, k] = wp.vec4(0.0)
        return
    fill = sums[2] / (dx * dx * dx)
    node_thermal_out[i, j, k] = wp.vec4(sums[0] / sums[1], sums[1], fill, sums[3] / sums[2])
    position = grid_origin + wp.vec3(float(i), float(j), float(k)) * dx
    held, surface_temperature, exchange = held_temperature(position, fill, colliders, pools, time, domain_lo, domain_hi, dx, ambient)
    node_held_out[i, j, k] = wp.vec2(surface_temperature, wp.where(held == 1, exchange, 0.0))


@wp.func
def node_is_active(block_flags: wp.array3d(dtype=int), i: int, j: int, k: int):
    """Whether node (i, j, k) lies in an active block (only those hold current node data)."""
    return block_flags[i // BLOCK, j // BLOCK, k // BLOCK] != 0


@wp.kernel
def heat_exchange(
    # Model:
    grid_origin: wp.vec3,
    dx: float,
    domain_lo: wp.vec3,
    domain_hi: wp.vec3,
    ambient: float,
    air_heat_transfer: float,
    conductivity_scale: float,
    subcell_share: float,
    colliders: wp.array(dtype=ColliderData),
    pools: wp.array(dtype=PoolData),
    time: float,
    # Grid in:
    node_thermal_in: wp.array3d(dtype=wp.vec4),
    node_held_in: wp.array3d(dtype=wp.vec2),
    block_flags: wp.array3d(dtype=int),
    active_blocks: wp.array(dtype=wp.vec3i),
    first_thread: int,
    lane: int,
    dt: float,
    # Out:
    node_delta_out: wp.array3d(dtype=wp.vec2),
    heat_in_out: wp.array(dtype=float),
):
    """Into node_delta_out[node]: (ΔT [K] over dt [s], β), with β the fraction of the gap
    to the node temperature its particles close (see `heat_gather`); the heat [J] the held
    surfaces and the air gave is added to heat_in_out[lane].

    Of each node's conduction, `subcell_share` is carried by the particle relaxation β and the
    rest by the grid's conductances. Where matter meets free air it exchanges heat with it at
    `air_heat_transfer` [W/(m²·K)] toward `ambient` (Newton's law of cooling)."""
    node = block_node(active_blocks, wp.tid() + first_thread)
    i = node[0]
    j = node[1]
    k = node[2]
    shape = wp.vec3i(node_thermal_in.shape[0], node_thermal_in.shape[1], node_thermal_in.shape[2])
    if i >= shape[0] or j >= shape[1] or k >= shape[2]:
        return
    here = node_thermal_in[i, j, k]
    capacity = here[1]
    if capacity <= 0.0:
        node_delta_out[i, j, k] = wp.vec2(0.0)
        return
    k_here = conductivity_scale * here[3]
    fill = wp.min(here[2], 1.0)
    # Diffusivity α = k / (ρc), with ρc the node's heat capacity per volume of its particles.
    diffusivity = k_here * here[2] * dx * dx * dx / capacity
    relax = wp.min(4.0 * subcell_share * diffusivity * dt / (dx * dx), 1.0)
    held_here = node_held_in[i, j, k]
    exchange = held_here[1]
    if exchange > 0.0:
        # The Dirichlet condition: the held node's particles are pushed to the surface
        # temperature, as fast as conduction over a cell allows (6 α dt / dx², at most all the
        # way), so a scene without conduction exchanges no heat. Pushing each particle by its
        # own gap instead of the node's gave melt fronts 5 % fast at 4 mm.
        delta = wp.min(6.0 * exchange * diffusivity * dt / (dx * dx), 1.0) * (held_here[0] - here[0])
        wp.atomic_add(heat_in_out, lane, capacity * delta)
        node_delta_out[i, j, k] = wp.vec2(delta, relax)
        return
    k_grid = (1.0 - subcell_share) * k_here
    flow = float(0.0)
    surface_flow = float(0.0)
    # Matter's filling of each neighbour (1 for a solid or a wall: no air there), for the area of
    # free surface in this node's cell, |∇φ| dx³ (the coarea formula).
    matter_gradient = wp.vec3(0.0)
    for n in range(6):
        offset = wp.vec3i(0)
        offset[n // 2] = 2 * (n % 2) - 1
        side = float(2 * (n % 2) - 1)
        nb = node + offset
        if nb[0] < 0 or nb[1] < 0 or nb[2] < 0 or nb[0] >= shape[0] or nb[1] >= shape[1] or nb[2] >= shape[2]:
            matter_gradient[n // 2] += side
            continue
        there = wp.vec4(0.0)
        if node_is_active(block_flags, nb[0], nb[1], nb[2]):
            there = node_thermal_in[nb[0], nb[1], nb[2]]
        nb_temperature = float(0.0)
        nb_exchange = float(0.0)
        if there[1] > 0.0:
            held_there = node_held_in[nb[0], nb[1], nb[2]]
            nb_temperature = held_there[0]
            nb_exchange = held_there[1]
        else:
            nb_position = grid_origin + wp.vec3(float(nb[0]), float(nb[1]), float(nb[2])) * dx
            nb_held, nb_temperature, nb_exchange = held_temperature(nb_position, 0.0, colliders, pools, time, domain_lo, domain_hi, dx, ambient)
        if nb_exchange > 0.0:
            # A held surface node exchanges over a full cell with this node's own skin.
            surface_flow += nb_exchange * k_grid * dx * fill * (nb_temperature - here[0])
            matter_gradient[n // 2] += side
        elif there[1] > 0.0:
            k_there = (1.0 - subcell_share) * conductivity_scale * there[3]
            k_face = 2.0 * k_grid * k_there / wp.max(k_grid + k_there, 1.0e-30)
            flow += k_face * dx * wp.min(fill, wp.min(there[2], 1.0)) * (there[0] - here[0])
            matter_gradient[n // 2] += side * wp.min(there[2] / AIR_FULL_FILL, 1.0)
    # Newton cooling over the free surface in this cell, at most all the way to ambient.
    air_area = 0.5 * dx * dx * wp.length(matter_gradient)
    air_delta = wp.min(dt * air_heat_transfer * air_area / capacity, 1.0) * (ambient - here[0])
    wp.atomic_add(heat_in_out, lane, dt * surface_flow + capacity * air_delta)
    node_delta_out[i, j, k] = wp.vec2(dt * (flow + surface_flow) / capacity + air_delta, relax)


@wp.kernel
def heated_mass(
    particle_mass: wp.array(dtype=float),
    heaters: wp.array(dtype=HeaterData),
    x_in: wp.array(dtype=wp.vec3),
    temperature_in: wp.array(dtype=float),
    status_in: wp.array(dtype=int),
    time: float,
    mass_out: wp.array(dtype=float),
):
    """mass_out[h] = mass [kg] of the present matter heater h heats at `time` [s]."""
    p = wp.tid()
    if status_in[p] != PRESENT:
        return
    for h in range(heaters.shape[0]):
        if heats(heaters[h], x_in[p], temperature_in[p], time):
            wp.atomic_add(mass_out, h, particle_mass[p])


@wp.func
def heater_heat(heaters: wp.array(dtype=HeaterData), heated_mass: wp.array(dtype=float), mat: cm.MaterialData, x: wp.vec3,
                temperature: float, phase: float, time: float, dt: float):
    """Heat per kilogram [J/kg] the heaters give a particle of `mat` at x [m], `temperature`
    [°C] and liquid fraction `phase` over dt [s] from `time` [s]: each heater's P·dt shared by
    the mass it heats, but no more than brings the particle to the heater's temperature."""
    h = specific_enthalpy(mat, temperature, phase)
    gain = float(0.0)
    for k in range(heaters.shape[0]):
        heater = heaters[k]
        if heated_mass[k] > 0.0 and heats(heater, x, temperature, time):
            capped = specific_enthalpy(mat, heater.cap, wp.where(heater.cap > mat.melting_point, 1.0, 0.0))
            gain += wp.min(heater.power * dt / heated_mass[k], wp.max(capped - h, 0.0))
    return gain


@wp.kernel
def heat_gather(
    # Model:
    particle_mass: wp.array(dtype=float),
    particle_material: wp.array(dtype=int),
    particle_body: wp.array(dtype=int),
    materials: wp.array(dtype=cm.MaterialData),
    pools: wp.array(dtype=PoolData),
    heaters: wp.array(dtype=HeaterData),
    heated_mass_in: wp.array(dtype=float),
    time: float,
    dt: float,
    grid_origin: wp.vec3,
    inv_dx: float,
    node_thermal_in: wp.array3d(dtype=wp.vec4),
    node_delta_in: wp.array3d(dtype=wp.vec2),
    # State in/out (both states get the result):
    x_in: wp.array(dtype=wp.vec3),
    temperature_inout: wp.array(dtype=float),
    phase_inout: wp.array(dtype=float),
    F_inout: wp.array(dtype=wp.mat33),
    boiled_inout: wp.array(dtype=float),
    status_inout: wp.array(dtype=int),
    bond_inout: wp.array(dtype=float),
    shock_inout: wp.array(dtype=float),
    temperature_copy: wp.array(dtype=float),
    phase_copy: wp.array(dtype=float),
    F_copy: wp.array(dtype=wp.mat33),
    boiled_copy: wp.array(dtype=float),
    status_copy: wp.array(dtype=int),
    bond_copy: wp.array(dtype=float),
    shock_copy: wp.array(dtype=float),
    # Scalars:
    first_particle: int,
    seed: int,
    lane: int,
    # Heat the heaters gave, per lane [J], and per material 1 if some of it froze:
    heat_in_out: wp.array(dtype=float),
    froze_out: wp.array(dtype=int),
):
    """h += c Σ w (ΔTᵢ + βᵢ (Tᵢ − T)) plus the heaters' heat; new temperature and phase; F changes form when the
    particle freezes or melts.

    The βᵢ term lets a particle's temperature relax toward its node's: the increments ΔTᵢ are
    smooth on the grid and never touch differences between neighbouring particles, which the
    freezing front leaves behind (particles frozen next to a −196 °C plate stayed spread from
    −309 to −19 °C). It conserves heat node by node, Σₚ w m c (Tᵢ − T) = 0 by the definition of
    Tᵢ. On a smooth field it diffuses like a conductivity (the scatter–gather round trip
    blurs by dx²/4 of variance), so the grid carries only the rest of the conduction."""
    p = wp.tid() + first_particle
    if status_inout[p] != PRESENT:
        return
    grid_shape = wp.vec3i(node_delta_in.shape[0], node_delta_in.shape[1], node_delta_in.shape[2])
    base, fx, wx, wy, wz = stencil(x_in[p], grid_origin, inv_dx, grid_shape)
    temperature = temperature_inout[p]
    temperature_before = temperature
    delta = float(0.0)
    for a in range(3):
        for b in range(3):
            for c in range(3):
                w = wx[a] * wy[b] * wz[c]
                i = base[0] + a
                j = base[1] + b
                k = base[2] + c
                node = node_delta_in[i, j, k]
                delta += w * (node[0] + node[1] * (node_thermal_in[i, j, k][0] - temperature))
    mat = materials[particle_material[p]]
    phase = phase_inout[p]
    capacity = heat_capacity(mat, phase)
    from_heaters = heater_heat(heaters, heated_mass_in, mat, x_in[p], temperature, phase, time, dt)
    wp.atomic_add(heat_in_out, lane, particle_mass[p] * from_heaters)
    gained = capacity * delta + from_heaters
    new_phase = phase
    # Away from the melting point only the sensible heat changes: update T directly, since h
    # itself is large there (steel at 10 °C: −7e5 J/kg) and float32 would round the gain away.
    if phase <= 0.0 and temperature + gained / mat.heat_capacity_solid <= mat.melting_point:
        temperature = temperature + gained / mat.heat_capacity_solid
    elif phase >= 1.0 and temperature + gained / mat.heat_capacity_liquid >= mat.melting_point:
        temperature = temperature + gained / mat.heat_capacity_liquid
    else:
        h = specific_enthalpy(mat, temperature, phase) + gained
        new_phase = phase_of(mat, h)
        temperature = temperature_of(mat, h)
    if new_phase >= 1.0 and temperature > mat.boiling_point and particle_body[p] >= 0 and pool_at(x_in[p], pools, time) >= 0:
        # A body's metal brought to its boiling point in a bath dissolves into it (T6).
        status_inout[p] = DISSOLVED
        status_copy[p] = DISSOLVED
    elif new_phase >= 1.0 and mat.latent_heat_vaporization > 0.0 and temperature > mat.boiling_point:
        # Boiling: heat above the boiling point turns liquid to vapour at constant temperature;
        # a particle wholly boiled leaves the simulation (its mass counted as evaporated).
        boiled = boiled_inout[p] + (temperature - mat.boiling_point) * mat.heat_capacity_liquid / mat.latent_heat_vaporization
        temperature = mat.boiling_point
        boiled_inout[p] = wp.min(boiled, 1.0)
        boiled_copy[p] = wp.min(boiled, 1.0)
        if boiled >= 1.0:
            status_inout[p] = EVAPORATED
            status_copy[p] = EVAPORATED
    temperature_inout[p] = temperature
    temperature_copy[p] = temperature
    phase_inout[p] = new_phase
    phase_copy[p] = new_phase
    if mat.constitutive == cm.FLUID and mat.latent_heat > 0.0:
        F = F_inout[p]
        bond = bond_inout[p]
        if phase >= 0.5 and new_phase < 0.5:
            # Freezing: the metal sets stress-free in the shape it has, and the particle bonds to
            # its grain (polyalloy.fracture). Carrying the liquid's volume ratio J into the solid
            # (J^(1/3)·I) froze a willed body's surface stretched, since there J is nudged toward
            # the grid's half density (g2p_finish): a quarter of a ball freezing on a cold plate
            # broke as it froze, and the frost could not root his feet.
            froze_out[particle_material[p]] = 1
            F = wp.identity(n=3, dtype=float)
            bond = bond_strength(x_in[p], mat.frozen_strength, seed)
        elif phase < 0.5 and new_phase >= 0.5:
            F = cm.fluid_project(F)
            if bond <= 0.0:
                # Rubble's F holds only its elastic strain, the rest having flowed or opened
                # into gaps between its crumbs, not the metal's volume: it melts at its rest volume.
                F = wp.identity(n=3, dtype=float)
            bond = 0.0
        # Frozen metal's thermal-shock energy grows and shrinks with its undercooling, from what
        # it holds (none left in a shard a shattering spent); thawed metal has relaxed.
        shock = float(0.0)
        if new_phase < 0.5:
            shock = wp.max(shock_inout[p] + shock_energy(mat, temperature) - shock_energy(mat, temperature_before), 0.0)
        F_inout[p] = F
        F_copy[p] = F
        bond_inout[p] = bond
        bond_copy[p] = bond
        shock_inout[p] = shock
        shock_copy[p] = shock


@wp.kernel
def form_grains(
    particle_material: wp.array(dtype=int),
    materials: wp.array(dtype=cm.MaterialData),
    x_in: wp.array(dtype=wp.vec3),
    phase_in: wp.array(dtype=float),
    temperature_in: wp.array(dtype=float),
    seed: int,
    bond_out: wp.array(dtype=float),
    shock_out: wp.array(dtype=float),
):
    """Bond every particle that is already frozen to its grain (matter that starts frozen), with
    the thermal-shock energy of its undercooling."""
    p = wp.tid()
    mat = materials[particle_material[p]]
    if cm.is_frozen(mat, phase_in[p]):
        bond_out[p] = bond_strength(x_in[p], mat.frozen_strength, seed)
        shock_out[p] = shock_energy(mat, temperature_in[p])


class HeatSolver:
    """The explicit heat step of a Model, on the MPM solver's grid."""

    SAFETY = 0.8
    """Fraction of the explicit diffusion limit a heat step may take."""

    SUBCELL_SHARE = 0.25
    """Share of conduction carried by relaxing particles toward their nodes (`heat_gather`)
    rather than by the grid's conductances. Measured in the Stefan test at 4 mm (melt front
    error at 0.5 / 2 s): 0.25 gives +2.9 / +1.0 % and leaves particles frozen at a −196 °C plate
    within 35 K of each other. Before the held nodes' push was rate-limited, 0 gave +1.2 / 0.0 %
    but a spread of 170 K for good, and 0.5 gave +4.1 / +1.8 %."""

    def __init__(self, model: Model, mpm: MPMSolver):
        self.model = model
        self.mpm = mpm
        # A pool or a collider conducting faster than the scene across its surface shortens the stable step.
        exchanges = [*(model.pools.numpy()["exchange"] if model.pools.shape[0] else []), *(c.exchange for c in model.colliders)]
        fastest = model.heat_transfer_scale * max([1.0, *exchanges])
        self.max_dt = self.SAFETY * thermal.diffusion_time_step(model.materials, model.grid.dx, fastest)
        """Longest heat step [s] (explicit stability)."""
        self.heat_in = 0.0
        """Heat the held surfaces (colliders, walls and baths) and the air have given the matter so far [J]."""
        self._heat_in_lanes = wp.zeros(mpm.cores, dtype=float, device=model.device)
        self._froze = wp.zeros(len(model.materials), dtype=int, device=model.device)
        self._node_held = wp.zeros(model.grid.shape, dtype=wp.vec2, device=model.device)
        """Per node of the active blocks with matter: (held temperature [°C], conduction factor; 0: free)."""
        self._node_delta = wp.zeros(model.grid.shape, dtype=wp.vec2, device=model.device)
        """Per node of the active blocks with matter: (ΔT [K] this step, β) for the gather (see `heat_exchange`)."""
        self.froze = np.zeros(len(model.materials), dtype=bool)
        """Per material: whether some of it froze in the last `advance` (its waves are stiffer)."""
        self._heater_specs = model.heater_specs
        self._heated_mass = wp.zeros(max(1, len(self._heater_specs)), dtype=float, device=model.device)

    def form_grains(self, state: State, other: State) -> None:
        """Bond the particles that start frozen to their grains, in both states."""
        m = self.model
        wp.launch(
            form_grains, dim=m.particle_count,
            inputs=[m.particle_material, m.material_data, state.x, state.phase, state.temperature, m.seed, state.bond, state.shock],
            device=m.device,
        )
        wp.copy(other.bond, state.bond)
        wp.copy(other.shock, state.shock)

    def _weigh_heated(self, state: State, time: float) -> None:
        """Weigh the mass each heater heats at `time` [s] [kg] into self._heated_mass for the gather."""
        m = self.model
        self._heated_mass.zero_()
        if not self._heater_specs:
            return
        wp.launch(
            heated_mass, dim=m.particle_count,
            inputs=[m.particle_mass, m.heaters, state.x, state.temperature, state.status, time, self._heated_mass],
            device=m.device,
        )

    def advance(self, state: State, other: State, control: Control, dt: float) -> float:
        """Conduct heat for dt [s] in as many equal steps as stability needs; returns the heat
        the held surfaces gave [J] (see `step`)."""
        count = max(1, math.ceil(dt / self.max_dt - 1e-9))
        self._froze.zero_()
        given = sum(self.step(state, other, control, dt / count) for _ in range(count))
        self.froze = self._froze.numpy() != 0
        return given

    def step(self, state: State, other: State, control: Control, dt: float) -> float:
        """Conduct heat for dt [s] (at most max_dt) in `state`, copying temperature, phase, F,
        boiled and status into `other`, with the colliders where `control` has them now;
        returns the heat the held surfaces gave [J]."""
        m, mpm = self.model, self.mpm
        mpm.activate_blocks(state)
        origin = wp.vec3(*m.grid.origin)
        inv_dx = 1.0 / m.grid.dx

        def scatter(lane: int) -> None:
            first, count = mpm.particle_ranges[lane]
            wp.launch(
                heat_scatter, dim=count,
                inputs=[m.particle_mass, m.particle_volume, m.particle_material, m.material_data, origin, inv_dx,
                        state.x, state.temperature, state.phase, state.status, mpm.grid_scatter, first, lane],
                device=m.device,
            )

        node_ranges = mpm.node_ranges()
        node_thermal = mpm.grid_velocity_mass
        lo, hi = wp.vec3(*m.domain_lo), wp.vec3(*m.domain_hi)
        with mpm.scattering():
            mpm.in_lanes(scatter, list(range(mpm.lanes)))
            mpm.in_lanes(
                lambda r: wp.launch(
                    heat_nodes, dim=r[1],
                    inputs=[mpm.grid_scatter, origin, m.grid.dx, lo, hi, m.ambient, control.colliders, m.pools, control.time,
                            mpm.active_blocks, r[0], node_thermal, self._node_held],
                    device=m.device),
                node_ranges,
            )
        self._heat_in_lanes.zero_()

        def exchange(lane: int) -> None:
            first, count = node_ranges[lane]
            wp.launch(
                heat_exchange, dim=count,
                inputs=[origin, m.grid.dx, lo, hi, m.ambient, m.air_heat_transfer, m.heat_transfer_scale, self.SUBCELL_SHARE, control.colliders, m.pools, control.time,
                        node_thermal, self._node_held, mpm.block_flags, mpm.active_blocks, first, lane, dt, self._node_delta, self._heat_in_lanes],
                device=m.device,
            )

        mpm.in_lanes(exchange, list(range(len(node_ranges))))

        def gather(lane_particles: tuple[int, tuple[int, int]]) -> None:
            lane, (first, count) = lane_particles
            wp.launch(
                heat_gather, dim=count,
                inputs=[m.particle_mass, m.particle_material, m.particle_body_device, m.material_data, m.pools, m.heaters, self._heated_mass,
                        control.time, dt, origin, inv_dx, node_thermal, self._node_delta,
                        state.x, state.temperature, state.phase, state.F, state.boiled, state.status, state.bond, state.shock,
                        other.temperature, other.phase, other.F, other.boiled, other.status, other.bond, other.shock, first, m.seed,
                        lane, self._heat_in_lanes, self._froze],
                device=m.device,
            )

        self._weigh_heated(state, control.time)
        mpm.in_lanes(gather, list(enumerate(mpm.work_ranges)))
        given = float(np.sum(self._heat_in_lanes.numpy(), dtype=np.float64))
        self.heat_in += given
        return given
