"""Hugging Face configs: parameters, prefill and decode FLOPs and MoE active parameters equal what
``transformers`` itself counts.

References: ``tests/data/hf_configs/*.json`` are published ``config.json`` files (each with its
``_source``); ``tests/data/hf_reference.json`` holds, for each, ``sum(p.numel())`` of the
``transformers`` module and ``torch.utils.flop_counter`` over its forward (prefill at 128 and
512 tokens, one decode step at context 512), recorded by ``scripts/record_hf_reference.py``
(method and versions in the file). Conventions: our ``flops_mac`` column is what torch counts
(2 per multiply-accumulate over GEMMs; rotary embeddings, norms, softmax, the router's top-k
are vector work torch does not count, and we keep them out of ``flops_mac`` too); the lm_head
projects the last token only (recorded with ``logits_to_keep=1``); the router GEMM and every
token's k experts are GEMMs both sides. DeepSeek's multi-head latent attention decodes in the
absorbed form by default, which ``transformers`` does not (it expands the cached latents to K
and V each step): its decode step is compared with ``mla_absorb=False``, and the absorbed form
is checked by formula in ``test_llm_family.py``.

When ``transformers`` is installed, tiny versions of every config (same structure, small sizes)
are also built live on the CPU with random weights and real routing, and compared the same way.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import roofline as rl
from roofline.counting import count_graph
from roofline.families.transformer import active_params
from roofline.importers.hf_config import MODEL_TYPES, from_hf_config

DATA = Path(__file__).parent / "data"
CONFIGS = sorted((DATA / "hf_configs").glob("*.json"))
REFERENCE = json.loads((DATA / "hf_reference.json").read_text(encoding="utf-8"))
MODELS = REFERENCE["models"]
MLA = {"deepseek_v2", "deepseek_v3"}


def _config(name: str) -> dict[str, Any]:
    return json.loads((DATA / "hf_configs" / f"{name}.json").read_text(encoding="utf-8"))


def _params(model: rl.Model) -> float:
    return float(count_graph(model.graph, 1).weight_elems.sum())


def _flops(model: rl.Model) -> float:
    return float(count_graph(model.graph, 1).flops_mac.sum())


def test_every_config_is_sourced_recorded_and_covers_every_model_type():
    assert {p.stem for p in CONFIGS} == set(MODELS)
    types = set()
    for path in CONFIGS:
        data = json.loads(path.read_text(encoding="utf-8"))
        assert data["_source"].startswith("https://huggingface.co/"), path.name
        types.add(data["model_type"])
    assert types == set(MODEL_TYPES)
    assert REFERENCE["versions"]["transformers"] and REFERENCE["versions"]["torch"]


@pytest.mark.parametrize("name", sorted(MODELS))
def test_params_equal_transformers(name):
    assert _params(from_hf_config(DATA / "hf_configs" / f"{name}.json")) == MODELS[name]["params"]


@pytest.mark.parametrize("name", sorted(MODELS))
def test_prefill_flops_equal_torch_flop_counter(name):
    for seq_len, expected in MODELS[name]["prefill_flops"].items():
        model = from_hf_config(_config(name), seq_len=int(seq_len))
        assert _flops(model) == pytest.approx(expected, rel=1e-12), seq_len


@pytest.mark.parametrize("name", sorted(n for n in MODELS if "decode_flops" in MODELS[n]))
def test_decode_flops_equal_torch_flop_counter(name):
    extra = {"mla_absorb": False} if _config(name)["model_type"] in MLA else {}
    for context, expected in MODELS[name]["decode_flops"].items():
        model = from_hf_config(_config(name), phase="decode", context_len=int(context), **extra)
        assert _flops(model) == pytest.approx(expected, rel=1e-12), context


@pytest.mark.parametrize("name", sorted(n for n in MODELS if "active_params" in MODELS[n]))
def test_moe_active_params_equal_transformers(name):
    model = from_hf_config(_config(name))
    assert active_params(model.graph) == MODELS[name]["active_params"]


def test_published_model_sizes():
    # model cards: Mixtral-8x7B 46.7B total / 12.9B active (Jiang et al. 2024,
    # https://arxiv.org/abs/2401.04088); DeepSeek-V3 671B / 37B (https://arxiv.org/abs/2412.19437);
    # Qwen1.5-MoE-A2.7B 14.3B / 2.7B (https://qwenlm.github.io/blog/qwen-moe/)
    for name, total, active in [
        ("mixtral_8x7b", 46.7e9, 12.9e9),
        ("deepseek_v3", 671e9, 37e9),
        ("qwen1_5_moe_a2_7b", 14.3e9, 2.7e9),
    ]:
        model = from_hf_config(_config(name))
        assert _params(model) == pytest.approx(total, rel=0.01)
        assert active_params(model.graph) == pytest.approx(active, rel=0.02)


def test_load_model_reads_a_config_json_path():
    path = DATA / "hf_configs" / "mistral_7b.json"
    model = rl.load_model(str(path))
    assert model.name == "mistral_7b" and model.family == "transformer"
    assert _params(model) == MODELS["mistral_7b"]["params"]
    assert model.spec.source == _config("mistral_7b")["_source"]
    decode = from_hf_config(path, phase="decode", context_len=8192)
    attn = next(op for op in decode.graph.ops if op.kind == "attention")
    assert attn.kv_len == 4096  # the sliding window bounds the span and the cache


# -- live against transformers ----------------------------------------------------------------

TINY = {
    "hidden_size": 64,
    "n_embd": 64,
    "intermediate_size": 96,
    "n_inner": None,
    "num_hidden_layers": 4,
    "n_layer": 4,
    "vocab_size": 1000,
    "head_dim": 16,
    "moe_intermediate_size": 32,
    "shared_expert_intermediate_size": 48,
    "kv_lora_rank": 32,
    "qk_nope_head_dim": 16,
    "qk_rope_head_dim": 8,
    "v_head_dim": 16,
    "rotary_dim": 8,
    "sliding_window": 24,
    "max_window_layers": 2,
}


def _tiny(data: dict[str, Any]) -> dict[str, Any]:
    """The config with small sizes and the same structure (GQA ratio, MQA, MoE layout, MLA)."""
    out = {k: TINY.get(k, v) for k, v in data.items()}
    out.update(bos_token_id=None, eos_token_id=None, pad_token_id=None)
    heads_key = "n_head" if "n_head" in data else "num_attention_heads"
    heads = data[heads_key]
    out[heads_key] = 4
    for key in ("num_key_value_heads", "num_kv_heads"):
        if key in data:
            out[key] = 4 if data[key] == heads else (1 if data[key] == 1 else 2)
    if data.get("q_lora_rank"):
        out["q_lora_rank"] = 24
    for key in ("num_local_experts", "num_experts", "n_routed_experts"):
        if key in data:
            out[key] = 16
    if "num_experts_per_tok" in data:
        out["num_experts_per_tok"] = min(data["num_experts_per_tok"], 4)
    if data.get("n_group"):
        out.update(n_group=4, topk_group=2)
    if "first_k_dense_replace" in data:
        out["first_k_dense_replace"] = min(data["first_k_dense_replace"], 1)
    return out


@pytest.fixture(scope="module")
def transformers():
    pytest.importorskip("torch")
    hidden = "torchvision" not in sys.modules
    if hidden:  # the CPU torch wheel cannot import torchvision; transformers would try
        sys.modules["torchvision"] = None  # type: ignore[assignment]
    try:
        tf = pytest.importorskip("transformers")
        from transformers.utils import import_utils

        import_utils.is_torchvision_available()
        from transformers import AutoModel, AutoModelForCausalLM  # noqa: F401
    finally:
        if hidden:
            del sys.modules["torchvision"]
    return tf


@pytest.mark.parametrize("name", sorted(MODELS))
def test_tiny_versions_live_against_transformers(transformers, name):
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    data = _tiny(_config(name))
    cfg = {k: v for k, v in data.items() if not k.startswith("_") and k != "quantization_config"}
    config = transformers.AutoConfig.for_model(cfg.pop("model_type"), **cfg)
    causal = data["model_type"] != "bert"
    cls = transformers.AutoModelForCausalLM if causal else transformers.AutoModel
    torch.manual_seed(0)
    # eager experts: a loop of matmuls over the experts the (random) router picked
    moe = {"experts_implementation": "eager"} if hasattr(config, "num_experts_per_tok") else {}
    hf = cls.from_config(config, attn_implementation="eager", **moe).eval()
    ours = from_hf_config(data, seq_len=40)
    assert _params(ours) == sum(p.numel() for p in hf.parameters())
    ids = torch.randint(0, 1000, (1, 40))
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        hf(input_ids=ids, **({"logits_to_keep": 1} if causal else {}))
    # routed experts run on real (random) routing decisions: every token runs k experts
    assert _flops(ours) == pytest.approx(counter.get_total_flops(), rel=1e-12)
    experts = [m for m in hf.modules() if type(m).__name__.endswith("Experts")]
    if experts:
        k = config.num_experts_per_tok
        unused = sum(
            sum(p.numel() for p in m.parameters(recurse=False)) // m.num_experts for m in experts
        ) * (experts[0].num_experts - k)
        assert active_params(ours.graph) == sum(p.numel() for p in hf.parameters()) - unused
    assert np.isfinite(_flops(ours))
