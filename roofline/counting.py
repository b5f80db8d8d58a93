"""Turn a :class:`~roofline.graph.Graph` into a :class:`~roofline.cost.CostTable` over batches."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .cost import BATCHED, PER_OP, CostTable
from .errors import SpecError
from .graph import Graph
from .ops.base import cost_from_counts
from .precision import Precision


def as_batches(batch: Any) -> np.ndarray:
    """Return ``batch`` (an int or a sequence) as a 1-D float array of positive values."""
    arr = np.atleast_1d(np.asarray(batch, dtype=float))
    if arr.ndim != 1 or arr.size == 0:
        raise SpecError("batch must be a number or a list of numbers", field="batch")
    if not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        raise SpecError(f"batch {batch!r} must be positive and finite", field="batch",
                        fix="use a batch size of 1 or more")  # fmt: skip
    return arr


def count_graph(graph: Graph, batch: Any, precision: Any = "fp32", fuse: bool = False) -> CostTable:
    """Return the counts of every op of ``graph`` at each batch size, in ``precision``.

    Parameters
    ----------
    graph : Graph
    batch : int or sequence of int
        Samples per run (images, requests, sequences x beams as the model defines a sample).
    precision : str or Precision
        ``"fp16"``, ``"int8"``, ``"w4a16"`` or a :class:`Precision`.
    fuse : bool
        Merge pointwise epilogues into their producers (:mod:`roofline.fusion`); rows are then
        fused kernels named after their first op.
    """
    prec = Precision.of(precision)
    b = as_batches(batch)
    ops = graph.ops
    cols: dict[str, list] = {f: [] for f in (*BATCHED, *PER_OP)}
    g_op: list[int] = []
    g_dims: list[tuple[Any, Any, Any, Any]] = []
    for i, op in enumerate(ops):
        counts = op.counts(b)
        cost = cost_from_counts(op, counts, b, prec)
        for f in BATCHED:
            cols[f].append(np.broadcast_to(getattr(cost, f), b.shape))
        for f in PER_OP:
            cols[f].append(float(getattr(cost, f)))
        for g in counts.gemms:
            g_op.append(i)
            g_dims.append((g.m, g.n, g.k, g.count * op.repeat))
    columns = {f: np.array(cols[f], dtype=float) for f in (*BATCHED, *PER_OP)}
    live = graph.live_elements()
    columns["live_act_bytes"] = live[:, None] * b[None, :] * prec.bytes_per("act_in")
    columns["launches"] = np.array([op.repeat for op in ops], dtype=float)
    columns["is_table"] = np.array([op.category == "embedding" for op in ops])
    nb = b.size

    def stack(j: int) -> np.ndarray:
        if not g_dims:
            return np.zeros((0, nb))
        return np.array([np.broadcast_to(np.asarray(d[j], float), (nb,)) for d in g_dims])

    table = CostTable(
        model=graph.name,
        names=tuple(op.name for op in ops),
        kinds=tuple(op.kind for op in ops),
        categories=tuple(op.category for op in ops),
        batch=b,
        precision=prec,
        columns=columns,
        gemm_op=np.array(g_op, dtype=np.intp),
        gemm_m=stack(0),
        gemm_n=stack(1),
        gemm_k=stack(2),
        gemm_count=stack(3),
    )
    return fuse_table(table, graph) if fuse else table


def fuse_table(ct: CostTable, graph: Graph) -> CostTable:
    """Merge the rows of ``ct`` into the fused kernels of :func:`~roofline.fusion.fusion_groups`."""
    from .fusion import fusion_groups

    groups = fusion_groups(graph)
    if len(groups) == ct.n_ops:
        return ct
    owner = np.empty(ct.n_ops, dtype=np.intp)
    for g, members in enumerate(groups):
        owner[members] = g
    first = np.array([m[0] for m in groups])
    last = np.array([m[-1] for m in groups])
    cols = {}
    for f in ct.columns:
        col = ct.columns[f]
        if f in ("act_out_elems", "act_out_bytes"):
            cols[f] = col[last]
        elif f == "live_act_bytes":
            cols[f] = np.maximum.reduceat(col, first, axis=0)
        elif f == "launches":
            cols[f] = col[first]
        elif f == "is_table":
            cols[f] = col[first]
        elif f == "gather_row_bytes":
            cols[f] = np.maximum.reduceat(col, first)
        else:
            cols[f] = np.add.reduceat(col, first, axis=0)
    # a fused op's input that was produced inside its group never leaves the chip
    sizes = graph.tensor_sizes()
    ab = ct.precision.bytes_per("act_in")
    for members in groups:
        for prev, i in zip(members, members[1:]):
            g = owner[i]
            inner = sizes[graph.nodes[prev].output] * ct.batch
            cols["act_in_elems"][g] -= inner
            cols["act_in_bytes"][g] -= inner * ab
    names = tuple(ct.names[m[0]] for m in groups)
    kinds = tuple(ct.kinds[m[0]] for m in groups)
    cats = tuple(ct.categories[m[0]] for m in groups)
    return CostTable(ct.model, names, kinds, cats, ct.batch, ct.precision, cols,
                     owner[ct.gemm_op], ct.gemm_m, ct.gemm_n, ct.gemm_k, ct.gemm_count)  # fmt: skip


def stack_labels(tables: Sequence[CostTable]) -> tuple[str, ...]:
    """Model names of several tables (for multi-model reports)."""
    return tuple(t.model for t in tables)
