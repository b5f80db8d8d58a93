"""Compare many models on many devices at many batches and dtypes: one row per point."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from roofline.api import HardwareLike, ModelLike, default_dtype, device_file
from roofline.arguments import check_bool, non_empty, one_or_many
from roofline.batch_sizes import batch_sizes
from roofline.counting import count_graph
from roofline.errors import SpecError
from roofline.evaluation import evaluate_costs
from roofline.formulas import dominant, utilization
from roofline.model import Model
from roofline.placement import Policy
from roofline.presets import load_hardware, load_model
from roofline.records import CostTable
from roofline.result import ENERGY_COLUMNS
from roofline.sla import SLA_COLUMNS, batches_under_sla
from roofline.systems.evaluate import evaluate_system
from roofline.systems.layout import layouts
from roofline.systems.spec import System
from roofline.table import Table

COMPARE_COLUMNS = (
    "model",
    "device",
    "batch",
    "dtype",
    "params",
    "flops",
    "flops_mac",
    "weight_bytes",
    "max_live_activation_bytes",
    "kv_cache_bytes",
    "latency_s",
    "throughput_per_s",
    "utilization",
    "bound",
    "feasible",
    "policy",
    "capacity_shortfall_bytes",
    "devices_needed",
    *ENERGY_COLUMNS,
)


def compare(
    models: Sequence[ModelLike],
    devices: Sequence[HardwareLike],
    batch: Any = (1,),
    dtype: Sequence[str] | str | None = None,
    policy: str | Policy | None = None,
    fuse: bool = True,
    launch: str = "kernel",
    sla: str | float | None = None,
    tp: int | Sequence[int] = 1,
    pp: int | Sequence[int] = 1,
    ep: int | Sequence[int] = 1,
    dp: int | Sequence[int] | None = None,
    cp: int | Sequence[int] = 1,
    *,
    batches: Any = None,
    dtypes: Sequence[str] | str | None = None,
) -> Table:
    """One row per (model, device, batch, dtype) with the :data:`COMPARE_COLUMNS`.

    Devices are evaluated one at a time (their memory hierarchies may differ); each evaluation is
    vectorized over batches. ``fuse`` as in :func:`evaluate`. A system (``dgx_h100``) gives a row
    per parallel layout (``tp``, ``pp``, ``ep``, ``dp``, ``cp`` as in :func:`roofline.evaluate`),
    named in the ``layout`` column (``-`` for a device).

    Parameters
    ----------
    models, devices : sequences of preset names, paths, mappings or loaded objects
        A single model or device may be given bare (``compare("resnet50", "t4")``).
    batch : int or sequence of int
        Batch sizes (whole numbers >= 1).
    dtype : str or sequence of str, optional
        Default (None): each device's ``default_dtype`` (the dtype its datasheet headlines). An
        empty list of models, devices or dtypes is a SpecError, as ``batch=[]`` is.
    sla : latency target, optional
        Seconds, or text with its unit (``"10 ms"``): each row adds the largest batch meeting
        it and the batch of most throughput meeting it (:data:`~roofline.sla.SLA_COLUMNS`).
    batches, dtypes : deprecated spellings of ``batch`` and ``dtype``
    """
    batch = _renamed("batches", batches, "batch", batch, (1,))
    dtype = _renamed("dtypes", dtypes, "dtype", dtype, None)
    sizes = batch_sizes(batch)
    fuse = check_bool("fuse", fuse)
    example = "e.g. compare('resnet50', 't4') or compare(['resnet50', 'bert_base'], ['t4', 'l4'])"
    models = non_empty(one_or_many(models), "models", "a model or a list of models", example)
    devices = non_empty(one_or_many(devices), "devices", "a device or a list of devices", example)
    if dtype is not None and not isinstance(dtype, str):
        non_empty(list(dtype), "dtype", "a dtype, a list of dtypes, or None", "e.g. dtype='fp16'")
    loaded = [load_model(m) for m in models]
    targets = [(d, load_hardware(d)) for d in devices]
    columns = [*COMPARE_COLUMNS, "layout", *(SLA_COLUMNS if sla is not None else ())]
    rows: list[list[Any]] = []
    for m in loaded:
        counted: dict[str, CostTable] = {}
        for arg, target in targets:
            given = [dtype] if isinstance(dtype, str) else list(dtype or ())
            for dt in given or [default_dtype(target)]:
                if dt not in counted:
                    counted[dt] = count_graph(m.graph, sizes, dt, fuse=fuse)
                ct = counted[dt]
                if isinstance(target, System):
                    rows.extend(
                        _system_rows(
                            m,
                            arg,
                            target,
                            ct,
                            sla,
                            policy,
                            fuse,
                            launch,
                            layouts(tp, pp, ep, dp, devices=target.count, cp=cp),
                        )
                    )
                    continue
                with device_file(arg):
                    tot = evaluate_costs(ct, target, policy, launch=launch).totals()
                    extra = (
                        list(batches_under_sla(m, target, sla, dt, policy, fuse).columns().values())
                        if sla is not None
                        else []
                    )
                idx = [tot.columns.index(c) for c in COMPARE_COLUMNS]
                rows.extend([r[i] for i in idx] + ["-"] + extra for r in tot.rows)
    return Table(columns, rows, title="compare")  # fmt: skip


def _renamed(old: str, old_value: Any, new: str, new_value: Any, default: Any) -> Any:
    """``new_value``, or ``old_value`` given under a deprecated name (with a DeprecationWarning;
    both given is a SpecError)."""
    if old_value is None:
        return new_value
    warnings.warn(
        f"compare({old}=...) is deprecated: write {new}=... as evaluate and sweep do",
        DeprecationWarning,
        stacklevel=3,
    )
    if new_value is not default and new_value != default:
        raise SpecError(f"both {old} and {new} given", field=old, fix=f"give {new} only")
    return old_value


def _system_rows(
    m: Model,
    arg: HardwareLike,
    system: System,
    ct: CostTable,
    sla: str | float | None,
    policy: str | Policy | None,
    fuse: bool,
    launch: str,
    lays: Any,
) -> list[list[Any]]:
    """Rows of :data:`COMPARE_COLUMNS` (+ layout) of a system's result (the model's own totals
    from ``ct``, counted at the whole system's batch)."""
    if sla is not None:
        raise SpecError(
            "the SLA search runs on one device",
            field="sla",
            fix="compare the system without --sla, or its device with it",
        )
    with device_file(arg):
        res = evaluate_system(m, system, ct.batch, ct.precision.name, lays, policy, fuse, launch)
    dev = res.system.device
    peak = dev.peak("matrix", ct.precision.compute) * dev.engines.matrix.efficiency
    flops = (ct.flops_matrix + ct.flops_vector).sum(axis=0)
    # the whole system's peak: each layout's devices at the device's effective matrix peak
    util = utilization(flops, res.latency_s, peak * np.array([lay.devices for lay in res.layouts]))
    bound = dominant(res.bound_labels, res.by_bound_s)
    thr = res.throughput_per_s
    out = []
    for i, lay in enumerate(res.layouts):
        for j, b in enumerate(res.batch):
            ok = bool(res.feasible[i, j])
            lat = float(res.latency_s[i, j])
            out.append(
                [
                    res.model,
                    res.system.name,
                    int(b) if float(b).is_integer() else float(b),
                    ct.precision.name,
                    float(ct.weight_elems.sum()),
                    float(flops[j]),
                    float(ct.flops_mac[:, j].sum()),
                    float(ct.weight_bytes.sum()),
                    float(ct.live_act_bytes[:, j].max()),
                    float(res.kv_cache_bytes[i, j]),
                    lat if ok else None,
                    float(thr[i, j]) if ok else None,
                    float(util[i, j]) if ok else None,
                    str(bound[i, j]),
                    ok,
                    res.policy,
                    float(res.shortfall_bytes[i, j]),
                    int(res.devices_needed[i, j]),
                    *res.energy_columns(i, j),
                    lay.label,
                ]
            )
    return out
