"""Commands ``list``, ``analyze`` and ``compare``: the presets, one model per op on one device, and
models x devices x batches x dtypes."""

from __future__ import annotations

import argparse
import json

from roofline.api import evaluate as evaluate_any
from roofline.cli.common import (
    Command,
    add_layout_options,
    add_output_options,
    add_policy_option,
    layout_args,
    parse_batches,
    write_output,
)
from roofline.cli.model_args import add_model_options, models_of
from roofline.comparison import compare
from roofline.hardware import Hardware
from roofline.presets import list_devices, list_models, load_device, load_model
from roofline.systems.result import SystemResult
from roofline.table import Table

#: the per-op columns ``analyze`` prints for people (csv and json keep them all)
ANALYZE_COLUMNS = (
    "batch",
    "op",
    "kind",
    "flops",
    "params",
    "weight_read_bytes",
    "act_in_bytes",
    "act_out_bytes",
    "kv_bytes",
    "intensity_flops_per_byte",
    "time_s",
    "bound",
    "tile_utilization",
)


def list_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("what", choices=("models", "devices"))
    add_output_options(parser)


def run_list(args: argparse.Namespace) -> int:
    """Print the model or device presets, one line each."""
    table = _models(args.format) if args.what == "models" else _devices(args.format)
    write_output(table.format(args.format), args.output)
    return 0


def _short(text: str, fmt: str) -> str:
    """A description cut to one line for people; csv and json keep it whole."""
    if fmt in ("csv", "json"):
        return text
    text = text.split(" (", 1)[0]
    return text if len(text) <= 48 else text[:47] + "…"


def _models(fmt: str) -> Table:
    rows = []
    for n in list_models():
        m = load_model(n)
        rows.append([n, m.family, m.sample, _short(m.spec.description, fmt)])
    return Table(["model", "family", "sample", "description"], rows, title="models")


def _devices(fmt: str) -> Table:
    rows = []
    for n in list_devices():
        hw = load_device(n)

        def peak(dtype: str, hw: Hardware = hw) -> float | None:
            used = hw.engines.matrix.resolve(dtype)
            return hw.engines.matrix.peak[used] if used else None

        main = hw.memory[hw.main_level]
        onchip = sum(lv.capacity for lv in hw.memory.values() if lv.kind == "onchip")
        rows.append(
            [
                n,
                _short(hw.description, fmt),
                peak("fp16") or peak("bf16"),
                peak("int8"),
                main.bandwidth,
                main.capacity,
                onchip,
            ]
        )
    return Table(
        [
            "device",
            "description",
            "fp16_matrix_flops_per_s",
            "int8_matrix_flops_per_s",
            "main_bandwidth_bytes_per_s",
            "main_capacity_bytes",
            "onchip_bytes",
        ],
        rows,
        title="devices",
    )


def analyze_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", help="preset name or YAML path")
    parser.add_argument("--hw", required=True, help="device preset name or YAML path")
    parser.add_argument("--batch", nargs="+", help="batch size(s)")
    parser.add_argument("--dtype", default="fp32")
    add_model_options(parser)
    add_policy_option(parser)
    parser.add_argument("--no-fuse", action="store_true", help="run every op as its own kernel")
    add_layout_options(parser)
    add_output_options(parser)


def run_analyze(args: argparse.Namespace) -> int:
    """Print the per-op prediction and the totals of one model on one device; on a system, the
    totals of each parallel layout."""
    r = evaluate_any(
        models_of([args.model], args.set)[0],
        args.hw,
        batch=parse_batches(args.batch),
        dtype=args.dtype,
        policy=args.policy,
        fuse=not args.no_fuse,
        **layout_args(args),
    )
    if isinstance(r, SystemResult):
        write_output(r.totals().format(args.format), args.output)
        return 0
    ops = r.per_op()
    if args.format == "csv":
        text = ops.format("csv")
    elif args.format == "json":
        doc = {"summary": r.totals().to_records(), "ops": ops.to_records()}
        text = json.dumps(doc, indent=1, allow_nan=False)
    else:
        idx = [ops.columns.index(c) for c in ANALYZE_COLUMNS]
        slim = Table(ANALYZE_COLUMNS, [[row[i] for i in idx] for row in ops.rows], title=ops.title)
        text = slim.format(args.format) + "\n" + r.totals().format(args.format)
    write_output(text, args.output)
    return 0


def compare_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("models", nargs="+")
    parser.add_argument("--hw", nargs="+", required=True)
    parser.add_argument("--batch", nargs="+")
    parser.add_argument("--dtype", nargs="+")
    add_model_options(parser)
    add_policy_option(parser)
    parser.add_argument("--no-fuse", action="store_true")
    parser.add_argument("--sla", help="latency target, e.g. 10ms: adds max batch under it")
    add_layout_options(parser)
    add_output_options(parser)


def run_compare(args: argparse.Namespace) -> int:
    """Print one row per model x device x batch x dtype."""
    table = compare(
        models_of(args.models, args.set),
        args.hw,
        parse_batches(args.batch),
        args.dtype or ["fp32"],
        policy=args.policy,
        fuse=not args.no_fuse,
        sla=args.sla,
        **layout_args(args),
    )
    write_output(table.format(args.format), args.output)
    return 0


COMMANDS = {
    "list": Command(list_arguments, run_list),
    "analyze": Command(analyze_arguments, run_analyze),
    "compare": Command(compare_arguments, run_compare),
}
