"""Chart of the precision study (:mod:`roofline.studies.precision`): speedup over fp32 per model
and dtype, one chart per device."""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.patches import Patch

from roofline.plot.common import background, foreground, legend_outside
from roofline.plot.studies.common import rows_where

_DTYPE_COLORS = {"fp32": "#7f7f7f", "fp16": "#1f77b4", "bf16": "#17becf", "int8": "#ff7f0e"}


def speedup(study: Any, ax: Any, device: str) -> None:
    """Speedup over fp32 per model and dtype on ``device`` (hatched: computed at a fallback
    dtype)."""
    rs = rows_where(study, device=device)
    models = list(dict.fromkeys(r["model"] for r in rs))
    dtypes = list(dict.fromkeys(r["dtype"] for r in rs))
    w = 0.8 / len(dtypes)
    for k, dt in enumerate(dtypes):
        vals, hatch = [], []
        for m in models:
            sel = [r for r in rs if r["model"] == m and r["dtype"] == dt]
            ok = bool(sel and sel[0]["supported"])
            vals.append(sel[0]["speedup"] if ok else np.nan)
            hatch.append(ok and sel[0]["compute_dtype"] != dt)
        x = np.arange(len(models)) + (k - (len(dtypes) - 1) / 2) * w
        bars = ax.bar(
            x, vals, width=w, label=dt, color=_DTYPE_COLORS.get(dt), edgecolor=background(ax)
        )
        for b, hh in zip(bars, hatch):
            if hh:
                b.set_hatch("///")
    regimes = {r["model"]: r["regime"] for r in rs if r["regime"]}
    ax.set_xticks(
        np.arange(len(models)),
        [f"{m}\n{regimes.get(m, '?')}-bound" for m in models],
        fontsize=7,
        rotation=30,
        ha="right",
        rotation_mode="anchor",
    )
    ax.axhline(1.0, color=foreground(), lw=0.8)
    ax.set_ylabel("Speedup over fp32 (x)")
    ax.set_xlabel("Model (bound at fp32)")
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
    legend_outside(ax, handles=h, title="storage dtype")
    bs = sorted({r["batch"] for r in rs})
    ax.set_title(f"Speedup over fp32 on {device} (batch {', '.join(map(str, bs))})", fontsize=10)
