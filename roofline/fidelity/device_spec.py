"""The device spec ``roofline calibrate`` writes: measured figures as the spec's unit strings,
efficiency curves, memory level entries with their sources, and the YAML text.
"""

from __future__ import annotations

from typing import Any

import yaml


def curve_entry(sizes: list[float], eff: list[float], source: str) -> dict[str, Any] | None:
    """A curve mapping (sizes rounded to 4 digits, efficiencies clipped to [0.01, 1]), or None
    when it would be flat at 1."""
    points: dict[float, float] = {}
    for s, x in zip(sizes, eff):
        points.setdefault(float(f"{s:.4g}"), round(float(min(1.0, max(0.01, x))), 3))
    if len(points) < 2 or min(points.values()) >= 0.999:
        return None
    return {"size": list(points), "efficiency": list(points.values()), "source": source}


def iec_text(x: float) -> str:
    """``x`` bytes in whole binary units where it has them (``32 KiB``, ``1.5 MiB``), else bytes."""
    for unit, scale in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if x >= scale and x % (scale // 16 or 1) == 0:
            return f"{x / scale:g} {unit}"
    return f"{int(x)} B"


def rate_text(x: float, unit: str) -> str:
    """A rate in giga-units with four digits (``123.4 GB/s``, ``unit`` ``B/s`` or ``FLOP/s``)."""
    return f"{x / 1e9:.4g} G{unit}"


def level_entry(
    kind: str,
    capacity: float,
    sizes: list[float],
    bw: list[float],
    raw: list[float],
    line: int,
    stamp: str,
    what: str,
) -> dict[str, Any]:
    """The spec mapping of one memory level measured at working sets ``sizes``: ``bw`` the rates
    as raised (non-increasing in size), ``raw`` as measured; an efficiency curve for an on-chip
    level whose rate falls with size."""
    best = max(bw)
    # above the last cache the working set no longer changes the rate: DRAM gets no curve
    how = f"{stamp}; read rate at each working set over the best"
    curve = curve_entry(sizes, [b / best for b in bw], how) if kind == "onchip" else None
    out: dict[str, Any] = {
        "kind": kind,
        "capacity": iec_text(capacity),
        "bandwidth": rate_text(best, "B/s"),
        "granularity": f"{line} B",
    }
    if curve:
        out["efficiency_curve"] = curve
    out["source"] = (
        f"{stamp}; {what}; best streaming read (np.max, BLAS gemv) at working sets "
        + ", ".join(iec_text(s) for s in sizes)
    )
    pts = ", ".join(f"{iec_text(s)} {rate_text(b, 'B/s')}" for s, b in zip(sizes, raw))
    out["note"] = (
        f"measured: {pts}; each rate is raised to the best at a larger working set "
        "and to the next slower level's"
    )
    return out


def to_yaml(spec: dict[str, Any]) -> str:
    """The spec as YAML text (keys in the order written)."""
    header = "# Written by `python -m roofline calibrate`: every figure measured on this machine.\n"
    return header + yaml.safe_dump(spec, sort_keys=False, width=100, allow_unicode=True)
