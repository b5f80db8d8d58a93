"""Implication 4 of Park et al. (2018): support for half-precision floating point.

:func:`precision_study` evaluates memory-bound and compute-bound models at fp32, fp16/bf16 and
int8 on a device without half-precision arithmetic (only the bytes shrink) and on one with it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from roofline.dtypes import canonical
from roofline.presets import load_device
from roofline.studies.base import Options, Study, StudyEntry, dtype_runs, given, paper_models
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
        regime (:func:`roofline.studies.base.regime` at the reference dtype, the first the device
        supports: ``memory``, ``compute`` or ``overhead``). A dtype a device lacks gives a row
        with ``supported = False``.
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
    nan = float("nan")
    hws = [load_device(dev) for dev in devices]
    for run in dtype_runs(hws, mods, dtypes):
        hw, m, r, ref = run.device, run.model, run.result, run.reference
        if r is None or ref is None:
            rows.append(
                [m.name, hw.name, run.batch, run.dtype, "", False, nan, nan, "", run.regime]
            )
            continue
        lat = float(r.latency_s[0, 0])
        speedup = float(ref.latency_s[0, 0]) / lat
        used = hw.engines.matrix.resolve(canonical(run.dtype))
        bound = str(r.dominant_bound()[0, 0])
        rows.append(
            [m.name, hw.name, run.batch, run.dtype, used, True, lat, speedup, bound, run.regime]
        )
        findings.setdefault(hw.name, {}).setdefault(m.name, {})[run.dtype] = speedup
    table = Table(cols, rows, title="precision study")
    answer = _answer(table)
    devices = list(dict.fromkeys(x["device"] for x in table))
    return ENTRY.study(table, findings, answer, subjects=devices)


def _answer(table: Table) -> str:
    """The study's answer: the half-precision speedups, the median of each regime's."""
    half = [x for x in table if x["dtype"] in ("fp16", "bf16") and x["supported"]]
    if not half:
        return "No half-precision result (no device supports fp16/bf16)."
    speedups = [x["speedup"] for x in half]
    parts = [f"Half precision speeds models up {min(speedups):.2f}-{max(speedups):.1f}x over fp32"]
    mem = [x["speedup"] for x in half if x["regime"] == "memory"]
    if mem:
        parts.append(
            f"memory-bound ones by {np.median(mem):.2f}x (median) from halved bytes alone, even "
            "where the device computes fp16 at the fp32 rate"
        )
    parts.append("compute-bound ones only where the device has faster half-precision arithmetic")
    launch = [x["speedup"] for x in half if x["regime"] == "overhead"]
    if launch:
        parts.append(
            f"launch-bound ones by {np.median(launch):.2f}x (median), the launch overhead "
            "staying what it was"
        )
    return "; ".join(parts) + "."


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
