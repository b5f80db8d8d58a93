"""Views: a tensor seen with another shape, order or extent, no data moved and no kernel run.

``reshape`` / ``flatten`` (same elements, new shape), ``permute`` (dims reordered), ``slice`` (a
range of one dim: ``x[:, 16:32]``, ``chunk``, ``split``, ``select``), ``expand`` (size-1 dims
stretched by broadcasting, as ``Tensor.expand``) and ``view`` (any other strided view:
``as_strided``, ``unfold``, ``diagonal``). Every count is 0 and no kernel is launched: the output
aliases the input's memory. A materialized permutation (``.contiguous()`` after a permute, a
transpose that is copied) is a ``copy`` op (:mod:`roofline.ops.tensor`): it reads and writes its
elements.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field, model_validator

from roofline.kinds import OpCategory
from roofline.ops.base import Counts, Op, Shape, numel, register, show


class _View(Op):
    category = OpCategory.TENSOR_MANIPULATION
    launches_per_copy: ClassVar[int] = 0
    aliases_input: ClassVar[bool] = True
    shape: tuple[int, ...] = Field(min_length=1, description="per-sample input shape")

    def counts(self, batch: Any) -> Counts:
        return Counts()

    @property
    def out_shape(self) -> Shape:  # pragma: no cover - every view defines it
        raise NotImplementedError


def _dim(d: int, rank: int, what: str = "dim") -> int:
    if not -rank <= d < rank:
        raise ValueError(f"{what}={d} is out of range for {rank} dims")
    return d % rank


def _resolve(shape: Shape, target: Shape) -> Shape:
    """``target`` with its one -1 replaced so that it has the elements of ``shape``."""
    free = [i for i, d in enumerate(target) if d == -1]
    if len(free) > 1 or any(d < 1 and d != -1 for d in target):
        raise ValueError(f"target {show(target)}: dims must be >= 1, with at most one -1")
    known = numel(tuple(d for d in target if d != -1))
    if free:
        if numel(shape) % known:
            raise ValueError(f"cannot reshape {show(shape)} into {show(target)}")
        target = tuple(numel(shape) // known if d == -1 else d for d in target)
    if numel(target) != numel(shape):
        raise ValueError(
            f"target {show(target)} has {numel(target)} elements, the input {show(shape)} has "
            f"{numel(shape)}"
        )
    return target


@register
class Reshape(_View):
    """Same elements, new per-sample shape (``view``, ``reshape``, ``squeeze``, ``unsqueeze``)."""

    kind: Literal["reshape"] = "reshape"
    target: tuple[int, ...] = Field(
        min_length=1, description="per-sample output shape; one dim may be -1 (inferred)"
    )

    @model_validator(mode="after")
    def _check(self) -> Reshape:
        object.__setattr__(self, "target", _resolve(self.shape, self.target))
        return self

    @property
    def out_shape(self) -> Shape:
        return self.target


@register
class Flatten(_View):
    """Dims ``start_dim`` .. ``end_dim`` of the per-sample shape merged into one
    (``torch.flatten(x, 1)`` is ``start_dim: 0`` here: the batch is not a dim)."""

    kind: Literal["flatten"] = "flatten"
    start_dim: int = Field(0, description="first per-sample dim merged (negative: from the end)")
    end_dim: int = Field(-1, description="last per-sample dim merged (negative: from the end)")

    @property
    def out_shape(self) -> Shape:
        r = len(self.shape)
        a, b = _dim(self.start_dim, r, "start_dim"), _dim(self.end_dim, r, "end_dim")
        return (*self.shape[:a], numel(self.shape[a : b + 1]), *self.shape[b + 1 :])

    @model_validator(mode="after")
    def _check(self) -> Flatten:
        r = len(self.shape)
        if _dim(self.start_dim, r, "start_dim") > _dim(self.end_dim, r, "end_dim"):
            raise ValueError(f"start_dim={self.start_dim} is after end_dim={self.end_dim}")
        return self


@register
class Permute(_View):
    """Per-sample dims reordered (``permute``, ``transpose``) without moving data."""

    kind: Literal["permute"] = "permute"
    dims: tuple[int, ...] = Field(
        description="the input dim each output dim takes (PyTorch's permute, without the batch)"
    )

    @model_validator(mode="after")
    def _check(self) -> Permute:
        if sorted(d % len(self.shape) for d in self.dims) != list(range(len(self.shape))):
            raise ValueError(
                f"dims={show(self.dims)} is not a permutation of the {len(self.shape)} dims of "
                f"{show(self.shape)}"
            )
        return self

    @property
    def out_shape(self) -> Shape:
        return tuple(self.shape[d] for d in self.dims)


@register
class Slice(_View):
    """``start:stop:step`` of per-sample dim ``dim`` (``x[:, a:b]``, ``chunk``, ``split``)."""

    kind: Literal["slice"] = "slice"
    dim: int = Field(0, description="per-sample dim sliced (negative: from the end)")
    start: int = Field(0, description="first index (negative: from the end)")
    stop: int | None = Field(None, description="index after the last (default: the end)")
    step: int = Field(1, ge=1, description="stride")

    @property
    def out_shape(self) -> Shape:
        d = _dim(self.dim, len(self.shape))
        n = len(range(*slice(self.start, self.stop, self.step).indices(self.shape[d])))
        return (*self.shape[:d], n, *self.shape[d + 1 :])

    @model_validator(mode="after")
    def _check(self) -> Slice:
        if min(self.out_shape) < 1:
            raise ValueError(f"the slice of {show(self.shape)} is empty")
        return self


@register
class Expand(_View):
    """Size-1 dims stretched by broadcasting (``Tensor.expand``); new leading dims allowed."""

    kind: Literal["expand"] = "expand"
    target: tuple[int, ...] = Field(
        min_length=1, description="per-sample output shape; -1 keeps the input's dim"
    )

    @model_validator(mode="after")
    def _check(self) -> Expand:
        lead = len(self.target) - len(self.shape)
        if lead < 0:
            raise ValueError(f"target {show(self.target)} has fewer dims than {show(self.shape)}")
        out = list(self.target)
        for i, d in enumerate(self.shape):
            t = self.target[lead + i]
            if t == -1:
                out[lead + i] = d
            elif d not in (1, t):
                raise ValueError(f"dim {i} of {show(self.shape)} is {d}: cannot expand to {t}")
        object.__setattr__(self, "target", tuple(out))
        return self

    @property
    def out_shape(self) -> Shape:
        return self.target


@register
class View(_View):
    """Any other strided view of the input (``as_strided``, ``unfold``, ``diagonal``)."""

    kind: Literal["view"] = "view"
    target: tuple[int, ...] = Field(min_length=1, description="per-sample output shape")

    @property
    def out_shape(self) -> Shape:
        return self.target
