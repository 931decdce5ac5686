"""Simulation: a scene's Model, States, Control and solver, advanced frame by frame.

The Python API of polyalloy: `Simulation(scene, device=...)`, `.step_frame()`, `.particles()`
(the state as NumPy arrays), `.metrics_rows()` and `.run(out=...)` (the run directory).
"""

from __future__ import annotations

import hashlib
import math
import time as wallclock
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import warp as wp

from . import metrics, thermal
from .events import AppliedEvent, Timeline
from .mimicry import Form, placed_bounds, placed_sdf
from .scene import Scene
from .scene.build import build_scene
from .solver import MPMSolver, kernels
from .solver.heat import HeatSolver
from .throes import DeathThroes
from .state import DISSOLVED, PENDING, PRESENT, State
from .touch import TouchSampler
from .reach import WillReach
from .reform import Reforming
from .glitch import IMPRINT_RATE, IMPRINT_SET_TIME, IMPRINT_SHALLOW_TIME, Glitch


@dataclass
class FrameStats:
    """What advancing one frame cost."""

    substeps: int
    dt: float
    """Substep length [s]."""
    wall_s: float
    """Wall-clock seconds of the substeps alone [s]."""


COLOR_RATE = 6.0
"""Rate at which a body at full authority wills its colours to their targets [1/s]."""

CAMOUFLAGE_DEPTH = 0.1
"""While camouflaging, particles within this distance of the surface take its colours [m]."""


STATIC = 0.035
"""Surface static of a fully glitching body: the standard deviation of each colour channel's
jitter (kernels.relax_colors; × the glitch level)."""


class Simulation:
    """One scene being simulated on one device."""

    def __init__(self, scene: Scene, device: str = "cpu"):
        wp.init()
        self.scene = scene
        self.device = device
        built = build_scene(scene, device)
        self.model = built.model
        self.control = built.control
        self.forms: dict[str, Form] = built.forms
        self._states = [built.state, State(self.model.particle_count, device)]
        self._states[1].copy_from(self._states[0])
        self.solver = MPMSolver(self.model)
        self.heat = HeatSolver(self.model, self.solver)
        self.heat.form_grains(*self._states)
        self.frame = 0
        """Frames completed."""
        self.frame_dt = 1.0 / scene.scene.fps
        """Frame length [s]."""
        self.frame_count = max(1, round(scene.scene.duration * scene.scene.fps))
        """Frames in the whole scene."""
        self.last_stats = FrameStats(substeps=0, dt=0.0, wall_s=0.0)
        self._particle_mass = self.model.particle_mass.numpy()
        self._initial_body_mass = self._body_masses()
        self.control.set_thermal_share(*self._thermal_shares())
        self.timeline = Timeline(scene, self.model, self.control, self.forms)
        self.touch = TouchSampler(self.model, [c.name for c in scene.colliders])
        self.reach = WillReach(self.model)
        self.throes = DeathThroes(scene, self.model, self.control, self.timeline)
        self.reforming = Reforming(self.model, self.control, self.timeline)
        self.glitch = Glitch(self.model)
        self.applied_events: list[AppliedEvent] = []
        """Events applied during the last frame (the run writes them to events.csv)."""
        self._poured = 0
        """Emitter batches (Model.emissions) that have joined the simulation."""

    def close(self) -> None:
        """Release the solver's lane threads; the simulation cannot step afterwards."""
        self.solver.close()

    def __enter__(self) -> "Simulation":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def state(self) -> State:
        """The current state."""
        return self._states[0]

    @property
    def time(self) -> float:
        """Simulated time [s]."""
        return self.frame * self.frame_dt

    def step_frame(self) -> FrameStats:
        """Advance one frame with the CFL-limited substep count; raises on a blow-up."""
        start = self.time
        self.applied_events = []
        self.timeline.reassign_if_due(start, lambda: self.state.x.numpy())
        self.solver.pieces.label(self.state)
        substeps, dt = self.solver.plan_frame(self.state, self.frame_dt, self._collider_speed())
        # The frame runs as segments of equal substeps; a shot starts a new segment.
        segment_start, segment_first = start, 0
        wall = 0.0
        s = 0
        unheated = 0.0
        froze = False
        while s < substeps:
            now = segment_start + (s - segment_first) * dt
            shot = False
            if self.timeline.next_event_time() <= now + 0.5 * dt:
                applied = self.timeline.apply_due(now + 0.5 * dt, self._states)
                self.applied_events += applied
                shot = any(event.kind in ("impact", "grenade") for event in applied)
            if shot or froze:
                # A shot throws metal faster than this frame's plan allowed, and metal that has
                # just frozen carries stiffer waves (CFL): re-plan the rest of the frame.
                remaining, dt = self.solver.plan_frame(self.state, start + self.frame_dt - now, self._collider_speed())
                if shot:
                    # A shattered body's shards fly off their pieces.
                    self.solver.pieces.label(self.state)
                segment_start, segment_first, substeps = now, s, s + remaining
                froze = False
            self.control.set_time(now)
            self._pour(now + 0.5 * dt)
            t0 = wallclock.perf_counter()
            self.solver.step(self._states[0], self._states[1], self.control, dt)
            self._states.reverse()
            s += 1
            unheated += dt
            if not self.model.isothermal and (s == substeps or unheated + dt > self.heat.max_dt):
                due = self._heat_due(unheated, frame_end=s == substeps)
                self.heat.advance(self._states[0], self._states[1], self.control, due)
                froze = bool(np.any(self.heat.froze & ~self.solver.planned_frozen))
                unheated -= due
            wp.synchronize_device(self.device)
            wall += wallclock.perf_counter() - t0
        self.solver.check_finite(self.state)
        self.control.set_thermal_share(*self._thermal_shares())
        self.control.recover(self.frame_dt)
        self.frame += 1
        self.applied_events += self.touch.sample(self.state, self.control, self.time)
        self.applied_events += self.throes.update(self.time, self._states)
        self.applied_events += self.reforming.update(self.time, self._states)
        if self.control.effective_authority.any():
            self.applied_events += self.reach.update(
                self.state.x.numpy(), self.state.v.numpy(), self.control, self.time, skip=self.reforming.gathering)
            self._relax_colors()
        self.control.set_time(self.time)
        self.last_stats = FrameStats(substeps=substeps, dt=dt, wall_s=wall)
        return self.last_stats

    def _heat_due(self, unheated: float, frame_end: bool) -> float:
        """Time [s] the heat step conducts now, of the `unheated` seconds since the last one.

        Heat usually diffuses far slower than sound crosses a cell: one heat step covers as
        many substeps as its stability limit max_dt allows, and the frame ends with all of it.
        A substep longer than max_dt would take two heat steps each: instead the heat step
        takes whole max_dt steps and carries the rest (under max_dt) into the next substep, so
        heat costs one step per max_dt of time. At the draft steel mill's 6 cm cells (substeps
        of 1.33 ms, max_dt 1.22 ms) that halves the heat steps."""
        max_dt = self.heat.max_dt
        if frame_end or unheated <= max_dt:
            return unheated
        return max_dt * math.floor(unheated / max_dt)

    def _pour(self, time: float) -> None:
        """Let every emitter batch due by `time` [s] join the simulation (in both states)."""
        emissions = self.model.emissions
        while self._poured < len(emissions) and emissions[self._poured][0] <= time:
            _, first, end = emissions[self._poured]
            for state in self._states:
                state.status[first:end].fill_(int(PRESENT))
            self._poured += 1

    def _thermal_shares(self) -> tuple[np.ndarray, np.ndarray]:
        """Share of each body's will its temperature leaves it [0, 1] (the mass-weighted mean of
        its present particles' will share, thermal.will_share) and the share its heat alone
        leaves it (of thermal.heat_fade); 0 for a body wholly gone."""
        state = self.state
        phase, temperature, status = state.phase.numpy(), state.temperature.numpy(), state.status.numpy()
        mass = self._particle_mass
        shares, heat_shares = [], []
        for body in self.model.bodies:
            sl = body.particle_slice
            present = status[sl] == PRESENT
            m = mass[sl][present]
            total = m.sum()
            share = thermal.will_share(body.material, temperature[sl][present], phase[sl][present])
            fade = thermal.heat_fade(body.material, temperature[sl][present])
            shares.append(float(np.dot(share, m) / total) if total > 0 else 0.0)
            heat_shares.append(float(np.dot(fade, m) / total) if total > 0 else 0.0)
        # Rounded so a body wholly liquid and cool has exactly its whole will.
        return np.round(shares, 6), np.round(heat_shares, 6)

    def _relax_colors(self) -> None:
        """Will the colours over the frame just done (no solver stage changes colour, so both
        states take the result)."""
        wp.launch(
            kernels.relax_colors, dim=self.model.particle_count,
            inputs=[self.state.x, self.model.particle_body_device, self.control.form_colors, self.control.body_authority,
                    self.control.body_camouflage, self.control.body_glitch, self.control.colliders, self.state.pressed,
                    self.state.imprint, CAMOUFLAGE_DEPTH, COLOR_RATE, IMPRINT_RATE, IMPRINT_SHALLOW_TIME, IMPRINT_SET_TIME, STATIC,
                    self.scene.scene.seed * 1_000_003 + self.frame, self.frame_dt, self.state.color],
            device=self.device,
        )
        self.glitch.imprint(self.state, self.control, self.frame_dt)
        wp.copy(self._states[1].color, self.state.color)
        wp.copy(self._states[1].imprint, self.state.imprint)
        wp.copy(self._states[1].pressed, self.state.pressed)

    def _collider_speed(self) -> float:
        """Fastest point of any moving collider [m/s] over the coming frame (for the CFL bound)."""
        speeds = [0.0]
        for motion in self.model.collider_motions:
            if motion is not None:
                for t in (self.time, self.time + 0.5 * self.frame_dt, self.time + self.frame_dt):
                    _, _, velocity, angular = motion(t)
                    reach = float(np.linalg.norm(self.model.domain_hi - self.model.domain_lo))
                    speeds.append(float(np.linalg.norm(velocity)) + float(np.linalg.norm(angular)) * reach)
        return max(speeds)

    def particles(self) -> dict[str, np.ndarray]:
        """The current particles as NumPy arrays: state fields plus mass and body index."""
        data = self.state.to_numpy()
        data["mass"] = self.model.particle_mass.numpy()
        data["body"] = self.model.particle_body
        return data

    def _body_masses(self) -> list[float]:
        mass = self.model.particle_mass.numpy()
        return [float(mass[b.particle_slice].sum(dtype=np.float64)) for b in self.model.bodies]

    def form_world_bounds(self, body_index: int) -> tuple[np.ndarray, np.ndarray]:
        """World-space bounding box (lo, hi) [m] of a body's current form at its pose."""
        form = self.forms[self.control.forms[body_index]]
        return placed_bounds(form, self._pose_position(body_index), self.control.heading(body_index))

    def _pose_position(self, body_index: int) -> np.ndarray:
        """Where a body's current form stands now [m]: its base position plus its pose offset."""
        return self.model.bodies[body_index].position + self.control.offsets[body_index]

    def form_sdf(self, body_index: int):
        """World-space SDF of a body's current form at its pose: (M,3) points [m] → distances [m]."""
        form = self.forms[self.control.forms[body_index]]
        return placed_sdf(form, self._pose_position(body_index), self.control.heading(body_index))

    @staticmethod
    def _accounted_mass(data: dict[str, np.ndarray], sl: slice) -> tuple[np.ndarray, float, float, float]:
        """Which particles of the range `sl` are present, and the range's mass present,
        dissolved and evaporated [kg] (A1's terms)."""
        status, mass = data["status"][sl], data["mass"][sl]
        dissolved = float(mass[status == DISSOLVED].sum(dtype=np.float64))
        boiled = np.where(status == DISSOLVED, 0.0, data["boiled"][sl].astype(np.float64) * mass)
        present = status == PRESENT
        return present, float(mass[present].sum(dtype=np.float64)) - float(boiled[present].sum()), dissolved, float(boiled.sum())

    def _matter_columns(self, data: dict[str, np.ndarray], sl: slice, present: np.ndarray, spacing: float) -> dict:
        """The metrics columns of a range of particles that do not depend on a will or a form."""
        x, v, mass = data["x"][sl][present], data["v"][sl][present], data["mass"][sl][present]
        phase, temperature, bond = data["phase"][sl][present], data["temperature"][sl][present], data["bond"][sl][present]
        count, largest = metrics.fragments(x, mass, spacing)
        t_mean, t_min, t_max = metrics.temperature_stats(temperature)
        return {
            "particles": int(len(x)),
            "fragments": count,
            "solid_pieces": metrics.solid_pieces(x, phase < 0.5, bond > 0.0, spacing),
            "largest_fragment": largest,
            "temp_mean": t_mean,
            "temp_min": t_min,
            "temp_max": t_max,
            "frozen_fraction": metrics.frozen_fraction(phase, mass),
            "kinetic_energy": metrics.kinetic_energy(v, mass),
        }

    def metrics_rows(self, data: dict[str, np.ndarray] | None = None) -> list[dict]:
        """One metrics.csv row per body, then one per emitter, for the current frame (DESIGN.md's
        columns). An emitter's row accounts for the matter it has poured so far; it has no form
        and no will (form empty, iou, shape_error, authority and glitch 0)."""
        data = self.particles() if data is None else data
        rows = []
        for index, body in enumerate(self.model.bodies):
            sl = body.particle_slice
            present, body_mass, dissolved, evaporated = self._accounted_mass(data, sl)
            x = data["x"][sl][present]
            if np.any(self.control.steps[index]):
                # A walking body holds its form with its legs where its steps have taken them:
                # its particles are measured against the form with the steps taken back.
                targets = self.control.form_targets(index)
                x = x - (self.control.walked_targets(index, targets) - targets)[present]
            sdf = self.form_sdf(index)
            rows.append(
                {
                    "frame": self.frame,
                    "time": self.time,
                    "body": body.name,
                    "mass": body_mass,
                    "dissolved_mass": dissolved,
                    "evaporated_mass": evaporated,
                    "lost_mass": self._initial_body_mass[index] - body_mass - dissolved - evaporated,
                    "form": self.control.forms[index],
                    "iou": metrics.iou(x, sdf, self.model.grid.dx, body.spacing, form_bounds=self.form_world_bounds(index)),
                    "shape_error": metrics.shape_error(x, sdf),
                    "authority": float(self.control.effective_authority[index]),
                    "glitch": float(self.control.glitch[index]),
                    **self._matter_columns(data, sl, present, body.spacing),
                    "substeps": self.last_stats.substeps,
                    "wall_s": self.last_stats.wall_s,
                }
            )
        for name, sl, spacing in self.model.emitter_slices:
            present, poured_mass, dissolved, evaporated = self._accounted_mass(data, sl)
            poured = float(data["mass"][sl][data["status"][sl] != PENDING].sum(dtype=np.float64))
            rows.append(
                {
                    "frame": self.frame,
                    "time": self.time,
                    "body": name,
                    "mass": poured_mass,
                    "dissolved_mass": dissolved,
                    "evaporated_mass": evaporated,
                    "lost_mass": poured - poured_mass - dissolved - evaporated,
                    "form": "",
                    "iou": 0.0,
                    "shape_error": 0.0,
                    "authority": 0.0,
                    "glitch": 0.0,
                    **self._matter_columns(data, sl, present, spacing),
                    "substeps": self.last_stats.substeps,
                    "wall_s": self.last_stats.wall_s,
                }
            )
        return rows

    def _scene_digest(self) -> str:
        return hashlib.sha256(self.scene.to_toml().encode()).hexdigest()

    def checkpoint_arrays(self) -> tuple[dict[str, np.ndarray], dict]:
        """Everything needed to resume bit for bit: state arrays, the will's targets, forms (and
        how those made during the run were made) and poses, the frame counter, the scene's
        digest and the lane count (the order in which scatter lanes are summed)."""
        targets, will = self.control.snapshot()
        meta = {
            "frame": self.frame, "particle_count": self.model.particle_count, "scene_sha256": self._scene_digest(),
            "lanes": self.solver.lanes, "will": will, "heat_in": self.heat.heat_in,
            "made_forms": self.timeline.made_forms(),
        }
        held = {"hold_mask": self.control.hold_mask, "home_targets": self.control.home_targets,
                "hold_velocity": self.control.hold_velocity.numpy(), "form_colors": self.control.form_colors.numpy()}
        meta["hold_epoch"] = self.control.hold_epoch
        return {**self.state.to_numpy(), "targets": targets, **held}, meta

    def restore(self, arrays: dict[str, np.ndarray], meta: dict) -> None:
        """Resume from `checkpoint_arrays()` output; ValueError if it belongs to another scene."""
        if meta.get("scene_sha256") != self._scene_digest() or int(meta["particle_count"]) != self.model.particle_count:
            raise ValueError(
                "the checkpoint belongs to another scene or quality than the one given "
                f"({meta['particle_count']} particles, this scene makes {self.model.particle_count}); "
                "run without --resume to start over"
            )
        self.state.assign(arrays)
        self._states[1].copy_from(self.state)
        self.frame = int(meta["frame"])
        self._poured = sum(1 for _, first, _ in self.model.emissions if arrays["status"][first] != PENDING)
        self.control.restore(arrays["targets"], meta["will"], self.time)
        self.control.restore_holds(arrays["hold_mask"], arrays["home_targets"])
        self.control.form_colors.assign(arrays["form_colors"])
        self.control.hold_velocity.assign(arrays["hold_velocity"])
        self.control.hold_epoch = float(meta["hold_epoch"])
        self.heat.heat_in = float(meta.get("heat_in", 0.0))
        self.timeline.skip_to(self.time)
        self.timeline.remake_forms(meta.get("made_forms", []))

    def run(self, out: str | Path, **options) -> Path:
        """Run the whole scene into run directory `out` (see `polyalloy.runner.run_simulation`)."""
        from .runner import run_simulation

        return run_simulation(self, Path(out), **options)
