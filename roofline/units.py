"""Quantities with units: ``"2.039 TB/s"``, ``"40 MiB"``, ``"312 TFLOP/s"``, ``"5 us"`` in SI.

SI prefixes are powers of 1000 (``GB`` = 1e9 B) and IEC prefixes powers of 1024
(``GiB`` = 2**30 B); they are never mixed up. Inside the package every quantity is a float in base
SI units: bytes, bytes per second, FLOP (or OP) per second, seconds, joules (per FLOP or per
byte), watts, US dollars, dollars per joule and dollars per second.

Where a unit is expected, text must carry it: ``"5"`` is refused with the fix (``write 5 s or
5 us``), in a spec file and on the command line alike; so is a bare YAML number in a spec file's
quantity field (``per_op: 5``, ``require_unit``; :data:`SPEC_FILE_CONTEXT`). Only zero needs no
unit. A Python number given to the API (a knob value, an SLA, a field of a spec mapping built in
Python) is already in base SI units. Bits (``b``, ``bit``) are
converted to bytes (``pJ/bit`` x 8 = ``pJ/B``). Money is in US dollars, written ``$25000``,
``$25k``, ``25000 USD`` (or ``25 kUSD``), ``$0.1/kWh`` or ``2.5 $/h``. A year is 365 days.
The number and its unit's multiplier are multiplied in decimal, so ``"2.039 TB/s"`` is exactly
the float nearest 2.039e12 (no ``2039000000000.0002``). Display formatting lives in
:mod:`roofline.formatting`.
"""

from __future__ import annotations

import difflib
import math
import re
from decimal import Decimal
from enum import Enum

from roofline.errors import UnitError, short_repr

#: the largest integer a float holds exactly, 2**53: the bound of every size, count and batch a
#: spec or an argument may give (roofline.field_checks, roofline.counting.as_batches)
MAX_EXACT = 2**53


class Dim(str, Enum):
    """Physical dimension of a quantity."""

    BYTES = "bytes"
    BANDWIDTH = "bytes/s"
    RATE = "FLOP/s"
    TIME = "s"
    FREQUENCY = "Hz"
    COUNT = "count"
    ENERGY = "J"
    ENERGY_PER_BYTE = "J/B"
    POWER = "W"
    MONEY = "$"
    MONEY_PER_ENERGY = "$/J"
    MONEY_PER_TIME = "$/s"


_SI = {"": 1.0, "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18}
#: sub-unit prefixes, only for energy and power (``pJ``, ``nJ``, ``mW``): never for bytes or rates
_SMALL = {"m": 1e-3, "u": 1e-6, "µ": 1e-6, "n": 1e-9, "p": 1e-12, "f": 1e-15}
_SMALL_DIMS = ("J", "J/B", "W")
_IEC = {"Ki": 2.0**10, "Mi": 2.0**20, "Gi": 2.0**30, "Ti": 2.0**40, "Pi": 2.0**50, "Ei": 2.0**60}
_TIME = {
    "s": 1.0,
    "ms": 1e-3,
    "us": 1e-6,
    "µs": 1e-6,
    "ns": 1e-9,
    "min": 60.0,
    "h": 3600.0,
    "d": 86400.0,
    "day": 86400.0,
    "days": 86400.0,
    "y": 365 * 86400.0,
    "yr": 365 * 86400.0,
    "year": 365 * 86400.0,
    "years": 365 * 86400.0,
}

# unit body -> (dimension, multiplier to base SI)
_UNITS: dict[str, tuple[Dim, float]] = {
    "B": (Dim.BYTES, 1.0),
    "byte": (Dim.BYTES, 1.0),
    "bytes": (Dim.BYTES, 1.0),
    "b": (Dim.BYTES, 0.125),
    "bit": (Dim.BYTES, 0.125),
    "B/s": (Dim.BANDWIDTH, 1.0),
    "Bps": (Dim.BANDWIDTH, 1.0),
    "b/s": (Dim.BANDWIDTH, 0.125),
    "bit/s": (Dim.BANDWIDTH, 0.125),
    "FLOP/s": (Dim.RATE, 1.0),
    "FLOPS": (Dim.RATE, 1.0),
    "OP/s": (Dim.RATE, 1.0),
    "OPS": (Dim.RATE, 1.0),
    "Hz": (Dim.FREQUENCY, 1.0),
    "J": (Dim.ENERGY, 1.0),
    "J/FLOP": (Dim.ENERGY, 1.0),
    "J/OP": (Dim.ENERGY, 1.0),
    "J/B": (Dim.ENERGY_PER_BYTE, 1.0),
    "J/byte": (Dim.ENERGY_PER_BYTE, 1.0),
    "J/b": (Dim.ENERGY_PER_BYTE, 8.0),
    "J/bit": (Dim.ENERGY_PER_BYTE, 8.0),
    "W": (Dim.POWER, 1.0),
    "$": (Dim.MONEY, 1.0),
    "USD": (Dim.MONEY, 1.0),
}

# money rates: the prefix belongs to the denominator's unit (``$/kWh``), so they are listed whole
_MONEY_RATES: dict[str, tuple[Dim, float]] = {
    **{f"{cur}/{u}": (Dim.MONEY_PER_ENERGY, 1.0 / j) for cur in ("$", "USD") for u, j in (
        ("J", 1.0), ("kJ", 1e3), ("MJ", 1e6), ("GJ", 1e9),
        ("Wh", 3600.0), ("kWh", 3.6e6), ("MWh", 3.6e9),
    )},
    **{f"{cur}/{u}": (Dim.MONEY_PER_TIME, 1.0 / t) for cur in ("$", "USD") for u, t in (
        ("s", 1.0), ("min", 60.0), ("h", 3600.0), ("hr", 3600.0), ("hour", 3600.0),
        ("day", 86400.0), ("month", 365 * 86400.0 / 12), ("year", 365 * 86400.0),
        ("y", 365 * 86400.0),
    )},
}  # fmt: skip

#: dimensions whose spec fields demand a unit (a bare number is refused with the fix)
UNIT_REQUIRED = frozenset(
    {
        Dim.ENERGY,
        Dim.ENERGY_PER_BYTE,
        Dim.POWER,
        Dim.MONEY,
        Dim.MONEY_PER_ENERGY,
        Dim.MONEY_PER_TIME,
    }
)

_NUMBER = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?|[-+]?inf|nan"
_PATTERN = re.compile(rf"^\s*(?P<num>{_NUMBER})\s*(?P<unit>[A-Za-zµ/$]*)\s*$")
# ``$25000``, ``$25k``, ``$0.1/kWh``: the dollar sign written first
_DOLLAR_FIRST = re.compile(
    rf"^\s*\$\s*(?P<num>{_NUMBER})\s*(?P<prefix>[kMG]?)\s*(?P<rest>/\S*)?\s*$"
)


def _unit_factor(unit: str) -> tuple[Dim, float] | None:
    if unit in _TIME:
        return Dim.TIME, _TIME[unit]
    if unit in _MONEY_RATES:
        return _MONEY_RATES[unit]
    if unit in _UNITS:
        return _UNITS[unit]
    for table in (_IEC, _SI, _SMALL):
        for prefix in sorted(table, key=len, reverse=True):
            if prefix and unit.startswith(prefix) and unit[len(prefix) :] in _UNITS:
                dim, mult = _UNITS[unit[len(prefix) :]]
                if table is _SMALL and dim.value not in _SMALL_DIMS:
                    continue
                return dim, mult * table[prefix]
    return None


_EXAMPLE = {
    Dim.BYTES: "e.g. '40 MiB' or '80 GB'",
    Dim.BANDWIDTH: "e.g. '2.039 TB/s' or '900 GB/s'",
    Dim.RATE: "e.g. '312 TFLOP/s' or '624 TOP/s'",
    Dim.TIME: "e.g. '5 us' or '10 ms'",
    Dim.FREQUENCY: "e.g. '1.41 GHz'",
    Dim.COUNT: "a plain number, e.g. 1024 or 1e6",
    Dim.ENERGY: "e.g. '0.6 pJ' (per FLOP) or '1.2 nJ'",
    Dim.ENERGY_PER_BYTE: "e.g. '28 pJ/B' or '3.5 pJ/bit'",
    Dim.POWER: "e.g. '700 W' or '1.2 kW'",
    Dim.MONEY: "e.g. '$25000', '$25k' or '25000 USD'",
    Dim.MONEY_PER_ENERGY: "e.g. '$0.1/kWh' or '0.1 $/kWh'",
    Dim.MONEY_PER_TIME: "e.g. '$2.5/h' or '2.5 $/h'",
}

#: the units a bare number might have meant, for the fix of a refused bare number: the base unit
#: it used to be read in, then the unit such figures are usually written in
_BARE_FIX = {
    Dim.BYTES: ("B", "MiB"),
    Dim.BANDWIDTH: ("B/s", "GB/s"),
    Dim.RATE: ("FLOP/s", "TFLOP/s"),
    Dim.TIME: ("s", "ms", "us"),
    Dim.FREQUENCY: ("Hz", "GHz"),
    Dim.ENERGY: ("J", "pJ"),
    Dim.ENERGY_PER_BYTE: ("J/B", "pJ/B"),
    Dim.POWER: ("W",),
    Dim.MONEY_PER_ENERGY: ("$/J", "$/kWh"),
    Dim.MONEY_PER_TIME: ("$/s", "$/h"),
}

#: the base unit of each dimension as written in a spec (what a dumped spec carries)
BASE_UNIT = {
    Dim.BYTES: "B",
    Dim.BANDWIDTH: "B/s",
    Dim.RATE: "FLOP/s",
    Dim.TIME: "s",
    Dim.FREQUENCY: "Hz",
    Dim.ENERGY: "J",
    Dim.ENERGY_PER_BYTE: "J/B",
    Dim.POWER: "W",
    Dim.MONEY: "$",
    Dim.MONEY_PER_ENERGY: "$/J",
    Dim.MONEY_PER_TIME: "$/s",
}


def bare_number_fix(value: object, dim: Dim) -> str:
    """The fix for a number written without its unit: ``write 5 s or 5 us``."""
    text = str(value).strip() if isinstance(value, str) else short_repr(value)
    if dim == Dim.MONEY:
        return f"write it with its unit: '${text}' or '{text} USD'"
    units = _BARE_FIX.get(dim, (dim.value,))
    return "write it with its unit: " + " or ".join(f"'{text} {u}'" for u in units)


def _suggest_unit(unit: str, dim: Dim) -> str:
    """``did you mean 'MiB'?`` for a mistyped unit of ``dim`` (case slips first), or an example."""
    if dim == Dim.TIME:
        names = list(_TIME)
    elif dim in (Dim.MONEY_PER_ENERGY, Dim.MONEY_PER_TIME):
        names = [n for n, (d, _) in _MONEY_RATES.items() if d == dim]
    else:
        bodies = [b for b, (d, _) in _UNITS.items() if d == dim]
        small = _SMALL if dim.value in _SMALL_DIMS else {}
        prefixes = ("", *_SI, *small, *(_IEC if dim in (Dim.BYTES, Dim.BANDWIDTH) else ()))
        names = [p + b for b in bodies for p in prefixes]
    same = [n for n in names if n.lower() == unit.lower()]
    close = same or difflib.get_close_matches(unit, names, n=3, cutoff=0.6)
    if close:
        return "did you mean " + " or ".join(repr(n) for n in close[:3]) + "? " + _EXAMPLE[dim]
    return _EXAMPLE[dim]


def _times(number: str, mult: float) -> float:
    """``number`` (decimal text) x ``mult``, multiplied in decimal and rounded once to a float
    (in binary where the decimal exponent is out of range: the result is then 0 or infinite)."""
    x = float(number)
    if not math.isfinite(x) or x == 0:
        return x * mult
    try:
        return float(Decimal(number) * Decimal(repr(mult)))
    except ArithmeticError:
        return x * mult


def parse_quantity(
    value: object,
    dim: Dim,
    *,
    positive: bool = True,
    allow_zero: bool = False,
    require_unit: bool = False,
) -> float:
    """Return ``value`` as a float in base SI units of ``dim``.

    Parameters
    ----------
    value : str or int or float
        ``"2.039 TB/s"``, ``"40 MiB"``, ``"5 us"``, or a Python number already in base units.
        Text must carry its unit (``"5"`` is refused with the fix), except zero and
        dimensionless counts.
    dim : Dim
        The dimension the value must have.
    positive : bool
        Reject zero and negative values (rates and capacities).
    allow_zero : bool
        With ``positive``, still accept exactly zero (overheads).
    require_unit : bool
        Refuse a bare number too (the quantity fields of a spec file): the fix writes the
        number with the units it may have meant.

    Raises
    ------
    UnitError
        Unparseable string, missing unit, wrong dimension, NaN or infinite, or not positive.
    """
    if isinstance(value, bool):
        raise UnitError(f"{value!r} is not a quantity", fix=_EXAMPLE[dim])
    if isinstance(value, (int, float)):
        try:
            number = float(value)
        except OverflowError:
            bits = value.bit_length() if isinstance(value, int) else 0
            raise UnitError(
                f"an integer of {bits} bits is beyond float range", fix=_EXAMPLE[dim]
            ) from None
        if require_unit and number != 0 and math.isfinite(number) and dim != Dim.COUNT:
            raise UnitError(f"{short_repr(value)} has no unit", fix=bare_number_fix(value, dim))
    elif isinstance(value, str):
        dollar = _DOLLAR_FIRST.match(value)
        text = value
        if dollar:
            text = f"{dollar['num']} {dollar['prefix']}${dollar['rest'] or ''}"
        match = _PATTERN.match(text)
        if not match:
            raise UnitError(f"cannot parse {value!r} as a quantity", fix=_EXAMPLE[dim])
        unit = match.group("unit")
        number = float(match.group("num"))
        if not unit and number != 0 and math.isfinite(number) and dim != Dim.COUNT:
            raise UnitError(f"{value!r} has no unit", fix=bare_number_fix(value, dim))
        if unit:
            found = _unit_factor(unit)
            if found is None:
                raise UnitError(f"unknown unit {unit!r} in {value!r}", fix=_suggest_unit(unit, dim))
            got_dim, mult = found
            if got_dim != dim:
                raise UnitError(
                    f"{value!r} is a {got_dim.value} quantity where {dim.value} is expected",
                    fix=_EXAMPLE[dim],
                )
            number = _times(match.group("num"), mult)
    else:
        raise UnitError(f"{value!r} is not a quantity", fix=_EXAMPLE[dim])
    if not math.isfinite(number):
        raise UnitError(f"{short_repr(value)} is not finite", fix=_EXAMPLE[dim])
    if positive and (number < 0 or (number == 0 and not allow_zero)):
        need = "non-negative" if allow_zero else "positive"
        raise UnitError(f"{short_repr(value)} must be {need}", fix=_EXAMPLE[dim])
    return number


#: the pydantic validation context of a spec read from a file: its quantity fields need units
SPEC_FILE_CONTEXT = {"units": "required"}


def units_required(context: object) -> bool:
    """Whether a pydantic validation ``context`` is that of a spec file
    (:data:`SPEC_FILE_CONTEXT`), whose bare numbers are refused."""
    return isinstance(context, dict) and context.get("units") == "required"


def parse_range(text: str, dim: Dim, *, allow_zero: bool = False) -> list[float]:
    """Parse a sweep range: ``"a,b,c"`` or ``"start:stop:n[:lin|log]"`` into SI floats.

    ``"0.5TB/s:8TB/s:16:log"`` gives 16 log-spaced points from 0.5 to 8 TB/s inclusive. Each
    value needs its unit (zero excepted, where ``allow_zero``). Interior points are rounded to
    15 significant digits, so that a table shows ``1e+12``, not ``999999999999.9999``.
    """
    text = text.strip()
    if ":" in text:
        parts = text.split(":")
        if len(parts) not in (3, 4):
            raise UnitError(
                f"cannot parse range {text!r}", fix="use start:stop:count[:lin|log] or a,b,c"
            )
        start = parse_quantity(parts[0], dim, allow_zero=allow_zero)
        stop = parse_quantity(parts[1], dim, allow_zero=allow_zero)
        try:
            count = int(parts[2])
        except ValueError:
            raise UnitError(
                f"point count {parts[2]!r} in {text!r} is not an integer",
                fix="e.g. 0.5TB/s:8TB/s:16",
            ) from None
        if count < 1:
            raise UnitError(f"point count in {text!r} must be at least 1", fix="e.g. ...:16")
        scale = parts[3] if len(parts) == 4 else "lin"
        if scale not in ("lin", "log"):
            raise UnitError(f"unknown spacing {scale!r} in {text!r}", fix="use lin or log")
        if count == 1:
            return [start]
        if scale == "log":
            if start <= 0:
                raise UnitError(f"a log range cannot start at {parts[0]!r}", fix="use lin")
            ratio = (stop / start) ** (1.0 / (count - 1))
            inner = [start * ratio**i for i in range(1, count - 1)]
        else:
            step = (stop - start) / (count - 1)
            inner = [start + step * i for i in range(1, count - 1)]
        return [start, *(float(f"{x:.15g}") for x in inner), stop]
    values = [v for v in text.split(",") if v.strip()]
    if not values:
        raise UnitError(f"empty value list {text!r}", fix="give a,b,c or start:stop:count")
    return [parse_quantity(v, dim, allow_zero=allow_zero) for v in values]
