"""The chart of a ``roofline validate`` report (:mod:`roofline.fidelity.validate`): measured
against predicted time per kernel and whole model."""

from __future__ import annotations

from typing import Any

from roofline.fidelity.validate import SLACK
from roofline.plot.common import axes, foreground, legend_outside


def measured_vs_predicted(doc: dict[str, Any], ax: Any = None) -> Any:
    """Draw measured against predicted seconds of every kernel and whole model of a
    ``roofline validate`` report ``doc`` on log-log axes (the line y = x, and a prediction 10%
    above the measured time); return the Axes."""
    ax = axes(ax, figsize=(7.5, 6.5))
    groups = list(dict.fromkeys(r["group"] for r in doc["kernels"]))
    markers = "osD^v<>ph*X"
    for i, g in enumerate(groups):
        rs = [r for r in doc["kernels"] if r["group"] == g]
        ax.scatter(
            [r["predicted_s"] for r in rs],
            [r["measured_s"] for r in rs],
            s=28,
            marker=markers[i % len(markers)],
            label=g,
            alpha=0.85,
        )
    for m in doc["models"]:
        ax.scatter(m["predicted_s"], m["measured_s"], s=90, marker="*", color=foreground())
        ax.annotate(
            f"{m['model']} b{m['batch']}",
            (m["predicted_s"], m["measured_s"]),
            fontsize=7,
            xytext=(4, -8),
            textcoords="offset points",
        )
    pts = [r[c] for r in doc["kernels"] + doc["models"] for c in ("predicted_s", "measured_s")]
    lo, hi = min(pts) / 2, max(pts) * 2
    ax.plot([lo, hi], [lo, hi], color=foreground(), lw=1, label="measured = predicted")
    ax.plot(
        [lo, hi],
        [lo / SLACK, hi / SLACK],
        color="gray",
        lw=0.8,
        ls=":",
        label="prediction 10% above measured",
    )
    ax.set(
        xscale="log",
        yscale="log",
        xlim=(lo, hi),
        ylim=(lo, hi),
        xlabel="predicted time (s), calibrated roofline with efficiency curves",
        ylabel="measured time (s), median of repeated calls",
    )
    info = doc["machine"]
    threads = info["threads"].get("blas") or info["cpus"]
    ax.set_title(
        f"{info['cpu']} ({info['cpus']} CPUs), threads={threads}, "
        f"{info.get('clock', 'wall')} clock, {info['date'][:10]}",
        fontsize=9,
    )
    ax.grid(True, which="both", lw=0.3, alpha=0.5)
    legend_outside(ax, fontsize=7)
    return ax
