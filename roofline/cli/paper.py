"""CLI subcommands ``table1`` and ``plot`` (registered by :mod:`roofline.cli`).

``roofline table1 [--format ...] [--batch ...] [--rows ...]`` prints Table 1 recomputed beside the
paper's figures. ``roofline plot KIND ... -o FILE.png|svg`` draws a chart:

* ``roofline MODEL... --hw DEVICE``: the roofline chart (``--table1`` adds the Table 1 marks);
* ``breakdown MODEL... --hw DEVICE... [--by category|kind|bound]``: stacked time shares;
* ``batch MODEL --hw DEVICE [--sla 10ms]``: latency and throughput against batch size;
* ``embeddings``, ``engines``, ``onchip``, ``precision``, ``fleet``: the studies of
  :mod:`roofline.studies` (models and devices optional; ``fleet`` takes ``MODEL=WEIGHT``).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from roofline.errors import SpecError

KINDS = ("roofline", "breakdown", "batch", "embeddings", "engines", "onchip", "precision", "fleet")
DEFAULT_BATCHES = (1, 2, 4, 8, 16, 32, 64, 128, 256)


def cmd_table1(args: argparse.Namespace) -> int:
    from roofline.cli.main import _batches, write_output
    from roofline.paper.table1 import render, table1

    batch = _batches(args.batch) if args.batch else None
    write_output(render(table1(batch=batch, rows=args.rows), args.format), args.output)
    return 0


def _need(cond: bool, problem: str, field: str, fix: str) -> None:
    if not cond:
        raise SpecError(problem, field=field, fix=fix)


def _one(values: list[str] | None, field: str, what: str) -> str:
    _need(
        bool(values) and len(values) == 1,
        f"{field} needs exactly one {what}",
        field,
        f"e.g. {field} a100_sxm4_80gb" if field == "--hw" else f"give one {what}",
    )
    return values[0]  # type: ignore[index]


def _fleet_mix(items: list[str]) -> dict[str, float] | None:
    if not items:
        return None
    mix = {}
    for it in items:
        name, _, w = it.partition("=")
        try:
            mix[name] = float(w) if w else 1.0
        except ValueError:
            raise SpecError(
                f"weight {w!r} of {name!r} is not a number",
                field="models",
                fix="write MODEL=WEIGHT, e.g. rec_paper=0.6",
            ) from None
    return mix


def _draw(args: argparse.Namespace) -> Any:
    """Build the chart of ``args.kind``; return its Axes or Figure."""
    from roofline import plot, studies
    from roofline.api import evaluate
    from roofline.cli.main import _batches
    from roofline.studies import fleet_breakdown

    k, models, hws = args.kind, args.models, args.hw
    batches = _batches(args.batch) if args.batch else None
    dtype = args.dtype or (
        "int8" if k in ("roofline", "embeddings", "engines", "onchip") else "fp32"
    )
    if k in ("roofline", "breakdown", "batch"):
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
    if k == "batch":
        m = _one(models, "models", "model")
        r = evaluate(m, _one(hws, "--hw", "device"), batch=batches or DEFAULT_BATCHES, dtype=dtype)
        return plot.batch_scaling(r, target_s=args.sla)
    dev = hws[0] if hws else None
    if k == "embeddings":
        model = models[0] if models else "rec_paper"
        dev = dev or studies.PAPER_DEVICE
        st = studies.embedding_study(model, dev, (batches or [100])[0], dtype)
    elif k == "engines":
        st = studies.engine_balance_study(models or None, dev, dtype)
    elif k == "onchip":
        kw = {"models": models} if models else {}
        st = studies.onchip_memory_study(
            device=dev, dtype=dtype, batches=batches or (1, 2, 4, 8, 16), **kw
        )
    elif k == "precision":
        st = studies.precision_study(models or None, hws or ("xeon_gold_6138_2s", "t4"))
    else:
        st = fleet_breakdown(_fleet_mix(models), dev or "xeon_gold_6138_2s", dtype)
    return st.figure()


def cmd_plot(args: argparse.Namespace) -> int:
    import matplotlib

    matplotlib.use("Agg")
    from roofline.plot.common import image_format, save

    _need(
        bool(args.output) and args.output != "-",
        "plot needs an output file",
        "--output",
        "add -o chart.png (or .svg)",
    )
    image_format(args.output, field="--output")  # before the (slow) drawing
    import matplotlib.pyplot as plt

    chart = _draw(args)
    try:
        save(chart, args.output)
    finally:
        plt.close(getattr(chart, "figure", chart))
    return 0


def register(sub: Any, common: Callable[..., None]) -> None:
    """Add ``table1`` and ``plot`` to the CLI's subparsers."""
    sp = sub.add_parser("table1", help="Table 1 of Park et al. 2018 recomputed beside the paper's")
    sp.add_argument("--batch", nargs="+", help="compute every row at these batch sizes instead")
    sp.add_argument(
        "--rows", nargs="+", help="row keys: rec_fc rec_emb resnext faster_rcnn resnext3d seq2seq"
    )
    common(sp)
    sp.set_defaults(func=cmd_table1)

    sp = sub.add_parser("plot", help="roofline, breakdown, batch and study charts to PNG/SVG")
    kinds_help = (
        "roofline, breakdown, batch: charts of the given models; embeddings, engines, "
        "onchip, precision, fleet: the paper's studies"
    )
    sp.add_argument("kind", choices=KINDS, help=kinds_help)
    sp.add_argument("models", nargs="*", help="preset names or YAML paths (fleet: MODEL=WEIGHT)")
    sp.add_argument("--hw", nargs="+", help="device preset(s)")
    sp.add_argument("--batch", nargs="+", help="batch size(s)")
    sp.add_argument(
        "--dtype",
        help="precision (default int8 for roofline and the hardware "
        "studies on the paper's accelerator, fp32 otherwise)",
    )
    sp.add_argument("--table1", action="store_true", help="roofline: mark Table 1 intensities")
    sp.add_argument(
        "--by",
        choices=("category", "kind", "bound"),
        default="category",
        help="breakdown: group time by op category, op kind or bound",
    )
    sp.add_argument("--sla", help="batch: latency target, e.g. 10ms")
    common(sp, fmt=False)
    sp.set_defaults(func=cmd_plot)
