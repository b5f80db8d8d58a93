"""Elementwise and normalization ops, all on the vector engine (1 FLOP per arithmetic operation).

Per-element FLOP constants (named so every figure can be predicted):

* batch norm (inference): y = x * scale + shift -> ``BATCHNORM_FLOPS`` = 2; params = 2 * C
  (affine weight and bias; running statistics are buffers, not parameters, as PyTorch counts;
  none with ``affine: false``)
* layer norm: mean 1, subtract 1, square 1, variance sum 1, scale by rstd 1, affine 2 ->
  ``LAYERNORM_FLOPS`` = 7; params = 2 * normalized size (the last ``normalized_ndim`` dims;
  1 x without a bias).
  RMS norm: square 1, sum 1, scale 1, weight 1 -> ``RMSNORM_FLOPS`` = 4; params = normalized
  size. Group norm: as layer norm over each group, ``LAYERNORM_FLOPS``; params = 2 * C
* activations: ``ACTIVATION_FLOPS`` (relu 1, relu6 2, leaky_relu 2 = compare, multiply,
  sigmoid 4 = neg, exp, add, divide, tanh 4, hardsigmoid 4 = scale, shift, two clamps, elu 4 =
  compare, exp, subtract, multiply, silu 5 = sigmoid + multiply, hardswish 5 = hardsigmoid +
  multiply, gelu 8 = tanh approximation, softplus 3 = exp, add, log)
* elementwise over n tensor inputs and s scalar operands: n - 1 + s per output element (add,
  sub, mul, div, max, min, pow, where, compare), plus 1 for a unary function (exp, log, sqrt,
  rsqrt, neg, abs, reciprocal, erf). Inputs broadcast to the output as numpy broadcasts
  (dims aligned from the last; size-1 dims stretch; leading size-1 dims are ignored), and each
  input is read once per sample at its own size
* softmax: max 1, subtract 1, exp 1, sum 1, divide 1 -> ``SOFTMAX_FLOPS`` = 5
"""

from __future__ import annotations

from functools import cached_property
from typing import Any, Literal

from pydantic import Field, model_validator

from roofline.errors import SpecError
from roofline.kinds import OpCategory
from roofline.ops.base import (
    Counts,
    Op,
    Shape,
    bind_field,
    broadcast_shapes,
    numel,
    register,
    show,
)

BATCHNORM_FLOPS = 2
LAYERNORM_FLOPS = 7
RMSNORM_FLOPS = 4
SOFTMAX_FLOPS = 5
ACTIVATION_FLOPS = {
    "relu": 1,
    "relu6": 2,
    "leaky_relu": 2,
    "sigmoid": 4,
    "tanh": 4,
    "hardsigmoid": 4,
    "elu": 4,
    "silu": 5,
    "hardswish": 5,
    "gelu": 8,
    "softplus": 3,
}
#: unary functions of the elementwise op: one FLOP per element each
UNARY = ("exp", "log", "sqrt", "rsqrt", "neg", "abs", "reciprocal", "erf")


class _Pointwise(Op):
    """An op applied per element of a tensor of per-sample ``shape``."""

    shape: tuple[int, ...] = Field(min_length=1, description="per-sample tensor shape")

    @property
    def out_shape(self) -> Shape:
        return self.shape

    @cached_property
    def _numel(self) -> int:
        return numel(self.shape)

    def _io(self, batch: Any, flops_per_elem: float, weight: float = 0.0) -> Counts:
        n = batch * self._numel
        return Counts(weight=weight, act_in=n, act_out=n, vector_flops=flops_per_elem * n)


@register
class BatchNorm(_Pointwise):
    """Batch normalization in inference form over channel dim 0 of ``shape`` (C, ...)."""

    category = OpCategory.NORMALIZATION
    epilogue = True
    kind: Literal["batchnorm"] = "batchnorm"
    affine: bool = Field(
        True, exclude_if=lambda v: v, description="learnable scale and shift (2C params)"
    )

    def counts(self, batch: Any) -> Counts:
        return self._io(batch, BATCHNORM_FLOPS, weight=2.0 * self.shape[0] * self.affine)


@register
class LayerNorm(_Pointwise):
    """Layer normalization (or RMS norm) over the last dim of ``shape``."""

    category = OpCategory.NORMALIZATION
    kind: Literal["layernorm"] = "layernorm"
    rms: bool = False
    normalized_ndim: int = Field(
        1,
        ge=1,
        exclude_if=lambda v: v == 1,
        description="trailing dims normalized together (len of PyTorch's normalized_shape)",
    )
    affine: bool = Field(
        True, exclude_if=lambda v: v, description="learnable weight (and bias unless rms)"
    )
    bias: bool = Field(
        True,
        exclude_if=lambda v: v,
        description="a learnable bias beside the weight (PyTorch's LayerNorm(bias=False): no)",
    )

    def counts(self, batch: Any) -> Counts:
        d = numel(self.shape[-self.normalized_ndim :]) * self.affine
        if self.rms:
            return self._io(batch, RMSNORM_FLOPS, weight=float(d))
        return self._io(batch, LAYERNORM_FLOPS, weight=(1.0 + self.bias) * d)


@register
class GroupNorm(_Pointwise):
    """Group normalization (``torch.nn.GroupNorm``) of (C, ...) in ``num_groups`` groups."""

    category = OpCategory.NORMALIZATION
    kind: Literal["groupnorm"] = "groupnorm"
    num_groups: int = Field(ge=1, description="groups the channels are normalized in")
    affine: bool = Field(
        True, exclude_if=lambda v: v, description="learnable per-channel scale and shift"
    )

    @model_validator(mode="after")
    def _check(self) -> GroupNorm:
        if self.shape[0] % self.num_groups:
            raise ValueError(f"num_groups={self.num_groups} must divide channels={self.shape[0]}")
        return self

    def counts(self, batch: Any) -> Counts:
        return self._io(batch, LAYERNORM_FLOPS, weight=2.0 * self.shape[0] * self.affine)


@register
class Activation(_Pointwise):
    """Pointwise nonlinearity."""

    category = OpCategory.ELEMENTWISE
    epilogue = True
    kind: Literal["activation"] = "activation"
    function: Literal[
        "relu",
        "relu6",
        "leaky_relu",
        "sigmoid",
        "tanh",
        "hardsigmoid",
        "elu",
        "silu",
        "hardswish",
        "gelu",
        "softplus",
    ] = "relu"

    def counts(self, batch: Any) -> Counts:
        return self._io(batch, ACTIVATION_FLOPS[self.function])


def _strip(shape: Shape) -> Shape:
    """``shape`` without its leading size-1 dims (``(1, 197, 768)`` broadcasts like (197, 768))."""
    s = tuple(shape)
    while len(s) > 1 and s[0] == 1:
        s = s[1:]
    return s


@register
class Elementwise(_Pointwise):
    """Elementwise arithmetic over ``num_inputs`` tensors broadcast to ``shape`` (residual add,
    squeeze-excitation gating, scaling by a constant)."""

    category = OpCategory.ELEMENTWISE
    epilogue = True
    kind: Literal["elementwise"] = "elementwise"
    op: Literal[
        "add",
        "sub",
        "mul",
        "div",
        "max",
        "min",
        "pow",
        "where",
        "compare",
        "exp",
        "log",
        "sqrt",
        "rsqrt",
        "neg",
        "abs",
        "reciprocal",
        "erf",
    ] = "add"
    num_inputs: int = Field(2, ge=1)
    input_shapes: tuple[tuple[int, ...], ...] = Field(
        (),
        exclude_if=lambda v: not v,
        description="per-sample shape of each input when they differ from `shape` (broadcast); "
        "default: every input has `shape`",
    )
    scalars: int = Field(
        0,
        ge=0,
        exclude_if=lambda v: v == 0,
        description="constant scalar operands (x * 0.5): one FLOP per element each",
    )

    @classmethod
    def bind(cls, shapes: list[Shape], fields: dict[str, Any]) -> dict[str, Any]:
        """``num_inputs`` from how many tensors it reads, ``shape`` their broadcast, and
        ``input_shapes`` when they differ from it."""
        out = dict(fields)
        shapes = [tuple(s) for s in shapes]
        if not shapes:
            return out
        bind_field(out, "num_inputs", len(shapes))
        full = broadcast_shapes(*shapes)
        if full is None or broadcast_shapes(*(_strip(s) for s in shapes)) is None:
            raise SpecError(
                "inputs of shapes " + " and ".join(show(s) for s in shapes) + " do not broadcast",
                fix="inputs must have equal dims, or 1 where one is stretched (numpy's rule)",
            )
        given = out.get("shape")
        if given is not None and _strip(broadcast_shapes(tuple(given), full) or ()) != _strip(
            tuple(given)
        ):
            raise SpecError(
                f"shape={show(given)} does not match the inputs, which broadcast to {show(full)}",
                field="shape",
                fix=f"write shape: {show(full)}, or leave shape out: it is taken from the inputs",
            )
        out.setdefault("shape", full)
        if any(s != tuple(out["shape"]) for s in shapes):
            bind_field(out, "input_shapes", tuple(shapes))
        return out

    @model_validator(mode="after")
    def _check(self) -> Elementwise:
        if self.input_shapes:
            if len(self.input_shapes) != self.num_inputs:
                raise ValueError(
                    f"input_shapes has {len(self.input_shapes)} entries for "
                    f"num_inputs={self.num_inputs}"
                )
            out = broadcast_shapes(self.shape, *self.input_shapes)
            if out is None or _strip(out) != _strip(self.shape):
                raise ValueError(
                    f"input_shapes {show(self.input_shapes)} do not broadcast to "
                    f"shape {show(self.shape)}"
                )
        return self

    @cached_property
    def _flops_per_elem(self) -> int:
        return self.num_inputs - 1 + self.scalars + (1 if self.op in UNARY else 0)

    def counts(self, batch: Any) -> Counts:
        n = batch * self._numel
        if self.input_shapes:
            act_in = batch * sum(numel(s) for s in self.input_shapes)
        else:
            act_in = n * self.num_inputs
        return Counts(act_in=act_in, act_out=n, vector_flops=self._flops_per_elem * n)


@register
class Softmax(_Pointwise):
    """Softmax over the last dim of ``shape``."""

    category = OpCategory.ELEMENTWISE
    kind: Literal["softmax"] = "softmax"

    def counts(self, batch: Any) -> Counts:
        return self._io(batch, SOFTMAX_FLOPS)
