"""What a knob buys: one-knob sensitivity rankings, and device diffs (:mod:`roofline.sla` finds
the batches under a latency target)."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from roofline.api import HardwareLike, ModelLike, default_dtype
from roofline.api import evaluate_device as evaluate
from roofline.batch_sizes import batch_sizes
from roofline.counting import as_batches, count_graph
from roofline.errors import SpecError
from roofline.evaluation import evaluate_costs
from roofline.grid import stack
from roofline.hardware import Hardware
from roofline.kinds import EngineKind
from roofline.knobs import knob_dim, vary, warn_unread
from roofline.placement import Policy
from roofline.precision import Precision
from roofline.presets import load_device, load_model
from roofline.table import Table


def default_knobs(hw: Hardware, dtype: str | Precision) -> list[str]:
    """Knobs worth ranking on ``hw`` at ``dtype``: every level's bandwidth and capacity, the
    matrix and vector peaks of the dtype actually used, and the per-op overhead (when it is
    not zero: doubling zero changes nothing)."""
    knobs = []
    compute = Precision.of(dtype).compute
    for name in hw.memory:
        knobs += [f"memory.{name}.bandwidth", f"memory.{name}.capacity"]
    for eng in EngineKind:
        used = getattr(hw.engines, eng).resolve(compute)
        if used:
            knobs.append(f"engines.{eng}.peak.{used}")
    if hw.overheads.per_op > 0:
        knobs.append("overheads.per_op")
    return knobs


def sensitivity(
    model: ModelLike,
    hw: HardwareLike,
    batch: int = 1,
    dtype: str | Precision | None = None,
    knobs: list[str] | None = None,
    factor: float = 2.0,
    policy: str | Policy | None = None,
    fuse: bool = True,
) -> Table:
    """Rank how much each knob buys: latency with the knob times ``factor`` and divided by it.

    Returns one row per knob, sorted by the speedup from improving it (a larger bandwidth, peak
    or capacity; a smaller overhead), with the new latency, speedup and bound in each direction.
    All variants are evaluated in one vectorized call. ``dtype`` None is the device's
    ``default_dtype``; a given knob the evaluation does not read at it warns
    (:class:`~roofline.errors.UnreadKnobWarning`).
    """
    dev = load_device(hw)
    m = load_model(model)
    dt = Precision.of(default_dtype(dev) if dtype is None else dtype).name
    paths = knobs or default_knobs(dev, dt)
    if knobs:
        warn_unread(dev, knobs, dt)
    if factor <= 1:
        raise SpecError(f"factor={factor} must be > 1", field="factor", fix="e.g. 2")
    base_vals = {}
    variants = [dev]
    for p in paths:
        canon, arr = _knob_value(dev, p)
        base_vals[canon] = arr
        better = arr / factor if canon == "overheads.per_op" else arr * factor
        worse = arr * factor if canon == "overheads.per_op" else arr / factor
        for v in (better, worse):
            variants.append(vary(dev, {canon: [v]}).variant(0))
    b = as_batches(batch_sizes(batch))
    if b.size != 1:
        raise SpecError("sensitivity takes one batch size", field="batch", fix="e.g. batch=16")
    r = evaluate_costs(count_graph(m.graph, b, dt, fuse=fuse), stack(variants), policy)
    lat = r.latency_s[:, 0]
    bound = r.dominant_bound()[:, 0]
    rows: list[list[Any]] = []
    for i, p in enumerate(base_vals):
        hb, hw_ = 1 + 2 * i, 2 + 2 * i
        rows.append(
            [
                p,
                base_vals[p],
                float(lat[0]),
                str(bound[0]),
                float(lat[hb]),
                float(lat[0] / lat[hb]),
                str(bound[hb]),
                float(lat[hw_]),
                float(lat[0] / lat[hw_]),
                str(bound[hw_]),
            ]
        )
    rows.sort(key=lambda r: -float(r[5]))
    cols = [
        "knob",
        "base_value",
        "base_latency_s",
        "base_bound",
        "improved_latency_s",
        "improved_speedup",
        "improved_bound",
        "degraded_latency_s",
        "degraded_speedup",
        "degraded_bound",
    ]
    return Table(
        cols,
        rows,
        title=f"sensitivity of {m.name} on {dev.name} (x{factor:g}, batch {b[0]:g}, {dt})",
    )


def _knob_value(hw: Hardware, path: str) -> tuple[str, float]:
    canon, _ = knob_dim(hw, path)
    parts = canon.split(".")
    if parts[0] == "memory":
        return canon, float(getattr(hw.memory[parts[1]], parts[2]))
    if parts[0] == "engines":
        eng = getattr(hw.engines, parts[1])
        if parts[2] == "peak":
            if parts[3] not in eng.peak:
                raise SpecError(
                    f"{hw.name} has no {parts[1]} peak for {parts[3]}",
                    field=path,
                    fix=f"use one of {', '.join(eng.peak)}",
                )
            return canon, float(eng.peak[parts[3]])
        return canon, float(eng.efficiency)
    return canon, float(hw.overheads.per_op)


class DeviceDiff(NamedTuple):
    """One model on two devices (:func:`diff_devices`).

    Attributes
    ----------
    by_kind : Table
        Time on each device and the speedup (a / b) per op kind, then the total.
    bound_changes : Table
        The ops whose bound differs between the devices, with their times and speedup.
    """

    by_kind: Table
    bound_changes: Table


def diff_devices(
    model: Any,
    hw_a: HardwareLike,
    hw_b: HardwareLike,
    batch: int | list[int] = 1,
    dtype: str | Precision | None = None,
    policy: str | Policy | None = None,
    fuse: bool = True,
) -> DeviceDiff:
    """Compare one model on two devices at one batch and one dtype (default: the first
    device's ``default_dtype``); return a :class:`DeviceDiff`."""
    sizes = batch_sizes(batch)
    if len(sizes) != 1:
        raise SpecError("diff takes one batch size", field="batch", fix="e.g. batch=16")
    dt = default_dtype(load_device(hw_a)) if dtype is None else dtype
    ra = evaluate(model, hw_a, batch=sizes, dtype=dt, policy=policy, fuse=fuse)
    rb = evaluate(model, hw_b, batch=sizes, dtype=dt, policy=policy, fuse=fuse)
    ct = ra.costs
    ta, tb = ra.time_s[0, 0], rb.time_s[0, 0]
    na, nb = ra.grid.labels[0], rb.grid.labels[0]
    kinds = sorted(set(ct.kinds), key=lambda k: -sum(t for t, kk in zip(ta, ct.kinds) if kk == k))
    rows: list[list[Any]] = []
    for k in kinds:
        sel = np.array([kk == k for kk in ct.kinds])
        a, b = float(ta[sel].sum()), float(tb[sel].sum())
        rows.append([k, int(sel.sum()), a, b, a / b if b else float("inf")])
    rows.append(["total", ct.n_ops, float(ta.sum()), float(tb.sum()), float(ta.sum() / tb.sum())])
    by_kind = Table(
        ["kind", "ops", f"{na}_time_s", f"{nb}_time_s", "speedup"],
        rows,
        title=f"{ct.model}: {na} vs {nb} (batch {ct.batch[0]:g}, {ct.precision.name})",
    )
    la, lb = ra.bound_labels, rb.bound_labels
    changed = [
        [
            n,
            ct.kinds[i],
            la[ra.bound[0, 0, i]],
            lb[rb.bound[0, 0, i]],
            float(ta[i]),
            float(tb[i]),
            float(ta[i] / tb[i]) if tb[i] else float("inf"),
        ]
        for i, n in enumerate(ct.names)
        if la[ra.bound[0, 0, i]] != lb[rb.bound[0, 0, i]]
    ]
    changed_t = Table(
        ["op", "kind", f"{na}_bound", f"{nb}_bound", f"{na}_time_s", f"{nb}_time_s", "speedup"],
        changed,
        title="ops whose bound changes",
    )
    return DeviceDiff(by_kind, changed_t)
