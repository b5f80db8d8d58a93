"""What the study charts share: line colors, picking a study's rows, a latency axis, binary size
ticks. Every chart is ``chart(study, ax)`` (``chart(study, ax, subject)`` for one model or device)
and draws on the given Axes."""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.ticker import FuncFormatter

from roofline.formatting import fmt_bytes
from roofline.plot.common import auto_scale

LINE_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2")


def iec_formatter() -> Any:
    """Tick labels in binary units for whole binary sizes (``4 MiB``), for capacities on a
    base-2 axis (:func:`roofline.formatting.fmt_bytes`)."""
    return FuncFormatter(lambda v, _pos: fmt_bytes(v))


def rows_where(study: Any, **match: Any) -> list[dict[str, Any]]:
    """The rows of the study's table whose columns equal ``match``."""
    return [r for r in study.table if all(r[k] == v for k, v in match.items())]


def first_row(study: Any) -> dict[str, Any]:
    """The first row of the study's table (model, device, dtype and batch for a title)."""
    return study.table[0]


def latency_axis(ax: Any, label: str = "Latency (ms)") -> None:
    """A latency axis in ms: logarithmic when the data span a decade or more, else linear."""
    ys = [y for line in ax.get_lines() for y in np.asarray(line.get_ydata(), float)]
    ys += [p.get_height() for p in ax.patches]
    ys += [y for c in ax.collections for y in np.asarray(c.get_offsets())[:, 1]]
    auto_scale(ax, ys)
    ax.set_ylabel(label)
    ax.grid(True, which="major", alpha=0.3)
