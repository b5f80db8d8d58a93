"""Bar and line charts of a result: time breakdowns (stacked bars) and latency / throughput
against batch."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.ticker import FuncFormatter

from roofline.errors import SpecError
from roofline.formatting import fmt_time, si
from roofline.plot.common import (
    auto_scale,
    axes,
    background,
    category_color,
    cross_handle,
    cross_out,
    device_index,
    foreground,
    legend_below,
    legend_handles,
    legend_outside,
    nothing_fits,
)
from roofline.result import Result
from roofline.sla import meets
from roofline.units import Dim, parse_quantity

# -- breakdowns ---------------------------------------------------------------------------------

BOUND_COLORS = ("#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3")


def breakdown(
    results: Result | Sequence[Result],
    by: str = "category",
    ax: Any = None,
    share: bool = True,
    title: str | None = None,
) -> Any:
    """Stacked bars of time by op category (or by bound) for every model x device x batch.

    Parameters
    ----------
    results : Result or sequence of Result
    by : "category", "kind" or "bound"
    share : bool
        Bars as percent of each run's latency (default) or as seconds.

    Notes
    -----
    A run whose footprint does not fit the device has no time: it has no bar, and a cross at
    the bottom of the chart marks it (:func:`~roofline.plot.common.cross_out`), its label
    saying so.
    """
    rs = [results] if isinstance(results, Result) else list(results)
    if by not in ("category", "kind", "bound"):
        raise SpecError(f"unknown breakdown {by!r}", field="by", fix="use category, kind or bound")
    ax = axes(ax, figsize=(max(6.0, 1.1 * _n_bars(rs) + 3), 5.0))
    labels: list[str] = []
    stacks: list[dict[str, float]] = []
    unfit: list[int] = []
    for r in rs:
        ct = r.costs
        for h, dev in enumerate(r.grid.labels):
            for j, b in enumerate(ct.batch):
                label = f"{ct.model}\n{dev}\n{ct.precision.name}, b={b:g}"
                if not bool(r.feasible[h, j]):  # no time: no bar, a cross (cross_out)
                    unfit.append(len(stacks))
                    stacks.append({})
                    labels.append(f"{label}\n(does not fit)")
                    continue
                t = r.time_s[h, j]
                if by == "bound":
                    keys = [r.bound_labels[int(k)] for k in r.bound[h, j]]
                else:
                    keys = list(ct.categories if by == "category" else ct.kinds)
                acc: dict[str, float] = {}
                for k, v in zip(keys, t):
                    acc[k] = acc.get(k, 0.0) + float(v)
                total = float(t.sum())
                stacks.append({k: (v / total if share else v) for k, v in acc.items()})
                labels.append(label)
    keys = _order(stacks, by, rs)
    x = np.arange(len(stacks))
    bottom = np.zeros(len(stacks))
    for i, k in enumerate(keys):
        vals = np.array([s.get(k, 0.0) for s in stacks]) * (100 if share else 1e3)
        color: str | None
        if by == "bound":
            color = BOUND_COLORS[i % len(BOUND_COLORS)]
        else:  # op kinds take matplotlib's color cycle
            color = category_color(k) if by == "category" else None
        ax.bar(x, vals, bottom=bottom, label=k, color=color, width=0.7, edgecolor=background(ax))
        bottom += vals
    ax.set_xticks(x, labels, fontsize=8)
    ax.set_ylabel("Share of latency (%)" if share else "Time (ms)")
    handles = legend_handles(ax, unfit)
    if unfit:
        cross_out(ax, unfit)
    if len(unfit) == len(stacks):
        nothing_fits(ax, "no run fits the device")
    legend_outside(ax, handles=handles, title=f"time by {by}")
    uniq = lambda xs: ", ".join(dict.fromkeys(xs))  # noqa: E731
    ax.set_title(
        title
        or f"Time by {by}: {uniq(r.costs.model for r in rs)}\non "
        f"{uniq(d for r in rs for d in r.grid.labels)}, "
        f"{uniq(r.costs.precision.name for r in rs)}, batch "
        f"{uniq(f'{b:g}' for r in rs for b in r.costs.batch)}"
    )
    ax.grid(True, axis="y", alpha=0.3)
    return ax


def _n_bars(rs: list[Result]) -> int:
    return sum(len(r.grid.labels) * r.costs.batch.size for r in rs)


def _order(stacks: list[dict[str, float]], by: str, rs: list[Result]) -> list[str]:
    keys = {k for s in stacks for k in s}
    if by == "bound":
        order = []
        for r in rs:
            order += [b for b in r.bound_labels if b not in order]
        return [k for k in order if k in keys]
    return sorted(keys, key=lambda k: -sum(s.get(k, 0.0) for s in stacks))


# -- batch scaling ------------------------------------------------------------------------------


def batch_scaling(
    result: Result,
    device: int | str = 0,
    target_s: float | str | None = None,
    ax: Any = None,
    title: str | None = None,
) -> Any:
    """Latency (left axis) and throughput (right axis) against batch size; return the left Axes.

    Parameters
    ----------
    result : Result
        An evaluation over several batches.
    target_s : float or str, optional
        A latency target (seconds or ``"10ms"``): a horizontal line, and the largest evaluated
        batch that meets it is marked with its throughput. A batch meets the target as in
        :func:`roofline.batches_under_sla` (``compare --sla``): it fits the device and its
        latency is at most the target, so where the evaluated batches include the batch that
        search finds (``plot batch --sla`` adds it), the chart marks the same batch.

    Notes
    -----
    A batch whose footprint does not fit the device has no time: both lines leave a gap there
    and a cross at the bottom of the chart says so (:func:`~roofline.plot.common.cross_out`);
    when no batch fits, the chart says that instead of drawing a scale around nothing.
    """
    ax = axes(ax)
    h = device_index(result, device)
    b = result.costs.batch
    fits = np.asarray(result.feasible[h], dtype=bool)
    lat = np.where(fits, result.latency_s[h], np.nan)
    thr = np.where(fits, result.throughput_per_s[h], np.nan)
    t = None if target_s is None else parse_quantity(target_s, Dim.TIME)
    ax.plot(b, lat * 1e3, "o-", color="#1f77b4", label="latency")
    ax.set_xscale("log", base=2)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _p: f"{v:g}"))
    auto_scale(ax, np.append(lat, [] if t is None or not fits.any() else [t]) * 1e3)
    ax.set_xlabel("Batch size (samples per run)")
    ax.set_ylabel("Latency (ms)", color="#1f77b4")
    ax2 = ax.twinx()
    ax2.plot(b, thr, "s--", color="#d62728", label="throughput")
    auto_scale(ax2, thr, si_prefix=True)
    ax2.set_ylabel("Throughput (samples/s)", color="#d62728")
    handles = ax.get_lines() + ax2.get_lines()
    if not fits.all():
        cross_out(ax, b[~fits])
        handles.append(cross_handle())
    if not fits.any():
        nothing_fits(ax, "no batch fits the device")
        ax2.set_yticks([])
    if t is not None:
        line = ax.axhline(
            t * 1e3, color=foreground(), ls=":", lw=1.5, label=f"target {fmt_time(t)}"
        )
        handles.append(line)
        ok = np.flatnonzero(meets(result.latency_s[h], t, fits))
        if ok.size:
            k = int(ok[-1])
            ax.scatter(
                [b[k]], [lat[k] * 1e3], s=160, facecolors="none", edgecolors=foreground(), zorder=5
            )
            ax.get_ylim()  # settle the limits: is the mark low in the axes (by the crosses)?
            _, up = ax.transAxes.inverted().transform(ax.transData.transform((b[k], lat[k] * 1e3)))
            ax.annotate(
                f"largest batch under target: {b[k]:g}\n({si(thr[k], 'samples/s')})",
                (b[k], lat[k] * 1e3),
                xytext=(10, 10 if up < 0.3 else -28),
                textcoords="offset points",
                fontsize=8,
            )
    legend_below(ax, handles=handles, labels=[x.get_label() for x in handles])
    ax.grid(True, which="major", alpha=0.3)
    ct = result.costs
    ax.set_title(
        title
        or f"{ct.model} on {result.grid.labels[h]}, {ct.precision.name}: latency "
        f"and throughput, batch {b[0]:g}-{b[-1]:g}"
    )
    return ax
