"""Reductions over some dims of a tensor (``sum``, ``mean``, ``amax``, ``var``, ``norm``...).

* vector FLOPs = ``REDUCE_FLOPS[op]`` per input element: 1 for sum, mean, max, min, prod, argmax,
  argmin, any, all (one add or compare each; the mean's divide is per output element and
  neglected); 2 for norm (square, add); 3 for var and std (subtract the mean, square, add) and
  logsumexp (subtract the max, exp, add)
* activations in = numel(shape), out = numel(output) (per sample); no params

Global average pooling of (C, H, W) is the ``adaptive_pool`` op (same counts, pooling category).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from roofline.kinds import OpCategory
from roofline.ops.base import Counts, Op, Shape, numel, register, show

REDUCE_FLOPS = {
    "sum": 1,
    "mean": 1,
    "max": 1,
    "min": 1,
    "prod": 1,
    "argmax": 1,
    "argmin": 1,
    "any": 1,
    "all": 1,
    "norm": 2,
    "var": 3,
    "std": 3,
    "logsumexp": 3,
}


@register
class Reduce(Op):
    """Reduce per-sample dims ``dims`` of ``shape`` with ``op``."""

    category = OpCategory.ELEMENTWISE
    kind: Literal["reduce"] = "reduce"
    shape: tuple[int, ...] = Field(min_length=1, description="per-sample input shape")
    dims: tuple[int, ...] = Field(
        min_length=1, description="per-sample dims reduced (negative: from the end)"
    )
    keepdim: bool = Field(False, description="keep each reduced dim with size 1")
    op: Literal[tuple(REDUCE_FLOPS)] = Field("sum", description="the reduction")  # type: ignore[valid-type]

    @model_validator(mode="after")
    def _check(self) -> Reduce:
        r = len(self.shape)
        if any(not -r <= d < r for d in self.dims) or len({d % r for d in self.dims}) != len(
            self.dims
        ):
            raise ValueError(f"dims={show(self.dims)} are not distinct dims of {show(self.shape)}")
        return self

    @property
    def out_shape(self) -> Shape:
        gone = {d % len(self.shape) for d in self.dims}
        out = tuple(
            1 if i in gone else s for i, s in enumerate(self.shape) if self.keepdim or i not in gone
        )
        return out or (1,)

    def counts(self, batch: Any) -> Counts:
        n = batch * numel(self.shape)
        return Counts(
            act_in=n,
            act_out=batch * numel(self.out_shape),
            vector_flops=REDUCE_FLOPS[self.op] * n,
        )
