"""Implication 2 of Park et al. (2018): powerful matrix *and* vector engines.

:func:`engine_balance_study` grows the matrix-engine peak and follows the share of time in vector
work (ops without GEMMs) and the speedup's ceiling, Amdahl's limit, per model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from roofline.counting import count_graph
from roofline.dtypes import canonical, work_unit
from roofline.evaluation import evaluate_costs
from roofline.formatting import si
from roofline.knobs import vary
from roofline.presets import load_device, load_model
from roofline.records import CostTable
from roofline.studies.base import (
    PAPER_DEVICE,
    Options,
    Study,
    StudyEntry,
    at_batch,
    given,
    not_fit,
    paper_models,
)
from roofline.table import Table


def vector_ops(ct: CostTable) -> np.ndarray:
    """Boolean [O]: ops with no matrix-engine FLOPs (depthwise conv, shuffle, pooling, embedding
    pooling, elementwise...), the work a vector engine must carry."""
    return ct.flops_matrix.sum(axis=1) == 0


#: matrix-engine peaks tried by default, as multiples of the device's (1/64 to 64)
SCALES = tuple(2.0**e for e in range(-6, 7))


def engine_balance_study(
    models: Mapping[str, int] | Sequence[str] | None = None,
    device: Any = None,
    dtype: str = "int8",
    scales: Sequence[float] = SCALES,
) -> Study:
    """Matrix and vector engines: as the matrix peak grows, the share of time in vector work, and
    the speedup's ceiling (Amdahl's limit) per model.

    Parameters
    ----------
    models : mapping name -> batch, or names
        Default :data:`~roofline.studies.PAPER_MODELS` at their batch conventions.
    device : str or Hardware
        Default the paper's hypothetical 100 TOP/s accelerator.
    dtype : str
    scales : sequence of float
        Matrix-engine peaks to try, as multiples of the device's (default 1/64 to 64); an
        unbounded matrix engine is added (``unbounded`` true; scale and peak empty) to give
        Amdahl's limit.

    Returns
    -------
    Study
        ``table``: model, unbounded, scale, matrix_peak_flops_per_s, feasible (the model fits
        the device), latency_s, vector_time_s, vector_share, speedup (over the scale nearest
        1, the device, which the answer names where it is not 1), amdahl_limit (the speedup
        of an unbounded matrix engine). ``findings[model]``: vector share at the lowest peak,
        on the device and with an unbounded matrix engine, and the Amdahl limit. A point that
        does not fit has no time, share or speedup (NaN); the answer leaves out, and names,
        the models that do not fit.
    """
    hw = load_device(device or PAPER_DEVICE)
    mods = paper_models(models)
    key = hw.engines.matrix.resolve(canonical(dtype)) or canonical(dtype)
    base = hw.peak("matrix", dtype)
    sc = [float(s) for s in scales] + [float("inf")]
    peaks = [base * s if np.isfinite(s) else base * 1e12 for s in sc]
    grid = vary(hw, {f"engines.matrix.peak.{key}": peaks})
    cols = [
        "model",
        "device",
        "batch",
        "dtype",
        "unbounded",
        "scale",
        "matrix_peak_flops_per_s",
        "feasible",
        "latency_s",
        "vector_time_s",
        "vector_share",
        "speedup",
        "amdahl_limit",
    ]
    rows: list[list[Any]] = []
    findings: dict[str, Any] = {}
    ref = int(np.argmin(np.abs(np.log(np.array(sc[:-1]))))) if len(sc) > 1 else 0
    for name, batch in mods.items():
        m = load_model(name)
        ct = count_graph(m.graph, [batch], dtype, fuse=True)
        r = evaluate_costs(ct, grid)
        fits = np.asarray(r.feasible[:, 0], dtype=bool)
        # no time for a point that does not fit (totals()), nor a share or speedup from one
        lat = r.if_fits(r.latency_s)[:, 0]
        vt = r.if_fits(r.time_s[..., vector_ops(ct)].sum(axis=-1))[:, 0]
        limit = float(lat[ref] / lat[-1])
        for h, s in enumerate(sc):
            fin = bool(np.isfinite(s))
            rows.append(
                [
                    m.name,
                    hw.name,
                    batch,
                    ct.precision.name,
                    not fin,
                    s if fin else None,
                    peaks[h] if fin else None,
                    bool(fits[h]),
                    float(lat[h]),
                    float(vt[h]),
                    float(vt[h] / lat[h]),
                    float(lat[ref] / lat[h]),
                    limit,
                ]
            )
        findings[m.name] = {
            "vector_share_lowest": float(vt[0] / lat[0]),
            "vector_share_device": float(vt[ref] / lat[ref]),
            "vector_share_unbounded": float(vt[-1] / lat[-1]),
            "amdahl_limit": limit,
        }
    table = Table(cols, rows, title=f"engine balance on {hw.name}, {dtype}")
    answer = _answer(findings, hw.name, dtype, key, peaks[0], sc[ref], peaks[ref])
    return ENTRY.study(table, findings, answer)


def _answer(
    findings: dict[str, Any],
    device: str,
    dtype: str,
    key: str,
    lowest: float,
    scale: float,
    peak: float,
) -> str:
    """The study's answer over the models that fit (their findings are numbers), naming the
    rest; rates in the engine dtype's unit (``TOP/s`` for integer dtypes)."""
    unit = f"{work_unit(key)}/s"
    ok = {k: v for k, v in findings.items() if all(np.isfinite(x) for x in v.values())}
    left = [k for k in findings if k not in ok]
    out = ", ".join(left)
    if not ok:
        return f"No result: {not_fit(left, device)} at {dtype}."
    pct = lambda x: f"{100 * x:.0f}%"  # noqa: E731
    against = (
        f"On {device} ({si(peak, unit)})"
        if scale == 1.0
        else f"Against {scale:g}x the matrix peak of {device} ({si(peak, unit)}, the scale tried "
        "nearest the device's)"
    )
    return (
        f"As the matrix peak grows from {si(lowest, unit)} to unbounded, the share of "
        "time in vector work (ops without GEMMs) rises: "
        + ", ".join(
            f"{k} {pct(v['vector_share_lowest'])} -> {pct(v['vector_share_unbounded'])}"
            for k, v in ok.items()
        )
        + f". {against} an unbounded matrix engine would buy at most "
        + ", ".join(f"{k} {v['amdahl_limit']:.2g}x" for k, v in ok.items())
        + " (Amdahl's limit): vector work and memory, not the matrix peak, set the ceiling."
        + (f" Left out: {out} (does not fit {device} at {dtype})." if left else "")
    )


def from_options(o: Options) -> Study:
    """``roofline plot engines [MODEL...] [--hw DEVICE] [--batch B] [--dtype D]``."""
    return engine_balance_study(
        **given(models=at_batch(o.models, o.batch), device=o.device, dtype=o.dtype)
    )


ENTRY = StudyEntry(
    name="engines",
    question="Powerful matrix and vector engines",
    charts=("engine_share", "engine_speedup"),
    function=engine_balance_study,
    from_options=from_options,
    reads={"--hw": "first", "--batch": "first"},
)
