"""Implication 3 of Park et al. (2018): large on-chip memory for inference with small batches.

:func:`onchip_memory_study` resizes a device's on-chip memory and follows the latency of CV and
language models at batch 1-16, and the capacities where activations, then weights + activations,
start to fit.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from roofline.counting import count_graph
from roofline.errors import SpecError
from roofline.evaluation import evaluate_costs
from roofline.formatting import fmt_bytes
from roofline.knobs import vary
from roofline.presets import load_device, load_model
from roofline.studies.base import PAPER_DEVICE, Options, Study, StudyEntry, given
from roofline.table import Table


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
        ``table``: model, batch, onchip_capacity_bytes (smallest first, whatever the order
        given), feasible (the model fits the device), latency_s, main_memory_bytes,
        activations_fit, weights_fit, activation_bytes (peak live), weight_bytes (dense).
        ``findings[model][batch]``: the two thresholds (bytes) and the latency gain from the
        smallest to the largest capacity. A point that does not fit has no latency or bytes
        moved (NaN), and a model that does not fit at the smallest or the largest capacity no
        gain (NaN; the answer says so).
    """
    hw = load_device(device or PAPER_DEVICE)
    if not any(lv.kind == "onchip" for lv in hw.memory.values()):
        raise SpecError(
            f"device {hw.name!r} has no on-chip memory level",
            field="device",
            fix="choose a device with an onchip level",
        )
    caps = np.geomspace(2**20, 2**32, 25) if capacities is None else capacities
    grid = vary(hw, {"memory.onchip.capacity": list(caps)})
    cap = np.asarray(grid.knobs[next(iter(grid.knobs))], dtype=float)
    order = np.argsort(cap, kind="stable")  # rows and the gain go from small to large
    lo, hi = int(order[0]), int(order[-1])
    main = grid.main
    cols = [
        "model",
        "device",
        "batch",
        "dtype",
        "onchip_capacity_bytes",
        "feasible",
        "latency_s",
        "main_memory_bytes",
        "activations_fit",
        "weights_fit",
        "activation_bytes",
        "weight_bytes",
    ]
    rows: list[list[Any]] = []
    findings: dict[str, Any] = {}
    for name in models:
        m = load_model(name)
        ct = count_graph(m.graph, list(batches), dtype, fuse=True)
        r = evaluate_costs(ct, grid)
        dense = float(ct.weight_bytes[~ct.is_table].sum())
        live = ct.live_act_bytes.max(axis=0)
        fits = np.asarray(r.feasible, dtype=bool)  # [H, B]
        # no time, nor bytes moved, for a point that does not fit (totals())
        lat = r.if_fits(r.latency_s)
        dram = r.if_fits(r.bytes_moved[..., main].sum(axis=-1))  # [H, B]
        findings[m.name] = {}
        for j, b in enumerate(ct.batch):
            for h in order:
                rows.append(
                    [
                        m.name,
                        hw.name,
                        int(b),
                        ct.precision.name,
                        float(cap[h]),
                        bool(fits[h, j]),
                        float(lat[h, j]),
                        float(dram[h, j]),
                        bool(live[j] <= cap[h]),
                        bool(dense + live[j] <= cap[h]),
                        float(live[j]),
                        dense,
                    ]
                )
            findings[m.name][int(b)] = {
                "activations_fit_bytes": float(live[j]),
                "weights_fit_bytes": dense + float(live[j]),
                # from the smallest capacity to the largest: NaN unless it fits at both
                "speedup": float(lat[lo, j] / lat[hi, j]),
            }
    table = Table(cols, rows, title=f"on-chip memory on {hw.name}, {dtype}")
    answer = _answer(table, findings, hw.name, dtype)
    return ENTRY.study(table, findings, answer, subjects=list(findings))


def _answer(table: Table, findings: dict[str, Any], device: str, dtype: str) -> str:
    """The thresholds of each model at its smallest batch, and its gain where it fits the
    device at the smallest and the largest capacity (said where it does not)."""
    parts = []
    for name, per in findings.items():
        b = min(per)
        b0 = per[b]
        fits = [r["feasible"] for r in table if r["model"] == name and r["batch"] == b]
        if np.isfinite(b0["speedup"]):
            gain = f"{b0['speedup']:.1f}x faster once they fit"
        elif not any(fits):
            gain = f"it does not fit {device} at any capacity tried: no latency"
        else:
            gain = f"it does not fit {device} at the smallest or the largest capacity: no gain"
        parts.append(
            f"{name} needs {fmt_bytes(b0['activations_fit_bytes'])} for activations "
            f"and {fmt_bytes(b0['weights_fit_bytes'])} for weights + activations at "
            f"batch {b} ({gain})"
        )
    answer = "; ".join(parts) + ". Thresholds grow with batch for activations, not for weights."
    if not any(r["feasible"] for r in table):
        answer += f" No model fits {device} ({dtype}) at any capacity tried: no latency is given."
    return answer


def from_options(o: Options) -> Study:
    """``roofline plot onchip [MODEL...] [--hw DEVICE] [--batch B...] [--dtype D]``."""
    return onchip_memory_study(
        **given(models=o.models, device=o.device, batches=o.batches, dtype=o.dtype)
    )


ENTRY = StudyEntry(
    name="onchip",
    question="Large on-chip memory for inference with small batches",
    charts=("onchip_latency",),
    function=onchip_memory_study,
    from_options=from_options,
    per_subject=True,
    reads={"--hw": "first"},
)
