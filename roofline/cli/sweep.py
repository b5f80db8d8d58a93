"""Commands ``sweep``, ``sensitivity`` and ``diff``: a model over device variants, what doubling
each device knob buys, and one model on two devices."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from roofline.cli.common import (
    Command,
    add_layout_options,
    add_output_options,
    add_policy_option,
    layout_args,
    parse_batches,
    write_output,
)
from roofline.cli.model_args import add_model_options, models_of
from roofline.errors import SpecError
from roofline.knobs import knob_dim
from roofline.output_files import image_format, write_text
from roofline.presets import load_hardware
from roofline.sweep_sinks import SweepOutput, TextSink, is_dataset, read_sweep
from roofline.sweeps import Progress, n_points, sweep
from roofline.systems.spec import System
from roofline.systems.variants import system_knob_dim
from roofline.units import parse_range
from roofline.whatif import diff_devices, sensitivity


def parse_vary(items: list[str], hw: Any) -> dict[str, list[float]]:
    """``["memory.hbm.bandwidth=0.5TB/s:8TB/s:16:log", "memory.sram.capacity=8MiB,32MiB"]`` ->
    {canonical path: SI values}; on a system, its knobs (``count=8,16``,
    ``interconnect.nvlink.bandwidth=...``, ``device.<knob>=...``)."""
    out: dict[str, list[float]] = {}
    for item in items:
        if "=" not in item:
            raise SpecError(
                f"--vary {item!r} has no '='",
                field="--vary",
                fix="write PATH=a,b,c or PATH=start:stop:count[:log]",
            )
        path, spec = item.split("=", 1)
        on_system = isinstance(hw, System)
        canon, dim = system_knob_dim(hw, path.strip()) if on_system else knob_dim(hw, path.strip())
        if dim is None and canon == "count":
            values = _counts(spec)
        elif dim is None:
            try:
                values = [float(v) for v in spec.split(",")]
            except ValueError:
                raise SpecError(
                    f"cannot parse {spec!r}",
                    field=f"--vary {path}",
                    fix="give numbers in (0, 1], e.g. 0.5,0.8,1",
                ) from None
        else:
            try:
                values = parse_range(spec, dim)
            except SpecError as exc:
                raise SpecError(exc.problem, field=f"--vary {path}", fix=exc.fix) from None
        if canon in out:
            raise SpecError(f"knob {canon} is varied twice", field="--vary", fix="merge the lists")
        out[canon] = values
    return out


def run_sweep(args: argparse.Namespace) -> int:
    """Evaluate the models over the device variants: stream the rows to a Parquet dataset
    (``-o x.parquet``) or as CSV/JSON text, or print the table; write the chart."""
    if args.plot:
        image_format(args.plot, field="--plot")  # before the sweep
    hw = load_hardware(args.hw)
    knobs = parse_vary(args.vary, hw)
    total = n_points(knobs, args.mode) * len(args.models) * len(args.dtype or ["fp32"])
    bar = Progress(total, stream=sys.stderr) if not args.quiet else None
    dataset = args.output and (
        str(args.output).lower().endswith(".parquet") or is_dataset(Path(args.output))
    )
    out: Any = None
    if dataset:
        out = args.output
    elif args.format in ("csv", "json") and not args.plot:
        path = None if not args.output or args.output == "-" else args.output
        out = TextSink(args.format, path, sys.stdout)
    result = sweep(
        models_of(args.models, args.set),
        hw,
        knobs,
        batch=parse_batches(args.batch),
        dtype=args.dtype or "fp32",
        mode=args.mode,
        policy=args.policy,
        fuse=not args.no_fuse,
        progress=bar,
        per_op=bool(args.per_op),
        out=out,
        scheduler=args.scheduler,
        workers=args.workers,
        **_layout_kwargs(args, hw),
    )
    if args.per_op and result.per_op is not None:
        write_text(args.per_op, result.per_op.to_csv())
    if isinstance(result, SweepOutput):
        if dataset and not args.quiet:
            print(
                f"roofline: wrote {result.rows:,} rows ({result.chunks} chunks, {result.parts} "
                f"parts) to {result.path}",
                file=sys.stderr,
            )
        if args.plot:
            _write_chart(read_sweep(args.output), args.metric, args.plot)
        return 0
    if args.plot:
        _write_chart(result, args.metric, args.plot)
    write_output(result.format(args.format), args.output)
    return 0


def _counts(spec: str) -> list[float]:
    """``8,16,32`` -> device counts (whole numbers >= 1)."""
    out = []
    for v in spec.split(","):
        if not v.strip().isdigit() or int(v) < 1:
            raise SpecError(
                f"{v!r} is not a device count", field="--vary count", fix="e.g. count=8,16,32"
            )
        out.append(float(v))
    return out


def _layout_kwargs(args: argparse.Namespace, hw: Any) -> dict[str, Any]:
    """The sweep's layout arguments on a system (``--all-layouts`` or ``--tp/--pp/--ep``)."""
    if not isinstance(hw, System):
        if args.all_layouts or any(getattr(args, k) for k in ("tp", "pp", "ep", "dp")):
            raise SpecError(
                f"{hw.name} is one device: layouts need a system",
                field="--tp",
                fix="name a system with --hw, e.g. dgx_h100",
            )
        return {}
    if args.dp:
        raise SpecError(
            "a system sweep fills each variant with replicas",
            field="--dp",
            fix="drop --dp; vary count instead",
        )
    lay = layout_args(args)
    return {"tp": lay["tp"], "pp": lay["pp"], "ep": lay["ep"], "all_layouts": args.all_layouts}


def _write_chart(table: Any, metric: str, path: str) -> None:
    """Draw ``metric`` over the sweep and write it to ``path``."""
    import matplotlib  # the chart's libraries: only a sweep with --plot loads them

    matplotlib.use("Agg")
    from roofline import plot

    plot.save(plot.plot_sweep(table, metric), path)


def run_sensitivity(args: argparse.Namespace) -> int:
    """Print what doubling (``--factor``) each device knob buys, best first."""
    b = parse_batches(args.batch)
    if len(b) != 1:
        raise SpecError("sensitivity takes one batch size", field="--batch", fix="e.g. --batch 16")
    table = sensitivity(
        models_of([args.model], args.set)[0],
        args.hw,
        batch=b[0],
        dtype=args.dtype,
        factor=args.factor,
        policy=args.policy,
        fuse=not args.no_fuse,
    )
    write_output(table.format(args.format), args.output)
    return 0


def run_diff(args: argparse.Namespace) -> int:
    """Print one model's speedup by op kind from one device to another, and the bound changes."""
    if len(args.hw) != 2:
        raise SpecError(
            f"diff needs two devices, got {len(args.hw)}",
            field="--hw",
            fix="e.g. --hw a100_sxm4_80gb h100_sxm5",
        )
    b = parse_batches(args.batch)
    by_kind, changed = diff_devices(
        models_of([args.model], args.set)[0],
        args.hw[0],
        args.hw[1],
        batch=b[0],
        dtype=args.dtype,
        policy=args.policy,
    )
    if args.format == "json":
        text = json.dumps(
            {"by_kind": by_kind.to_records(), "bound_changes": changed.to_records()},
            indent=1,
            allow_nan=False,
        )
    else:
        text = by_kind.format(args.format) + "\n" + changed.format(args.format)
    write_output(text, args.output)
    return 0


def sweep_arguments(sp: argparse.ArgumentParser) -> None:
    sp.add_argument("models", nargs="+")
    sp.add_argument("--hw", required=True, help="base device, or a system (then --tp/--pp/--ep)")
    add_model_options(sp)
    add_layout_options(sp)
    sp.add_argument(
        "--all-layouts", action="store_true", help="on a system: every layout filling each variant"
    )
    sp.add_argument(
        "--vary",
        action="append",
        required=True,
        metavar="PATH=VALUES",
        help="e.g. memory.hbm.bandwidth=0.5TB/s:8TB/s:16:log or "
        "memory.sram.capacity=8MiB,32MiB,128MiB (repeatable)",
    )
    sp.add_argument("--mode", choices=("product", "zip"), default="product")
    sp.add_argument("--batch", nargs="+")
    sp.add_argument("--dtype", nargs="+")
    add_policy_option(sp)
    sp.add_argument("--no-fuse", action="store_true")
    sp.add_argument("--plot", help="write a chart of the result (FILE.png|svg|pdf)")
    sp.add_argument(
        "--per-op", metavar="FILE", help="also write per-op detail as CSV (small sweeps)"
    )
    sp.add_argument(
        "--metric", default="latency_s", choices=("latency_s", "throughput_per_s", "utilization")
    )
    sp.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    cluster = sp.add_mutually_exclusive_group()
    cluster.add_argument(
        "--scheduler",
        metavar="tcp://HOST:PORT",
        help="run the chunks on this Dask cluster (with -o x.parquet its workers write the parts: "
        "a path they share)",
    )
    cluster.add_argument(
        "--workers",
        type=_positive_int,
        metavar="N",
        help="run the chunks on N local worker processes (a Dask LocalCluster, closed at the end)",
    )
    add_output_options(sp)
    sp.epilog = (
        "-o FILE.parquet streams the rows to a partitioned Parquet dataset (a directory); "
        "--format csv|json streams them as text; table and markdown hold the whole table"
    )


def _positive_int(text: str) -> int:
    """``--workers``: a whole number >= 1."""
    if not text.strip().isdigit() or int(text) < 1:
        raise SpecError(f"{text!r} is not a number of workers", field="--workers", fix="e.g. 2")
    return int(text)


def sensitivity_arguments(sp: argparse.ArgumentParser) -> None:
    sp.add_argument("model")
    sp.add_argument("--hw", required=True)
    sp.add_argument("--batch", nargs="+")
    sp.add_argument("--dtype", default="fp32")
    sp.add_argument("--factor", type=float, default=2.0)
    add_model_options(sp)
    add_policy_option(sp)
    sp.add_argument("--no-fuse", action="store_true")
    add_output_options(sp)


def diff_arguments(sp: argparse.ArgumentParser) -> None:
    sp.add_argument("model")
    sp.add_argument("--hw", nargs="+", required=True)
    sp.add_argument("--batch", nargs="+")
    sp.add_argument("--dtype", default="fp32")
    add_model_options(sp)
    add_policy_option(sp)
    add_output_options(sp)


COMMANDS = {
    "sweep": Command(sweep_arguments, run_sweep),
    "sensitivity": Command(sensitivity_arguments, run_sensitivity),
    "diff": Command(diff_arguments, run_diff),
}
