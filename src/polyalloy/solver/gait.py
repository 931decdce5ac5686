"""A walking body's legs as the kernels see them (polyalloy.walk computes the steps).

A body with legs (`GaitData.leg_length` > 0) walks by displacing the form targets of its legs:
each leg's metal below the hip joints takes its foot's step scaled by how far below the hips it
lies (0 at the hips, the whole step from the ankle down), so the foot moves with its step and
the thigh leans after it. Which leg a target belongs to is the side of the body's centre line it
lies on; targets farther out than `half_width` (the hands of an A-pose hang below the hips) are
not legs. Targets are in the body's base pose, like `GaitData.hip`.
"""

from __future__ import annotations

import warp as wp


@wp.struct
class GaitData:
    """One body's legs and where its feet are in their steps. Lengths [m], velocities [m/s]."""

    hip: wp.vec3
    """Midpoint of the hip joints in the body's base pose (world axes)."""
    lateral: wp.vec3
    """Unit vector toward the form's left (the side of step_left)."""
    leg_length: float
    """Height of the hips over the ankles; 0: the form has no legs and never steps."""
    half_width: float
    """Farthest a leg's metal lies from the centre line, along `lateral`."""
    step_left: wp.vec3
    """Displacement of the left foot from its place in the form."""
    step_right: wp.vec3
    """Displacement of the right foot from its place in the form."""
    velocity_left: wp.vec3
    """Rate of change of step_left."""
    velocity_right: wp.vec3
    """Rate of change of step_right."""


@wp.func
def gait_shift(gait: GaitData, target: wp.vec3):
    """(displacement [m], its velocity [m/s]) the walk gives a form target (base pose)."""
    zero = wp.vec3(0.0)
    if gait.leg_length <= 0.0:
        return zero, zero
    offset = target - gait.hip
    side = wp.dot(offset, gait.lateral)
    if offset[1] >= 0.0 or wp.abs(side) > gait.half_width:
        return zero, zero
    share = wp.min(-offset[1] / gait.leg_length, 1.0)
    if side > 0.0:
        return share * gait.step_left, share * gait.velocity_left
    return share * gait.step_right, share * gait.velocity_right

