"""Control: the inputs that change during a run — colliders' poses and each body's will.

A mimetic body wills every particle toward a target point of its current form (the form's
points assigned one-to-one to the particles, in the body's base pose) moved by the body's
pose offset; how strongly is its authority in [0, 1]. Events change the form (new targets),
the pose (a move) or the authority. Only host code writes a Control, never per particle in
Python: targets are uploaded whole when a form changes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import warp as wp

from .mimicry import Legs, rotation_y
from .model import Model
from .solver.colliders import ColliderData
from .solver.gait import GaitData
from .solver.kernels import WILL_FORM, WILL_HOLD, walked_targets
from .walk import foot_steps


@dataclass
class PoseMove:
    """A straight move of a body's form from one offset to another over [start, stop] s, delayed
    by the time its body has lost to the cold (`lag`): a freezing body slows and stiffens."""

    start: float
    stop: float
    origin: np.ndarray
    """Offset at `start` [m]."""
    destination: np.ndarray
    """Offset at `stop` [m]."""
    lag: float = 0.0
    """Time the move has stood still so far [s] (Control.set_time: it advances at its body's
    pace), so it ends this much after `stop`."""
    stride: float = 0.0
    """Length of the body's walking stride [m] (polyalloy.walk); 0: it glides."""
    lift: float = 0.0
    """Height each foot is lifted as it swings forward [m]."""

    def offset(self, time: float) -> tuple[np.ndarray, np.ndarray]:
        """Offset [m] and its rate of change at full pace [m/s] at `time` [s]."""
        time = time - self.lag
        if self.stop <= self.start or time >= self.stop:
            return self.destination, np.zeros(3)
        if time < self.start:
            return self.origin, np.zeros(3)
        s = np.clip((time - self.start) / (self.stop - self.start), 0.0, 1.0)
        return self.origin + s * (self.destination - self.origin), (self.destination - self.origin) / (self.stop - self.start)

    def steps(self, offset: np.ndarray, rate: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The feet's steps [m] (left, right; shape (2, 3)) and their velocities [m/s] with the
        body at `offset` [m] moving at `rate` [m/s]; zero for a glide."""
        path = self.destination - self.origin
        heading = np.array([path[0], 0.0, path[2]])
        distance = float(np.linalg.norm(heading))
        if self.stride <= 0.0 or distance < 1.0e-9:
            return np.zeros((2, 3)), np.zeros((2, 3))
        heading /= distance
        # The feet step over the ground: the walk's clock is the distance covered along it.
        travelled = float(np.clip((offset - self.origin) @ heading, 0.0, distance))
        steps, rates = foot_steps(travelled, distance, heading, self.stride, self.lift)
        return steps, rates * float(rate @ heading)


REFORM_NONE, REFORM_SHATTERED, REFORM_GATHER, REFORM_RISE = 0, 1, 2, 3
"""Stages of a body's re-forming after a shatter (polyalloy.reform): none; shattered, waiting
for its will; gathering its drops; rising."""

THERMAL_GLITCH = 0.8
"""Glitch level a willed body keeps after losing its whole will to temperature (frozen through)."""

WILL_LIMIT_FADE_FROM = 0.85
"""Frozen share of a body [0, 1] from which its will fades and the net force of what is left is
limited (kernels.will_excess)."""

WILL_LIMIT_FROZEN_SHARE = 0.95
"""Frozen share of a body [0, 1] from which it has no will at all (BEHAVIOURS T1: frozen
≥ 0.95 with authority 0). From WILL_LIMIT_FADE_FROM its will's strength falls linearly to none
here, and the net force of what is left is limited more and more, to kernels.WILL_FORCE_RATIO
times the weight of the liquid bearing it. Frozen metal has no will, so its weight is nobody's
to bear; but the will pulls each liquid particle at up to its max_acceleration and the grid hands
the pull on to the frozen metal around it, so a tenth of a body left liquid carried the rest
(benchmarks/study_will_lift.py: a frozen cube's liquid 9 % bore 0.37 of its weight) and at a
2 cm cell lifted a frozen man off the floor. Limited alone, a frozen man's last liquid, a
1 kg drop in his heap at a 2 cm cell, still lifted itself toward his head's target and, in warm
air away from the nitrogen, never froze (0.997 frozen, authority 0.003 when he was shot). The
fade comes late, over the last tenth of the freeze, because the liquid's lift is what holds a
freezing man up in the pouring nitrogen that freezes him (limited from the start of the freeze
he fell out of the pour and froze slowly: 0.81 at 3.0 s against 0.94)."""


class Control:
    """Time-dependent inputs of a step."""

    def __init__(self, model: Model, initial_positions: np.ndarray, initial_colors: np.ndarray):
        device = model.device
        self._model = model
        self._moving = [i for i, motion in enumerate(model.collider_motions) if motion is not None]
        self.time = 0.0
        """Time [s] the control was last set for."""
        self.colliders = wp.array(model.colliders, dtype=ColliderData, device=device)
        """Colliders at their pose at `time`, shape (collider_count,)."""
        self.targets = wp.array(np.asarray(initial_positions, dtype=np.float32), dtype=wp.vec3, device=device)
        """Each particle's target in its body's base pose [m], shape (particle_count,); a body
        starts holding the form it was sampled from."""
        bodies = model.bodies
        self._willed = np.array([b.control for b in bodies], dtype=bool)
        """Which bodies have a will (host, fixed by the scene)."""
        self.authority = self._willed.astype(np.float32)
        """Each body's authority over its particles [0, 1] (host copy): the fraction of its will's
        gain, pull bound and gravity compensation it can exert now."""
        self.trauma = np.zeros(len(bodies))
        """Trauma each body has accumulated so far [authority units]; it slows the recovery."""
        self.thermal_share = np.ones(len(bodies), dtype=np.float32)
        """Mass-weighted share of each body's will its particles' temperature leaves them [0, 1]
        (host), set each frame from its particles: their liquid fraction times their heat fade."""
        self.heat_share = np.ones(len(bodies), dtype=np.float32)
        """Share of each body's will its heat alone leaves it [0, 1] (host), set each frame."""
        self.form_colors = wp.array(np.asarray(initial_colors, dtype=np.float32), dtype=wp.vec3, device=device)
        """Each particle's colour in its body's current form (RGB in [0, 1]), which the body
        wills its colour back to (particle count,)."""
        self.camouflage = np.full(len(bodies), -1, dtype=np.int32)
        """Per body: the collider it camouflages on, or -1 (host)."""
        self.body_camouflage = wp.array(self.camouflage, dtype=int, device=device)
        """The same on the device."""
        self.glitch = np.zeros(len(bodies), dtype=np.float32)
        """Each body's glitch level in [0, 1] (host): how involuntary its contact colours are."""
        self.body_glitch = wp.zeros(len(bodies), dtype=float, device=device)
        """The same on the device."""
        self.hold_mask = np.zeros(model.particle_count, dtype=bool)
        """Particles of pieces left behind (host): they hold their shape where they are, their
        target a fixed world point, until the body reaches them again (polyalloy.reach)."""
        self.home_targets = np.zeros((model.particle_count, 3), dtype=np.float32)
        """For held particles, the form target (base pose) [m] they return to on rejoining."""
        self.hold_velocity = wp.zeros(model.particle_count, dtype=wp.vec3, device=device)
        """For held particles, their piece's mean downward velocity at `hold_epoch` [m/s]: the
        piece keeps its shape about a centre that falls freely."""
        self.hold_epoch = 0.0
        """Time [s] the held targets were last moved to their pieces."""
        self.will_mode = wp.full(model.particle_count, int(WILL_FORM), dtype=int, device=device)
        """Per particle: WILL_FORM (pulled to its form target at the body's pose) or WILL_HOLD
        (to its fixed world target), on the device."""
        self.body_authority = wp.array(self.effective_authority, dtype=float, device=device)
        """Effective authority per body on the device, shape (body_count,)."""
        self.body_will = wp.array(self._will_strengths(), dtype=float, device=device)
        """What each body's will pulls its particles with [0, 1], shape (body_count,): authority
        times its heat share and its cold fade; each particle feels this times its own share (its
        liquid fraction, its own heat fade: kernels.will_share). Until the body is nearly frozen
        through, the cold weakens only the metal it freezes, so the liquid legs of a man freezing
        from the head down keep their whole will; over-heating weakens the whole body (the dying
        T-1000 loses his grip on every form at once)."""
        self.will_limit = np.zeros(len(bodies), dtype=np.float32)
        """How far each body's will's net force is limited [0, 1] (host), set each frame from its
        frozen share: 0 below WILL_LIMIT_FADE_FROM, 1 from WILL_LIMIT_FROZEN_SHARE."""
        self.body_will_limit = wp.zeros(len(bodies), dtype=float, device=device)
        """The same on the device, shape (body_count,)."""
        self.gains = np.array([b.gain for b in bodies], dtype=np.float32)
        """Stiffness of each body's will now [1/s²] (host): its own, or softer while it gathers its
        drops (polyalloy.reform)."""
        self.body_gain = wp.array(self.gains, dtype=float, device=device)
        """The same on the device, shape (body_count,)."""
        self.body_max_acceleration = wp.array([b.max_acceleration for b in bodies], dtype=float, device=device)
        """Bound of each body's pull [m/s²], shape (body_count,)."""
        self.offsets = np.zeros((len(bodies), 3))
        """Each body's pose offset from its base pose [m] (host copy)."""
        self.body_offset = wp.zeros(len(bodies), dtype=wp.vec3, device=device)
        """Pose offsets on the device [m], shape (body_count,)."""
        self.body_offset_velocity = wp.zeros(len(bodies), dtype=wp.vec3, device=device)
        """Rate of change of the pose offsets [m/s], shape (body_count,)."""
        self.leg_frames = np.zeros((len(bodies), 10))
        """The legs of each body's current form (host; Events sets them, set_legs): hip
        midpoint (3) [m] and the form's left (3) in the base pose, world axes; leg length, half
        width, stride and lift [m] (Form.legs). All 0 for a form without legs."""
        self.steps = np.zeros((len(bodies), 2, 6))
        """Per body and foot (left, right): its step [m] (3) and the step's velocity [m/s] (3)."""
        self.gaits = wp.empty(len(bodies), dtype=GaitData, device=device)
        """The same on the device (solver.gait), shape (body_count,)."""
        self._upload_gaits()
        self.forms = [b.form_name for b in bodies]
        """Each body's current form (host)."""
        self.turns = np.zeros(len(bodies))
        """How far each body's form has been turned about its vertical axis by flips [degrees],
        on top of the body's rotation."""
        self.library = [list(b.library) for b in bodies]
        """Forms each body has sampled so far (host): its starting library, then what it touched."""
        self.throes_start = np.full(len(bodies), np.nan)
        """Time each body's death throes began [s] (polyalloy.throes); NaN before."""
        self.throes_stage = np.full(len(bodies), -1, dtype=np.int64)
        """Index of the death-throes form each body was last sent to; -1 before the first."""
        self.reform_stage = np.zeros(len(bodies), dtype=np.int64)
        """Each body's stage of re-forming after a shatter (REFORM_NONE … REFORM_RISE)."""
        self.reform_standing = np.zeros((len(bodies), 3))
        """Pose offset [m] at which a re-forming body's form stands on the floor again."""
        self.reform_form = ["" for _ in bodies]
        """The form each re-forming body rises as once its drops have gathered ("" if none)."""
        self.reform_since = np.zeros(len(bodies))
        """Time each re-forming body began its stage of re-forming (gathering, rising) [s]."""
        self._moves: dict[int, PoseMove] = {}

    @property
    def has_moving_colliders(self) -> bool:
        return bool(self._moving)

    def set_body_targets(self, body: int, targets: np.ndarray) -> None:
        """Replace a body's form targets (base pose, [m], shape (its particle count, 3)); a held
        particle keeps its world target and returns to its new form target on rejoining."""
        sl = self._model.bodies[body].particle_slice
        full = self.targets.numpy()
        held = self.hold_mask[sl]
        self.home_targets[sl][held] = targets[held]
        full[sl][~held] = targets[~held]
        self.targets.assign(full)

    def set_body_form_colors(self, body: int, colors: np.ndarray) -> None:
        """Set the colours of a body's particles in its current form (RGB, (its count, 3))."""
        sl = self._model.bodies[body].particle_slice
        wp.copy(self.form_colors, wp.array(np.asarray(colors, dtype=np.float32), dtype=wp.vec3, device=self.form_colors.device),
                dest_offset=sl.start, count=sl.stop - sl.start)

    def set_camouflage(self, body: int, collider: int) -> None:
        """Let `body` take the colours of collider `collider` where it lies on it (-1: stop)."""
        self.camouflage[body] = collider
        self.body_camouflage.assign(self.camouflage)

    def set_gain(self, body: int, gain: float) -> None:
        """Set the stiffness of a body's will [1/s²]."""
        self.gains[body] = gain
        self.body_gain.assign(self.gains)

    def set_glitch(self, body: int, level: float) -> None:
        """Set a body's glitch level (0..1)."""
        self.glitch[body] = level
        self.body_glitch.assign(self.glitch)

    def form_targets(self, body: int) -> np.ndarray:
        """A body's form targets (base pose) [m], (its particle count, 3), held particles' included."""
        sl = self._model.bodies[body].particle_slice
        targets = self.targets.numpy()[sl]
        held = self.hold_mask[sl]
        targets[held] = self.home_targets[sl][held]
        return targets

    def walked_targets(self, body: int, targets: np.ndarray) -> np.ndarray:
        """A body's form targets `targets` (base pose) [m], (its particle count, 3), moved by its
        walk now (solver.gait)."""
        sl = self._model.bodies[body].particle_slice
        device = self.targets.device
        walked = wp.empty(len(targets), dtype=wp.vec3, device=device)
        wp.launch(
            walked_targets, dim=len(targets),
            inputs=[wp.array(np.asarray(targets, dtype=np.float32), dtype=wp.vec3, device=device),
                    self._model.particle_body_device[sl.start:sl.stop], self.gaits, walked],
            device=device,
        )
        return walked.numpy()

    def hold(self, particles: np.ndarray, world_points: np.ndarray) -> None:
        """Hold `particles` (indices) at `world_points` [m] instead of their form targets."""
        full = self.targets.numpy()
        self.home_targets[particles] = full[particles]
        full[particles] = world_points
        self.hold_mask[particles] = True
        self.targets.assign(full)
        self._upload_modes()

    def follow(self, particles: np.ndarray, positions: np.ndarray, velocities: np.ndarray, pieces: np.ndarray,
               time: float) -> None:
        """Move held particles' targets with their pieces at `time` [s]: each piece's targets
        are shifted so their centroid is the piece's centroid and move on at the piece's mean
        downward velocity (`positions` [m], `velocities` [m/s] and piece labels `pieces` of
        `particles`): it keeps its shape and falls, but does not slide or climb by itself."""
        full = self.targets.numpy()
        counts = np.bincount(pieces).astype(float)
        present = counts > 0
        shift = np.zeros((len(counts), 3))
        mean_velocity = np.zeros((len(counts), 3))
        for axis in range(3):
            shift[present, axis] = (np.bincount(pieces, positions[:, axis]) - np.bincount(pieces, full[particles, axis]))[present] / counts[present]
            mean_velocity[present, axis] = np.bincount(pieces, velocities[:, axis])[present] / counts[present]
        full[particles] += shift[pieces].astype(np.float32)
        self.targets.assign(full)
        # It keeps falling as it falls, but has no will to slide or climb: only a downward
        # mean velocity is followed, the rest is damped away. (Following an upward one let a
        # piece bouncing off a roof climb higher each time: the targets, moving on at the
        # frame's start velocity, ran ahead of a piece slowing under gravity and pulled it up.)
        down = self._model.gravity / max(float(np.linalg.norm(self._model.gravity)), 1e-12)
        falling = np.maximum(mean_velocity @ down, 0.0)[:, None] * down
        hold_velocity = np.zeros((len(full), 3), dtype=np.float32)
        hold_velocity[particles] = falling[pieces]
        self.hold_velocity.assign(hold_velocity)
        self.hold_epoch = time

    @property
    def hold_elapsed(self) -> float:
        """Seconds since the held targets were last moved to their pieces."""
        return self.time - self.hold_epoch

    def release(self, particles: np.ndarray) -> None:
        """Return held `particles` (indices) to their form targets."""
        full = self.targets.numpy()
        full[particles] = self.home_targets[particles]
        self.hold_mask[particles] = False
        self.targets.assign(full)
        self._upload_modes()

    def restore_holds(self, hold_mask: np.ndarray, home_targets: np.ndarray) -> None:
        """Undo the held pieces' part of a checkpoint (see Simulation.checkpoint_arrays)."""
        self.hold_mask = np.asarray(hold_mask, dtype=bool).copy()
        self.home_targets = np.asarray(home_targets, dtype=np.float32).copy()
        self._upload_modes()

    def _upload_modes(self) -> None:
        self.will_mode.assign(np.where(self.hold_mask, int(WILL_HOLD), int(WILL_FORM)).astype(np.int32))

    @property
    def frozen_share(self) -> np.ndarray:
        """Each willed body's frozen share [0, 1], 1 − thermal share / heat share (0 for a body
        without will or boiling away)."""
        frozen = 1.0 - self.thermal_share / np.maximum(self.heat_share, np.float32(1e-6))
        return np.where(self._willed & (self.heat_share > 0.0), frozen, 0.0).astype(np.float32)

    @property
    def cold_fade(self) -> np.ndarray:
        """Share of its will a freezing body keeps [0, 1]: all of it below WILL_LIMIT_FADE_FROM
        frozen, none from WILL_LIMIT_FROZEN_SHARE."""
        band = WILL_LIMIT_FROZEN_SHARE - WILL_LIMIT_FADE_FROM
        return np.clip((WILL_LIMIT_FROZEN_SHARE - self.frozen_share) / band, 0.0, 1.0).astype(np.float32)

    @property
    def thermal_will(self) -> np.ndarray:
        """Share of each body's will its temperature leaves it [0, 1]: its thermal share times its
        cold fade. A frozen or boiling alloy has no will."""
        return (self.thermal_share * self.cold_fade).astype(np.float32)

    @property
    def effective_authority(self) -> np.ndarray:
        """What each body's will can exert now [0, 1]: its authority times its thermal will."""
        return (self.authority * self.thermal_will).astype(np.float32)

    def set_thermal_share(self, shares: np.ndarray, heat_shares: np.ndarray) -> None:
        """Each body's thermal share of its will [0, 1] now (polyalloy.thermal.will_share).
        Freezing, or over-heating, hurts a willed body for good: its glitch level rises to
        THERMAL_GLITCH times the largest share of its will it has lost to temperature (T5:
        after the freeze it glitches)."""
        shares = np.asarray(shares, dtype=np.float32)
        heat_shares = np.asarray(heat_shares, dtype=np.float32)
        if np.any(shares != self.thermal_share) or np.any(heat_shares != self.heat_share):
            self.thermal_share = shares
            self.heat_share = heat_shares
            self._upload_authority()
        self._upload_will_limit()
        thermal_will = self.thermal_will
        for b, body in enumerate(self._model.bodies):
            scar = THERMAL_GLITCH * (1.0 - float(thermal_will[b]))
            if body.control and scar > self.glitch[b]:
                self.set_glitch(b, scar)

    def _upload_will_limit(self) -> None:
        """Set will_limit from each body's frozen share."""
        limit = (1.0 - self.cold_fade).astype(np.float32)
        if np.any(limit != self.will_limit):
            self.will_limit = limit
            self.body_will_limit.assign(limit)

    def set_authority(self, authority: float | np.ndarray) -> None:
        """Set every body's authority [0, 1] (or each body's, from an array) and upload it."""
        self.authority[:] = authority
        self._upload_authority()

    def _will_strengths(self) -> np.ndarray:
        """body_will's values: each body's authority × heat share × cold fade."""
        return (self.authority * self.heat_share * self.cold_fade).astype(np.float32)

    def _upload_authority(self) -> None:
        self.body_authority.assign(self.effective_authority)
        self.body_will.assign(self._will_strengths())

    def traumatise(self, body: int, amount: float) -> None:
        """A shock to a willed body: it loses `amount` of authority (not below 0) and the trauma
        is remembered, so every later recovery is slower."""
        if not self._model.bodies[body].control:
            return
        self.authority[body] = max(0.0, float(self.authority[body]) - amount)
        self.trauma[body] += amount
        self._upload_authority()

    def recover(self, duration: float) -> None:
        """Let every willed body regain authority over `duration` [s] at its recovery rate
        divided by (1 + its accumulated trauma): healing slows as its power wanes (D1)."""
        before = self.authority.copy()
        for b, body in enumerate(self._model.bodies):
            if body.control:
                rate = body.recovery / (1.0 + self.trauma[b])
                self.authority[b] = min(1.0, float(self.authority[b]) + rate * duration)
        if np.any(self.authority != before):
            self._upload_authority()

    def heading(self, body: int) -> float:
        """Rotation of a body's current form about its vertical axis [degrees]."""
        return float(self._model.bodies[body].rotation_y + self.turns[body])

    def move_body(self, body: int, destination_offset: np.ndarray, start: float, duration: float,
                  walk: bool = False, stride: float | None = None) -> bool:
        """Move a body's form from its current offset to `destination_offset` [m] over `duration` [s],
        walking (in strides of `stride` [m], or its legs' own) if asked and its form has legs.
        Returns whether it walks."""
        walks = walk and self.leg_frames[body, 6] > 0.0
        own_stride, lift = self.leg_frames[body, 8:]
        self._moves[body] = PoseMove(
            start, start + duration, self.offsets[body].copy(), np.asarray(destination_offset, dtype=float),
            stride=float(stride or own_stride) if walks else 0.0, lift=float(lift) if walks else 0.0)
        if self.steps[body].any():
            # A new move starts from the form's stance: the feet of a walk it cuts short are set down.
            self.steps[body] = 0.0
            self._upload_gaits()
        return bool(walks)

    def set_legs(self, body: int, legs: Legs | None, position: np.ndarray, heading: float) -> None:
        """Give a body the legs of its current form (None: it has none), the form placed at
        `position` [m] and turned `heading` degrees about its vertical axis."""
        self.leg_frames[body] = 0.0
        if legs is not None:
            # Row vectors: R·local is local @ Rᵀ.
            rotation = rotation_y(heading)
            self.leg_frames[body, :3] = np.asarray(position, dtype=float) + legs.hip @ rotation.T
            self.leg_frames[body, 3:6] = np.array([1.0, 0.0, 0.0]) @ rotation.T
            self.leg_frames[body, 6:] = legs.leg_length, legs.half_width, legs.stride, legs.lift
        self._upload_gaits()

    def _upload_gaits(self) -> None:
        gaits = []
        for frame, steps in zip(self.leg_frames, self.steps):
            # A fresh struct per body: copying a wp.struct shares its storage.
            gait = GaitData()
            gait.hip, gait.lateral = wp.vec3(*frame[:3]), wp.vec3(*frame[3:6])
            gait.leg_length, gait.half_width = float(frame[6]), float(frame[7])
            gait.step_left, gait.velocity_left = wp.vec3(*steps[0, :3]), wp.vec3(*steps[0, 3:])
            gait.step_right, gait.velocity_right = wp.vec3(*steps[1, :3]), wp.vec3(*steps[1, 3:])
            gaits.append(gait)
        self.gaits = wp.array(gaits, dtype=GaitData, device=self.gaits.device)

    def move_stop(self, body: int) -> float:
        """Time [s] a body's current move ends; -inf if it is not moving."""
        move = self._moves.get(body)
        return move.stop + move.lag if move is not None else -np.inf

    def snapshot(self) -> tuple[np.ndarray, dict]:
        """The will's state for a checkpoint: targets (array) and forms, offsets, moves (JSON)."""
        moves = {str(b): [m.start, m.stop, m.origin.tolist(), m.destination.tolist(), m.lag, m.stride, m.lift]
                 for b, m in self._moves.items()}
        return self.targets.numpy(), {
            "forms": list(self.forms), "offsets": self.offsets.tolist(), "moves": moves,
            "authority": self.authority.tolist(), "trauma": self.trauma.tolist(), "library": self.library,
            "turns": self.turns.tolist(), "camouflage": self.camouflage.tolist(),
            "glitch": self.glitch.tolist(), "thermal_share": self.thermal_share.tolist(),
            "heat_share": self.heat_share.tolist(), "leg_frames": self.leg_frames.tolist(),
            "throes_start": [None if np.isnan(t) else float(t) for t in self.throes_start],
            "throes_stage": self.throes_stage.tolist(),
            "reform_stage": self.reform_stage.tolist(), "reform_standing": self.reform_standing.tolist(),
            "reform_form": list(self.reform_form), "reform_since": self.reform_since.tolist(), "gains": self.gains.tolist(),
        }

    def restore(self, targets: np.ndarray, data: dict, time: float) -> None:
        """Undo `snapshot()` output at `time` [s]."""
        self.targets.assign(np.asarray(targets, dtype=np.float32))
        self.forms = list(data["forms"])
        self.offsets = np.asarray(data["offsets"], dtype=float).reshape(-1, 3)
        # Checkpoints written before moves slowed in the cold have no lag, before walks no stride.
        self._moves = {int(b): PoseMove(m[0], m[1], np.asarray(m[2]), np.asarray(m[3]), *m[4:]) for b, m in data["moves"].items()}
        self.body_offset.assign(self.offsets.astype(np.float32))
        self.authority = np.asarray(data["authority"], dtype=np.float32)
        self.trauma = np.asarray(data["trauma"], dtype=float)
        self.thermal_share = np.asarray(data["thermal_share"], dtype=np.float32)
        self.heat_share = np.asarray(data.get("heat_share", np.ones(len(self.forms))), dtype=np.float32)
        self.library = [list(forms) for forms in data["library"]]
        self.turns = np.asarray(data["turns"], dtype=float)
        self.camouflage = np.asarray(data["camouflage"], dtype=np.int32)
        self.glitch = np.asarray(data["glitch"], dtype=np.float32)
        self.throes_start = np.array([np.nan if t is None else t for t in data["throes_start"]], dtype=float)
        self.throes_stage = np.asarray(data["throes_stage"], dtype=np.int64)
        # Checkpoints written before re-forming existed have no re-forming body.
        self.reform_stage = np.asarray(data.get("reform_stage", np.zeros(len(self.forms))), dtype=np.int64)
        self.reform_standing = np.asarray(data.get("reform_standing", np.zeros((len(self.forms), 3))), dtype=float).reshape(-1, 3)
        # Checkpoints written before the pool gather: a body then gathered in its own form.
        self.reform_form = list(data.get("reform_form", self.forms))
        self.reform_since = np.asarray(data.get("reform_since", np.full(len(self.forms), time)), dtype=float)
        self.gains = np.asarray(data.get("gains", self.gains), dtype=np.float32)
        # Checkpoints written before walks: every body glided, its legs are those Events gave it.
        self.leg_frames = np.asarray(data.get("leg_frames", self.leg_frames), dtype=float).reshape(-1, 10)
        self.body_gain.assign(self.gains)
        self.body_glitch.assign(self.glitch)
        self.body_camouflage.assign(self.camouflage)
        self._upload_authority()
        self._upload_will_limit()
        # The moves' lags are restored as they were at `time`, and their feet's steps with them.
        self.time = time
        self.steps[:] = 0.0
        self.set_time(time)
        self._upload_gaits()

    def set_time(self, time: float) -> None:
        """Move kinematic colliders and moving forms to their pose at `time` [s]. A move advances
        at its body's pace: its thermal will (a freezing body slows and stiffens).
        Frost holding its feet to a surface does not stop it: it strains on against them, and
        its frozen legs break off and stay stuck there (T1's "its continuous efforts to walk
        cause the legs to break off")."""
        elapsed = max(time - self.time, 0.0)
        self.time = time
        if self._moves:
            rates = np.zeros_like(self.offsets)
            paces = self.thermal_will
            walked = False
            for body, move in list(self._moves.items()):
                pace = float(paces[body])
                if time - move.lag > move.start:
                    move.lag += elapsed * (1.0 - pace)
                self.offsets[body], rate = move.offset(time)
                rates[body] = pace * rate
                if move.stride > 0.0:
                    walked = True
                    steps, step_velocities = move.steps(self.offsets[body], rates[body])
                    self.steps[body] = np.concatenate([steps, step_velocities], axis=1)
                if time >= move.stop + move.lag:
                    del self._moves[body]
                    self.steps[body] = 0.0
            self.body_offset.assign(self.offsets.astype(np.float32))
            self.body_offset_velocity.assign(rates.astype(np.float32))
            if walked:
                self._upload_gaits()
        if not self._moving:
            return
        colliders = []
        for i, rest in enumerate(self._model.colliders):
            # A fresh struct per collider: copying a wp.struct shares its storage, and the
            # Model's colliders must stay at their rest pose.
            collider = ColliderData()
            for field in ColliderData.vars:
                setattr(collider, field, getattr(rest, field))
            if i in self._moving:
                origin, rotation, velocity, angular_velocity = self._model.collider_motions[i](time)
                collider.origin = wp.vec3(*origin)
                collider.rotation = wp.quat(*rotation)
                collider.velocity = wp.vec3(*velocity)
                collider.angular_velocity = wp.vec3(*angular_velocity)
            colliders.append(collider)
        self.colliders = wp.array(colliders, dtype=ColliderData, device=self._model.device)
