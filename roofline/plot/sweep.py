"""The chart of a design-space sweep (:func:`roofline.sweep`): a metric against one varied knob
(lines) or two (a heat map, one panel per model, batch and dtype).

Knob axes read in human units (bandwidth in TB/s, capacities in MiB and GiB, peaks in FLOP/s or
OP/s), with a tick at each swept value as far as labels fit; a heat map's cells are centered on
the swept values with edges halfway between neighbours on the axis's own scale (the geometric
mean on a log axis), so every swept value gets its cell. Points that do not fit the device are
crossed out.
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
    foreground,
    knob_format,
    legend_outside,
    metric_format,
    peak_unit,
    thin_ticks,
    value_ticks,
)
from roofline.sweeps import SweepTable

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
    rows = {k: keys_arr == f"{k[0]}\0{k[1]}\0{k[2]}" for k in series}
    if len(knobs) == 1:
        return _lines(table, metric, knobs[0], series, rows, ax, title)
    if ax is not None and len(series) > 1:
        raise SpecError(
            f"the sweep has {len(series)} panels (model, batch, dtype) but one Axes was given",
            field="batch",
            fix="pass batch= (and sweep one model and dtype), or no ax for a panel each",
        )
    return _heat_maps(table, metric, knobs, series, rows, ax, title)


def _series_label(key: tuple[Any, Any, Any]) -> str:
    return f"{key[0]}, batch {format_value('batch', key[1])}, {key[2]}"


def _infeasible(table: SweepTable) -> np.ndarray:
    if "feasible" not in table.columns:
        return np.zeros(len(table), dtype=bool)
    return ~table.column("feasible").astype(bool)


def _lines(
    table: SweepTable,
    metric: str,
    knob: str,
    series: list[Any],
    rows: dict[Any, np.ndarray],
    ax: Any,
    title: str | None,
) -> Any:
    """A line of ``metric`` against ``knob`` per series."""
    if ax is None:
        _, ax = plt.subplots(figsize=(8.0, 4.5), layout="constrained")
    fig = ax.figure
    x_all = table.column(knob).astype(float)
    y_all = table.column(metric).astype(float)
    bad_all = _infeasible(table)
    crossed = False
    for key in series:
        sel = rows[key]
        order = np.argsort(x_all[sel])
        x, y, bad = x_all[sel][order], y_all[sel][order], bad_all[sel][order]
        ax.plot(x, y, marker="o", ms=3, label=_series_label(key))
        if bad.any():
            ax.plot(x[bad], y[bad], ls="", marker="x", ms=8, color=foreground())
            crossed = True
    xs = np.unique(x_all)
    if xs.min() > 0:
        ax.set_xscale("log")
    value_ticks(ax.xaxis, xs, knob_format(knob))
    _metric_axis(ax, metric, y_all[np.any([rows[k] for k in series], axis=0)])
    ax.set_xlabel(axis_label(knob))
    ax.grid(True, which="major", alpha=0.3)
    handles, _ = ax.get_legend_handles_labels()
    if crossed:
        handles.append(_cross_handle())
    legend_outside(ax, handles=handles)
    ax.set_title(title or f"{METRIC_LABELS.get(metric, metric)} over {knob}")
    thin_ticks(ax, "x")
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
    table: SweepTable,
    metric: str,
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
    x_all = table.column(knobs[0]).astype(float)
    y_all = table.column(knobs[1]).astype(float)
    z_all = table.column(metric).astype(float)
    bad_all = _infeasible(table)
    xe, xlog = cell_edges(x_all)
    ye, ylog = cell_edges(y_all)
    ux, uy = np.unique(x_all), np.unique(y_all)
    fmt = metric_format(metric)
    crossed = False
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
        pax.set_title(_series_label(key), fontsize=9)
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
          "label": "does not fit the device"}  # fmt: skip


def _cross_handle() -> Line2D:
    return Line2D([], [], ls="", marker="x", color=foreground(), label="does not fit the device")


def axis_label(path: str) -> str:
    """Axis label of a device knob: its path and, for rates and sizes, the unit."""
    unit = {"bandwidth": "B/s", "capacity": "B", "granularity": "B", "per_op": "s"}
    last = path.rsplit(".", 1)[-1]
    if ".peak." in path:
        return f"{path} ({peak_unit(path)})"
    return f"{path} ({unit.get(last, '')})" if last in unit else path
