"""Control: the inputs that change during a run — for now the poses of kinematic colliders.

Events of later issues (form targets, authority overrides) join here. The solver reads a
Control; only host code writes it, once per substep for moving colliders (a handful of structs,
never per-particle data).
"""

from __future__ import annotations

import warp as wp

from .model import Model
from .solver.colliders import ColliderData


class Control:
    """Time-dependent inputs of a step."""

    def __init__(self, model: Model):
        self._model = model
        self._moving = [i for i, motion in enumerate(model.collider_motions) if motion is not None]
        self.time = 0.0
        """Time [s] the control was last set for."""
        self.colliders = wp.array(model.colliders, dtype=ColliderData, device=model.device)
        """Colliders at their pose at `time`, shape (collider_count,)."""

    @property
    def has_moving_colliders(self) -> bool:
        return bool(self._moving)

    def set_time(self, time: float) -> None:
        """Move kinematic colliders to their pose at `time` [s]."""
        self.time = time
        if not self._moving:
            return
        colliders = []
        for i, rest in enumerate(self._model.colliders):
            # A fresh struct per collider: copying a wp.struct shares its storage, and the
            # Model's colliders must stay at their rest pose.
            collider = ColliderData()
            for field in ("shape", "boundary", "friction", "origin", "rotation", "velocity", "angular_velocity", "params", "mesh"):
                setattr(collider, field, getattr(rest, field))
            if i in self._moving:
                origin, rotation, velocity, angular_velocity = self._model.collider_motions[i](time)
                collider.origin = wp.vec3(*origin)
                collider.rotation = wp.quat(*rotation)
                collider.velocity = wp.vec3(*velocity)
                collider.angular_velocity = wp.vec3(*angular_velocity)
            colliders.append(collider)
        self.colliders = wp.array(colliders, dtype=ColliderData, device=self._model.device)
