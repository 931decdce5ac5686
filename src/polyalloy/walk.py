"""The walk cycle: where each foot of a walking body is, as a function of how far it has walked.

A move with `walk = true` carries a body with legs (Form.legs) along its path in steps instead
of a glide (T5: the floor's tiles "invade" the feet "with each step", fade "as the foot is
lifted" and return "as it is set down", 000). The clock of the walk is the distance travelled,
not time, so a body slowed by the cold steps more slowly too. Each foot repeats a stride of
length L: down for the STANCE share of it, when it stays where it was set while the body passes
over it (its step falls back at the body's own speed), then lifted along half a sine of height
`lift` and swung forward to its next place. The feet are half a stride apart in phase. Over the
first and last half stride the steps grow from and shrink to nothing, so the body starts and
ends standing in its form.

The steps are displacements of each foot from its place in the form (solver.gait.gait_shift
moves the legs' targets by them).
"""

from __future__ import annotations

import numpy as np

STANCE = 0.6
"""Share of a stride each foot is down: both feet are down over a tenth of the stride at each
change of foot (a walk, not a run)."""


def _envelope(travelled: float, distance: float, ramp: float) -> tuple[float, float]:
    """Share of a full step [0, 1] at `travelled` of `distance` [m], and its rate of change
    [1/m]: a smooth rise over `ramp` metres after the start and a fall over the last `ramp`."""
    from_end = min(travelled, distance - travelled)
    edge = from_end / ramp
    if edge >= 1.0 or edge <= 0.0:
        return float(np.clip(edge, 0.0, 1.0)), 0.0
    direction = 1.0 if travelled < distance - travelled else -1.0
    return edge * edge * (3.0 - 2.0 * edge), direction * 6.0 * edge * (1.0 - edge) / ramp


def _foot(phase: float, stride: float, lift: float) -> tuple[np.ndarray, np.ndarray]:
    """(forward, up) displacement [m] of a foot from its place in the form at `phase` [0, 1) of
    its stride, down and falling back through the stance, then lifted and swung forward; and
    its rate of change with the phase [m]."""
    reach = STANCE * stride
    if phase < STANCE:
        return np.array([reach * (0.5 - phase / STANCE), 0.0]), np.array([-reach / STANCE, 0.0])
    swing = (phase - STANCE) / (1.0 - STANCE)
    rate = np.pi / (1.0 - STANCE)
    return (np.array([reach * (-0.5 + 0.5 * (1.0 - np.cos(np.pi * swing))), lift * np.sin(np.pi * swing)]),
            np.array([0.5 * reach * np.sin(np.pi * swing), lift * np.cos(np.pi * swing)]) * rate)


def foot_steps(travelled: float, distance: float, heading: np.ndarray, stride: float, lift: float
               ) -> tuple[np.ndarray, np.ndarray]:
    """Displacements [m] of the left and right feet from their places in the form, shape (2, 3),
    after `travelled` of a walk of `distance` [m] toward the horizontal unit vector `heading`,
    in strides of `stride` [m] lifting each foot `lift` [m]; and their rates of change with the
    distance travelled [m/m], shape (2, 3)."""
    share, share_rate = _envelope(travelled, distance, 0.5 * stride)
    steps, rates = np.zeros((2, 3)), np.zeros((2, 3))
    for leg, lead in enumerate((0.0, 0.5)):
        (forward, up), (forward_rate, up_rate) = _foot((travelled / stride + lead) % 1.0, stride, lift)
        step = forward * heading + np.array([0.0, up, 0.0])
        steps[leg] = share * step
        rates[leg] = share_rate * step + share * (forward_rate * heading + np.array([0.0, up_rate, 0.0])) / stride
    return steps, rates
