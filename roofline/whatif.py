"""What a knob buys: one-knob sensitivity rankings, and device diffs (:mod:`roofline.sla` finds
the batches under a latency target)."""

from __future__ import annotations

import math
import warnings
from os import PathLike
from typing import Any, NamedTuple

import numpy as np

from roofline.api import HardwareLike, ModelLike, default_dtype
from roofline.api import evaluate_device as evaluate
from roofline.arguments import real_number
from roofline.batch_sizes import batch_sizes
from roofline.counting import as_batches, count_graph
from roofline.errors import RooflineWarning, SpecError
from roofline.evaluation import evaluate_costs
from roofline.grid import stack
from roofline.hardware import Hardware
from roofline.kinds import EngineKind
from roofline.knobs import knob_base, lower_is_better, vary, warn_unread
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


#: what the improved or degraded columns of a direction that leaves the knob's range show
OUT_OF_RANGE = "out of range"
#: the bound of a sensitivity row's device on which the model does not fit: no time
DOES_NOT_FIT = "does not fit"


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

    Returns one row per knob, sorted by the speedup from improving it, with the device's own
    value of the knob (``base_value``, SI: what :func:`~roofline.knobs.vary` sets and
    :func:`~roofline.knobs.knob_base` reads) and the new latency, speedup and bound in each
    direction.

    Every latency is the power-capped one (:attr:`~roofline.result.Result.capped_latency_s`:
    ``max(latency, E_dyn / (TDP - P_idle))``, docs/energy.md) and every bound the capped one
    (:meth:`~roofline.result.Result.capped_bound`: ``power`` where the cap binds). A speedup is
    the device's own capped latency (``base_latency_s``) over the varied device's, so a power or
    energy knob moves a run the cap holds, and a rate knob there buys only down to the power
    floor. Where no cap binds, and on a device without an energy model (no power roof), the
    capped latency is the plain latency and the bound the dominant one. A cost knob
    (``cost.*``) moves no time, so its speedup is 1: :func:`~roofline.sweeps.sweep` it for
    ``cost_per_1m_samples``.

    Improving is raising a bandwidth, capacity, peak, efficiency, TDP or lifetime
    and lowering an overhead, an energy, idle power, a price, a PUE or an access granularity
    (:func:`~roofline.knobs.lower_is_better`). Any knob of :func:`~roofline.knobs.vary` may be
    given; the default is :func:`default_knobs`.

    A direction whose value would leave the knob's valid range (an efficiency of 1.0 doubled,
    a PUE below 1, a value outside its physical range, idle power above the TDP) is not
    clamped: its latency and speedup are empty (NaN) and its bound says ``out of range``
    (:data:`OUT_OF_RANGE`), so a figure never stands for a factor other than ``factor``; such a
    row ranks below those whose improvement was evaluated.

    A device (the base or a varied one) on which the model does not fit has no time: its
    latency and speedup are empty (NaN) and its bound says ``does not fit``
    (:data:`DOES_NOT_FIT`), as every other face leaves such a point; a knob whose improvement
    makes the model fit shows that device's latency.

    All variants are evaluated in one vectorized call. ``factor`` is a finite number > 1.
    ``dtype`` None is the device's ``default_dtype``; a given knob the evaluation does not read
    at it warns (:class:`~roofline.errors.UnreadKnobWarning`).
    """
    factor = check_factor(factor)
    dev = load_device(hw)
    m = load_model(model)
    dt = Precision.of(default_dtype(dev) if dtype is None else dtype).name
    paths = knobs or default_knobs(dev, dt)
    if knobs:
        warn_unread(dev, knobs, dt)
    b = as_batches(batch_sizes(batch))
    if b.size != 1:
        raise SpecError("sensitivity takes one batch size", field="batch", fix="e.g. batch=16")
    base_vals: dict[str, float] = {}
    variants = [dev]
    where: dict[str, list[int | None]] = {}  # knob -> variant of (improved, degraded); None: out
    for p in paths:
        canon, value = knob_base(dev, p)
        base_vals[canon] = value
        up, down = value * factor, value / factor
        better, worse = (down, up) if lower_is_better(canon) else (up, down)
        where[canon] = []
        for v in (better, worse):
            try:
                variants.append(vary(dev, {canon: [v]}).variant(0))
            except SpecError:  # the value leaves the knob's range: no figure, a note
                where[canon].append(None)
            else:
                where[canon].append(len(variants) - 1)
    r = evaluate_costs(count_graph(m.graph, b, dt, fuse=fuse), stack(variants), policy)
    # under the power cap: max(latency, E_dyn / (TDP - idle)), the plain latency where no cap
    # binds or the device has no energy model (NaN floor); the bound is then ``power``
    fits = r.feasible[:, 0]
    lat = r.if_fits(r.capped_latency_s)[:, 0]
    bound = np.where(fits, r.capped_bound()[:, 0].astype(str), DOES_NOT_FIT)
    rows: list[list[Any]] = []
    for p, value in base_vals.items():
        row: list[Any] = [p, value, float(lat[0]), str(bound[0])]
        for i in where[p]:
            if i is None:
                row += [float("nan"), float("nan"), OUT_OF_RANGE]
            else:
                row += [float(lat[i]), float(lat[0] / lat[i]), str(bound[i])]
        rows.append(row)
    rows.sort(key=lambda r: (math.isnan(r[5]), -r[5] if not math.isnan(r[5]) else 0.0))
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


def check_factor(factor: Any, field: str = "factor") -> float:
    """``factor`` of :func:`sensitivity` as a float: a real number (no bool, no text), finite
    and > 1; a SpecError naming ``field`` otherwise."""
    fix = f"e.g. {'--factor 2' if field.startswith('--') else 'factor=2'}: each knob is "
    fix += "multiplied and divided by it"
    x = real_number(factor)
    if x is None:
        raise SpecError(f"{factor!r} is not a number", field=field, fix=fix)
    if not math.isfinite(x) or x <= 1:
        raise SpecError(f"{x:g} must be a finite number > 1", field=field, fix=fix)
    return x


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
    device's ``default_dtype``); return a :class:`DeviceDiff`.

    Times are seconds and speedups a's time over b's. Each device's columns are named by its
    label (``{label}_time_s``, ``{label}_bound``): its name, or, when both devices have the same
    name (a preset against an edited copy of its YAML), the name with ``_a`` and ``_b``, which
    the title then says. On a device the model does not fit (infeasible at this batch), its
    times and every speedup are empty (NaN: null in JSON), the title says so and a
    :class:`~roofline.errors.RooflineWarning` names the device.
    """
    sizes = batch_sizes(batch)
    if len(sizes) != 1:
        raise SpecError("diff takes one batch size", field="batch", fix="e.g. batch=16")
    dt = default_dtype(load_device(hw_a)) if dtype is None else dtype
    ra = evaluate(model, hw_a, batch=sizes, dtype=dt, policy=policy, fuse=fuse)
    rb = evaluate(model, hw_b, batch=sizes, dtype=dt, policy=policy, fuse=fuse)
    ct = ra.costs
    na, nb = ra.grid.labels[0], rb.grid.labels[0]
    notes = []
    if na == nb:  # one name: the columns would clash, so each side is told apart by a suffix
        na, nb = f"{na}_a", f"{nb}_b"

        def given(hw: Any) -> str:
            return str(hw) if isinstance(hw, (str, PathLike)) else "a device object"

        notes.append(f"{na} is {given(hw_a)}, {nb} is {given(hw_b)}")
    nan = float("nan")
    misfits = [n for n, r in ((na, ra), (nb, rb)) if not bool(r.feasible[0, 0])]
    misfit_note = ""
    if misfits:
        fits = f"fits neither {na} nor {nb}" if len(misfits) == 2 else f"does not fit {misfits[0]}"
        misfit_note = f"{fits}: no time"
        notes.append(misfit_note)
        warnings.warn(
            RooflineWarning(
                f"{ct.model} {fits} at batch {ct.batch[0]:g} ({ct.precision.name}): "
                "its times there and the speedups are empty"
            ),
            stacklevel=2,
        )
    # an infeasible device has no time: its times are NaN, and so is every speedup
    ta = ra.time_s[0, 0] if na not in misfits else np.full(ct.n_ops, nan)
    tb = rb.time_s[0, 0] if nb not in misfits else np.full(ct.n_ops, nan)

    def speedup(a: float, b: float) -> float:  # no speedup beside a device with no time
        if math.isnan(a) or math.isnan(b):
            return nan
        return float(a / b) if b else float("inf")

    order = ra.time_s[0, 0]  # the kinds by their time on a, feasible or not
    kinds = sorted(
        set(ct.kinds), key=lambda k: -sum(t for t, kk in zip(order, ct.kinds) if kk == k)
    )
    rows: list[list[Any]] = []
    for k in kinds:
        sel = np.array([kk == k for kk in ct.kinds])
        a, b = float(ta[sel].sum()), float(tb[sel].sum())
        rows.append([k, int(sel.sum()), a, b, speedup(a, b)])
    a, b = float(ta.sum()), float(tb.sum())
    rows.append(["total", ct.n_ops, a, b, speedup(a, b)])
    notes.append(f"batch {ct.batch[0]:g}, {ct.precision.name}")
    by_kind = Table(
        ["kind", "ops", f"{na}_time_s", f"{nb}_time_s", "speedup"],
        rows,
        title=f"{ct.model}: {na} vs {nb} ({'; '.join(notes)})",
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
            speedup(ta[i], tb[i]),
        ]
        for i, n in enumerate(ct.names)
        if la[ra.bound[0, 0, i]] != lb[rb.bound[0, 0, i]]
    ]
    changed_t = Table(
        ["op", "kind", f"{na}_bound", f"{nb}_bound", f"{na}_time_s", f"{nb}_time_s", "speedup"],
        changed,
        title="ops whose bound changes" + (f" ({misfit_note})" if misfits else ""),
    )
    return DeviceDiff(by_kind, changed_t)
