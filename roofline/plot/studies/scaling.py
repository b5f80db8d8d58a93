"""Chart of the scaling study (:mod:`roofline.studies.scaling`): throughput per device against
link bandwidth, one line per device count, one chart per model; hollow markers where the
interconnect bounds the point."""

from __future__ import annotations

from typing import Any

import numpy as np

from roofline.formatting import si
from roofline.plot.studies.common import LINE_COLORS, rows_where


def bandwidth(study: Any, ax: Any, model: str) -> None:
    """Throughput per device (samples/s) of ``model`` against the link's bandwidth."""
    rs = rows_where(study, model=model)
    counts = sorted({r["devices"] for r in rs})
    for k, n in enumerate(counts):
        line = sorted((r for r in rs if r["devices"] == n), key=lambda r: r["link_bandwidth"])
        x = np.array([r["link_bandwidth"] for r in line], dtype=float)
        y = np.array([r["throughput_per_device_per_s"] or np.nan for r in line], dtype=float)
        if np.isnan(y).all():
            continue
        color = LINE_COLORS[k % len(LINE_COLORS)]
        ax.plot(x, y, "-", color=color, label=f"{n} device{'s' if n > 1 else ''}")
        wire = np.array([r["bound"] == "interconnect" for r in line])
        ax.plot(x[~wire], y[~wire], "o", color=color, ms=5)
        ax.plot(x[wire], y[wire], "o", mfc="none", color=color, ms=6)
    ax.set_xscale("log")
    ticks = sorted({r["link_bandwidth"] for r in rs})
    ax.set_xticks(ticks, [si(t, "B/s") for t in ticks], fontsize=7, rotation=30)
    ax.minorticks_off()
    ax.set_xlabel("Link bandwidth per direction per device")
    ax.set_ylabel("Samples/s per device (best layout)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, title="hollow: interconnect-bound", title_fontsize=7)
    first = rs[0]
    ax.set_title(
        f"{model} on {first['system']}, batch {first['batch']}, {first['dtype']}", fontsize=10
    )
