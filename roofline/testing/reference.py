"""The op-by-op reference counter: what :func:`roofline.counting.count_graph` must equal.

Every op is counted at the requested batches directly (``op.counts(batch)`` with the batch array,
bytes by :func:`~roofline.ops.base.derive_cost`), with no affine shortcut and no caching. It is
slow and plainly right; the tests hold the fast counter to it for every model and every op kind.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from roofline.counting import as_batches
from roofline.graph import Graph
from roofline.kinds import OpCategory, TensorClass
from roofline.liveness import live_elements
from roofline.ops.base import cost_from_counts
from roofline.precision import Precision
from roofline.records import BATCHED, PER_OP, CostTable


def count_graph_reference(graph: Graph, batch: Any, precision: Any = "fp32") -> CostTable:
    """Counts of every op of ``graph`` at each batch, op by op (unfused)."""
    prec = Precision.of(precision)
    b = as_batches(batch)
    cols: dict[str, list[Any]] = {f: [] for f in (*BATCHED, *PER_OP)}
    g_op: list[int] = []
    g_dims: list[tuple[np.ndarray, ...]] = []
    for i, op in enumerate(graph.ops):
        counts = op.counts(b)
        cost = cost_from_counts(op, counts, b, prec)
        for f in BATCHED:
            cols[f].append(np.broadcast_to(getattr(cost, f), b.shape))
        for f in PER_OP:
            cols[f].append(float(getattr(cost, f)))
        for g in counts.gemms:
            g_op.append(i)
            g_dims.append(
                tuple(
                    np.broadcast_to(np.asarray(d, float), b.shape)
                    for d in (g.m, g.n, g.k, g.count * op.repeat)
                )
            )
    columns = {f: np.array(cols[f], dtype=float) for f in (*BATCHED, *PER_OP)}
    dims = np.array(g_dims, dtype=float).reshape(-1, 4, b.size)
    return CostTable(
        model=graph.name,
        names=tuple(op.name for op in graph.ops),
        kinds=tuple(op.kind for op in graph.ops),
        categories=tuple(str(op.category) for op in graph.ops),
        batch=b,
        precision=prec,
        live_act_bytes=live_elements(graph)[:, None]
        * b[None, :]
        * prec.bytes_per(TensorClass.ACT_IN),
        launches=np.array([float(op.launches) for op in graph.ops]),
        is_table=np.array([op.category == OpCategory.EMBEDDING for op in graph.ops]),
        gemm_op=np.array(g_op, dtype=np.intp),
        gemm_m=dims[:, 0],
        gemm_n=dims[:, 1],
        gemm_k=dims[:, 2],
        gemm_count=dims[:, 3],
        **columns,
    )
