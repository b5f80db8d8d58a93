"""Implication 2 of Park et al. (2018): powerful matrix *and* vector engines.

:func:`engine_balance_study` grows the matrix-engine peak and follows the share of time in vector
work (ops without GEMMs) and the speedup's ceiling, Amdahl's limit, per model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from roofline.counting import count_graph
from roofline.dtypes import canonical
from roofline.evaluation import evaluate_costs
from roofline.formatting import si
from roofline.knobs import vary
from roofline.presets import load_device, load_model
from roofline.records import CostTable
from roofline.studies.base import PAPER_DEVICE, Options, Study, StudyEntry, given, paper_models
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
        ``table``: model, unbounded, scale, matrix_peak_flops_per_s, latency_s, vector_time_s,
        vector_share, speedup (over the scale nearest 1, the device), amdahl_limit (the speedup
        of an unbounded matrix engine). ``findings[model]``: vector share on the device and with
        an unbounded matrix engine, and the Amdahl limit.
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
        "latency_s",
        "vector_time_s",
        "vector_share",
        "speedup",
        "amdahl_limit",
    ]
    rows: list[list[Any]] = []
    findings: dict[str, Any] = {}
    for name, batch in mods.items():
        m = load_model(name)
        ct = count_graph(m.graph, [batch], dtype, fuse=True)
        r = evaluate_costs(ct, grid)
        lat = r.latency_s[:, 0]
        vt = r.time_s[:, 0][:, vector_ops(ct)].sum(axis=-1)
        ref = int(np.argmin(np.abs(np.log(np.array(sc[:-1]))))) if len(sc) > 1 else 0
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
    pct = lambda x: f"{100 * x:.0f}%"  # noqa: E731
    answer = (
        f"As the matrix peak grows from {si(peaks[0], 'FLOP/s')} to unbounded, the share of "
        "time in vector work (ops without GEMMs) rises: "
        + ", ".join(
            f"{k} {pct(v['vector_share_lowest'])} -> {pct(v['vector_share_unbounded'])}"
            for k, v in findings.items()
        )
        + f". On {hw.name} ({si(base, 'FLOP/s')}) an unbounded matrix engine would buy at most "
        + ", ".join(f"{k} {v['amdahl_limit']:.2g}x" for k, v in findings.items())
        + " (Amdahl's limit): vector work and memory, not the matrix peak, set the ceiling."
    )
    return ENTRY.study(table, findings, answer)


def from_options(o: Options) -> Study:
    """``roofline plot engines [MODEL...] [--hw DEVICE] [--dtype D]``."""
    return engine_balance_study(**given(models=o.models, device=o.device, dtype=o.dtype))


ENTRY = StudyEntry(
    name="engines",
    question="Powerful matrix and vector engines",
    charts=("engine_share", "engine_speedup"),
    function=engine_balance_study,
    from_options=from_options,
)
