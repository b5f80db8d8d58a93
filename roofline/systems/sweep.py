"""Sweeps over systems: interconnect, device count and device knobs x layouts x batches.

Each variant of the base system (:mod:`roofline.systems.variants`) is evaluated under every
layout asked for (``layouts="all"``: every layout filling the variant, as the layout search
tries them, :func:`roofline.systems.search.candidates`, context parallelism included for a
decoder's long prefill; or degrees ``tp``/``pp``/``cp``/``ep`` with ``dp``
filling the variant, skipping the combinations that cannot fill it) through
:func:`~roofline.systems.evaluate.evaluate_system`. Counts depend on the model, dtype and batch
only, so they are computed once per model and dtype and shared by every variant.

A variant that cannot host any layout asked for adds no row; a bad degree, or a layout that no
variant can run (none fills one, or the model does not split that way: the error
:func:`roofline.evaluate` gives), is a :class:`~roofline.errors.SpecError`, never an empty table.
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
from roofline.systems.layout import Layout, check_degrees, layouts
from roofline.systems.result import SYSTEM_COLUMNS
from roofline.systems.search import candidates, prefill_tokens
from roofline.systems.spec import System
from roofline.systems.variants import system_variants

#: memory a system variant takes while a sweep holds it (a validated System, ~17 kB measured)
VARIANT_BYTES = 32 * 1024


def _layouts_for(
    model: Model, system: System, tp: Any, pp: Any, ep: Any, every: bool, cp: Any = 1
) -> tuple[list[Layout], SpecError | None, bool]:
    """The layouts to evaluate on one variant: those that fill it and the model accepts; with
    the first reason one was left out, and whether that reason is the model's (a layout that
    fills the variant but does not split the model) rather than the variant's size."""
    if every:
        out = candidates(model, system, prefill_tokens(model))
    else:
        try:
            out = layouts(tp, pp, ep, None, devices=system.count, cp=cp)
        except SpecError as exc:  # no combination fills this variant
            return [], exc, False
    kept: list[Layout] = []
    refused: SpecError | None = None
    for lay in out:
        try:
            check_layout(model, system, lay)
        except SpecError as exc:
            refused = refused or exc
            continue
        kept.append(lay)
    return kept, refused, refused is not None


def _variant_layouts(
    model: Model, system: System, variants: Sequence[System], how: tuple[Any, ...]
) -> list[list[Layout]]:
    """:func:`_layouts_for` of every variant (``how``: tp, pp, ep, all_layouts, cp). A variant
    no requested layout fills is skipped; a SpecError when no variant can run one: the model's
    reason (as :func:`roofline.evaluate` gives it) before a variant's size."""
    tp, pp, ep, every, cp = how
    found = [_layouts_for(model, v, tp, pp, ep, every, cp) for v in variants]
    if any(lays for lays, _, _ in found):
        return [lays for lays, _, _ in found]
    theirs = [exc for _, exc, by_model in found if exc is not None and by_model]
    sizes = [exc for _, exc, _ in found if exc is not None]
    if theirs:
        raise theirs[0]
    if not sizes:  # nothing to say why (no variant): nothing to evaluate either
        return [[] for _ in variants]
    exc = sizes[0]
    if len(variants) == 1:
        raise exc
    counts = ", ".join(sorted({str(v.count) for v in variants}, key=int))
    raise SpecError(
        f"no variant of {system.name} ({counts} devices) can run the layout asked for, e.g. "
        f"{exc.problem}",
        field=exc.field,
        fix="use degrees whose product divides a variant's devices",
    )


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
    times, energy, power and cost are NaN where a point does not fit. A variant no requested
    layout can fill adds no row; a bad degree, or a layout no variant can run (for a model), is a
    SpecError. The variants are checked against the memory budget (that of a
    :func:`roofline.budget.budget_in_effect` block, else :mod:`roofline.budget`'s) before any is
    made.
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
    if not all_layouts:  # a bad degree is an error for every variant
        check_degrees(tp=tp, pp=pp, ep=ep, cp=cp)
    cols, variants = system_variants(system, vary, mode)
    rows: dict[str, list[Any]] = {k: [] for k in (*cols, *SYSTEM_COLUMNS)}
    for model in models:
        per_variant = _variant_layouts(model, system, variants, (tp, pp, ep, all_layouts, cp))
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
                lays = per_variant[i]
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
