"""Pipeline parallelism: a model's ops cut into consecutive stages, and the time of a pipeline.

**Stages.** A model built of a repeated block (a transformer's L layers are ops with ``repeat`` =
L) gives each of ``p`` stages L // p layers, the first L % p stages one more; the ops before the
block (embeddings) go to the first stage, those after it (the final norm, the head) to the last.
A model without a repeated block is cut into ``p`` runs of consecutive ops of about equal FLOPs.
More stages than layers (or ops) is an error.

**Time.** A batch split into ``m`` micro-batches flows through stages of times ``t_s`` (each
including its collectives) with a transfer ``c_s`` of the boundary activations after every stage
but the last: the first micro-batch takes ``sum_s (t_s + c_s)``, and the others follow one per
slowest step, so ``latency = sum_s (t_s + c_s) + (m - 1) x max_s (t_s + c_s)``. With equal stages
that is ``(m + p - 1)`` steps: the bubble is ``(p - 1) / m`` of the useful time.
"""

from __future__ import annotations

import numpy as np

from roofline.errors import SpecError
from roofline.graph import Graph


def stage_shares(graph: Graph, pp: int) -> np.ndarray:
    """Share of each op's work in each stage [pp, O] (each column sums to 1)."""
    ops = graph.ops
    n = len(ops)
    out = np.zeros((pp, n))
    if pp == 1:
        out[0] = 1.0
        return out
    repeats = np.array([0 if op.side_by_side else op.repeat for op in ops])
    layers = int(repeats.max()) if n else 0
    block = np.flatnonzero(repeats == layers) if layers > 1 else np.array([], dtype=int)
    if block.size:
        if pp > layers:
            raise SpecError(
                f"pp={pp} stages for {layers} layers",
                field="pp",
                fix=f"use at most {layers} pipeline stages",
            )
        per = np.full(pp, layers // pp) + (np.arange(pp) < layers % pp)
        out[:, block] = (per / layers)[:, None]
        out[0, : block[0]] = 1.0
        out[-1, block[-1] + 1 :] = 1.0
        inside = np.setdiff1d(np.arange(block[0], block[-1] + 1), block)
        out[0, inside] = 1.0  # an op inside the block that is not repeated runs once, first
        return out
    if pp > n:
        raise SpecError(
            f"pp={pp} stages for {n} ops", field="pp", fix=f"use at most {n} pipeline stages"
        )
    return _balanced(graph, pp)


def _balanced(graph: Graph, pp: int) -> np.ndarray:
    """Consecutive runs of ops of about equal FLOPs at batch 1 (each stage at least one op)."""
    flops = np.array(
        [sum(float(g.flops) for g in op.counts(1.0).gemms) + float(op.counts(1.0).vector_flops)
         for op in graph.ops]
    )  # fmt: skip
    n = flops.size
    cum = np.cumsum(flops) / max(flops.sum(), 1e-300)
    cuts = np.searchsorted(cum, np.arange(1, pp) / pp, side="right")
    prev = 0
    for i in range(pp - 1):  # at least one op per stage, before and after each cut
        cuts[i] = prev = min(max(int(cuts[i]), prev + 1), n - (pp - 1 - i))
    out = np.zeros((pp, n))
    bounds = [0, *cuts.tolist(), n]
    for s in range(pp):
        out[s, bounds[s] : bounds[s + 1]] = 1.0
    return out


def boundary_op(shares: np.ndarray) -> np.ndarray:
    """Index of the last op of each stage [pp] (whose output crosses to the next stage)."""
    present = shares > 0
    return np.array([int(np.flatnonzero(row)[-1]) for row in present])


def pipeline_latency(
    stage_s: np.ndarray, transfer_s: np.ndarray, micro_batches: np.ndarray | int
) -> np.ndarray:
    """Latency [..] of a batch of ``micro_batches`` [..] through stages ``stage_s`` [pp, ..] with
    transfers ``transfer_s`` [pp, ..] after each stage (zero after the last)."""
    step = stage_s + transfer_s
    return step.sum(axis=0) + (micro_batches - 1) * step.max(axis=0)
