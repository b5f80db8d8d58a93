"""Display formatting: the only place quantities get human units (CSV/JSON stay raw SI)."""

from __future__ import annotations

import math
from typing import Any

_SI = [(1e18, "E"), (1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")]


def si(x: float, unit: str = "", digits: int = 3) -> str:
    """``1.23e12, 'FLOP'`` -> ``'1.23 TFLOP'`` (powers of 1000)."""
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "-" if x is None else str(x)
    ax = abs(x)
    for scale, prefix in _SI:
        if ax >= scale:
            return f"{x / scale:.{digits}g} {prefix}{unit}".rstrip()
    return f"{x:.{digits}g} {unit}".rstrip()


_IEC = [(2.0**50, "PiB"), (2.0**40, "TiB"), (2.0**30, "GiB"), (2.0**20, "MiB"), (2.0**10, "KiB")]


def fmt_bytes(x: float) -> str:
    """Bytes with decimal prefixes (``51.1 MB``), or binary ones for sizes that are whole binary
    units (``40 MiB``, ``80 GiB``: how capacities are specified)."""
    if x is not None and math.isfinite(x) and x >= 1024:
        scale, unit = next((s, u) for s, u in _IEC if x >= s)
        # whole KiB at the KiB scale, whole 1/1024ths of the unit above it (96.25 MiB)
        if x % (scale / 1024 if scale > 1024 else 1024) == 0:
            return f"{x / scale:.4g} {unit}"
    return si(x, "B")


def fmt_time(x: float) -> str:
    """Seconds as ns, us, ms or s."""
    if x is None or not math.isfinite(x):
        return "-" if x is None else str(x)
    ax = abs(x)
    for scale, unit in ((1.0, "s"), (1e-3, "ms"), (1e-6, "us"), (1e-9, "ns")):
        if ax >= scale or scale == 1e-9:
            return f"{x / scale:.3g} {unit}"
    return f"{x:.3g} s"  # pragma: no cover


def format_value(column: str, v: Any) -> str:
    """Format one cell by its column's unit suffix."""
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "NO"
    if not isinstance(v, (int, float)):
        return str(v)
    if column == "batch" or column.endswith(("_count", "devices_needed")) or column == "rank":
        return f"{v:g}"
    if column.endswith("_s") and not column.endswith("per_s"):
        return fmt_time(v)
    if column.endswith("bytes"):
        return fmt_bytes(v)
    if column.endswith("bytes_per_s") or column.endswith("bandwidth"):
        return si(v, "B/s")
    if column.endswith("flops_per_s") or ".peak." in column:
        return si(v, "FLOP/s")
    if column.endswith("per_s"):
        return si(v, "/s")
    if "utilization" in column or column.endswith("share"):
        return f"{100 * v:.1f}%"
    if "flops" in column and "intensity" not in column:
        return si(v, "FLOP")
    if column in ("params",) or column.endswith("_params"):
        return si(v)
    if "intensity" in column or "ratio" in column or "speedup" in column:
        return f"{v:.3g}"
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def format_table(table: Any, markdown: bool = False) -> str:
    """Render a :class:`~roofline.table.Table` for people."""
    cols = list(table.columns)
    body = [[format_value(c, v) for c, v in zip(cols, r)] for r in table.rows]
    if markdown:
        lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
        lines += ["| " + " | ".join(r) + " |" for r in body]
        return "\n".join(lines) + "\n"
    widths = [max([len(c)] + [len(r[i]) for r in body]) for i, c in enumerate(cols)]
    out = [table.title] if table.title else []
    out.append("  ".join(c.ljust(w) for c, w in zip(cols, widths)))
    out.append("  ".join("-" * w for w in widths))
    for r in body:
        out.append("  ".join(v.rjust(w) if _numeric(v) else v.ljust(w) for v, w in zip(r, widths)))
    return "\n".join(out) + "\n"


def _numeric(s: str) -> bool:
    return bool(s) and (s[0].isdigit() or s[0] in "-.") and s != "-"
