"""Charts of the energy study (:mod:`roofline.studies.energy`): where the joules go per model and
dtype on the study's first device, the saving of each dtype over the reference, and throughput
against power across devices and dtypes."""

from __future__ import annotations

from typing import Any

import numpy as np

from roofline.plot.common import background, foreground, legend_outside
from roofline.plot.energy import DTYPE_MARKERS, iso_efficiency, stacked_bars
from roofline.plot.studies.common import rows_where

_PARTS = {"compute": "compute_j", "onchip": "onchip_j", "dram": "dram_j", "host": "host_j",
          "static": "static_j"}  # fmt: skip


def breakdown(study: Any, ax: Any) -> None:
    """Joules per sample of each model and dtype on the study's first device, as a fraction of
    the model's reference-dtype energy, stacked by where they go."""
    device = study.table[0]["device"]
    rs = [r for r in rows_where(study, device=device) if r["feasible"]]
    models = list(dict.fromkeys(r["model"] for r in rs))
    labels, parts = [], []
    for m in models:
        sel = [r for r in rs if r["model"] == m]
        ref = sel[0]["energy_per_sample_j"]
        for r in sel:
            labels.append(f"{m} {r['dtype']}")
            parts.append({p: r[col] / ref for p, col in _PARTS.items()})
    stacked_bars(ax, labels, parts)
    ax.axhline(1.0, color=foreground(), lw=0.8)
    ax.set_ylabel(f"Energy per sample (x the model's {study.table[0]['dtype']})")
    ax.grid(True, axis="y", alpha=0.3)
    legend_outside(ax, title="energy goes to")
    ax.set_title(f"Where the energy goes on {device}", fontsize=10)


def saving(study: Any, ax: Any) -> None:
    """Energy saved over the reference dtype, per model, for each device and narrower dtype."""
    rs = [r for r in study.table if r["saving"] is not None and r["saving"] != 0.0]
    models = list(dict.fromkeys(r["model"] for r in study.table))
    series = list(dict.fromkeys((r["device"], r["dtype"]) for r in rs))
    w = 0.8 / max(1, len(series))
    devices = list(dict.fromkeys(d for d, _ in series))
    for k, (dev, dt) in enumerate(series):
        vals = []
        for m in models:
            sel = [r for r in rs if r["model"] == m and r["device"] == dev and r["dtype"] == dt]
            vals.append(100 * sel[0]["saving"] if sel else np.nan)
        x = np.arange(len(models)) + (k - (len(series) - 1) / 2) * w
        hatch = None if dt == "fp16" else "///"
        ax.bar(x, vals, width=w, color=f"C{devices.index(dev) % 10}", hatch=hatch,
               edgecolor=background(ax), label=f"{dev} {dt}")  # fmt: skip
    ax.set_xticks(np.arange(len(models)), models, fontsize=7, rotation=15, ha="right")
    ax.set_ylabel(f"Energy saved over {study.table[0]['dtype']} (%)")
    ax.set_ylim(0, 119)
    ax.grid(True, axis="y", alpha=0.3)
    legend_outside(ax, fontsize=7)
    ax.set_title("What narrower data save per sample", fontsize=10)


def power(study: Any, ax: Any) -> None:
    """Power-capped throughput against average power of every (model, device, dtype) that fits:
    color by device, marker by dtype, dotted lines of equal samples per joule."""
    rs = [r for r in study.table if r["feasible"]]
    devices = list(dict.fromkeys(r["device"] for r in rs))
    seen: set[tuple[str, str]] = set()
    for r in rs:
        key = (r["device"], r["dtype"])
        ax.plot(
            r["avg_power_w"],
            r["throughput_per_s"],
            DTYPE_MARKERS.get(r["dtype"], "o"),
            color=f"C{devices.index(r['device']) % 10}",
            label=None if key in seen else f"{r['device']} {r['dtype']}",
            ms=6,
        )
        seen.add(key)
    iso_efficiency(ax, [r["avg_power_w"] for r in rs], [r["throughput_per_s"] for r in rs])
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("Average power (W, power-capped)")
    ax.set_ylabel("Throughput (samples/s, power-capped)")
    ax.grid(True, which="major", alpha=0.3)
    legend_outside(ax, fontsize=7)
    ax.set_title("Throughput against power (every model)", fontsize=10)
