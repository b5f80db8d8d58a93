"""Language families: seq2seq (recurrent NMT) and transformer (BERT, Llama).

Expected values are published parameter counts or formulas written from the architectures.
"""

from __future__ import annotations

import numpy as np
import pytest

from roofline.counting import count_graph
from roofline.families import FAMILIES
from roofline.presets import load_model

BATCHES = [1, 2, 3, 8]


def _costs(model, batch=BATCHES, precision="fp32"):
    return count_graph(model.graph, batch, precision)


def _rows(table, kind):
    return [i for i, k in enumerate(table.kinds) if k == kind]


def _rnn_params(gates: int, inp: int, hidden: int, layers: int, dirs: int = 1) -> int:
    """torch.nn.LSTM/GRU parameters: G*H*(I + H) + 2*G*H per layer and direction."""
    total = 0
    for layer in range(layers):
        i = inp if layer == 0 else hidden * dirs
        total += dirs * (gates * hidden * (i + hidden) + 2 * gates * hidden)
    return total


# --- seq2seq ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "gates"), [("seq2seq_lstm", 4), ("seq2seq_gru", 3)])
def test_seq2seq_params_by_formula(name, gates):
    p = load_model(name).params
    v, e, h = p.tgt_vocab_size, p.embedding_dim, p.hidden_size
    expected = (
        p.src_vocab_size * e  # encoder embeddings
        + _rnn_params(gates, e, h, 1, dirs=2)  # bidirectional bottom layer (GNMT)
        + _rnn_params(gates, 2 * h, h, p.encoder_layers - 1)
        + v * e  # decoder embeddings
        + _rnn_params(gates, e + h, h, p.decoder_layers)  # input feeding: [embedding; h~]
        + h * h  # attention linear_in (no bias)
        + 2 * h * h  # attention linear_out (no bias)
        + (h + 1) * v  # generator (with bias)
    )
    model = load_model(name).with_params(view="translate")
    params = _costs(model, 1).columns["weight_elems"].sum()
    assert params == expected
    # Park et al. 2018, Table 1: seq2seq models have 100M-1B parameters
    assert 100e6 <= params <= 1e9


def test_gnmt_lstm_param_figure():
    # 252,615,936 = the same modules built with torch.nn (LSTM, Embedding, Linear) and counted
    # with sum(p.numel()); written out so the figure is visible
    model = load_model("seq2seq_lstm").with_params(view="translate")
    assert _costs(model, 1).columns["weight_elems"].sum() == 252_615_936


@pytest.mark.parametrize("name", ["seq2seq_lstm", "seq2seq_gru"])
def test_decode_step_is_matrix_vector(name):
    model = load_model(name)
    p = model.params
    assert p.view == "decode_step" and p.beam_size == 4
    t = _costs(model)
    b = np.asarray(BATCHES, dtype=float)
    c = t.columns
    for i in _rows(t, "linear"):
        op = model.graph.ops[i]
        w = op.in_features * op.out_features
        expected = 2 * b * p.beam_size * w / (w + (op.out_features if op.bias else 0))
        np.testing.assert_allclose(c["flops_matrix"][i] / c["weight_elems"][i], expected)
        if not op.bias:  # FLOPs per weight = 2 x batch x beam exactly
            per_weight = c["flops_matrix"][i] / c["weight_elems"][i]
            np.testing.assert_allclose(per_weight, 2 * b * p.beam_size)
    (rnn,) = _rows(t, p.cell)
    g = 4 if p.cell == "lstm" else 3
    h = p.hidden_size
    macs = g * h * (p.embedding_dim + h + h) + (p.decoder_layers - 1) * g * h * 2 * h
    np.testing.assert_allclose(c["flops_matrix"][rnn], 2 * b * p.beam_size * macs)
    assert c["weight_elems"][rnn] == macs + p.decoder_layers * 2 * g * h
    # every GEMM of the FC and recurrent layers has M = batch x beam rows
    for j, op_index in enumerate(t.gemm_op):
        if t.kinds[op_index] in ("linear", p.cell):
            np.testing.assert_array_equal(t.gemm_m[j], b * p.beam_size)
    # Park et al. Table 1: 2-20 FLOPs per weight for batch x beam of 1-10 (here 1-2 sentences)
    fc = [i for i in _rows(t, "linear") if not model.graph.ops[i].bias]
    ratio = c["flops_matrix"][fc, :2].sum(0) / c["weight_elems"][fc].sum()
    assert np.all((ratio >= 2) & (ratio <= 20))


def test_decode_step_attention_and_state():
    model = load_model("seq2seq_lstm")
    p = model.params
    t = _costs(model, 2)
    names = list(t.names)
    a = names.index("decoder.attn")
    hm, s, k = p.hidden_size, p.source_len, p.beam_size  # unidirectional top encoder layer
    # scores and context: 2 GEMMs of beam x source_len x H_enc per sentence
    assert t.columns["flops_matrix"][a, 0] == 2 * 2 * 2 * k * s * hm
    assert t.columns["act_in_elems"][a, 0] == 2 * (k * hm + 2 * s * hm)
    r = names.index("decoder.rnn")
    h, layers = p.hidden_size, p.decoder_layers
    state = 2 * h * layers  # h and c of every layer, read and written once per step
    per_hypothesis = (p.embedding_dim + h) + h * (layers - 1) + state  # input, between layers
    assert t.columns["act_in_elems"][r, 0] == 2 * k * per_hypothesis


def test_translate_is_encode_plus_target_len_steps():
    base = load_model("seq2seq_lstm")
    enc = _costs(base.with_params(view="encode")).columns
    dec = _costs(base).columns
    tr = _costs(base.with_params(view="translate")).columns
    n = base.params.target_len
    for f in ("flops_matrix", "flops_vector", "weight_read_bytes", "act_out_elems"):
        np.testing.assert_allclose(tr[f].sum(0), enc[f].sum(0) + n * dec[f].sum(0))
    # the steps share the decoder's weights: the footprint counts them once
    assert tr["weight_elems"].sum() == enc["weight_elems"].sum() + dec["weight_elems"].sum()


def test_recurrent_sequences_and_carry_state():
    from roofline.ops import REGISTRY

    lstm = REGISTRY["lstm"]
    one = lstm(kind="lstm", name="a", input_size=64, hidden_size=32, seq_len=5, num_layers=2)
    beams = one.model_copy(update={"sequences": 3})
    for field in ("act_in", "act_out", "vector_flops"):
        assert getattr(beams.counts(2), field) == getattr(one.counts(6), field)
    assert beams.counts(2).weight == one.counts(6).weight
    assert sum(g.flops for g in beams.counts(2).gemms) == sum(g.flops for g in one.counts(6).gemms)
    carried = one.model_copy(update={"carry_state": True})
    assert carried.counts(1).act_in - one.counts(1).act_in == 2 * 32 * 2  # (h, c) x H x layers
    gru = REGISTRY["gru"](kind="gru", name="g", input_size=8, hidden_size=4, carry_state=True)
    assert gru.counts(1).act_out == 4 + 4  # output step + final h


def test_seq2seq_validation():
    model = load_model("seq2seq_lstm")
    with pytest.raises(ValueError, match="encoder_bidirectional_layers=9 exceeds"):
        model.with_params(encoder_bidirectional_layers=9)
    with pytest.raises(ValueError, match="attention='dot' needs"):
        model.with_params(encoder_bidirectional_layers=8, attention="dot")
    dot = model.with_params(attention="dot")  # a unidirectional top layer: H_enc = H
    assert "decoder.attn.linear_in" not in [o.name for o in dot.graph.ops]


# --- transformer -----------------------------------------------------------------------------

PUBLISHED_PARAMS = {
    # Hugging Face transformers: BertModel (with pooler) and LlamaForCausalLM, sum(p.numel())
    "bert_base": 109_482_240,
    "bert_large": 335_141_888,
    "llama2_7b": 6_738_415_616,  # Touvron et al. 2023 "7B"
    "llama3_8b": 8_030_261_248,  # Llama 3 "8B"
}


@pytest.mark.parametrize("name", sorted(PUBLISHED_PARAMS))
def test_transformer_params_published(name):
    model = load_model(name)
    assert _costs(model, 1).columns["weight_elems"].sum() == PUBLISHED_PARAMS[name]
    assert len(model.graph.ops) < 25  # one op per module, repeat = num_layers


@pytest.mark.parametrize("name", ["bert_base", "bert_large"])
def test_bert_flops_by_formula(name):
    p = load_model(name).params
    s, n, h, i = p.seq_len, p.num_layers, p.hidden_size, p.intermediate_size
    # QKV + output (4 h^2) and FFN (2 h i) MACs per token and layer, QK^T and PV (2 s^2 h) per
    # layer, pooler (h^2) on one token; 2 FLOPs per MAC (torch's FLOP counter agrees exactly)
    expected = 2 * s * n * (4 * h * h + 2 * h * i) + 4 * n * s * s * h + 2 * h * h
    t = _costs(load_model(name))
    np.testing.assert_allclose(t.columns["flops_mac"].sum(0), np.asarray(BATCHES) * expected)


def _llama_linear_weights(p) -> int:
    kv = p.kv_heads * p.head_dim
    per_layer = (
        2 * p.hidden_size**2 + 2 * p.hidden_size * kv + 3 * p.hidden_size * p.intermediate_size
    )
    return p.num_layers * per_layer


@pytest.mark.parametrize("name", ["llama2_7b", "llama3_8b"])
def test_llama_decode_and_prefill_flops(name):
    model = load_model(name)
    p = model.params
    assert p.phase == "decode"
    ctx, n, h = p.context_len, p.num_layers, p.hidden_size
    head = p.vocab_size * h
    # decode: every linear weight is one MAC for the new token; attention reads ctx keys/values
    decode = 2 * (_llama_linear_weights(p) + head) + 4 * n * p.num_heads * ctx * p.head_dim
    flops = _costs(model).columns["flops_mac"].sum(0)
    np.testing.assert_allclose(flops, np.asarray(BATCHES) * decode)
    # decode FCs are matrix-vector: 2 FLOPs per weight per sequence
    t = _costs(model)
    lin = _rows(t, "linear")
    per_weight = t.columns["flops_matrix"][lin].sum(0) / t.columns["weight_elems"][lin].sum()
    np.testing.assert_allclose(per_weight, 2 * np.asarray(BATCHES))
    s = 512
    pre = model.with_params(phase="prefill", seq_len=s)
    prefill = 2 * s * _llama_linear_weights(p) + 2 * head + 4 * n * s * s * h  # lm_head: 1 token
    np.testing.assert_allclose(_costs(pre, 1).columns["flops_mac"].sum(), prefill)


@pytest.mark.parametrize("name", ["llama2_7b", "llama3_8b"])
@pytest.mark.parametrize("precision", ["fp16", "fp32"])
def test_kv_cache_bytes_by_formula(name, precision):
    model = load_model(name)
    p = model.params
    nbytes = {"fp16": 2, "fp32": 4}[precision]
    per_token = 2 * p.num_layers * p.kv_heads * p.head_dim * nbytes  # K and V, every layer
    t = _costs(model, BATCHES, precision)
    b = np.asarray(BATCHES)
    np.testing.assert_allclose(
        t.columns["kv_footprint_bytes"].sum(0), b * per_token * p.context_len
    )
    # a decode step reads the whole cache and appends the new token's K and V
    np.testing.assert_allclose(t.columns["kv_bytes"].sum(0), b * per_token * (p.context_len + 1))
    if name == "llama2_7b" and precision == "fp16":
        assert t.columns["kv_footprint_bytes"].sum(0)[0] == 2**30  # 1 GiB at 2048 tokens


def test_bert_has_no_kv_cache_and_gqa_shrinks_it():
    assert _costs(load_model("bert_base")).columns["kv_footprint_bytes"].sum() == 0
    l2 = _costs(load_model("llama2_7b"), 1).columns["kv_footprint_bytes"].sum()
    l3 = _costs(load_model("llama3_8b"), 1).columns["kv_footprint_bytes"].sum()
    assert l2 == 4 * l3  # 32 vs 8 KV heads at equal layers, head_dim and context


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"hidden_size": 4100}, "hidden_size=4100 is not divisible by num_heads=32"),
        ({"num_kv_heads": 5}, "num_heads=32 is not divisible by num_kv_heads=5"),
        ({"context_len": 5000}, "context_len=5000 exceeds max_position_embeddings=4096"),
    ],
)
def test_transformer_validation(changes, message):
    with pytest.raises(ValueError, match=message):
        load_model("llama2_7b").with_params(**changes)


def test_encoder_rejects_decode():
    with pytest.raises(ValueError, match="phase='decode' needs architecture='decoder'"):
        load_model("bert_base").with_params(phase="decode")


def test_families_registered():
    for fam in ("seq2seq", "transformer"):
        assert FAMILIES[fam].params.model_fields
