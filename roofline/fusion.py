"""Epilogue fusion: fold pointwise ops into the op that produces their input.

Inference engines (TensorRT, XLA, oneDNN, FBGEMM's output pipeline) fold batch norm into the
preceding convolution and run activations and residual adds in the GEMM epilogue, so the
intermediate tensor never goes to memory and no extra kernel is launched. :func:`fusion_groups`
finds such chains in a graph: an op whose class runs in an epilogue (``Op.epilogue``: batch norm,
activation, elementwise) joins the group of the op right before it when it reads that op's output
and nothing else reads that output. A fused group moves the group's first input(s), any extra
inputs of the fused ops (the residual of an add) and the last output; FLOPs and parameters are
summed; it launches once. Ops repeated ``n`` times (a transformer's layers) fuse with a producer
repeated ``n`` times: layer by layer.

Counting (``count``, Table 1) stays unfused, layer by layer as the paper counts; evaluation fuses by
default (``fuse=False`` models an eager framework that runs every op as its own kernel).
:func:`fuse_table` merges the rows of an unfused count table into the fused kernels.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from roofline.graph import Graph
from roofline.kinds import TensorClass
from roofline.records import CostTable

#: count columns of a fused kernel taken from its last op (the one output it writes)
FROM_LAST = ("act_out_elems", "act_out_bytes")
#: count columns of a fused kernel that are the largest over its ops, not a sum
LARGEST = ("live_act_bytes", "gather_row_bytes")
#: count columns of a fused kernel taken from its first op (the kernel's identity)
FROM_FIRST = ("launches", "is_table")


def fusion_groups(graph: Graph) -> list[list[int]]:
    """Op indices grouped into fused kernels, in execution order (cached on the graph)."""
    return graph.derived("fusion_groups", _fusion_groups)


def _fusion_groups(graph: Graph) -> list[list[int]]:
    uses = Counter(t for n in graph.nodes for t in n.inputs)
    groups: list[list[int]] = []
    for i, node in enumerate(graph.nodes):
        if groups and node.op.epilogue:
            prev = graph.nodes[groups[-1][-1]]
            same = node.op.repeat == prev.op.repeat and not prev.op.side_by_side
            if same and node.inputs and prev.output in node.inputs and uses[prev.output] == 1:
                groups[-1].append(i)
                continue
        groups.append([i])
    return groups


@dataclass(frozen=True, eq=False)
class FusionPlan:
    """The fused groups as index arrays: each group's first and last op [G], each op's group
    [O], and for each later member position k, which groups have one (their indices) and its op
    index."""

    first: np.ndarray
    last: np.ndarray
    owner: np.ndarray
    later: tuple[tuple[np.ndarray, np.ndarray], ...]


def fusion_plan(graph: Graph) -> FusionPlan:
    """The :class:`FusionPlan` of ``graph``'s :func:`fusion_groups` (cached on the graph)."""
    return graph.derived("fusion_plan", _plan)


def _plan(graph: Graph) -> FusionPlan:
    groups = fusion_groups(graph)
    first = np.array([m[0] for m in groups], dtype=np.intp)
    sizes = np.array([len(m) for m in groups])
    owner = np.empty(sum(sizes), dtype=np.intp)
    for g, members in enumerate(groups):
        owner[members] = g
    later = tuple(
        (np.flatnonzero(sizes > k), first[sizes > k] + k)
        for k in range(1, int(sizes.max(initial=1)))
    )
    last = np.array([m[-1] for m in groups], dtype=np.intp)
    return FusionPlan(first, last, owner, later)


def group_reduce(graph: Graph, col: np.ndarray, how: np.ufunc, stacked: bool = False) -> np.ndarray:
    """``how.reduceat(col, first ops, axis=0)`` over ``graph``'s fused groups (``np.add`` or
    ``np.maximum``), member after member: the same left-to-right order, without reduceat's slow
    strided loop over a wide ``col`` [O, columns]. ``stacked``: ``col`` is [fields, O, columns],
    each field reduced as it would be alone (one pass for all of them)."""
    plan = fusion_plan(graph)
    if len(plan.later) >= 7:  # long groups: reduceat (its order changes from 8 members on)
        if stacked:
            return np.stack([how.reduceat(c, plan.first, axis=0) for c in col])
        return how.reduceat(col, plan.first, axis=0)
    if stacked:  # the groups on axis 1
        col = col.swapaxes(0, 1)
    out = col[plan.first]
    for has, idx in plan.later:
        out[has] = how(out[has], col[idx])
    return out.swapaxes(0, 1) if stacked else out


def inner_elements(graph: Graph) -> np.ndarray:
    """Per-sample elements [groups] each fused group produces and consumes inside itself
    (cached on the graph)."""
    return graph.derived("fusion_inner", _inner_elements)


def _inner_elements(graph: Graph) -> np.ndarray:
    """Per-sample elements [groups] each fused group produces and consumes inside itself."""
    sizes = graph.tensor_sizes()
    groups = fusion_groups(graph)
    inner = np.zeros(len(groups))
    for g, members in enumerate(groups):
        inner[g] = sum(
            sizes[graph.nodes[p].output] * graph.nodes[p].op.repeat for p in members[:-1]
        )
    return inner


def fuse_table(ct: CostTable, graph: Graph, inner: np.ndarray | None = None) -> CostTable:
    """Merge the rows of ``ct`` (counted from ``graph``) into the fused kernels of
    :func:`fusion_groups`; rows are named after each kernel's first op.

    ``inner`` [groups, columns] are the elements each group keeps inside itself per column
    (default :func:`inner_elements` x the batch of each column).
    """
    plan = fusion_plan(graph)
    if plan.first.size == ct.n_ops:
        return ct
    first, last, owner = plan.first, plan.last, plan.owner
    cols = {}
    for f, col in ct.columns.items():
        if f in FROM_LAST:
            cols[f] = col[last]
        elif f in LARGEST:
            cols[f] = group_reduce(graph, col, np.maximum)
        elif f in FROM_FIRST:
            cols[f] = col[first]
        else:
            cols[f] = group_reduce(graph, col, np.add)
    # an input produced inside the group never leaves the engine
    if inner is None:
        inner = inner_elements(graph)[:, None] * ct.batch
    cols["act_in_elems"] = cols["act_in_elems"] - inner
    cols["act_in_bytes"] = cols["act_in_bytes"] - inner * ct.precision.bytes_per(TensorClass.ACT_IN)
    return CostTable(
        model=ct.model,
        names=tuple(ct.names[i] for i in first),
        kinds=tuple(ct.kinds[i] for i in first),
        categories=tuple(ct.categories[i] for i in first),
        batch=ct.batch,
        precision=ct.precision,
        gemm_op=owner[ct.gemm_op],
        gemm_m=ct.gemm_m,
        gemm_n=ct.gemm_n,
        gemm_k=ct.gemm_k,
        gemm_count=ct.gemm_count,
        **cols,
    )
