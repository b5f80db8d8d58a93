"""Predicted accelerator-only efficiency beside the published MLPerf Inference v4.1 power results
(tests/data/published/mlperf_power.yaml, copied unchanged from the published-data work).

The measured figure is the system's: samples (or output tokens) per second over the average wall
power of the whole node (CPUs, fans, NICs, PSU losses and every accelerator). The prediction is one
accelerator's, at the row's GPU power limit (``gpu_power_limit_w`` as ``power.tdp``), at the batch
that gives the most samples per joule (the energy model's best operating point). Accelerator-only
efficiency must be at least the system's: the prediction ``>=`` the measurement.

Some rows need a workload figure the data does not give, only bound: an MLPerf DLRM-v2 sample is
100 to 700 user-item pairs (our ``dlrm_dcn`` counts one pair a sample); MLPerf BERT runs
SQuAD v1.1 sequences of at most 384 tokens, and NVIDIA's harness computes only the real tokens
(its README, "Variable Sequence Lengths": the padded part is truncated), while ``bert_large`` is
padded to 384; a GPT-J request has at most 1919 prompt and 128 output tokens. The prediction is
taken at the most demanding end (``conservative``) and at the least (``favorable``): a row is
``pass`` when the conservative prediction is at least the measurement, ``fail`` when even the
favorable one is below, and ``open`` otherwise, with the break-even value of the unknown figure.

Run ``python tests/mlperf_power.py`` to print the table of docs/energy.md.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

import roofline as rl
from roofline.hardware import Hardware

DATA = Path(__file__).parent / "data" / "published" / "mlperf_power.yaml"
BATCHES = [2**k for k in range(13)]  # 1 .. 4096
LLM_BATCHES = [2**k for k in range(10)]  # 1 .. 512

#: GPT-J 6B as the transformer family writes it (Hugging Face EleutherAI/gpt-j-6b config.json:
#: n_layer 28, n_embd 4096, n_head 16, n_inner null = 4 x 4096, vocab 50400, n_positions 2048,
#: untied lm_head). GPT-J runs attention and MLP in parallel off one LayerNorm and has no bias on
#: q/k/v/out; written as a sequential pre-norm block with biases, its FLOPs and bytes differ by one
#: LayerNorm and 4 x 4096 bias elements per layer (< 0.01%).
GPTJ = {
    "name": "gptj_6b",
    "family": "transformer",
    "source": "https://huggingface.co/EleutherAI/gpt-j-6b/blob/main/config.json",
    "params": {
        "architecture": "decoder",
        "vocab_size": 50400,
        "hidden_size": 4096,
        "num_layers": 28,
        "num_heads": 16,
        "intermediate_size": 16384,
        "ffn": "gelu",
        "norm": "layernorm",
        "norm_position": "pre",
        "bias": True,
        "position_embedding": "rotary",
        "max_position_embeddings": 2048,
        "lm_head": True,
        "phase": "decode",
        "seq_len": 2048,
        "context_len": 2048,
    },
}


@dataclass(frozen=True)
class Compared:
    """One row: the measurement, the prediction at both ends of the unknown, and the verdict."""

    row: dict[str, Any]
    mapping: str
    unit: str
    measured: float
    conservative: float
    favorable: float
    unknown: str = ""
    break_even: str = ""

    @property
    def ratio(self) -> float:
        """Conservative prediction over measurement."""
        return self.conservative / self.measured

    @property
    def favorable_ratio(self) -> float:
        return self.favorable / self.measured

    @property
    def verdict(self) -> str:
        if self.ratio >= 1.0:
            return "pass"
        return "fail" if self.favorable_ratio < 1.0 else "open"


def _device(row: dict[str, Any]) -> Hardware:
    hw = rl.load_hardware(row["hw_spec"])
    limit = row.get("gpu_power_limit_w")
    if limit and hw.power is not None:
        hw = hw.model_copy(update={"power": hw.power.model_copy(update={"tdp": float(limit)})})
    return hw


def best_samples_per_j(model: Any, hw: Hardware, dtype: str) -> float:
    """Most samples per joule over :data:`BATCHES` (feasible points only)."""
    r = rl.evaluate(model, hw, batch=BATCHES, dtype=dtype)
    return float(np.nanmax(np.where(r.feasible[0], r.samples_per_j[0], np.nan)))


def best_requests_per_j(model: Any, hw: Hardware, prompt: int, output: int) -> float:
    """Most requests (of ``prompt`` + ``output`` tokens) per joule over :data:`LLM_BATCHES`."""
    t = rl.generate(model, hw, prompt=prompt, output=output, batch=LLM_BATCHES, dtype="fp8")
    per_token = max(r["tokens_per_j"] for r in t.to_records() if r["feasible"])
    return per_token / output


def _measured(row: dict[str, Any], per_sample: bool = False) -> float:
    value = row["value"]
    if per_sample and row["metric"] == "tokens_per_s":  # GPT-J tokens/s = samples/s x 69
        value = value / 69.0
    return value / row["avg_system_watts"]


def _resnet(row: dict[str, Any]) -> Compared:
    p = best_samples_per_j("resnet50", _device(row), "int8")
    return Compared(row, "resnet50 on h200_sxm, int8", "samples/J", _measured(row), p, p)


def _dlrm(row: dict[str, Any]) -> Compared:
    per_pair = best_samples_per_j("dlrm_dcn", _device(row), "int8")
    m = _measured(row)
    return Compared(
        row,
        "dlrm_dcn on h200_sxm, int8, one MLPerf sample = 100-700 pairs",
        "samples/J",
        m,
        per_pair / 700,
        per_pair / 100,
        "pairs per sample (100-700)",
        f"{per_pair / m:.0f} pairs" if per_pair / 700 < m else "",
    )


def _bert(row: dict[str, Any]) -> Compared:
    hw = _device(row)
    m = _measured(row)

    def at(tokens: int) -> float:
        return best_samples_per_j(rl.load_model("bert_large", seq_len=tokens), hw, "int8")

    lo, hi = 1, 384
    if at(hi) < m <= at(lo):  # the largest mean length at which the prediction reaches it
        while hi - lo > 1:
            mid = (lo + hi) // 2
            lo, hi = (mid, hi) if at(mid) >= m else (lo, mid)
    return Compared(
        row,
        "bert_large on h200_sxm, int8, mean real tokens 1-384",
        "samples/J",
        m,
        at(384),
        at(16),
        "mean real tokens (<= 384)",
        f"{lo} tokens" if at(384) < m else "",
    )


def _gptj(row: dict[str, Any]) -> Compared:
    hw = _device(row)
    model = rl.load_model(GPTJ)
    return Compared(
        row,
        "GPT-J 6B (transformer family) on h200_sxm, fp8",
        "samples/J",
        _measured(row, per_sample=True),
        best_requests_per_j(model, hw, row["input_tokens_max"], row["output_tokens_max"]),
        best_requests_per_j(model, hw, 1, 1),
        "prompt <= 1919 and output <= 128 tokens (favorable: 1 and 1)",
    )


#: benchmark (the last word of ``benchmark``) -> how a row is predicted
MAPPED: dict[str, Callable[[dict[str, Any]], Compared]] = {
    "resnet50": _resnet,
    "dlrm-v2-99": _dlrm,
    "dlrm-v2-99.9": _dlrm,
    "bert-99": _bert,
    "gptj-99": _gptj,
}
#: benchmark -> why its rows are not predicted
UNMAPPED = {
    "llama2-70b-99": (
        "the 8-GPU system shards Llama-2-70B (tensor/pipeline parallel), so each GPU holds a "
        "slice of the weights and a larger batch of KV cache than one H200 holding the whole "
        "model could: a single-device prediction is not the system's per-device operating "
        "point. Map it with the multi-device systems model (roofline/systems, with "
        "roofline.energy.system_energy); there is no Llama-2-70B preset in this branch either"
    ),
    "mixtral-8x7b": (
        "no mixture-of-experts model in this branch (the transformer family has no experts yet)"
    ),
}
UNMAPPED_DEVICE = "no device spec for the accelerator (hw_spec null: UntetherAI speedAI240 Slim)"


def rows() -> list[dict[str, Any]]:
    return yaml.safe_load(DATA.read_text(encoding="utf-8"))["rows"]


def benchmark(row: dict[str, Any]) -> str:
    return str(row["benchmark"]).split()[-1]


def compare_all() -> tuple[list[Compared], list[tuple[dict[str, Any], str]]]:
    """(every mapped row compared, every unmapped row with its reason)."""
    done, skipped = [], []
    for row in rows():
        b = benchmark(row)
        if not row.get("hw_spec"):
            skipped.append((row, UNMAPPED_DEVICE))
        elif b in MAPPED:
            done.append(MAPPED[b](row))
        else:
            skipped.append((row, UNMAPPED[b]))
    return done, skipped


def markdown(done: list[Compared], skipped: list[tuple[dict[str, Any], str]]) -> str:
    """The tables of docs/energy.md."""
    out = [
        "| row | scenario | predicted as | measured (system) | predicted, conservative | "
        "ratio | predicted, favorable | ratio | verdict | passes up to |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for c in done:
        out.append(
            f"| `{c.row['id']}` | {c.row['scenario']} | {c.mapping} | "
            f"{c.measured:.4g} {c.unit} | {c.conservative:.4g} | {c.ratio:.2f} | "
            f"{c.favorable:.4g} | {c.favorable_ratio:.2f} | {c.verdict} | "
            f"{c.break_even or '-'} |"
        )
    ratios = [c.ratio for c in done]
    fav = [c.favorable_ratio for c in done]
    out.append("")
    out.append(
        f"Median ratio over the {len(done)} mapped rows: {np.median(ratios):.2f} conservative, "
        f"{np.median(fav):.2f} favorable."
    )
    out.append("")
    out.append("| row | not mapped because |")
    out.append("|---|---|")
    for row, why in skipped:
        out.append(f"| `{row['id']}` | {why} |")
    return "\n".join(out)


if __name__ == "__main__":
    print(markdown(*compare_all()))
