#!/usr/bin/env python
"""Record parameter, active-parameter and FLOP counts of Hugging Face models built from configs.

What it records
---------------
For every ``tests/data/hf_configs/<name>.json`` (a published ``config.json`` copied with its
``_source``), ``tests/data/hf_reference.json`` gets, measured on ``transformers``' own module
(``AutoModelForCausalLM``; ``AutoModel`` for BERT, i.e. ``BertModel`` with its pooler):

* ``params``: ``sum(p.numel() for p in model.parameters())`` (tied weights count once; buffers
  such as DeepSeek-V3's ``e_score_correction_bias`` are not parameters);
* ``active_params`` (mixture-of-experts models): ``params`` less, for every experts module
  (a ``*Experts`` class holding the stacked expert weights), its parameters times
  (E - k) / E: what one token does not use;
* ``prefill_flops``: ``torch.utils.flop_counter.FlopCounterMode`` over one forward of a batch
  of one sequence of ``seq_len`` tokens (128 and 512) with ``logits_to_keep=1`` (the
  ``lm_head`` projects the last token only, as a serving engine does);
* ``decode_flops``: the same counter over one new token after a prefill of ``context - 1``
  tokens with the KV cache (context 512).

How it counts
-------------
The model is built and run on the ``meta`` device (shapes only, no memory, no arithmetic):
``attn_implementation="eager"`` (attention as matmuls, which the counter counts; the mask does
not shrink them), ``experts_implementation="batched_mm"`` for mixture-of-experts models (every
token's k experts as batched matmuls: the counted FLOPs are 2 T k x 3 d f whatever the routing,
since each token runs exactly k experts; the default ``grouped_mm`` is not counted by the
counter, and the ``eager`` per-expert loop needs real routing decisions, which
``tests/test_llm_hf.py`` exercises on tiny models). A 2-D all-ones ``attention_mask`` is passed
so that the mask code needs no data (BERT: none). The counter counts only mm/addmm/bmm (2 FLOPs
per multiply-accumulate): rotary
embeddings, norms, activations, softmax, the router's top-k and soft-capping count 0.
DeepSeek-V3's ``quantization_config`` (FP8 storage) is dropped before building: it changes the
stored dtype, not the architecture.

How to rerun
------------
::

    pip install torch==2.13.0 transformers==5.25.0
    python scripts/record_hf_reference.py              # all configs, about a minute on 2 cores
    python scripts/record_hf_reference.py --only gpt2 mixtral_8x7b --output /tmp/x.json

``import torchvision`` fails with the CPU-only torch wheel (its compiled extension is missing)
and ``transformers`` imports it when present, so this script hides it from ``transformers``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import sys
import warnings
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "tests" / "data" / "hf_configs"
DEFAULT_OUTPUT = ROOT / "tests" / "data" / "hf_reference.json"
PREFILL = (128, 512)
DECODE_CONTEXT = 512
MOE_TYPES = {"mixtral", "qwen2_moe", "deepseek_v2", "deepseek_v3"}
IGNORED = ("quantization_config", "auto_map")


def import_transformers() -> Any:
    """Import ``transformers`` with torchvision hidden when it is not already imported."""
    hidden = "torchvision" not in sys.modules
    if hidden:
        sys.modules["torchvision"] = None  # type: ignore[assignment]
    try:
        import transformers
        from transformers.utils import import_utils

        import_utils.is_torchvision_available()  # cache the answer while it is hidden
        from transformers import AutoConfig, AutoModel, AutoModelForCausalLM  # noqa: F401
    finally:
        if hidden:
            del sys.modules["torchvision"]
    return transformers


def hf_config(data: dict[str, Any]) -> Any:
    """The ``transformers`` config object of a config mapping (keys starting with _ dropped)."""
    tf = import_transformers()
    cfg = {k: v for k, v in data.items() if not k.startswith("_") and k not in IGNORED}
    return tf.AutoConfig.for_model(cfg.pop("model_type"), **cfg)


def build(data: dict[str, Any]) -> Any:
    """The Hugging Face module of a config mapping, on the meta device."""
    import torch

    tf = import_transformers()
    config = hf_config(data)
    kwargs: dict[str, Any] = {"attn_implementation": "eager"}
    if data["model_type"] in MOE_TYPES:
        kwargs["experts_implementation"] = "batched_mm"
    cls = tf.AutoModel if data["model_type"] == "bert" else tf.AutoModelForCausalLM
    with torch.device("meta"):
        model = cls.from_config(config, **kwargs)
    return model.eval()


def count_params(model: Any) -> int:
    return int(sum(p.numel() for p in model.parameters()))


def inactive_expert_params(model: Any, top_k: int) -> int:
    """Parameters of the routed experts one token does not use, summed over layers."""
    out = 0
    for module in model.modules():
        if type(module).__name__.endswith("Experts") and hasattr(module, "num_experts"):
            e = int(module.num_experts)
            own = sum(p.numel() for p in module.parameters(recurse=False))
            assert own % e == 0, type(module).__name__
            out += own // e * (e - top_k)
    return out


def forward_flops(model: Any, tokens: int, causal: bool, context: int = 0) -> int:
    """FLOPs torch counts over ``tokens`` new tokens (after ``context`` cached tokens)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    def ids(n: int) -> Any:
        return torch.zeros(1, n, dtype=torch.long, device="meta")

    def mask(n: int) -> Any:
        return torch.ones(1, n, dtype=torch.long, device="meta")

    extra: dict[str, Any] = {"logits_to_keep": 1} if causal else {}
    with torch.no_grad():
        cache = None
        if context:
            out = model(input_ids=ids(context), attention_mask=mask(context), use_cache=True)
            cache = out.past_key_values
        with FlopCounterMode(display=False) as counter:
            model(
                input_ids=ids(tokens),
                attention_mask=mask(context + tokens) if causal else None,
                past_key_values=cache,
                use_cache=bool(context),
                **extra,
            )
    return int(counter.get_total_flops())


def record(path: Path) -> dict[str, Any]:
    data = json.loads(path.read_text(encoding="utf-8"))
    model = build(data)
    causal = data["model_type"] != "bert"
    rec: dict[str, Any] = {
        "config": str(path.relative_to(ROOT)),
        "source": data.get("_source"),
        "module": type(model).__name__,
        "params": count_params(model),
        "prefill_flops": {str(s): forward_flops(model, s, causal) for s in PREFILL},
    }
    if data["model_type"] in MOE_TYPES:
        top_k = int(hf_config(data).num_experts_per_tok)
        rec["active_params"] = rec["params"] - inactive_expert_params(model, top_k)
    if causal:
        ctx = DECODE_CONTEXT
        rec["decode_flops"] = {str(ctx): forward_flops(model, 1, causal, context=ctx - 1)}
    return rec


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="*", help="config names (file stems)")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")
    import torch

    tf = import_transformers()
    paths = sorted(CONFIGS.glob("*.json"))
    if args.only:
        paths = [p for p in paths if p.stem in args.only]
    models = {}
    for path in paths:
        models[path.stem] = record(path)
        print(path.stem, models[path.stem]["params"], flush=True)
    out = {
        "generated_by": "scripts/record_hf_reference.py",
        "date": datetime.date.today().isoformat(),
        "versions": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "transformers": tf.__version__,
        },
        "method": __doc__.split("How to rerun")[0].strip(),
        "models": models,
    }
    args.output.write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
