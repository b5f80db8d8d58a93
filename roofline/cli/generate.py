"""Command ``generate``: time to first token, time per output token and tokens per second of
decoder language models over batch x prompt x output grids (:func:`roofline.generate`)."""

from __future__ import annotations

import argparse

from roofline.cli.common import (
    DTYPE_HELP,
    Command,
    add_batch_option,
    add_fuse_option,
    add_layout_options,
    add_output_options,
    add_policy_option,
    emit,
    layout_args,
    parse_batches,
)
from roofline.cli.model_args import add_model_options, models_of
from roofline.serving.generation import generate

#: the columns printed for people (csv and json carry every column)
SUMMARY_COLUMNS = (
    "model",
    "device",
    "dtype",
    "batch",
    "prompt",
    "output",
    "ttft_s",
    "tpot_s",
    "e2e_s",
    "tokens_per_s",
    "tokens_per_s_bound",
    "kv_cache_bytes",
    "feasible",
    "devices_needed",
    "prefill_bound",
    "decode_bound",
    "tp",
    "pp",
    "cp",
    "ep",
    "dp",
)


def generate_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("models", nargs="+", help="decoder models: presets, YAML or config.json")
    parser.add_argument("--hw", nargs="+", required=True, help="device preset(s) or YAML path(s)")
    parser.add_argument(
        "--prompt", nargs="+", default=["512"], metavar="TOKENS", help="prompt tokens"
    )
    parser.add_argument(
        "--output",
        nargs="+",
        default=["128"],
        dest="tokens",
        metavar="TOKENS",
        help="output tokens generated per request; write to a file with -o FILE",
    )
    add_batch_option(parser, default="1 request")
    parser.add_argument("--dtype", nargs="+", metavar="DTYPE", help=DTYPE_HELP)
    parser.add_argument(
        "--launch",
        choices=("kernel", "graph"),
        default="kernel",
        help="launch overhead per kernel (eager) or once per step (CUDA graphs)",
    )
    add_fuse_option(parser)
    add_model_options(parser)
    add_layout_options(parser)
    add_policy_option(parser)
    add_output_options(parser, flags=("-o",), dest="file")


def _counts(values: list[str], flag: str) -> list[int]:
    """Whole numbers >= 1 from ``--prompt``/``--output`` values (``128 1024`` or ``128,1024``)."""
    return [int(b) for b in parse_batches(values, field=flag)]


def run_generate(args: argparse.Namespace) -> int:
    """Print one row per model x device x dtype x batch x prompt x output."""
    table = generate(
        models_of(args.models, args.set),
        args.hw,
        prompt=_counts(args.prompt, "--prompt"),
        output=_counts(args.tokens, "--output"),
        batch=parse_batches(args.batch),
        dtype=args.dtype,
        policy=args.policy,
        launch=args.launch,
        fuse=not args.no_fuse,
        **layout_args(args),
    )
    emit(table, args, SUMMARY_COLUMNS)
    return 0


COMMANDS = {
    "generate": Command(
        generate_arguments,
        run_generate,
        (
            "roofline generate llama2_7b --hw h100_sxm5 --batch 1 8 64",
            "roofline generate llama3_70b --hw dgx_h100 --tp 8 --prompt 2048 --output 256",
            "roofline generate mixtral_8x7b --hw mi300x --dtype fp8 --launch graph -o gen.csv",
        ),
    )
}
