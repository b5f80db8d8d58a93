"""Bad LLM input gives one line naming the field and the fix: a ``SpecError`` from the API, exit 2
from the CLI (top_k beyond the experts, a shared-expert width that does not fit, a context beyond
max_position_embeddings, an unknown model_type, a missing config field)."""

from __future__ import annotations

import json
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
