"""Pydantic validation errors as one-line :class:`~roofline.errors.SpecError`: the most telling
error, its dotted field path, and a did-you-mean for unknown fields."""

from __future__ import annotations

import re
import types
from collections.abc import Mapping
from typing import Annotated, Any, TypeVar, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

from roofline.errors import SpecError
from roofline.suggest import did_you_mean

M = TypeVar("M", bound=BaseModel)


def _strip(ann: Any) -> Any:
    """Unwrap ``Annotated[X, ...]`` and ``X | None`` (preferring a model member of a union)."""
    while True:
        origin = get_origin(ann)
        if origin is Annotated:
            ann = get_args(ann)[0]
        elif origin in (Union, types.UnionType):
            args = [a for a in get_args(ann) if a is not type(None)]
            models = [a for a in args if isinstance(a, type) and issubclass(a, BaseModel)]
            if models:
                return models[0]
            if len(args) != 1:
                return ann
            ann = args[0]
        else:
            return ann


def _allowed_fields(model: type[BaseModel], loc: tuple) -> list[str]:
    """Field names allowed at ``loc`` (for did-you-mean on extra fields)."""
    current: Any = model
    for part in loc[:-1]:
        current = _strip(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            f = current.model_fields.get(str(part))
            current = f.annotation if f else None
            continue
        origin, args = get_origin(current), get_args(current)
        if origin is None or not args:
            return []
        if isinstance(origin, type) and issubclass(origin, Mapping):
            current = args[-1]
        elif origin is tuple and not (len(args) == 2 and args[1] is Ellipsis):
            current = args[part] if isinstance(part, int) and part < len(args) else None
        else:
            current = args[0]
    current = _strip(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


def field_path(loc: tuple, prefix: str | None = None) -> str | None:
    """Dotted field path of a pydantic ``loc`` (``ops[0].kernel_size``), after ``prefix``."""
    out = prefix or ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out = f"{out}.{part}" if out else str(part)
    return out or None


def from_validation_error(
    exc: ValidationError, model: type[BaseModel], *, file: str | None, prefix: str | None = None
) -> SpecError:
    """Turn the most telling pydantic error into a one-line SpecError.

    An unknown field is reported before anything else (a mistyped required field also shows up
    as missing, but the typo is the cause). A model validator's message that starts with
    ``name=`` (``hidden_size=5140 is not divisible by ...``) names the field ``name`` when the
    model has such a field.
    """
    errors = exc.errors()
    err = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
    loc = tuple(err["loc"])
    etype = err["type"]
    msg = err["msg"].removeprefix("Value error, ")
    if loc and loc[-1] == "[key]":  # a mapping key of the wrong type
        loc = loc[:-2]
        msg = f"key {err.get('input')!r}: {msg}"
    named = re.match(r"(\w+)=", msg)
    if etype == "value_error" and named and named[1] in _allowed_fields(model, (*loc, None)):
        loc = (*loc, named[1])
    field = field_path(loc, prefix)
    ctx_exc = (err.get("ctx") or {}).get("error")
    if isinstance(ctx_exc, SpecError):
        if ctx_exc.field:
            field = f"{field}.{ctx_exc.field}" if field else ctx_exc.field
        return SpecError(ctx_exc.problem, file=file, field=field, fix=ctx_exc.fix)
    fix = None
    if etype == "extra_forbidden":
        allowed = _allowed_fields(model, loc)
        msg = f"unknown field {loc[-1]!r}"
        fix = did_you_mean(
            str(loc[-1]), allowed, "allowed: " + ", ".join(allowed) if allowed else None
        )
    elif etype == "missing" and loc and isinstance(loc[-1], int):
        field = field_path(loc[:-1], prefix)
        msg = f"too few entries (entry {loc[-1] + 1} is missing)"
    elif etype == "missing":
        msg = "required field is missing"
        fix = "add it (see the README of this spec folder)"
    elif etype == "too_short":
        need = (err.get("ctx") or {}).get("min_length", 1)
        entries = "entry" if need == 1 else "entries"
        msg = f"needs at least {need} {entries}, got {_short(err.get('input'))}"
        fix = "see the README of this spec folder"
    elif "input" in err and etype not in ("value_error", "assertion_error"):
        msg = f"{msg} (got {_short(err['input'])})"
    return SpecError(msg, file=file, field=field, fix=fix)


def _short(value: Any, limit: int = 60) -> str:
    """``repr(value)`` cut to ``limit`` characters (a whole mapping is noise in a one-liner)."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def validate(model: type[M], data: Any, *, file: str | None, prefix: str | None = None) -> M:
    """``model.model_validate(data)`` with errors mapped to SpecError."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise from_validation_error(exc, model, file=file, prefix=prefix) from None
    except SpecError as exc:
        raise exc.with_context(file=file, prefix=prefix) from None
