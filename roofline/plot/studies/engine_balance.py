"""Charts of the engine balance study (:mod:`roofline.studies.engine_balance`): the share of
time in vector work, and the speedup, as the matrix peak grows. A model that does not fit the
device has no line: crosses at the bottom of the chart mark its peaks."""

from __future__ import annotations

import math
from typing import Any

from matplotlib.ticker import FuncFormatter

from roofline.dtypes import work_unit
from roofline.plot.common import (
    cross_out,
    legend_handles,
    legend_outside,
    nothing_fits,
    si_formatter,
)
from roofline.plot.studies.common import LINE_COLORS, first_row


def _per_model(study: Any) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for r in study.table:
        out.setdefault(r["model"], []).append(r)
    return out


def _crossed(ax: Any, rows: list[dict[str, Any]], x: str, color: str, row: int) -> bool:
    """Cross out the finite points of ``rows`` that do not fit, at their ``x``; whether any."""
    bad = [r[x] for r in rows if not r["feasible"] and not r["unbounded"]]
    if bad:
        cross_out(ax, bad, color=color, row=row)
    return bool(bad)


def vector_share(study: Any, ax: Any) -> None:
    """Share of time in vector work against the matrix-engine peak (dashed: unbounded peak)."""
    crossed = False
    for k, (m, rs) in enumerate(_per_model(study).items()):
        c = LINE_COLORS[k % len(LINE_COLORS)]
        fin = [r for r in rs if not r["unbounded"] and r["feasible"]]
        label = f"{m} (batch {rs[0]['batch']})"
        ax.plot(
            [r["matrix_peak_flops_per_s"] for r in fin],
            [100 * r["vector_share"] for r in fin],
            "o-",
            color=c,
            label=label if fin else f"{label}: does not fit",
        )
        if rs[-1]["feasible"]:
            ax.axhline(100 * rs[-1]["vector_share"], color=c, ls="--", lw=0.8)
        crossed |= _crossed(ax, rs, "matrix_peak_flops_per_s", c, k)
    f = first_row(study)
    dev = [r["matrix_peak_flops_per_s"] for r in study.table if r["scale"] == 1.0]
    if dev:
        ax.axvline(dev[0], color="grey", ls=":", lw=1)
    ax.set_xscale("log")
    unit = f"{work_unit(f.get('compute_dtype') or f['dtype'])}/s"  # int8 engines: TOP/s
    ax.xaxis.set_major_formatter(si_formatter(unit))
    ax.set_xlabel(f"Matrix-engine peak ({f['dtype']}, {unit})")
    ax.set_ylabel("Share of latency in vector work (%)")
    ax.set_ylim(0, 104)  # the 100% tick label stays clear of the title
    if not any(r["feasible"] for r in study.table):
        nothing_fits(ax, "no model fits the device")
    ax.grid(True, alpha=0.3)
    legend_outside(
        ax, handles=legend_handles(ax, crossed), title="dashed: unbounded\nmatrix engine"
    )
    ax.set_title(
        f"Vector work on {f['device']} ({f['dtype']}) as the matrix peak grows\n"
        "(dotted: the device)",
        fontsize=10,
    )


def _times_formatter() -> Any:
    return FuncFormatter(lambda v, _p: (f"1/{1 / v:.3g}" if v < 1 else f"{v:.3g}") + "x")


def speedup(study: Any, ax: Any) -> None:
    """Speedup over the device's matrix peak, with each model's Amdahl limit dashed."""
    crossed = False
    for k, (m, rs) in enumerate(_per_model(study).items()):
        c = LINE_COLORS[k % len(LINE_COLORS)]
        fin = [r for r in rs if not r["unbounded"] and r["feasible"]]
        lim = rs[-1]["amdahl_limit"]
        ax.plot(
            [r["scale"] for r in fin],
            [r["speedup"] for r in fin],
            "o-",
            color=c,
            label=f"{m} (limit {lim:.2g}x)" if lim is not None else f"{m}: does not fit",
        )
        if lim is not None:
            ax.axhline(lim, color=c, ls="--", lw=0.8)
        crossed |= _crossed(ax, rs, "scale", c, k)
    ax.axvline(1.0, color="grey", ls=":", lw=1)
    ax.set_xscale("log", base=2)
    ax.xaxis.set_major_formatter(_times_formatter())
    if any(r["feasible"] for r in study.table):
        ax.set_yscale("log", base=2)
        ax.yaxis.set_major_formatter(_times_formatter())
    else:
        nothing_fits(ax, "no model fits the device")
    ax.set_xlabel("Matrix-engine peak (multiple of the device's; dotted: the device)")
    # the study's reference is the scale tried nearest the device's (1 unless not tried)
    scales = [r["scale"] for r in study.table if not r["unbounded"]]
    ref = min(scales, key=lambda s: abs(math.log(s))) if scales else 1.0
    ax.set_ylabel(
        "Speedup over the device (x)" if ref == 1.0 else f"Speedup over {ref:g}x the device (x)"
    )
    ax.grid(True, alpha=0.3)
    legend_outside(
        ax,
        handles=legend_handles(ax, crossed),
        title="dashed: Amdahl limit\n(unbounded matrix engine)",
    )
    f = first_row(study)
    ax.set_title(f"Speedup from a faster matrix engine ({f['device']}, {f['dtype']})", fontsize=10)
