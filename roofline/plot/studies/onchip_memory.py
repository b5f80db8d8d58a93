"""Chart of the on-chip memory study (:mod:`roofline.studies.onchip_memory`): latency against
on-chip capacity per batch, one chart per model; a capacity at which the model does not fit the
device has no latency and is crossed out."""

from __future__ import annotations

from typing import Any

import matplotlib
import numpy as np
from matplotlib.colors import to_hex
from matplotlib.lines import Line2D

from roofline.plot.common import (
    cross_handle,
    cross_out,
    foreground,
    legend_outside,
    nothing_fits,
)
from roofline.plot.studies.common import iec_formatter, latency_axis, rows_where


def latency(study: Any, ax: Any, model: str) -> None:
    """Latency of ``model`` against on-chip capacity, one line per batch; the capacities where
    activations, then weights + activations, fit are marked."""
    rs = rows_where(study, model=model)
    batches = list(dict.fromkeys(r["batch"] for r in rs))
    cmap = matplotlib.colormaps["viridis"]
    unfit = []
    for k, b in enumerate(batches):
        sel = [r for r in rs if r["batch"] == b]
        c = to_hex(cmap(0.1 + 0.8 * k / max(1, len(batches) - 1)))  # no near-black end
        x = [r["onchip_capacity_bytes"] for r in sel]
        y = [r["latency_s"] * 1e3 if r["feasible"] else np.nan for r in sel]
        ax.plot(x, y, "-", color=c, label=f"batch {b}")
        unfit.append((c, [r["onchip_capacity_bytes"] for r in sel if not r["feasible"]]))
        for key, marker in (("activations_fit", "o"), ("weights_fit", "^")):
            fit = [r for r in sel if r[key] and r["feasible"]]
            if fit:
                x0, y0 = fit[0]["onchip_capacity_bytes"], fit[0]["latency_s"] * 1e3
                ax.scatter(
                    [x0], [y0], marker=marker, s=60, color=c, edgecolors=foreground(), zorder=4
                )
    h, _ = ax.get_legend_handles_labels()
    h += [
        Line2D(
            [],
            [],
            ls="",
            marker="o",
            color="grey",
            mec=foreground(),
            label="activations fit on chip",
        ),
        Line2D(
            [],
            [],
            ls="",
            marker="^",
            color="grey",
            mec=foreground(),
            label="weights + activations fit",
        ),
    ]
    ax.set_xscale("log", base=2)
    ax.xaxis.set_major_formatter(iec_formatter())
    ax.set_xlabel("On-chip memory capacity (bytes, powers of 2)")
    if any(r["feasible"] for r in rs):
        latency_axis(ax)  # before the crosses: they sit at no latency
    else:
        ax.set_ylabel("Latency (ms)")
        nothing_fits(ax, f"{model} fits the device at no capacity")
    crossed = [(c, xs) for c, xs in unfit if xs]
    for row, (c, xs) in enumerate(crossed):
        cross_out(ax, xs, color=c, row=row)
    if crossed:
        h.append(cross_handle())
    legend_outside(ax, handles=h, fontsize=7)
    f = rs[0]
    ax.set_title(
        f"{model} on {f['device']} ({f['dtype']}), batch {batches[0]}-{batches[-1]}",
        fontsize=10,
    )
