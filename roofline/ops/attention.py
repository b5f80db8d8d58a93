"""Scaled dot-product attention (the core, without the Q/K/V/output projections, which are Linear).

Legend: h num_heads, h_kv num_kv_heads (grouped-query attention; = h for multi-head), d head_dim,
q q_len (new tokens), s kv_len (keys attended to, including the new ones).

* GEMMs: scores Q K^T (M = q, N = s, K = d) and context P V (M = q, N = d, K = s), each with
  count = B * h; matrix FLOPs = 4 * B * h * q * s * d. A causal mask does not reduce the count:
  dense kernels compute the full score matrix, and torch's FLOP counter counts it too
* vector FLOPs = B * h * q * s * (``SOFTMAX_FLOPS`` + 1 for the 1/sqrt(d) scale)
* without a KV cache (encoder, prefill): activations in = q*h*d + 2*s*h_kv*d, out = q*h*d
* with a KV cache (decode): the q new tokens' K and V are appended to the cache and K and V of
  all s tokens read from it: KV traffic = 2*s*h_kv*d elements read + 2*q*h_kv*d written;
  activations in = q*h*d + 2*q*h_kv*d (the new K and V), out = q*h*d; the cache holds
  2*s*h_kv*d elements per sample (footprint)
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from roofline.kinds import OpCategory
from roofline.ops.base import Counts, Gemm, Op, Shape, register
from roofline.ops.vector import SOFTMAX_FLOPS


@register
class Attention(Op):
    """Scaled dot-product attention (``F.scaled_dot_product_attention``)."""

    category = OpCategory.ATTENTION
    kind: Literal["attention"] = "attention"
    num_heads: int = Field(ge=1)
    head_dim: int = Field(ge=1)
    q_len: int = Field(ge=1, description="query tokens per sample")
    kv_len: int = Field(ge=1, description="key/value tokens per sample (incl. the new ones)")
    num_kv_heads: int | None = Field(None, ge=1, description="KV heads (GQA); default num_heads")
    kv_cache: bool = False
    causal: bool = False
    heads_first: bool = Field(
        False,
        exclude_if=lambda v: not v,
        description="output laid out (heads, q_len, head_dim), as F.scaled_dot_product_attention "
        "returns it; default (q_len, heads * head_dim)",
    )

    @model_validator(mode="after")
    def _check(self) -> Attention:
        if self.num_heads % self.kv_heads:
            raise ValueError(
                f"num_heads={self.num_heads} is not divisible by num_kv_heads={self.kv_heads}"
            )
        if self.kv_cache and self.kv_len < self.q_len:
            raise ValueError(f"kv_len={self.kv_len} must be >= q_len={self.q_len} with a KV cache")
        return self

    @property
    def kv_heads(self) -> int:
        return self.num_kv_heads or self.num_heads

    def counts(self, batch: Any) -> Counts:
        h, d, q, s, hk = self.num_heads, self.head_dim, self.q_len, self.kv_len, self.kv_heads
        scores = batch * h * q * s
        gemms = (Gemm(q, s, d, batch * h, "count"), Gemm(q, d, s, batch * h, "count"))
        if self.kv_cache:
            return Counts(
                act_in=batch * (q * h * d + 2 * q * hk * d),
                act_out=batch * q * h * d,
                kv=batch * 2 * hk * d * (s + q),
                kv_footprint=batch * 2 * s * hk * d,
                vector_flops=scores * (SOFTMAX_FLOPS + 1),
                gemms=gemms,
            )
        return Counts(
            act_in=batch * (q * h * d + 2 * s * hk * d),
            act_out=batch * q * h * d,
            vector_flops=scores * (SOFTMAX_FLOPS + 1),
            gemms=gemms,
        )

    @property
    def out_shape(self) -> Shape:
        if self.heads_first:
            return (self.num_heads, self.q_len, self.head_dim)
        return (self.q_len, self.num_heads * self.head_dim)
