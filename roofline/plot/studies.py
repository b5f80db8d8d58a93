"""Charts of the studies (:mod:`roofline.studies`, :mod:`roofline.fleet`): ``panel(study, ax)``.

matplotlib is imported by the callers' figures only; these functions draw on a given Axes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from roofline.formatting import fmt_bytes
from roofline.plot.common import auto_scale, category_color, si_formatter

_LINE_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2")


def iec_formatter() -> Any:
    """Tick labels in binary units for whole binary sizes (``4 MiB``), for capacities on a
    base-2 axis (:func:`roofline.report.fmt_bytes`)."""
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda v, _pos: fmt_bytes(v))


def _rows(study: Any, **match: Any) -> list[dict[str, Any]]:
    return [r for r in study.table if all(r[k] == v for k, v in match.items())]


def _first(study: Any) -> dict[str, Any]:
    return study.table[0]


def _ms_axis(ax: Any, label: str = "Latency (ms)") -> None:
    """A latency axis in ms: logarithmic when the data span a decade or more, else linear."""
    ys = [y for line in ax.get_lines() for y in np.asarray(line.get_ydata(), float)]
    ys += [p.get_height() for p in ax.patches]
    ys += [y for c in ax.collections for y in np.asarray(c.get_offsets())[:, 1]]
    auto_scale(ax, ys)
    ax.set_ylabel(label)
    ax.grid(True, which="major", alpha=0.3)


# -- embeddings ---------------------------------------------------------------------------------


def embedding_bandwidth(study: Any, ax: Any) -> None:
    """Latency (total and in embedding lookups) against main-memory bandwidth."""
    rs = _rows(study, sweep="bandwidth")
    x = np.array([r["x"] for r in rs])
    ax.plot(x, [r["latency_s"] * 1e3 for r in rs], "o-", label="model latency")
    ax.plot(x, [r["embedding_time_s"] * 1e3 for r in rs], "s--", label="embedding lookups")
    f = _first(study)
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(si_formatter("B/s"))
    ax.set_xlabel("Main-memory bandwidth (bytes/s)")
    _ms_axis(ax)
    ax.axvline(study.findings["device_bandwidth_bytes_per_s"], color="grey", ls=":", lw=1)
    ax.axhline(
        study.findings["embedding_overhead_s"] * 1e3,
        color="#2ca02c",
        ls=":",
        lw=1.2,
        label="per-op overhead of the lookups",
    )
    ax.legend(
        fontsize=8, title=f"tables in {rs[0]['tables_level']}" if rs else None, title_fontsize=8
    )
    ax.set_title(
        f"{f['model']} on {f['device']}, {f['dtype']}, batch {f['batch']}:\n"
        "latency against memory bandwidth (dotted: the device)",
        fontsize=10,
    )


def embedding_tiers(study: Any, ax: Any) -> None:
    """Latency with the tables held in each memory tier (hatched: they would not fit there)."""
    rs = _rows(study, sweep="tier")
    x = np.arange(len(rs))
    lat = [r["latency_s"] * 1e3 for r in rs]
    bars = ax.bar(
        x,
        lat,
        color=["#2ca02c" if r["fits"] else "#cccccc" for r in rs],
        edgecolor="black",
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
    _ms_axis(ax)
    ax.set_ylim(top=max(lat) * 1.3)
    f = _first(study)
    head = f"{f['model']} on {f['device']}, {f['dtype']}, batch {f['batch']}"
    ax.set_title(
        f"{head}:\ntables ({fmt_bytes(f['tables_bytes'])}) served from each tier", fontsize=10
    )


def embedding_size(study: Any, ax: Any) -> None:
    """Latency against total table size, colored by the tier holding the tables; spill points
    marked; devices needed on the right axis."""
    rs = _rows(study, sweep="table_size")
    levels = list(dict.fromkeys(r["tables_level"] for r in rs))
    for k, lvl in enumerate(levels):
        sel = [r for r in rs if r["tables_level"] == lvl and r["feasible"]]
        ax.scatter(
            [r["x"] for r in sel],
            [r["latency_s"] * 1e3 for r in sel],
            s=25,
            color=_LINE_COLORS[k % len(_LINE_COLORS)],
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
            color="black",
            label="does not fit one device",
            zorder=3,
        )
    ax.plot([r["x"] for r in rs], [r["latency_s"] * 1e3 for r in rs], color="grey", lw=0.8)
    for name, b in study.findings["spill_bytes"].items():
        ax.axvline(b, color="black", ls=":", lw=1)
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
    _ms_axis(ax)
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
    ax.legend(fontsize=8, loc="upper left")
    f = _first(study)
    ax.set_title(
        f"{f['model']} on {f['device']}, {f['dtype']}, batch {f['batch']}:\nlatency "
        "and devices needed as the tables grow",
        fontsize=10,
    )


# -- engines ------------------------------------------------------------------------------------


def _per_model(study: Any) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for r in study.table:
        out.setdefault(r["model"], []).append(r)
    return out


def engine_share(study: Any, ax: Any) -> None:
    """Share of time in vector work against the matrix-engine peak (dashed: unbounded peak)."""
    for k, (m, rs) in enumerate(_per_model(study).items()):
        c = _LINE_COLORS[k % len(_LINE_COLORS)]
        fin = [r for r in rs if not r["unbounded"]]
        ax.plot(
            [r["matrix_peak_flops_per_s"] for r in fin],
            [100 * r["vector_share"] for r in fin],
            "o-",
            color=c,
            label=f"{m} (batch {rs[0]['batch']})",
        )
        ax.axhline(100 * rs[-1]["vector_share"], color=c, ls="--", lw=0.8)
    f = _first(study)
    dev = [r["matrix_peak_flops_per_s"] for r in study.table if r["scale"] == 1.0]
    if dev:
        ax.axvline(dev[0], color="grey", ls=":", lw=1)
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(si_formatter("FLOP/s"))
    ax.set_xlabel(f"Matrix-engine peak ({f['dtype']}, FLOP/s)")
    ax.set_ylabel("Share of latency in vector work (%)")
    ax.set_ylim(0, 100)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, title="dashed: unbounded matrix engine", title_fontsize=8)
    ax.set_title(
        f"Vector work on {f['device']} ({f['dtype']}) as the matrix peak grows\n"
        "(dotted: the device)",
        fontsize=10,
    )


def _times_formatter() -> Any:
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda v, _p: (f"1/{1 / v:.3g}" if v < 1 else f"{v:.3g}") + "x")


def engine_speedup(study: Any, ax: Any) -> None:
    """Speedup over the device's matrix peak, with each model's Amdahl limit dashed."""
    for k, (m, rs) in enumerate(_per_model(study).items()):
        c = _LINE_COLORS[k % len(_LINE_COLORS)]
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
    ax.legend(fontsize=8, title="dashed: Amdahl limit (unbounded matrix engine)", title_fontsize=8)
    f = _first(study)
    ax.set_title(f"Speedup from a faster matrix engine ({f['device']}, {f['dtype']})", fontsize=10)


# -- on-chip memory -----------------------------------------------------------------------------


def onchip_panel(model: str) -> Callable[[Any, Any], None]:
    """A panel of latency against on-chip capacity for ``model``, one line per batch."""

    def panel(study: Any, ax: Any) -> None:
        rs = _rows(study, model=model)
        batches = list(dict.fromkeys(r["batch"] for r in rs))
        import matplotlib

        cmap = matplotlib.colormaps["viridis"]
        for k, b in enumerate(batches):
            sel = [r for r in rs if r["batch"] == b]
            c = cmap(k / max(1, len(batches) - 1) * 0.9)
            x = [r["onchip_capacity_bytes"] for r in sel]
            y = [r["latency_s"] * 1e3 for r in sel]
            ax.plot(x, y, "-", color=c, label=f"batch {b}")
            for key, marker in (("activations_fit", "o"), ("weights_fit", "^")):
                fit = [r for r in sel if r[key]]
                if fit:
                    x0, y0 = fit[0]["onchip_capacity_bytes"], fit[0]["latency_s"] * 1e3
                    ax.scatter(
                        [x0], [y0], marker=marker, s=60, color=c, edgecolors="black", zorder=4
                    )
        from matplotlib.lines import Line2D

        h, _ = ax.get_legend_handles_labels()
        h += [
            Line2D(
                [],
                [],
                ls="",
                marker="o",
                color="grey",
                mec="black",
                label="activations fit on chip",
            ),
            Line2D(
                [],
                [],
                ls="",
                marker="^",
                color="grey",
                mec="black",
                label="weights + activations fit",
            ),
        ]
        ax.set_xscale("log", base=2)
        ax.xaxis.set_major_formatter(iec_formatter())
        ax.set_xlabel("On-chip memory capacity (bytes, powers of 2)")
        _ms_axis(ax)
        ax.legend(handles=h, fontsize=7, loc="upper right")
        f = rs[0]
        ax.set_title(
            f"{model} on {f['device']} ({f['dtype']}), batch {batches[0]}-{batches[-1]}",
            fontsize=10,
        )

    return panel


# -- precision ----------------------------------------------------------------------------------

_DTYPE_COLORS = {"fp32": "#7f7f7f", "fp16": "#1f77b4", "bf16": "#17becf", "int8": "#ff7f0e"}


def precision_panel(device: str) -> Callable[[Any, Any], None]:
    """A panel of speedup over fp32 per model and dtype on ``device``."""

    def panel(study: Any, ax: Any) -> None:
        rs = _rows(study, device=device)
        models = list(dict.fromkeys(r["model"] for r in rs))
        dtypes = list(dict.fromkeys(r["dtype"] for r in rs))
        w = 0.8 / len(dtypes)
        for k, dt in enumerate(dtypes):
            vals, hatch = [], []
            for m in models:
                sel = [r for r in rs if r["model"] == m and r["dtype"] == dt]
                ok = bool(sel and sel[0]["supported"])
                vals.append(sel[0]["speedup"] if ok else np.nan)
                hatch.append(ok and sel[0]["compute_dtype"] != dt)
            x = np.arange(len(models)) + (k - (len(dtypes) - 1) / 2) * w
            bars = ax.bar(
                x, vals, width=w, label=dt, color=_DTYPE_COLORS.get(dt), edgecolor="white"
            )
            for b, hh in zip(bars, hatch):
                if hh:
                    b.set_hatch("///")
        from matplotlib.patches import Patch

        regimes = {r["model"]: r["regime"] for r in rs if r["regime"]}
        ax.set_xticks(
            np.arange(len(models)),
            [f"{m}\n{regimes.get(m, '?')}-bound" for m in models],
            fontsize=7,
            rotation=15,
            ha="right",
        )
        ax.axhline(1.0, color="black", lw=0.8)
        ax.set_ylabel("Speedup over fp32 (x)")
        ax.set_xlabel("Model (bound at fp32)")
        ax.grid(True, axis="y", alpha=0.3)
        h, _ = ax.get_legend_handles_labels()
        h.append(
            Patch(
                facecolor="white",
                edgecolor="black",
                hatch="///",
                label="computed at a fallback dtype",
            )
        )
        ax.legend(handles=h, fontsize=8, title="storage dtype", title_fontsize=8)
        bs = sorted({r["batch"] for r in rs})
        ax.set_title(
            f"Speedup over fp32 on {device} (batch {', '.join(map(str, bs))})", fontsize=10
        )

    return panel


# -- fleet --------------------------------------------------------------------------------------


def fleet_bars(study: Any, ax: Any) -> None:
    """Stacked time share by operator group for each model and the weighted fleet."""
    models = list(dict.fromkeys(r["model"] for r in study.table))
    groups = study.findings["ranking"]
    bottom = np.zeros(len(models))
    for g in groups:
        vals = (
            np.array(
                [
                    sum(r["time_share"] for r in study.table if r["model"] == m and r["group"] == g)
                    for m in models
                ]
            )
            * 100
        )
        ax.bar(
            np.arange(len(models)),
            vals,
            bottom=bottom,
            color=category_color(g),
            label=g,
            edgecolor="white",
            width=0.7,
        )
        bottom += vals
    mix = study.findings["mix"]
    ax.set_xticks(
        np.arange(len(models)),
        [
            f"{m}\n({100 * mix[m]:.0f}% of fleet)" if m in mix else "FLEET\n(weighted)"
            for m in models
        ],
        fontsize=7,
        rotation=25,
        ha="right",
    )
    ax.set_ylabel("Share of time (%)")
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
    t = study.table.title
    ax.set_title(t[0].upper() + t[1:], fontsize=10)


def fleet_ranking(study: Any, ax: Any) -> None:
    """The fleet's groups ranked by time share, the paper's rank beside each."""
    shares = study.findings["shares"]
    paper = study.findings["paper_ranking"]
    groups = list(shares)[::-1]
    y = np.arange(len(groups))
    ax.barh(y, [100 * shares[g] for g in groups], color=[category_color(g) for g in groups])
    for yi, g in zip(y, groups):
        tag = f"paper #{paper.index(g) + 1}" if g in paper else ""
        ax.annotate(
            f"{100 * shares[g]:.1f}%  {tag}",
            (100 * shares[g], yi),
            xytext=(4, 0),
            textcoords="offset points",
            va="center",
            fontsize=8,
        )
    ax.set_yticks(y, groups, fontsize=8)
    ax.set_ylabel("Operator group")
    ax.set_xlabel("Share of fleet inference time (%)")
    ax.set_xlim(0, 100 * max(shares.values()) * 1.35)
    verdict = "matches" if study.findings["order_agrees"] else "differs from"
    ax.set_title(
        f"Fleet ranking: {verdict} the paper's\nFC > embedding > tensor manipulation > conv",
        fontsize=10,
    )
