"""Implications 2-4 of Park et al. (2018) as studies: engine balance, on-chip memory, precision.

See :mod:`roofline.studies` for the :class:`~roofline.studies.Study` they return.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from roofline.counting import count_graph
from roofline.dtypes import canonical
from roofline.errors import SpecError
from roofline.evaluation import evaluate_costs
from roofline.formatting import fmt_bytes, si
from roofline.knobs import vary
from roofline.presets import load_hardware, load_model
from roofline.table import Table

if TYPE_CHECKING:
    from roofline.studies.embedding import Study


def _studies():
    from roofline.studies import embedding as studies

    return studies


def vector_ops(ct: Any) -> np.ndarray:
    """Boolean [O]: ops with no matrix-engine FLOPs (depthwise conv, shuffle, pooling, embedding
    pooling, elementwise...), the work a vector engine must carry."""
    return ct.flops_matrix.sum(axis=1) == 0


def engine_balance_study(
    models: Mapping[str, int] | Sequence[str] | None = None,
    device: Any = None,
    dtype: str = "int8",
    scales: Sequence[float] = tuple(2.0**k for k in range(-6, 7)),
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
    st = _studies()
    hw = load_hardware(device or st.PAPER_DEVICE)
    mods = st._models(models)
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
    rows, findings = [], {}
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
    from roofline.plot import studies as sp

    return st.Study(
        "engines",
        "Powerful matrix and vector engines",
        table,
        findings,
        answer,
        (sp.engine_share, sp.engine_speedup),
    )


def onchip_memory_study(
    models: Sequence[str] = (
        "resnext101_32x4d",
        "faster_rcnn_shufflenet",
        "ir_csn_152",
        "seq2seq_gru",
    ),
    device: Any = None,
    dtype: str = "int8",
    batches: Sequence[int] = (1, 2, 4, 8, 16),
    capacities: Sequence[Any] | None = None,
) -> Study:
    """On-chip memory for small batches: latency of CV and language models against on-chip
    (SRAM) capacity at batch 1-16, and the capacities where activations, then weights + activations,
    start to fit.

    Parameters
    ----------
    models : sequence of str
    device : str or Hardware
        Its largest on-chip level is resized (default the paper's hypothetical accelerator).
    dtype : str
    batches : sequence of int
    capacities : sequence of bytes or unit strings, optional
        Default 1 MiB to 4 GiB, two points per octave (25 points).

    Returns
    -------
    Study
        ``table``: model, batch, onchip_capacity_bytes, latency_s, main_memory_bytes,
        activations_fit, weights_fit, activation_bytes (peak live), weight_bytes (dense).
        ``findings[model][batch]``: the two thresholds (bytes) and the latency gain from the
        smallest to the largest capacity.
    """
    st = _studies()
    hw = load_hardware(device or st.PAPER_DEVICE)
    if not any(lv.kind == "onchip" for lv in hw.memory.values()):
        raise SpecError(
            f"device {hw.name!r} has no on-chip memory level",
            field="device",
            fix="choose a device with an onchip level",
        )
    caps = np.geomspace(2**20, 2**32, 25) if capacities is None else capacities
    grid = vary(hw, {"memory.onchip.capacity": list(caps)})
    cap = grid.knobs[next(iter(grid.knobs))]
    main = grid.level_kinds.index("device")
    cols = [
        "model",
        "device",
        "batch",
        "dtype",
        "onchip_capacity_bytes",
        "latency_s",
        "main_memory_bytes",
        "activations_fit",
        "weights_fit",
        "activation_bytes",
        "weight_bytes",
    ]
    rows, findings = [], {}
    for name in models:
        m = load_model(name)
        ct = count_graph(m.graph, list(batches), dtype, fuse=True)
        r = evaluate_costs(ct, grid)
        dense = float(ct.weight_bytes[~ct.is_table].sum())
        live = ct.live_act_bytes.max(axis=0)
        dram = r.bytes_moved[..., main].sum(axis=-1)  # [H, B]
        findings[m.name] = {}
        for j, b in enumerate(ct.batch):
            for h, c in enumerate(cap):
                rows.append(
                    [
                        m.name,
                        hw.name,
                        int(b),
                        ct.precision.name,
                        float(c),
                        float(r.latency_s[h, j]),
                        float(dram[h, j]),
                        bool(live[j] <= c),
                        bool(dense + live[j] <= c),
                        float(live[j]),
                        dense,
                    ]
                )
            findings[m.name][int(b)] = {
                "activations_fit_bytes": float(live[j]),
                "weights_fit_bytes": dense + float(live[j]),
                "speedup": float(r.latency_s[0, j] / r.latency_s[-1, j]),
            }
    table = Table(cols, rows, title=f"on-chip memory on {hw.name}, {dtype}")
    parts = []
    for name, per in findings.items():
        b0 = per[min(per)]
        parts.append(
            f"{name} needs {fmt_bytes(b0['activations_fit_bytes'])} for activations "
            f"and {fmt_bytes(b0['weights_fit_bytes'])} for weights + activations at "
            f"batch {min(per)} ({b0['speedup']:.1f}x faster once they fit)"
        )
    answer = "; ".join(parts) + ". Thresholds grow with batch for activations, not for weights."
    from roofline.plot import studies as sp

    return st.Study(
        "onchip",
        "Large on-chip memory for inference with small batches",
        table,
        findings,
        answer,
        tuple(sp.onchip_panel(m) for m in findings),
    )


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
    st = _studies()
    mods = st._models(models)
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
    rows, findings = [], {}
    for dev in devices:
        hw = load_hardware(dev)
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
    from roofline.plot import studies as sp

    return st.Study(
        "precision",
        "Support for half-precision floating-point computation",
        table,
        findings,
        answer,
        tuple(sp.precision_panel(d) for d in dict.fromkeys(x["device"] for x in table)),
    )
