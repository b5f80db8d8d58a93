"""Op base class, the operator registry, and ``derive_cost``: the ONE place bytes are computed.

An op is a frozen pydantic model holding its shape as PyTorch names it. It reports, per sample
batch ``B`` (an int or a numpy array; every formula is array-transparent):

* ``counts(B)`` -> :class:`Counts`: element counts by tensor class, vector FLOPs, and the GEMMs
  it runs on the matrix engine (matrix FLOPs are derived from the GEMMs: 2*M*N*K*count);
* ``out_shape``: the per-sample shape of its output tensor (for graph wiring and liveness).

Op authors never write a byte formula: :func:`derive_cost` multiplies elements by the bytes per
element of the tensor class's dtype (:class:`~roofline.precision.Precision`) and applies ``repeat``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from roofline.kinds import OpCategory
from roofline.precision import Precision, byte_columns
from roofline.records import OpCost

Shape = tuple[int, ...]

#: kind -> Op subclass; filled by :func:`register`
REGISTRY: dict[str, type[Op]] = {}


@dataclass(slots=True)
class Gemm:
    """One batched GEMM: ``count`` independent (M x K) @ (K x N) products (2*M*N*K*count FLOPs).

    ``batched`` names the one dim that grows with the batch (``"m"``: samples stacked as rows;
    ``"count"``: one product per sample); the others are constant. Counting uses it to get a
    graph's batch dependence from a single evaluation; leave it empty to make counting evaluate
    the op at two batch sizes instead.
    """

    m: Any
    n: Any
    k: Any
    count: Any = 1
    batched: str = ""

    @property
    def flops(self) -> Any:
        return 2.0 * self.m * self.n * self.k * self.count


@dataclass(slots=True)
class Counts:
    """Element counts of one op at batch ``B`` (one instance, before ``repeat``).

    Attributes
    ----------
    weight : float
        Parameter elements held (footprint; a whole embedding table).
    weight_read : float or array
        Weight elements streamed per run when weights are not resident (dense weights: = weight;
        embeddings: 0, their traffic is ``gather_rows`` rows of ``gather_row_elems``).
    gather_rows, gather_row_elems
        Random row reads (embedding lookups) and elements per row.
    act_in, act_out : array
        Activation elements read and written.
    kv, kv_footprint : array
        KV-cache elements moved (read + appended) and held.
    index : array
        Lookup index elements read (stored in the ``index`` dtype).
    vector_flops : array
        FLOPs on the vector engine (elementwise, reductions, depthwise conv, pooling).
    vector_mac_flops : array
        The part of ``vector_flops`` that is multiply-accumulate work (depthwise convolution),
        counted with the GEMM FLOPs in ``flops_mac`` (what torch's FLOP counter counts).
    gemms : tuple of Gemm
        Work on the matrix engine.
    """

    weight: Any = 0.0
    weight_read: Any = None
    gather_rows: Any = 0.0
    gather_row_elems: Any = 0.0
    act_in: Any = 0.0
    act_out: Any = 0.0
    kv: Any = 0.0
    kv_footprint: Any = 0.0
    index: Any = 0.0
    vector_flops: Any = 0.0
    vector_mac_flops: Any = 0.0
    gemms: tuple[Gemm, ...] = field(default_factory=tuple)


class Op(BaseModel):
    """Base class of every operator.

    Subclasses set ``kind`` (a ``Literal`` field), ``category`` (the breakdown group of the paper's
    operator time figure: fc, conv, embedding, tensor_manipulation, ...), and implement
    :meth:`counts` and :attr:`out_shape`. Class attributes say how the op behaves in a graph:

    * ``side_by_side``: what ``repeat`` means. ``False``, copies run one after another (layers);
      ``True``, they run side by side as one kernel (a group of identical embedding tables: every
      output is alive at once, one launch).
    * ``epilogue``: the op can run in the epilogue of the op that produces its input (batch norm
      folded, activations and residual adds fused: :mod:`roofline.fusion`).
    * ``affine_in_batch``: every count is ``a + b * batch`` (the counter's fast path,
      :mod:`roofline.counting`); an op whose counts are not (experts touched by a batch of
      tokens) sets it False and is counted exactly at every batch.

    :meth:`bind` fills the fields that describe the op's input shape from the tensors it reads.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    category: ClassVar[OpCategory] = OpCategory.OTHER
    side_by_side: ClassVar[bool] = False
    epilogue: ClassVar[bool] = False
    affine_in_batch: ClassVar[bool] = True
    kind: str
    name: str = Field(description="unique op name within its graph")
    repeat: int = Field(1, ge=1, description="sequential identical copies")
    shared_weights: bool = Field(
        False,
        description="the repeat copies reuse one set of weights (decoder steps): the footprint "
        "counts once, weight traffic once per copy",
    )

    def counts(self, batch: Any) -> Counts:  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def out_shape(self) -> Shape:  # pragma: no cover - abstract
        raise NotImplementedError

    @classmethod
    def bind(cls, shapes: list[Shape], fields: dict[str, Any]) -> dict[str, Any]:
        """Return ``fields`` with the input-shape fields filled from the input tensors' per-sample
        ``shapes`` where not given (by default ``shape``, for ops that have that field)."""
        out = dict(fields)
        if "shape" in cls.model_fields and shapes:
            out.setdefault("shape", shapes[0])
        return out

    @property
    def launches(self) -> int:
        """Kernel launches of the op: one per sequential copy, one for side-by-side copies."""
        return 1 if self.side_by_side else self.repeat

    @property
    def params(self) -> float:
        """Parameter elements of one instance (the weight footprint)."""
        return float(self.counts(1).weight)

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Op:
        """A validated copy: ops cache shape-derived values, which a plain copy would keep stale."""
        return type(self).model_validate({**self.model_dump(), **(update or {})})


def register(cls: type[Op]) -> type[Op]:
    """Class decorator: add an Op subclass to :data:`REGISTRY` under its ``kind``."""
    kind = cls.model_fields["kind"].default
    if not isinstance(kind, str) or kind in REGISTRY:
        raise TypeError(f"op class {cls.__name__} needs a unique default kind, got {kind!r}")
    REGISTRY[kind] = cls
    return cls


def numel(shape: Shape) -> int:
    """Product of a shape's dimensions (1 for a scalar)."""
    out = 1
    for d in shape:
        out *= int(d)
    return out


def derive_cost(op: Op, batch: Any, precision: Precision) -> OpCost:
    """Return the cost of ``op`` (``repeat`` copies) at ``batch`` samples in ``precision``.

    Bytes = elements x bytes per element of the tensor class's dtype. Weight *footprint* is not
    multiplied by batch; weight *traffic* and activations are per run. The footprint counts
    ``repeat`` copies unless ``shared_weights`` (then one: a decoder step run ``repeat`` times).
    """
    return cost_from_counts(op, op.counts(batch), batch, Precision.of(precision))


def cost_from_counts(op: Op, c: Counts, batch: Any, precision: Precision) -> OpCost:
    """Return the :class:`OpCost` of ``op`` given its already computed ``counts`` at ``batch``."""
    zeros = np.zeros_like(np.asarray(batch, dtype=float))
    r = float(op.repeat)
    matrix = sum((g.flops for g in c.gemms), zeros)
    elements = {
        "weight": (1.0 if op.shared_weights else r) * c.weight,
        "weight_read": r * ((c.weight if c.weight_read is None else c.weight_read) + zeros),
        "row": float(c.gather_row_elems),
        "act_in": r * (c.act_in + zeros),
        "index": r * (c.index + zeros),
        "act_out": r * (c.act_out + zeros),
        "kv": r * (c.kv + zeros),
        "kv_footprint": r * (c.kv_footprint + zeros),
    }
    nbytes = byte_columns(elements, precision)
    return OpCost(
        flops_matrix=r * (matrix + zeros),
        flops_vector=r * (c.vector_flops + zeros),
        flops_mac=r * (matrix + c.vector_mac_flops + zeros),
        weight_elems=elements["weight"],
        weight_bytes=nbytes["weight"],
        weight_read_bytes=nbytes["weight_read"],
        gather_rows=r * (c.gather_rows + zeros),
        gather_row_bytes=nbytes["row"],
        act_in_elems=elements["act_in"],
        act_out_elems=elements["act_out"],
        act_in_bytes=nbytes["act_in"],
        act_out_bytes=nbytes["act_out"],
        kv_bytes=nbytes["kv"],
        kv_footprint_bytes=nbytes["kv_footprint"],
    )
