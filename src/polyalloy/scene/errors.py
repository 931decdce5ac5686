"""Scene-file errors: one exception listing every problem of a scene, each at its key path.

pydantic reports a problem as a location tuple such as ``("bodies", 0, "form")`` and an
English message. This module turns those into the lines a user reads
(``bodies[0].form: no form named 'cop2'; forms are: cop, guard``): it joins the location into
a key path as written in the TOML file, drops the segment pydantic inserts for the tag of a
discriminated union (``("events", 0, "move", "to")`` → ``events[0].to``), names the known keys
when a key is unknown, and says what was given when a value is out of range.

Validators that find several problems at once, or a problem at a key below the model they
validate (pydantic locates a model validator's error at the model itself), raise
:func:`problems_error`; the formatter expands it into one line per problem.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import PydanticCustomError
from pydantic_core.core_schema import ErrorType

Loc = tuple[str | int, ...]
"""A location inside a scene: table keys and list indices, outermost first."""

PROBLEMS_ERROR = "scene_problems"
"""pydantic error type of :func:`problems_error`."""

_PYDANTIC_ERROR_TYPES = frozenset(get_args(ErrorType))


class SceneError(Exception):
    """A scene file (or dict) that cannot be run, with every problem found in it.

    ``errors`` holds one line per problem, ``"key.path: message"`` (file-level problems such
    as a TOML syntax error have a line/column or no key instead); ``path`` is the scene file,
    or None for a scene built from a dict.
    """

    def __init__(self, errors: Sequence[str], path: str | Path | None = None):
        # Both arguments go to Exception so the error survives pickling (dask sweeps).
        super().__init__(list(errors), path)
        self.errors: list[str] = list(errors)
        self.path: Path | None = Path(path) if path is not None else None

    def __str__(self) -> str:
        where = f"scene file {self.path}" if self.path is not None else "scene"
        count = f"{len(self.errors)} error{'s' if len(self.errors) != 1 else ''}"
        return "\n".join([f"invalid {where} ({count}):", *(f"  {line}" for line in self.errors)])


def problems_error(problems: Sequence[tuple[Loc, str]]) -> PydanticCustomError:
    """A pydantic error that carries several problems, each at a location relative to the
    model that raises it. Raise it from a validator; :func:`format_validation_error` expands it.
    """
    summary = "; ".join(_line(loc, message) for loc, message in problems)
    return PydanticCustomError(
        PROBLEMS_ERROR,
        "{summary}",
        {"summary": summary, "problems": [(tuple(loc), msg) for loc, msg in problems]},
    )


def format_loc(loc: Loc) -> str:
    """The key path of a location as written in TOML terms: ``bodies[0].form``."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def format_validation_error(exc: ValidationError, root: type[BaseModel]) -> list[str]:
    """One ``"key.path: message"`` line per problem in `exc`, raised validating `root`."""
    lines: list[str] = []
    for error in exc.errors(include_url=False):
        where = _resolve(root, error["loc"])
        if error["type"] == PROBLEMS_ERROR:
            lines += [_line((*where.loc, *sub), message) for sub, message in error["ctx"]["problems"]]
        else:
            lines.append(_describe(error, where))
    return lines


def _line(loc: Loc, message: str) -> str:
    return f"{format_loc(loc)}: {message}" if loc else message


@dataclass
class _Where:
    """Where an error is, in the model's terms."""

    loc: Loc
    """Key path with pydantic's union-tag segments removed."""
    owner: type[BaseModel] | None
    """Model that holds the last key of the path."""
    field: FieldInfo | None
    """That key's field, for its description."""
    tags: tuple[str, ...]
    """If the path ends at a discriminated union: its tags (the known shapes, event kinds …)."""


def _resolve(root: type[BaseModel], raw_loc: Loc) -> _Where:
    """Follow `raw_loc` through the type annotations of `root`, dropping union tags."""
    tp: Any = root
    loc: list[str | int] = []
    owner: type[BaseModel] | None = None
    field: FieldInfo | None = None
    for part in raw_loc:
        tp, tagged = _unwrap(tp)
        if tagged is not None and part in tagged:
            tp = tagged[part]
            continue
        loc.append(part)
        if isinstance(tp, type) and issubclass(tp, BaseModel) and isinstance(part, str):
            owner, field = tp, tp.model_fields.get(part)
            tp = field.annotation if field is not None else None
        else:
            tp = _item_type(tp, part)
    _, tagged = _unwrap(tp)
    return _Where(tuple(loc), owner, field, tuple(tagged or ()))


def _unwrap(tp: Any) -> tuple[Any, dict[str, Any] | None]:
    """Strip Annotated and Optional from `tp`; for a discriminated union also map tag → member."""
    discriminator = None
    while True:
        origin = get_origin(tp)
        if origin is Annotated:
            tp, *metadata = get_args(tp)
            for item in metadata:
                if isinstance(item, FieldInfo) and isinstance(item.discriminator, str):
                    discriminator = item.discriminator
            continue
        if origin in (Union, UnionType):
            members = [arg for arg in get_args(tp) if arg is not type(None)]
            if len(members) == 1:
                tp = members[0]
                continue
            if discriminator is not None:
                return tp, {
                    tag: member
                    for member in members
                    for tag in get_args(member.model_fields[discriminator].annotation)
                }
        return tp, None


def _item_type(tp: Any, part: str | int) -> Any:
    """Type of element `part` of the container type `tp`, or None if unknown."""
    origin, args = get_origin(tp), get_args(tp)
    if origin is list and args:
        return args[0]
    if origin is tuple and args:
        if args[-1] is Ellipsis:
            return args[0]
        return args[part] if isinstance(part, int) and part < len(args) else None
    if origin is dict and len(args) == 2:
        return args[1]
    return None


def _describe(error: dict[str, Any], where: _Where) -> str:
    """The user-facing line for one pydantic error."""
    kind, loc = error["type"], where.loc
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        key = error["ctx"]["discriminator"].strip("'")
        known = ", ".join(where.tags)
        if kind == "union_tag_not_found":
            return _line((*loc, key), f"required key is missing; one of: {known}")
        return _line((*loc, key), f"{error['ctx']['tag']!r} is not one of: {known}")
    if kind == "missing":
        detail = f" — {where.field.description}" if where.field and where.field.description else ""
        if loc and isinstance(loc[-1], int):  # pydantic's way of saying an array is too short
            return _line(loc[:-1], f"too few values{detail}")
        return _line(loc, f"required key is missing{detail}")
    if kind == "extra_forbidden":
        key = str(loc[-1])
        known = list(where.owner.model_fields) if where.owner is not None else []
        close = difflib.get_close_matches(key, known, n=1)
        hint = f"did you mean '{close[0]}'?" if close else f"keys here are: {', '.join(known)}"
        return _line(loc, f"unknown key '{key}'; {hint}")
    message = error["msg"]
    # pydantic's own messages do not say what was given; ours already do where it helps.
    if kind in _PYDANTIC_ERROR_TYPES and not isinstance(error["input"], (dict, list, tuple)):
        message += f" (got {error['input']!r})"
    return _line(loc, message)
