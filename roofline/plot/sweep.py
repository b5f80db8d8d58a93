"""The chart of a design-space sweep (:func:`roofline.sweep`): a metric against one varied knob
(lines) or two (a heat map, one panel per model, batch and dtype).

Knob axes read in human units (bandwidth in TB/s, capacities in MiB and GiB, peaks in FLOP/s or
OP/s), with a tick at each swept value as far as labels fit; a heat map's cells are centered on
the swept values with edges halfway between neighbours on the axis's own scale (the geometric
mean on a log axis), so every swept value gets its cell. A point that does not fit the device has
no value to draw: a line leaves a gap there and a cross at the bottom of the axes marks it (a heat
map's cell stays blank under a cross); a chart where nothing fits says so.

A system sweep with several layouts per variant (``all_layouts``, or lists of degrees) has several
rows per point: the chart draws the best layout that fits at each point, best by the metric drawn
(:func:`best_rows`: the lowest latency, energy or cost; the highest throughput or utilization),
and names each point's layout on a line chart.
"""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import LogNorm, Normalize
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, NullFormatter

from roofline.errors import SpecError
from roofline.formatting import format_value
from roofline.plot.common import (
    DOES_NOT_FIT,
    cross_out,
    declutter,
    knob_format,
    legend_handles,
    legend_outside,
    metric_format,
    nothing_fits,
    peak_unit,
    thin_ticks,
    value_ticks,
)
from roofline.sweeps import SweepTable
from roofline.systems.layout import Layout

#: axis labels of the usual metrics
METRIC_LABELS = {
    "latency_s": "latency",
    "throughput_per_s": "throughput (samples/s)",
    "utilization": "utilization (fraction of matrix peak)",
}


def plot_sweep(
    table: SweepTable,
    metric: str = "latency_s",
    ax: Any = None,
    title: str | None = None,
    batch: float | None = None,
) -> Any:
    """Plot ``metric`` over the sweep's knobs; return the matplotlib Figure.

    Parameters
    ----------
    table : SweepTable
        A sweep of one or two knobs.
    metric : str
        A numeric column of the table (``latency_s``, ``throughput_per_s``, ``utilization``...).
    ax : matplotlib Axes, optional
        Draw on it: for two knobs, only one panel fits, so the sweep must have one model, batch
        and dtype, or ``batch`` must pick one.
    title : str, optional
    batch : float, optional
        Draw this batch only (default: every batch of the sweep).

    Notes
    -----
    One knob: a line per (model, batch, dtype). Two knobs: a heat map per (model, batch, dtype),
    side by side, each with its color scale (logarithmic where its values span a decade or more).
    A point that does not fit has no value: a gap in its line and a cross at the bottom of the
    axes, or a blank cell under a cross.

    A system sweep of several layouts per variant draws, at each point, the best layout that
    fits, by ``metric`` (:func:`best_rows`): what the system can do there at best, never one
    layout's value beside another's on one line, nor whichever layout came last in a cell. The
    title (a heat map's panel title) says so, and a line chart of up to
    :data:`MAX_LAYOUT_LABELS` points names each point's layout (``tp8 pp1 ep1 dp1``). To compare
    layouts, sweep one layout at a time (``tp=``, ``pp=``...).
    """
    knobs = list(table.knobs)
    if not knobs or len(knobs) > 2:
        raise SpecError(
            f"plot needs one or two varied knobs, got {len(knobs)}",
            field="--plot",
            fix="vary one or two knobs",
        )
    keys = list(zip(table.column("model"), table.column("batch"), table.column("dtype")))
    series = list(dict.fromkeys(keys))
    if batch is not None:
        series = [k for k in series if float(k[1]) == float(batch)]
        if not series:
            done = sorted({float(k[1]) for k in keys})
            raise SpecError(
                f"batch {batch:g} was not swept",
                field="batch",
                fix=f"use one of {[f'{b:g}' for b in done]}",
            )
    keys_arr = np.array([f"{m}\0{b}\0{d}" for m, b, d in keys])
    bad, values = _infeasible(table), table.column(metric).astype(float)
    pick = _best_rows(table, metric, keys_arr, bad, values)
    points = _Points(table, metric, pick, bad, values)
    keys_arr = keys_arr[pick]
    rows = {k: keys_arr == f"{k[0]}\0{k[1]}\0{k[2]}" for k in series}
    if len(knobs) == 1:
        return _lines(points, knobs[0], series, rows, ax, title)
    if ax is not None and len(series) > 1:
        raise SpecError(
            f"the sweep has {len(series)} panels (model, batch, dtype) but one Axes was given",
            field="batch",
            fix="pass batch= (and sweep one model and dtype), or no ax for a panel each",
        )
    return _heat_maps(points, knobs, series, rows, ax, title)


#: the columns of a system sweep's layout (:class:`~roofline.systems.layout.Layout`)
LAYOUT_COLUMNS = ("tp", "pp", "ep", "dp", "cp")


def higher_is_better(metric: str) -> bool:
    """Whether more of ``metric`` is better: rates (``throughput_per_s``, ``samples_per_j``) and
    ``utilization``; less of everything else (times, energy, power, bytes, cost)."""
    return metric.endswith(("_per_s", "_per_j")) or metric == "utilization"


def best_rows(table: SweepTable, metric: str, keys: np.ndarray) -> np.ndarray:
    """Indices of one row per point of the chart: per series key (``keys``, one per row) and
    knob values, the row of the best ``metric`` among those that fit (:func:`higher_is_better`;
    the first in table order on a tie), or the first row where none fits. A sweep with one row
    per point (a device, or a system at one layout) keeps every row, in order."""
    return _best_rows(table, metric, keys, _infeasible(table), table.column(metric).astype(float))


def _best_rows(
    table: SweepTable, metric: str, keys: np.ndarray, bad: np.ndarray, v: np.ndarray
) -> np.ndarray:
    """:func:`best_rows` given the rows that do not fit (``bad``) and the metric (``v``)."""
    parts = [keys.astype(str)] + [table.column(k).astype(float).astype(str) for k in table.knobs]
    unique, point = np.unique(np.array(["\0".join(p) for p in zip(*parts)]), return_inverse=True)
    if unique.size == point.size:
        return np.arange(point.size)
    score = np.where(bad | ~np.isfinite(v), np.inf, -v if higher_is_better(metric) else v)
    order = np.lexsort((np.arange(point.size), score, point))
    first = np.unique(point[order], return_index=True)[1]
    return np.sort(order[first])


class _Points:
    """The rows a chart draws (:func:`best_rows`): knob values, the metric (NaN where a point
    does not fit: it has no value), which do not fit, and each one's layout label when the sweep
    had several layouts per point (else None)."""

    def __init__(
        self,
        table: SweepTable,
        metric: str,
        pick: np.ndarray,
        bad: np.ndarray,
        values: np.ndarray,
    ) -> None:
        self.metric = metric
        self.knob = {k: table.column(k).astype(float)[pick] for k in table.knobs}
        self.bad = bad[pick]
        self.value = np.where(self.bad, np.nan, values[pick])
        self.layouts: list[str] | None = None
        if pick.size < len(table) and all(c in table.columns for c in LAYOUT_COLUMNS):
            cols = [table.column(c)[pick] for c in LAYOUT_COLUMNS]
            self.layouts = [Layout(*map(int, d)).label for d in zip(*cols)]

    def best_note(self) -> str:
        """How the chart chose among layouts ('' when it did not have to)."""
        if self.layouts is None:
            return ""
        how = "highest" if higher_is_better(self.metric) else "lowest"
        return f"best layout per point ({how} {METRIC_LABELS.get(self.metric, self.metric)})"


def _series_label(key: tuple[Any, Any, Any]) -> str:
    return f"{key[0]}, batch {format_value('batch', key[1])}, {key[2]}"


def _infeasible(table: SweepTable) -> np.ndarray:
    if "feasible" not in table.columns:
        return np.zeros(len(table), dtype=bool)
    return ~table.column("feasible").astype(bool)


def _lines(
    points: _Points,
    knob: str,
    series: list[Any],
    rows: dict[Any, np.ndarray],
    ax: Any,
    title: str | None,
) -> Any:
    """A line of the metric against ``knob`` per series; crosses where a point does not fit."""
    if ax is None:
        _, ax = plt.subplots(figsize=(8.0, 4.5), layout="constrained")
    fig = ax.figure
    metric = points.metric
    x_all, y_all, bad_all = points.knob[knob], points.value, points.bad
    crossed = False
    note = points.best_note()
    names: list[Any] = []
    for i, key in enumerate(series):
        sel = np.flatnonzero(rows[key])
        sel = sel[np.argsort(x_all[sel], kind="stable")]
        x, y, bad = x_all[sel], y_all[sel], bad_all[sel]
        (line,) = ax.plot(x, y, marker="o", ms=3, label=_series_label(key))
        if bad.any():
            cross_out(ax, x[bad], color=line.get_color(), row=i)
            crossed = True
        if points.layouts is not None and sel.size <= MAX_LAYOUT_LABELS:
            for j in sel[~bad]:
                names.append(
                    ax.annotate(
                        points.layouts[j],
                        (x_all[j], y_all[j]),
                        xytext=(-4, 4) if x_all[j] == x_all.max() else (4, 4),
                        textcoords="offset points",
                        ha="right" if x_all[j] == x_all.max() else "left",
                        fontsize=7,
                        color=line.get_color(),
                    )
                )
    xs = np.unique(x_all)
    if xs.min() > 0:
        ax.set_xscale("log")
    value_ticks(ax.xaxis, xs, knob_format(knob))
    shown = y_all[np.any([rows[k] for k in series], axis=0)]
    _metric_axis(ax, metric, shown)
    if not np.isfinite(shown).any():
        nothing_fits(ax)
    ax.set_xlabel(axis_label(knob))
    ax.grid(True, which="major", alpha=0.3)
    legend_outside(ax, handles=legend_handles(ax, crossed))
    head = title or f"{METRIC_LABELS.get(metric, metric)} over {knob}"
    ax.set_title(f"{head}\n{note}" if note else head)
    thin_ticks(ax, "x")
    if names:
        declutter(ax, names)
    return fig


def _metric_axis(ax: Any, metric: str, values: np.ndarray) -> None:
    """y axis of ``metric``: log when the values span a decade or more; labels in its unit."""
    v = values[np.isfinite(values) & (values > 0)]
    if v.size and v.max() / v.min() >= 10:
        ax.set_yscale("log")
    fmt = metric_format(metric)
    ax.yaxis.set_major_formatter(FuncFormatter(lambda y, _p: fmt(y)))
    ax.yaxis.set_minor_formatter(NullFormatter())
    ax.set_ylabel(METRIC_LABELS.get(metric, metric))


def cell_edges(values: np.ndarray) -> tuple[np.ndarray, bool]:
    """Cell edges around sorted distinct ``values`` and whether the axis is logarithmic.

    On a log axis (all values positive) each inner edge is the geometric mean of its two
    neighbours and the outer edges mirror the nearest inner one, so every cell is centered on
    its value and no edge is zero or negative; otherwise the same with arithmetic means. A
    single value gets a cell of a factor 2 (log) or of 1 (linear) around it.
    """
    u = np.unique(np.asarray(values, dtype=float))
    log = bool(u.min() > 0)
    s = np.log(u) if log else u
    if s.size == 1:
        half = np.log(2.0) / 2 if log else 0.5
        e = np.array([s[0] - half, s[0] + half])
    else:
        mid = (s[1:] + s[:-1]) / 2
        e = np.concatenate([[2 * s[0] - mid[0]], mid, [2 * s[-1] - mid[-1]]])
    return (np.exp(e) if log else e), log


def _heat_maps(
    points: _Points,
    knobs: list[str],
    series: list[Any],
    rows: dict[Any, np.ndarray],
    ax: Any,
    title: str | None,
) -> Any:
    """A heat map of ``metric`` over two knobs per series, each with its color bar."""
    n = len(series)
    cols = min(n, 3)
    nrows = -(-n // cols)
    if ax is None:
        fig = plt.figure(figsize=(5.2 * cols + 0.6, 3.8 * nrows + 0.8), layout="constrained")
        grid = fig.subplots(nrows, cols, squeeze=False)
        panels = list(grid.flat)
    else:
        fig, panels = ax.figure, [ax]
    metric = points.metric
    x_all, y_all = points.knob[knobs[0]], points.knob[knobs[1]]
    z_all, bad_all = points.value, points.bad
    xe, xlog = cell_edges(x_all)
    ye, ylog = cell_edges(y_all)
    ux, uy = np.unique(x_all), np.unique(y_all)
    fmt = metric_format(metric)
    crossed = False
    note = points.best_note()
    for key, pax in zip(series, panels):
        sel = rows[key]
        z = np.full((uy.size, ux.size), np.nan)
        iy, ix = np.searchsorted(uy, y_all[sel]), np.searchsorted(ux, x_all[sel])
        z[iy, ix] = z_all[sel]
        mesh = pax.pcolormesh(xe, ye, z, norm=_norm(z_all[sel]), shading="flat")
        cbar = fig.colorbar(mesh, ax=pax, label=METRIC_LABELS.get(metric, metric))
        cbar.ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _p: fmt(v)))
        cbar.ax.yaxis.set_minor_formatter(NullFormatter())
        bad = bad_all[sel]
        if bad.any():
            pax.plot(x_all[sel][bad], y_all[sel][bad], **_CROSS)
            crossed = True
        pax.set_xscale("log" if xlog else "linear")
        pax.set_yscale("log" if ylog else "linear")
        pax.set_xlim(xe[0], xe[-1])
        pax.set_ylim(ye[0], ye[-1])
        value_ticks(pax.xaxis, ux, knob_format(knobs[0]))
        value_ticks(pax.yaxis, uy, knob_format(knobs[1]))
        pax.set_xlabel(axis_label(knobs[0]))
        pax.set_ylabel(axis_label(knobs[1]))
        pax.set_title(_series_label(key) + (f"\n{note}" if note else ""), fontsize=9)
        if not np.isfinite(z_all[sel]).any():
            pax.text(0.5, 0.5, "no point fits the device", transform=pax.transAxes,
                     ha="center", va="center", fontsize=9)  # fmt: skip
    for pax in panels[n:]:
        pax.set_visible(False)
    if crossed:
        fig.legend(handles=[Line2D([], [], **_CROSS)], fontsize=8, loc="outside lower right")
    head = title or f"{METRIC_LABELS.get(metric, metric)} over {knobs[0]} and {knobs[1]}"
    if ax is None:
        fig.suptitle(head, fontsize=11)
    else:
        ax.set_title(f"{head}\n{_series_label(series[0])}", fontsize=9)
    for pax in panels[:n]:
        thin_ticks(pax, "x")
        thin_ticks(pax, "y")
    return fig


def _norm(values: np.ndarray) -> Normalize:
    """The color scale of ``values``: logarithmic when they span a decade or more."""
    v = values[np.isfinite(values)]
    pos = v[v > 0]
    if pos.size == v.size and pos.size and pos.max() / pos.min() >= 10:
        return LogNorm(pos.min(), pos.max())
    if not v.size:
        return Normalize(0.0, 1.0)
    return Normalize(float(v.min()), float(v.max()))


#: a heat map's mark of a point that does not fit: readable on every color of the map
_CROSS: dict[str, Any] = {"ls": "", "marker": "X", "ms": 8, "mfc": "white", "mec": "black",
          "label": DOES_NOT_FIT}  # fmt: skip
#: a line chart names each point's layout (when it chose among several) up to this many points
MAX_LAYOUT_LABELS = 12


def axis_label(path: str) -> str:
    """Axis label of a device knob: its path and, for rates and sizes, the unit."""
    unit = {"bandwidth": "B/s", "capacity": "B", "granularity": "B", "per_op": "s"}
    last = path.rsplit(".", 1)[-1]
    if ".peak." in path:
        return f"{path} ({peak_unit(path)})"
    return f"{path} ({unit.get(last, '')})" if last in unit else path
