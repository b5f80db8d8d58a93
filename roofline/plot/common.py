"""What every chart shares: category colors, colors of the active style, axes, tick formatters in
human units, legends outside the data, labels kept apart, the mark of a point that does not fit,
picking a batch or device of a result, and writing the image file.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.lines import Line2D
from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

from roofline.dtypes import work_unit
from roofline.errors import SpecError
from roofline.formatting import fmt_bytes, fmt_time, si
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


def foreground() -> str:
    """The active style's text color: roofs, stars and marks drawn in it stay visible on a dark
    style (``dark_background``) as on the default one."""
    return str(plt.rcParams["text.color"])


#: the legend entry of a point that does not fit (it has no time, so no value to draw)
DOES_NOT_FIT = "does not fit the device"
#: height of the crosses of :func:`cross_out`, in axes coordinates (0: the bottom edge)
CROSS_Y = 0.04


def cross_out(ax: Any, x: Any, color: str | None = None, row: int = 0) -> Any:
    """Cross out the points at data positions ``x`` that do not fit; return the Line2D.

    A point that does not fit has no time (nor any value derived from one), so its cross cannot
    sit at a value: it stands at the bottom of ``ax`` (x in data, y in axes coordinates; on a
    linear or log y axis alike), and the x axis reaches it even when nothing else is drawn.
    ``row`` stacks the crosses of several series (each a bit higher) so none hides another;
    ``color`` defaults to the style's text color. The line carries no legend label: a chart adds
    :func:`cross_handle` once.
    """
    xs = np.asarray(x, dtype=float)
    (line,) = ax.plot(
        xs,
        np.full(xs.shape, CROSS_Y * (1 + row)),
        ls="",
        marker="x",
        ms=8,
        mew=1.5,
        color=color or foreground(),
        transform=ax.get_xaxis_transform(),
        clip_on=False,
        zorder=4,
        label="_nolegend_",
    )
    return line


def cross_handle() -> Any:
    """The legend entry of the crosses of :func:`cross_out`."""
    return Line2D([], [], ls="", marker="x", color=foreground(), label=DOES_NOT_FIT)


def legend_handles(ax: Any, crossed: Any = False) -> list[Any]:
    """The legend handles of ``ax``, with :func:`cross_handle` last where ``crossed`` (some
    point is crossed out)."""
    handles, _ = ax.get_legend_handles_labels()
    if crossed:
        handles.append(cross_handle())
    return list(handles)


def nothing_fits(ax: Any, text: str = "no point fits the device") -> None:
    """An axes whose every point does not fit: no value scale (its y ticks would be a range
    around nothing), and ``text`` in the middle; the x axis and the crosses stay."""
    ax.set_ylim(0.0, 1.0)
    ax.set_yticks([])
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", color=foreground())


def background(ax: Any) -> Any:
    """The face color of ``ax``: the edge color that sets markers apart from their background."""
    return ax.get_facecolor()


def axes(ax: Any, figsize: tuple[float, float] = (8.0, 5.5)) -> Any:
    """``ax``, or the Axes of a new figure of ``figsize`` inches."""
    if ax is not None:
        return ax
    _, ax = plt.subplots(figsize=figsize, layout="constrained")
    return ax


def si_formatter(unit: str = "") -> Any:
    """A tick formatter printing SI prefixes (``1 T``, ``100 G``)."""
    return FuncFormatter(lambda v, _pos: si(v, unit, digits=3) if v > 0 else "0")


def iec_bytes(v: float) -> str:
    """A byte count in binary units with three significant digits (``12 MiB``, ``1.5 GiB``): how
    capacities are specified, so a capacity axis always reads in MiB and GiB
    (:func:`roofline.formatting.fmt_bytes`)."""
    return fmt_bytes(v)


def knob_format(path: str) -> Callable[[float], str]:
    """How to print a value of device knob ``path`` (``memory.hbm.bandwidth`` as ``2 TB/s``,
    ``memory.sram.capacity`` as ``32 MiB``, ``engines.matrix.peak.int8`` as ``100 TOP/s``,
    ``overheads.per_op`` as ``5 us``)."""
    last = path.rsplit(".", 1)[-1]
    if ".peak." in path:
        unit = peak_unit(path)
        return lambda v: si(v, unit, digits=3)
    if last == "bandwidth":
        return lambda v: si(v, "B/s", digits=3)
    if last in ("capacity", "granularity"):
        return iec_bytes
    if last == "per_op":
        return fmt_time
    return lambda v: si(v, digits=3)


def peak_unit(path: str) -> str:
    """The unit of peak knob ``path``: ``OP/s`` for an integer dtype (``engines.matrix.peak.int8``),
    ``FLOP/s`` otherwise."""
    last = path.rsplit(".", 1)[-1]
    return f"{work_unit(last)}/s" if _is_dtype(last) else "FLOP/s"


def metric_format(metric: str) -> Callable[[float], str]:
    """How to print a value of result column ``metric`` (by its unit suffix)."""
    if metric.endswith("_s") and not metric.endswith("_per_s"):
        return fmt_time
    if metric.endswith("_per_s"):
        return lambda v: si(v, "/s", digits=3)
    if metric.endswith("_bytes"):
        return iec_bytes
    if metric.endswith("_j"):
        return lambda v: si(v, "J", digits=3)
    if metric.endswith("_w"):
        return lambda v: si(v, "W", digits=3)
    return lambda v: f"{v:.3g}"


def _is_dtype(name: str) -> bool:
    try:
        work_unit(name)
    except SpecError:
        return False
    return True


def value_ticks(axis: Any, values: Any, fmt: Callable[[float], str]) -> None:
    """Ticks of ``axis`` at ``values`` (a sweep's knob values), labeled by ``fmt``, no minor ticks;
    :func:`thin_ticks` drops labels that would touch."""
    axis.set_major_locator(FixedLocator(list(values)))
    axis.set_major_formatter(FuncFormatter(lambda v, _p: fmt(v)))
    axis.set_minor_locator(NullLocator())


def thin_ticks(ax: Any, which: str = "x", gap_px: float = 4.0) -> None:
    """Keep every k-th tick of a fixed-tick axis, the smallest k whose labels do not touch (after
    a draw, so at the figure's final size)."""
    axis = ax.xaxis if which == "x" else ax.yaxis
    values = list(axis.get_major_locator().tick_values(0, 1))
    fig = ax.figure
    for step in range(1, max(2, len(values))):
        axis.set_major_locator(FixedLocator(values[::step]))
        fig.canvas.draw()
        boxes = [t.get_window_extent() for t in axis.get_ticklabels() if t.get_text()]
        boxes = [b.padded(gap_px / 2) for b in boxes]
        if not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1 :]):
            return


def legend_outside(ax: Any, **kwargs: Any) -> Any:
    """A legend right of the axes, off the data (ridge points, bars and lines stay visible)."""
    kwargs.setdefault("fontsize", 8)
    kwargs.setdefault("title_fontsize", 8)
    return ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0, **kwargs)


def legend_below(ax: Any, **kwargs: Any) -> Any:
    """A legend under the axes (for charts with a right-hand y axis), off the data."""
    kwargs.setdefault("fontsize", 8)
    kwargs.setdefault("title_fontsize", 8)
    kwargs.setdefault("ncols", 2)
    return ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), **kwargs)


def declutter(ax: Any, texts: Sequence[Any], step_pt: float = 4.0, tries: int = 40) -> None:
    """Move the annotations ``texts`` (placed in offset points) up or down, in that order, until
    none overlaps another annotation or an axis label; an annotation that cannot be placed is
    hidden rather than drawn over another."""
    fig = ax.figure
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    fixed = [t.get_window_extent(renderer) for t in (ax.title, ax.xaxis.label, ax.yaxis.label)]
    placed: list[Any] = []
    for t in texts:
        x0, y0 = t.xyann
        for k in range(tries):
            dy = step_pt * ((k + 1) // 2) * (1 if k % 2 else -1)
            t.xyann = (x0, y0 + dy)
            box = t.get_window_extent(renderer)
            if not any(box.overlaps(b) for b in placed + fixed):
                placed.append(box)
                break
        else:
            t.set_visible(False)


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
