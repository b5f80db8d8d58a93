"""Implication 4 of Park et al. (2018): support for half-precision floating point.

:func:`precision_study` evaluates memory-bound and compute-bound models at fp32, fp16/bf16 and
int8 on a device without half-precision arithmetic (only the bytes shrink) and on one with it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from roofline.dtypes import canonical
from roofline.errors import SpecError
from roofline.presets import load_device
from roofline.studies.base import (
    Options,
    Study,
    StudyEntry,
    at_batch,
    dtype_runs,
    fits,
    fitting,
    given,
    paper_models,
)
from roofline.table import Table

#: the half-precision dtypes the answer is about
HALF = ("fp16", "bf16")


def precision_study(
    models: Mapping[str, int] | Sequence[str] | None = None,
    devices: Sequence[Any] = ("xeon_gold_6138_2s", "t4"),
    dtypes: Sequence[str] = ("fp32", "fp16", "bf16", "int8"),
) -> Study:
    """Half precision: latency at fp32, fp16/bf16 and int8 for memory-bound and compute-bound
    models, on a device without half-precision arithmetic (the paper's Xeon: only bytes shrink)
    and one with it.

    Parameters
    ----------
    models : mapping model -> batch, or model names (their :data:`PAPER_MODELS` batch)
        Default the Table 1 models at the paper's batches.
    devices : sequence of device-likes
        Default the paper's Xeon server and a T4.
    dtypes : sequence of str
        The first is the reference the speedups are taken against, on each device and model:
        where the device lacks it (Gaudi 3 has no fp32 matrix peak) or the model does not fit
        at it, the other dtypes' speedups are NaN, never taken against another dtype.

    Returns
    -------
    Study
        ``table``: model, device, batch, dtype, compute_dtype (the peak actually used, after
        the device's fallbacks), supported, feasible (the model fits the device at this dtype),
        latency_s, speedup (the reference dtype's latency over this one's), bound (dominant at
        this dtype), regime (:func:`roofline.studies.base.regime` at the reference dtype:
        ``memory``, ``compute`` or ``overhead``; empty without a reference run). A dtype a
        device lacks gives a row with ``supported = False``; a point that does not fit has no
        time, bound or speedup (NaN, as :meth:`~roofline.result.Result.totals` has it).
        ``findings[device][model][dtype]``: the speedup. The answer's ranges and medians hold
        only the rows with a speedup.
    """
    mods = paper_models(models)
    cols = [
        "model",
        "device",
        "batch",
        "dtype",
        "compute_dtype",
        "supported",
        "feasible",
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
        head = [m.name, hw.name, run.batch, run.dtype]
        if r is None:
            rows.append(head + ["", False, False, nan, nan, "", run.regime])
            continue
        used = hw.engines.matrix.resolve(canonical(run.dtype))
        if not fits(r):  # no time for a point that does not fit (totals())
            rows.append(head + [used, True, False, nan, nan, "", run.regime])
            findings.setdefault(hw.name, {}).setdefault(m.name, {})[run.dtype] = nan
            continue
        lat = float(r.latency_s[0, 0])
        speedup = fitting(ref, "latency_s") / lat
        bound = str(r.dominant_bound()[0, 0])
        rows.append(head + [used, True, True, lat, speedup, bound, run.regime])
        findings.setdefault(hw.name, {}).setdefault(m.name, {})[run.dtype] = speedup
    table = Table(cols, rows, title="precision study")
    answer = _answer(table, dtypes)
    devices = list(dict.fromkeys(x["device"] for x in table))
    return ENTRY.study(table, findings, answer, subjects=devices)


def _is_half(dtype: str) -> bool:
    try:
        return canonical(dtype) in HALF
    except SpecError:
        return False


def _answer(table: Table, dtypes: Sequence[str]) -> str:
    """The study's answer: the half-precision speedups over the first dtype (over the rows that
    have one), the median of each regime's; what is left out and why. NaN reads as None in a
    table's rows."""
    ref = dtypes[0]
    half = [x for x in table if _is_half(x["dtype"]) and x["supported"]]
    if not half:
        return "No half-precision result (no device supports fp16/bf16)."
    late = sorted(
        {f"{x['model']} on {x['device']}" for x in table if x["supported"] and not x["feasible"]}
    )
    left = f"left out where the model does not fit the device ({', '.join(late)})" if late else ""
    if _is_half(ref):
        others = [x for x in table if x["dtype"] != ref and x["speedup"] is not None]
        by = [
            f"{dt} {_span([x['speedup'] for x in others if x['dtype'] == dt])}x"
            for dt in dict.fromkeys(x["dtype"] for x in others)
        ]
        return (
            f"No half-precision speedup: the reference dtype, {ref}, is itself half precision"
            + (f" (speedups over it: {', '.join(by)})" if by else "")
            + (f"; {left}" if left else "")
            + "."
        )
    got = [x for x in half if x["speedup"] is not None]
    if not got:
        return (
            f"No half-precision speedup over {ref}: no run of {ref} to take it against (the "
            "device lacks it or the model does not fit)" + (f"; {left}" if left else "") + "."
        )
    speedups = [x["speedup"] for x in got]
    parts = [f"Half precision speeds models up {min(speedups):.2f}-{max(speedups):.1f}x over {ref}"]
    mem = [x["speedup"] for x in got if x["regime"] == "memory"]
    if mem:
        parts.append(
            f"memory-bound ones by {np.median(mem):.2f}x (median) from halved bytes alone, even "
            f"where the device computes fp16 at the {ref} rate"
        )
    parts.append("compute-bound ones only where the device has faster half-precision arithmetic")
    launch = [x["speedup"] for x in got if x["regime"] == "overhead"]
    if launch:
        parts.append(
            f"launch-bound ones by {np.median(launch):.2f}x (median), the launch overhead "
            "staying what it was"
        )
    lacking = sorted({x["device"] for x in half if x["feasible"] and x["speedup"] is None})
    if lacking:
        parts.append(f"no speedup on {', '.join(lacking)}: no run of {ref} to take it against")
    if left:
        parts.append(left)
    return "; ".join(parts) + "."


def _span(values: Sequence[float]) -> str:
    lo, hi = min(values), max(values)
    return f"{lo:.2f}" if f"{lo:.2f}" == f"{hi:.2f}" else f"{lo:.2f}-{hi:.2f}"


def from_options(o: Options) -> Study:
    """``roofline plot precision [MODEL...] [--hw DEVICE...] [--batch B]`` (each device its own
    chart)."""
    return precision_study(**given(models=at_batch(o.models, o.batch), devices=o.devices))


ENTRY = StudyEntry(
    name="precision",
    question="Support for half-precision floating-point computation",
    charts=("precision_speedup",),
    function=precision_study,
    from_options=from_options,
    per_subject=True,
    reads={
        "--batch": "first",
        "--dtype": "the study compares its own dtypes (fp32, fp16, bf16 and int8)",
    },
)
