"""Energy charts: where a sample's joules go (:func:`energy_breakdown`) and throughput against
power across devices and dtypes (:func:`throughput_vs_power`), with lines of equal samples per
joule. Each draws on ``ax`` (a new figure when None) and returns the Axes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from roofline.energy import energy_parts
from roofline.plot.common import axes, background, foreground, legend_handles, legend_outside
from roofline.result import Result

#: where the energy goes, in stacking order, and its color
PART_COLORS = {
    "compute": "#1f77b4",
    "onchip": "#2ca02c",
    "dram": "#ff7f0e",
    "host": "#9467bd",
    "static": "#7f7f7f",
}
#: a marker per dtype, so every energy chart reads the same
DTYPE_MARKERS = {"fp32": "s", "tf32": "D", "bf16": "^", "fp16": "o", "fp8": "v", "int8": "P"}


def parts_per_sample(r: Result, h: int, j: int) -> dict[str, float]:
    """Joules per sample of variant ``h`` at batch index ``j`` by :data:`PART_COLORS`
    (:func:`roofline.energy.energy_parts`)."""
    by = r.energy_by_part()[h, j] / float(r.costs.batch[j])
    return {p: float(v) for p, v in energy_parts(by, r.grid.level_kinds).items()}


def stacked_bars(
    ax: Any, labels: Sequence[str], parts: Sequence[dict[str, float]], scale: float = 1.0
) -> None:
    """Bars of ``parts`` (one dict per bar, keyed as :data:`PART_COLORS`) stacked, x ``scale``."""
    x = np.arange(len(labels))
    bottom = np.zeros(len(labels))
    for part, color in PART_COLORS.items():
        h = np.array([p.get(part, 0.0) for p in parts]) * scale
        if h.any():
            ax.bar(
                x, h, bottom=bottom, color=color, label=part, edgecolor=background(ax), width=0.8
            )
        bottom += h
    ax.set_xticks(x, labels, fontsize=7, rotation=30, ha="right")


def energy_breakdown(results: Result | Sequence[Result], ax: Any = None) -> Any:
    """Stacked joules per sample (compute, on-chip, DRAM, host, static) of every device variant
    and batch of ``results``, in mJ."""
    ax = axes(ax)
    rs = [results] if isinstance(results, Result) else list(results)
    labels, parts = [], []
    for r in rs:
        for h, dev in enumerate(r.grid.labels):
            for j, b in enumerate(r.costs.batch):
                labels.append(f"{r.costs.model}\n{dev} {r.costs.precision.name} b{b:g}")
                parts.append(parts_per_sample(r, h, j))
    stacked_bars(ax, labels, parts, scale=1e3)
    ax.set_ylabel("Energy per sample (mJ)")
    ax.grid(True, axis="y", alpha=0.3)
    legend_outside(ax, title="energy goes to")
    ax.set_title("Where a sample's energy goes", fontsize=10)
    return ax


def iso_efficiency(ax: Any, watts: Sequence[float], rates: Sequence[float]) -> None:
    """Dotted lines of equal samples per joule (throughput / power) across the data's span."""
    w = np.asarray([v for v in watts if v > 0 and np.isfinite(v)])
    s = np.asarray([v for v in rates if v > 0 and np.isfinite(v)])
    if not w.size or not s.size:
        return
    lo, hi = np.log10((s / w).min()), np.log10((s / w).max())
    xs = np.geomspace(w.min() / 1.5, w.max() * 1.5, 2)
    for k in range(int(np.floor(lo)), int(np.ceil(hi)) + 1):
        ax.plot(xs, xs * 10.0**k, ":", color="grey", lw=0.7)
        ax.annotate(f"{10.0**k:g}/J", (xs[-1], xs[-1] * 10.0**k), fontsize=6, color="grey")


def throughput_vs_power(results: Result | Sequence[Result], ax: Any = None) -> Any:
    """Power-capped throughput against average power, one point per (model, device variant,
    dtype, batch): color by device, marker by dtype, dotted lines of equal samples per joule; a
    point that does not fit the device is crossed out."""
    ax = axes(ax)
    rs = [results] if isinstance(results, Result) else list(results)
    devices = list(dict.fromkeys(d for r in rs for d in r.grid.labels))
    colors = {d: f"C{k % 10}" for k, d in enumerate(devices)}
    watts, rates = [], []
    seen: set[tuple[str, str]] = set()
    crossed = False
    for r in rs:
        dt = r.costs.precision.name
        for h, dev in enumerate(r.grid.labels):
            w, s = r.avg_power_w[h], r.capped_throughput_per_s[h]
            label = None if (dev, dt) in seen else f"{dev} {dt}"
            seen.add((dev, dt))
            ax.plot(w, s, DTYPE_MARKERS.get(dt, "o"), color=colors[dev], label=label, ms=6)
            bad = ~r.feasible[h]
            if bad.any():
                ax.plot(w[bad], s[bad], "x", color=foreground(), ms=10)
                crossed = True
            watts += list(w)
            rates += list(s)
    iso_efficiency(ax, watts, rates)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("Average power (W, power-capped)")
    ax.set_ylabel("Throughput (samples/s, power-capped)")
    ax.grid(True, which="major", alpha=0.3)
    legend_outside(ax, handles=legend_handles(ax, crossed), fontsize=7)
    ax.set_title("Throughput against power", fontsize=10)
    return ax


__all__ = ["energy_breakdown", "throughput_vs_power"]
