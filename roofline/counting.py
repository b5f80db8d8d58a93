"""Turn a :class:`~roofline.graph.Graph` into a :class:`~roofline.cost.CostTable` over batches.

Every count is affine in the batch (weights are constant; activations, FLOPs, rows and GEMM dims
grow linearly), so each op is counted once at B = 0 and B = 1 with plain Python numbers, the two
are cached on the graph, and a table for any batches is ``intercept + slope * B`` in numpy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from roofline.errors import SpecError
from roofline.graph import Graph
from roofline.ops.base import cost_from_counts
from roofline.precision import Precision
from roofline.records import BATCHED, PER_OP, CostTable

#: element-count fields of an op's affine coefficients
_ELEMS = (
    "weight",
    "weight_read",
    "gather_rows",
    "act_in",
    "act_out",
    "kv",
    "kv_footprint",
    "index",
    "vector_flops",
    "vector_mac_flops",
)


def as_batches(batch: Any) -> np.ndarray:
    """Return ``batch`` (an int or a sequence) as a 1-D float array of positive values."""
    try:
        arr = np.atleast_1d(np.asarray(batch, dtype=float))
    except (TypeError, ValueError):
        raise SpecError(
            f"batch {batch!r} is not a number or list of numbers",
            field="batch",
            fix="e.g. batch=1 or batch=[1, 64]",
        ) from None
    if arr.ndim != 1 or arr.size == 0:
        raise SpecError("batch must be a number or a list of numbers", field="batch")
    if not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        raise SpecError(
            f"batch {batch!r} must be positive and finite",
            field="batch",
            fix="use a batch size of 1 or more",
        )
    return arr


@dataclass(frozen=True, eq=False)
class Affine:
    """Per-op count coefficients: value(B) = ``a + b * B`` (elements, FLOPs, GEMM dims)."""

    a: dict[str, np.ndarray]  # field -> [O]
    b: dict[str, np.ndarray]
    row_elems: np.ndarray  # [O] embedding row length
    repeat: np.ndarray  # [O]
    gemm_op: np.ndarray  # [G]
    gemm_a: np.ndarray  # [G, 4] (m, n, k, count) at B = 0
    gemm_b: np.ndarray  # [G, 4] slope


_DIMS = ("m", "n", "k", "count")


def affine(graph: Graph) -> Affine:
    """Per-op count coefficients of ``graph``: value(B) = a + b * B, cached on the graph.

    One evaluation at B = 1 suffices for an op whose GEMMs name their batched dim
    (:class:`~roofline.ops.base.Gemm`): its element counts other than weights are proportional to
    the batch and its weights constant (the tests hold this to the reference counting). Any other
    op is evaluated at B = 0 and B = 1.
    """
    cached = graph.__dict__.get("_affine")
    if cached is not None:
        return cached
    ops = graph.ops
    c1s = [op.counts(1.0) for op in ops]
    a: dict[str, np.ndarray] = {}
    b: dict[str, np.ndarray] = {}
    for f in _ELEMS:
        if f == "weight_read":
            vals = [c.weight if c.weight_read is None else c.weight_read for c in c1s]
        else:
            vals = [getattr(c, f) for c in c1s]
        v = np.array(vals, dtype=float)
        if f in ("weight", "weight_read"):
            a[f], b[f] = v, np.zeros_like(v)
        else:
            a[f], b[f] = np.zeros_like(v), v
    g_op: list[int] = []
    g_a: list[list[float]] = []
    g_b: list[list[float]] = []
    for i, c in enumerate(c1s):
        declared = all(g.batched in _DIMS for g in c.gemms)
        if declared:
            for g in c.gemms:
                dims = [float(g.m), float(g.n), float(g.k), float(g.count)]
                slope = [0.0, 0.0, 0.0, 0.0]
                j = _DIMS.index(g.batched)
                slope[j], dims[j] = dims[j], 0.0
                g_op.append(i)
                g_a.append(dims)
                g_b.append(slope)
            continue
        c0 = ops[i].counts(0.0)  # an op that does not declare its batched dims
        for f in _ELEMS:
            v0 = getattr(c0, f)
            if f == "weight_read" and v0 is None:
                v0 = c0.weight
            v1 = a[f][i] + b[f][i]
            a[f][i], b[f][i] = float(v0), v1 - float(v0)
        for g0, g1 in zip(c0.gemms, c.gemms):
            d0 = [float(g0.m), float(g0.n), float(g0.k), float(g0.count)]
            d1 = [float(g1.m), float(g1.n), float(g1.k), float(g1.count)]
            g_op.append(i)
            g_a.append(d0)
            g_b.append([y - x for x, y in zip(d0, d1)])
    out = Affine(
        a,
        b,
        np.array([c.gather_row_elems for c in c1s], dtype=float),
        np.array([op.repeat for op in ops], dtype=float),
        np.array(g_op, dtype=np.intp),
        np.array(g_a, dtype=float).reshape(-1, 4),
        np.array(g_b, dtype=float).reshape(-1, 4),
    )
    object.__setattr__(graph, "_affine", out)
    return out


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
    bt = as_batches(batch)
    af = affine(graph)
    r = af.repeat[:, None]

    def at(f: str) -> np.ndarray:
        return r * (af.a[f][:, None] + af.b[f][:, None] * bt[None, :])

    wb, ab = prec.bytes_per("weight"), prec.bytes_per("act_in")
    kvb, ib = prec.bytes_per("kv"), prec.bytes_per("index")
    dims = af.gemm_a[:, :, None] + af.gemm_b[:, :, None] * bt[None, None, :]  # [G, 4, B]
    count = dims[:, 3] * af.repeat[af.gemm_op][:, None]
    gflops = 2.0 * dims[:, 0] * dims[:, 1] * dims[:, 2] * count
    matrix = np.zeros((len(graph.nodes), bt.size))
    np.add.at(matrix, af.gemm_op, gflops)
    vec_mac = at("vector_mac_flops")
    act_in, act_out = at("act_in"), at("act_out")
    # repeated ops hold one weight copy each, unless they share one (decoder steps)
    copies = np.array([1.0 if op.shared_weights else op.repeat for op in graph.ops])
    weight = copies * af.a["weight"]
    is_table = np.array([op.category == "embedding" for op in graph.ops])
    columns = {
        "flops_matrix": matrix,
        "flops_vector": at("vector_flops"),
        "flops_mac": matrix + vec_mac,
        "weight_read_bytes": at("weight_read") * wb,
        "gather_rows": at("gather_rows"),
        "act_in_elems": act_in,
        "act_out_elems": act_out,
        "act_in_bytes": act_in * ab + at("index") * ib,
        "act_out_bytes": act_out * ab,
        "kv_bytes": at("kv") * kvb,
        "kv_footprint_bytes": at("kv_footprint") * kvb,
        "weight_elems": weight,
        "weight_bytes": weight * wb,
        "gather_row_bytes": af.row_elems * wb,
        "live_act_bytes": graph.live_elements()[:, None] * bt[None, :] * ab,
        # side-by-side copies are one kernel (a table-batched embedding, as FBGEMM's TBE)
        "launches": np.array([1.0 if op.side_by_side else op.repeat for op in graph.ops]),
        "is_table": is_table,
    }
    ops = graph.ops
    table = CostTable(
        model=graph.name,
        names=tuple(op.name for op in ops),
        kinds=tuple(op.kind for op in ops),
        categories=tuple(op.category for op in ops),
        batch=bt,
        precision=prec,
        columns=columns,
        gemm_op=af.gemm_op,
        gemm_m=dims[:, 0],
        gemm_n=dims[:, 1],
        gemm_k=dims[:, 2],
        gemm_count=count,
    )
    return fuse_table(table, graph) if fuse else table


def count_graph_reference(graph: Graph, batch: Any, precision: Any = "fp32") -> CostTable:
    """The straightforward per-op counting through :func:`~roofline.ops.base.derive_cost`.

    Slow, kept as the oracle that :func:`count_graph`'s affine fast path must equal.
    """
    prec = Precision.of(precision)
    b = as_batches(batch)
    cols: dict[str, list] = {f: [] for f in (*BATCHED, *PER_OP)}
    g_op: list[int] = []
    g_dims: list[tuple] = []
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
    columns["live_act_bytes"] = (
        graph.live_elements()[:, None] * b[None, :] * prec.bytes_per("act_in")
    )
    columns["launches"] = np.array(
        [1 if op.side_by_side else op.repeat for op in graph.ops], dtype=float
    )
    columns["is_table"] = np.array([op.category == "embedding" for op in graph.ops])
    dims = np.array(g_dims, dtype=float).reshape(-1, 4, b.size)
    return CostTable(
        graph.name,
        tuple(op.name for op in graph.ops),
        tuple(op.kind for op in graph.ops),
        tuple(op.category for op in graph.ops),
        b,
        prec,
        columns,
        np.array(g_op, dtype=np.intp),
        dims[:, 0],
        dims[:, 1],
        dims[:, 2],
        dims[:, 3],
    )


def fuse_table(ct: CostTable, graph: Graph) -> CostTable:
    """Merge the rows of ``ct`` into the fused kernels of :func:`~roofline.fusion.fusion_groups`."""
    from roofline.fusion import fusion_groups

    groups = graph.__dict__.get("_groups")
    if groups is None:
        groups = fusion_groups(graph)
        object.__setattr__(graph, "_groups", groups)
    if len(groups) == ct.n_ops:
        return ct
    owner = np.empty(ct.n_ops, dtype=np.intp)
    for g, members in enumerate(groups):
        owner[members] = g
    first = np.array([m[0] for m in groups])
    last = np.array([m[-1] for m in groups])
    cols = {}
    for f, col in ct.columns.items():
        if f in ("act_out_elems", "act_out_bytes"):
            cols[f] = col[last]
        elif f in ("live_act_bytes", "gather_row_bytes"):
            cols[f] = np.maximum.reduceat(col, first, axis=0)
        elif f in ("launches", "is_table"):
            cols[f] = col[first]
        else:
            cols[f] = np.add.reduceat(col, first, axis=0)
    # an input produced inside the group never leaves the engine
    inner = graph.__dict__.get("_inner")
    if inner is None:
        sizes = graph.tensor_sizes()
        inner = np.zeros(len(groups))
        for g, members in enumerate(groups):
            inner[g] = sum(
                sizes[graph.nodes[p].output] * graph.nodes[p].op.repeat for p in members[:-1]
            )
        object.__setattr__(graph, "_inner", inner)
    ab = ct.precision.bytes_per("act_in")
    cols["act_in_elems"] = cols["act_in_elems"] - inner[:, None] * ct.batch
    cols["act_in_bytes"] = cols["act_in_bytes"] - inner[:, None] * ct.batch * ab
    names = tuple(ct.names[i] for i in first)
    kinds = tuple(ct.kinds[i] for i in first)
    cats = tuple(ct.categories[i] for i in first)
    return CostTable(
        ct.model,
        names,
        kinds,
        cats,
        ct.batch,
        ct.precision,
        cols,
        owner[ct.gemm_op],
        ct.gemm_m,
        ct.gemm_n,
        ct.gemm_k,
        ct.gemm_count,
    )
