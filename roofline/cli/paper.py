"""Command ``table1``: Table 1 of Park et al. (2018) recomputed beside the paper's figures.

``roofline table1 [--format ...] [--batch ...] [--rows ...]``.
"""

from __future__ import annotations

import argparse

from roofline.cli.common import Command, add_output_options, parse_batches, write_output
from roofline.paper.table1 import render, table1


def table1_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--batch", nargs="+", help="compute every row at these batch sizes instead")
    parser.add_argument(
        "--rows", nargs="+", help="row keys: rec_fc rec_emb resnext faster_rcnn resnext3d seq2seq"
    )
    add_output_options(parser)


def run_table1(args: argparse.Namespace) -> int:
    """Print Table 1, each figure beside the paper's with a verdict."""
    batch = parse_batches(args.batch) if args.batch else None
    write_output(render(table1(batch=batch, rows=args.rows), args.format), args.output)
    return 0


COMMANDS = {"table1": Command(table1_arguments, run_table1)}
