"""Print (or write into the docs) the tables of published measurements against our predictions.

    python scripts/published_ratios.py            # print every table as markdown
    python scripts/published_ratios.py --write    # regenerate the blocks in docs/llm.md and
                                                  # docs/systems.md (and time our speed: --speed)

Each table sits in its doc between ``<!-- published_ratios:NAME -->`` and
``<!-- /published_ratios:NAME -->``; ``--write`` replaces what is between them and nothing else.
The cases, their mapping and every rule come from ``tests/test_published_bounds.py`` (the same
code the tests assert with), the NCCL rows from ``tests/data/published/nccl_bus_bandwidth.yaml``
and the peers' figures from ``tests/data/published/peers_llama2_7b.yaml``.

Ratios: for a throughput, measured / bound (at most 1) and measured / estimate; for a latency,
bound / measured (at most 1) and estimate / measured; so every ratio reads "the fraction of our
figure the measurement reached", and 1 is a perfect estimate.
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import re
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import roofline as rl  # noqa: E402
from roofline.systems.collectives import bus_bandwidth, collective  # noqa: E402


def _load_cases() -> Any:
    spec = importlib.util.spec_from_file_location(
        "published_bounds", ROOT / "tests" / "test_published_bounds.py"
    )
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up
    spec.loader.exec_module(mod)
    return mod


T = _load_cases()
DATA = ROOT / "tests" / "data" / "published"


def _num(x: float, digits: int = 4) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    if abs(x) >= 1e5 or (0 < abs(x) < 1e-2):
        return f"{x:.{digits - 1}e}"
    return f"{x:.{digits}g}"


def _ratio(x: float) -> str:
    return "-" if x is None or math.isnan(x) else f"{x:.3f}"


def _shape(case: Any, row: dict[str, Any]) -> str:
    rule = case.rule
    if rule == "mlperf_llm":
        return "any lengths (bound: 1 in / 2 out), any batch"
    if rule == "static":
        return f"{row['input_tokens']} in / {row['output_tokens']} out, batch {row['batch']}"
    if rule == "any_batch":
        return f"{row['input_tokens']} in / {row['output_tokens']} out, any batch"
    if rule == "decode_b1":
        return f"{row['input_tokens']} in / 2-200 out, batch 1"
    if rule == "ttft":
        return f"prefill {row['input_tokens']}, batch 1"
    if rule == "latency":
        return "batch 1"
    if rule == "dlrm":
        return f"any batch, x{T.DLRM_PAIRS_PER_SAMPLE} pairs/sample"
    if "bert" in case.model:
        return f"any batch, {T.BERT_MEAN_TOKENS} tokens/sample"
    return "any batch"


def _unit(out: Any) -> str:
    if out.kind == "latency":
        return "s (latency)"
    if out.case.rule == "dlrm":
        return "pairs/s"
    return "tokens/s" if out.case.rule not in ("encoder",) else "samples/s"


def outcomes(file: str) -> list[Any]:
    return [T.evaluate_case(c.row) for c in T.MAPPING if T.ROWS[c.row]["_file"] == file]


def case_table(file: str) -> str:
    """Every mapped row of one file: measured, bound, estimate and the ratios, then medians."""
    outs = outcomes(file)
    lines = [
        "| row | model | hw | dtype | shape | unit | measured | bound | estimate | "
        "meas./bound | meas./est. | typical bound | typical est. | meas./typ. est. |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for o in outs:
        c, r = o.case, o.row
        hw = c.hw if c.devices is None else f"{c.devices} of {c.hw}"
        if isinstance(T._hw(c), rl.System) and c.devices is None:
            hw = c.hw
        m_typ = o.measured / o.typical_estimate if not math.isnan(o.typical_estimate) else math.nan
        flag = "" if o.fits else " (does not fit in our capacity model)"
        lines.append(
            f"| `{c.row}` | {c.model.split(':')[0]} | {hw} | {'/'.join(c.dtypes)}"
            f"{' graph' if c.launch == 'graph' else ''} | {_shape(c, r)}{flag} | {_unit(o)} | "
            f"{_num(o.measured)} | {_num(o.bound)} | {_num(o.estimate)} | "
            f"{_ratio(o.ratio_bound)} | {_ratio(o.ratio_estimate)} | {_num(o.typical_bound)} | "
            f"{_num(o.typical_estimate)} | {_ratio(m_typ)} |"
        )
    lines.append("")
    lines += _medians(outs)
    return "\n".join(lines)


def _medians(outs: list[Any]) -> list[str]:
    def med(xs: list[float]) -> str:
        xs = [x for x in xs if not math.isnan(x)]
        return f"{statistics.median(xs):.3f} over {len(xs)} rows" if xs else "-"

    shaped = [o for o in outs if o.case.rule not in ("mlperf_llm",)]
    llm = [o for o in outs if o.case.rule == "mlperf_llm"]
    est_all = [o.ratio_estimate for o in shaped] + [
        o.measured / o.typical_estimate for o in llm if not math.isnan(o.typical_estimate)
    ]
    worst = max(outs, key=lambda o: o.ratio_bound)
    shaped_est = [o.ratio_estimate for o in shaped]
    return [
        "* median measured/estimate over every row but the MLPerf LLM ones (whose lengths are "
        f"unknown, so their estimate is no prediction): **{med(shaped_est)}**;",
        f"* median measured/estimate, those plus the MLPerf LLM rows at their typical lengths: "
        f"**{med(est_all)}**;",
        f"* median measured/bound: {med([o.ratio_bound for o in outs])}; the closest row to its "
        f"bound: `{worst.case.row}` at {worst.ratio_bound:.3f}.",
    ]


def bert_lengths() -> str:
    """Per BERT Offline/Server row: the longest mean sample length within the bound."""
    lines = [
        "| row | measured samples/s | bound at 384 (padded) | bound at 192 | longest mean "
        "length within the bound |",
        "|---|---|---|---|---|",
    ]
    for c in T.MAPPING:
        if "bert" not in c.row or c.rule != "encoder":
            continue
        hw = T._hw(c)
        value = float(T.ROWS[c.row]["value"])

        def bound(length: int, c: Any = c, hw: Any = hw) -> float:
            r, _ = T._eval(T._model(f"bert_large:seq_len={length}"), hw, c, T.BATCHES, "int8")
            return float(np.where(r.feasible, r.throughput_bound_per_s, 0).max())

        lo, hi = T.BERT_MEAN_TOKENS, 384
        if bound(hi) >= value:
            longest = "384 or more"
        else:
            while hi - lo > 1:
                mid = (lo + hi) // 2
                lo, hi = (mid, hi) if bound(mid) >= value else (lo, mid)
            longest = str(lo)
        lines.append(
            f"| `{c.row}` | {_num(value)} | {_num(bound(384))} | {_num(bound(T.BERT_MEAN_TOKENS))}"
            f" | {longest} |"
        )
    return "\n".join(lines)


def dlrm_table() -> str:
    lines = [
        "| row | samples/s | bound [pairs/s] | meas./bound at x100 | at x270 | at x700 | "
        "pairs per sample at which it would reach the bound |",
        "|---|---|---|---|---|---|---|",
    ]
    for c in T.MAPPING:
        if c.rule != "dlrm":
            continue
        o = T.evaluate_case(c.row)
        lines.append(
            f"| `{c.row}` | {_num(float(o.row['value']))} | {_num(o.bound)} | "
            f"{_ratio(o.extra['x100'])} | {_ratio(o.ratio_bound)} | {_ratio(o.extra['x700'])} | "
            f"{o.extra['break_even_pairs']:.0f} |"
        )
    return "\n".join(lines)


#: our system presets for the published NCCL rows (device and GPU count)
NCCL_SYSTEMS = {
    ("a100_sxm4_80gb", 8): "dgx_a100",
    ("h100_sxm5", 8): "dgx_h100",
    ("h200_sxm", 8): "dgx_h200",
    ("h100_sxm5", 16): "2x_dgx_h100",
}


def nccl_table() -> str:
    rows = yaml.safe_load((DATA / "nccl_bus_bandwidth.yaml").read_text())["rows"]
    lines = [
        "| row | system | message | measured busbw [GB/s] | bound busbw | estimate busbw | "
        "meas./bound | meas./est. = est. time / meas. time |",
        "|---|---|---|---|---|---|---|---|",
    ]
    skipped = []
    band = []
    for r in rows:
        key = (r.get("hw_spec"), r["devices"])
        if key not in NCCL_SYSTEMS or not isinstance(r["message_bytes"], int):
            skipped.append(r["id"])
            continue
        n, size = r["devices"], float(r["message_bytes"])
        system = rl.load_hardware(NCCL_SYSTEMS[key])
        cost = collective("all_reduce", size, n, system)
        b_bw = float(bus_bandwidth("all_reduce", size, cost.bound_seconds, n)) / 1e9
        e_bw = float(bus_bandwidth("all_reduce", size, cost.seconds, n)) / 1e9
        meas = float(r["bus_bandwidth"])
        if n == 8 and size >= 64 * 2**20:
            band.append(meas / e_bw)
        lines.append(
            f"| `{r['id']}` | {NCCL_SYSTEMS[key]} | {_bytes(size)} | {meas:g} | {b_bw:.1f} | "
            f"{e_bw:.1f} | {_ratio(meas / b_bw)} | {_ratio(meas / e_bw)} |"
        )
    lines.append("")
    lines.append(
        f"Rows of one node with messages of 64 MiB and more: measured/estimate "
        f"{min(band):.3f} to {max(band):.3f} (the documented band, held by "
        "`tests/test_systems_collectives.py`, is 0.45-0.85). Not in the table (approximate "
        f"figures without an exact message size, or no preset for the system): "
        f"{', '.join(f'`{x}`' for x in skipped)}."
    )
    return "\n".join(lines)


def _bytes(n: float) -> str:
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= scale:
            return f"{n / scale:g} {unit}"
    return f"{n:g} B"


def _peers() -> dict[str, float]:
    rows = yaml.safe_load((DATA / "peers_llama2_7b.yaml").read_text())["rows"]
    return {r["id"]: r["value"] for r in rows}


def peers_table() -> str:
    """Llama-2-7B on A100-80GB, batch 1, prompt 1024, 16-bit: ours beside LLM-Viewer and GenZ."""
    peers = _peers()
    hw = "a100_sxm4_80gb"
    ours: dict[str, dict[str, float]] = {}
    for policy in ("single", "capacity"):
        pre = rl.evaluate(
            rl.load_model("llama2_7b", phase="prefill", seq_len=1024),
            hw,
            batch=1,
            dtype="fp16",
            policy=policy,
        )
        dec = rl.evaluate(
            rl.load_model("llama2_7b", phase="decode", context_len=1024),
            hw,
            batch=1,
            dtype="fp16",
            policy=policy,
        )
        tp, td = next(iter(pre.totals())), next(iter(dec.totals()))
        ours[policy] = {
            "prefill_flops": tp["flops"],
            "prefill_bytes": tp["hbm_bytes"],
            "decode_flops": td["flops"],
            "decode_bytes": td["hbm_bytes"],
            "prefill_latency": tp["latency_bound_s"],
            "decode_step_latency": td["latency_bound_s"],
        }
    g = next(iter(rl.generate("llama2_7b", hw, prompt=1024, output=128, batch=1, dtype="fp16")))
    lv, gz = "llm-viewer/{}/use_flashattention=false", "genz/{}/system_eff=1.0"
    quantities = [
        ("prefill FLOPs [TFLOP]", "prefill_flops", 1e12),
        ("prefill DRAM bytes [GB]", "prefill_bytes", 1e9),
        ("decode-step FLOPs, context 1024 [GFLOP]", "decode_flops", 1e9),
        ("decode-step DRAM (HBM) bytes [GB]", "decode_bytes", 1e9),
        ("prefill latency, strict [ms]", "prefill_latency", 1e-3),
        ("decode step, strict [ms]", "decode_step_latency", 1e-3),
    ]
    lines = [
        "| quantity | ours (`single`) | ours (`capacity`) | LLM-Viewer | LLM-Viewer / ours | "
        "GenZ (eff 1) | GenZ / ours |",
        "|---|---|---|---|---|---|---|",
    ]
    for label, key, scale in quantities:
        o = ours["single"][key]
        v, z = peers[lv.format(key)], peers[gz.format(key)]
        lines.append(
            f"| {label} | {o / scale:.4f} | {ours['capacity'][key] / scale:.4f} | "
            f"{v / scale:.4f} | {v / o:.4f} | {z / scale:.4f} | {z / o:.4f} |"
        )
    for label, col, lkey, gkey, scale in [
        ("TTFT, 1024 in / 128 out [ms]", "ttft_bound_s", "ttft_1024_128", "ttft_1024_128", 1e-3),
        ("TPOT [ms]", "tpot_bound_s", "tpot_1024_128", "tpot_1024_128", 1e-3),
        ("end to end [ms]", "e2e_bound_s", "e2e_1024_128", "e2e_1024_128", 1e-3),
        ("tokens/s", "tokens_per_s_bound", "tokens_per_s_1024_128", "tokens_per_s_1024_128", 1),
    ]:
        o = g[col]
        v, z = peers[lv.format(lkey)], peers[gz.format(gkey)]
        lines.append(
            f"| {label} (`generate`, bound, `capacity`) | - | {o / scale:.4g} | {v / scale:.4g} | "
            f"{v / o:.4f} | {z / scale:.4g} | {z / o:.4f} |"
        )
    dec_ok = abs(ours["single"]["decode_bytes"] / 13.76e9 - 1) <= 0.01
    pre_ok = abs(ours["single"]["prefill_flops"] / 13.82e12 - 1) <= 0.005
    lines += [
        "",
        f"Acceptance (issue 12): decode HBM bytes {ours['single']['decode_bytes'] / 1e9:.4f} GB "
        f"({'within' if dec_ok else 'NOT within'} 1% of 13.76 GB), prefill FLOPs "
        f"{ours['single']['prefill_flops'] / 1e12:.4f} T ({'within' if pre_ok else 'NOT within'} "
        "0.5% of 13.82 T).",
    ]
    return "\n".join(lines)


def _median_time(fn: Callable[[], Any], repeat: int) -> float:
    fn()
    fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def speed_table() -> str:
    """Our per-point cost beside the peers' (their figures from peers_llama2_7b.yaml)."""
    peers = _peers()
    m = rl.load_model("llama2_7b")
    hw = "a100_sxm4_80gb"
    dec = rl.load_model("llama2_7b", phase="decode", context_len=1024)
    one_decode = _median_time(lambda: rl.evaluate(dec, hw, batch=1, dtype="fp16"), 30)
    one_gen = _median_time(
        lambda: rl.generate(m, hw, prompt=1024, output=128, batch=1, dtype="fp16"), 30
    )
    batches = list(range(1, 17))
    prompts = [128, 256, 384, 512, 768, 1024, 1536, 2048]
    outputs = [32, 64, 128, 256]
    n = len(batches) * len(prompts) * len(outputs)
    grid = _median_time(
        lambda: rl.generate(m, hw, prompt=prompts, output=outputs, batch=batches, dtype="fp16"), 7
    )
    lv, gz = "llm-viewer/{}/speed", "genz/{}/speed"
    rows = [
        (
            "one decode point (context 1024): `rl.evaluate` of a loaded model",
            one_decode,
            "us_per_decode_point",
        ),
        (
            "one generation point (1024 in / 128 out): `rl.generate`",
            one_gen,
            "us_per_generation_point",
        ),
        (
            f"grid of {n} points (16 batches x 8 prompts x 4 outputs), per point",
            grid / n,
            "us_per_grid_point",
        ),
    ]
    lines = [
        "| per point [us] | ours (this run) | LLM-Viewer | GenZ |",
        "|---|---|---|---|",
    ]
    for label, ours, key in rows:
        lines.append(
            f"| {label} | **{ours * 1e6:,.1f}** | {peers[lv.format(key)]:,.0f} | "
            f"{peers[gz.format(key)]:,.0f} |"
        )
    lines.append("")
    lines.append(
        f"Ours: median of repeated in-process calls after two warm-up calls, "
        f"{time.strftime('%Y-%m-%d')}, on this project's 2-vCPU shared VM (CPython "
        f"{sys.version.split()[0]}); the whole grid took {grid * 1e3:.1f} ms. The peers' "
        "figures were measured on the same VM class (docs/llm_peers.md)."
    )
    return "\n".join(lines)


TABLES: dict[str, tuple[str, Callable[[], str]]] = {
    "peers": ("docs/llm.md", peers_table),
    "single": ("docs/llm.md", lambda: case_table("single_accelerator")),
    "bert": ("docs/llm.md", bert_lengths),
    "speed": ("docs/llm.md", speed_table),
    "nccl": ("docs/systems.md", nccl_table),
    "multi": ("docs/systems.md", lambda: case_table("multi_accelerator")),
    "dlrm": ("docs/systems.md", dlrm_table),
}


def write(name: str, text: str) -> None:
    path = ROOT / TABLES[name][0]
    doc = path.read_text()
    pattern = re.compile(
        rf"(<!-- published_ratios:{name} -->\n)(?:.*?\n)?(<!-- /published_ratios:{name} -->)",
        re.S,
    )
    if not pattern.search(doc):
        raise SystemExit(f"{path}: no block for {name!r}")
    path.write_text(pattern.sub(lambda m: m.group(1) + text + "\n" + m.group(2), doc, count=1))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--write", action="store_true", help="regenerate the blocks in the docs")
    ap.add_argument("--speed", action="store_true", help="also time our speed (slow, noisy)")
    ap.add_argument("tables", nargs="*", help=f"only these ({', '.join(TABLES)})")
    args = ap.parse_args()
    names = args.tables or [n for n in TABLES if n != "speed" or args.speed]
    for name in names:
        text = TABLES[name][1]()
        if args.write:
            write(name, text)
            print(f"wrote {name} into {TABLES[name][0]}")
        else:
            print(f"## {name}\n\n{text}\n")


if __name__ == "__main__":
    main()
