"""Command ``layouts``: every parallel layout of a model on a system, ranked by throughput per
device under a service-level target (:func:`roofline.best_layout`)."""

from __future__ import annotations

import argparse

from roofline.cli.common import (
    Command,
    add_batch_option,
    add_output_options,
    add_policy_option,
    emit,
    parse_batches,
)
from roofline.cli.model_args import add_model_options, models_of
from roofline.systems.search import best_layout


def layouts_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", help="preset name, YAML path or config.json")
    parser.add_argument("--hw", required=True, help="a system, e.g. dgx_h100")
    add_batch_option(parser, default="1 (the whole system's)")
    parser.add_argument(
        "--dtype", metavar="DTYPE", help="precision (default: the device's default_dtype)"
    )
    parser.add_argument(
        "--sla",
        metavar="TIME",
        help="latency target with its unit (per output token with --prompt), e.g. 50ms",
    )
    parser.add_argument(
        "--ttft", metavar="TIME", help="time-to-first-token target, e.g. 2s (with --prompt)"
    )
    parser.add_argument(
        "--per-user",
        type=float,
        metavar="TOKENS_PER_S",
        help="output tokens/s each user must get (with --prompt)",
    )
    parser.add_argument(
        "--prompt", type=int, metavar="TOKENS", help="prompt tokens: rank by generation"
    )
    parser.add_argument(
        "--output",
        type=int,
        dest="tokens",
        metavar="TOKENS",
        help="output tokens (with --prompt); write to a file with -o FILE",
    )
    add_model_options(parser)
    add_policy_option(parser)
    add_output_options(parser, flags=("-o",), dest="file")


def run_layouts(args: argparse.Namespace) -> int:
    """Print every layout, best first."""
    table = best_layout(
        models_of([args.model], args.set)[0],
        args.hw,
        batch=parse_batches(args.batch),
        dtype=args.dtype,
        sla=args.sla,
        ttft=args.ttft,
        per_user=args.per_user,
        prompt=args.prompt,
        output=args.tokens,
        policy=args.policy,
    )
    emit(table, args)
    return 0


COMMANDS = {
    "layouts": Command(
        layouts_arguments,
        run_layouts,
        (
            "roofline layouts llama2_70b --hw dgx_h100 --batch 64",
            "roofline layouts llama3_70b --hw dgx_h100 --batch 32 --prompt 2048 --output 256 "
            "--sla 50ms",
        ),
    )
}
