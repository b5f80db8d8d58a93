"""Pipeline parallelism: a model's ops cut into consecutive stages, and the time of a pipeline.

**Stages.** A model built of a repeated block (a transformer's L layers are ops with ``repeat`` =
L) gives each of ``p`` stages L // p layers, the first L % p stages one more; the ops before the
block (embeddings) go to the first stage, those after it (the final norm, the head) to the last.
A model without a repeated block is cut into ``p`` runs of consecutive ops of about equal FLOPs.
More stages than layers (or ops) is an error.

**Hops.** After every stage but the last, each device sends its peer of the next stage (``tp x
cp`` devices on, in the layout's packing) every tensor produced at or before the cut and read
after it (:func:`crossing`): between layers of a repeated block the block's output; in a model
cut into runs of ops, every output (a ResNet's skip connections too) and graph input a later
stage reads; each at its size per micro-batch as one device holds it under tensor parallelism.

**Time.** A batch split into ``m`` micro-batches flows through stages of times ``t_s`` (each
including its collectives) with a transfer ``c_s`` of the boundary activations after every stage
but the last: the first micro-batch takes ``sum_s (t_s + c_s)``, and the others follow one per
slowest step, so ``latency = sum_s (t_s + c_s) + (m - 1) x max_s (t_s + c_s)``. With equal stages
that is ``(m + p - 1)`` steps: the bubble is ``(p - 1) / m`` of the useful time. The time on
the interconnect along that path is every stage's collectives and transfer once plus ``m - 1``
times those of the slowest stage (the one that sets the step).
"""

from __future__ import annotations

from dataclasses import dataclass

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
    # layers: sequential copies (side-by-side copies, 1, are never the block: it has > 1)
    repeats = np.array([op.sequential_copies for op in ops])
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


@dataclass(frozen=True)
class Cut:
    """What crosses from one stage to the next: the outputs of ``ops`` (each op's output per
    copy: its output bytes over ``divisors``, the op's ``repeat``, 1 for side-by-side copies that
    are one tensor) and ``input_elems`` per-sample elements of graph inputs."""

    ops: np.ndarray
    divisors: np.ndarray
    input_elems: int


def crossing(graph: Graph, shares: np.ndarray) -> tuple[Cut, ...]:
    """The tensors that cross each of the ``pp - 1`` cuts of ``shares`` [pp, O].

    A cut carries every tensor produced at or before it and read after it. Between two layers
    of a repeated block that is the block's output (the residual stream the next layer reads; a
    transformer's hop), plus any tensor made before the block that an op after it reads. Between
    runs of ops (a model without a repeated block, e.g. a ResNet whose skip connections span the
    cut) it is every op output, and every graph input (held by the first stage), that an op of
    a later stage reads.
    """
    pp, n = shares.shape
    ops = graph.ops
    made = {node.output: i for i, node in enumerate(graph.nodes)}
    divisors = np.array([op.sequential_copies for op in ops])
    # the stage of each op wholly in one stage; a repeated block's ops span several (-1)
    whole = np.where((shares == 1.0).any(axis=0), shares.argmax(axis=0), -1)
    # the last stage that reads each tensor; a block op reading a tensor made before the block
    # is its first layer (the block's input, replaced by its output at every later cut)
    last_read: dict[str, int] = {}
    for i, node in enumerate(graph.nodes):
        if whole[i] < 0:
            continue
        for t in node.inputs:
            last_read[t] = max(last_read.get(t, 0), int(whole[i]))
    sizes = graph.tensor_sizes()
    out = []
    for s in range(pp - 1):
        crossing_ops: list[int] = []
        inputs = 0
        if (whole < 0).any():  # a cut between layers: the block's output, the residual stream
            present = np.flatnonzero(shares[s] > 0)
            crossing_ops.append(int(present[-1]))
        for t, stage in last_read.items():
            if stage <= s:
                continue
            if t in made:
                i = made[t]
                if 0 <= whole[i] <= s and i not in crossing_ops:
                    crossing_ops.append(i)
            else:
                inputs += sizes[t]
        idx = np.array(sorted(crossing_ops), dtype=int)
        out.append(Cut(idx, divisors[idx], inputs))
    return tuple(out)


def pipeline_latency(
    stage_s: np.ndarray, transfer_s: np.ndarray, micro_batches: np.ndarray | int
) -> np.ndarray:
    """Latency [..] of a batch of ``micro_batches`` [..] through stages ``stage_s`` [pp, ..] with
    transfers ``transfer_s`` [pp, ..] after each stage (zero after the last)."""
    return _latency(stage_s + transfer_s, micro_batches)


def critical_path(
    stage_s: np.ndarray, transfer_s: np.ndarray, micro_batches: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(:func:`pipeline_latency`, the slowest stage [C]: the one whose step, ``stage_s +
    transfer_s`` [pp, C], the ``m - 1`` later micro-batches repeat)."""
    step = stage_s + transfer_s
    return _latency(step, micro_batches), np.argmax(step, axis=0)


def _latency(step_s: np.ndarray, micro_batches: np.ndarray | int) -> np.ndarray:
    """Every step once, then ``m - 1`` times the slowest (module docstring)."""
    return step_s.sum(axis=0) + (micro_batches - 1) * step_s.max(axis=0)


def along_critical_path(
    x: np.ndarray,
    slowest: np.ndarray,
    micro_batches: np.ndarray,
    once: np.ndarray | None = None,
) -> np.ndarray:
    """A per-stage figure ``x`` [pp, C, ...] along the critical path [C, ...]: every stage's once
    (``once``, None: ``x.sum(axis=0)``), plus ``m - 1`` times the ``slowest`` [C] stage's where
    ``micro_batches`` [C] is more than one."""
    total = x.sum(axis=0) if once is None else once
    again = (micro_batches - 1).reshape(-1, *(1,) * (x.ndim - 2))
    return np.where(again > 0, total + again * x[slowest, np.arange(slowest.size)], total)
