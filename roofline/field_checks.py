"""Plain values for typed spec fields, checked before pydantic's lax conversions.

Pydantic's lax mode reads ``true`` as 1 in an integer field, ``"yes"`` or 1 as True in a boolean
field, and any float without a fraction (1e20, 2**60 as a float) as an integer. In a spec each is
a mistake that would count silently: ``out_features: true`` is a 1-wide layer, ``tile: [true,
true, true]`` a 1x1x1 tile. :func:`check_fields` refuses them by the field's annotation, before
validation, each with the fix:

* a boolean where a number belongs;
* anything but ``true``/``false`` where a boolean belongs;
* a quoted numeral (``"8"``) where a whole number belongs (lax mode would read it as 8);
* a NaN or infinite number;
* a number beyond :data:`MAX_EXACT` (2**53, where floats stop being exact integers) in an
  integer field or, for ops and family parameters (``limit``), in any numeric field.

Numbers inside ranges are the physical checks of each field (:mod:`roofline.hardware`).
"""

from __future__ import annotations

import functools
import math
import types
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, ClassVar, Literal, Union, get_args, get_origin

from pydantic import AfterValidator, BaseModel, ConfigDict, model_validator

from roofline.errors import SpecError
from roofline.frozen import freeze_fields
from roofline.units import MAX_EXACT

SCALARS = ("int", "float", "bool")

#: a field's expected kind: "int", "float", "bool", ("items", kind), ("values", kind) or
#: ("any", (kinds...)); None where nothing is checked
Kind = Any


def _kind(ann: Any) -> Kind:
    origin = get_origin(ann)
    if origin is Annotated:
        return _kind(get_args(ann)[0])
    if ann is bool:
        return "bool"
    if ann is int:
        return "int"
    if ann is float:
        return "float"
    if origin is Literal:
        return None
    if origin in (Union, types.UnionType):
        kinds = tuple(k for a in get_args(ann) if a is not type(None) for k in [_kind(a)] if k)
        if not kinds:
            return None
        return kinds[0] if len(kinds) == 1 else ("any", kinds)
    if isinstance(origin, type) and issubclass(origin, Mapping):
        args = get_args(ann)
        inner = _kind(args[1]) if len(args) == 2 else None
        return ("values", inner) if inner else None
    if origin in (tuple, list, set, frozenset) or (
        isinstance(origin, type) and issubclass(origin, Sequence) and origin is not str
    ):
        inner = [_kind(a) for a in get_args(ann) if a is not Ellipsis]
        inner = [k for k in inner if k]
        return ("items", inner[0]) if inner else None
    return None


@functools.cache
def field_kinds(cls: type[BaseModel]) -> dict[str, Kind]:
    """The checked kind of each field of ``cls`` (fields with nothing to check left out)."""
    out = {}
    for name, info in cls.model_fields.items():
        kind = _kind(info.annotation)
        if kind:
            out[name] = kind
    return out


def check_fields(cls: type[BaseModel], data: Any, limit: bool = False) -> None:
    """Refuse booleans as numbers, non-booleans as booleans, quoted numerals as integers,
    non-finite numbers and integers beyond 2**53 in the fields of ``data`` (a mapping about to
    become a ``cls``); ``limit``: any number beyond 2**53 in magnitude too. A :class:`SpecError`
    names the field (:func:`check_value` checks one value)."""
    if not isinstance(data, Mapping):
        return
    kinds = field_kinds(cls)
    for name, value in data.items():
        kind = kinds.get(name) if isinstance(name, str) else None
        if kind is not None and value is not None:
            check_value(kind, value, str(name), limit)


def check_value(kind: Kind, value: Any, field: str, limit: bool = False) -> None:
    """Refuse ``value`` as :func:`check_fields` would in a field of ``kind`` (``"int"``,
    ``"bool"``, ``"float"``, ``("items", kind)``...) named ``field``: a :class:`SpecError`."""
    if isinstance(kind, tuple):
        what, inner = kind
        if what == "any":
            _check_any(inner, value, field, limit)
        elif what == "items" and isinstance(value, (list, tuple)):
            for i, v in enumerate(value):
                if v is not None:
                    check_value(inner, v, f"{field}[{i}]", limit)
        elif what == "items" and isinstance(value, (bool, int, float)) and inner in SCALARS:
            check_value(inner, value, field, limit)  # a scalar an op broadcasts to every dimension
        elif what == "values" and isinstance(value, Mapping):
            for k, v in value.items():
                if v is not None:
                    check_value(inner, v, f"{field}.{k}", limit)
        return
    if kind == "bool":
        if not isinstance(value, bool):
            raise SpecError(
                f"{value!r} is not a boolean", field=field, fix="write true or false (no quotes)"
            )
        return
    if isinstance(value, bool):
        raise SpecError(
            f"{value!r} is a boolean where a number belongs",
            field=field,
            fix="write the number (YAML reads true/false/yes/no as booleans)",
        )
    # lax mode reads "8" as 8
    if kind == "int" and isinstance(value, str) and numeral(value) is not None:
        raise SpecError(
            f"{value!r} is text where a whole number belongs",
            field=field,
            fix="write the number without quotes",
        )
    if not isinstance(value, (int, float)):
        return  # strings and the rest: pydantic's message (or a unit parser's) says why
    if isinstance(value, float) and not math.isfinite(value):
        raise SpecError(f"{value!r} is not finite", field=field, fix="give a finite number")
    if (kind == "int" or limit) and abs(value) > MAX_EXACT:
        raise SpecError(
            f"{_show(value)} is beyond 2**53 = {MAX_EXACT:.4g}, the largest exact size",
            field=field,
            fix="sizes and counts in a spec are at most 2**53; check the value and its unit",
        )


def numeral(text: str) -> float | None:
    """``text`` as a float where it reads as a number (as ``float(text)``, pydantic's lax mode,
    takes it), else None."""
    try:
        return float(text)
    except ValueError:
        return None


def _check_any(kinds: tuple[Kind, ...], value: Any, field: str, limit: bool) -> None:
    """A union field: check ``value`` against the branch of its shape (scalar, list, map)."""
    for kind in kinds:
        shape = kind[0] if isinstance(kind, tuple) else "scalar"
        if (
            (shape == "items" and isinstance(value, (list, tuple)))
            or (shape == "values" and isinstance(value, Mapping))
            or (shape == "scalar" and not isinstance(value, (list, tuple, Mapping)))
        ):
            if shape == "scalar" and kind != "bool" and "bool" in kinds and isinstance(value, bool):
                return  # int | bool and the like: a boolean is one of the choices
            check_value(kind, value, field, limit)
            return


def non_blank(name: str) -> str:
    """``name`` if it has a visible character; a SpecError for an empty or blank name."""
    if not name.strip():
        raise SpecError(
            f"the name {name!r} is blank",
            fix="give it a name (ops, levels, models and devices are named)",
        )
    return name


#: a name: a string with a visible character (ops, memory levels, models, devices)
Name = Annotated[str, AfterValidator(non_blank)]


def _show(value: float | int) -> str:
    if isinstance(value, int) and value.bit_length() > 64:
        return f"an integer of {value.bit_length()} bits"
    return f"{value:.6g}" if isinstance(value, float) else str(value)


class SpecModel(BaseModel):
    """Base of a spec block (a device's engines and levels, a system, a family's parameters):
    frozen, unknown fields refused, plain values checked (:func:`check_fields`, with ``limit``
    where :attr:`LIMIT_NUMBERS`), its dicts and lists read-only once made
    (:func:`roofline.frozen.freeze_fields`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    #: refuse any number beyond 2**53 in magnitude (sizes that become counts), not only integers
    LIMIT_NUMBERS: ClassVar[bool] = False

    @model_validator(mode="before")
    @classmethod
    def _plain_values(cls, data: Any) -> Any:
        check_fields(cls, data, limit=cls.LIMIT_NUMBERS)
        return data

    @model_validator(mode="after")
    def _read_only(self) -> Any:
        freeze_fields(self)
        return self
