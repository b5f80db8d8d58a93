"""Command ``plot``: a chart to PNG, SVG or PDF.

``roofline plot KIND ... -o FILE.png|svg|pdf``:

* ``roofline MODEL... --hw DEVICE [--batch B...]``: the roofline chart, each model at each batch
  (``--table1`` adds the Table 1 marks);
* ``breakdown MODEL... --hw DEVICE... [--by category|kind|bound]``: stacked time shares;
* ``batch MODEL --hw DEVICE [--sla 10ms]``: latency and throughput against batch size; with an
  SLA the batches :func:`roofline.sla.batches_under_sla` finds (the largest, and the best
  throughput) are among those drawn, so the chart and ``compare --sla`` agree;
* a study of :data:`roofline.studies.STUDIES` by name (``embeddings``, ``engines``, ``onchip``,
  ``precision``, ``energy``, ``scaling``, ``fleet``): models and devices optional, as each study
  reads them.

An option the chart does not read, and one of which it reads only the first value (a study's
single device, say), is named in a warning (one line each), as the study's entry lists them
(:attr:`roofline.studies.base.StudyEntry.reads`).
"""

from __future__ import annotations

import argparse
import warnings
from typing import Any

import matplotlib
import matplotlib.pyplot as plt

from roofline import plot
from roofline.api import evaluate_device as evaluate
from roofline.cli.common import (
    DTYPE_HELP,
    Command,
    add_batch_option,
    add_output_options,
    parse_batches,
)
from roofline.errors import RooflineWarning, SpecError
from roofline.output_files import image_format
from roofline.sla import batches_under_sla
from roofline.studies import STUDIES, Options

#: charts of the given models; the studies follow them as kinds
CHART_KINDS = ("roofline", "breakdown", "batch")
KINDS = CHART_KINDS + tuple(STUDIES)
DEFAULT_BATCHES = (1, 2, 4, 8, 16, 32, 64, 128, 256)


def plot_arguments(parser: argparse.ArgumentParser) -> None:
    kinds_help = (
        "roofline, breakdown, batch: charts of the given models; "
        f"{', '.join(STUDIES)}: the paper's studies"
    )
    parser.add_argument("kind", choices=KINDS, help=kinds_help)
    parser.add_argument(
        "models", nargs="*", help="preset names or YAML paths (fleet: MODEL=WEIGHT)"
    )
    parser.add_argument("--hw", nargs="+", help="device preset(s) or YAML path(s)")
    add_batch_option(parser, default="1; batch: 1 2 4 ... 256")
    parser.add_argument(
        "--dtype",
        metavar="DTYPE",
        help=DTYPE_HELP.replace("default:", "default for the charts of models:")
        + "; the studies keep the paper's precisions",
    )
    parser.add_argument("--table1", action="store_true", help="roofline: mark Table 1 intensities")
    parser.add_argument(
        "--by",
        choices=("category", "kind", "bound"),
        help="breakdown: group time by op category (default), op kind or bound",
    )
    parser.add_argument(
        "--sla",
        metavar="TIME",
        help="batch: latency target with its unit, e.g. 10ms (marks the largest batch meeting "
        "it; the batches compare --sla finds are drawn)",
    )
    parser.add_argument(
        "--style",
        help="a matplotlib style for the chart, e.g. dark_background (default: matplotlib's)",
    )
    add_output_options(parser, formats=False)


def run_plot(args: argparse.Namespace) -> int:
    """Draw the chart of ``args.kind`` and write it to ``args.output``."""
    _need(
        bool(args.output) and args.output != "-",
        "plot needs an output file",
        "--output",
        "add -o chart.png (or .svg)",
    )
    image_format(args.output, field="--output")  # before the (slow) drawing
    matplotlib.use("Agg")
    style = args.style or "default"
    _need(
        style == "default" or style in plt.style.available,
        f"unknown matplotlib style {style!r}",
        "--style",
        "use one of " + ", ".join(sorted(plt.style.available)),
    )
    with plt.style.context(style):
        chart = _draw(args)
        try:
            plot.save(chart, args.output)
        finally:
            plt.close(getattr(chart, "figure", chart))
    return 0


#: the chart options only some kinds read: the kinds that read each
_ONLY = {"--table1": ("roofline",), "--by": ("breakdown",), "--sla": ("batch",)}


def _unread(args: argparse.Namespace) -> None:
    """Warnings, a line each, naming the options given that the chart of ``args.kind`` does not
    read (the chart options of other kinds; what a study does not read, as its entry's
    ``reads`` says), and those of which it reads only the first value."""
    given = {
        "--table1": bool(args.table1),
        "--by": args.by is not None,
        "--sla": args.sla is not None,
    }
    unread = [opt for opt, kinds in _ONLY.items() if given[opt] and args.kind not in kinds]
    why = {o: f"{o} is for plot {_ONLY[o][0]}" for o in unread}
    reads = STUDIES[args.kind].reads if args.kind in STUDIES else {}
    values = {
        "models": list(args.models or ()),
        "--hw": list(args.hw or ()),
        "--batch": list(args.batch or ()),
        "--dtype": [] if args.dtype is None else [args.dtype],
    }
    first = []
    for opt, how in reads.items():
        if how == "first" and len(values.get(opt, [])) > 1:
            first.append(opt)
        elif how != "first" and values.get(opt):
            unread.append(opt)
            why[opt] = f"{opt}: {how}"
    if unread:
        warnings.warn(
            f"plot {args.kind} does not read {', '.join(unread)}: ignored "
            f"({'; '.join(why[o] for o in unread)})",
            RooflineWarning,
            stacklevel=2,
        )
    if first:
        warnings.warn(
            f"plot {args.kind} reads one value of {', '.join(first)}: only the first "
            f"({'; '.join(str(values[o][0]) for o in first)}) is used",
            RooflineWarning,
            stacklevel=2,
        )


def _draw(args: argparse.Namespace) -> Any:
    """Build the chart of ``args.kind``; return its Axes or Figure."""
    _unread(args)
    k, models, hws = args.kind, args.models, args.hw
    batches = parse_batches(args.batch) if args.batch else None
    if k in STUDIES:
        options = Options(tuple(models), tuple(hws or ()), tuple(batches or ()), args.dtype)
        return STUDIES[k].from_options(options).figure()
    dtype = args.dtype  # None: each device's default_dtype
    _need(
        bool(models),
        f"plot {k} needs at least one model",
        "models",
        f"e.g. roofline plot {k} resnet50 --hw a100_sxm4_80gb -o chart.png",
    )
    if k == "roofline":  # a point per model and batch; the Table 1 marks of each model
        hw = _one(hws, "--hw", "device")
        runs = [(m, b) for m in models for b in (batches or [1])]
        rs = [evaluate(m, hw, batch=b, dtype=dtype) for m, b in runs]
        return plot.roofline(rs, table1=[m for m, _ in runs] if args.table1 else False)
    if k == "breakdown":
        _need(bool(hws), "plot breakdown needs --hw", "--hw", "e.g. --hw a100_sxm4_80gb t4")
        rs = [evaluate(m, hw, batch=batches or [1], dtype=dtype) for m in models for hw in hws]
        return plot.breakdown(rs, by=args.by or "category")
    m, hw = _one(models, "models", "model"), _one(hws, "--hw", "device")
    grid = list(batches or DEFAULT_BATCHES)
    if args.sla is not None:  # the same search as compare --sla: its batches are drawn too
        found = batches_under_sla(m, hw, args.sla, dtype)
        grid += [found.max_batch_under_sla, found.best_batch_under_sla]
    grid = sorted({b for b in grid if b >= 1})
    r = evaluate(m, hw, batch=grid, dtype=dtype)
    return plot.batch_scaling(r, target_s=args.sla)


def _need(cond: bool, problem: str, field: str, fix: str) -> None:
    if not cond:
        raise SpecError(problem, field=field, fix=fix)


def _one(values: list[str] | None, field: str, what: str) -> str:
    _need(
        values is not None and len(values) == 1,
        f"{field} needs exactly one {what}",
        field,
        f"e.g. {field} a100_sxm4_80gb" if field == "--hw" else f"give one {what}",
    )
    return values[0]  # type: ignore[index]


COMMANDS = {
    "plot": Command(
        plot_arguments,
        run_plot,
        (
            "roofline plot roofline resnet50 --hw hypothetical_100tops -o roofline.png",
            "roofline plot roofline resnet50 dlrm_rm2 --hw a100_sxm4_80gb --table1 -o r.svg",
            "roofline plot breakdown resnet50 --hw t4 l4 --by bound -o breakdown.png",
            "roofline plot batch resnet50 --hw l4 --dtype int8 --sla 10ms -o batch.png",
            "roofline plot onchip -o onchip.png",
        ),
    )
}
