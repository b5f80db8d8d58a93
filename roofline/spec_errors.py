"""Pydantic validation errors as :class:`~roofline.errors.SpecError`: every invalid field of a spec
at once (one line each, :class:`~roofline.errors.SpecErrors` when there are several), with its
dotted field path and a did-you-mean for unknown fields."""

from __future__ import annotations

import difflib
import re
import types
from collections.abc import Mapping
from typing import Annotated, Any, TypeVar, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

from roofline.errors import SpecError, SpecErrors, short_repr
from roofline.suggest import did_you_mean
from roofline.units import SPEC_FILE_CONTEXT

M = TypeVar("M", bound=BaseModel)

#: the fix for a required field left out, pointing at the spec folder's README
MISSING_FIELD_FIX = "add it (see the README of this spec folder)"
#: the fix for a list with too few entries, pointing at the spec folder's README
TOO_SHORT_FIX = "see the README of this spec folder"
#: the fixes that point at a spec folder's README (a caller reading no spec folder drops them)
SPEC_FOLDER_FIXES = frozenset({MISSING_FIELD_FIX, TOO_SHORT_FIX})


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
    """Every invalid field of a pydantic error as one SpecError (one field) or a
    :class:`~roofline.errors.SpecErrors` block (several), in the order of the spec's fields.

    A required field reported missing beside an unknown field that is a likely misspelling of it
    is left out (the typo is the cause; its did-you-mean names the field), and so is a list's
    "needs at least N entries" beside an error under one of its entries (pydantic counts only the
    entries that validated: the bad entry is the one problem). A model validator's
    message that starts with ``name=`` (``hidden_size=5140 is not divisible by ...``) names the
    field ``name`` when the model has such a field.
    """
    errors = exc.errors()
    extra = [tuple(e["loc"]) for e in errors if e["type"] == "extra_forbidden"]
    kept = [e for e in errors if not _caused_by_typo(e, extra)]
    kept = [e for e in kept if not _short_for_a_bad_entry(e, kept)]
    out: list[SpecError] = []
    for err in kept:
        one = _one(err, model, file, prefix)
        if all(one.render() != o.render() for o in out):
            out.append(one)
    return out[0] if len(out) == 1 else SpecErrors(out)


def _caused_by_typo(err: Any, extra: list[tuple]) -> bool:
    """Whether ``err`` is a missing field beside an unknown field spelled close to it."""
    loc = tuple(err["loc"])
    if err["type"] != "missing" or not loc or isinstance(loc[-1], int):
        return False
    return any(
        e[:-1] == loc[:-1] and difflib.get_close_matches(str(e[-1]), [str(loc[-1])], cutoff=0.6)
        for e in extra
    )


def _short_for_a_bad_entry(err: Any, errors: list[Any]) -> bool:
    """Whether ``err`` is a list's ``too_short`` beside an error under one of its entries."""
    if err["type"] != "too_short":
        return False
    loc = tuple(err["loc"])
    n = len(loc)
    return any(
        len(e["loc"]) > n and tuple(e["loc"][:n]) == loc and isinstance(e["loc"][n], int)
        for e in errors
        if e is not err
    )


def _one(err: Any, model: type[BaseModel], file: str | None, prefix: str | None) -> SpecError:
    """One pydantic error as a one-line SpecError."""
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
        fix = MISSING_FIELD_FIX
    elif etype == "too_short":
        need = (err.get("ctx") or {}).get("min_length", 1)
        entries = "entry" if need == 1 else "entries"
        msg = f"needs at least {need} {entries}, got {short_repr(err.get('input'), 60)}"
        fix = TOO_SHORT_FIX
    elif "input" in err and etype not in ("value_error", "assertion_error"):
        msg = f"{msg} (got {short_repr(err['input'], 60)})"
    return SpecError(msg, file=file, field=field, fix=fix)


def validate(
    model: type[M],
    data: Any,
    *,
    file: str | None,
    prefix: str | None = None,
    from_file: bool = False,
) -> M:
    """``model.model_validate(data)`` with errors mapped to SpecError; ``from_file``: the data was
    read from a spec file, whose quantity fields must carry units (:mod:`roofline.units`)."""
    try:
        return model.model_validate(data, context=SPEC_FILE_CONTEXT if from_file else None)
    except ValidationError as exc:
        raise from_validation_error(exc, model, file=file, prefix=prefix) from None
    except SpecError as exc:
        raise exc.with_context(file=file, prefix=prefix) from None
