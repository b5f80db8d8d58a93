"""Command ``table1``: Table 1 of Park et al. (2018) recomputed beside the paper's figures.

``roofline table1 [--format ...] [--batch ...] [--rows ...] [--columns ...]``: the paper's
layout for people, or the chosen columns in any format.
"""

from __future__ import annotations

import argparse
import warnings

from roofline.cli.common import (
    Command,
    add_batch_option,
    add_output_options,
    chosen_columns,
    output_format,
    parse_batches,
    write_output,
)
from roofline.errors import RooflineWarning
from roofline.paper.table1 import render, table1

#: the rows of Table 1, by key
ROWS = ("rec_fc", "rec_emb", "resnext", "faster_rcnn", "resnext3d", "seq2seq")


def table1_arguments(parser: argparse.ArgumentParser) -> None:
    add_batch_option(parser, default="each row's own, as the paper's conventions")
    parser.add_argument(
        "--rows", nargs="+", metavar="ROW", help="only these rows: " + ", ".join(ROWS)
    )
    add_output_options(parser)


def run_table1(args: argparse.Namespace) -> int:
    """Print Table 1, each figure beside the paper's with a verdict.

    Without ``--columns`` (or with ``all``), table and markdown output are the paper's layout;
    with chosen columns every format is those columns, a plain table for people. Table 1 holds
    no byte figure (elements and FLOPs per element), so ``--units`` changes nothing: a warning
    says so."""
    fmt = output_format(args)
    if getattr(args, "units", "kind") != "kind":
        warnings.warn(
            f"table1 does not read --units {args.units}: ignored (its figures are elements and "
            "FLOPs per element, no bytes)",
            RooflineWarning,
            stacklevel=2,
        )
    batch = parse_batches(args.batch) if args.batch else None
    full = table1(batch=batch, rows=args.rows)
    table = chosen_columns(full, args, fmt)
    if fmt == "parquet" and args.output:
        table.to_parquet(args.output)
        return 0
    if list(table.columns) == list(full.columns):
        write_output(render(table, fmt), args.output)
    else:  # the paper's layout needs every column: chosen ones print as a plain table
        write_output(table.format(fmt), args.output)
    return 0


COMMANDS = {
    "table1": Command(
        table1_arguments,
        run_table1,
        (
            "roofline table1",
            "roofline table1 --format markdown",
            "roofline table1 --rows rec_fc rec_emb --batch 1 100 -o table1.csv",
        ),
    )
}
