"""A decoder phase's count table as a linear map of the monomials of its (batch, length) points.

Every count of a fitted phase (:class:`~roofline.serving.context_counts.PhaseCounts`) is
``repeat x (a(L) + b(L) x B)`` times bytes per element, with ``a`` and ``b`` polynomials of degree
``D`` in the length ``L`` (1 for decode, 2 for prefill), and a fused kernel sums, or takes from
its last op, such counts. So each count column of each op is a fixed linear combination of the
monomials ``1, L, .., L^D, B, B L, .., B L^D``: a :class:`CountMap` holds those coefficients,
worked out once per phase, precision and fusion, and a table at any points is one matrix product
with the monomials. Three things are not linear and are evaluated from linear parts: a GEMM's
FLOPs (``2 m n k count``, each dimension linear), a fused kernel's live activations (the largest
of its ops') and, through them, ``flops_mac`` (the GEMM FLOPs plus a linear vector part).

Two phases of the same ops (one graph's prefill and decode) join into one map over both phases'
monomials (:meth:`CountMap.beside`): the table of the prefill's points and the decode's, side by
side, is still one product, with each phase's monomials zero in the other phase's columns.

The counts are the ones :func:`~roofline.counting.assemble` gives, summed in another order: equal
to the bit where every count is an integer below 2^53 (whole batches), else within rounding.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from roofline.fusion import FROM_LAST, SUMMED, fusion_groups, group_reduce
from roofline.gemms import gemm_flops, sum_gemms
from roofline.graph import Graph
from roofline.precision import Precision
from roofline.records import LABEL_FIELDS, PER_OP_FIELDS, CostTable, same_ops

#: the count columns of a table that have a column axis [O, C], in the order of a map's stack:
#: those a fused kernel sums over its ops, those it takes from its last op, then its largest
STACK = (*SUMMED, *FROM_LAST, "live_act_bytes")
MATRIX, MAC, LIVE = STACK.index("flops_matrix"), STACK.index("flops_mac"), len(STACK) - 1
#: the fields of a table that do not depend on its columns
PER_OP = (*LABEL_FIELDS, *PER_OP_FIELDS)


def powers(x: np.ndarray, degree: int) -> np.ndarray:
    """[degree + 1, len(x)] rows 1, x, x^2, ..."""
    out = np.empty((degree + 1, x.size))
    for k in range(degree + 1):
        out[k] = x**k
    return out


def monomials(points: tuple[tuple[np.ndarray, np.ndarray], ...], degrees: tuple[int, ...]) -> Any:
    """The basis [K, C] of a map whose blocks have ``degrees``: for each block's (batch [n],
    length [n]) points, rows ``1, L, .., L^D, B, B L, .., B L^D`` over its own columns (zero in
    the other blocks'), the blocks' columns one after another."""
    k = sum(2 * (d + 1) for d in degrees)
    out = np.zeros((k, sum(b.size for b, _ in points)))
    row = col = 0
    for (batch, length), d in zip(points, degrees):
        cols = slice(col, col + batch.size)
        out[row : row + d + 1, cols] = of_length = powers(length, d)
        np.multiply(of_length, batch, out=out[row + d + 1 : row + 2 * d + 2, cols])
        row, col = row + 2 * (d + 1), col + batch.size
    return out


#: the most multiply-adds (rows x monomials x columns) of one BLAS product here: OpenBLAS runs a
#: product up to ``SMP_THRESHOLD_MIN x GEMM_MULTITHREAD_THRESHOLD`` = 65536 x 4 on one thread;
#: above it starts its threads, which for these products cost more than they save and keep a
#: second core spinning
ONE_THREAD_PRODUCT = 65536 * 4


def _product(coef: np.ndarray, basis: np.ndarray) -> np.ndarray:
    """``coef @ basis`` [R, C], in blocks of columns small enough for BLAS to run on one thread
    (:data:`ONE_THREAD_PRODUCT`; numpy's own loop, ``np.einsum``, takes twice as long). Exact
    where the counts are integers below 2^53, as any order of their sums is."""
    rows, k = coef.shape
    step = max(1, ONE_THREAD_PRODUCT // max(rows * k, 1))
    if basis.shape[1] <= step:
        return coef @ basis
    out = np.empty((rows, basis.shape[1]))
    for start in range(0, basis.shape[1], step):
        np.matmul(coef, basis[:, start : start + step], out=out[:, start : start + step])
    return out


def _same_fusion(a: Graph | None, b: Graph | None) -> bool:
    """Whether two maps' fused kernels group their ops alike (both unfused: None)."""
    if a is None or b is None:
        return a is b
    return a is b or fusion_groups(a) == fusion_groups(b)


@dataclass(frozen=True, eq=False)
class CountMap:
    """The coefficients of a count table over the monomials of its points (module docstring).

    Attributes
    ----------
    degrees : tuple of int
        The length's polynomial degree of each block of columns (one block per phase).
    linear : ndarray [R, K]
        Coefficients of the stack rows that are not zero everywhere (K = the blocks' monomials).
    linear_to : ndarray of int [R]
        Each one's row in the stack [len(STACK) x O] (flattened).
    live : ndarray [O_live, K] or None
        Coefficients of the unfused ops' live activation bytes, where the table is fused (its ops'
        largest, grouped by ``graph``'s fusion); None: ``live_act_bytes`` is linear, in ``linear``.
    graph : Graph or None
        The unfused graph whose fused kernels group the live rows (None: not fused).
    gemm : ndarray [4 x G, K]
        Coefficients of the GEMM dimensions m, n, k and count (``repeat`` included).
    per_op : dict
        The table's fields that do not depend on its columns (labels, weights, launches, GEMM
        owners).
    """

    degrees: tuple[int, ...]
    linear: np.ndarray
    linear_to: np.ndarray
    live: np.ndarray | None
    graph: Graph | None
    gemm: np.ndarray
    precision: Precision
    per_op: dict[str, Any]
    n_ops: int

    @classmethod
    def of(
        cls,
        degrees: tuple[int, ...],
        stack: np.ndarray,
        live: np.ndarray | None,
        graph: Graph | None,
        gemm: np.ndarray,
        precision: Precision,
        per_op: dict[str, Any],
    ) -> CountMap:
        """The map of dense coefficients: ``stack`` [len(STACK), O, K] (zero rows included),
        ``live`` (unfused, where the table is fused) and ``gemm`` [4 x G, K] (each GEMM's op is
        ``per_op["gemm_op"]``)."""
        flat = stack.reshape(-1, stack.shape[-1])
        rows = np.flatnonzero((flat != 0.0).any(axis=1))
        linear, gemm = np.ascontiguousarray(flat[rows]), np.ascontiguousarray(gemm)
        for a in (linear, rows, gemm, live):
            if a is not None:
                a.flags.writeable = False
        return cls(
            degrees=degrees,
            linear=linear,
            linear_to=rows,
            live=live,
            graph=graph,
            gemm=gemm,
            precision=precision,
            per_op=per_op,
            n_ops=stack.shape[1],
        )

    def _dense(self) -> np.ndarray:
        """The stack's coefficients [len(STACK), O, K], zero rows included."""
        out = np.zeros((len(STACK) * self.n_ops, self.linear.shape[1]))
        out[self.linear_to] = self.linear
        return out.reshape(len(STACK), self.n_ops, -1)

    def beside(self, other: CountMap) -> CountMap | None:
        """One map of this map's columns then ``other``'s (its blocks after these), or None
        when the two are not the same ops (labels, precision, per-op counts, GEMMs or fusion
        differ)."""
        if self.precision != other.precision or not _same_fusion(self.graph, other.graph):
            return None
        if (self.live is None) != (other.live is None) or self.gemm.shape[0] != other.gemm.shape[0]:
            return None
        if not same_ops(self.per_op, other.per_op):
            return None

        def side(x: np.ndarray, y: np.ndarray) -> np.ndarray:
            return np.concatenate([x, y], axis=-1)

        live = None
        if self.live is not None and other.live is not None:
            live = side(self.live, other.live)
        return CountMap.of(
            self.degrees + other.degrees,
            side(self._dense(), other._dense()),
            live,
            self.graph,
            side(self.gemm, other.gemm),
            self.precision,
            self.per_op,
        )

    def table(self, *points: tuple[np.ndarray, np.ndarray]) -> CostTable:
        """The count table at (batch [n], length [n]) points, one pair per block, the blocks'
        columns one after another."""
        basis = monomials(points, self.degrees)
        size = basis.shape[1]
        batch = np.concatenate([b for b, _ in points]) if len(points) > 1 else points[0][0]
        stack = np.zeros((len(STACK), self.n_ops, size))
        stack.reshape(-1, size)[self.linear_to] = _product(self.linear, basis)
        dims = _product(self.gemm, basis).reshape(4, -1, size)
        # the map's GEMM ops have no linear matrix FLOPs: their rows are the GEMMs' sums
        matrix = sum_gemms(self.per_op["gemm_op"], gemm_flops(*dims), stack[MATRIX])
        stack[MAC] += matrix
        if self.live is not None:
            assert self.graph is not None
            stack[LIVE] = group_reduce(self.graph, _product(self.live, basis), np.maximum)
        stack.flags.writeable = False
        dims.flags.writeable = False
        return CostTable(
            batch=batch,
            precision=self.precision,
            gemm_m=dims[0],
            gemm_n=dims[1],
            gemm_k=dims[2],
            gemm_count=dims[3],
            **self.per_op,
            **dict(zip(STACK, stack)),
        )
