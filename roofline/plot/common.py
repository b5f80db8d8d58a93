"""What every chart shares: category colors, axes, tick formatters, picking a batch or device
of a result, and writing the image file.
"""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import FuncFormatter

from roofline.errors import SpecError
from roofline.formatting import si
from roofline.output_files import atomic_write, image_format
from roofline.result import Result

#: fixed colors per op category, so every chart uses the same legend
CATEGORY_COLORS = {
    "fc": "#1f77b4",
    "conv": "#ff7f0e",
    "embedding": "#2ca02c",
    "recurrent": "#17becf",
    "attention": "#9467bd",
    "tensor_manipulation": "#d62728",
    "elementwise": "#8c564b",
    "normalization": "#e377c2",
    "pooling": "#bcbd22",
    "interaction": "#7f7f7f",
    "detection": "#aec7e8",
    "other": "#c49c94",
}
#: op marker per model (hollow diamonds and squares are the Table 1 marks)
MARKERS = ("o", "^", "v", "P", "X", "<", ">", "h", "p")
#: memory roofs: line style by level kind (on chip, device memory, host)
LEVEL_STYLES = {"onchip": "-.", "device": "-", "host": ":"}


def category_color(category: str) -> str:
    """The chart color of an op category (grey for an unknown one)."""
    return CATEGORY_COLORS.get(category, "#999999")


def axes(ax: Any, figsize: tuple[float, float] = (8.0, 5.5)) -> Any:
    """``ax``, or the Axes of a new figure of ``figsize`` inches."""
    if ax is not None:
        return ax
    _, ax = plt.subplots(figsize=figsize, layout="constrained")
    return ax


def si_formatter(unit: str = "") -> Any:
    """A tick formatter printing SI prefixes (``1 T``, ``100 G``)."""
    return FuncFormatter(lambda v, _pos: si(v, unit, digits=3) if v > 0 else "0")


def plain_log_ticks(axis: Any, si_prefix: bool = False) -> None:
    """Label a log axis with plain numbers (``1``, ``10``, minor ``2`` and ``5``), not powers."""

    def fmt(v: float) -> str:
        return si(v, digits=3) if si_prefix else f"{v:g}"

    axis.set_major_formatter(FuncFormatter(lambda v, _p: fmt(v)))
    axis.set_minor_formatter(FuncFormatter(lambda v, _p: fmt(v) if f"{v:.1e}"[0] in "25" else ""))


def auto_scale(ax: Any, values: Any, si_prefix: bool = False) -> None:
    """Log y axis with plain labels when ``values`` span a decade or more, else linear from 0."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v) & (v > 0)]
    if v.size and v.max() / v.min() >= 10:
        ax.set_yscale("log")
        plain_log_ticks(ax.yaxis, si_prefix)
    else:
        ax.set_ylim(0, (v.max() if v.size else 1.0) * 1.15)
        if si_prefix:
            ax.yaxis.set_major_formatter(si_formatter())


def batch_index(result: Result, batch: float | None) -> int:
    """Index of ``batch`` among the result's batches (the first when None)."""
    if batch is None:
        return 0
    idx = np.flatnonzero(result.costs.batch == batch)
    if idx.size == 0:
        raise SpecError(
            f"batch {batch:g} was not evaluated",
            field="batch",
            fix=f"use one of {[f'{b:g}' for b in result.costs.batch]}",
        )
    return int(idx[0])


def device_index(result: Result, device: int | str) -> int:
    """Index of ``device`` (a label or an index) in the result's grid."""
    return result.grid.labels.index(device) if isinstance(device, str) else int(device)


def save(ax_or_fig: Any, path: str) -> None:
    """Write the figure of ``ax_or_fig`` to ``path`` (PNG, SVG or PDF by suffix) atomically."""
    fig = getattr(ax_or_fig, "figure", ax_or_fig)
    fmt = image_format(path)
    atomic_write(str(path), lambda tmp: fig.savefig(tmp, format=fmt, dpi=130))
