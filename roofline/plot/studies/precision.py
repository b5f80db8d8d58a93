"""Chart of the precision study (:mod:`roofline.studies.precision`): speedup over the reference
dtype (the first the study was given, fp32 by default) per model and dtype, one chart per
device; a point that does not fit the device has no bar and is crossed out."""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.patches import Patch

from roofline.plot.common import (
    background,
    cross_handle,
    cross_out,
    foreground,
    legend_outside,
)
from roofline.plot.studies.common import rows_where

_DTYPE_COLORS = {"fp32": "#7f7f7f", "fp16": "#1f77b4", "bf16": "#17becf", "int8": "#ff7f0e"}


def speedup(study: Any, ax: Any, device: str) -> None:
    """Speedup over the reference dtype per model and dtype on ``device`` (hatched: computed at
    a fallback dtype; crossed out: does not fit; no bar: no run of the reference to take it
    against)."""
    rs = rows_where(study, device=device)
    ref = study.table[0]["dtype"]  # the first dtype given: the rows run dtype-innermost
    models = list(dict.fromkeys(r["model"] for r in rs))
    dtypes = list(dict.fromkeys(r["dtype"] for r in rs))
    w = 0.8 / len(dtypes)
    unfit: list[float] = []
    for k, dt in enumerate(dtypes):
        vals, hatch = [], []
        x = np.arange(len(models)) + (k - (len(dtypes) - 1) / 2) * w
        for i, m in enumerate(models):
            sel = [r for r in rs if r["model"] == m and r["dtype"] == dt]
            ok = bool(sel and sel[0]["supported"])
            s = sel[0]["speedup"] if ok else None
            vals.append(np.nan if s is None else s)
            hatch.append(ok and sel[0]["compute_dtype"] != dt)
            if ok and not sel[0]["feasible"]:
                unfit.append(float(x[i]))
        bars = ax.bar(
            x, vals, width=w, label=dt, color=_DTYPE_COLORS.get(dt), edgecolor=background(ax)
        )
        for b, hh in zip(bars, hatch):
            if hh:
                b.set_hatch("///")
    # the bound at the reference dtype, where that run fits
    regimes = {
        r["model"]: r["regime"] for r in rs if r["regime"] and r["dtype"] == ref and r["feasible"]
    }
    ax.set_xticks(
        np.arange(len(models)),
        [f"{m}\n{regimes[m]}-bound" if m in regimes else m for m in models],
        fontsize=7,
        rotation=30,
        ha="right",
        rotation_mode="anchor",
    )
    ax.set_xlim(-0.5, len(models) - 0.5)
    ax.axhline(1.0, color=foreground(), lw=0.8)
    ax.set_ylabel(f"Speedup over {ref} (x)")
    ax.set_xlabel(f"Model (bound at {ref})")
    ax.grid(True, axis="y", alpha=0.3)
    h, _ = ax.get_legend_handles_labels()
    h.append(
        Patch(
            facecolor="none",
            edgecolor=foreground(),
            hatch="///",
            label="computed at a fallback dtype",
        )
    )
    if unfit:
        cross_out(ax, unfit)
        h.append(cross_handle())
    if not any(r["dtype"] == ref and r["feasible"] for r in rs):
        ax.text(
            0.5,
            0.3,
            f"no speedup: no run of {ref}\non {device} that fits to take it against",
            transform=ax.transAxes,
            ha="center",
            va="center",
            color=foreground(),
            fontsize=9,
        )
    legend_outside(ax, handles=h, title="storage dtype")
    bs = sorted({r["batch"] for r in rs})
    ax.set_title(f"Speedup over {ref} on {device} (batch {', '.join(map(str, bs))})", fontsize=10)
