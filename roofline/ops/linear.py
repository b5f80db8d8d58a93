"""Linear (fully connected) and batched matrix multiply.

Linear: ``y = x W^T + b`` with ``x`` of shape (rows, in_features) per sample.

* matrix FLOPs = 2 * B * rows * in_features * out_features (one GEMM: M = B*rows, N = out, K = in)
* params = in_features * out_features (+ out_features bias); the bias add is fused into the GEMM
  epilogue and not counted, as torch's FLOP counter does not count it
* activations in = rows * in_features, out = rows * out_features (per sample)

MatMul (``torch.bmm`` of two activations): ``count`` products (m x k) @ (k x n) per sample.

* matrix FLOPs = 2 * B * count * m * n * k (GEMM: M = m, N = n, K = k, count = B * count)
* activations in = count * (m*k + k*n), out = count * m * n; no params
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from roofline.kinds import OpCategory
from roofline.ops.base import Counts, Gemm, Op, Shape, numel, register


@register
class Linear(Op):
    """Fully connected layer (``torch.nn.Linear``) applied to ``rows`` vectors per sample."""

    category = OpCategory.FC
    kind: Literal["linear"] = "linear"
    in_features: int = Field(ge=1)
    out_features: int = Field(ge=1)
    bias: bool = True
    rows: int = Field(1, ge=1, description="vectors per sample (tokens, RoIs, beams)")

    @classmethod
    def bind(cls, shapes: list[Shape], fields: dict[str, Any]) -> dict[str, Any]:
        """Features from the input's last dim, rows from the others; (C, 1, 1) is flattened to
        (C,) as ``torch.flatten`` after global pooling."""
        out = dict(fields)
        s = shapes[0] if shapes else ()
        flat = (s[0],) if len(s) > 1 and all(d == 1 for d in s[1:]) else s
        out.setdefault("in_features", flat[-1] if flat else None)
        out.setdefault("rows", numel(flat[:-1]) if len(flat) > 1 else 1)
        return out

    def counts(self, batch: Any) -> Counts:
        w = self.in_features * self.out_features + (self.out_features if self.bias else 0)
        return Counts(
            weight=float(w),
            act_in=batch * self.rows * self.in_features,
            act_out=batch * self.rows * self.out_features,
            gemms=(Gemm(batch * self.rows, self.out_features, self.in_features, 1, "m"),),
        )

    @property
    def out_shape(self) -> Shape:
        return (self.rows, self.out_features) if self.rows > 1 else (self.out_features,)


@register
class MatMul(Op):
    """Batched product of two activations, ``count`` x (m x k) @ (k x n) per sample."""

    category = OpCategory.FC
    kind: Literal["matmul"] = "matmul"
    m: int = Field(ge=1)
    n: int = Field(ge=1)
    k: int = Field(ge=1)
    count: int = Field(1, ge=1, description="independent products per sample (e.g. heads)")

    def counts(self, batch: Any) -> Counts:
        return Counts(
            act_in=batch * self.count * (self.m * self.k + self.k * self.n),
            act_out=batch * self.count * self.m * self.n,
            gemms=(Gemm(self.m, self.n, self.k, batch * self.count, "count"),),
        )

    @property
    def out_shape(self) -> Shape:
        return (self.count, self.m, self.n)
