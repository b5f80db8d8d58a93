"""Sweeps over systems: interconnect, device count and device knobs x layouts x batches.

Each variant of the base system (:mod:`roofline.systems.variants`) is evaluated under every
layout asked for (``layouts="all"``: every layout filling the variant, as the layout search
tries them, :func:`roofline.systems.search.candidates`, context parallelism included for a
decoder's long prefill; or degrees ``tp``/``pp``/``cp``/``ep`` with ``dp``
filling the variant, skipping the combinations that cannot fill it) through
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
from roofline.model import Model
from roofline.systems.evaluate import check_layout, evaluate_system
from roofline.systems.layout import Layout, layouts
from roofline.systems.result import SYSTEM_COLUMNS
from roofline.systems.search import candidates, prefill_tokens
from roofline.systems.spec import System
from roofline.systems.variants import system_variants

#: memory a system variant takes while a sweep holds it (a validated System, ~17 kB measured)
VARIANT_BYTES = 32 * 1024


def _layouts_for(
    model: Model, system: System, tp: Any, pp: Any, ep: Any, every: bool, cp: Any = 1
) -> list[Layout]:
    """The layouts to evaluate on one variant: those that fill it and the model accepts."""
    if every:
        out = candidates(model, system, prefill_tokens(model))
    else:
        try:
            out = layouts(tp, pp, ep, None, devices=system.count, cp=cp)
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
    cp: Any = 1,
) -> tuple[dict[str, np.ndarray], tuple[str, ...]]:
    """(columns, knob paths): one row per model, dtype, variant, layout and batch.

    Columns: the knob paths (SI values) then :data:`~roofline.systems.result.SYSTEM_COLUMNS`;
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
                lays = _layouts_for(model, variant, tp, pp, ep, all_layouts, cp)
                if not lays:
                    continue
                res = evaluate_system(
                    model, variant, batches, dt, lays, policy, fuse, counts=counts
                )
                table = res.totals()
                for k in cols:
                    rows[k] += [cols[k][i]] * len(table)
                for name in SYSTEM_COLUMNS:
                    # infeasible points carry NaN (None in the result's own table)
                    rows[name] += [np.nan if v is None else v for v in table.column(name)]
    out = {
        k: np.array(v, dtype=object if v and isinstance(v[0], str) else None)
        for k, v in rows.items()
    }
    return out, tuple(cols)
