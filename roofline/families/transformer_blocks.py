"""Transformer blocks for :mod:`roofline.families.transformer`: layer grouping, the attention
variants (multi-head / grouped-query with an optional sliding window, multi-head latent
attention) and the feed-forward variants (GELU MLP, SwiGLU / GeGLU, mixture of experts), wired
sequentially (pre- or post-norm, optionally with sandwich norms) or in parallel.

Layers that are alike (same attention span and feed-forward kind) form one group; each op of a
group has ``repeat`` = the group's layer count and is named ``<prefix>.<layers>.<module>``, the
layers written ``0-31`` (a run), ``0-40:2`` (every second layer from 0 to 40) or ``0,3,5-9``.
"""

from __future__ import annotations

from typing import Any

from roofline.families.transformer_params import TransformerParams
from roofline.graph_builder import GraphBuilder

#: module names per architecture (Hugging Face BertModel / LlamaForCausalLM / DeepseekV3 /
#: Gemma2DecoderLayer)
NAMES = {
    "encoder": {
        "prefix": "encoder.layer",
        "q": "attention.self.query",
        "k": "attention.self.key",
        "v": "attention.self.value",
        "attn": "attention.self",
        "o": "attention.output.dense",
        "add1": "attention.output.add",
        "norm1": "attention.output.LayerNorm",
        "up": "intermediate.dense",
        "gate": "intermediate.gate",
        "act": "intermediate.act_fn",
        "mul": "intermediate.mul",
        "down": "output.dense",
        "add2": "output.add",
        "norm2": "output.LayerNorm",
    },
    "decoder": {
        "prefix": "model.layers",
        "norm1": "input_layernorm",
        "q": "self_attn.q_proj",
        "k": "self_attn.k_proj",
        "v": "self_attn.v_proj",
        "attn": "self_attn",
        "o": "self_attn.o_proj",
        "add1": "self_attn.add",
        "norm2": "post_attention_layernorm",
        "gate": "mlp.gate_proj",
        "up": "mlp.up_proj",
        "act": "mlp.act_fn",
        "mul": "mlp.mul",
        "down": "mlp.down_proj",
        "add2": "mlp.add",
        "moe": "mlp",
        "add": "add",
        "q_a": "self_attn.q_a_proj",
        "q_a_norm": "self_attn.q_a_layernorm",
        "q_b": "self_attn.q_b_proj",
        "kv_a": "self_attn.kv_a_proj_with_mqa",
        "kv_a_norm": "self_attn.kv_a_layernorm",
        "attn_out_norm": "post_attention_layernorm",
        "ffn_in_norm": "pre_feedforward_layernorm",
        "ffn_out_norm": "post_feedforward_layernorm",
    },
}


def layer_span(indices: list[int]) -> str:
    """Compact text for sorted layer indices: ``5``, ``0-31``, ``0-40:2`` or ``0,3,5-9``."""
    if len(indices) == 1:
        return str(indices[0])
    steps = {b - a for a, b in zip(indices, indices[1:])}
    if steps == {1}:
        return f"{indices[0]}-{indices[-1]}"
    if len(steps) == 1:
        return f"{indices[0]}-{indices[-1]}:{steps.pop()}"
    runs: list[list[int]] = []
    for i in indices:
        if runs and i == runs[-1][-1] + 1:
            runs[-1].append(i)
        else:
            runs.append([i])
    return ",".join(str(r[0]) if len(r) == 1 else f"{r[0]}-{r[-1]}" for r in runs)


def layer_groups(p: TransformerParams) -> list[tuple[list[int], bool, bool]]:
    """Layers grouped by kind, in order of their first layer: (indices, sliding, moe)."""
    groups: dict[tuple[bool, bool], list[int]] = {}
    for i in range(p.num_layers):
        groups.setdefault((p.is_sliding(i), p.is_moe(i)), []).append(i)
    return [(idx, sliding, moe) for (sliding, moe), idx in groups.items()]


class Block:
    """Adds the ops of one group of identical layers (``repeat`` = its size) to a builder."""

    def __init__(
        self, b: GraphBuilder, p: TransformerParams, layers: list[int], sliding: bool, moe: bool
    ) -> None:
        self.b, self.p, self.sliding, self.moe = b, p, sliding, moe
        self.repeat = len(layers)
        self.names = NAMES[p.architecture]
        self.prefix = f"{self.names['prefix']}.{layer_span(layers)}"

    def name(self, key: str) -> str:
        return f"{self.prefix}.{self.names[key]}"

    def linear(self, x: str, out: int, key: str, bias: bool) -> str:
        return self.b.linear(x, out, bias=bias, name=self.name(key), repeat=self.repeat)

    def add(self, kind: str, xs: list[str], key: str, **fields: Any) -> str:
        return self.b.add(kind, xs, name=self.name(key), repeat=self.repeat, **fields)

    def pointwise(self, kind: str, xs: list[str], key: str, **fields: Any) -> str:
        return self.add(kind, xs, key, shape=self.b.shape(xs[0]), **fields)

    def norm(self, x: str, key: str, shape: tuple[int, ...] | None = None) -> str:
        shape = shape or self.b.shape(x)
        return self.add("layernorm", [x], key, shape=shape, rms=self.p.norm == "rmsnorm")

    # -- sublayers --------------------------------------------------------------------------
    def attention(self, y: str, q_len: int, kv_len: int) -> str:
        """Q/K/V projections, the attention core and the output projection; returns its output."""
        p = self.p
        if p.kv_lora_rank is not None:
            return self.latent_attention(y, q_len, kv_len)
        kv = p.kv_heads * p.head_dim
        qkv_bias = p.bias_of("qkv")
        q = self.linear(y, p.num_heads * p.head_dim, "q", qkv_bias)
        k, v = self.linear(y, kv, "k", qkv_bias), self.linear(y, kv, "v", qkv_bias)
        if self.sliding and p.phase == "decode":
            kv_len = min(kv_len, p.sliding_window or kv_len)
        decoder = p.architecture == "decoder"
        a = self.add(
            "attention",
            [q, k, v],
            "attn",
            num_heads=p.num_heads,
            head_dim=p.head_dim,
            q_len=q_len,
            kv_len=kv_len,
            num_kv_heads=p.kv_heads,
            kv_cache=decoder,
            causal=decoder,
        )
        return self.linear(a, p.hidden_size, "o", p.bias_of("o"))

    def latent_attention(self, y: str, q_len: int, kv_len: int) -> str:
        """DeepSeek's multi-head latent attention (:mod:`roofline.ops.decoder`)."""
        p = self.p
        assert p.qk_nope_head_dim and p.v_head_dim and p.kv_lora_rank is not None
        qk = p.qk_nope_head_dim + p.qk_rope_head_dim
        bias = p.bias_of("qkv")
        if p.q_lora_rank:
            q = self.linear(y, p.q_lora_rank, "q_a", bias)
            q = self.linear(self.norm(q, "q_a_norm"), p.num_heads * qk, "q_b", False)
        else:
            q = self.linear(y, p.num_heads * qk, "q", False)
        kv = self.linear(y, p.kv_lora_rank + p.qk_rope_head_dim, "kv_a", bias)
        latent = self.norm(kv, "kv_a_norm", shape=(*self.b.shape(kv)[:-1], p.kv_lora_rank))
        a = self.add(
            "latent_attention",
            [q, latent, kv],
            "attn",
            num_heads=p.num_heads,
            qk_nope_head_dim=p.qk_nope_head_dim,
            qk_rope_head_dim=p.qk_rope_head_dim,
            v_head_dim=p.v_head_dim,
            kv_lora_rank=p.kv_lora_rank,
            q_len=q_len,
            kv_len=kv_len,
            absorb=p.phase == "decode" if p.mla_absorb is None else p.mla_absorb,
        )
        return self.linear(a, p.hidden_size, "o", p.bias_of("o"))

    def ffn(self, y: str) -> str:
        """The feed-forward sublayer (dense or mixture of experts); returns its output."""
        p = self.p
        if self.moe:
            assert p.num_experts
            return self.add(
                "moe",
                [y],
                "moe",
                hidden_size=p.hidden_size,
                intermediate_size=p.expert_size,
                num_experts=p.num_experts,
                top_k=p.num_experts_per_tok,
                shared_intermediate_size=p.shared_size,
                shared_expert_gate=p.shared_expert_gate,
                tokens=self.b.shape(y)[0] if len(self.b.shape(y)) > 1 else 1,
                routing_skew=p.routing_skew,
            )
        width, bias = p.intermediate_size, p.bias_of("mlp")
        if p.ffn in ("swiglu", "geglu"):
            act = "silu" if p.ffn == "swiglu" else "gelu"
            gate = self.pointwise(
                "activation", [self.linear(y, width, "gate", bias)], "act", function=act
            )
            up = self.linear(y, width, "up", bias)
            y = self.pointwise("elementwise", [gate, up], "mul", op="mul")
        else:
            y = self.pointwise(
                "activation", [self.linear(y, width, "up", bias)], "act", function="gelu"
            )
        return self.linear(y, p.hidden_size, "down", bias)

    # -- wiring -----------------------------------------------------------------------------
    def build(self, x: str, q_len: int, kv_len: int) -> str:
        """The group's block over ``q_len`` new tokens attending to ``kv_len`` tokens."""
        p = self.p
        if p.parallel_residual:
            y1 = self.norm(x, "norm1")
            y2 = self.norm(x, "norm2") if p.parallel_norms == 2 else y1
            a = self.attention(y1, q_len, kv_len)
            f = self.ffn(y2)
            return self.pointwise("elementwise", [x, a, f], "add", op="add", num_inputs=3)
        pre = p.norm_position == "pre"
        a = self.attention(self.norm(x, "norm1") if pre else x, q_len, kv_len)
        if p.sandwich_norm:
            a = self.norm(a, "attn_out_norm")
        x = self.pointwise("elementwise", [x, a], "add1", op="add")
        if not pre:
            x = self.norm(x, "norm1")
        f = self.ffn(self.norm(x, "ffn_in_norm" if p.sandwich_norm else "norm2") if pre else x)
        if p.sandwich_norm:
            f = self.norm(f, "ffn_out_norm")
        x = self.pointwise("elementwise", [x, f], "add2", op="add")
        return self.norm(x, "norm2") if not pre else x
