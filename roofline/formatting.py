"""Display formatting: the only place quantities get human units (CSV, JSON and Parquet stay raw
SI numbers, as their columns' suffixes name them).

One prefix convention per kind of quantity (``UNITS``, ``--units``):

* ``kind`` (the default): capacities and footprints (memory capacity, weights, live
  activations, KV cache, shortfall) in IEC prefixes, powers of 1024 (``40 MiB``), as memories are
  sized; bytes moved and bandwidths in SI prefixes, powers of 1000 (``51.1 MB``, ``2.04 TB/s``),
  as links are rated;
* ``si``: every byte count and bandwidth in SI prefixes;
* ``iec``: every byte count and bandwidth in IEC prefixes (``1.86 TiB/s``).

Compute rates are always SI (``312 TFLOP/s``; ``TOP/s`` for integer dtypes), times in
``s ms us ns``, energies in ``J mJ uJ nJ pJ``, power in ``W kW``, money in dollars. A column's
kind follows its name (:func:`column_kind`): the suffixes of the tables (``_s``, ``_bytes``,
``_per_s``, ``_j``, ``_w``) and the knob paths of sweeps (``memory.hbm.bandwidth``). A value
column beside a ``knob`` column (sensitivity's ``base_value``) takes that row's knob's kind.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

#: the prefix conventions of :func:`format_value` (module docstring)
UNITS = ("kind", "si", "iec")

_SI = [(1e18, "E"), (1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")]
_SUB = [(1.0, ""), (1e-3, "m"), (1e-6, "u"), (1e-9, "n"), (1e-12, "p"), (1e-15, "f")]
_IEC = [(2.0**50, "Pi"), (2.0**40, "Ti"), (2.0**30, "Gi"), (2.0**20, "Mi"), (2.0**10, "Ki")]
_INT_DTYPES = ("int8", "int4", "int32", "int64")
#: byte columns that are capacities or footprints (IEC by default); other byte columns are bytes
#: moved (SI by default)
_CAPACITY_WORDS = ("capacity", "footprint", "live_activation", "shortfall", "fit")
_CAPACITY_COLUMNS = ("weight_bytes", "kv_cache_bytes", "onchip_bytes", "tables_bytes")


def _missing(x: Any) -> str | None:
    """``-`` for None, the float's text for NaN and inf, None for a finite number."""
    if x is None:
        return "-"
    if isinstance(x, float) and not math.isfinite(x):
        return "-" if math.isnan(x) else str(x)
    return None


def _prefixed(
    x: float, scales: list[tuple[float, str]], digits: int, up: bool = False
) -> tuple[str, str]:
    """(``x`` at ``digits`` significant digits, its prefix): the largest of ``scales`` (largest
    first; the last one is the floor) at which ``x`` *rounded* is at least 1, so that a value
    rounding up to the next prefix takes it (``999.7e6`` is ``1 G``, never ``1e+03 M``). With
    ``up`` (powers of 1024), a value ``digits`` cannot write at its prefix (1000 to 1023 of it)
    is a fraction of the next (``0.977 GiB``, never ``1e+03 MiB``). The one place every prefix
    of this module is chosen."""

    def rounded(i: int) -> float:  # |x| at scales[i], rounded to `digits` digits
        return float(f"{abs(x) / scales[i][0]:.{digits}g}")

    # the first scale |x| reaches, or the one above it where |x| rounds up to 1 (adjacent
    # scales are at least 365x apart, so no other can round to 1 or more)
    i = next((i for i, (scale, _) in enumerate(scales) if abs(x) >= scale), len(scales) - 1)
    if i > 0 and rounded(i - 1) >= 1:
        i -= 1
    if up and i > 0 and rounded(i) >= 10**digits:
        i -= 1
    scale, prefix = scales[i]
    return f"{x / scale:.{digits}g}", prefix


def si(x: float, unit: str = "", digits: int = 3) -> str:
    """``1.23e12, 'FLOP'`` -> ``'1.23 TFLOP'`` (powers of 1000; no prefix below 1)."""
    if (text := _missing(x)) is not None:
        return text
    value, prefix = _prefixed(x, [*_SI, (1.0, "")], digits)
    return f"{value} {prefix}{unit}".rstrip()


def si_small(x: float, unit: str, digits: int = 3) -> str:
    """``2.5e-12, 'J'`` -> ``'2.5 pJ'``: powers of 1000 down to femto (energy, power) and up."""
    if (text := _missing(x)) is not None:
        return text
    if x == 0:
        return si(x, unit, digits)
    value, prefix = _prefixed(x, [*_SI, *_SUB], digits)
    return f"{value} {prefix}{unit}"


def iec(x: float, unit: str = "B", digits: int = 3) -> str:
    """``41943040, 'B'`` -> ``'40 MiB'`` (powers of 1024)."""
    if (text := _missing(x)) is not None:
        return text
    value, prefix = _prefixed(x, [*_IEC, (1.0, "")], digits, up=True)
    return f"{value} {prefix}{unit}"


def fmt_bytes(x: float, iec_prefixes: bool = True) -> str:
    """Bytes in IEC prefixes (``40 MiB``: capacities, as memories are sized) or, with
    ``iec_prefixes=False``, SI prefixes (``51.1 MB``: bytes moved)."""
    return iec(x, "B") if iec_prefixes else si(x, "B")


#: the units of :func:`fmt_time`, largest first: years and days for long spans, ns the floor
_TIME = [(365 * 86400.0, "y"), (86400.0, "d"), (1.0, "s"), (1e-3, "ms"), (1e-6, "us"), (1e-9, "ns")]


def fmt_time(x: float) -> str:
    """Seconds as ns, us, ms or s (days and years for long spans)."""
    if (text := _missing(x)) is not None:
        return text
    if x == 0:
        return "0 s"
    value, unit = _prefixed(x, _TIME, 3)
    return f"{value} {unit}"


def fmt_money(x: float) -> str:
    """Dollars: ``$0.0421``, ``$25k``."""
    if (text := _missing(x)) is not None:
        return text
    value, prefix = _prefixed(x, [*_SI, (1.0, "")], 3)
    return f"${value}{prefix}"


def fmt_count(x: float) -> str:
    """A whole count exactly, every digit (``12345678``, as table cells write a batch); a
    fractional one at 4 significant digits."""
    if (text := _missing(x)) is not None:
        return text
    if isinstance(x, float) and not x.is_integer():
        return f"{x:.4g}"
    return str(int(x))


def column_kind(column: str) -> str:
    """The kind of quantity a column holds, by its name: ``time``, ``capacity``, ``bytes``
    (moved), ``bandwidth``, ``rate``, ``int_rate``, ``energy``, ``energy_per_byte``, ``power``,
    ``money``, ``money_per_energy``, ``money_per_time``, ``per_energy``, ``per_time``,
    ``fraction``, ``flops``, ``count``, ``ratio`` or ``plain``."""
    c = column
    if c.startswith("device."):  # a system sweep's device knob
        return column_kind(c[len("device.") :])
    if "_per_s_" in c:  # a rate qualified after its unit: tokens_per_s_bound, _per_user
        return column_kind(c[: c.index("_per_s_") + len("_per_s")])
    if c in ("batch", "rank", "index", "ops", "count", "tp", "pp", "cp", "ep", "dp", "layers"):
        return "count"
    if c.endswith(("_count", "devices_needed", "batch_under_sla", "_batch")):
        return "count"
    if c.startswith(("memory.", "interconnect.")):
        last = c.rsplit(".", 1)[-1]
        return {
            "capacity": "capacity",
            "granularity": "capacity",
            "bandwidth": "bandwidth",
            "latency": "time",
            "energy": "energy_per_byte",
        }.get(last, "plain")
    if c.startswith("engines."):
        parts = c.split(".")
        if parts[2] == "peak":
            return "int_rate" if parts[-1] in _INT_DTYPES else "rate"
        return "energy" if parts[2] == "energy" else "fraction"
    knob = {
        "overheads.per_op": "time",
        "power.tdp": "power",
        "power.idle": "power",
        "power.interconnect": "energy_per_byte",
        "cost.price": "money",
        "cost.lifetime": "time",
        "cost.electricity": "money_per_energy",
        "cost.pue": "ratio",
        "cost.hourly": "money_per_time",
    }.get(c)
    if knob:
        return knob
    if c.endswith("_s") and not c.endswith("per_s"):
        return "time"
    if c.endswith(("bytes_per_s", "bandwidth")):
        return "bandwidth"
    if c.endswith("bytes") or c.startswith("bytes"):
        capacity = any(w in c for w in _CAPACITY_WORDS) or c in _CAPACITY_COLUMNS
        return "capacity" if capacity else "bytes"
    if c.endswith("flops_per_s"):
        return "int_rate" if c.startswith("int") else "rate"
    if c.endswith("per_j"):
        return "per_energy"
    if c.endswith(("_j", "_joules")) or c == "energy_j":
        return "energy"
    if c.endswith("_w"):
        return "power"
    if c.startswith("cost_per") or c.endswith(("_usd", "_dollars")):
        return "money"
    if c.endswith("per_s"):
        return "per_time"
    if "utilization" in c or c.endswith(("share", "_fraction")) or c.endswith("efficiency"):
        return "fraction"
    if "flops" in c and "intensity" not in c:
        return "flops"
    if c == "params" or c.endswith(("_params", "activations", "_elements")):
        return "count_si"
    if "intensity" in c or "ratio" in c or "speedup" in c:
        return "ratio"
    return "plain"


def format_value(column: str, v: Any, units: str = "kind") -> str:
    """Format one cell by its column's kind (:func:`column_kind`) in the prefix convention
    ``units`` (:data:`UNITS`)."""
    if v is None:
        return "-"
    if isinstance(v, bool):
        if column == "feasible" or column.endswith("_feasible"):
            return "yes" if v else "NO"  # the alarm is for what does not fit
        return "yes" if v else "no"
    if not isinstance(v, (int, float)):
        return str(v)
    kind = column_kind(column)
    if kind == "count":
        return fmt_count(v)
    if kind == "time":
        return fmt_time(v)
    if kind in ("capacity", "bytes"):
        use_iec = units == "iec" or (units == "kind" and kind == "capacity")
        return fmt_bytes(v, iec_prefixes=use_iec)
    if kind == "bandwidth":
        return iec(v, "B/s") if units == "iec" else si(v, "B/s")
    simple = {
        "rate": lambda: si(v, "FLOP/s"),
        "int_rate": lambda: si(v, "OP/s"),
        "flops": lambda: si(v, "FLOP"),
        "energy": lambda: si_small(v, "J"),
        "energy_per_byte": lambda: si_small(v, "J/B"),
        "power": lambda: si_small(v, "W"),
        "money": lambda: fmt_money(v),
        "money_per_energy": lambda: f"{fmt_money(v * 3.6e6)}/kWh",
        "money_per_time": lambda: f"{fmt_money(v * 3600)}/h",
        "per_energy": lambda: si(v, "/J"),
        "per_time": lambda: si(v, "/s"),
        "fraction": lambda: f"{100 * v:.1f}%",
        "count_si": lambda: si(v),
        "ratio": lambda: f"{v:.3g}",
    }
    if kind in simple:
        return simple[kind]()
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


#: a table of one row with more columns than this prints vertically (one line per column)
VERTICAL_ABOVE = 4


def format_table(table: Any, markdown: bool = False, units: str = "kind") -> str:
    """Render a :class:`~roofline.table.Table` for people: aligned text or markdown, human units
    in the convention ``units``. One row of more than :data:`VERTICAL_ABOVE` columns prints
    vertically, a line per column."""
    cols = list(table.columns)
    knob = cols.index("knob") if "knob" in cols else None

    def cell(c: str, v: Any, row: tuple) -> str:
        if knob is not None and c.endswith("value") and isinstance(row[knob], str):
            return format_value(row[knob], v, units)  # a value of that row's knob
        return format_value(c, v, units)

    body = [[cell(c, v, r) for c, v in zip(cols, r)] for r in table.rows]
    vertical = len(body) == 1 and len(cols) > VERTICAL_ABOVE
    if vertical:
        cols, body = ["field", "value"], [[c, v] for c, v in zip(cols, body[0])]
    if markdown:
        lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
        lines += ["| " + " | ".join(r) + " |" for r in body]
        return "\n".join(lines) + "\n"
    widths = [max([len(c)] + [len(r[i]) for r in body]) for i, c in enumerate(cols)]
    out = [table.title] if table.title else []
    out.append("  ".join(c.ljust(w) for c, w in zip(cols, widths)).rstrip())
    out.append("  ".join("-" * w for w in widths))
    raws = [[None] * 2] * len(body) if vertical else table.rows  # vertical: all left
    for r, raw in zip(body, raws):
        # numbers right-aligned by their value, not their text: "2x_dgx_h100" is a name
        right = [_is_number(v) for v in raw]
        line = "  ".join(v.rjust(w) if k else v.ljust(w) for v, w, k in zip(r, widths, right))
        out.append(line.rstrip())
    return "\n".join(out) + "\n"


def _is_number(value: Any) -> bool:
    # numbers.Real covers numpy's integers and floats (registered), not its bool_
    return isinstance(value, numbers.Real) and not isinstance(value, bool)
