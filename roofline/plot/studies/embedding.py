"""Charts of the embedding study (:mod:`roofline.studies.embedding`): latency against memory
bandwidth, against the tier holding the tables, and against table size."""

from __future__ import annotations

from typing import Any

import numpy as np

from roofline.formatting import fmt_bytes
from roofline.plot.common import foreground, legend_below, legend_outside, si_formatter
from roofline.plot.studies.common import LINE_COLORS, first_row, latency_axis, rows_where


def bandwidth(study: Any, ax: Any) -> None:
    """Latency (total and in embedding lookups) against main-memory bandwidth."""
    rs = rows_where(study, sweep="bandwidth")
    x = np.array([r["x"] for r in rs])
    ax.plot(x, [r["latency_s"] * 1e3 for r in rs], "o-", label="model latency")
    ax.plot(x, [r["embedding_time_s"] * 1e3 for r in rs], "s--", label="embedding lookups")
    f = first_row(study)
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(si_formatter("B/s"))
    ax.set_xlabel("Main-memory bandwidth (bytes/s)")
    latency_axis(ax)
    ax.axvline(study.findings["device_bandwidth_bytes_per_s"], color="grey", ls=":", lw=1)
    ax.axhline(
        study.findings["embedding_overhead_s"] * 1e3,
        color="#2ca02c",
        ls=":",
        lw=1.2,
        label="per-op overhead of the lookups",
    )
    legend_outside(ax, title=f"tables in {rs[0]['tables_level']}" if rs else None)
    ax.set_title(
        f"{f['model']} on {f['device']}, {f['dtype']}, batch {f['batch']}:\n"
        "latency against memory bandwidth (dotted: the device)",
        fontsize=10,
    )


def tiers(study: Any, ax: Any) -> None:
    """Latency with the tables held in each memory tier (hatched: they would not fit there)."""
    rs = rows_where(study, sweep="tier")
    x = np.arange(len(rs))
    lat = [r["latency_s"] * 1e3 for r in rs]
    bars = ax.bar(
        x,
        lat,
        color=["#2ca02c" if r["fits"] else "#cccccc" for r in rs],
        edgecolor=foreground(),
    )
    for b, r in zip(bars, rs):
        if not r["fits"]:
            b.set_hatch("//")
        ax.annotate(
            f"{r['latency_s'] * 1e3:.3g} ms" + ("" if r["fits"] else "\n(does not fit)"),
            (b.get_x() + b.get_width() / 2, b.get_height()),
            ha="center",
            va="bottom",
            fontsize=8,
            xytext=(0, 3),
            textcoords="offset points",
        )
    ax.set_xticks(x, [r["x"] for r in rs])
    ax.set_xlabel("Memory tier holding the embedding tables")
    latency_axis(ax)
    ax.set_ylim(top=max(lat) * 1.3)
    f = first_row(study)
    head = f"{f['model']} on {f['device']}, {f['dtype']}, batch {f['batch']}"
    ax.set_title(
        f"{head}:\ntables ({fmt_bytes(f['tables_bytes'])}) served from each tier", fontsize=10
    )


def table_size(study: Any, ax: Any) -> None:
    """Latency against total table size, colored by the tier holding the tables; spill points
    marked; devices needed on the right axis."""
    rs = rows_where(study, sweep="table_size")
    levels = list(dict.fromkeys(r["tables_level"] for r in rs))
    for k, lvl in enumerate(levels):
        sel = [r for r in rs if r["tables_level"] == lvl and r["feasible"]]
        ax.scatter(
            [r["x"] for r in sel],
            [r["latency_s"] * 1e3 for r in sel],
            s=25,
            color=LINE_COLORS[k % len(LINE_COLORS)],
            label=f"tables in {lvl}",
            zorder=3,
        )
    bad = [r for r in rs if not r["feasible"]]
    if bad:
        ax.scatter(
            [r["x"] for r in bad],
            [r["latency_s"] * 1e3 for r in bad],
            s=30,
            marker="x",
            color=foreground(),
            label="does not fit one device",
            zorder=3,
        )
    ax.plot([r["x"] for r in rs], [r["latency_s"] * 1e3 for r in rs], color="grey", lw=0.8)
    for name, b in study.findings["spill_bytes"].items():
        ax.axvline(b, color=foreground(), ls=":", lw=1)
        ax.text(
            b,
            0.98,
            f" spills past {name}",
            rotation=90,
            fontsize=7,
            va="top",
            transform=ax.get_xaxis_transform(),
        )
    ax.axvline(study.findings["tables_bytes"], color="#d62728", lw=1.2, label="the model's tables")
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(si_formatter("B"))
    ax.set_xlabel("Total embedding table size (bytes)")
    latency_axis(ax)
    ax2 = ax.twinx()
    ax2.step(
        [r["x"] for r in rs],
        [r["devices_needed"] for r in rs],
        where="post",
        color="#9467bd",
        lw=1.2,
        ls="--",
    )
    ax2.set_ylabel("Devices to hold the model in device memory", color="#9467bd")
    ax2.set_ylim(bottom=0)
    legend_below(ax)
    f = first_row(study)
    ax.set_title(
        f"{f['model']} on {f['device']}, {f['dtype']}, batch {f['batch']}:\nlatency "
        "and devices needed as the tables grow",
        fontsize=10,
    )
