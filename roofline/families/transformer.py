"""Transformers: bidirectional encoders (BERT) and decoder-only language models with a KV cache.

Encoder (Devlin et al. 2018, https://arxiv.org/abs/1810.04805; Hugging Face ``BertModel``
names): word + learned position + token-type embeddings, added and layer-normed; per layer
(post-norm) query/key/value projections, attention, output projection, residual add and
LayerNorm, then intermediate (GELU) and output projections, residual add and LayerNorm; optional
pooler (dense + tanh on the first token).

Decoder (Llama: Touvron et al. 2023, https://arxiv.org/abs/2307.09288; Hugging Face
``LlamaForCausalLM`` names): token embedding; per layer (pre-norm) RMSNorm, q/k/v projections
(``num_kv_heads`` K/V heads: grouped-query attention), causal attention with a KV cache, output
projection and residual add; RMSNorm, SwiGLU MLP (gate and up projections, SiLU(gate) * up,
down projection) and residual add; final norm and an untied ``lm_head``.

Phases: ``prefill`` runs ``seq_len`` tokens (the prompt, or the encoder's sequence) and writes
their K/V to the cache; the ``lm_head`` projects the last token only, as serving engines do.
``decode`` runs one new token per sequence against a cache of ``context_len`` tokens (the new
one included). Each per-layer op is one op with ``repeat`` = ``num_layers`` (named
``<prefix>.0-<L-1>.<module>``). Rotary position embeddings (about 3 vector FLOPs per query and
key element) are not modeled. A sample is one sequence.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from roofline.families.base import FamilyParams, family
from roofline.graph import Graph
from roofline.graph_builder import GraphBuilder


class TransformerParams(FamilyParams):
    """Parameters of a transformer encoder or decoder-only language model (HF config names)."""

    architecture: Literal["encoder", "decoder"] = Field(
        description="`encoder`: bidirectional, no KV cache (BERT); `decoder`: causal language "
        "model with a KV cache (GPT, Llama)"
    )
    vocab_size: int = Field(ge=1, description="token embedding rows (and lm_head outputs)")
    hidden_size: int = Field(ge=1, description="model width d_model")
    num_layers: int = Field(ge=1, description="transformer blocks")
    num_heads: int = Field(ge=1, description="query heads; head_dim = hidden_size / num_heads")
    num_kv_heads: int | None = Field(
        None, ge=1, description="key/value heads (grouped-query attention); null: num_heads"
    )
    intermediate_size: int = Field(ge=1, description="feed-forward hidden width")
    ffn: Literal["gelu", "swiglu"] = Field(
        "gelu",
        description="`gelu`: up projection, GELU, down projection; `swiglu`: gate and up "
        "projections, SiLU(gate) * up, down projection",
    )
    norm: Literal["layernorm", "rmsnorm"] = Field(
        "layernorm", description="normalization (LayerNorm with bias, or RMSNorm)"
    )
    norm_position: Literal["post", "pre"] = Field(
        "post",
        description="`post`: norm after each residual add and after the embeddings (BERT); "
        "`pre`: norm before each sublayer and once after the last layer (GPT-2, Llama)",
    )
    bias: bool = Field(True, description="biases in the attention and feed-forward projections")
    position_embedding: Literal["learned", "rotary"] = Field(
        "learned",
        description="`learned`: a max_position_embeddings x hidden_size table; `rotary`: RoPE, "
        "no parameters",
    )
    max_position_embeddings: int = Field(
        ge=1, description="longest sequence the model supports, tokens"
    )
    type_vocab_size: int = Field(
        0, ge=0, description="token-type (segment) embedding rows (BERT: 2); 0: none"
    )
    pooler: bool = Field(False, description="BERT pooler: dense + tanh on the first token")
    lm_head: bool = Field(
        False, description="untied output projection to the vocabulary (language models)"
    )
    phase: Literal["prefill", "decode"] = Field(
        "prefill",
        description="`prefill`: seq_len tokens at once; `decode`: one new token against a KV "
        "cache of context_len tokens (decoders only)",
    )
    seq_len: int = Field(128, ge=1, description="tokens per sequence in the prefill phase")
    context_len: int = Field(
        2048, ge=1, description="tokens in the KV cache in the decode phase (the new one included)"
    )

    @property
    def kv_heads(self) -> int:
        """Key/value heads."""
        return self.num_kv_heads or self.num_heads

    @property
    def head_dim(self) -> int:
        """Elements per head."""
        return self.hidden_size // self.num_heads

    @model_validator(mode="after")
    def _check(self) -> TransformerParams:
        if self.hidden_size % self.num_heads:
            raise ValueError(
                f"hidden_size={self.hidden_size} is not divisible by num_heads={self.num_heads} "
                "(use the model's hidden size and head count)"
            )
        if self.num_heads % self.kv_heads:
            raise ValueError(
                f"num_heads={self.num_heads} is not divisible by num_kv_heads={self.kv_heads} "
                "(each KV head serves a whole group of query heads)"
            )
        if self.architecture == "encoder" and self.phase == "decode":
            raise ValueError(
                "phase='decode' needs architecture='decoder' (an encoder has no KV cache); "
                "use phase='prefill'"
            )
        tokens = self.context_len if self.phase == "decode" else self.seq_len
        if tokens > self.max_position_embeddings:
            which = "context_len" if self.phase == "decode" else "seq_len"
            raise ValueError(
                f"{which}={tokens} exceeds max_position_embeddings={self.max_position_embeddings}"
                f" (use at most {self.max_position_embeddings} tokens)"
            )
        return self


def _norm(b: GraphBuilder, p: TransformerParams, x: str, name: str, repeat: int = 1) -> str:
    """LayerNorm or RMSNorm (``p.norm``) over the last dim of ``x``."""
    return b.add(
        "layernorm", [x], name=name, shape=b.shape(x), rms=p.norm == "rmsnorm", repeat=repeat
    )


#: module names per architecture (Hugging Face BertModel / LlamaForCausalLM)
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
    },
}


class _Layers:
    """Adds per-layer ops (``repeat`` = num_layers) to a builder."""

    def __init__(self, b: GraphBuilder, p: TransformerParams) -> None:
        self.b, self.p = b, p
        self.names = NAMES[p.architecture]
        self.prefix = f"{self.names['prefix']}.0-{p.num_layers - 1}"

    def name(self, key: str) -> str:
        return f"{self.prefix}.{self.names[key]}"

    def linear(self, x: str, out: int, key: str) -> str:
        p = self.p
        return self.b.linear(x, out, bias=p.bias, name=self.name(key), repeat=p.num_layers)

    def pointwise(self, kind: str, xs: list[str], key: str, **fields: object) -> str:
        return self.b.add(
            kind,
            xs,
            name=self.name(key),
            shape=self.b.shape(xs[0]),
            repeat=self.p.num_layers,
            **fields,
        )

    def norm(self, x: str, key: str) -> str:
        return _norm(self.b, self.p, x, self.name(key), repeat=self.p.num_layers)

    def block(self, x: str, q_len: int, kv_len: int) -> str:
        """One transformer block over ``q_len`` new tokens attending to ``kv_len`` tokens."""
        p, h = self.p, self.p.hidden_size
        pre = p.norm_position == "pre"
        y = self.norm(x, "norm1") if pre else x
        kv = p.kv_heads * p.head_dim
        q, k, v = self.linear(y, h, "q"), self.linear(y, kv, "k"), self.linear(y, kv, "v")
        decoder = p.architecture == "decoder"
        a = self.b.add(
            "attention",
            [q, k, v],
            name=self.name("attn"),
            num_heads=p.num_heads,
            head_dim=p.head_dim,
            q_len=q_len,
            kv_len=kv_len,
            num_kv_heads=p.kv_heads,
            kv_cache=decoder,
            causal=decoder,
            repeat=p.num_layers,
        )
        x = self.pointwise("elementwise", [x, self.linear(a, h, "o")], "add1", op="add")
        if not pre:
            x = self.norm(x, "norm1")
        y = self.norm(x, "norm2") if pre else x
        if p.ffn == "swiglu":
            gate = self.pointwise(
                "activation", [self.linear(y, p.intermediate_size, "gate")], "act", function="silu"
            )
            up = self.linear(y, p.intermediate_size, "up")
            y = self.pointwise("elementwise", [gate, up], "mul", op="mul")
        else:
            y = self.pointwise(
                "activation", [self.linear(y, p.intermediate_size, "up")], "act", function="gelu"
            )
        x = self.pointwise("elementwise", [x, self.linear(y, h, "down")], "add2", op="add")
        return self.norm(x, "norm2") if not pre else x


def _embeddings(b: GraphBuilder, p: TransformerParams, tokens: int) -> str:
    enc = p.architecture == "encoder"
    tag = "embeddings." if enc else "model."
    word = "word_embeddings" if enc else "embed_tokens"
    tables = [(word, p.vocab_size)]
    if p.position_embedding == "learned":
        tables.append(("position_embeddings", p.max_position_embeddings))
    if p.type_vocab_size:
        tables.append(("token_type_embeddings", p.type_vocab_size))
    parts = [
        b.add(
            "embedding",
            [],
            name=tag + t,
            num_embeddings=rows,
            embedding_dim=p.hidden_size,
            lookups=tokens,
        )
        for t, rows in tables
    ]
    x = b.eltwise(parts, "add", name=tag + "add") if len(parts) > 1 else parts[0]
    if p.norm_position == "post":
        x = _norm(b, p, x, tag + "LayerNorm")
    return x


@family("transformer", TransformerParams, sample="sequence")
def build_transformer(p: TransformerParams, name: str) -> Graph:
    """Transformer encoder (BERT) or decoder-only LM (Llama) in the prefill or decode phase."""
    b = GraphBuilder(name)
    q_len = 1 if p.phase == "decode" else p.seq_len
    kv_len = p.context_len if p.phase == "decode" else p.seq_len
    x = _Layers(b, p).block(_embeddings(b, p, q_len), q_len, kv_len)
    if p.norm_position == "pre":
        x = _norm(b, p, x, "model.norm")
    h = p.hidden_size
    if p.pooler:  # the first token only
        y = b.add("linear", [x], name="pooler.dense", in_features=h, out_features=h, bias=True)
        b.act(y, "tanh", name="pooler.activation")
    if p.lm_head:  # the last token only: the next-token logits
        b.add("linear", [x], name="lm_head", in_features=h, out_features=p.vocab_size, bias=False)
    return b.build()
