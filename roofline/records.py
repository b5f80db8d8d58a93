"""Cost records: :class:`OpCost` (one op, adds with ``+``, scales with ``*``)
and :class:`CostTable` (a struct of numpy arrays over ops x batches)."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

import numpy as np

from roofline.precision import Precision


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


#: the count table's per-op columns (shape [ops]) besides the :data:`BATCHED` ones
PER_OP_EXTRA = ("launches", "is_table")


@dataclass(frozen=True, eq=False)
class CostTable:
    """Counts of a whole model: numpy arrays over ops (axis 0) and batches (axis 1).

    Labels are per op, in execution order. Every array is read-only once built.

    Attributes
    ----------
    model : str
    names, kinds, categories : tuple of str
        Op name, op kind and :class:`~roofline.kinds.OpCategory` value of each op.
    batch : ndarray [B]
        Samples per run.
    precision : Precision
        The dtypes the bytes were counted in.
    flops_matrix, flops_vector, flops_mac : ndarray [O, B]
        FLOPs on the matrix engine, on the vector engine, and 2 x multiply-accumulates of every GEMM
        and convolution wherever it runs (the figure torch's FLOP counter reports).
    weight_read_bytes : ndarray [O, B]
        Dense weight bytes streamed per run when weights are not resident.
    gather_rows : ndarray [O, B]
        Random row reads (embedding lookups); each is ``gather_row_bytes`` long.
    act_in_elems, act_out_elems, act_in_bytes, act_out_bytes : ndarray [O, B]
        Activations read and written (``act_in_bytes`` includes lookup indices).
    kv_bytes, kv_footprint_bytes : ndarray [O, B]
        KV-cache bytes moved per run and held.
    live_act_bytes : ndarray [O, B]
        Activation bytes alive while each op runs.
    weight_elems, weight_bytes : ndarray [O]
        Parameter footprint (elements, bytes).
    gather_row_bytes : ndarray [O]
        Bytes of one looked-up row (0 for ops without lookups).
    launches : ndarray [O]
        Kernel launches of each op.
    is_table : ndarray of bool [O]
        Embedding ops (their weights are tables placed by capacity).
    gemm_op : ndarray of int [G]
        Owning op of each GEMM.
    gemm_m, gemm_n, gemm_k, gemm_count : ndarray [G, B]
        GEMM dimensions and independent products (``repeat`` included in the count).
    """

    model: str
    names: tuple[str, ...]
    kinds: tuple[str, ...]
    categories: tuple[str, ...]
    batch: np.ndarray
    precision: Precision
    flops_matrix: np.ndarray
    flops_vector: np.ndarray
    flops_mac: np.ndarray
    weight_read_bytes: np.ndarray
    gather_rows: np.ndarray
    act_in_elems: np.ndarray
    act_out_elems: np.ndarray
    act_in_bytes: np.ndarray
    act_out_bytes: np.ndarray
    kv_bytes: np.ndarray
    kv_footprint_bytes: np.ndarray
    live_act_bytes: np.ndarray
    weight_elems: np.ndarray
    weight_bytes: np.ndarray
    gather_row_bytes: np.ndarray
    launches: np.ndarray
    is_table: np.ndarray
    gemm_op: np.ndarray
    gemm_m: np.ndarray
    gemm_n: np.ndarray
    gemm_k: np.ndarray
    gemm_count: np.ndarray

    def __post_init__(self) -> None:
        values = self.__dict__  # a frozen dataclass: its fields set in place, as __init__ does
        for name in _ARRAY_FIELDS:
            value = values[name]
            if isinstance(value, np.ndarray) and value.flags.writeable:
                value = value.view()
                value.flags.writeable = False
                values[name] = value

    @property
    def n_ops(self) -> int:
        """Number of ops (rows)."""
        return len(self.names)

    @property
    def columns(self) -> dict[str, np.ndarray]:
        """The count columns by name: every :data:`BATCHED` field [O, B], every :data:`PER_OP`
        field [O], ``live_act_bytes`` [O, B], ``launches`` and ``is_table`` [O]."""
        names = (*BATCHED, *PER_OP, "live_act_bytes", *PER_OP_EXTRA)
        return {n: getattr(self, n) for n in names}

    def with_columns(self, **changes: np.ndarray) -> CostTable:
        """A copy with some count columns replaced (labels and GEMMs kept)."""
        unknown = set(changes) - set(self.columns)
        if unknown:
            raise TypeError(f"not count columns: {sorted(unknown)}")
        return replace(self, **changes)  # type: ignore[arg-type]


#: the labels of a :class:`CostTable`'s ops (tuples of text)
LABEL_FIELDS = ("model", "names", "kinds", "categories")
#: the fields of a :class:`CostTable` that hold arrays (made read-only views when it is built)
_ARRAY_FIELDS = tuple(f.name for f in fields(CostTable) if f.name not in LABEL_FIELDS)

#: the fields of a :class:`CostTable` with no column axis (labels aside): what two tables of the
#: same model's ops share whatever their columns
PER_OP_FIELDS = (*PER_OP, *PER_OP_EXTRA, "gemm_op")
#: the fields of a :class:`CostTable` whose last axis is its columns (each [rows, C])
_COLUMN_FIELDS = (*BATCHED, "live_act_bytes", "gemm_m", "gemm_n", "gemm_k", "gemm_count")


def join_columns(a: CostTable, b: CostTable) -> CostTable | None:
    """One table of the columns of ``a`` then those of ``b``, or None when they are not the
    same ops (labels, precision, per-op counts or GEMMs differ)."""
    fields = (*LABEL_FIELDS, "precision", *PER_OP_FIELDS)
    if not same_ops({f: getattr(a, f) for f in fields}, {f: getattr(b, f) for f in fields}):
        return None
    batch = np.concatenate([a.batch, b.batch])
    batch.flags.writeable = False
    xs = [getattr(a, f) for f in _COLUMN_FIELDS]
    ys = [getattr(b, f) for f in _COLUMN_FIELDS]
    if len({x.dtype for x in xs} | {y.dtype for y in ys}) > 1:  # each field keeps its own type
        pairs = zip(_COLUMN_FIELDS, xs, ys)
        columns = {f: np.concatenate([x, y], axis=-1) for f, x, y in pairs}
        return replace(a, batch=batch, **columns)  # type: ignore[arg-type]
    # every field's rows one under another, a's columns then b's: two copies for all the fields
    rows = np.empty((sum(len(x) for x in xs), batch.size), xs[0].dtype)
    np.concatenate(xs, out=rows[:, : a.batch.size])
    np.concatenate(ys, out=rows[:, a.batch.size :])
    rows.flags.writeable = False  # before the fields are sliced: they are read-only too
    columns, start = {}, 0
    for f, x in zip(_COLUMN_FIELDS, xs):
        columns[f] = rows[start : start + len(x)]
        start += len(x)
    return replace(a, batch=batch, **columns)  # type: ignore[arg-type]


def same_ops(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Whether two tables' fields that do not depend on their columns (labels, precision,
    per-op counts, GEMM owners: ``a`` and ``b`` by name) are the same ops: arrays bit for bit
    (:func:`same_bits`), the rest equal."""
    for f, x in a.items():
        y = b[f]
        if not (same_bits(x, y) if isinstance(x, np.ndarray) else x == y):
            return False
    return True


def same_bits(x: np.ndarray, y: np.ndarray) -> bool:
    """Whether two arrays hold the very same values (bit for bit, so -0.0 is not 0.0): the same
    array, or the same dtype, shape and bytes."""
    return x is y or (x.dtype == y.dtype and x.shape == y.shape and x.tobytes() == y.tobytes())
