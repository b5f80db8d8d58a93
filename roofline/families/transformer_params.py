"""Parameters of the ``transformer`` family (Hugging Face config names) and their checks."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, get_args

from pydantic import Field, model_validator

from roofline.errors import SpecError, short_repr
from roofline.families.base import FamilyParams
from roofline.suggest import did_you_mean

OptInt = int | None
OptBool = bool | None

#: the attention span of a layer, by its Hugging Face ``layer_types`` name
LayerType = Literal["full_attention", "sliding_attention"]
LAYER_TYPES: tuple[str, ...] = get_args(LayerType)


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
    attention_head_dim: OptInt = Field(
        None, ge=1, description="elements per head (HF head_dim); null: hidden_size / num_heads"
    )
    intermediate_size: int = Field(ge=1, description="feed-forward hidden width")
    ffn: Literal["gelu", "swiglu", "geglu"] = Field(
        "gelu",
        description="`gelu`: up projection, GELU, down projection; `swiglu` (`geglu`): gate and "
        "up projections, SiLU (GELU) of gate times up, down projection",
    )
    norm: Literal["layernorm", "rmsnorm"] = Field(
        "layernorm", description="normalization (LayerNorm with bias, or RMSNorm)"
    )
    norm_position: Literal["post", "pre"] = Field(
        "post",
        description="`post`: norm after each residual add and after the embeddings (BERT); "
        "`pre`: norm before each sublayer and once after the last layer (GPT-2, Llama)",
    )
    sandwich_norm: bool = Field(
        False, description="pre-norm plus a norm of each sublayer's output (Gemma 2)"
    )
    parallel_residual: bool = Field(
        False,
        description="attention and MLP read the same input; x + attn + mlp in one add "
        "(GPT-J, GPT-NeoX, Falcon)",
    )
    parallel_norms: Literal[1, 2] = Field(
        1, description="with parallel_residual: one norm feeds both (GPT-J), or one each (NeoX)"
    )
    bias: bool = Field(True, description="biases in the attention and feed-forward projections")
    qkv_bias: OptBool = Field(None, description="biases of q/k/v (MLA: q_a, kv_a); null: bias")
    o_bias: OptBool = Field(None, description="bias of the attention output; null: bias")
    mlp_bias: OptBool = Field(None, description="biases of the dense MLP; null: bias")
    position_embedding: Literal["learned", "rotary"] = Field(
        "learned",
        description="`learned`: a max_position_embeddings x hidden_size table; `rotary`: RoPE, "
        "no parameters",
    )
    partial_rotary_factor: float = Field(
        1.0, gt=0, le=1, description="share of each head RoPE rotates (not counted either way)"
    )
    max_position_embeddings: int = Field(
        ge=1, description="longest sequence the model supports, tokens"
    )
    type_vocab_size: int = Field(
        0, ge=0, description="token-type (segment) embedding rows (BERT: 2); 0: none"
    )
    pooler: bool = Field(False, description="BERT pooler: dense + tanh on the first token")
    lm_head: bool = Field(
        False, description="output projection to the vocabulary (language models)"
    )
    lm_head_bias: bool = Field(False, description="a bias in the lm_head (GPT-J)")
    tie_word_embeddings: bool = Field(
        False, description="the token table is the lm_head's weight (counted once)"
    )
    sliding_window: OptInt = Field(
        None, ge=1, description="tokens a sliding-window layer attends to (Mistral); null: none"
    )
    layer_types: list[LayerType] | None = Field(
        None,
        description="attention span per layer (HF names); null: all sliding if "
        "sliding_window is set, else all full",
    )
    num_experts: int = Field(0, ge=0, description="routed experts per MoE layer; 0: dense MLPs")
    num_experts_per_tok: int = Field(1, ge=1, description="routed experts per token (top-k)")
    moe_intermediate_size: OptInt = Field(
        None, ge=1, description="hidden width of one expert; null: intermediate_size"
    )
    num_shared_experts: int = Field(0, ge=0, description="experts every token runs (DeepSeek)")
    shared_expert_intermediate_size: OptInt = Field(
        None,
        ge=1,
        description="total width of the shared experts; null: num_shared_experts x "
        "moe_intermediate_size",
    )
    shared_expert_gate: bool = Field(False, description="sigmoid gate on the shared output (Qwen)")
    first_k_dense_layers: int = Field(
        0, ge=0, description="leading layers with a dense MLP (DeepSeek first_k_dense_replace)"
    )
    moe_layer_step: int = Field(
        1, ge=1, description="MoE in layers i with (i + 1) % step == 0 (decoder_sparse_step)"
    )
    dense_layers: list[int] = Field(
        default_factory=list, description="layers with a dense MLP (Qwen mlp_only_layers)"
    )
    routing_skew: float = Field(
        0.0, ge=0, description="Zipf exponent of expert popularity; 0: uniform routing"
    )
    kv_lora_rank: OptInt = Field(
        None, ge=1, description="multi-head latent attention latent width; null: no MLA"
    )
    q_lora_rank: OptInt = Field(None, ge=1, description="MLA query low-rank width; null: none")
    qk_nope_head_dim: OptInt = Field(None, ge=1, description="MLA query/key dims without RoPE")
    qk_rope_head_dim: int = Field(0, ge=0, description="MLA query/key dims with RoPE")
    v_head_dim: OptInt = Field(None, ge=1, description="MLA value dims per head")
    mla_absorb: OptBool = Field(
        None,
        description="MLA with kv_b_proj folded into query and output (true), or the latents "
        "expanded to K and V per step (false, as transformers runs it); null: absorb in decode",
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
        return self.attention_head_dim or self.hidden_size // self.num_heads

    @property
    def expert_size(self) -> int:
        """Hidden width of one routed expert."""
        return self.moe_intermediate_size or self.intermediate_size

    @property
    def shared_size(self) -> int:
        """Total hidden width of the shared experts (0: none)."""
        if self.shared_expert_intermediate_size is not None:
            return self.shared_expert_intermediate_size
        return self.num_shared_experts * self.expert_size

    def bias_of(self, which: Literal["qkv", "o", "mlp"]) -> bool:
        """Whether the ``qkv``, ``o`` or ``mlp`` projections have biases."""
        own = {"qkv": self.qkv_bias, "o": self.o_bias, "mlp": self.mlp_bias}[which]
        return self.bias if own is None else own

    def is_sliding(self, layer: int) -> bool:
        """Whether layer ``layer`` attends within the sliding window."""
        if self.sliding_window is None:
            return False
        return self.layer_types is None or self.layer_types[layer] == "sliding_attention"

    def is_moe(self, layer: int) -> bool:
        """Whether layer ``layer`` has a mixture-of-experts feed-forward."""
        return (
            self.num_experts > 0
            and layer >= self.first_k_dense_layers
            and (layer + 1) % self.moe_layer_step == 0
            and layer not in self.dense_layers
        )

    @model_validator(mode="before")
    @classmethod
    def _default_lengths(cls, data: Any) -> Any:
        """``seq_len`` and ``context_len`` left out default to their field default (128, 2048
        tokens) or to ``max_position_embeddings``, whichever is less: a default is never the
        error of a model that supports fewer tokens."""
        if not isinstance(data, Mapping):
            return data
        longest = data.get("max_position_embeddings")
        if isinstance(longest, bool) or not isinstance(longest, int) or longest < 1:
            return data  # the field's own check says why
        lengths = {
            k: min(cls.model_fields[k].default, longest)
            for k in ("seq_len", "context_len")
            if k not in data
        }
        return {**data, **lengths} if lengths else data

    @model_validator(mode="after")
    def _check(self) -> TransformerParams:
        if self.attention_head_dim is None and self.hidden_size % self.num_heads:
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
        _check_llm_features(self)
        return self


def _check_llm_features(p: TransformerParams) -> None:
    """ValueError naming the field for inconsistent decoder-LLM settings."""
    if p.architecture == "encoder":
        used = [f for f in ("num_experts", "kv_lora_rank", "sliding_window") if getattr(p, f)]
        used += [f for f in ("parallel_residual", "tie_word_embeddings") if getattr(p, f)]
        if used:
            raise ValueError(f"{used[0]}: a decoder feature (use architecture='decoder')")
    if p.num_experts and p.num_experts_per_tok > p.num_experts:
        raise ValueError(
            f"num_experts_per_tok={p.num_experts_per_tok} exceeds num_experts={p.num_experts} "
            f"(route each token to at most {p.num_experts} experts)"
        )
    if p.shared_expert_intermediate_size is not None and (
        not p.num_shared_experts or p.shared_expert_intermediate_size % p.num_shared_experts
    ):
        raise ValueError(
            f"shared_expert_intermediate_size={p.shared_expert_intermediate_size} does not fit "
            f"num_shared_experts={p.num_shared_experts} (use a multiple of num_shared_experts "
            ">= 1, or null for num_shared_experts x moe_intermediate_size)"
        )
    if p.shared_expert_gate and not p.shared_size:
        raise ValueError("shared_expert_gate=True needs shared experts (set num_shared_experts)")
    if p.layer_types is not None:
        check_layer_types(p.layer_types, p.num_layers, "layer_types", "num_layers")
    check_layer_indices(p.dense_layers, p.num_layers, "dense_layers", "num_layers")
    check_leading_layers(p.first_k_dense_layers, p.num_layers, "first_k_dense_layers", "num_layers")
    if p.layer_types and "sliding_attention" in p.layer_types and p.sliding_window is None:
        raise ValueError("layer_types has sliding_attention layers (set sliding_window)")
    if p.kv_lora_rank is not None and not (p.qk_nope_head_dim and p.v_head_dim):
        raise ValueError(
            "kv_lora_rank is set: multi-head latent attention needs qk_nope_head_dim and "
            "v_head_dim (from the model's config)"
        )
    if p.tie_word_embeddings and not p.lm_head:
        raise ValueError("tie_word_embeddings=True needs lm_head=True (the table's other user)")
    if p.parallel_residual and p.norm_position != "pre":
        raise ValueError("parallel_residual=True needs norm_position='pre'")


# -- per-layer settings: one check each, naming the field as the caller's input spells it
# (``dense_layers`` in a spec, ``mlp_only_layers`` in a Hugging Face config)


def check_layer_types(types: Any, num_layers: int, field: str, layers_field: str) -> list[str]:
    """``types`` as a list of :data:`LAYER_TYPES`, one per layer; else a SpecError naming
    ``field`` (or its entry)."""
    fix = f"give one of {', '.join(LAYER_TYPES)} per layer ({layers_field}={num_layers})"
    if not isinstance(types, (list, tuple)):
        raise SpecError(f"{short_repr(types)} is not a list", field=field, fix=fix)
    for i, kind in enumerate(types):
        if not isinstance(kind, str) or kind not in LAYER_TYPES:
            raise SpecError(
                f"{short_repr(kind)} is not a layer type",
                field=f"{field}[{i}]",
                fix=did_you_mean(str(kind), LAYER_TYPES, f"use {' or '.join(LAYER_TYPES)}"),
            )
    if len(types) != num_layers:
        raise SpecError(
            f"{len(types)} entries for {layers_field}={num_layers}", field=field, fix=fix
        )
    return list(types)


def check_layer_indices(layers: Any, num_layers: int, field: str, layers_field: str) -> list[int]:
    """``layers`` as a list of distinct 0-based layer indices below ``num_layers``; else a
    SpecError naming ``field`` (or its entry)."""
    fix = (
        f"list 0-based layer indices 0 to {num_layers - 1} ({layers_field}={num_layers}), each once"
    )
    if not isinstance(layers, (list, tuple)):
        raise SpecError(f"{short_repr(layers)} is not a list of layers", field=field, fix=fix)
    seen: set[int] = set()
    for i, layer in enumerate(layers):
        if isinstance(layer, bool) or not isinstance(layer, int) or not 0 <= layer < num_layers:
            raise SpecError(
                f"{short_repr(layer)} is not a layer index 0..{num_layers - 1}",
                field=f"{field}[{i}]",
                fix=fix,
            )
        if layer in seen:
            raise SpecError(f"layer {layer} is listed twice", field=f"{field}[{i}]", fix=fix)
        seen.add(layer)
    return list(layers)


def check_leading_layers(count: Any, num_layers: int, field: str, layers_field: str) -> int:
    """``count`` as a number of leading layers, 0 to ``num_layers``; else a SpecError naming
    ``field``."""
    if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= num_layers:
        raise SpecError(
            f"{short_repr(count)} is not a number of layers 0..{num_layers}",
            field=field,
            fix=f"at most {layers_field}={num_layers}",
        )
    return count
