"""Command ``plot``: a chart to PNG, SVG or PDF.

``roofline plot KIND ... -o FILE.png|svg|pdf``:

* ``roofline MODEL... --hw DEVICE``: the roofline chart (``--table1`` adds the Table 1 marks);
* ``breakdown MODEL... --hw DEVICE... [--by category|kind|bound]``: stacked time shares;
* ``batch MODEL --hw DEVICE [--sla 10ms]``: latency and throughput against batch size;
* a study of :data:`roofline.studies.STUDIES` by name (``embeddings``, ``engines``, ``onchip``,
  ``precision``, ``fleet``): models and devices optional, as each study reads them.
"""

from __future__ import annotations

import argparse
from typing import Any

import matplotlib
import matplotlib.pyplot as plt

from roofline import plot
from roofline.api import evaluate_device as evaluate
from roofline.cli.common import Command, add_output_options, parse_batches
from roofline.errors import SpecError
from roofline.output_files import image_format
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
    parser.add_argument("--hw", nargs="+", help="device preset(s)")
    parser.add_argument("--batch", nargs="+", help="batch size(s)")
    parser.add_argument(
        "--dtype",
        help="precision (default int8 for roofline and the hardware "
        "studies on the paper's accelerator, fp32 otherwise)",
    )
    parser.add_argument("--table1", action="store_true", help="roofline: mark Table 1 intensities")
    parser.add_argument(
        "--by",
        choices=("category", "kind", "bound"),
        default="category",
        help="breakdown: group time by op category, op kind or bound",
    )
    parser.add_argument("--sla", help="batch: latency target, e.g. 10ms")
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


def _draw(args: argparse.Namespace) -> Any:
    """Build the chart of ``args.kind``; return its Axes or Figure."""
    k, models, hws = args.kind, args.models, args.hw
    batches = parse_batches(args.batch) if args.batch else None
    if k in STUDIES:
        options = Options(tuple(models), tuple(hws or ()), tuple(batches or ()), args.dtype)
        return STUDIES[k].from_options(options).figure()
    dtype = args.dtype or ("int8" if k == "roofline" else "fp32")
    _need(
        bool(models),
        f"plot {k} needs at least one model",
        "models",
        f"e.g. roofline plot {k} resnet50 --hw a100_sxm4_80gb -o chart.png",
    )
    if k == "roofline":
        hw = _one(hws, "--hw", "device")
        rs = [evaluate(m, hw, batch=(batches or [1])[0], dtype=dtype) for m in models]
        return plot.roofline(rs, table1=args.table1)
    if k == "breakdown":
        _need(bool(hws), "plot breakdown needs --hw", "--hw", "e.g. --hw a100_sxm4_80gb t4")
        rs = [evaluate(m, hw, batch=batches or [1], dtype=dtype) for m in models for hw in hws]
        return plot.breakdown(rs, by=args.by)
    m = _one(models, "models", "model")
    r = evaluate(m, _one(hws, "--hw", "device"), batch=batches or DEFAULT_BATCHES, dtype=dtype)
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


COMMANDS = {"plot": Command(plot_arguments, run_plot)}
