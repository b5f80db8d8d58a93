"""Turn a :class:`~roofline.graph.Graph` into a :class:`~roofline.records.CostTable` over batches.

Most counts are affine in the batch B (weights are constant; activations, FLOPs, rows and GEMM
dims grow linearly, plus any batch-independent term). Each op is evaluated at B = 0, 1 and 2 with
plain Python numbers; B = 0 and 1 give its intercept and slope, B = 2 checks that it really is
affine. The coefficients are cached on the graph, and a table for any batches is
``intercept + slope * B`` in numpy. An op that is not affine in batch (a mixture-of-experts layer:
the experts a batch of tokens touches is concave in B) says so with ``affine_in_batch = False``,
or is found out by the B = 2 check, and is counted exactly at every batch instead.
:func:`roofline.testing.reference.count_graph_reference` is the op-by-op reference this must equal.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from roofline.errors import SpecError
from roofline.fusion import fuse_table
from roofline.gemms import gemm_flops, sum_gemms
from roofline.graph import Graph
from roofline.kinds import OpCategory
from roofline.liveness import live_elements
from roofline.ops.base import BATCHED_COUNTS, Counts, Op
from roofline.precision import Precision, byte_columns, per_element
from roofline.records import CostTable
from roofline.units import MAX_EXACT

#: element-count fields of an op's counts (``weight_read`` None means "= weight")
ELEMENT_FIELDS = ("weight", "weight_read", *BATCHED_COUNTS)
#: batch sizes each op is evaluated at: intercept (0), slope (1 - 0), curvature check (2)
PROBES = (0.0, 1.0, 2.0)
#: relative tolerance of the curvature check (float rounding of large counts)
AFFINE_RTOL = 1e-9


def as_batches(batch: Any) -> np.ndarray:
    """Return ``batch`` (an int or a sequence) as a 1-D float array of positive values."""
    if isinstance(batch, (bool, np.bool_)) or (
        isinstance(batch, Sequence) and any(isinstance(b, (bool, np.bool_)) for b in batch)
    ):
        raise SpecError(
            f"batch {batch!r} is a boolean, not a batch size", field="batch", fix="e.g. batch=1"
        )
    items = batch if isinstance(batch, Sequence) and not isinstance(batch, str) else [batch]
    if any(isinstance(b, int) and abs(b) > MAX_EXACT for b in items):
        raise _beyond_exact(max(abs(b) for b in items if isinstance(b, int)))
    try:
        arr = np.atleast_1d(np.asarray(batch))
        if arr.dtype.kind not in "iuf":
            raise TypeError
        arr = arr.astype(float)
    except (TypeError, ValueError, OverflowError):
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
    if np.any(arr > MAX_EXACT):
        raise _beyond_exact(arr.max())
    return arr


def _beyond_exact(largest: Any) -> SpecError:
    """The error for a batch size past 2**53 (``largest``: the biggest one given)."""
    return SpecError(
        f"batch {largest:.6g} is beyond 2**53 = {MAX_EXACT:.4g} samples",
        field="batch",
        fix="use a batch size of at most 2**53",
    )


def _element(c: Counts, f: str) -> float:
    value = c.weight if f == "weight_read" and c.weight_read is None else getattr(c, f)
    return float(value)


def _gemm_dims(c: Counts) -> list[list[float]]:
    return [[float(g.m), float(g.n), float(g.k), float(g.count)] for g in c.gemms]


def _curved(v: np.ndarray) -> np.ndarray:
    """Whether the values at three equally spaced probes (axis 1 of ``v`` [N, 3, K]) are not on
    a line (within float rounding): one flag per row."""
    with np.errstate(all="ignore"):
        scale = np.maximum(np.abs(v).max(axis=1), 1.0)
        return (np.abs(v[:, 2] - 2.0 * v[:, 1] + v[:, 0]) > AFFINE_RTOL * scale).any(axis=1)


@dataclass(frozen=True, eq=False)
class Coefficients:
    """Per-op count coefficients of a graph: value(B) = ``a + b * B`` for affine ops.

    Attributes
    ----------
    a, b : dict of field -> ndarray [O]
        Intercept and slope of every :data:`ELEMENT_FIELDS` entry (zero for exact ops).
    row_elems, repeat, weight : ndarray [O]
        Embedding row length (elements), sequential copies, parameter elements of one copy.
    exact : ndarray of bool [O]
        Ops counted exactly at every batch (not affine in batch).
    gemm_op : ndarray of int [G]
        Owning op of each GEMM of the affine ops.
    gemm_a, gemm_b : ndarray [G, 4]
        Intercept and slope of (m, n, k, count).
    """

    a: dict[str, np.ndarray]
    b: dict[str, np.ndarray]
    row_elems: np.ndarray
    repeat: np.ndarray
    weight: np.ndarray
    exact: np.ndarray
    gemm_op: np.ndarray
    gemm_a: np.ndarray
    gemm_b: np.ndarray


def coefficients(graph: Graph) -> Coefficients:
    """The count coefficients of ``graph`` (computed once per graph)."""
    return graph.derived("count_coefficients", _coefficients)


def _coefficients(graph: Graph) -> Coefficients:
    ops = graph.ops
    n = len(ops)
    a: dict[str, np.ndarray] = {}
    b: dict[str, np.ndarray] = {}
    weight = np.zeros(n)
    row = np.zeros(n)
    g_op: list[int] = []
    g_a: list[list[float]] = []
    g_b: list[list[float]] = []
    values = np.zeros((n, len(PROBES), len(ELEMENT_FIELDS)))
    dims: list[list[np.ndarray]] = []
    for i, op in enumerate(ops):
        probes = [op.counts(p) for p in PROBES]
        weight[i] = float(probes[1].weight)
        row[i] = float(probes[1].gather_row_elems)
        values[i] = [[_element(c, f) for f in ELEMENT_FIELDS] for c in probes]
        dims.append([np.array(_gemm_dims(c)).reshape(-1, 4) for c in probes])
    same_gemms = np.array([d[0].shape == d[1].shape == d[2].shape for d in dims], dtype=bool)
    curved_gemms = np.zeros(n, dtype=bool)
    with_gemms = [i for i in range(n) if same_gemms[i] and len(dims[i][0])]
    if with_gemms:
        stacked = np.concatenate([np.stack(dims[i], axis=1) for i in with_gemms])  # [G, 3, 4]
        owner = np.repeat(with_gemms, [len(dims[i][0]) for i in with_gemms])
        np.logical_or.at(curved_gemms, owner, _curved(stacked))
    affine = np.array([op.affine_in_batch for op in ops], dtype=bool)
    exact = ~affine | ~same_gemms | _curved(values) | curved_gemms
    with np.errstate(all="ignore"):  # exact ops may hold anything: their coefficients are zero
        for k, f in enumerate(ELEMENT_FIELDS):
            a[f] = np.where(exact, 0.0, values[:, 0, k])
            b[f] = np.where(exact, 0.0, values[:, 1, k] - values[:, 0, k])
    for j in np.flatnonzero(~exact).tolist():
        for d0, d1 in zip(dims[j][0], dims[j][1]):
            g_op.append(j)
            g_a.append(list(d0))
            g_b.append(list(d1 - d0))
    return Coefficients(
        a=a,
        b=b,
        row_elems=row,
        repeat=np.array([op.repeat for op in ops], dtype=float),
        weight=weight,
        exact=exact,
        gemm_op=np.array(g_op, dtype=np.intp),
        gemm_a=np.array(g_a, dtype=float).reshape(-1, 4),
        gemm_b=np.array(g_b, dtype=float).reshape(-1, 4),
    )


def check_countable(graph: Graph) -> None:
    """SpecError naming the first op whose counts are not finite (sizes beyond float64).

    Computes the graph's count coefficients once (cached for counting) and checks them at once.
    """
    try:
        co = coefficients(graph)
    except (OverflowError, TypeError, ValueError):
        bad = next((i for i, n in enumerate(graph.nodes) if not _counts_finite(n.op)), 0)
    else:
        per_op = np.ones(len(graph.nodes), dtype=bool)
        with np.errstate(all="ignore"):
            for col in (*co.a.values(), *co.b.values(), co.row_elems, co.repeat, co.weight):
                per_op &= np.isfinite(col)
            sizes = np.array([float(v) for v in graph.tensor_sizes().values()])
            gem = np.isfinite(co.gemm_a).all(axis=1) & np.isfinite(co.gemm_b).all(axis=1)
            gem &= np.isfinite(2.0 * np.prod(co.gemm_a + co.gemm_b, axis=1))
        np.logical_and.at(per_op, co.gemm_op, gem)
        for i in np.flatnonzero(co.exact):
            per_op[i] &= _counts_finite(graph.ops[i])
        if per_op.all() and np.isfinite(sizes).all():
            return
        bad = int(np.flatnonzero(~per_op)[0]) if not per_op.all() else 0
    raise SpecError(
        "sizes too large to count (beyond float range)",
        field=f"ops.{graph.nodes[bad].op.name}",
        fix="check the op's sizes and repeat",
    )


def _counts_finite(op: Op) -> bool:
    """Whether one op counts to finite floats at batch 1 (to name the culprit)."""
    try:
        c = op.counts(1.0)
        values = [_element(c, f) for f in ELEMENT_FIELDS] + [float(op.repeat)]
        values += [float(g.flops) for g in c.gemms]
        return all(math.isfinite(v) for v in values)
    except (OverflowError, TypeError, ValueError):
        return False


def _exact_rows(
    graph: Graph, co: Coefficients, bt: np.ndarray, elems: dict[str, np.ndarray]
) -> tuple[list[int], list[np.ndarray]]:
    """Count the exact ops at every batch into ``elems`` (in place, ``repeat`` applied); return
    their GEMMs as (owning op, dims [4, B] with ``count`` not yet multiplied by ``repeat``)."""
    g_op: list[int] = []
    g_dims: list[np.ndarray] = []
    for i in np.flatnonzero(co.exact):
        c = graph.ops[i].counts(bt)
        r = co.repeat[i]
        for f in ELEMENT_FIELDS:
            if f != "weight":
                value = c.weight if f == "weight_read" and c.weight_read is None else getattr(c, f)
                elems[f][i] = r * np.broadcast_to(np.asarray(value, dtype=float), bt.shape)
        for g in c.gemms:
            g_op.append(int(i))
            g_dims.append(np.array([np.broadcast_to(np.asarray(d, float), bt.shape)
                                    for d in (g.m, g.n, g.k, g.count)]))  # fmt: skip
    return g_op, g_dims


@dataclass(frozen=True, eq=False)
class Elements:
    """Element counts of every op of a graph over columns (batches, or any points), before bytes.

    Attributes
    ----------
    batch : ndarray [P]
        Samples in each column.
    fields : dict of field -> ndarray [O, P]
        Every :data:`ELEMENT_FIELDS` entry, ``repeat`` applied.
    weight : ndarray [O]
        Parameter elements held (copies that share weights count once).
    row_elems : ndarray [O]
        Elements of one looked-up embedding row.
    live : ndarray [O, P]
        Activation elements alive while each op runs.
    gemm_op : ndarray of int [G]
        Owning op of each GEMM.
    gemm_dims : ndarray [G, 4, P]
        (m, n, k, count) of each GEMM, ``count`` including ``repeat``.
    """

    batch: np.ndarray
    fields: dict[str, np.ndarray]
    weight: np.ndarray
    row_elems: np.ndarray
    live: np.ndarray
    gemm_op: np.ndarray
    gemm_dims: np.ndarray


def count_elements(graph: Graph, batch: np.ndarray) -> Elements:
    """The :class:`Elements` of ``graph`` at each batch of ``batch`` [B] (validated batches)."""
    co = coefficients(graph)
    r = co.repeat[:, None]
    elems = {f: r * (co.a[f][:, None] + co.b[f][:, None] * batch[None, :]) for f in ELEMENT_FIELDS}
    dims = co.gemm_a[:, :, None] + co.gemm_b[:, :, None] * batch[None, None, :]  # [G, 4, B]
    gemm_op = co.gemm_op
    if co.exact.any():
        extra_op, extra_dims = _exact_rows(graph, co, batch, elems)
        if extra_op:
            gemm_op = np.concatenate([gemm_op, np.array(extra_op, dtype=np.intp)])
            dims = np.concatenate([dims, np.stack(extra_dims)])
            order = np.argsort(gemm_op, kind="stable")  # GEMMs in op order, as the reference
            gemm_op, dims = gemm_op[order], dims[order]
    dims[:, 3] *= co.repeat[gemm_op][:, None]
    return Elements(
        batch=batch,
        fields=elems,
        weight=weight_copies(graph) * co.weight,
        row_elems=co.row_elems,
        live=live_elements(graph)[:, None] * batch[None, :],
        gemm_op=gemm_op,
        gemm_dims=dims,
    )


def weight_copies(graph: Graph) -> np.ndarray:
    """Weight copies each op holds [O] (cached on the graph): one per repeat, unless the copies
    share one (decoder steps)."""
    return graph.derived("weight_copies", _weight_copies)


def _weight_copies(graph: Graph) -> np.ndarray:
    copies = np.array([float(op.weight_copies) for op in graph.ops])
    copies.flags.writeable = False
    return copies


@dataclass(frozen=True, eq=False)
class _Labels:
    """What a count table takes from its graph whatever the batch (read-only arrays)."""

    names: tuple[str, ...]
    kinds: tuple[str, ...]
    categories: tuple[str, ...]
    launches: np.ndarray
    is_table: np.ndarray


def _labels(graph: Graph) -> _Labels:
    ops = graph.ops
    launches = np.array([float(op.launches) for op in ops])
    is_table = np.array([op.category == OpCategory.EMBEDDING for op in ops])
    launches.flags.writeable = False
    is_table.flags.writeable = False
    return _Labels(
        names=tuple(op.name for op in ops),
        kinds=tuple(op.kind for op in ops),
        categories=tuple(str(op.category) for op in ops),
        launches=launches,
        is_table=is_table,
    )


#: the count columns of a table with a column axis, but the GEMM FLOPs, and the element
#: quantities of :class:`Elements` each is made of (``live``: the live activations), each with the
#: :func:`~roofline.precision.byte_columns` key that turns it into bytes (None: the elements
#: themselves); the first is the column, any later one added to it (lookup indices are read with
#: an op's inputs). ``flops_mac`` is the GEMM FLOPs plus ``vector_mac_flops``.
COLUMN_SOURCES: dict[str, tuple[tuple[str, str | None], ...]] = {
    "flops_vector": (("vector_flops", None),),
    "weight_read_bytes": (("weight_read", "weight_read"),),
    "gather_rows": (("gather_rows", None),),
    "act_in_elems": (("act_in", None),),
    "act_in_bytes": (("act_in", "act_in"), ("index", "index")),
    "kv_bytes": (("kv", "kv"),),
    "kv_footprint_bytes": (("kv_footprint", "kv_footprint"),),
    "act_out_elems": (("act_out", None),),
    "act_out_bytes": (("act_out", "act_out"),),
    "live_act_bytes": (("live", "live"),),
}


def assemble(graph: Graph, el: Elements, precision: Precision) -> CostTable:
    """The (unfused) :class:`CostTable` of ``graph``'s ops from their :class:`Elements`: GEMM
    FLOPs summed per op, elements turned into bytes in ``precision``."""
    ops = graph.ops
    dims = el.gemm_dims
    flops = gemm_flops(dims[:, 0], dims[:, 1], dims[:, 2], dims[:, 3])
    matrix = sum_gemms(el.gemm_op, flops, np.zeros((len(ops), el.batch.size)))
    f = el.fields
    quantities = {**f, "live": el.live}
    per = per_element(precision)
    columns: dict[str, np.ndarray] = {}
    for name, sources in COLUMN_SOURCES.items():
        for k, (q, key) in enumerate(sources):
            part = quantities[q] if key is None else quantities[q] * per[key]
            columns[name] = columns[name] + part if k else part
    nbytes = byte_columns({"weight": el.weight, "row": el.row_elems}, precision)
    labels = graph.derived("count_labels", _labels)
    return CostTable(
        model=graph.name,
        names=labels.names,
        kinds=labels.kinds,
        categories=labels.categories,
        batch=el.batch,
        precision=precision,
        flops_matrix=matrix,
        flops_mac=matrix + f["vector_mac_flops"],
        **columns,
        weight_elems=el.weight,
        weight_bytes=nbytes["weight"],
        gather_row_bytes=nbytes["row"],
        launches=labels.launches,
        is_table=labels.is_table,
        gemm_op=el.gemm_op,
        gemm_m=dims[:, 0],
        gemm_n=dims[:, 1],
        gemm_k=dims[:, 2],
        gemm_count=dims[:, 3],
    )


def count_graph(
    graph: Graph, batch: Any, precision: str | Precision = "fp32", fuse: bool = False
) -> CostTable:
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
    batches = as_batches(batch)
    prec = Precision.of(precision)
    with np.errstate(all="ignore"):  # checked below: a count beyond range names its op
        table = assemble(graph, count_elements(graph, batches), prec)
    check_counts(table)
    return fuse_table(table, graph) if fuse else table


#: the largest count (FLOPs, bytes or elements of one op at one batch) a run may have: far past
#: any real workload (1e60), and far enough below float range that every time, sum and energy
#: derived from it stays finite
MAX_COUNT = 1e60


def check_counts(table: CostTable) -> None:
    """A :class:`SpecError` naming the first op whose counts are not finite or beyond
    :data:`MAX_COUNT` (sizes multiplied past any machine), at the first such batch."""
    bad = np.zeros((table.n_ops, table.batch.size), dtype=bool)
    with np.errstate(all="ignore"):
        for col in table.columns.values():
            if col.dtype.kind != "f":
                continue
            out = ~np.isfinite(col) | (np.abs(col) > MAX_COUNT)
            bad |= out if out.ndim == 2 else out[:, None]
    if not bad.any():
        return
    i, j = (int(x[0]) for x in np.nonzero(bad))
    raise SpecError(
        f"op {table.names[i]!r} counts beyond {MAX_COUNT:.0e} at batch {table.batch[j]:.6g} "
        "(FLOPs, bytes or elements past any machine)",
        field=f"ops.{table.names[i]}",
        fix="check the op's sizes, its repeat and the batch",
    )
