"""The physical range of every quantity of a device or system spec.

A value outside its range is a typo or a unit slip (a bandwidth of 1e-300 B/s, a launch
overhead of 1e308 s, an efficiency of 1e-320): it would pass "positive and finite" and then print
a latency of inf or 0 and a wrong bound. Each range is inclusive, in SI units, and wide enough for
any device from a microcontroller to a data-centre rack; hw_specs/README.md ("Ranges") lists
them. Change a range here.
"""

from __future__ import annotations

import numpy as np

from roofline.errors import SpecError

#: the physical range of every quantity of a device spec, inclusive, in SI units: a value outside
#: is a typo or a unit slip (1e-300 B/s, a 1e308 s launch overhead), refused at load with the
#: range (hw_specs/README.md lists them)
RANGES: dict[str, tuple[float, float]] = {
    "peak": (1e6, 1e30),  # FLOP/s: 1 MFLOP/s up; room above for an "unbounded" what-if engine
    "bandwidth": (1e3, 1e30),  # B/s: 1 kB/s up; room above for "unbounded" what-if memory
    "capacity": (1.0, 1e18),  # B: 1 byte to 1 EB
    "granularity": (1.0, 2.0**30),  # B: 1 byte to 1 GiB per access
    "efficiency": (1e-4, 1.0),  # fraction of peak or bandwidth
    "curve_size": (1e-3, 1e30),  # FLOPs or bytes of an efficiency curve point
    "per_op": (0.0, 1.0),  # s per launch
    "latency": (0.0, 1.0),  # s per collective step
    "energy_per_flop": (0.0, 1e-6),  # J: up to 1 uJ per FLOP
    "energy_per_byte": (0.0, 1e-6),  # J/B: up to 1 uJ per byte
    "tdp": (1e-3, 1e7),  # W: 1 mW to 10 MW
    "idle": (0.0, 1e7),  # W
    "price": (1e-2, 1e12),  # $
    "lifetime": (3600.0, 100 * 365 * 86400.0),  # s: an hour to a century
    "electricity": (0.0, 1e-3),  # $/J (1e-3 $/J = 3600 $/kWh)
    "pue": (1.0, 10.0),
    "hourly": (1e-9, 1e3),  # $/s
    "tile": (1, 2**16),  # elements per tile dimension
    # devices a system or an interconnect level joins: up to 2**20, five times the largest
    # clusters built (a typo such as 2**30 would send the layout search through every factoring)
    "devices": (1, 2**20),
}


def check_range(value: float, key: str, unit: str = "") -> float:
    """``value`` if it lies in ``RANGES[key]``, else a SpecError with the range."""
    lo, hi = RANGES[key]
    if not (lo <= value <= hi):
        u = f" {unit}" if unit else ""
        raise SpecError(
            f"{value:.6g}{u} is outside the physical range {lo:g} to {hi:g}{u}",
            fix="check the number and its unit (the ranges are in hw_specs/README.md)",
        )
    return value


def check_ranges(values: np.ndarray, key: str) -> np.ndarray:
    """``values`` [N] if every one lies in ``RANGES[key]``, else :func:`check_range`'s
    SpecError for the first that does not (two comparisons for the lot: a sweep's values)."""
    lo, hi = RANGES[key]
    with np.errstate(invalid="ignore"):
        bad = ~((values >= lo) & (values <= hi))
    if bad.any():
        check_range(float(values[np.flatnonzero(bad)[0]]), key)
    return values


def knob_range(path: str) -> str | None:
    """The :data:`RANGES` key of a knob path (``memory.hbm.bandwidth`` -> ``bandwidth``)."""
    parts = path.split(".")
    if parts[0] == "memory" and len(parts) == 3:
        return "energy_per_byte" if parts[2] == "energy" else parts[2]
    if parts[0] == "engines" and len(parts) >= 3:
        return {"peak": "peak", "efficiency": "efficiency", "energy": "energy_per_flop"}.get(
            parts[2]
        )
    if path == "power.interconnect":
        return "energy_per_byte"
    if parts[0] in ("overheads", "power", "cost") and len(parts) == 2:
        return parts[1] if parts[1] in RANGES else None
    return None
