"""Brittle fracture of frozen metal: grains formed on freezing, held by bonds that break.

notes/fracture.md measured why a per-particle damage rule with one strength everywhere does not
crack but melts: failure does not concentrate, and the frozen man turns into hundreds of liquid
droplets and 0–3 real pieces. Here the metal is pre-fractured as it freezes, as glue-bonded
Voronoi grains are in VFX (Houdini's glue constraints) and in Wretborn et al. 2017:

- A particle that freezes at x joins the grain of the nearest of a set of seeds, one at a
  hashed random point in each cube of a GRAIN_SIZE lattice (a Voronoi tessellation that needs
  no storage and is the same on any device).
- Particles in a SEAM_WIDTH-wide seam along a grain boundary get SEAM_STRENGTH (1/30) of the
  material's frozen strength, the others all of it: cracks run along the seams and leave the
  grains whole, so a shattered body is shards, not droplets.
- A particle breaks for good when its largest principal stress exceeds its strength; broken,
  it is rubble, a cohesionless granular solid: no tension, and shear only as friction on its
  pressure allows (constitutive.broken_stress, rubble_project: Drucker–Prager at
  materials.RUBBLE_FRICTION_ANGLE). Breaking swaps the neo-Hookean energy of a particle's strain
  for the rubble's Hencky energy of it, no more at strains within ±10 % (up to ~5 % more at 20 %,
  which a 10 m/s impact reaches), and the rubble's plastic flow only dissipates: a test checks
  that the total never rises.

What throws the shards far is thermal shock (notes/fracture.md: a shot's momentum alone moves
them little). Metal quenched below its melting point contracts against the warmer metal around
it and locks in a strain ε ≈ α ΔT: ½ E_real (α ΔT)² of energy per m³, 2.3e5 J/m³ for the alloy
taken 120 K below freezing, 8 m/s if it all became motion. The scaled-down frozen moduli
cannot hold that as strain (ε would be 0.2), so each frozen particle carries it as a number,
`shock` [J/m³], following its undercooling while bonded (thawing relaxes it). A shot releases
it: polyalloy.shatter.
"""

from __future__ import annotations

import warp as wp

from .solver.constitutive import MaterialData

GRAIN_SIZE = wp.constant(0.08)
"""Edge of the lattice cube holding one grain seed [m]: grains of ~8 cm, so a 0.075 m³ man
holds ~150 of them (T2 wants ≥ 100 shards)."""

SEAM_WIDTH = wp.constant(0.01)
"""Width of the weak seam along each grain boundary [m], a particle spacing at 2 cm cells.
Voronoi boundaries have ~2.9/GRAIN_SIZE of area per volume, so seams hold ~35 % of the metal."""

SEAM_STRENGTH = wp.constant(1.0 / 30.0)
"""Strength of a seam particle as a fraction of the material's frozen strength."""

@wp.func
def grain_seed(cell: wp.vec3i, seed: int):
    """The grain seed of lattice cube `cell` [m]: a hashed random point inside it."""
    state = wp.rand_init(seed, cell[0] * 73856093 + cell[1] * 19349663 + cell[2] * 83492791)
    jitter = wp.vec3(wp.randf(state), wp.randf(state), wp.randf(state))
    return (wp.vec3(float(cell[0]), float(cell[1]), float(cell[2])) + jitter) * GRAIN_SIZE


@wp.func
def grain_cell(x: wp.vec3):
    """The GRAIN_SIZE lattice cube holding x [m]."""
    return wp.vec3i(int(wp.floor(x[0] / GRAIN_SIZE)), int(wp.floor(x[1] / GRAIN_SIZE)), int(wp.floor(x[2] / GRAIN_SIZE)))


@wp.func
def nearest_seed(x: wp.vec3, seed: int):
    """The grain seed [m] nearest to x: x lies in its grain (Voronoi cell)."""
    home = grain_cell(x)
    nearest = wp.vec3(0.0)
    nearest_d2 = float(1.0e30)
    for a in range(-1, 2):
        for b in range(-1, 2):
            for c in range(-1, 2):
                s = grain_seed(home + wp.vec3i(a, b, c), seed)
                d2 = wp.length_sq(x - s)
                if d2 < nearest_d2:
                    nearest_d2 = d2
                    nearest = s
    return nearest


@wp.func
def seam_distance(x: wp.vec3, seed: int):
    """Distance [m] from x to the nearest boundary between its grain and a neighbouring one."""
    home = grain_cell(x)
    nearest = nearest_seed(x, seed)
    nearest_d2 = wp.length_sq(x - nearest)
    # Distance to the bisecting plane between the nearest seed and each other one.
    seam = float(1.0e30)
    for a in range(-1, 2):
        for b in range(-1, 2):
            for c in range(-1, 2):
                s = grain_seed(home + wp.vec3i(a, b, c), seed)
                gap = wp.length(s - nearest)
                if gap > 1.0e-9:
                    seam = wp.min(seam, (wp.length_sq(x - s) - nearest_d2) / (2.0 * gap))
    return seam


@wp.func
def bond_strength(x: wp.vec3, strength: float, seed: int):
    """Tensile strength [Pa] a particle freezing at x [m] gets: `strength` inside a grain,
    SEAM_STRENGTH of it in a seam."""
    if seam_distance(x, seed) < 0.5 * SEAM_WIDTH:
        return SEAM_STRENGTH * strength
    return strength


@wp.func
def shock_energy(mat: MaterialData, temperature: float):
    """Thermal-shock strain energy [J/m³] bonded frozen metal at `temperature` [°C] holds,
    ½ E_real (α (T_m − T))²."""
    undercooling = wp.max(mat.melting_point - temperature, 0.0)
    return mat.shock_energy_per_kelvin2 * undercooling * undercooling
