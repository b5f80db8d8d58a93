"""LLM features of the transformer family and their ops: mixture of experts (experts touched,
skew, exact counting), multi-head latent attention (compressed KV cache, absorbed decode),
sliding windows, tied embeddings, parallel residual.

Expected values are formulas derived in comments from the architectures (model configs in
``tests/data/hf_configs``; MLA: DeepSeek-V2, https://arxiv.org/abs/2405.04434, Section 2.1).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import roofline as rl
from roofline.counting import coefficients, count_graph
from roofline.families.transformer import active_params
from roofline.importers.hf_config import from_hf_config
from roofline.ops import REGISTRY
from roofline.ops.moe import expert_probabilities
from roofline.testing.reference import count_graph_reference

CONFIGS = Path(__file__).parent / "data" / "hf_configs"


def _hf(name: str, **overrides):
    return from_hf_config(CONFIGS / f"{name}.json", **overrides)


def _config(name: str) -> dict:
    return json.loads((CONFIGS / f"{name}.json").read_text(encoding="utf-8"))


def _moe(**fields):
    base = dict(hidden_size=64, intermediate_size=32, num_experts=8, top_k=2)
    return REGISTRY["moe"](kind="moe", name="moe", **{**base, **fields})


# -- mixture of experts ----------------------------------------------------------------------


def test_experts_touched_under_uniform_routing():
    op = _moe(tokens=1)
    t = np.array([1.0, 2.0, 5.0, 64.0, 4096.0])
    expected = 8 * (1 - (1 - 2 / 8) ** t)  # E (1 - (1 - k/E)^T)
    np.testing.assert_allclose(op.experts_touched(t), expected, rtol=1e-12)
    assert op.experts_touched(1.0) == pytest.approx(2)  # one token: exactly its k experts
    assert op.experts_touched(4096.0) == pytest.approx(8)  # a large batch reads every expert
    c = op.counts(t)
    # routed experts read when touched (3 d f each); router E d always
    np.testing.assert_allclose(c.weight_read, expected * 3 * 64 * 32 + 8 * 64, rtol=1e-12)


@pytest.mark.parametrize(("experts", "k"), [(8, 2), (64, 6), (256, 8), (4, 4)])
@pytest.mark.parametrize("skew", [0.0, 0.3, 1.0, 3.0])
def test_skew_keeps_k_per_token_and_concentrates_traffic(experts, k, skew):
    p = expert_probabilities(experts, k, skew)
    assert p.sum() == pytest.approx(k) and np.all(p <= 1 + 1e-12) and np.all(np.diff(p) <= 1e-15)
    uniform = _moe(num_experts=experts, top_k=k)
    skewed = _moe(num_experts=experts, top_k=k, routing_skew=skew)
    t = np.array([1.0, 3.0, 16.0, 256.0])
    assert skewed.experts_touched(1.0) == pytest.approx(k)  # k distinct experts per token
    assert np.all(skewed.experts_touched(t) <= uniform.experts_touched(t) + 1e-9)
    if skew == 0:
        np.testing.assert_allclose(p, k / experts)


def test_moe_flops_do_not_depend_on_routing():
    t = np.array([1.0, 7.0, 300.0])
    for skew in (0.0, 2.0):
        op = _moe(tokens=3, routing_skew=skew, shared_intermediate_size=16)
        flops = sum(g.flops for g in op.counts(t).gemms)
        T = 3 * t  # router 2 T d E + k experts x 3 GEMMs of d x f + shared 3 d fs
        np.testing.assert_allclose(flops, 2 * T * (64 * 8 + 2 * 3 * 64 * 32 + 3 * 64 * 16))


def test_mixtral_is_counted_exactly_at_every_batch():
    model = _hf("mixtral_8x7b", phase="decode", context_len=1024)
    co = coefficients(model.graph)
    assert [model.graph.ops[i].kind for i in np.flatnonzero(co.exact)] == ["moe"]
    batch = [1, 2, 3, 16, 64, 1000]
    fast = count_graph(model.graph, batch, "fp16")
    ref = count_graph_reference(model.graph, batch, "fp16")
    for name, want in ref.columns.items():
        np.testing.assert_allclose(fast.columns[name], want, rtol=1e-12, err_msg=name)
    moe = fast.kinds.index("moe")
    per_layer = 3 * 4096 * 14336 * 2  # one expert, fp16
    touched = 8 * (1 - (1 - 2 / 8) ** np.array(batch, dtype=float))
    np.testing.assert_allclose(
        fast.weight_read_bytes[moe], 32 * (touched * per_layer + 8 * 4096 * 2), rtol=1e-12
    )
    # concave: the weight bytes per sequence fall with the batch
    assert np.all(np.diff(fast.weight_read_bytes[moe] / np.array(batch)) < 0)


def test_active_params_of_a_dense_model_are_all_params():
    model = _hf("llama2_7b")
    assert active_params(model.graph) == count_graph(model.graph, 1).weight_elems.sum()


def test_moe_layer_pattern():
    v3 = _hf("deepseek_v3")
    names = [op.name for op in v3.graph.ops]
    assert "model.layers.0-2.mlp.gate_proj" in names  # first_k_dense_replace = 3
    moe = next(op for op in v3.graph.ops if op.kind == "moe")
    assert moe.name == "model.layers.3-60.mlp" and moe.repeat == 58
    assert (moe.num_experts, moe.top_k, moe.intermediate_size) == (256, 8, 2048)
    assert moe.shared_intermediate_size == 2048 and not moe.shared_expert_gate
    qwen = next(op for op in _hf("qwen1_5_moe_a2_7b").graph.ops if op.kind == "moe")
    assert qwen.shared_intermediate_size == 5632 and qwen.shared_expert_gate
    sparse = _hf("qwen1_5_moe_a2_7b").with_params(moe_layer_step=2, dense_layers=[5])
    moes = [op for op in sparse.graph.ops if op.kind == "moe"]
    assert [op.name for op in moes] == ["model.layers.1,3,7,9,11,13,15,17,19,21,23.mlp"]


# -- multi-head latent attention --------------------------------------------------------------


def test_mla_kv_cache_holds_the_latent():
    model = _hf("deepseek_v3", phase="decode", context_len=4096)
    t = count_graph(model.graph, [1, 8], "fp16")
    # kv_lora_rank + qk_rope_head_dim = 512 + 64 elements per token and layer, 61 layers
    per_token = 61 * (512 + 64) * 2
    np.testing.assert_allclose(t.kv_footprint_bytes.sum(0), np.array([1, 8]) * 4096 * per_token)
    np.testing.assert_allclose(t.kv_bytes.sum(0), np.array([1, 8]) * 4097 * per_token)
    # 70,272 B per token: 1/57 of the 2 x 128 heads x (192 + 128) / 2 full K/V would need
    assert per_token == 70_272


def test_mla_absorbed_decode_flops():
    p = _config("deepseek_v3")
    h, r, rope, nope, v, ctx = 128, 512, 64, 128, 128, 1000
    model = _hf("deepseek_v3", phase="decode", context_len=ctx)
    attn = [i for i, op in enumerate(model.graph.ops) if op.kind == "latent_attention"]
    t = count_graph(model.graph, 1)
    # per layer: q_nope -> latent (h x nope x r), scores over the latent (h x ctx x (r + rope)),
    # context in the latent (h x ctx x r), latent -> v (h x r x v); 2 FLOPs per MAC
    per_layer = 2 * h * (nope * r + ctx * (r + rope) + ctx * r + r * v)
    assert t.flops_mac[attn].sum() == p["num_hidden_layers"] * per_layer
    expanded = _hf("deepseek_v3", phase="decode", context_len=ctx, mla_absorb=False)
    # transformers expands every cached latent to K and V each step: far more work
    assert count_graph(expanded.graph, 1).flops_mac.sum() > 5 * t.flops_mac.sum()


# -- attention span, tied embeddings, parallel residual ------------------------------------------


@pytest.mark.parametrize("context", [1000, 4096, 16384])
def test_sliding_window_bounds_the_decode_cache(context):
    t = count_graph(_hf("mistral_7b", phase="decode", context_len=context).graph, 1, "fp16")
    per_token = 2 * 32 * 8 * 128 * 2  # K and V x 32 layers x 8 KV heads x 128 x fp16
    assert t.kv_footprint_bytes.sum() == min(context, 4096) * per_token


def test_gemma2_alternates_sliding_and_global_layers():
    model = _hf("gemma2_9b", phase="decode", context_len=8192)
    attn = [op for op in model.graph.ops if op.kind == "attention"]
    assert [(op.name, op.kv_len, op.repeat) for op in attn] == [
        ("model.layers.0-40:2.self_attn", 4096, 21),
        ("model.layers.1-41:2.self_attn", 8192, 21),
    ]
    norms = [op.name for op in model.graph.ops if op.name.startswith("model.layers.0-40:2.")]
    assert sum("layernorm" in n for n in norms) == 4  # input, post-attn, pre- and post-FFN


def test_tied_embeddings_count_once_and_read_the_head():
    model = _hf("gpt2", phase="decode", context_len=1024)
    t = count_graph(model.graph, 1, "fp32")
    wte = t.names.index("model.embed_tokens")
    assert t.kinds[wte] == "tied_embedding" and t.weight_elems[wte] == 0
    head = t.names.index("lm_head")
    assert t.weight_elems[head] == 50257 * 768  # the shared table, once
    assert t.weight_read_bytes[wte, 0] == 768 * 4  # one token's row


PARALLEL = [("gpt_j_6b", 1), ("gpt_neox_20b", 2), ("falcon_7b", 1), ("falcon_40b", 2)]


@pytest.mark.parametrize(("name", "norms"), PARALLEL)
def test_parallel_residual(name, norms):
    model = _hf(name)
    layer = [op for op in model.graph.ops if op.name.startswith("model.layers.")]
    assert sum(op.kind == "layernorm" for op in layer) == norms
    (add,) = [op for op in layer if op.kind == "elementwise"]
    assert add.num_inputs == 3  # x + attention + MLP in one add


def test_a_fused_moe_kernel_still_writes_its_expert_activations():
    """ops/moe.py: the router scores and expert activations are written and read once each. A
    residual add fused after the layer removes the output's round trip, not those: the fused
    kernel's writes are the layer's intermediates plus the add's output (they were the add's
    output alone, so fusion dropped the intermediates' writes)."""
    model = rl.load_model("mixtral_8x7b").with_params(phase="prefill", seq_len=16)
    graph = model.graph
    unfused = count_graph(graph, [4], "fp16", fuse=False)
    fused = count_graph(graph, [4], "fp16", fuse=True)
    moe = next(i for i, k in enumerate(unfused.kinds) if k == "moe")
    add = moe + 1
    assert graph.nodes[add].op.epilogue and fused.names[list(fused.names).index(unfused.names[moe])]
    out = graph.tensor_sizes()[graph.nodes[moe].output] * graph.nodes[moe].op.repeat * 4
    row = list(fused.names).index(unfused.names[moe])
    own = unfused.act_out_elems[moe, 0] - out
    assert own > 0
    assert fused.act_out_elems[row, 0] == own + unfused.act_out_elems[add, 0]
    # the add reads the layer's output inside the kernel: only that leaves the reads
    reads = unfused.act_in_elems[moe, 0] + unfused.act_in_elems[add, 0] - out
    assert fused.act_in_elems[row, 0] == reads


@pytest.mark.parametrize("policy", ["single", "capacity"])
def test_generate_fuses_moe_layers_as_evaluate_does(policy):
    """rl.generate (counts scaled per stage, then fused) subtracted the MoE layer's whole writes,
    intermediates included, from the fused kernel's reads: ttft 5.7% below evaluate's prefill
    for Mixtral 8x7B on a B200 under the single-level policy."""
    model = rl.load_model("mixtral_8x7b")
    row = rl.generate(model, "b200", prompt=64, output=2, batch=16, dtype="fp16", policy=policy)
    g = row.to_records()[0]
    pre = model.with_params(phase="prefill", seq_len=64)
    dec = model.with_params(phase="decode", context_len=65)
    kw = dict(batch=[16], dtype="fp16", policy=policy)
    assert g["ttft_bound_s"] == pytest.approx(
        rl.evaluate(pre, "b200", **kw).latency_bound_s[0, 0], rel=1e-12
    )
    assert g["tpot_bound_s"] == pytest.approx(
        rl.evaluate(dec, "b200", **kw).latency_bound_s[0, 0], rel=1e-12
    )
