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

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from roofline.errors import SpecError
from roofline.field_checks import Name, check_fields
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
    * ``launches_per_copy``: kernel launches of one copy: 1, or 0 for an op that runs no kernel
      (a view, which moves no data; a parameter held in memory).
    * ``aliases_input``: the output is a view of the input's memory (no tensor of its own).
    * ``reads_inputs``: False for an op that reads no tensor (a parameter, a constant).

    Two fields apply to every op (left out of dumps at their defaults):

    * ``tied_to``: the op reads weights that another op holds (tied weights: a language model's
      output projection reusing the token embedding). Its weight footprint is 0 (counted once, at
      that op); its weight traffic is unchanged.
    * ``per_run``: the op computes on parameters and constants only (Swin v2's position-bias MLP),
      once per run whatever the batch: every count is its batch-1 value at any batch.

    Both are applied by :meth:`counts` around each subclass's own ``counts`` (wrapped when the
    subclass is defined), so op authors never handle them.

    :meth:`bind` fills the fields that describe the op's input shape from the tensors it reads,
    and checks the ones given against them.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    category: ClassVar[OpCategory] = OpCategory.OTHER
    side_by_side: ClassVar[bool] = False
    epilogue: ClassVar[bool] = False
    affine_in_batch: ClassVar[bool] = True
    launches_per_copy: ClassVar[int] = 1
    aliases_input: ClassVar[bool] = False
    reads_inputs: ClassVar[bool] = True
    kind: str
    name: Name = Field(description="unique op name within its graph")
    repeat: int = Field(1, ge=1, description="sequential identical copies")
    shared_weights: bool = Field(
        False,
        description="the repeat copies reuse one set of weights (decoder steps): the footprint "
        "counts once, weight traffic once per copy",
    )
    tied_to: str | None = Field(
        None,
        exclude_if=lambda v: v is None,
        description="name of the op that holds this op's weights (tied weights): the footprint "
        "counts there, once; this op still reads them",
    )
    per_run: bool = Field(
        False,
        exclude_if=lambda v: not v,
        description="the op computes on parameters and constants only, once per run: its counts "
        "do not grow with the batch",
    )

    @property
    def weight_copies(self) -> int:
        """Copies of its weights the op holds: one per repeat, or one for all of them when the
        copies share their weights (``shared_weights``: a decoder step run ``repeat`` times)."""
        return 1 if self.shared_weights else self.repeat

    @model_validator(mode="before")
    @classmethod
    def _plain_values(cls, data: Any) -> Any:
        """No boolean as a number, no ``"yes"`` as a boolean, nothing beyond 2**53."""
        check_fields(cls, data, limit=True)
        return data

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        own = cls.__dict__.get("counts")
        if own is not None and not getattr(own, "_applies_shared_fields", False):
            cls.counts = _apply_shared_fields(own)  # type: ignore[method-assign,assignment]

    def counts(self, batch: Any) -> Counts:  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def out_shape(self) -> Shape:  # pragma: no cover - abstract
        raise NotImplementedError

    @classmethod
    def bind(cls, shapes: list[Shape], fields: dict[str, Any]) -> dict[str, Any]:
        """Return ``fields`` with the input-shape fields filled from the input tensors' per-sample
        ``shapes`` where not given (by default ``shape``, for ops that have that field).

        Raises
        ------
        SpecError
            A given input-shape field disagrees with the input (``field`` names it).
        """
        out = dict(fields)
        if "shape" in cls.model_fields and shapes:
            bind_field(out, "shape", tuple(shapes[0]))
        return out

    @property
    def sequential_copies(self) -> int:
        """Copies that run one after another: ``repeat`` (layers), or 1 for side-by-side copies
        (one kernel, one tensor)."""
        return 1 if self.side_by_side else self.repeat

    @property
    def concurrent_copies(self) -> int:
        """Copies alive at once: ``repeat`` for side-by-side copies (every output at once), else
        1 (sequential copies run one at a time)."""
        return self.repeat if self.side_by_side else 1

    @property
    def launches(self) -> int:
        """Kernel launches of the op: ``launches_per_copy`` (0 for a view or a parameter) per
        sequential copy, once for side-by-side copies."""
        return self.launches_per_copy * self.sequential_copies

    @property
    def params(self) -> float:
        """Parameter elements of one instance (the weight footprint)."""
        return float(self.counts(1).weight)

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Op:
        """A validated copy: ops cache shape-derived values, which a plain copy would keep stale."""
        return type(self).model_validate({**self.model_dump(), **(update or {})})


def _apply_shared_fields(counts: Callable[[Any, Any], Counts]) -> Callable[[Any, Any], Counts]:
    """Wrap an op class's ``counts`` so that ``per_run`` and ``tied_to`` hold for every op."""

    @functools.wraps(counts)
    def wrapped(self: Op, batch: Any) -> Counts:
        if not (self.per_run or self.tied_to):
            return counts(self, batch)
        if not self.per_run:
            c = counts(self, batch)
        else:
            zero: Any = 0.0 * np.asarray(batch, dtype=float)
            if zero.ndim == 0:
                zero = float(zero)
            c = counts(self, 1.0)
            c = replace(
                c,
                **{f: getattr(c, f) + zero for f in BATCHED_COUNTS},
                # the batch does not scale any dim: counting evaluates such GEMMs at two batches
                gemms=tuple(Gemm(g.m, g.n, g.k, g.count + zero, "") for g in c.gemms),
            )
        if self.tied_to:
            read = c.weight if c.weight_read is None else c.weight_read
            c = replace(c, weight=0.0, weight_read=read)
        return c

    wrapped._applies_shared_fields = True  # type: ignore[attr-defined]
    return wrapped


#: Counts fields that grow with the batch (weights and row lengths do not)
BATCHED_COUNTS = (
    "gather_rows",
    "act_in",
    "act_out",
    "kv",
    "kv_footprint",
    "index",
    "vector_flops",
    "vector_mac_flops",
)


def register(cls: type[Op]) -> type[Op]:
    """Class decorator: add an Op subclass to :data:`REGISTRY` under its ``kind``."""
    kind = cls.model_fields["kind"].default
    if not isinstance(kind, str) or kind in REGISTRY:
        raise TypeError(f"op class {cls.__name__} needs a unique default kind, got {kind!r}")
    REGISTRY[kind] = cls
    return cls


def _plain(value: Any) -> Any:
    """``value`` with tuples as lists (for comparing and printing YAML-like values)."""
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    return value


def show(value: Any) -> str:
    """Return a value as a spec file writes it (``[512, 7, 7]``, ``64``)."""
    return str(_plain(value))


def bind_field(fields: dict[str, Any], key: str, value: Any) -> None:
    """Set ``fields[key] = value`` (a value taken from the input) unless given; check it if given.

    Raises
    ------
    SpecError
        ``fields[key]`` is given and differs from ``value``; ``field`` is ``key``.
    """
    given = fields.get(key)
    if given is None:
        fields[key] = value
    elif _plain(given) != _plain(value):
        raise SpecError(
            f"{key}={show(given)} does not match the input, which gives {key}={show(value)}",
            field=key,
            fix=f"write {key}: {show(value)}, or leave {key} out: it is taken from the input",
        )


def rank_error(shape: Shape, wanted: str) -> SpecError:
    """Return the SpecError for an input whose shape has the wrong number of dims."""
    return SpecError(
        f"the input has shape {show(shape)}, not {wanted}",
        fix="reshape the input first (a reshape or flatten op), or read another tensor",
    )


def broadcast_shapes(*shapes: Shape) -> Shape | None:
    """Return the numpy broadcast of ``shapes`` (dims aligned from the last), or None when they
    do not broadcast."""
    rank = max((len(s) for s in shapes), default=0)
    out = [1] * rank
    for s in shapes:
        for i, d in enumerate((1,) * (rank - len(s)) + tuple(s)):
            if d != out[i] and out[i] != 1 and d != 1:
                return None
            out[i] = d if d != 1 else out[i]
    return tuple(out)


def numel(shape: Shape) -> int:
    """Product of a shape's dimensions (1 for a scalar)."""
    out = 1
    for d in shape:
        out *= int(d)
    return out


def check_spatial(
    like: str, sizes: Mapping[str, tuple[int, ...]], least: Mapping[str, int]
) -> None:
    """A ValueError unless every entry of ``sizes`` (a windowed op's per-dimension fields: kernel,
    stride, padding...) has one value per spatial dimension of ``sizes[like]``, and each value of
    a field named in ``least`` is at least its bound."""
    nd = len(sizes[like])
    for key, val in sizes.items():
        if len(val) != nd:
            raise ValueError(
                f"{key}={list(val)} needs {nd} entries like {like} "
                "(one per spatial dim, or one number for all)"
            )
    for key, bound in least.items():
        if min(sizes[key]) < bound:
            raise ValueError(
                f"{key}={list(sizes[key])} has an entry below {bound} "
                f"(every {key} entry is >= {bound})"
            )


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
        "weight": float(op.weight_copies) * c.weight,
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
