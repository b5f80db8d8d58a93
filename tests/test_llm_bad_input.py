"""Bad LLM input gives one line naming the field and the fix: a ``SpecError`` from the API, exit 2
from the CLI (top_k beyond the experts, a shared-expert width that does not fit, a context beyond
max_position_embeddings, an unknown model_type, a missing config field). A config's field is
named as the config spells it (``mlp_only_layers``, not the family's ``params.dense_layers``);
its flags are JSON booleans, its per-layer lists hold known entries, one per layer, its layer
indices name layers that exist, and its sizes are bounded before any per-layer list is built."""

from __future__ import annotations

import json
import signal
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

import roofline as rl
from roofline.cli.main import main
from roofline.importers.hf_config import from_hf_config

CONFIGS = Path(__file__).parent / "data" / "hf_configs"


def _config(name: str, **changes) -> dict:
    data = json.loads((CONFIGS / f"{name}.json").read_text(encoding="utf-8"))
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None or k not in changes}


def _without(name: str, key: str) -> dict:
    data = _config(name)
    del data[key]
    return data


CASES = {
    "gpt2_with_cross_attention": (
        # adds a cross-attention block per layer that no model here has (was ignored: 124.4 M
        # parameters counted where HF's GPT-2 adds 12 x (4 d^2 + 6 d) = 28.4 M more)
        lambda: from_hf_config(_config("gpt2", add_cross_attention=True)),
        r"add_cross_attention: cross-attention to an encoder is not modeled \(set ",
    ),
    "an_encoder_decoder": (
        lambda: from_hf_config(_config("llama2_7b", is_encoder_decoder=True)),
        r"is_encoder_decoder: cross-attention to an encoder is not modeled",
    ),
    "top_k_beyond_experts": (
        lambda: from_hf_config(_config("mixtral_8x7b", num_experts_per_tok=10)),
        r"num_experts_per_tok: 10 exceeds num_local_experts=8 \(route each token to at most 8",
    ),
    "top_k_beyond_experts_params": (
        lambda: rl.load_model("llama2_7b").with_params(num_experts=8, num_experts_per_tok=9),
        r"params\.num_experts_per_tok: num_experts_per_tok=9 exceeds num_experts=8 \(route",
    ),
    "shared_width_does_not_fit": (
        # DeepSeek-V2-Lite has 2 shared experts: a total width of 3001 splits into no 2 equal ones
        lambda: from_hf_config(
            CONFIGS / "deepseek_v2_lite.json", shared_expert_intermediate_size=3001
        ),
        r"params\.shared_expert_intermediate_size: shared_expert_intermediate_size=3001 does "
        r"not fit num_shared_experts=2 \(use a multiple",
    ),
    "shared_width_without_shared_experts": (
        lambda: rl.load_model("llama2_7b").with_params(
            num_experts=8, shared_expert_intermediate_size=3000
        ),
        r"params\.shared_expert_intermediate_size: .* does not fit num_shared_experts=0",
    ),
    "qwen_shared_width_zero": (
        lambda: from_hf_config(_config("qwen1_5_moe_a2_7b", shared_expert_intermediate_size=0)),
        r"shared_expert_intermediate_size: 0 does not fit a shared expert .* \(use the shared",
    ),
    "context_beyond_max_positions": (
        lambda: from_hf_config(CONFIGS / "llama2_7b.json", phase="decode", context_len=5000),
        r"llama2_7b\.json: params\.context_len: context_len=5000 exceeds "
        r"max_position_embeddings=4096 \(use at most 4096 tokens\)",
    ),
    "prompt_beyond_max_positions": (
        lambda: from_hf_config(CONFIGS / "gpt2.json", seq_len=2048),
        r"params\.seq_len: seq_len=2048 exceeds max_position_embeddings=1024",
    ),
    "unknown_model_type": (
        lambda: from_hf_config(_config("llama2_7b", model_type="llama4")),
        r"model_type: unknown model_type 'llama4' \(did you mean 'llama'\?\)",
    ),
    "missing_field": (
        lambda: from_hf_config(_without("llama2_7b", "hidden_size")),
        r"hidden_size: required field is missing \(copy it from the model's config\)",
    ),
    "missing_model_type": (
        lambda: from_hf_config({"hidden_size": 8}),
        r"model_type: required field is missing",
    ),
    "missing_mla_field": (
        lambda: from_hf_config(_without("deepseek_v3", "kv_lora_rank")),
        r"kv_lora_rank: required field is missing",
    ),
    "bad_size": (
        lambda: from_hf_config(_config("gpt2", n_layer=0)),
        r"num_hidden_layers: 0 is not a positive integer",
    ),
    "unknown_override": (
        lambda: from_hf_config(CONFIGS / "gpt2.json", context=4),
        r"params\.context: unknown field 'context' \(did you mean 'context_len'\?\)",
    ),
    # model_type that is no name (was: TypeError: unhashable type)
    "model_type_list": (
        lambda: from_hf_config({"model_type": ["llama"]}),
        r"^model_type: \['llama'\] is not a model type name \(supported: llama, ",
    ),
    "model_type_dict": (
        lambda: from_hf_config(_config("llama2_7b", model_type={"name": "llama"})),
        r"^model_type: \{'name': 'llama'\} is not a model type name",
    ),
    # layer_types: a list of HF's attention layer types, one per layer (5 was a TypeError; "x"
    # and unknown entries were accepted and changed the KV cache)
    "layer_types_number": (
        lambda: from_hf_config(_config("gemma2_9b", layer_types=5)),
        r"^layer_types: 5 is not a list \(give one of full_attention, sliding_attention per "
        r"layer \(num_hidden_layers=42\)\)",
    ),
    "layer_types_string": (
        lambda: from_hf_config(_config("gemma2_9b", layer_types="x")),
        r"^layer_types: 'x' is not a list",
    ),
    "layer_types_unknown_entry": (
        lambda: from_hf_config(
            _config("gemma2_9b", layer_types=["sliding_attention", "full_atention"] * 21)
        ),
        r"^layer_types\[1\]: 'full_atention' is not a layer type \(did you mean "
        r"'full_attention'",
    ),
    "layer_types_no_sliding_layer_unknown": (
        lambda: from_hf_config(_config("gemma2_9b", layer_types=["foo"] * 42)),
        r"^layer_types\[0\]: 'foo' is not a layer type",
    ),
    "layer_types_wrong_length": (
        lambda: from_hf_config(_config("mistral_7b", layer_types=["sliding_attention"] * 3)),
        r"^layer_types: 3 entries for num_hidden_layers=32 \(give one",
    ),
    "layer_types_without_window": (  # checked even where no window makes them matter
        lambda: from_hf_config(_config("qwen2_0_5b", layer_types=7)),
        r"^layer_types: 7 is not a list",
    ),
    # flags are JSON booleans (bool("yes") and bool("x") were True, silently)
    "tie_word_embeddings_string": (
        lambda: from_hf_config(_config("llama2_7b", tie_word_embeddings="yes")),
        r"^tie_word_embeddings: 'yes' is not a boolean \(write true or false",
    ),
    "falcon_multi_query_string": (
        lambda: from_hf_config(_config("falcon_7b", multi_query="yes")),
        r"^multi_query: 'yes' is not a boolean",
    ),
    "falcon_new_decoder_architecture_string": (
        lambda: from_hf_config(_config("falcon_7b", new_decoder_architecture="x")),
        r"^new_decoder_architecture: 'x' is not a boolean",
    ),
    "falcon_parallel_attn_list": (
        lambda: from_hf_config(_config("falcon_7b", parallel_attn=[1])),
        r"^parallel_attn: \[1\] is not a boolean",
    ),
    "neox_use_parallel_residual_string": (
        lambda: from_hf_config(_config("pythia_160m", use_parallel_residual="a")),
        r"^use_parallel_residual: 'a' is not a boolean",
    ),
    "attention_bias_number": (
        lambda: from_hf_config(_config("llama2_7b", attention_bias=1)),
        r"^attention_bias: 1 is not a boolean",
    ),
    # layer indices name layers that exist, each once
    "mlp_only_layers_beyond": (
        lambda: from_hf_config(_config("qwen1_5_moe_a2_7b", mlp_only_layers=[100])),
        r"^mlp_only_layers\[0\]: 100 is not a layer index 0\.\.23 \(list 0-based layer indices",
    ),
    "mlp_only_layers_negative": (
        lambda: from_hf_config(_config("qwen1_5_moe_a2_7b", mlp_only_layers=[3, -1])),
        r"^mlp_only_layers\[1\]: -1 is not a layer index 0\.\.23",
    ),
    "mlp_only_layers_not_a_list": (
        lambda: from_hf_config(_config("qwen1_5_moe_a2_7b", mlp_only_layers=5)),
        r"^mlp_only_layers: 5 is not a list of layers",
    ),
    "first_k_dense_replace_beyond": (
        lambda: from_hf_config(_config("deepseek_v2_lite", first_k_dense_replace=28)),
        r"^first_k_dense_replace: 28 is not a number of layers 0\.\.27 \(at most "
        r"num_hidden_layers=27\)",
    ),
    "dense_layers_negative": (
        lambda: rl.load_model("llama2_7b").with_params(num_experts=8, dense_layers=[-1]),
        r"params\.dense_layers\[0\]: -1 is not a layer index 0\.\.31",
    ),
    "dense_layers_beyond": (
        lambda: rl.load_model("llama2_7b").with_params(num_experts=8, dense_layers=[100]),
        r"params\.dense_layers\[0\]: 100 is not a layer index 0\.\.31",
    ),
    "dense_layers_twice": (
        lambda: rl.load_model("llama2_7b").with_params(num_experts=8, dense_layers=[0, 0]),
        r"params\.dense_layers\[1\]: layer 0 is listed twice",
    ),
    "first_k_dense_layers_beyond": (
        lambda: rl.load_model("llama2_7b").with_params(num_experts=8, first_k_dense_layers=33),
        r"params\.first_k_dense_layers: 33 is not a number of layers 0\.\.32",
    ),
    # head_dim: null derives it (transformers: hidden_size / heads); 0 is no width
    "head_dim_zero": (
        lambda: from_hf_config(_config("llama2_7b", head_dim=0)),
        r"^head_dim: 0 is not a positive integer",
    ),
    "q_lora_rank_zero": (
        lambda: from_hf_config(_config("deepseek_v3", q_lora_rank=0)),
        r"^q_lora_rank: 0 is not a positive integer",
    ),
    # a value derived from a config key is named by that key, not the family's parameter
    "rotary_dim_negative": (
        lambda: from_hf_config(_config("gpt_j_6b", rotary_dim=-5)),
        r"^rotary_dim: -5 is not a non-negative integer",
    ),
    "rotary_dim_beyond_head": (
        lambda: from_hf_config(_config("gpt_j_6b", rotary_dim=512)),
        r"^rotary_dim: 512 exceeds the head width 256",
    ),
    "rotary_pct_zero": (
        lambda: from_hf_config(_config("pythia_160m", rotary_pct=0)),
        r"^rotary_pct: 0 is not a share in \(0, 1\]",
    ),
    "rope_parameters_not_an_object": (
        lambda: from_hf_config(_config("phi3_mini_4k", rope_parameters=[0.5])),
        r"^rope_parameters: \[0\.5\] is not an object",
    ),
    "max_window_layers_string": (
        lambda: from_hf_config(
            _config("qwen2_0_5b", use_sliding_window=True, max_window_layers="a")
        ),
        r"^max_window_layers: 'a' is not a non-negative integer",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_one_line_naming_the_field_and_fix(case):
    build, pattern = CASES[case]
    with pytest.raises(rl.SpecError, match=pattern) as info:
        build()
    assert "\n" not in str(info.value)


def test_cli_exits_2_with_one_line(tmp_path, capsys):
    bad = tmp_path / "config.json"
    bad.write_text(json.dumps(_config("mixtral_8x7b", num_experts_per_tok=9)), encoding="utf-8")
    assert main(["analyze", str(bad), "--hw", "a100_sxm4_80gb"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert "num_experts_per_tok: 9 exceeds num_local_experts=8" in err
    assert main(["analyze", str(CONFIGS / "gpt2.json"), "--hw", "a100_sxm4_80gb"]) == 0


def test_default_lengths_fit_max_position_embeddings():
    """seq_len (128) and context_len (2048) left out fit a model with fewer positions: the
    error of a value the user never set was the only answer for such a config."""
    small = from_hf_config(_config("llama2_7b", max_position_embeddings=100))
    assert (small.params.seq_len, small.params.context_len) == (100, 100)
    decode = from_hf_config(CONFIGS / "gpt2.json", phase="decode")
    assert decode.params.context_len == 1024
    big = from_hf_config(CONFIGS / "llama2_7b.json")  # 4096 positions: the defaults as they are
    assert (big.params.seq_len, big.params.context_len) == (128, 2048)
    with pytest.raises(rl.SpecError, match=r"params\.seq_len: seq_len=128 exceeds"):
        from_hf_config(_config("llama2_7b", max_position_embeddings=100), seq_len=128)


@contextmanager
def _at_most(seconds: int):
    """Fail with TimeoutError if the block runs longer than ``seconds``."""

    def hang(signum, frame):
        raise TimeoutError(f"still running after {seconds} s")

    old = signal.signal(signal.SIGALRM, hang)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


@pytest.mark.parametrize("name", ["gemma2_9b", "mistral_7b", "qwen2_0_5b", "llama2_7b"])
def test_layers_beyond_2_53_are_refused_before_any_per_layer_list(name):
    """A sliding-window model with 2**60 layers was a 2**60-entry list being built (a hang)."""
    data = _config(name, num_hidden_layers=2**60, use_sliding_window=True)
    start = time.perf_counter()
    with _at_most(5), pytest.raises(rl.SpecError, match=r"^num_hidden_layers: .* beyond 2\*\*53"):
        from_hf_config(data)
    assert time.perf_counter() - start < 2


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"model_type": [1, 2]}, "model_type"),
        ({"layer_types": 5}, "layer_types"),
        ({"tie_word_embeddings": "yes"}, "tie_word_embeddings"),
    ],
)
def test_cli_names_the_config_key_on_one_line(changes, field, tmp_path, capsys):
    bad = tmp_path / "config.json"
    bad.write_text(json.dumps(_config("gemma2_9b", **changes)), encoding="utf-8")
    for command in (["check", str(bad)], ["analyze", str(bad), "--hw", "h100_sxm5"]):
        assert main(command) == 2
        captured = capsys.readouterr()
        assert captured.out == "" and "Traceback" not in captured.err
        assert captured.err.count("\n") == 1
        assert captured.err.startswith(f"roofline: error: {bad}: {field}: "), captured.err
