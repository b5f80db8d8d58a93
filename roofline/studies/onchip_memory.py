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
        ``table``: model, batch, onchip_capacity_bytes, latency_s, main_memory_bytes,
        activations_fit, weights_fit, activation_bytes (peak live), weight_bytes (dense).
        ``findings[model][batch]``: the two thresholds (bytes) and the latency gain from the
        smallest to the largest capacity.
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
    cap = grid.knobs[next(iter(grid.knobs))]
    main = grid.main
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
    rows: list[list[Any]] = []
    findings: dict[str, Any] = {}
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
    return ENTRY.study(table, findings, answer, subjects=list(findings))


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
)
