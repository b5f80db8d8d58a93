"""Implication 4 of Park et al. (2018): support for half-precision floating point.

:func:`precision_study` evaluates memory-bound and compute-bound models at fp32, fp16/bf16 and
int8 on a device without half-precision arithmetic (only the bytes shrink) and on one with it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from roofline.counting import count_graph
from roofline.dtypes import canonical
from roofline.errors import SpecError
from roofline.evaluation import evaluate_costs
from roofline.presets import load_device, load_model
from roofline.studies.base import Options, Study, StudyEntry, given, paper_models
from roofline.table import Table


def precision_study(
    models: Mapping[str, int] | Sequence[str] | None = None,
    devices: Sequence[Any] = ("xeon_gold_6138_2s", "t4"),
    dtypes: Sequence[str] = ("fp32", "fp16", "bf16", "int8"),
) -> Study:
    """Half precision: latency at fp32, fp16/bf16 and int8 for memory-bound and compute-bound
    models, on a device without half-precision arithmetic (the paper's Xeon: only bytes shrink)
    and one with it.

    Returns
    -------
    Study
        ``table``: model, device, batch, dtype, compute_dtype (the peak actually used, after
        the device's fallbacks), latency_s, speedup (over fp32), bound (dominant at this dtype),
        regime (``memory`` or ``compute``: the dominant bound at fp32). A dtype a device lacks
        gives a row with ``supported = False``.
    """
    mods = paper_models(models)
    cols = [
        "model",
        "device",
        "batch",
        "dtype",
        "compute_dtype",
        "supported",
        "latency_s",
        "speedup",
        "bound",
        "regime",
    ]
    rows: list[list[Any]] = []
    findings: dict[str, Any] = {}
    for dev in devices:
        hw = load_device(dev)
        for name, batch in mods.items():
            m = load_model(name)
            ref, regime = None, ""
            for dt in dtypes:
                try:
                    r = evaluate_costs(count_graph(m.graph, [batch], dt, fuse=True), hw)
                except SpecError:
                    rows.append(
                        [
                            m.name,
                            hw.name,
                            batch,
                            dt,
                            "",
                            False,
                            float("nan"),
                            float("nan"),
                            "",
                            regime,
                        ]
                    )
                    continue
                lat = float(r.latency_s[0, 0])
                bound = str(r.dominant_bound()[0, 0])
                if ref is None:
                    ref, regime = lat, "compute" if bound == "compute" else "memory"
                used = hw.engines.matrix.resolve(canonical(dt))
                rows.append([m.name, hw.name, batch, dt, used, True, lat, ref / lat, bound, regime])
                findings.setdefault(hw.name, {}).setdefault(m.name, {})[dt] = ref / lat
    table = Table(cols, rows, title="precision study")
    half = [x["speedup"] for x in table if x["dtype"] in ("fp16", "bf16") and x["supported"]]
    mem = [
        x["speedup"]
        for x in table
        if x["dtype"] in ("fp16", "bf16") and x["supported"] and x["regime"] == "memory"
    ]
    answer = (
        f"Half precision speeds models up {min(half):.2f}-{max(half):.1f}x over fp32; "
        f"memory-bound ones by {np.median(mem):.2f}x (median) from halved bytes alone, even "
        "where the device computes fp16 at the fp32 rate; compute-bound ones only where the "
        "device has faster half-precision arithmetic."
        if half and mem
        else "No half-precision result (no device supports fp16/bf16)."
    )
    devices = list(dict.fromkeys(x["device"] for x in table))
    return ENTRY.study(table, findings, answer, subjects=devices)


def from_options(o: Options) -> Study:
    """``roofline plot precision [MODEL...] [--hw DEVICE...]`` (each device its own chart)."""
    return precision_study(**given(models=o.models, devices=o.devices))


ENTRY = StudyEntry(
    name="precision",
    question="Support for half-precision floating-point computation",
    charts=("precision_speedup",),
    function=precision_study,
    from_options=from_options,
    per_subject=True,
)
