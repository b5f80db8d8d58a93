"""Commands ``analyze`` and ``compare``: one model per op on one device, and models x devices x
batches x dtypes."""

from __future__ import annotations

import argparse
import json

from roofline.api import evaluate
from roofline.cli.common import (
    Command,
    add_batch_option,
    add_dtype_option,
    add_fuse_option,
    add_layout_options,
    add_output_options,
    add_policy_option,
    chosen_columns,
    emit,
    layout_args,
    one_table_format,
    output_format,
    parse_batches,
    write_output,
)
from roofline.cli.model_args import add_model_options, models_of
from roofline.comparison import compare
from roofline.systems.result import SystemResult

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

#: the columns ``compare`` prints for people (csv, json and ``--columns all`` keep them all)
COMPARE_PEOPLE_COLUMNS = (
    "model",
    "device",
    "layout",
    "batch",
    "dtype",
    "latency_s",
    "throughput_per_s",
    "utilization",
    "bound",
    "feasible",
    "weight_bytes",
    "energy_per_sample_j",
    "cost_per_1m_samples",
    "max_batch_under_sla",
    "best_batch_under_sla",
    "throughput_at_best_batch_per_s",
)


def analyze_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", help="model preset name or YAML path (MODEL:key=value,...)")
    parser.add_argument("--hw", required=True, help="device or system preset name or YAML path")
    add_batch_option(parser)
    add_dtype_option(parser)
    add_model_options(parser)
    add_policy_option(parser)
    add_fuse_option(parser)
    add_layout_options(parser)
    add_output_options(parser)


def run_analyze(args: argparse.Namespace) -> int:
    """Print the per-op prediction and the totals of one model on one device; on a system, the
    totals of each parallel layout."""
    fmt = output_format(args)
    r = evaluate(
        models_of([args.model], args.set)[0],
        args.hw,
        batch=parse_batches(args.batch),
        dtype=args.dtype,
        policy=args.policy,
        fuse=not args.no_fuse,
        **layout_args(args),
    )
    if isinstance(r, SystemResult):
        emit(r.totals(), args)
        return 0
    ops = r.per_op()
    if fmt in ("csv", "parquet"):
        emit(ops, args)
        return 0
    fmt = one_table_format(args, "analyze writes its ops and its summary")
    if fmt == "json":
        ops = chosen_columns(ops, args, fmt)
        doc = {"summary": r.totals().to_records(), "ops": ops.to_records()}
        text = json.dumps(doc, indent=1, allow_nan=False)
    else:
        slim = chosen_columns(ops, args, fmt, ANALYZE_COLUMNS)
        text = slim.format(fmt, args.units) + "\n" + r.totals().format(fmt, args.units)
    write_output(text, args.output)
    return 0


def compare_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "models", nargs="+", help="model preset names or YAML paths (MODEL:key=value,...)"
    )
    parser.add_argument(
        "--hw", nargs="+", required=True, help="device or system preset names or YAML paths"
    )
    add_batch_option(parser)
    add_dtype_option(parser, many=True)
    add_model_options(parser)
    add_policy_option(parser)
    add_fuse_option(parser)
    parser.add_argument(
        "--sla",
        metavar="TIME",
        help="latency target with its unit (10ms, 2.5 s): adds the largest batch meeting it "
        "and the batch of most throughput meeting it",
    )
    add_layout_options(parser)
    add_output_options(parser)


def run_compare(args: argparse.Namespace) -> int:
    """Print one row per model x device x batch x dtype (a compact set of columns for people)."""
    table = compare(
        models_of(args.models, args.set),
        args.hw,
        batch=parse_batches(args.batch),
        dtype=args.dtype,
        policy=args.policy,
        fuse=not args.no_fuse,
        sla=args.sla,
        **layout_args(args),
    )
    people = [c for c in COMPARE_PEOPLE_COLUMNS if c != "layout" or set(table["layout"]) != {"-"}]
    emit(table, args, people)
    return 0


COMMANDS = {
    "analyze": Command(
        analyze_arguments,
        run_analyze,
        (
            "roofline analyze resnet50 --hw a100_sxm4_80gb --batch 8",
            "roofline analyze llama2_7b:phase=decode --hw h100_sxm5 --batch 16 --dtype fp8",
            "roofline analyze bert_base --hw t4 --columns op,kind,time_s,bound -o ops.csv",
            "roofline analyze llama2_70b --hw dgx_h100 --tp 4 8 --batch 64",
        ),
    ),
    "compare": Command(
        compare_arguments,
        run_compare,
        (
            "roofline compare resnet50 dlrm_rm2 --hw t4 l4 --batch 1 64",
            "roofline compare resnet50 --hw l4 --dtype int8 --sla 10ms",
            "roofline compare bert_large --hw a100_sxm4_80gb h100_sxm5 --columns all -o cmp.json",
        ),
    ),
}
