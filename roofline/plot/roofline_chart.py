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

from roofline.characterize import average_intensities
from roofline.counting import count_graph
from roofline.dtypes import work_unit
from roofline.errors import SpecError
from roofline.formatting import si
from roofline.fusion import fuse_table
from roofline.plot.common import (
    CATEGORY_COLORS,
    LEVEL_STYLES,
    MARKERS,
    axes,
    background,
    batch_index,
    category_color,
    declutter,
    device_index,
    foreground,
    legend_outside,
    si_formatter,
)
from roofline.presets import load_model
from roofline.records import CostTable
from roofline.result import Result


def roofline(
    results: Result | Sequence[Result],
    device: int | str = 0,
    batch: float | None = None,
    ax: Any = None,
    table1: bool | Sequence[Any] = False,
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
    table1 : bool or sequence of model-likes
        Also mark each model's two Table 1 intensities (FLOPs per weight byte, and per weight +
        activation byte) on the main-memory roof: the paper's argument that keeping activations
        (and weights) on chip moves a model right along that roof. They are the figures of
        :func:`roofline.table1`: the model counted unfused, layer by layer (:func:`table1_counts`).
        True takes each result's model as the preset of its name; a result of another model (a
        YAML file, changed parameters) needs its model given, one per result (a SpecError
        otherwise).
    title : str, optional

    Notes
    -----
    Each op is a dot at (FLOPs / bytes moved, FLOPs / time), its area proportional to its share of
    the model's time and its color its category; a star is each model's aggregate point (total
    FLOPs / total bytes, total FLOPs / latency), hollow when the model does not fit the device.
    Ops without FLOPs (tensor manipulation) cannot sit on log axes; the legend says how much time
    they take. Integer dtypes count operations (OP/s), floating-point ones FLOPs. Roofs, stars
    and marks take the active style's text color; both legends sit outside the data.
    """
    rs = [results] if isinstance(results, Result) else list(results)
    marks = _table1_sources(rs, table1)
    ax = axes(ax, figsize=(10.0, 6.0))
    r0 = rs[0]
    h = device_index(r0, device)
    grid = r0.grid
    dtype = r0.costs.precision.compute
    mpeak = float(grid.peak("matrix", dtype)[h] * grid.matrix_eff[h])
    vpeak = float(grid.peak("vector", dtype)[h] * grid.vector_eff[h])
    engines = grid.base.engines
    used = (engines.matrix.resolve(dtype) or dtype, engines.vector.resolve(dtype) or dtype)
    unit = work_unit(used[0])
    fg, bg = foreground(), background(ax)
    xs_all, ys_all, hidden, cats_seen, labels = [], [], [], [], []
    infeasible = False
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
            edgecolors=bg,
            linewidths=0.6,
            marker=MARKERS[k % len(MARKERS)],
            zorder=3,
        )
        hidden.append((ct.model, float(share[~ok].sum())))
        total_crit = int(np.argmax(r.level_time_s[hk, j].sum(axis=0)))
        ax_x = flops.sum() / r.bytes_moved[hk, j, :, total_crit].sum()
        ax_y = flops.sum() / t.sum()
        fits = bool(r.feasible[hk, j])
        infeasible |= not fits
        ax.scatter(
            [ax_x],
            [ax_y],
            marker="*",
            s=320,
            c=fg if fits else "none",
            edgecolors=bg if fits else fg,
            zorder=5,
        )
        label = ct.model if same_batch else f"{ct.model} (batch {ct.batch[j]:g})"
        if not fits:
            label += f" (does not fit: {int(r.devices_needed[hk, j])} devices)"
        text = ax.annotate(
            label,
            (ax_x, ax_y),
            xytext=(7, 7),
            textcoords="offset points",
            fontsize=9,
            weight="bold",
            zorder=6,
        )
        labels.append(text)
        xs_all += [*x, ax_x]
        ys_all += [*y, ax_y]
        if table1:
            labels += _table1_marks(ax, r, marks[k], j, hk, mpeak, xs_all, label=len(rs) > 1)
    roof_handles, roof_labels = _roofs(ax, grid, h, mpeak, vpeak, used, xs_all, ys_all)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.xaxis.set_major_formatter(si_formatter())
    ax.yaxis.set_major_formatter(si_formatter())
    ax.set_xlabel(f"Arithmetic intensity ({unit} per byte moved at the op's busiest memory level)")
    ax.set_ylabel(f"Attained performance ({unit}/s)")
    ax.grid(True, which="major", alpha=0.3)
    order = list(CATEGORY_COLORS)
    seen = sorted(set(cats_seen), key=lambda c: (order.index(c) if c in order else len(order), c))
    handles = [Line2D([], [], ls="", marker="o", color=category_color(c), label=c) for c in seen]
    handles.append(Line2D([], [], ls="", marker="*", color=fg, ms=12, label="model (total)"))
    if infeasible:
        handles.append(
            Line2D([], [], ls="", marker="*", mfc="none", color=fg, ms=12, label="does not fit")
        )
    if len(rs) > 1:
        handles += [
            Line2D(
                [],
                [],
                ls="",
                marker=MARKERS[k % len(MARKERS)],
                color="grey",
                label=r.costs.model
                if same_batch
                else f"{r.costs.model} (batch {r.costs.batch[batch_index(r, batch)]:g})",
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
                color=fg,
                label="Table 1 AI w.r.t. weights",
            ),
            Line2D(
                [],
                [],
                ls="",
                marker="s",
                mfc="none",
                color=fg,
                label="Table 1 AI w.r.t. acts + weights",
            ),
        ]
    note = "dot area = share of time"
    shown = [f"{m} {100 * v:.0f}%" for m, v in hidden if v > 0.005]
    if shown:
        note += "\nops without FLOPs (not shown):\n" + ", ".join(shown)
    # roofs under the axes, ops and models right of them: no legend covers a ridge point
    leg = ax.legend(
        handles=roof_handles,
        title="roofs",
        fontsize=8,
        title_fontsize=8,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.13),
        ncols=min(3, len(roof_handles)),
    )
    ax.add_artist(leg)
    leg.set_clip_on(False)  # add_artist clips to the axes, which would hide it
    legend_outside(ax, handles=handles, title=note)
    names = ", ".join(r.costs.model for r in rs)
    bs = f"batch {batches.pop():g}" if same_batch else "batches as labeled"
    where = f"{grid.labels[h]}, {r0.costs.precision.name}, {bs}"
    sep = "\n" if len(names) + len(where) > 60 else " "
    ax.set_title(title or f"Roofline: {names}{sep}on {where}")
    declutter(ax, roof_labels + labels)
    return ax


def _table1_sources(rs: list[Result], table1: bool | Sequence[Any]) -> list[CostTable]:
    """The unfused counts of each result's Table 1 marks (none without ``table1``)."""
    if table1 is False or table1 is None:
        return []
    if table1 is True:
        return [table1_counts(r) for r in rs]
    models = [table1] if isinstance(table1, (str, dict)) else list(table1)
    if len(models) != len(rs):
        raise SpecError(
            f"table1 gives {len(models)} model(s) for {len(rs)} result(s)",
            field="table1",
            fix="pass True, or the models evaluated, one per result in the same order",
        )
    return [table1_counts(r, m) for r, m in zip(rs, models)]


def _roofs(
    ax: Any,
    grid: Any,
    h: int,
    mpeak: float,
    vpeak: float,
    dtypes: tuple[str, str],
    xs: list[float],
    ys: list[float],
) -> tuple[list[Any], list[Any]]:
    """Draw compute and memory roofs; set the limits; return the roofs' legend handles and the
    labels written along the memory roofs."""
    bws = grid.bandwidth[h]
    lo = min([*xs, *[vpeak / bw for bw in bws]], default=0.1)
    hi = max([*xs, *[mpeak / bw for bw in bws]], default=1e4)
    x = np.logspace(np.log10(lo) - 0.5, np.log10(hi) + 0.5, 200)
    ymin = min(min(ys, default=mpeak) / 3, vpeak / 10)
    ax.set_xlim(x[0], x[-1])
    ax.set_ylim(ymin, mpeak * 3)
    fg = foreground()
    handles = [
        ax.axhline(
            mpeak,
            color=fg,
            lw=2.0,
            zorder=2,
            label=f"matrix engine {si(mpeak, work_unit(dtypes[0]) + '/s')} ({dtypes[0]})",
        ),
        ax.axhline(
            vpeak,
            color=fg,
            lw=1.2,
            ls="--",
            zorder=2,
            label=f"vector engine {si(vpeak, work_unit(dtypes[1]) + '/s')} ({dtypes[1]})",
        ),
    ]
    texts = []
    for name, bw, kind in zip(grid.level_names, bws, grid.level_kinds):
        (line,) = ax.plot(
            x,
            np.minimum(bw * x, mpeak),
            color=fg,
            alpha=0.7,
            lw=1.5,
            zorder=2,
            ls=LEVEL_STYLES[kind],
            label=f"{name} {si(bw, 'B/s')}",
        )
        handles.append(line)
        xl = max(x[0] * 2.0, ymin * 2.5 / bw)
        if bw * xl < mpeak / 3:
            text = ax.annotate(
                f"{name} {si(bw, 'B/s')}",
                (xl, bw * xl),
                xytext=(-4, 6),
                textcoords="offset points",
                fontsize=8,
                color=fg,
                rotation=_slope_degrees(ax),
                rotation_mode="anchor",
            )
            texts.append(text)
    return handles, texts


def _slope_degrees(ax: Any) -> float:
    """On-screen angle of a line of slope 1 on the log-log axes (for labels along roofs)."""
    x0, x1 = np.log10(ax.get_xlim())
    y0, y1 = np.log10(ax.get_ylim())
    w, h = ax.get_window_extent().width, ax.get_window_extent().height
    return float(np.degrees(np.arctan((h / (y1 - y0)) / (w / (x1 - x0)))))


def table1_counts(r: Result, model: Any = None) -> CostTable:
    """The unfused counts Table 1 takes its intensities from (layer by layer, as
    :func:`roofline.table1` counts), of the model ``r`` was evaluated from, at ``r``'s batches
    and precision: ``model`` (a model-like), or the preset named as ``r``'s model.

    The model must be the one evaluated: its counts, fused or not, are ``r``'s (a preset's
    name on a result of a changed or another model is refused, a SpecError asking for it)."""
    ct = r.costs
    name = ct.model if model is None else model
    try:
        m = load_model(name)
    except SpecError:
        m = None
    if m is not None:
        unfused = count_graph(m.graph, list(ct.batch), ct.precision, fuse=False)
        if _same_counts(unfused, ct) or _same_counts(fuse_table(unfused, m.graph), ct):
            return unfused
    why = "no preset has its name" if m is None else "the preset of that name counts otherwise"
    raise SpecError(
        f"the Table 1 marks of {ct.model!r} need the model it was evaluated from: {why}",
        field="table1",
        fix="pass table1=[model, ...], the models evaluated, one per result",
    )


def _same_counts(a: CostTable, b: CostTable) -> bool:
    """Whether two count tables hold the same ops and the same counts."""
    if a.names != b.names or a.batch.shape != b.batch.shape:
        return False
    return all(
        np.array_equal(getattr(a, f), getattr(b, f))
        for f in ("flops_matrix", "flops_vector", "weight_elems", "act_in_elems", "act_out_elems")
    )


def _table1_marks(
    ax: Any,
    r: Result,
    ct: CostTable,
    j: int,
    h: int,
    mpeak: float,
    xs: list[float],
    label: bool = False,
) -> list[Any]:
    """Mark the Table 1 intensities of ``r``'s unfused counts ``ct`` (:func:`table1_counts`) on
    the main-memory roof, converted to FLOPs per byte; a model with embedding tables gets one
    pair for its dense layers and one for its tables, as the paper's two recommendation rows.
    Return the labels written beside the marks."""
    fg = foreground()
    texts = []
    prec = ct.precision
    main = r.grid.main
    bw = float(r.grid.bandwidth[h, main])
    tables = np.asarray(ct.is_table, dtype=bool)
    groups = [("", np.ones(ct.n_ops, dtype=bool))]
    if tables.any():
        groups = [(" FCs", ~tables), (" embeddings", tables)]
    wb, eb = prec.bytes_per("weight"), max(prec.bytes_per("weight"), prec.bytes_per("act_in"))
    for suffix, mask in groups:
        iw, iaw = average_intensities(ct, mask, j)
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
                    edgecolors=fg,
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
                    "color": fg,
                    "lw": 0.8,
                    "shrinkA": 6,
                    "shrinkB": 6,
                },
            )
        if (label or suffix) and pts:
            text = ax.annotate(
                ct.model + suffix,
                pts[-1],
                xytext=(6, -12),
                textcoords="offset points",
                fontsize=7,
                color=fg,
            )
            texts.append(text)
    return texts
