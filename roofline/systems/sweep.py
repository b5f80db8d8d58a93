"""Sweeps over systems: interconnect, device count and device knobs x layouts x batches.

Each variant of the base system (:mod:`roofline.systems.variants`) is evaluated under every
layout asked for (``layouts="all"``: every layout filling the variant, as
:func:`roofline.systems.search.candidates`; or degrees ``tp``/``pp``/``ep`` with ``dp`` filling
the variant, skipping the combinations that cannot fill it) through
:func:`~roofline.systems.evaluate.evaluate_system`. Counts depend on the model, dtype and batch
only, so they are computed once per model and dtype and shared by every variant.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from roofline.budget import check_budget
from roofline.counting import count_graph
from roofline.errors import SpecError
from roofline.formulas import dominant
from roofline.model import Model
from roofline.systems.evaluate import SYSTEM_COLUMNS, check_layout, stages
from roofline.systems.layout import Layout, layouts
from roofline.systems.search import candidates
from roofline.systems.spec import System
from roofline.systems.variants import system_variants

#: memory a system variant takes while a sweep holds it (a validated System, ~17 kB measured)
VARIANT_BYTES = 32 * 1024


def _layouts_for(
    model: Model, system: System, tp: Any, pp: Any, ep: Any, every: bool
) -> list[Layout]:
    """The layouts to evaluate on one variant: those that fill it and the model accepts."""
    if every:
        out = candidates(model, system)
    else:
        try:
            out = layouts(tp, pp, ep, None, devices=system.count)
        except SpecError:
            return []
    kept = []
    for lay in out:
        try:
            check_layout(model, system, lay)
        except SpecError:
            continue
        kept.append(lay)
    return kept


def sweep_system_columns(
    models: Sequence[Model],
    system: System,
    vary: Mapping[str, Sequence[Any]],
    batches: np.ndarray,
    dtypes: Sequence[str],
    mode: str = "product",
    policy: str | None = None,
    fuse: bool = True,
    tp: Any = 1,
    pp: Any = 1,
    ep: Any = 1,
    all_layouts: bool = False,
) -> tuple[dict[str, np.ndarray], tuple[str, ...]]:
    """(columns, knob paths): one row per model, dtype, variant, layout and batch.

    Columns: the knob paths (SI values) then :data:`~roofline.systems.evaluate.SYSTEM_COLUMNS`;
    times are NaN where a point does not fit. A variant no requested layout can fill adds no row.
    """
    if not vary:
        raise SpecError("no knob to vary", field="vary", fix="e.g. {'count': [8, 16, 32]}")
    sizes = [len(v) for v in vary.values()]
    points = sizes[0] if mode == "zip" else math.prod(sizes)
    check_budget(
        float(points) * VARIANT_BYTES,
        f"{points:,} system variants",
        field="vary",
        fix="vary fewer values (each variant is a validated system)",
    )
    cols, variants = system_variants(system, vary, mode)
    rows: dict[str, list[Any]] = {k: [] for k in (*cols, *SYSTEM_COLUMNS)}
    for model in models:
        for dt in dtypes:
            cache: dict[bytes, Any] = {}

            def counts(
                b: np.ndarray, model: Model = model, dt: str = dt, cache: dict = cache
            ) -> Any:
                key = np.asarray(b, dtype=float).tobytes()
                if key not in cache:
                    cache[key] = count_graph(model.graph, b, dt, fuse=False)
                return cache[key]

            for i, variant in enumerate(variants):
                for lay in _layouts_for(model, variant, tp, pp, ep, all_layouts):
                    st = stages(model.graph, counts, variant, lay, batches, policy, fuse)
                    part = st.combine()
                    table = _rows(model, variant, lay, dt, batches, part, st.labels, policy)
                    for k in cols:
                        rows[k] += [cols[k][i]] * len(table)
                    for j, name in enumerate(SYSTEM_COLUMNS):
                        rows[name] += [r[j] for r in table]
    out = {
        k: np.array(v, dtype=object if v and isinstance(v[0], str) else None)
        for k, v in rows.items()
    }
    return out, tuple(cols)


def _rows(
    model: Model,
    system: System,
    lay: Layout,
    dtype: str,
    batches: np.ndarray,
    part: Mapping[str, np.ndarray],
    labels: tuple[str, ...],
    policy: str | None,
) -> list[list[Any]]:
    """SYSTEM_COLUMNS rows of one layout (times NaN where infeasible)."""
    feasible = np.asarray(part["feasible"], dtype=bool)
    lat = np.where(feasible, part["latency_s"], np.nan)
    bound_lat = np.where(feasible, part["latency_bound_s"], np.nan)
    inter = np.where(feasible, part["interconnect_s"], np.nan)
    bound = dominant(labels, part["by_bound_s"])
    out = []
    for j, b in enumerate(batches):
        thr = b / lat[j]
        out.append(
            [
                model.name,
                system.name,
                system.device.name,
                lay.devices,
                lay.tp,
                lay.pp,
                lay.ep,
                lay.dp,
                int(part["micro_batches"][j]),
                float(b),
                dtype,
                float(lat[j]),
                float(bound_lat[j]),
                float(thr),
                float(b / bound_lat[j]),
                float(thr / lay.devices),
                float(inter[j]),
                str(bound[j]) if feasible[j] else "",
                bool(feasible[j]),
                float(part["device_footprint_bytes"][j]),
                float(part["kv_cache_bytes"][j]),
                policy or "capacity",
            ]
        )
    return out
