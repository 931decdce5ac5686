"""State: the per-particle arrays that change every substep, structure of arrays on one device.

A solver step reads one State and writes another (`step(state_in, state_out, control, dt)`);
the caller swaps them. Quantities that never change during a run (mass, material, body) live in
the Model, not here.
"""

from __future__ import annotations

import numpy as np
import warp as wp

STATE_FIELDS = ("x", "v", "C", "F", "temperature", "phase", "color", "imprint", "pressed", "boiled", "status", "bond", "shock", "airborne")
"""Names of the per-particle arrays a State holds (and a checkpoint stores)."""

PRESENT = wp.constant(0)
"""Status of a particle taking part in the simulation."""

EVAPORATED = wp.constant(1)
"""Status of a particle that has boiled away: out of the simulation, its mass counted as evaporated."""

DISSOLVED = wp.constant(2)
"""Status of a body's particle a pool has dissolved: out of the simulation, its mass counted as dissolved."""

PENDING = wp.constant(3)
"""Status of an emitter's particle not yet poured: it joins the simulation at its batch's time."""


class State:
    """Per-particle simulation state on one Warp device."""

    def __init__(self, particle_count: int, device: str):
        self.particle_count = particle_count
        self.device = device
        self.x = wp.zeros(particle_count, dtype=wp.vec3, device=device)
        """Particle positions [m], shape (particle_count,)."""
        self.v = wp.zeros(particle_count, dtype=wp.vec3, device=device)
        """Particle velocities [m/s], shape (particle_count,)."""
        self.C = wp.zeros(particle_count, dtype=wp.mat33, device=device)
        """APIC affine velocity field, an estimate of the velocity gradient [1/s], shape (particle_count,)."""
        self.F = wp.zeros(particle_count, dtype=wp.mat33, device=device)
        """Elastic deformation gradient [-], shape (particle_count,); for liquids diag(J, 1, 1),
        J the volume ratio (a liquid keeps no shape)."""
        self.temperature = wp.zeros(particle_count, dtype=float, device=device)
        """Particle temperatures [°C], shape (particle_count,)."""
        self.phase = wp.zeros(particle_count, dtype=float, device=device)
        """Liquid fraction [-] (0 frozen … 1 liquid), shape (particle_count,)."""
        self.color = wp.zeros(particle_count, dtype=wp.vec3, device=device)
        """Particle colours, linear RGB in [0, 1], shape (particle_count,)."""
        self.imprint = wp.zeros(particle_count, dtype=float, device=device)
        """How deep a glitching body's contact colour has sunk into each particle [s]: how long
        the contact that last pressed it lasted, or the deepest of a contact that has tinted it
        since, up to polyalloy.glitch.IMPRINT_SET_TIME; a patch newly pressed starts it again, a
        new form or the end of the glitch clears it; shape (particle_count,)."""
        self.pressed = wp.zeros(particle_count, dtype=int, device=device)
        """1 where a glitching body's particle was pressed to a surface at the last frame's end
        (polyalloy.glitch), else 0; shape (particle_count,)."""
        self.boiled = wp.zeros(particle_count, dtype=float, device=device)
        """Fraction of each particle's mass boiled off [-] (0 … 1), shape (particle_count,)."""
        self.bond = wp.zeros(particle_count, dtype=float, device=device)
        """Tensile strength of each frozen particle's bonds [Pa] (polyalloy.fracture); 0 where
        they have broken or the particle is not frozen, shape (particle_count,)."""
        self.shock = wp.zeros(particle_count, dtype=float, device=device)
        """Thermal-shock strain energy each frozen particle stores [J per m³ of its rest volume]
        (polyalloy.fracture): it follows the undercooling while bonded and is released once broken,
        shape (particle_count,)."""
        self.airborne = wp.zeros(particle_count, dtype=int, device=device)
        """1 while a shard of a shattered body flies free of the grid (polyalloy.shatter), else 0,
        shape (particle_count,)."""
        self.status = wp.zeros(particle_count, dtype=int, device=device)
        """PRESENT, EVAPORATED, DISSOLVED or PENDING per particle, shape (particle_count,). A particle that is no
        longer present keeps its slot (arrays never change size) but no stage touches it."""

    def to_numpy(self) -> dict[str, np.ndarray]:
        """Every state array copied to the host, keyed by STATE_FIELDS."""
        return {name: getattr(self, name).numpy() for name in STATE_FIELDS}

    def assign(self, arrays: dict[str, np.ndarray]) -> None:
        """Overwrite the state from host arrays keyed by STATE_FIELDS (e.g. from a checkpoint)."""
        for name in STATE_FIELDS:
            array = getattr(self, name)
            if name in ("imprint", "pressed") and name not in arrays:
                # A checkpoint written before imprints had depth: none has sunk in.
                array.zero_()
                continue
            array.assign(np.ascontiguousarray(arrays[name], dtype=np.int32 if array.dtype == wp.int32 else np.float32))

    def copy_from(self, other: "State") -> None:
        """Copy every array of `other` into this state (same device and size)."""
        for name in STATE_FIELDS:
            wp.copy(getattr(self, name), getattr(other, name))
