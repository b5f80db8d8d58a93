"""Charts of the studies (:mod:`roofline.studies`): :data:`CHARTS` maps the chart names a study's
panels give to their drawings; :func:`draw` draws one panel, :func:`figure` all of a study's.

A chart is ``chart(study, ax)``, or ``chart(study, ax, subject)`` for one model or device of the
study, and draws on the given Axes. This package imports matplotlib: a
:class:`~roofline.studies.base.Study` imports it only when it is drawn.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import matplotlib.pyplot as plt

from roofline.plot.common import axes
from roofline.plot.studies import (
    embedding,
    energy,
    engine_balance,
    fleet,
    onchip_memory,
    precision,
    scaling,
)

#: chart name -> drawing; a study's panels name them (:class:`roofline.studies.base.Panel`)
CHARTS: dict[str, Callable[..., None]] = {
    "embedding_bandwidth": embedding.bandwidth,
    "embedding_tiers": embedding.tiers,
    "embedding_size": embedding.table_size,
    "engine_share": engine_balance.vector_share,
    "engine_speedup": engine_balance.speedup,
    "onchip_latency": onchip_memory.latency,
    "precision_speedup": precision.speedup,
    "fleet_shares": fleet.shares,
    "fleet_ranking": fleet.ranking,
    "energy_breakdown": energy.breakdown,
    "energy_saving": energy.saving,
    "energy_power": energy.power,
    "scaling_bandwidth": scaling.bandwidth,
}


def draw(study: Any, panel: Any, ax: Any = None) -> Any:
    """Draw ``panel`` (a :class:`~roofline.studies.base.Panel`) of ``study`` on ``ax`` (a new
    figure when None); return the Axes."""
    ax = axes(ax)
    chart = CHARTS[panel.chart]
    if panel.subject is None:
        chart(study, ax)
    else:
        chart(study, ax, panel.subject)
    return ax


def figure(study: Any) -> Any:
    """All panels of ``study`` side by side in one figure (two columns from four panels), the
    study's question as its title; return the Figure."""
    n = len(study.panels)
    cols = n if n <= 3 else 2
    rows = -(-n // cols)
    fig, grid = plt.subplots(
        rows, cols, figsize=(7.0 * cols, 5.0 * rows), layout="constrained", squeeze=False
    )
    for panel, ax in zip(study.panels, grid.flat):
        draw(study, panel, ax)
    for ax in list(grid.flat)[n:]:
        ax.set_visible(False)
    fig.suptitle(study.question, fontsize=13, weight="bold")
    return fig
