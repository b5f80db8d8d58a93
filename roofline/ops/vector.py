"""Elementwise and normalization ops, all on the vector engine (1 FLOP per arithmetic operation).

Per-element FLOP constants (named so every figure can be predicted):

* batch norm (inference): y = x * scale + shift -> ``BATCHNORM_FLOPS`` = 2; params = 2 * C
  (affine weight and bias; running statistics are buffers, not parameters, as PyTorch counts)
* layer norm: mean 1, subtract 1, square 1, variance sum 1, scale by rstd 1, affine 2 ->
  ``LAYERNORM_FLOPS`` = 7; params = 2 * normalized size. RMS norm: square 1, sum 1, scale 1,
  weight 1 -> ``RMSNORM_FLOPS`` = 4; params = normalized size
* activations: ``ACTIVATION_FLOPS`` (relu 1, relu6 2, sigmoid 4 = neg, exp, add, divide,
  tanh 4, silu 5 = sigmoid + multiply, hardswish 5, gelu 8 = tanh approximation)
* elementwise add/sub/mul/div of n inputs: n - 1 per element
* softmax: max 1, subtract 1, exp 1, sum 1, divide 1 -> ``SOFTMAX_FLOPS`` = 5
"""

from __future__ import annotations

from functools import cached_property
from typing import Any, Literal

from pydantic import Field

from roofline.kinds import OpCategory
from roofline.ops.base import Counts, Op, Shape, numel, register

BATCHNORM_FLOPS = 2
LAYERNORM_FLOPS = 7
RMSNORM_FLOPS = 4
SOFTMAX_FLOPS = 5
ACTIVATION_FLOPS = {
    "relu": 1,
    "relu6": 2,
    "sigmoid": 4,
    "tanh": 4,
    "silu": 5,
    "hardswish": 5,
    "gelu": 8,
}


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

    def counts(self, batch: Any) -> Counts:
        return self._io(batch, BATCHNORM_FLOPS, weight=2.0 * self.shape[0])


@register
class LayerNorm(_Pointwise):
    """Layer normalization (or RMS norm) over the last dim of ``shape``."""

    category = OpCategory.NORMALIZATION
    kind: Literal["layernorm"] = "layernorm"
    rms: bool = False

    def counts(self, batch: Any) -> Counts:
        d = self.shape[-1]
        if self.rms:
            return self._io(batch, RMSNORM_FLOPS, weight=float(d))
        return self._io(batch, LAYERNORM_FLOPS, weight=2.0 * d)


@register
class Activation(_Pointwise):
    """Pointwise nonlinearity."""

    category = OpCategory.ELEMENTWISE
    epilogue = True
    kind: Literal["activation"] = "activation"
    function: Literal["relu", "relu6", "sigmoid", "tanh", "silu", "hardswish", "gelu"] = "relu"

    def counts(self, batch: Any) -> Counts:
        return self._io(batch, ACTIVATION_FLOPS[self.function])


@register
class Elementwise(_Pointwise):
    """Elementwise arithmetic over ``num_inputs`` tensors of ``shape`` (residual add, gating)."""

    category = OpCategory.ELEMENTWISE
    epilogue = True
    kind: Literal["elementwise"] = "elementwise"
    op: Literal["add", "sub", "mul", "div"] = "add"
    num_inputs: int = Field(2, ge=1)

    @classmethod
    def bind(cls, shapes: list[Shape], fields: dict[str, Any]) -> dict[str, Any]:
        """``shape`` from the first input, ``num_inputs`` from how many it reads."""
        out = super().bind(shapes, fields)
        out.setdefault("num_inputs", len(shapes))
        return out

    def counts(self, batch: Any) -> Counts:
        n = batch * self._numel
        return Counts(act_in=n * self.num_inputs, act_out=n, vector_flops=(self.num_inputs - 1) * n)


@register
class Softmax(_Pointwise):
    """Softmax over the last dim of ``shape``."""

    category = OpCategory.ELEMENTWISE
    kind: Literal["softmax"] = "softmax"

    def counts(self, batch: Any) -> Counts:
        return self._io(batch, SOFTMAX_FLOPS)
