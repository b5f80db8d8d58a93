"""Hugging Face ``config.json`` -> a ``transformer``-family model.

:func:`from_hf_config` reads a config (a mapping or a path) of one of :data:`MODEL_TYPES`,
maps it to :class:`~roofline.families.transformer.TransformerParams` and builds the model, with
no ``transformers`` import. Fields a config omits take the default of that model type's
``transformers`` config class (version 5); the sizes (vocabulary, width, layers, heads, feed-
forward and expert widths, MLA ranks) are required. Decoders are mapped to their
``*ForCausalLM`` module (lm_head included), BERT to ``BertModel`` with its pooler; parameters
equal ``sum(p.numel())`` of those modules. Keys starting with ``_`` (``_name_or_path``, and
``_source`` for where a config was copied from) and settings that change no count (dropout,
token ids, RoPE scaling, quantization) are ignored.

How each model type is modeled: llama, mistral, mixtral, qwen2, qwen2_moe, gemma, gemma2, phi3,
deepseek_v2/v3 are pre-RMSNorm decoders with rotary positions and a gated MLP (SwiGLU; GeGLU for
Gemma); gpt2 (learned positions, GELU MLP), gptj and gpt_neox (parallel residual, partial
rotary) and falcon (multi-query or grouped K/V, parallel attention) are pre-LayerNorm; bert is
the post-norm encoder. Biases follow each module (Qwen2: q/k/v only; GPT-J: MLP and lm_head);
sliding windows follow the config's ``layer_types`` rule; MoE layers follow
``first_k_dense_replace``, ``decoder_sparse_step`` and ``mlp_only_layers``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from roofline.errors import SpecError, short_repr
from roofline.families.transformer_params import (
    check_layer_indices,
    check_layer_types,
    check_leading_layers,
)
from roofline.field_checks import check_value
from roofline.input_files import read_json
from roofline.model import Model, build_model
from roofline.suggest import did_you_mean

_MISSING = object()
Params = dict[str, Any]

#: HF aliases (``attribute_map`` of GPT-2 / GPT-J / Falcon configs): name -> alternatives
_ALIASES = {
    "hidden_size": ("n_embd", "n_embed"),
    "num_hidden_layers": ("n_layer",),
    "num_attention_heads": ("n_head",),
    "max_position_embeddings": ("n_positions",),
    "intermediate_size": ("n_inner",),
}


class _Config:
    """A config mapping that names the field and the fix when something is missing or wrong."""

    def __init__(self, data: Mapping[str, Any], file: str | None) -> None:
        self.data, self.file = data, file

    def get(self, key: str, default: Any = _MISSING) -> Any:
        """The value of ``key`` (or an alias); ``default`` when absent or null; else SpecError."""
        for k in (key, *_ALIASES.get(key, ())):
            if self.data.get(k) is not None:
                return self.data[k]
        if default is _MISSING:
            raise self.error(key, "required field is missing", "copy it from the model's config")
        return default

    def raw(self, key: str, default: Any) -> Any:
        """The value of ``key`` as written, null included (null means "none" for a window or a
        low-rank width); ``default`` when the key is absent."""
        return self.data.get(key, default)

    def size(self, key: str, default: Any = _MISSING) -> int:
        """A positive integer field (at most 2**53: checked before any per-layer list)."""
        return self._integer(key, default, 1, "a positive integer")

    def count(self, key: str, default: Any = _MISSING) -> int:
        """A non-negative integer field, at most 2**53."""
        return self._integer(key, default, 0, "a non-negative integer")

    def _integer(self, key: str, default: Any, least: int, what: str) -> int:
        value = self.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise self.error(key, f"{short_repr(value)} is not {what}", "use the model's value")
        self._plain("int", key, value)
        return value

    def flag(self, key: str, default: bool) -> bool:
        """A boolean field: JSON ``true`` or ``false`` (``default`` when absent or null)."""
        value = self.get(key, default)
        self._plain("bool", key, value)
        return bool(value)

    def mapping(self, key: str) -> Mapping[str, Any]:
        """An object field (``{}`` when absent or null)."""
        value = self.get(key, {})
        if not isinstance(value, Mapping):
            raise self.error(
                key, f"{short_repr(value)} is not an object", "give a JSON object {...}"
            )
        return value

    def fraction(self, key: str, value: Any) -> float:
        """``value`` (read from ``key``) as a number in (0, 1]."""
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 1:
            raise self.error(
                key, f"{short_repr(value)} is not a share in (0, 1]", "e.g. 0.25 or 1.0"
            )
        return float(value)

    def _plain(self, kind: str, key: str, value: Any) -> None:
        """``value`` held to :func:`roofline.field_checks.check_value` before it is used (a count
        an integer at most 2**53, a flag ``true`` or ``false``), the error naming ``key``."""
        if value is None:
            return  # null: nothing to check (as check_fields)
        try:
            check_value(kind, value, key)
        except SpecError as exc:
            raise self.error(key, exc.problem, exc.fix) from None

    def error(self, key: str, problem: str, fix: str | None) -> SpecError:
        return SpecError(problem, file=self.file, field=key, fix=fix)


def _partial_rotary(c: _Config, key: str) -> float:
    """The share of each head RoPE rotates: ``key``, else ``rope_parameters``' own, else 1."""
    if c.get(key, None) is not None:
        return c.fraction(key, c.get(key))
    rope = c.mapping("rope_parameters")
    if rope.get("partial_rotary_factor") is not None:
        return c.fraction("rope_parameters.partial_rotary_factor", rope["partial_rotary_factor"])
    return 1.0


def _decoder(c: _Config, kv_default: int | None, tie: bool, max_pos: int) -> Params:
    """The fields every rotary pre-RMSNorm decoder shares (Llama and its descendants)."""
    heads = c.size("num_attention_heads")
    act = c.get("hidden_activation", None) or c.get("hidden_act", "silu")
    if act in ("silu", "swish"):
        ffn = "swiglu"
    elif str(act).startswith("gelu"):
        ffn = "geglu"
    else:
        raise c.error("hidden_act", f"{act!r} is not modeled", "supported: silu, gelu*")
    return {
        "architecture": "decoder",
        "vocab_size": c.size("vocab_size"),
        "hidden_size": c.size("hidden_size"),
        "num_layers": c.size("num_hidden_layers"),
        "num_heads": heads,
        "num_kv_heads": c.size("num_key_value_heads", kv_default or heads),
        # null derives it (hidden_size / heads), as transformers does; 0 is no head width
        "attention_head_dim": None if c.get("head_dim", None) is None else c.size("head_dim"),
        "intermediate_size": c.size("intermediate_size"),
        "ffn": ffn,
        "norm": "rmsnorm",
        "norm_position": "pre",
        "bias": False,
        "position_embedding": "rotary",
        "partial_rotary_factor": _partial_rotary(c, "partial_rotary_factor"),
        "max_position_embeddings": c.size("max_position_embeddings", max_pos),
        "lm_head": True,
        "tie_word_embeddings": c.flag("tie_word_embeddings", tie),
    }


def _sliding(c: _Config, rule: Callable[[int], bool], window: int | None) -> Params:
    """Sliding-window fields: ``layer_types`` from the config, else from ``rule(layer)``."""
    layers = c.size("num_hidden_layers")  # at most 2**53 before a list of that length is built
    given = c.get("layer_types", None)
    if given is not None:
        given = check_layer_types(given, layers, "layer_types", "num_hidden_layers")
    if window is None:
        return {}
    types = given or ["sliding_attention" if rule(i) else "full_attention" for i in range(layers)]
    if "sliding_attention" not in types:
        return {}
    if isinstance(window, bool) or not isinstance(window, int) or window < 1:
        raise c.error("sliding_window", f"{window!r} is not a positive integer", "or null")
    return {"sliding_window": window, "layer_types": list(types)}


def _llama(c: _Config) -> Params:
    bias = c.flag("attention_bias", False)
    p = _decoder(c, None, False, 2048)
    return {**p, "qkv_bias": bias, "o_bias": bias, "mlp_bias": c.flag("mlp_bias", False)}


def _mistral(c: _Config) -> Params:
    p = _decoder(c, 8, False, 4096 * 32)
    return {**p, **_sliding(c, lambda i: True, c.raw("sliding_window", 4096))}


def _mixtral(c: _Config) -> Params:
    p = _decoder(c, 8, False, 4096 * 32)
    moe = _moe(c, "num_local_experts", p["intermediate_size"])
    return {**p, **moe, **_sliding(c, lambda i: True, c.raw("sliding_window", None))}


def _moe(c: _Config, experts_key: str, width: int) -> Params:
    experts = c.size(experts_key)
    top_k = c.size("num_experts_per_tok")
    if top_k > experts:
        raise c.error(
            "num_experts_per_tok",
            f"{top_k} exceeds {experts_key}={experts}",
            f"route each token to at most {experts} experts",
        )
    return {"num_experts": experts, "num_experts_per_tok": top_k, "moe_intermediate_size": width}


def _qwen2(c: _Config) -> Params:
    p = _decoder(c, 32, False, 32768)
    window = c.raw("sliding_window", 4096) if c.flag("use_sliding_window", False) else None
    first = c.count("max_window_layers", 28)
    sliding = _sliding(c, lambda i: i >= first, window)
    return {**p, **sliding, "qkv_bias": True, "o_bias": False, "mlp_bias": False}


def _qwen2_moe(c: _Config) -> Params:
    p = _decoder(c, 16, False, 32768)
    window = c.raw("sliding_window", 4096) if c.flag("use_sliding_window", False) else None
    last = c.count("max_window_layers", 28)
    sliding = _sliding(c, lambda i: bool((i + 1) % 2) and i < last, window)
    p = {**p, **sliding, "qkv_bias": c.flag("qkv_bias", True), "o_bias": False}
    if not c.get("num_experts", 60):
        return p
    shared = c.get("shared_expert_intermediate_size", 5632)
    if isinstance(shared, bool) or not isinstance(shared, int) or shared < 1:
        raise c.error(
            "shared_expert_intermediate_size",
            f"{shared!r} does not fit a shared expert (Qwen-MoE always builds one)",
            "use the shared expert's hidden width, a positive integer",
        )
    return {
        **p,
        **_moe(c, "num_experts", c.size("moe_intermediate_size")),
        "num_shared_experts": 1,
        "shared_expert_intermediate_size": shared,
        "shared_expert_gate": True,
        "moe_layer_step": c.size("decoder_sparse_step", 1),
        "dense_layers": check_layer_indices(
            c.get("mlp_only_layers", []), p["num_layers"], "mlp_only_layers", "num_hidden_layers"
        ),
    }


def _gemma(c: _Config) -> Params:
    p = _decoder(c, 16, True, 8192)
    bias = c.flag("attention_bias", False)
    return {**p, "attention_head_dim": c.size("head_dim", 256), "qkv_bias": bias, "o_bias": bias}


def _gemma2(c: _Config) -> Params:
    p = {**_gemma(c), "num_kv_heads": c.size("num_key_value_heads", 4), "sandwich_norm": True}
    return {**p, **_sliding(c, lambda i: bool((i + 1) % 2), c.raw("sliding_window", 4096))}


def _phi3(c: _Config) -> Params:
    p = _decoder(c, None, False, 4096)
    return {**p, **_sliding(c, lambda i: True, c.raw("sliding_window", None))}


def _deepseek(c: _Config) -> Params:
    p = _decoder(c, None, False, 2048 if c.get("model_type") == "deepseek_v2" else 4096)
    bias = c.flag("attention_bias", False)
    mla = {
        "kv_lora_rank": c.size("kv_lora_rank"),
        # null: no query compression (transformers: q_proj); 0 is no width
        "q_lora_rank": None if c.raw("q_lora_rank", 1536) is None else c.size("q_lora_rank", 1536),
        "qk_nope_head_dim": c.size("qk_nope_head_dim"),
        "qk_rope_head_dim": c.size("qk_rope_head_dim"),
        "v_head_dim": c.size("v_head_dim"),
        "num_kv_heads": None,
        "qkv_bias": bias,
        "o_bias": bias,
        "mlp_bias": c.flag("mlp_bias", False),
    }
    moe = _moe(c, "n_routed_experts", c.size("moe_intermediate_size"))
    first_k = c.count("first_k_dense_replace", 0)
    return {
        **p,
        **mla,
        **moe,
        "num_shared_experts": c.count("n_shared_experts", 0),
        "first_k_dense_layers": check_leading_layers(
            first_k, p["num_layers"], "first_k_dense_replace", "num_hidden_layers"
        ),
    }


def _gpt2(c: _Config) -> Params:
    d = c.size("hidden_size")
    return {
        "architecture": "decoder",
        "vocab_size": c.size("vocab_size"),
        "hidden_size": d,
        "num_layers": c.size("num_hidden_layers"),
        "num_heads": c.size("num_attention_heads"),
        "intermediate_size": c.size("intermediate_size", 4 * d),
        "ffn": "gelu",
        "norm": "layernorm",
        "norm_position": "pre",
        "bias": True,
        "position_embedding": "learned",
        "max_position_embeddings": c.size("max_position_embeddings", 1024),
        "lm_head": True,
        "tie_word_embeddings": c.flag("tie_word_embeddings", True),
    }


def _gptj(c: _Config) -> Params:
    p = _gpt2(c)
    head = p["hidden_size"] // p["num_heads"]
    # transformers rotates rotary_dim dims of each head, all of them when it is null or 0
    rotary = head if c.raw("rotary_dim", 64) is None else c.count("rotary_dim", 64) or head
    if rotary > head:
        raise c.error(
            "rotary_dim",
            f"{rotary} exceeds the head width {head} (hidden_size / num_attention_heads)",
            f"rotate at most {head} dims per head",
        )
    return {
        **p,
        "position_embedding": "rotary",
        "partial_rotary_factor": rotary / head,
        "max_position_embeddings": c.size("max_position_embeddings", 2048),
        "parallel_residual": True,
        "parallel_norms": 1,
        "qkv_bias": False,
        "o_bias": False,
        "lm_head_bias": True,
        "tie_word_embeddings": c.flag("tie_word_embeddings", False),
    }


def _gpt_neox(c: _Config) -> Params:
    bias = c.flag("attention_bias", True)
    return {
        **_gpt2(c),
        "intermediate_size": c.size("intermediate_size"),
        "position_embedding": "rotary",
        "partial_rotary_factor": _partial_rotary(c, "rotary_pct"),
        "max_position_embeddings": c.size("max_position_embeddings", 2048),
        "parallel_residual": c.flag("use_parallel_residual", True),
        "parallel_norms": 2,
        "qkv_bias": bias,
        "o_bias": bias,
        "tie_word_embeddings": c.flag("tie_word_embeddings", False),
    }


def _falcon(c: _Config) -> Params:
    p = _gpt2(c)
    heads, new = p["num_heads"], c.flag("new_decoder_architecture", False)
    # K/V heads: grouped (new architecture), one (multi-query), or one per query head
    kv = c.size("num_kv_heads", heads) if new else (1 if c.flag("multi_query", True) else heads)
    parallel = c.flag("parallel_attn", True)
    norms = c.get("num_ln_in_parallel_attn", None) or (2 if new else 1)
    if isinstance(norms, bool) or norms not in (1, 2):
        raise c.error("num_ln_in_parallel_attn", f"{short_repr(norms)} is not 1 or 2", "or null")
    return {
        **p,
        "num_kv_heads": kv,
        "intermediate_size": c.size("ffn_hidden_size", 4 * p["hidden_size"]),
        "bias": c.flag("bias", False),
        "position_embedding": "rotary",  # or ALiBi: no parameters either way
        "max_position_embeddings": c.size("max_position_embeddings", 2048),
        "parallel_residual": parallel,
        "parallel_norms": norms,
    }


def _bert(c: _Config) -> Params:
    if c.get("position_embedding_type", "absolute") != "absolute":
        raise c.error(
            "position_embedding_type", "only absolute positions are modeled", "use 'absolute'"
        )
    return {
        "architecture": "encoder",
        "vocab_size": c.size("vocab_size"),
        "hidden_size": c.size("hidden_size"),
        "num_layers": c.size("num_hidden_layers"),
        "num_heads": c.size("num_attention_heads"),
        "intermediate_size": c.size("intermediate_size"),
        "ffn": "gelu",
        "norm": "layernorm",
        "norm_position": "post",
        "bias": True,
        "position_embedding": "learned",
        "max_position_embeddings": c.size("max_position_embeddings", 512),
        "type_vocab_size": c.count("type_vocab_size", 2),
        "pooler": True,
    }


#: model_type -> the mapping of its config to transformer-family parameters
MODEL_TYPES: dict[str, Callable[[_Config], Params]] = {
    "llama": _llama,
    "mistral": _mistral,
    "mixtral": _mixtral,
    "qwen2": _qwen2,
    "qwen2_moe": _qwen2_moe,
    "gemma": _gemma,
    "gemma2": _gemma2,
    "phi3": _phi3,
    "gpt2": _gpt2,
    "gptj": _gptj,
    "gpt_neox": _gpt_neox,
    "falcon": _falcon,
    "bert": _bert,
    "deepseek_v2": _deepseek,
    "deepseek_v3": _deepseek,
}


def read_hf_config(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The JSON object in ``path``; SpecError if unreadable or not an object."""
    data = read_json(path, what="a Hugging Face config.json")
    if not isinstance(data, dict):
        raise SpecError("a config.json holds a JSON object", file=str(path))
    return data


#: flags that add weights and work no model here has (an encoder-decoder's cross-attention):
#: refused rather than ignored, since ignoring them would miscount
_NOT_MODELED = ("add_cross_attention", "is_encoder_decoder")


def hf_params(config: Mapping[str, Any], file: str | None = None) -> dict[str, Any]:
    """Transformer-family parameters of a Hugging Face config mapping."""
    c = _Config(config, file)
    model_type = c.get("model_type")
    if not isinstance(model_type, str) or model_type not in MODEL_TYPES:
        supported = "supported: " + ", ".join(MODEL_TYPES)
        if not isinstance(model_type, str):  # a list or an object: no name to look up
            raise c.error(
                "model_type", f"{short_repr(model_type)} is not a model type name", supported
            )
        raise c.error(
            "model_type",
            f"unknown model_type {model_type!r}",
            did_you_mean(model_type, MODEL_TYPES, supported),
        )
    for key in _NOT_MODELED:
        if c.flag(key, False):
            raise c.error(key, "cross-attention to an encoder is not modeled", f"set {key} false")
    try:
        params = MODEL_TYPES[model_type](c)
    except SpecError as exc:  # a shared check (transformer_params) names the key, not the file
        raise exc.with_context(file=file) from None
    return {k: v for k, v in params.items() if v is not None}


def from_hf_config(
    config: Mapping[str, Any] | str | os.PathLike[str], name: str | None = None, **overrides: Any
) -> Model:
    """Return the model a Hugging Face ``config.json`` describes (a mapping or a path).

    Parameters
    ----------
    config : mapping or path
        The config's contents, or the path of a ``config.json``.
    name : str, optional
        Model name (default: the file's stem, else the config's ``_name_or_path``, else its
        ``model_type``).
    **overrides
        Transformer-family parameters to set on top, e.g. ``phase="decode"``,
        ``context_len=4096``, ``seq_len=1024``, ``routing_skew=0.5``.

    Raises
    ------
    SpecError
        Unknown ``model_type``, a missing or invalid field, an invalid override (one line naming
        the field and the fix).
    """
    file = None
    if isinstance(config, (str, os.PathLike)):
        file = str(config)
        data: Mapping[str, Any] = read_hf_config(config)
        default_name = Path(config).stem
    elif isinstance(config, Mapping):
        data = config
        default_name = str(data.get("_name_or_path") or data.get("model_type") or "model")
        default_name = default_name.rstrip("/").rsplit("/", 1)[-1]
    else:
        raise SpecError(
            f"a config is a mapping or a path, not {type(config).__name__}",
            field="config",
            fix="pass the config.json path or its parsed contents",
        )
    params = {**hf_params(data, file), **overrides}
    source = str(data.get("_source") or file or "a Hugging Face config mapping")
    spec = {
        "name": name or default_name,
        "family": "transformer",
        "description": f"{data.get('model_type')} from a Hugging Face config",
        "source": source,
        "params": params,
    }
    return build_model(spec, file=file or "<config>")


def load_hf_json(path: str | os.PathLike[str]) -> Model | None:
    """The model of a Hugging Face ``config.json`` at ``path``; None if the JSON has no
    ``model_type`` (not a Hugging Face config)."""
    data = read_hf_config(path)
    return from_hf_config(path) if "model_type" in data else None


__all__ = ["MODEL_TYPES", "from_hf_config", "hf_params", "load_hf_json", "read_hf_config"]
