"""Decoder language-model ops the generic ones cannot express: multi-head latent attention with
its compressed KV cache (DeepSeek-V2/V3), and the token lookup in an embedding table tied to
the LM head.

Multi-head latent attention (MLA; DeepSeek-V2, https://arxiv.org/abs/2405.04434). Legend: h
num_heads, N qk_nope_head_dim, R qk_rope_head_dim, V v_head_dim, r kv_lora_rank, q q_len (new
tokens), s kv_len (tokens attended to, the new ones included). The op holds ``kv_b_proj``
(r -> h (N + V): the per-head up-projections W_UK and W_UV of the latent), reads the queries
(q h (N + R), from the q projections) and the new tokens' normalized latent and rotary key
(q (r + R), from ``kv_a_proj_with_mqa``), and keeps r + R elements per token in the KV cache
(one latent shared by all heads), not 2 h head_dim.

* params = r h (N + V); KV cache footprint = B s (r + R); KV traffic = B (s + q)(r + R) (the
  cache read and the new tokens appended, as :mod:`roofline.ops.attention` counts it)
* ``absorb = False`` (prefill, and Hugging Face's implementation): the latents of the s tokens
  are expanded to keys and values, GEMM (M = B s, N = h (N + V), K = r); scores Q K^T
  (M = q, N = s, K = N + R) and context P V (M = q, N = V, K = s), count = B h. The expanded
  K and V (B s h (N + V) elements) are written and read once (added to activations in and out)
* ``absorb = True`` (decode as serving engines run it): W_UK is folded into each head's query,
  GEMM (M = B q, N = r, K = N, count = h); scores over the latent (M = q, N = s, K = r + R) and
  context (M = q, N = r, K = s), count = B h; W_UV after the attention (M = B q, N = V, K = r,
  count = h). Nothing is expanded per cached token
* vector FLOPs = B h q s (``SOFTMAX_FLOPS`` + 1 for the scale); activations in = B q (h (N + R)
  + r + R), out = B q h V (plus the expanded K and V without absorption)

Tied embedding lookup: ``lookups`` rows per sample read from a table whose weights belong to
the LM head (``tie_word_embeddings``): no parameters of its own (the head holds them, so they
count once); the rows read (B lookups D elements) are weight traffic, served where the dense
weights live; indices B lookups; activations out B lookups D; no FLOPs.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from roofline.kinds import OpCategory
from roofline.ops.base import Counts, Gemm, Op, Shape, register
from roofline.ops.vector import SOFTMAX_FLOPS


@register
class LatentAttention(Op):
    """Multi-head latent attention core (DeepSeek MLA) with ``kv_b_proj`` and a latent KV cache."""

    category = OpCategory.ATTENTION
    kind: Literal["latent_attention"] = "latent_attention"
    num_heads: int = Field(ge=1, description="h: query heads")
    qk_nope_head_dim: int = Field(ge=1, description="N: query/key elements per head without RoPE")
    qk_rope_head_dim: int = Field(ge=0, description="R: query/key elements per head with RoPE")
    v_head_dim: int = Field(ge=1, description="V: value elements per head")
    kv_lora_rank: int = Field(ge=1, description="r: latent (compressed KV) elements per token")
    q_len: int = Field(ge=1, description="query tokens per sample")
    kv_len: int = Field(ge=1, description="key/value tokens per sample (incl. the new ones)")
    absorb: bool = Field(
        False,
        description="fold kv_b_proj into the query and output (decode); false: expand the "
        "latents of all kv_len tokens to keys and values",
    )

    @model_validator(mode="after")
    def _check(self) -> LatentAttention:
        if self.kv_len < self.q_len:
            raise ValueError(f"kv_len={self.kv_len} must be >= q_len={self.q_len}")
        return self

    def counts(self, batch: Any) -> Counts:
        h, q, s = self.num_heads, self.q_len, self.kv_len
        nope, rope, v, r = (
            self.qk_nope_head_dim,
            self.qk_rope_head_dim,
            self.v_head_dim,
            self.kv_lora_rank,
        )
        act_in = batch * q * (h * (nope + rope) + r + rope)
        act_out = batch * q * h * v
        gemms: tuple[Gemm, ...]
        if self.absorb:
            gemms = (
                Gemm(batch * q, r, nope, h, "m"),
                Gemm(q, s, r + rope, batch * h, "count"),
                Gemm(q, r, s, batch * h, "count"),
                Gemm(batch * q, v, r, h, "m"),
            )
        else:
            expanded = batch * s * h * (nope + v)
            act_in, act_out = act_in + expanded, act_out + expanded
            gemms = (
                Gemm(batch * s, h * (nope + v), r, 1, "m"),
                Gemm(q, s, nope + rope, batch * h, "count"),
                Gemm(q, v, s, batch * h, "count"),
            )
        return Counts(
            weight=float(r * h * (nope + v)),
            act_in=act_in,
            act_out=act_out,
            kv=batch * (r + rope) * (s + q),
            kv_footprint=batch * s * (r + rope),
            vector_flops=batch * h * q * s * (SOFTMAX_FLOPS + 1),
            gemms=gemms,
        )

    @property
    def out_shape(self) -> Shape:
        return (self.q_len, self.num_heads * self.v_head_dim)


@register
class TiedEmbedding(Op):
    """Token lookup in a table owned by the tied LM head: rows read, no parameters of its own."""

    category = OpCategory.OTHER  # not a table of its own: its rows are the head's dense weights
    kind: Literal["tied_embedding"] = "tied_embedding"
    num_embeddings: int = Field(ge=1, description="rows of the shared table (vocabulary)")
    embedding_dim: int = Field(ge=1, description="elements per row")
    lookups: int = Field(1, ge=1, description="rows read per sample (tokens)")

    def counts(self, batch: Any) -> Counts:
        rows = batch * self.lookups
        return Counts(
            weight=0.0,
            weight_read=rows * self.embedding_dim,
            index=rows,
            act_out=rows * self.embedding_dim,
        )

    @property
    def out_shape(self) -> Shape:
        return (self.lookups, self.embedding_dim) if self.lookups > 1 else (self.embedding_dim,)
