"""Compare many models on many devices at many batches and dtypes: one row per point."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from roofline.api import HardwareLike, ModelLike, device_file
from roofline.counting import count_graph
from roofline.evaluation import evaluate_costs
from roofline.placement import Policy
from roofline.presets import load_hardware, load_model
from roofline.result import ENERGY_COLUMNS
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
) -> Table:
    """One row per (model, device, batch, dtype) with the :data:`COMPARE_COLUMNS`.

    Devices are evaluated one at a time (their memory hierarchies may differ); each evaluation is
    vectorized over batches. ``fuse`` as in :func:`evaluate`. With ``sla`` (a latency target,
    ``"10ms"`` or seconds), each row adds the largest batch meeting it and the throughput there.
    """
    if isinstance(dtypes, str):
        dtypes = [dtypes]
    loaded = [load_model(m) for m in models]
    hws = [(d, load_hardware(d)) for d in devices]
    rows: list[list[Any]] = []
    columns = list(COMPARE_COLUMNS)
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
                rows.extend([r[i] for i in idx] + extra for r in tot.rows)
    return Table(columns, rows, title="compare")
