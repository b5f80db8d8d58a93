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

from roofline.errors import SpecError
from roofline.kinds import OpCategory
from roofline.ops.base import (
    Counts,
    Gemm,
    Op,
    Shape,
    bind_field,
    broadcast_shapes,
    numel,
    rank_error,
    register,
    show,
)


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
        (C,) as ``torch.flatten`` after global pooling. A given ``in_features`` may also be the
        product of the input's last dims (``torch.flatten`` before the layer: VGG's 512x7x7 =
        25088); the dims before them are rows."""
        out = dict(fields)
        s = tuple(shapes[0]) if shapes else ()
        if not s:
            raise rank_error(s, "(..., features)")
        flat = (s[0],) if len(s) > 1 and all(d == 1 for d in s[1:]) else s
        given = out.get("in_features")
        split = len(flat) - 1
        if given is not None and given != flat[-1]:
            split = next((k for k in range(len(s)) if numel(s[k:]) == given), -1)
            if split < 0:
                options = sorted({numel(s[k:]) for k in range(len(s))})
                raise SpecError(
                    f"in_features={given} does not match the input of shape {show(s)} "
                    f"(features: {' or '.join(str(o) for o in options)})",
                    field="in_features",
                    fix=f"write in_features: {flat[-1]} (the last dim), or leave it out; or "
                    "reshape the input first",
                )
            flat = s
        bind_field(out, "in_features", numel(flat[split:]))
        bind_field(out, "rows", numel(flat[:split]))
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

    @classmethod
    def bind(cls, shapes: list[Shape], fields: dict[str, Any]) -> dict[str, Any]:
        """With two inputs (..., m, k) and (..., k, n): m, k, n and count (the product of the
        leading dims, broadcast) from them; with one input, nothing."""
        out = dict(fields)
        if len(shapes) != 2:
            return out
        a, b = (tuple(s) for s in shapes)
        if len(a) < 2 or len(b) < 2 or a[-1] != b[-2]:
            raise SpecError(
                f"inputs of shapes {show(a)} and {show(b)} do not multiply: (..., m, k) @ "
                "(..., k, n) needs the last dim of the first to equal the second's next-to-last",
                fix="swap the inputs or transpose one (a permute op)",
            )
        lead = broadcast_shapes(a[:-2], b[:-2])
        if lead is None:
            raise SpecError(
                f"the leading dims of {show(a)} and {show(b)} do not broadcast",
                fix="make the batch dims of the two inputs equal",
            )
        for key, value in (("m", a[-2]), ("k", a[-1]), ("n", b[-1]), ("count", numel(lead))):
            bind_field(out, key, value)
        return out

    def counts(self, batch: Any) -> Counts:
        return Counts(
            act_in=batch * self.count * (self.m * self.k + self.k * self.n),
            act_out=batch * self.count * self.m * self.n,
            gemms=(Gemm(self.m, self.n, self.k, batch * self.count, "count"),),
        )

    @property
    def out_shape(self) -> Shape:
        return (self.count, self.m, self.n)
