"""Charts: the roofline, time breakdowns, and latency / throughput against batch size.

matplotlib is imported inside each function, so ``import roofline`` never loads it. Every function
draws on ``ax`` (a new figure when ``None``) and returns the Axes. Axes carry units, charts carry
a legend and a title naming model, device, dtype and batch.

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

from .errors import SpecError
from .report import si
from .result import Result

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
_MARKERS = ("o", "^", "v", "P", "X", "<", ">", "h", "p")
#: memory roofs: line style by level kind (on chip, device memory, host)
_LEVEL_STYLES = {"onchip": "-.", "device": "-", "host": ":"}


def category_color(category: str) -> str:
    """The chart color of an op category (grey for an unknown one)."""
    return CATEGORY_COLORS.get(category, "#999999")


def _axes(ax: Any, figsize: tuple[float, float] = (8.0, 5.5)) -> Any:
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, ax = plt.subplots(figsize=figsize, layout="constrained")
    return ax


def si_formatter(unit: str = "") -> Any:
    """A tick formatter printing SI prefixes (``1 T``, ``100 G``)."""
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda v, _pos: si(v, unit, digits=3) if v > 0 else "0")


def plain_log_ticks(axis: Any, si_prefix: bool = False) -> None:
    """Label a log axis with plain numbers (``1``, ``10``, minor ``2`` and ``5``), not powers."""
    from matplotlib.ticker import FuncFormatter

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


def _batch_index(result: Result, batch: float | None) -> int:
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


def _device_index(result: Result, device: int | str) -> int:
    return result.grid.labels.index(device) if isinstance(device, str) else int(device)


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
    from matplotlib.lines import Line2D

    rs = [results] if isinstance(results, Result) else list(results)
    ax = _axes(ax, figsize=(10.0, 6.0))
    r0 = rs[0]
    h = _device_index(r0, device)
    grid = r0.grid
    dtype = r0.costs.precision.compute
    mpeak = float(grid.peak("matrix", dtype)[h] * grid.matrix_eff[h])
    vpeak = float(grid.peak("vector", dtype)[h] * grid.vector_eff[h])
    engines = grid.base.engines
    used = (engines.matrix.resolve(dtype) or dtype, engines.vector.resolve(dtype) or dtype)
    xs_all, ys_all, hidden, cats_seen = [], [], [], []
    batches = {float(r.costs.batch[_batch_index(r, batch)]) for r in rs}
    same_batch = len(batches) == 1
    for k, r in enumerate(rs):
        j = _batch_index(r, batch)
        hk = _device_index(r, device) if isinstance(device, str) else h
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
            marker=_MARKERS[k % len(_MARKERS)],
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
                [], [], ls="", marker=_MARKERS[k % len(_MARKERS)], color="grey", label=r.costs.model
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
            ls=_LEVEL_STYLES[kind],
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
    weight + activation element (see :mod:`roofline.metrics`)."""
    from .metrics import layer_mask, weight_read_elems

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
    main = r.grid.level_kinds.index("device")
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


#: image formats :func:`save` writes, by file suffix
IMAGE_FORMATS = ("png", "svg", "pdf")


def image_format(path: str, field: str = "output") -> str:
    """The image format of ``path`` by its suffix (``png``, ``svg`` or ``pdf``); a
    :class:`~roofline.errors.SpecError` naming ``field`` for any other name."""
    _, dot, fmt = str(path).lower().rpartition(".")
    if not dot or fmt not in IMAGE_FORMATS:
        raise SpecError(
            f"cannot tell the image format of {path!r}",
            field=field,
            fix="name the file .png or .svg",
        )
    return fmt


def save(ax_or_fig: Any, path: str) -> None:
    """Write the figure of ``ax_or_fig`` to ``path`` (PNG, SVG or PDF by suffix) atomically."""
    from .cli import atomic_write

    fig = getattr(ax_or_fig, "figure", ax_or_fig)
    fmt = image_format(path)
    atomic_write(str(path), lambda tmp: fig.savefig(tmp, format=fmt, dpi=130))


from .plot_bars import batch_scaling, breakdown  # noqa: E402  (re-exported: charts live here)

__all__ = [
    "auto_scale",
    "batch_scaling",
    "breakdown",
    "category_color",
    "image_format",
    "plain_log_ticks",
    "roofline",
    "save",
    "si_formatter",
    "table1_intensities",
]
