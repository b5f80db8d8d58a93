"""The chart of a design-space sweep (:func:`roofline.sweep`): a metric against one varied knob
(lines) or two (a heat map)."""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import LogNorm

from roofline.errors import SpecError
from roofline.formatting import format_value
from roofline.sweeps import SweepTable


def plot_sweep(
    table: SweepTable, metric: str = "latency_s", ax: Any = None, title: str | None = None
) -> Any:
    """Plot ``metric`` over the sweep's knobs: lines for one knob, a heat map for two.

    One line (or panel) per model, batch and dtype for one knob; for two knobs, the first model,
    batch and dtype as a log-colored heat map. Returns the matplotlib Figure.
    """
    knobs = list(table.knobs)
    if not knobs or len(knobs) > 2:
        raise SpecError(
            f"plot needs one or two varied knobs, got {len(knobs)}",
            field="--plot",
            fix="vary one or two knobs",
        )
    fig = ax.figure if ax is not None else plt.figure(figsize=(7, 4.5))
    ax = ax or fig.add_subplot(111)
    y = table.column(metric).astype(float)
    keys = list(zip(table.column("model"), table.column("batch"), table.column("dtype")))
    series = list(dict.fromkeys(keys))
    unit = {
        "latency_s": "latency (s)",
        "throughput_per_s": "throughput (samples/s)",
        "utilization": "utilization (fraction of matrix peak)",
    }.get(metric, metric)
    if len(knobs) == 1:
        x = table.column(knobs[0]).astype(float)
        for key in series:
            sel = np.array([k == key for k in keys])
            order = np.argsort(x[sel])
            ax.plot(
                x[sel][order],
                y[sel][order],
                marker="o",
                ms=3,
                label=f"{key[0]} b={format_value('batch', key[1])} {key[2]}",
            )
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(axis_label(knobs[0]))
        ax.set_ylabel(unit)
        ax.legend(fontsize=8)
        ax.grid(True, which="both", alpha=0.3)
    else:
        key = series[0]
        sel = np.array([k == key for k in keys])
        x0, x1 = (
            table.column(knobs[0])[sel].astype(float),
            table.column(knobs[1])[sel].astype(float),
        )
        u0, u1 = np.unique(x0), np.unique(x1)
        z = np.full((u1.size, u0.size), np.nan)
        z[np.searchsorted(u1, x1), np.searchsorted(u0, x0)] = y[sel]
        mesh = ax.pcolormesh(u0, u1, z, shading="nearest", norm=LogNorm())
        fig.colorbar(mesh, ax=ax, label=unit)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(axis_label(knobs[0]))
        ax.set_ylabel(axis_label(knobs[1]))
        title = title or f"{key[0]}, batch {format_value('batch', key[1])}, {key[2]}"
    ax.set_title(title or f"{metric} over {knobs[0]}")
    fig.tight_layout()
    return fig


def axis_label(path: str) -> str:
    """Axis label of a device knob: its path and, for rates and sizes, the unit."""
    unit = {"bandwidth": "B/s", "capacity": "B", "granularity": "B", "per_op": "s"}
    last = path.rsplit(".", 1)[-1]
    if ".peak." in path:
        return f"{path} (FLOP/s)"
    return f"{path} ({unit.get(last, '')})" if last in unit else path
