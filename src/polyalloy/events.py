"""The timeline: scene events applied at their time, and the periodic re-assignment of targets.

- `morph`: the body takes another form of its library. Target points are sampled inside the
  form at the body's particle spacing (equal volume ⇒ equal count), matched to exactly the
  body's particle count, and assigned one-to-one to the particles by approximate optimal
  transport (mimicry.assignment).
- `move`: the body's form slides to a new place over a time; its targets move with it.
- `flip`: the body's form turns about its vertical axis (180°: the face emerges from the
  back of the head, S5); the particles flow through the body to the turned form's points
  instead of the whole body rotating.
- `extrude`: a part morph (S4): a limb becomes a blade or a needle (mimicry.extrusion).
- `cleave`: a steel bar (a keyframed box collider the scene adds) cuts into the body, stays
  lodged and is pulled out (D2); the wound costs authority.
- `camouflage`: the body flattens into a disc on a surface and takes its colours (S6).
- `glitch`: sets the body's glitch level (polyalloy.glitch).
- `impact`: a gunshot blows a crater and costs the body authority (polyalloy.damage); a body
  frozen through shatters instead (polyalloy.shatter), and re-forms once thawed (polyalloy.reform).
- `grenade`: a round bursts inside the body and blows it open (polyalloy.damage).
- Every REASSIGN_EVERY seconds each willed body's targets are re-assigned to its particles as
  they are now: a particle pushed far from its target (a splash, a crossing) takes a nearer
  one instead of pulling against its neighbours (notes/mimetic-control.md: 0.91–0.94 IoU with
  re-assignment every 0.25 s against 0.90 without).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .control import REFORM_SHATTERED, Control
from .damage import apply_impact
from .mimicry import Cylinder, Extrusion, Form, Humanoid, Scaled, fill_form, rotation_y
from .mimicry import assignment
from .model import Model
from .scene import Scene
from .shatter import shatter
from .state import PRESENT, State

REASSIGN_EVERY = 0.25
"""Seconds between re-assignments of each willed body's targets."""


@dataclass
class AppliedEvent:
    """An event as events.csv records it."""

    time: float
    body: str
    kind: str
    detail: str


class Timeline:
    """Applies a scene's events to a Control as simulated time passes."""

    def __init__(self, scene: Scene, model: Model, control: Control, forms: dict[str, Form]):
        self._scene = scene
        self._model = model
        self._control = control
        self._forms = forms
        self._events = sorted(enumerate(scene.events), key=lambda item: (item[1].at, item[0]))
        self._next = 0
        self._body_index = {b.name: i for i, b in enumerate(model.bodies)}
        self._collider_index = {c.name: i for i, c in enumerate(scene.colliders)}
        self._last_reassign = 0.0
        self._made: list[dict] = []
        for b, body in enumerate(model.bodies):
            if body.form_name in forms:
                control.set_legs(b, forms[body.form_name].legs(), body.position, control.heading(b))

    def skip_to(self, time: float) -> None:
        """Mark events before `time` [s] as applied (their effect is in a restored checkpoint)."""
        self._next = sum(1 for _, event in self._events if event.at < time)
        self._last_reassign = REASSIGN_EVERY * np.floor(time / REASSIGN_EVERY)

    def next_event_time(self) -> float:
        """Time [s] of the next event, or infinity."""
        return self._events[self._next][1].at if self._next < len(self._events) else np.inf

    def apply_due(self, time: float, states: list[State]) -> list[AppliedEvent]:
        """Apply every event due by `time` [s] to the Control or to the current state
        `states[0]` (impacts; a morph recolours every state, as no solver stage changes colour)."""
        applied = []
        while self._next < len(self._events) and self._events[self._next][1].at <= time:
            index, event = self._events[self._next]
            self._next += 1
            body = self._body_index[event.body]
            kind = event.do
            if event.do in ("morph", "flip", "extrude"):
                # A new form is willed out of the surface it lay on: it stops wearing its colours.
                self._control.set_camouflage(body, -1)
            if event.do == "morph":
                if event.form in self._control.library[body]:
                    detail = self.morph(body, self.fitted(body, event.form, states[0]) if event.fit else event.form, states, seed=index)
                else:
                    kind = "refused"
                    detail = (
                        f"morph to {event.form!r} refused: body {event.body!r} has not sampled it (never touched it); "
                        f"its library is: {', '.join(self._control.library[body])}"
                    )
            elif event.do == "flip":
                self._control.turns[body] += event.angle
                detail = self.morph(body, self._control.forms[body], states, seed=index)
                detail = f"turned {event.angle:g}° through itself; {detail}"
            elif event.do == "extrude":
                kind, detail = self.extrude(body, event, states, seed=index)
            elif event.do == "camouflage":
                detail = self.camouflage(body, event, states, seed=index)
            elif event.do == "glitch":
                self._control.set_glitch(body, event.level)
                detail = f"glitch level {event.level:g}"
            elif event.do == "cleave":
                self._control.traumatise(body, event.trauma)
                detail = (
                    f"a bar cuts from {list(event.start)} to {list(event.end)} in {event.over:g} s, stays {event.hold:g} s, "
                    f"is pulled out; authority now {float(self._control.effective_authority[body]):.2f}"
                )
            elif event.do in ("impact", "grenade"):
                struck, detail = apply_impact(self._model, states[0], self._control, body, event)
                # Frozen through, a body the shot strikes bursts into shards on its stored energy (T2).
                burst = shatter(self._model, states, body) if struck else None
                if burst is not None:
                    detail = f"{detail}; {burst}"
                    # Once thawed it gathers its drops and re-forms (polyalloy.reform).
                    self._control.reform_stage[body] = REFORM_SHATTERED
            else:
                destination = np.asarray(event.to, dtype=float) - self._model.bodies[body].position
                walks = self._control.move_body(body, destination, time, event.over, event.walk, event.stride)
                detail = f"to {list(event.to)} over {event.over} s"
                if event.walk:
                    detail += ", walking" if walks else f", gliding: form {self._control.forms[body]!r} has no legs"
            applied.append(AppliedEvent(time, event.body, kind, detail))
        return applied

    def reassign_if_due(self, time: float, positions_now) -> None:
        """Re-assign every willed body's targets if REASSIGN_EVERY has passed since the last time;
        `positions_now()` gives the particles' positions [m] (read only when needed). Held
        particles (pieces left behind) do not trade: the body re-forms without them, missing
        what was severed, and they keep the form targets they return to."""
        if time - self._last_reassign < REASSIGN_EVERY - 1e-9 or not self._control.effective_authority.any():
            return
        self._last_reassign = REASSIGN_EVERY * np.floor(time / REASSIGN_EVERY + 1e-9)
        positions = positions_now()
        for b, body in enumerate(self._model.bodies):
            if self._control.effective_authority[b] > 0.0:
                sl = body.particle_slice
                mine = self._control.form_targets(b)
                reached = np.flatnonzero(~self._control.hold_mask[sl])
                rng = np.random.default_rng([self._scene.scene.seed, b, int(round(time * 1000))])
                # A walking body's legs are where its steps have taken them.
                walked = self._control.walked_targets(b, mine)
                perm = assignment.assign_targets(
                    positions[sl][reached] - self._control.offsets[b], walked[reached], rng, body.spacing)
                mine[reached] = mine[reached][perm]
                self._control.set_body_targets(b, mine)

    def form(self, name: str) -> Form:
        """The form called `name` (a scene form or one made during the run)."""
        return self._forms[name]

    def made_forms(self) -> list[dict]:
        """How each form made during the run was made, in order (JSON, for checkpoints)."""
        return [dict(recipe) for recipe in self._made]

    def remake_forms(self, recipes: list[dict]) -> None:
        """Make again the forms of `made_forms()` output (a run resumed from a checkpoint)."""
        self._made = []
        for recipe in recipes:
            self._make(recipe)

    def _make(self, recipe: dict) -> Form:
        """Make a form from its recipe and register it among the forms; remember the recipe."""
        kind = recipe["kind"]
        if kind == "scaled":
            form = Scaled(self._forms[recipe["base"]], recipe["factor"])
        elif kind == "puddle":
            info = self._model.bodies[recipe["body"]]
            radius = float(np.sqrt(recipe["volume"] / (np.pi * recipe["thickness"])))
            form = Cylinder(f"{info.name}/{recipe['name']}", radius=radius, length=recipe["thickness"])
        else:
            form = Extrusion(self._forms[recipe["base"]], recipe["part"], recipe["length"], recipe["width"], recipe["thickness"])
        self._forms[form.name] = form
        self._made.append(recipe)
        return form

    def _present_volume(self, body: int, state: State) -> float:
        """Volume [m³] of the body's present matter in `state` at rest."""
        info = self._model.bodies[body]
        return int(np.count_nonzero(state.status.numpy()[info.particle_slice] == PRESENT)) * info.spacing**3

    def fitted(self, body: int, form_name: str, state: State) -> str:
        """Name of `form_name` scaled to the body's volume now, its present matter in `state`
        (registered among the forms)."""
        factor = (self._present_volume(body, state) / self._forms[form_name].volume()) ** (1.0 / 3.0)
        return self._make({"kind": "scaled", "base": form_name, "factor": float(factor)}).name

    def camouflage(self, body: int, event, states: list[State], seed: int) -> str:
        """Flatten `body` into a disc `event.thickness` thick of its own volume, lying where it
        stands, and let it take the colours of collider `event.surface` (S6)."""
        puddle = self.puddle(body, "puddle", event.thickness, states[0])
        collider = self._collider_index[event.surface]
        detail = self.morph(body, puddle.name, states, seed)
        self._control.set_camouflage(body, collider)
        return f"flat on {event.surface!r}, {event.thickness:g} m thick, {2 * puddle.radius:.2f} m across; {detail}"

    def puddle(self, body: int, name: str, thickness: float, state: State) -> Cylinder:
        """A disc `thickness` [m] thick holding the body's present matter in `state`, registered
        among the forms as "<body>/<name>"."""
        volume = self._present_volume(body, state)
        return self._make({"kind": "puddle", "body": body, "name": name, "thickness": float(thickness), "volume": volume})

    def extrude(self, body: int, event, states: list[State], seed: int) -> tuple[str, str]:
        """Grow a blade from a limb of the body's current form (or of the form under its
        present blade); (kind, detail) for events.csv, kind "refused" if the form has no limbs."""
        current = self._forms[self._control.forms[body]]
        base = current.base if isinstance(current, Extrusion) else current
        if not isinstance(base, Humanoid):
            return "refused", f"extrude refused: form {base.name!r} has no limb {event.part!r} (only humanoid forms do)"
        blade = self._make({"kind": "extrusion", "base": base.name, "part": event.part, "length": event.length,
                            "width": event.width, "thickness": event.thickness})
        return "extrude", f"{event.part} → blade {event.length:g} m; " + self.morph(body, blade.name, states, seed)

    def morph(self, body: int, form_name: str, states: list[State], seed: int) -> str:
        """Give `body` the form `form_name`: sample it, match the count of its present particles
        (matter dissolved or boiled off has none), assign, upload the targets, and give each
        particle the form's colour at its target."""
        info = self._model.bodies[body]
        form = self._forms[form_name]
        dx = self._model.grid.dx
        per_cell = round((dx / info.spacing) ** 3)
        rng = np.random.default_rng([self._scene.scene.seed, body, seed, 1])
        points, _ = fill_form(form, info.position, dx, per_cell, rng, self._control.heading(body))
        sl = info.particle_slice
        present = states[0].status.numpy()[sl] == PRESENT
        count = int(np.count_nonzero(present))
        sampled = len(points)
        if sampled == 0 or count == 0:
            # The last drops of a dissolving body: too little to take a form.
            return f"form {form_name!r}: {sampled} points sampled for {count} particles; targets kept"
        points = assignment.match_count(points, count, rng)
        positions = states[0].x.numpy()[sl][present]
        perm = assignment.assign_targets(positions - self._control.offsets[body], points, rng, info.spacing)
        targets = self._control.form_targets(body)
        targets[present] = points[perm]
        self._control.set_body_targets(body, targets)
        self._control.forms[body] = form_name
        self._control.set_legs(body, form.legs(), info.position, self._control.heading(body))
        # Row vectors: (x − position) R is the target in the form's own frame.
        colors = np.asarray(form.color_at((targets - info.position) @ rotation_y(self._control.heading(body))), dtype=np.float32)
        self._control.set_body_form_colors(body, colors)
        for state in states:
            # What the old form's contacts imprinted is the new form's to will away at once.
            state.imprint[sl.start:sl.stop].zero_()
        return f"form {form_name!r}: {sampled} points sampled for {count} particles"
