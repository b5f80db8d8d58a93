"""Charts of the engine balance study (:mod:`roofline.studies.engine_balance`): the share of
time in vector work, and the speedup, as the matrix peak grows."""

from __future__ import annotations

from typing import Any

from matplotlib.ticker import FuncFormatter

from roofline.dtypes import work_unit
from roofline.plot.common import legend_outside, si_formatter
from roofline.plot.studies.common import LINE_COLORS, first_row


def _per_model(study: Any) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for r in study.table:
        out.setdefault(r["model"], []).append(r)
    return out


def vector_share(study: Any, ax: Any) -> None:
    """Share of time in vector work against the matrix-engine peak (dashed: unbounded peak)."""
    for k, (m, rs) in enumerate(_per_model(study).items()):
        c = LINE_COLORS[k % len(LINE_COLORS)]
        fin = [r for r in rs if not r["unbounded"]]
        ax.plot(
            [r["matrix_peak_flops_per_s"] for r in fin],
            [100 * r["vector_share"] for r in fin],
            "o-",
            color=c,
            label=f"{m} (batch {rs[0]['batch']})",
        )
        ax.axhline(100 * rs[-1]["vector_share"], color=c, ls="--", lw=0.8)
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
    ax.grid(True, alpha=0.3)
    legend_outside(ax, title="dashed: unbounded\nmatrix engine")
    ax.set_title(
        f"Vector work on {f['device']} ({f['dtype']}) as the matrix peak grows\n"
        "(dotted: the device)",
        fontsize=10,
    )


def _times_formatter() -> Any:
    return FuncFormatter(lambda v, _p: (f"1/{1 / v:.3g}" if v < 1 else f"{v:.3g}") + "x")


def speedup(study: Any, ax: Any) -> None:
    """Speedup over the device's matrix peak, with each model's Amdahl limit dashed."""
    for k, (m, rs) in enumerate(_per_model(study).items()):
        c = LINE_COLORS[k % len(LINE_COLORS)]
        fin = [r for r in rs if not r["unbounded"]]
        lim = rs[-1]["amdahl_limit"]
        ax.plot(
            [r["scale"] for r in fin],
            [r["speedup"] for r in fin],
            "o-",
            color=c,
            label=f"{m} (limit {lim:.2g}x)",
        )
        ax.axhline(lim, color=c, ls="--", lw=0.8)
    ax.axvline(1.0, color="grey", ls=":", lw=1)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log", base=2)
    ax.xaxis.set_major_formatter(_times_formatter())
    ax.yaxis.set_major_formatter(_times_formatter())
    ax.set_xlabel("Matrix-engine peak (multiple of the device's; dotted: the device)")
    ax.set_ylabel("Speedup over the device (x)")
    ax.grid(True, alpha=0.3)
    legend_outside(ax, title="dashed: Amdahl limit\n(unbounded matrix engine)")
    f = first_row(study)
    ax.set_title(f"Speedup from a faster matrix engine ({f['device']}, {f['dtype']})", fontsize=10)
