"""Command ``layouts``: every parallel layout of a model on a system, ranked by throughput per
device under a service-level target (:func:`roofline.best_layout`)."""

from __future__ import annotations

import argparse

from roofline.cli.common import (
    Command,
    add_policy_option,
    parse_batches,
    write_output,
)
from roofline.cli.model_args import add_model_options, models_of
from roofline.systems.search import best_layout


def layouts_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", help="preset name, YAML path or config.json")
    parser.add_argument("--hw", required=True, help="a system, e.g. dgx_h100")
    parser.add_argument("--batch", nargs="+", help="batch size(s) of the whole system")
    parser.add_argument("--dtype", help="default: the device's headline dtype")
    parser.add_argument("--sla", help="latency target (per output token with --prompt), e.g. 50ms")
    parser.add_argument("--ttft", help="time-to-first-token target, e.g. 2s (with --prompt)")
    parser.add_argument("--per-user", type=float, help="output tokens/s each user must get")
    parser.add_argument("--prompt", type=int, help="prompt tokens: rank by generation")
    parser.add_argument("--output", type=int, dest="tokens", help="output tokens (with --prompt)")
    add_model_options(parser)
    add_policy_option(parser)
    parser.add_argument("--format", choices=("table", "markdown", "csv", "json"), default="table")
    parser.add_argument("-o", dest="output", metavar="FILE", help="write to FILE")
    parser.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)


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
    write_output(table.format(args.format), args.output)
    return 0


COMMANDS = {"layouts": Command(layouts_arguments, run_layouts)}
