"""Cost records: :class:`OpCost` (one op, adds with ``+``, scales with ``*``)
and :class:`CostTable` (a struct of numpy arrays over ops x batches)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import numpy as np


@dataclass(frozen=True)
class OpCost:
    """Counts of one op (all ``repeat`` copies) at one batch or an array of batches.

    FLOPs are 2 per multiply-accumulate on the matrix engine and 1 per arithmetic operation on the
    vector engine; ``flops_mac`` is 2 per multiply-accumulate of GEMMs and convolutions wherever
    they run (the figure torch's FLOP counter reports). ``*_bytes`` are bytes; ``*_elems`` are
    elements. ``weight_bytes`` is the
    footprint, ``weight_read_bytes`` the dense weights streamed per run, ``gather_rows`` the
    embedding rows read (each ``gather_row_bytes`` long, rounded up to a level's granularity when
    evaluated). ``act_in_bytes`` includes lookup indices.
    """

    flops_matrix: Any = 0.0
    flops_vector: Any = 0.0
    flops_mac: Any = 0.0
    weight_elems: Any = 0.0
    weight_bytes: Any = 0.0
    weight_read_bytes: Any = 0.0
    gather_rows: Any = 0.0
    gather_row_bytes: Any = 0.0
    act_in_elems: Any = 0.0
    act_out_elems: Any = 0.0
    act_in_bytes: Any = 0.0
    act_out_bytes: Any = 0.0
    kv_bytes: Any = 0.0
    kv_footprint_bytes: Any = 0.0

    @property
    def flops(self) -> Any:
        """Total FLOPs (matrix + vector)."""
        return self.flops_matrix + self.flops_vector

    def __add__(self, other: OpCost) -> OpCost:
        vals = {}
        for f in fields(self):
            a, b = getattr(self, f.name), getattr(other, f.name)
            # a row length is a property of one table, not a sum: keep the larger
            vals[f.name] = np.maximum(a, b) if f.name == "gather_row_bytes" else a + b
        return OpCost(**vals)

    def __mul__(self, k: float) -> OpCost:
        return OpCost(
            **{
                f.name: getattr(self, f.name)
                if f.name == "gather_row_bytes"
                else getattr(self, f.name) * k
                for f in fields(self)
            }
        )

    __rmul__ = __mul__


#: OpCost fields that are stored as [ops, B] arrays in a CostTable
BATCHED = (
    "flops_matrix",
    "flops_vector",
    "flops_mac",
    "weight_read_bytes",
    "gather_rows",
    "act_in_elems",
    "act_out_elems",
    "act_in_bytes",
    "act_out_bytes",
    "kv_bytes",
    "kv_footprint_bytes",
)
#: OpCost fields stored as [ops] arrays (batch independent)
PER_OP = ("weight_elems", "weight_bytes", "gather_row_bytes")


@dataclass(frozen=True, eq=False)
class CostTable:
    """Counts of a whole model: numpy arrays over ops (axis 0) and batches (axis 1).

    Attributes
    ----------
    model : str
    names, kinds, categories : tuple of str
        Per-op labels (execution order).
    batch : ndarray [B]
    precision : Precision
    columns : dict of str -> ndarray
        Every :data:`BATCHED` field as [ops, B] and every :data:`PER_OP` field as [ops].
        Plus ``live_act_bytes`` [ops, B] (activation bytes alive while each op runs),
        ``launches`` [ops] (kernel launches = repeat), ``is_table`` [ops] (embedding ops).
    gemm_op, gemm_m, gemm_n, gemm_k, gemm_count : ndarray
        Flattened GEMM list: owning op index [G] and dims [G, B].
    """

    model: str
    names: tuple[str, ...]
    kinds: tuple[str, ...]
    categories: tuple[str, ...]
    batch: np.ndarray
    precision: Any
    columns: dict[str, np.ndarray]
    gemm_op: np.ndarray
    gemm_m: np.ndarray
    gemm_n: np.ndarray
    gemm_k: np.ndarray
    gemm_count: np.ndarray

    def __getattr__(self, name: str) -> np.ndarray:
        cols = self.__dict__.get("columns", {})
        if name in cols:
            return cols[name]
        raise AttributeError(name)

    @property
    def n_ops(self) -> int:
        return len(self.names)

    def op_cost(self, i: int, j: int = 0) -> OpCost:
        """Return op ``i`` at batch index ``j`` as an :class:`OpCost` of floats."""
        vals = {f: float(self.columns[f][i, j]) for f in BATCHED}
        vals.update({f: float(self.columns[f][i]) for f in PER_OP})
        return OpCost(**vals)

    def total(self, j: int = 0) -> OpCost:
        """Return the sum over ops at batch index ``j``."""
        vals = {f: float(self.columns[f][:, j].sum()) for f in BATCHED}
        vals.update({f: float(self.columns[f].sum()) for f in PER_OP if f != "gather_row_bytes"})
        return OpCost(**vals)
