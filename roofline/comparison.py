"""Compare many models on many devices at many batches and dtypes: one row per point."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from roofline.api import HardwareLike, ModelLike, device_file
from roofline.counting import as_batches, count_graph
from roofline.errors import SpecError
from roofline.evaluation import evaluate_costs
from roofline.formulas import dominant
from roofline.placement import Policy
from roofline.presets import load_hardware, load_model
from roofline.records import CostTable
from roofline.result import ENERGY_COLUMNS
from roofline.systems.evaluate import evaluate_system
from roofline.systems.layout import layouts
from roofline.systems.result import SystemResult
from roofline.systems.spec import System
from roofline.table import Table
from roofline.whatif import sla_columns

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
    batches: Any = (1,),
    dtypes: Sequence[str] | str = ("fp32",),
    policy: str | Policy | None = None,
    fuse: bool = True,
    launch: str = "kernel",
    sla: str | float | None = None,
    tp: int | Sequence[int] = 1,
    pp: int | Sequence[int] = 1,
    ep: int | Sequence[int] = 1,
    dp: int | Sequence[int] | None = None,
) -> Table:
    """One row per (model, device, batch, dtype) with the :data:`COMPARE_COLUMNS`.

    Devices are evaluated one at a time (their memory hierarchies may differ); each evaluation is
    vectorized over batches. ``fuse`` as in :func:`evaluate`. With ``sla`` (a latency target,
    ``"10ms"`` or seconds), each row adds the largest batch meeting it and the throughput there.
    A system (``dgx_h100``) gives a row per parallel layout (``tp``, ``pp``, ``ep``, ``dp`` as in
    :func:`roofline.evaluate`), named in the ``layout`` column (``-`` for a device).
    """
    if isinstance(dtypes, str):
        dtypes = [dtypes]
    loaded = [load_model(m) for m in models]
    targets = [(d, load_hardware(d)) for d in devices]
    systems = [(d, s) for d, s in targets if isinstance(s, System)]
    hws = [(d, s) for d, s in targets if not isinstance(s, System)]
    rows: list[list[Any]] = []
    columns = [*COMPARE_COLUMNS, "layout"]
    if sla is not None:
        columns += [
            "sla_s",
            "max_batch_under_sla",
            "latency_at_max_batch_s",
            "throughput_at_max_batch_per_s",
        ]
    for m in loaded:
        for dt in dtypes:
            ct = count_graph(m.graph, batches, dt, fuse=fuse)
            for arg, hw in hws:
                with device_file(arg):
                    tot = evaluate_costs(ct, hw, policy, launch=launch).totals()
                    extra = sla_columns(m, hw, sla, dt, policy, fuse) if sla is not None else []
                idx = [tot.columns.index(c) for c in COMPARE_COLUMNS]
                rows.extend([r[i] for i in idx] + ["-"] + extra for r in tot.rows)
            for arg, system in systems:
                if sla is not None:
                    raise SpecError(
                        "the SLA search runs on one device",
                        field="sla",
                        fix="compare the system without --sla, or its device with it",
                    )
                with device_file(arg):
                    res = evaluate_system(
                        m,
                        system,
                        as_batches(batches),
                        dt,
                        layouts(tp, pp, ep, dp, devices=system.count),
                        policy,
                        fuse,
                        launch,
                    )
                rows.extend(_system_rows(res, ct))
    return Table(columns, rows, title="compare")


def _system_rows(res: SystemResult, ct: CostTable) -> list[list[Any]]:
    """Rows of :data:`COMPARE_COLUMNS` (+ layout) of a system's result (the model's own totals
    from ``ct``, counted at the whole system's batch)."""
    dev = res.system.device
    peak = dev.peak("matrix", ct.precision.compute) * dev.engines.matrix.efficiency
    flops = (ct.flops_matrix + ct.flops_vector).sum(axis=0)
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
                    float(b) / lat if ok else None,
                    float(flops[j]) / (lat * peak * lay.devices) if ok else None,
                    str(dominant(res.bound_labels, res.by_bound_s[i, j])),
                    ok,
                    res.policy,
                    0.0 if ok else None,
                    lay.devices,
                    *res.energy_columns(i, j),
                    lay.label,
                ]
            )
    return out
