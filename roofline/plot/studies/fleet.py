"""Charts of the fleet breakdown (:mod:`roofline.studies.fleet`): time shares by operator group
per model and for the fleet, and the fleet's ranking beside the paper's. A model that does not
fit the device has no bar: a cross marks it."""

from __future__ import annotations

from typing import Any

import numpy as np

from roofline.plot.common import (
    background,
    category_color,
    cross_out,
    legend_handles,
    legend_outside,
    nothing_fits,
)


def shares(study: Any, ax: Any) -> None:
    """Stacked time share by operator group for each model and the weighted fleet (crossed
    out: a model that does not fit the device)."""
    models = list(dict.fromkeys(r["model"] for r in study.table))
    unfit = {r["model"] for r in study.table if not r["feasible"]}
    groups = study.findings["ranking"]
    bottom = np.zeros(len(models))
    for g in groups:
        vals = (
            np.array(
                [
                    sum(
                        r["time_share"]
                        for r in study.table
                        if r["model"] == m and r["group"] == g and r["feasible"]
                    )
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
            edgecolor=background(ax),
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
    h = legend_handles(ax, unfit)
    if unfit:
        cross_out(ax, [i for i, m in enumerate(models) if m in unfit])
    if not groups:
        nothing_fits(ax, "no model of the mix fits the device")
    legend_outside(ax, handles=h, fontsize=7)
    t = study.table.title
    ax.set_title(t[0].upper() + t[1:], fontsize=10)


def ranking(study: Any, ax: Any) -> None:
    """The fleet's groups ranked by time share, the paper's rank beside each."""
    shares = study.findings["shares"]
    paper = study.findings["paper_ranking"]
    if not shares:
        nothing_fits(ax, "no model of the mix fits the device")
        ax.set_ylabel("Operator group")
        ax.set_xlabel("Share of fleet inference time (%)")
        ax.set_title("Fleet ranking: none (no model fits the device)", fontsize=10)
        return
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
