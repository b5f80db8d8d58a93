"""Command ``list``: the model, device and system presets, from the static index
(:mod:`roofline.preset_index`), without loading a spec or importing numpy.

``roofline list`` (no word) says what there is to list; ``roofline list models`` prints each model
with its description whole (wrapped to the terminal, never cut).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import shutil
import textwrap
from typing import Any, NamedTuple

from roofline.cli.common import (
    Command,
    add_output_options,
    output_format,
    write_output,
)
from roofline.errors import SpecError
from roofline.formatting import format_table
from roofline.preset_index import COLUMNS, read_index
from roofline.suggest import unknown_column

#: what each list holds, for ``roofline list`` without a word
WHAT = {
    "models": "model presets: family, what a sample is, description",
    "devices": "device presets: default dtype, dense peaks, main and on-chip memory",
    "systems": "systems of several devices and their interconnect",
}


class Listing(NamedTuple):
    """One list as a table (what :func:`roofline.formatting.format_table` renders)."""

    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]
    title: str


def list_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "what",
        nargs="?",
        choices=tuple(WHAT),
        help="which presets to list (without it: what there is to list)",
    )
    add_output_options(parser)


def run_list(args: argparse.Namespace) -> int:
    """Print the lists there are (no word), or one list in the chosen format."""
    index = read_index()
    if args.what is None:
        lines = ["roofline list WHAT, where WHAT is one of:"]
        lines += [f"  {k:<8} {len(index[k]):>3}  {v}" for k, v in WHAT.items()]
        write_output("\n".join(lines), args.output)
        return 0
    fmt = output_format(args)
    table = _select(_listing(args.what, index[args.what]), args.columns)
    if fmt == "table" and args.what == "models" and not args.columns:
        text = _models_text(index["models"])
    elif fmt in ("table", "markdown"):
        text = format_table(table, markdown=fmt == "markdown", units=args.units)
    elif fmt == "csv":
        text = _csv(table)
    elif fmt == "json":
        records = [dict(zip(table.columns, r)) for r in table.rows]
        text = json.dumps(records, indent=1, allow_nan=False)
    else:
        raise SpecError(
            "roofline list writes csv, json, markdown or text",
            field="--output",
            fix="name the file .csv, .json, .md or .txt",
        )
    write_output(text, args.output)
    return 0


def _listing(what: str, entries: list[dict[str, Any]]) -> Listing:
    cols = COLUMNS[what]
    return Listing(cols, [tuple(e[c] for c in cols) for e in entries], f"{what} ({len(entries)})")


def _select(table: Listing, spec: str | None) -> Listing:
    """``--columns`` applied (``all``: every column)."""
    if not spec or spec.strip() == "all":
        return table
    names = [c.strip() for c in spec.split(",") if c.strip()]
    for n in names:
        if n not in table.columns:
            raise unknown_column(n, table.columns, "--columns")
    idx = [table.columns.index(n) for n in names]
    return Listing(tuple(names), [tuple(r[i] for i in idx) for r in table.rows], table.title)


def _csv(table: Listing) -> str:
    """CSV with a header, floats at their shortest round-trip text, None empty."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(table.columns)
    for r in table.rows:
        w.writerow(["" if v is None else repr(v) if isinstance(v, float) else v for v in r])
    return buf.getvalue()


def _models_text(entries: list[dict[str, str]]) -> str:
    """The models for a terminal: a row each, the description wrapped under itself, not cut."""
    heads = ("model", "family", "sample")
    widths = [max(len(h), *(len(e[h]) for e in entries)) for h in heads]
    indent = sum(widths) + 2 * len(widths)
    room = max(40, shutil.get_terminal_size((120, 24)).columns - indent - 1)
    lines = [f"models ({len(entries)})"]
    lines.append("  ".join(h.ljust(w) for h, w in zip(heads, widths)) + "  description")
    lines.append("  ".join("-" * w for w in widths) + "  " + "-" * min(room, 40))
    for e in entries:
        first, *rest = textwrap.wrap(e["description"], room) or [""]
        lines.append("  ".join(e[h].ljust(w) for h, w in zip(heads, widths)) + "  " + first)
        lines += [" " * indent + r for r in rest]
    return "\n".join(lines)


COMMANDS = {
    "list": Command(
        list_arguments,
        run_list,
        (
            "roofline list",
            "roofline list models",
            "roofline list devices --columns device,default_dtype,main_bandwidth_bytes_per_s",
            "roofline list systems -o systems.csv",
        ),
    )
}
