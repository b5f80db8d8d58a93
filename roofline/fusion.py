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
from roofline.records import BATCHED, PER_OP, CostTable

#: count columns of a fused kernel taken from its last op (the one output it writes; plus the
#: intermediates of the ops before it, :func:`output_share`)
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
    """The fused groups as index arrays: each group's first and last op [G] (``first_ops`` the
    first as ints), each op's group [O], for each later member position k, which groups have
    one (their indices) and its op index, and ``inside`` [O]: 1.0 for an op whose output stays
    inside its group, 0.0 for each group's last op."""

    first: np.ndarray
    last: np.ndarray
    owner: np.ndarray
    later: tuple[tuple[np.ndarray, np.ndarray], ...]
    first_ops: tuple[int, ...]
    inside: np.ndarray


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
    inside = np.ones(owner.size)
    inside[last] = 0.0
    for arr in (first, last, owner, inside):
        arr.flags.writeable = False
    return FusionPlan(first, last, owner, later, tuple(first.tolist()), inside)


def group_reduce(graph: Graph, col: np.ndarray, how: np.ufunc, stacked: bool = False) -> np.ndarray:
    """``how.reduceat(col, first ops, axis=0)`` over ``graph``'s fused groups (``np.add`` or
    ``np.maximum``), member after member: the same left-to-right order, without reduceat's slow
    strided loop over a wide ``col`` [O, ...]. ``stacked``: ``col`` is [fields, O, ...], each
    field reduced as it would be alone (one pass for all of them) into a C-contiguous slab of
    the result [fields, G, ...]."""
    plan = fusion_plan(graph)
    if len(plan.later) >= 7:  # long groups: reduceat (its order changes from 8 members on)
        if stacked:
            return np.stack([how.reduceat(c, plan.first, axis=0) for c in col])
        return how.reduceat(col, plan.first, axis=0)
    # take: the gathers of fancy indexing, faster
    if stacked:  # the ops on axis 1
        out = col.take(plan.first, axis=1)
        for has, idx in plan.later:
            out[:, has] = how(out.take(has, axis=1), col.take(idx, axis=1))
        return out
    out = col.take(plan.first, axis=0)
    for has, idx in plan.later:
        out[has] = how(out.take(has, axis=0), col.take(idx, axis=0))
    return out


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


def output_share(graph: Graph) -> np.ndarray:
    """Per op [O]: the share of the activation elements it writes that is its output tensor (the
    rest are its own intermediates, which a kernel writes and reads back whether or not an
    epilogue is fused after it: a mixture-of-experts layer's expert activations). 1 for most
    ops (cached on the graph)."""
    return graph.derived("fusion_output_share", _output_share)


def _output_share(graph: Graph) -> np.ndarray:
    sizes = graph.tensor_sizes()
    share = np.ones(len(graph.nodes))
    for i, node in enumerate(graph.nodes):
        copies = node.op.concurrent_copies
        written = float(np.asarray(node.op.counts(1.0).act_out)) * copies  # per sample
        if written > sizes[node.output]:
            share[i] = sizes[node.output] / written
    share.flags.writeable = False
    return share


def inner_share(graph: Graph) -> np.ndarray:
    """Per op [O]: the share of its written elements the next member of its fused group reads
    (its output tensor, where the group goes on after it), else 0 (cached on the graph): the
    complement, within a group, of what :func:`_inner_writes` keeps written."""
    return graph.derived("fusion_inner_share", _inner_share)


def _inner_share(graph: Graph) -> np.ndarray:
    share = fusion_plan(graph).inside * output_share(graph)
    share.flags.writeable = False
    return share


def _inner_writes(graph: Graph) -> np.ndarray | None:
    """Per op [O]: the share of its written elements a fused kernel still writes besides its last
    op's output (the intermediates of a member before the last), or None where there are none."""
    return graph.derived("fusion_inner_writes", _inner_writes_of)


def _inner_writes_of(graph: Graph) -> np.ndarray | None:
    own = fusion_plan(graph).inside * (1.0 - output_share(graph))
    return own if own.any() else None


#: the count columns of a fused kernel that sum its ops', by shape: [O, columns] and [O]
SUMMED = tuple(f for f in BATCHED if f not in FROM_LAST + LARGEST)
SUMMED_PER_OP = tuple(f for f in PER_OP if f not in LARGEST)
_ACT_IN, _ACT_IN_BYTES = SUMMED.index("act_in_elems"), SUMMED.index("act_in_bytes")
#: the most bytes of count columns :func:`fuse_table` stacks to reduce them in one pass: the
#: stack is one more copy of them, which pays where numpy's per-call overhead outweighs it
#: (tables of a few columns), and below glibc's default mmap threshold (128 KiB) its memory comes
#: from the heap again, not fresh pages faulted in on every call (fuse_counts of llama2_7b's
#: 640 columns: 1.3 ms stacked, 0.2 ms field by field)
STACK_BYTES = 1 << 17


def _reduce_each(
    graph: Graph, cols: list[np.ndarray], how: np.ufunc
) -> np.ndarray | list[np.ndarray]:
    """:func:`group_reduce` of each of ``cols`` (one shape, [O, ...]): one stacked pass into a
    writable array [len(cols), G, ...] where they are of one dtype (a stack would cast them) and
    :data:`STACK_BYTES` at most in all, else a list of one array per column."""
    if sum(c.nbytes for c in cols) <= STACK_BYTES and len({c.dtype for c in cols}) == 1:
        return group_reduce(graph, np.array(cols), how, stacked=True)  # np.stack's work, faster
    return [group_reduce(graph, c, how) for c in cols]


def fuse_table(ct: CostTable, graph: Graph, inner: np.ndarray | None = None) -> CostTable:
    """Merge the rows of ``ct`` (counted from ``graph``) into the fused kernels of
    :func:`fusion_groups`; rows are named after each kernel's first op.

    ``inner`` [groups, columns] are the elements each group keeps inside itself per column
    (default :func:`inner_elements` x the batch of each column).
    """
    plan = fusion_plan(graph)
    if plan.first.size == ct.n_ops:
        return ct
    first, last = plan.first, plan.last
    summed = _reduce_each(graph, [getattr(ct, f) for f in SUMMED], np.add)
    per_op = _reduce_each(graph, [getattr(ct, f) for f in SUMMED_PER_OP], np.add)
    # an input produced inside the group never leaves the engine
    if inner is None:
        inner = inner_elements(graph)[:, None] * ct.batch
    summed[_ACT_IN] -= inner
    summed[_ACT_IN_BYTES] -= inner * ct.precision.bytes_per(TensorClass.ACT_IN)
    for done in (summed, per_op):
        if isinstance(done, np.ndarray):  # frozen before its slabs are taken: they are too
            done.flags.writeable = False
    ops = plan.first_ops
    written = {f: getattr(ct, f).take(last, axis=0) for f in FROM_LAST}
    own = _inner_writes(graph)
    if own is not None:  # a member's own intermediates are written inside the kernel too
        for f in FROM_LAST:
            written[f] = written[f] + group_reduce(graph, getattr(ct, f) * own[:, None], np.add)
    return CostTable(
        model=ct.model,
        names=tuple([ct.names[i] for i in ops]),
        kinds=tuple([ct.kinds[i] for i in ops]),
        categories=tuple([ct.categories[i] for i in ops]),
        batch=ct.batch,
        precision=ct.precision,
        gemm_op=plan.owner[ct.gemm_op],
        gemm_m=ct.gemm_m,
        gemm_n=ct.gemm_n,
        gemm_k=ct.gemm_k,
        gemm_count=ct.gemm_count,
        **dict(zip(SUMMED, summed)),
        **dict(zip(SUMMED_PER_OP, per_op)),
        **written,
        **{f: group_reduce(graph, getattr(ct, f), np.maximum) for f in LARGEST},
        **{f: getattr(ct, f).take(first, axis=0) for f in FROM_FIRST},
    )
