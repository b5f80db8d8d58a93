"""Context parallelism: one context-parallel rank's counts and the ring that completes attention.

A decoder's sequence is split over a group of ``cp`` devices (Megatron-LM's context parallelism,
https://docs.nvidia.com/megatron/parallelism-guide/context-parallel.md; Ring Attention, Liu et al.
2023, https://arxiv.org/abs/2310.01889). Every rank holds the whole weights of its tensor-parallel
shard (replicated over the group, as over data-parallel replicas) and ``ceil(n / cp)`` of each
sequence's ``n`` tokens (an uneven split pads the last rank's chunk: the busiest rank sets the
time). Legend: ``p`` prompt tokens, ``c`` context tokens (the new one included), ``A(q, s)`` the
counts of one attention op with ``q`` queries and ``s`` keys per sequence
(:mod:`roofline.ops.attention`, :mod:`roofline.ops.decoder`).

* **Prefill.** Every op but attention runs on the rank's ``p / cp`` tokens (no op but attention
  mixes tokens): its counts are the phase's at ``p / cp``. Attention runs as ``cp`` ring steps,
  each a block kernel of the rank's ``p / cp`` queries against one rank's ``p / cp`` keys (its
  own block, then the ``cp - 1`` that arrive), so the rank's attention counts are
  ``cp x A(p/cp, p/cp)``: the score, softmax and PV FLOPs of ``p/cp`` queries x ``p`` keys, every
  K/V block read once, its queries read and its partial output written once per step (the online
  softmax correction, as TransformerEngine runs a kernel per step), ``cp`` launches. The cache
  it keeps is its own block: the KV footprint of ``p / cp`` tokens. The ring moves ``cp - 1``
  point-to-point steps per layer of one rank's K and V block (for latent attention, its latent:
  each rank expands the blocks it receives, so the expansion GEMM is counted per step too),
  ``kv_footprint(p/cp)`` bytes, on the interconnect level that holds the ``tp x cp`` devices.
* **Decode.** The new token is not split: every op but attention runs replicated on each rank
  (its counts are the phase's at context ``c``). Attention runs over the rank's shard of the
  cache, ``A(1, c/cp)``, and the ranks' partial outputs are combined by an all-gather of
  ``cp x`` the rank's output (``batch x heads x head_dim`` per layer; the softmax statistics,
  one fp32 per head and sequence, < 2% of it at head_dim 128, are left out), as Yang et al. 2024
  ("Context Parallelism for Scalable Million-Token Inference", https://arxiv.org/abs/2411.01783)
  decode over a sharded cache.

The causal mask: attention is counted dense (a causal kernel's full score matrix, as the
single-device op counts it), so every rank's share is exactly ``1 / cp`` of the score matrix;
that equal share is what the load-balanced causal split (Megatron's ``2 x cp`` chunks, rank r
holding chunks r and ``2cp - 1 - r``; Striped Attention, Brandon et al. 2023,
https://arxiv.org/abs/2311.09431) gives a kernel that skips masked blocks. Summed over the ranks,
attention FLOPs equal the single device's; nothing else is added but the ring.

Overlap follows the tensor-parallel all-reduces' convention (:mod:`roofline.systems.evaluate`):
the estimate adds the ring's time to the stage's (TransformerEngine hides it behind the attention
steps when a block's compute outlasts its transfer, so the estimate is pessimistic by at most the
ring), the strict bound lets it overlap everything.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np

from roofline.errors import SpecError
from roofline.graph import Graph
from roofline.kinds import OpCategory
from roofline.model import Model
from roofline.records import BATCHED, CostTable
from roofline.serving.context_counts import Phase, PhaseCounts, is_decoder
from roofline.systems.sharding import Comm

#: the layout search tries cp > 1 only when every rank keeps at least this many prompt tokens
#: (below it a ring step's block is too small to hide its transfer and per-step latency)
CP_MIN_TOKENS = 1024

#: count columns of an attention op multiplied by the ``cp`` ring steps of a prefill rank
_PER_STEP = (
    "flops_matrix",
    "flops_vector",
    "flops_mac",
    "weight_read_bytes",
    "act_in_elems",
    "act_out_elems",
    "act_in_bytes",
    "act_out_bytes",
    "kv_bytes",
)


def check_context_parallel(model: Model, cp: int) -> None:
    """SpecError when ``cp`` > 1 and ``model`` has no sequence to split (not a decoder)."""
    if cp > 1 and not is_decoder(model):
        raise SpecError(
            f"cp={cp} but {model.name} ({model.family}) has no decoder sequence to split",
            field="cp",
            fix="use cp=1 (context parallelism splits a decoder language model's tokens)",
        )


def rank_length(length: np.ndarray, cp: int) -> np.ndarray:
    """Tokens of one sequence on the busiest rank: ``ceil(length / cp)``."""
    return np.ceil(np.asarray(length, dtype=float) / cp)


def attention_ops(graph: Graph) -> np.ndarray:
    """Whether each op of ``graph`` is an attention core (bool [O])."""
    return np.array([op.category == OpCategory.ATTENTION for op in graph.ops])


def rank_counts(
    phase: PhaseCounts, length: np.ndarray, cp: int, dtype: str
) -> Callable[[np.ndarray], CostTable]:
    """``counts(micro)``: one rank's unfused counts at ``micro`` [C] sequences of ``length`` [C]
    tokens (prompt or context) under context parallelism of ``cp`` (module docstring)."""
    length = np.asarray(length, dtype=float)
    if cp == 1:
        return lambda micro: phase.table(micro, length, dtype, fuse=False)
    phase.graph(int(length.max()))  # the whole sequence must be valid (max_position_embeddings)
    part = rank_length(length, cp)
    attn = attention_ops(phase.template)
    if phase.phase == "prefill":
        return lambda micro: _prefill_rank(phase.table(micro, part, dtype, fuse=False), attn, cp)
    return lambda micro: _decode_rank(
        phase.table(micro, length, dtype, fuse=False),
        phase.table(micro, part, dtype, fuse=False),
        attn,
    )


def _prefill_rank(part: CostTable, attn: np.ndarray, cp: int) -> CostTable:
    """Counts at the rank's tokens with each attention op run as ``cp`` ring steps."""
    steps = np.where(attn, float(cp), 1.0)
    changes = {name: getattr(part, name) * steps[:, None] for name in _PER_STEP}
    changes["launches"] = part.launches * steps
    changes["gemm_count"] = part.gemm_count * steps[part.gemm_op][:, None]
    return replace(part, **changes)


def _decode_rank(whole: CostTable, part: CostTable, attn: np.ndarray) -> CostTable:
    """Attention rows over the rank's shard of the cache (``part``), the rest replicated
    (``whole``)."""
    changes = {}
    for name in (*BATCHED, "live_act_bytes"):
        changes[name] = np.where(attn[:, None], getattr(part, name), getattr(whole, name))
    g = attn[whole.gemm_op][:, None]
    for name in ("gemm_m", "gemm_n", "gemm_k", "gemm_count"):
        changes[name] = np.where(g, getattr(part, name), getattr(whole, name))
    return replace(whole, **changes)


def context_comms(sharded: CostTable, graph: Graph, cp: int, phase: Phase) -> list[Comm]:
    """The context-parallel group's communication after each attention op of one device's counts
    ``sharded`` (module docstring): prefill, ``cp - 1`` point-to-point ring steps per layer of the
    device's K/V block; decode, an all-gather of the ranks' partial outputs per layer."""
    if cp == 1:
        return []
    out = []
    for i in np.flatnonzero(attention_ops(graph)):
        layers = graph.ops[i].repeat
        if phase == "prefill":
            block = sharded.kv_footprint_bytes[i] / layers
            out.append(Comm(int(i), "p2p", block, (cp - 1) * layers))
        else:
            out.append(Comm(int(i), "all_gather", cp * sharded.act_out_bytes[i] / layers, layers))
    return out
