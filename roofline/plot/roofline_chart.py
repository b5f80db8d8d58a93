"""The roofline chart: every op of one or more models against a device's compute and memory roofs.

Reading a roofline chart: the x axis is arithmetic intensity, FLOPs per byte the op actually moves
at its busiest memory level (the level whose transfer takes longest, as placed by the policy); the
y axis is attained FLOP/s (FLOPs / predicted time). Flat roofs are the engines' peaks at the
compute dtype; each slanted roof is one memory level's bandwidth x intensity. A memory-bound op
sits on the roof of its busiest level; a compute-bound one under a flat roof; the distance below
the roofs is what tile padding and per-op overhead cost.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.lines import Line2D

from roofline.characterize import layer_mask, weight_read_elems
from roofline.formatting import si
from roofline.plot.common import (
    CATEGORY_COLORS,
    LEVEL_STYLES,
    MARKERS,
    axes,
    batch_index,
    category_color,
    device_index,
    si_formatter,
)
from roofline.result import Result


def roofline(
    results: Result | Sequence[Result],
    device: int | str = 0,
    batch: float | None = None,
    ax: Any = None,
    table1: bool = False,
    title: str | None = None,
) -> Any:
    """Draw a roofline chart of one or more models on one device; return the Axes.

    Parameters
    ----------
    results : Result or sequence of Result
        Evaluations on the same device (the first one's device draws the roofs).
    device : int or str
        Variant of the result's grid to draw.
    batch : float, optional
        Batch to draw (default the first evaluated).
    ax : matplotlib Axes, optional
    table1 : bool
        Also mark each model's two Table 1 intensities (FLOPs per weight byte, and per weight +
        activation byte) on the main-memory roof: the paper's argument that keeping activations
        (and weights) on chip moves a model right along that roof.
    title : str, optional

    Notes
    -----
    Each op is a dot at (FLOPs / bytes moved, FLOPs / time), its area proportional to its share of
    the model's time and its color its category; a star is each model's aggregate point (total
    FLOPs / total bytes, total FLOPs / latency). Ops without FLOPs (tensor manipulation) cannot
    sit on log axes; the legend says how much time they take.
    """
    rs = [results] if isinstance(results, Result) else list(results)
    ax = axes(ax, figsize=(10.0, 6.0))
    r0 = rs[0]
    h = device_index(r0, device)
    grid = r0.grid
    dtype = r0.costs.precision.compute
    mpeak = float(grid.peak("matrix", dtype)[h] * grid.matrix_eff[h])
    vpeak = float(grid.peak("vector", dtype)[h] * grid.vector_eff[h])
    engines = grid.base.engines
    used = (engines.matrix.resolve(dtype) or dtype, engines.vector.resolve(dtype) or dtype)
    xs_all, ys_all, hidden, cats_seen = [], [], [], []
    batches = {float(r.costs.batch[batch_index(r, batch)]) for r in rs}
    same_batch = len(batches) == 1
    for k, r in enumerate(rs):
        j = batch_index(r, batch)
        hk = device_index(r, device) if isinstance(device, str) else h
        ct = r.costs
        flops = (ct.flops_matrix + ct.flops_vector)[:, j]
        crit = np.argmax(r.level_time_s[hk, j], axis=-1)  # the busiest memory level of each op
        moved = np.take_along_axis(r.bytes_moved[hk, j], crit[:, None], -1)[:, 0]
        t = r.time_s[hk, j]
        share = t / t.sum()
        ok = (flops > 0) & (moved > 0) & (t > 0)
        x, y = flops[ok] / moved[ok], flops[ok] / t[ok]
        colors = [category_color(c) for c, o in zip(ct.categories, ok) if o]
        cats_seen += [c for c, o in zip(ct.categories, ok) if o]
        ax.scatter(
            x,
            y,
            s=10 + 700 * share[ok],
            c=colors,
            alpha=0.7,
            edgecolors="white",
            linewidths=0.6,
            marker=MARKERS[k % len(MARKERS)],
            zorder=3,
        )
        hidden.append((ct.model, float(share[~ok].sum())))
        total_crit = int(np.argmax(r.level_time_s[hk, j].sum(axis=0)))
        ax_x = flops.sum() / r.bytes_moved[hk, j, :, total_crit].sum()
        ax_y = flops.sum() / t.sum()
        ax.scatter([ax_x], [ax_y], marker="*", s=320, c="black", edgecolors="white", zorder=5)
        label = ct.model if same_batch else f"{ct.model} (batch {ct.batch[j]:g})"
        ax.annotate(
            label,
            (ax_x, ax_y),
            xytext=(7, 7),
            textcoords="offset points",
            fontsize=9,
            weight="bold",
            zorder=6,
        )
        xs_all += [*x, ax_x]
        ys_all += [*y, ax_y]
        if table1:
            _table1_marks(ax, r, j, hk, mpeak, xs_all, label=len(rs) > 1)
    roof_handles = _roofs(ax, grid, h, mpeak, vpeak, used, xs_all, ys_all)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.xaxis.set_major_formatter(si_formatter())
    ax.yaxis.set_major_formatter(si_formatter())
    ax.set_xlabel("Arithmetic intensity (FLOP per byte moved at the op's busiest memory level)")
    ax.set_ylabel("Attained performance (FLOP/s)")
    ax.grid(True, which="major", alpha=0.3)
    order = list(CATEGORY_COLORS)
    seen = sorted(set(cats_seen), key=lambda c: (order.index(c) if c in order else len(order), c))
    handles = [Line2D([], [], ls="", marker="o", color=category_color(c), label=c) for c in seen]
    handles.append(Line2D([], [], ls="", marker="*", color="black", ms=12, label="model (total)"))
    if len(rs) > 1:
        handles += [
            Line2D(
                [], [], ls="", marker=MARKERS[k % len(MARKERS)], color="grey", label=r.costs.model
            )
            for k, r in enumerate(rs)
        ]
    if table1:
        handles += [
            Line2D(
                [],
                [],
                ls="",
                marker="D",
                mfc="none",
                color="black",
                label="Table 1 AI w.r.t. weights",
            ),
            Line2D(
                [],
                [],
                ls="",
                marker="s",
                mfc="none",
                color="black",
                label="Table 1 AI w.r.t. acts + weights",
            ),
        ]
    note = "dot area = share of time"
    shown = [f"{m} {100 * v:.0f}%" for m, v in hidden if v > 0.005]
    if shown:
        note += "\nops without FLOPs (not shown):\n" + ", ".join(shown)
    leg = ax.legend(
        handles=roof_handles, title="roofs", fontsize=8, title_fontsize=8, loc="upper left"
    )
    ax.add_artist(leg)
    ax.legend(
        handles=handles,
        title=note,
        fontsize=8,
        title_fontsize=8,
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
    )
    names = ", ".join(r.costs.model for r in rs)
    bs = f"batch {batches.pop():g}" if same_batch else "batches as labeled"
    where = f"{grid.labels[h]}, {r0.costs.precision.name}, {bs}"
    sep = "\n" if len(names) + len(where) > 60 else " "
    ax.set_title(title or f"Roofline: {names}{sep}on {where}")
    return ax


def _roofs(
    ax: Any,
    grid: Any,
    h: int,
    mpeak: float,
    vpeak: float,
    dtypes: tuple[str, str],
    xs: list[float],
    ys: list[float],
) -> list[Any]:
    """Draw compute and memory roofs; set the limits; return legend handles of the roofs."""
    bws = grid.bandwidth[h]
    lo = min([*xs, *[vpeak / bw for bw in bws]], default=0.1)
    hi = max([*xs, *[mpeak / bw for bw in bws]], default=1e4)
    x = np.logspace(np.log10(lo) - 0.5, np.log10(hi) + 0.5, 200)
    ymin = min(min(ys, default=mpeak) / 3, vpeak / 10)
    ax.set_xlim(x[0], x[-1])
    ax.set_ylim(ymin, mpeak * 3)
    handles = [
        ax.axhline(
            mpeak,
            color="black",
            lw=2.0,
            zorder=2,
            label=f"matrix engine {si(mpeak, 'FLOP/s')} ({dtypes[0]})",
        ),
        ax.axhline(
            vpeak,
            color="black",
            lw=1.2,
            ls="--",
            zorder=2,
            label=f"vector engine {si(vpeak, 'FLOP/s')} ({dtypes[1]})",
        ),
    ]
    for name, bw, kind in zip(grid.level_names, bws, grid.level_kinds):
        (line,) = ax.plot(
            x,
            np.minimum(bw * x, mpeak),
            color="#555555",
            lw=1.5,
            zorder=2,
            ls=LEVEL_STYLES[kind],
            label=f"{name} {si(bw, 'B/s')}",
        )
        handles.append(line)
        xl = max(x[0] * 2.0, ymin * 2.5 / bw)
        if bw * xl < mpeak / 3:
            ax.annotate(
                f"{name} {si(bw, 'B/s')}",
                (xl, bw * xl),
                xytext=(-4, 6),
                textcoords="offset points",
                fontsize=8,
                color="#333333",
                rotation=_slope_degrees(ax),
                rotation_mode="anchor",
            )
    return handles


def _slope_degrees(ax: Any) -> float:
    """On-screen angle of a line of slope 1 on the log-log axes (for labels along roofs)."""
    x0, x1 = np.log10(ax.get_xlim())
    y0, y1 = np.log10(ax.get_ylim())
    w, h = ax.get_window_extent().width, ax.get_window_extent().height
    return float(np.degrees(np.arctan((h / (y1 - y0)) / (w / (x1 - x0)))))


def table1_intensities(ct: Any, j: int, mask: np.ndarray) -> tuple[float, float]:
    """Average Table 1 intensities of the layers in ``mask``: FLOPs per weight element, and per
    weight + activation element (see :mod:`roofline.characterize`)."""
    m = layer_mask(ct) & mask
    f = (ct.flops_matrix + ct.flops_vector)[m, j].sum()
    w = weight_read_elems(ct)[m, j].sum()
    a = ct.act_in_elems[m, j].sum() + ct.act_out_elems[m, j].sum()
    return (f / w if w else float("nan"), f / (w + a) if w + a else float("nan"))


def _table1_marks(
    ax: Any, r: Result, j: int, h: int, mpeak: float, xs: list[float], label: bool = False
) -> None:
    """Mark the Table 1 intensities on the main-memory roof, converted to FLOPs per byte; a model
    with embedding tables gets one pair for its dense layers and one for its tables, as the
    paper's two recommendation rows."""
    ct = r.costs
    prec = ct.precision
    main = r.grid.main
    bw = float(r.grid.bandwidth[h, main])
    tables = np.asarray(ct.is_table, dtype=bool)
    groups = [("", np.ones(ct.n_ops, dtype=bool))]
    if tables.any():
        groups = [(" FCs", ~tables), (" embeddings", tables)]
    wb, eb = prec.bytes_per("weight"), max(prec.bytes_per("weight"), prec.bytes_per("act_in"))
    for suffix, mask in groups:
        iw, iaw = table1_intensities(ct, j, mask)
        pts = []
        for x, marker in ((iaw / eb, "s"), (iw / wb, "D")):
            if np.isfinite(x) and x > 0:
                y = min(bw * x, mpeak)
                ax.scatter(
                    [x],
                    [y],
                    marker=marker,
                    s=70,
                    facecolors="none",
                    edgecolors="black",
                    linewidths=1.4,
                    zorder=6,
                )
                xs.append(x)
                pts.append((x, y))
        if len(pts) == 2 and pts[0] != pts[1]:
            ax.annotate(
                "",
                pts[1],
                pts[0],
                arrowprops={
                    "arrowstyle": "->",
                    "color": "black",
                    "lw": 0.8,
                    "shrinkA": 6,
                    "shrinkB": 6,
                },
            )
        if (label or suffix) and pts:
            ax.annotate(
                ct.model + suffix,
                pts[-1],
                xytext=(6, -12),
                textcoords="offset points",
                fontsize=7,
                color="#333333",
            )
