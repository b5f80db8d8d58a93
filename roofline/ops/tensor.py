"""Tensor manipulation: data movement with no arithmetic (the paper's third-ranked op group).

* channel shuffle, transpose/permute, copy, concat, split, pad, nearest upsampling: 0 FLOPs;
  activations in = elements read, out = elements written
* gather (``index``, ``index_select``, ``gather``, ``take``): reads only the elements it
  gathers (= its output) plus the index elements (in the ``index`` dtype); 0 FLOPs
* bilinear upsampling: ``BILINEAR_FLOPS`` = 7 per output element (4 weights: 4 multiplies and 3
  adds), reading the input once
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from roofline.kinds import OpCategory
from roofline.ops.base import Counts, Op, Shape, bind_field, numel, register, show

BILINEAR_FLOPS = 7


class _Move(Op):
    category = OpCategory.TENSOR_MANIPULATION
    shape: tuple[int, ...] = Field(min_length=1, description="per-sample tensor shape")

    def counts(self, batch: Any) -> Counts:
        n = batch * numel(self.shape)
        return Counts(act_in=n, act_out=n)

    @property
    def out_shape(self) -> Shape:
        return self.shape


@register
class ChannelShuffle(_Move):
    """ShuffleNet's channel shuffle: reshape (g, C/g) -> transpose -> flatten over dim 0."""

    kind: Literal["channel_shuffle"] = "channel_shuffle"
    groups: int = Field(ge=1)

    @model_validator(mode="after")
    def _check(self) -> ChannelShuffle:
        if self.shape[0] % self.groups:
            raise ValueError(f"groups={self.groups} must divide channels={self.shape[0]}")
        return self


@register
class Transpose(_Move):
    """A materialized permutation of ``shape`` (contiguous copy)."""

    kind: Literal["transpose"] = "transpose"


@register
class Copy(_Move):
    """A materialized copy of ``shape`` (``contiguous`` after a permute, ``clone``, ``roll``, a
    dtype conversion)."""

    kind: Literal["copy"] = "copy"


@register
class Split(_Move):
    """Split ``shape`` into ``sections`` parts (one output tensor standing for all parts)."""

    kind: Literal["split"] = "split"
    sections: int = Field(2, ge=1)


@register
class Concat(Op):
    """Concatenate tensors of ``input_shapes`` along ``dim`` (of the per-sample shape)."""

    category = OpCategory.TENSOR_MANIPULATION
    kind: Literal["concat"] = "concat"
    input_shapes: tuple[tuple[int, ...], ...] = Field(min_length=1)
    dim: int = 0

    @classmethod
    def bind(cls, shapes: list[Shape], fields: dict[str, Any]) -> dict[str, Any]:
        """The shapes of every input."""
        out = dict(fields)
        bind_field(out, "input_shapes", tuple(tuple(s) for s in shapes))
        return out

    @model_validator(mode="after")
    def _check(self) -> Concat:
        first = self.input_shapes[0]
        nd = len(first)
        if not -nd <= self.dim < nd:
            raise ValueError(f"dim={self.dim} is out of range for shape {first}")
        d = self.dim % nd
        for s in self.input_shapes:
            if len(s) != nd or any(a != b for i, (a, b) in enumerate(zip(s, first)) if i != d):
                raise ValueError(f"shapes {self.input_shapes} differ outside dim {self.dim}")
        return self

    def counts(self, batch: Any) -> Counts:
        n = batch * sum(numel(s) for s in self.input_shapes)
        return Counts(act_in=n, act_out=n)

    @property
    def out_shape(self) -> Shape:
        first = self.input_shapes[0]
        d = self.dim % len(first)
        total = sum(s[d] for s in self.input_shapes)
        return (*first[:d], total, *first[d + 1 :])


@register
class Interpolate(Op):
    """Upsampling by integer ``scale_factor`` over the spatial dims of (C, *spatial)."""

    category = OpCategory.TENSOR_MANIPULATION
    kind: Literal["interpolate"] = "interpolate"
    shape: tuple[int, ...] = Field(min_length=2)
    scale_factor: int = Field(2, ge=1)
    mode: Literal["nearest", "bilinear"] = "nearest"

    @property
    def out_shape(self) -> Shape:
        return (self.shape[0], *(s * self.scale_factor for s in self.shape[1:]))

    def counts(self, batch: Any) -> Counts:
        out = batch * numel(self.out_shape)
        flops = BILINEAR_FLOPS * out if self.mode == "bilinear" else 0.0 * out
        return Counts(act_in=batch * numel(self.shape), act_out=out, vector_flops=flops)


@register
class Pad(Op):
    """Constant padding (``F.pad``): a copy of ``shape`` into a larger tensor."""

    category = OpCategory.TENSOR_MANIPULATION
    kind: Literal["pad"] = "pad"
    shape: tuple[int, ...] = Field(min_length=1, description="per-sample input shape")
    padding: tuple[int, ...] = Field(
        description="elements added before and after each dim, last dim first, as F.pad's pad"
    )

    @model_validator(mode="after")
    def _check(self) -> Pad:
        if len(self.padding) % 2 or len(self.padding) > 2 * len(self.shape):
            raise ValueError(
                f"padding {show(self.padding)} must hold (before, after) pairs for at most "
                f"{len(self.shape)} dims"
            )
        if min(self.out_shape) < 1:
            raise ValueError(f"padding {show(self.padding)} leaves an empty tensor")
        return self

    @property
    def out_shape(self) -> Shape:
        out = list(self.shape)
        for i in range(len(self.padding) // 2):
            out[-1 - i] += self.padding[2 * i] + self.padding[2 * i + 1]
        return tuple(out)

    def counts(self, batch: Any) -> Counts:
        return Counts(act_in=batch * numel(self.shape), act_out=batch * numel(self.out_shape))


@register
class Gather(Op):
    """Elements of ``shape`` picked by an index (``x[idx]``, ``index_select``, ``gather``)."""

    category = OpCategory.TENSOR_MANIPULATION
    kind: Literal["gather"] = "gather"
    shape: tuple[int, ...] = Field(min_length=1, description="per-sample shape gathered from")
    output_shape: tuple[int, ...] = Field(min_length=1, description="per-sample output shape")
    index_elements: int | None = Field(
        None, ge=0, description="index elements read per sample (default: one per output element)"
    )

    @property
    def out_shape(self) -> Shape:
        return self.output_shape

    def counts(self, batch: Any) -> Counts:
        n = numel(self.output_shape)
        idx = n if self.index_elements is None else self.index_elements
        return Counts(act_in=batch * n, act_out=batch * n, index=batch * idx)
