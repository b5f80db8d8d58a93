"""Commands ``sweep``, ``sensitivity`` and ``diff``: a model over device variants, what doubling
each device knob buys, and one model on two devices."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path, PurePath
from typing import Any

from roofline.cli.common import (
    Command,
    add_batch_option,
    add_dtype_option,
    add_fuse_option,
    add_layout_options,
    add_output_options,
    add_policy_option,
    check_outputs,
    chosen_columns,
    emit,
    layout_args,
    one_table_format,
    output_format,
    parse_batches,
    whole_number,
    write_output,
)
from roofline.cli.model_args import add_model_options, models_of
from roofline.errors import SpecError
from roofline.knobs import knob_dim, parse_knob_values, zero_ok
from roofline.output_files import image_format, write_text
from roofline.presets import load_hardware
from roofline.sweep_sinks import SweepOutput, TextSink, is_dataset, read_sweep
from roofline.sweeps import Progress, n_points, per_op_for_cli, sweep, system_refusal
from roofline.systems.spec import System
from roofline.systems.variants import system_knob_dim
from roofline.units import parse_range
from roofline.whatif import check_factor, diff_devices, sensitivity


def parse_vary(items: list[str], hw: Any) -> dict[str, list[float]]:
    """``["memory.hbm.bandwidth=0.5TB/s:8TB/s:16:log", "memory.sram.capacity=8MiB,32MiB"]`` ->
    {canonical path: SI values}; on a system, its knobs (``count=8,16``,
    ``interconnect.nvlink.bandwidth=...``, ``device.<knob>=...``). Each value needs its unit
    (zero excepted where the knob may be zero), checked as the API checks a knob's values."""
    out: dict[str, list[float]] = {}
    for item in items:
        if "=" not in item:
            raise SpecError(
                f"--vary {item!r} has no '='",
                field="--vary",
                fix="write PATH=a,b,c or PATH=start:stop:count[:log]",
            )
        path, spec = item.split("=", 1)
        path = path.strip()
        if not path:
            raise SpecError(
                f"--vary {item!r} names no knob before '='",
                field="--vary",
                fix="write PATH=VALUES, e.g. memory.main.bandwidth=1TB/s,2TB/s",
            )
        on_system = isinstance(hw, System)
        try:
            canon, dim = system_knob_dim(hw, path) if on_system else knob_dim(hw, path)
            counts = dim is None and canon == "count"  # checked below, as --vary count
            values = [] if counts else _knob_values(hw, canon, dim, spec, on_system)
        except SpecError as exc:
            raise SpecError(exc.problem, field=f"--vary {path}", fix=exc.fix) from None
        if counts:
            values = _counts(spec)
        if canon in out:
            raise SpecError(f"knob {canon} is varied twice", field="--vary", fix="merge the lists")
        out[canon] = values
    return out


def _knob_values(hw: Any, canon: str, dim: Any, spec: str, on_system: bool) -> list[Any]:
    """A knob's ``--vary`` values: a range (``start:stop:count[:log]``) or a list ``a,b,c``, in
    SI units (a system's as written: the sweep checks them, :mod:`roofline.systems.variants`)."""
    if dim is not None and ":" in spec:
        texts: list[Any] = parse_range(spec, dim, allow_zero=zero_ok(canon))
    else:
        texts = [v.strip() for v in spec.split(",")]
        if not any(texts):
            raise SpecError(f"empty value list {spec!r}", fix="give a,b,c")
        if not all(texts):
            raise SpecError(f"an empty value in the list {spec!r}", fix="write a,b,c with no gap")
    return texts if on_system else parse_knob_values(hw, canon, texts)[1].tolist()


def run_sweep(args: argparse.Namespace) -> int:
    """Evaluate the models over the device variants: stream the rows to a Parquet dataset
    (``-o x.parquet``) or as CSV/JSON text, or print the table; write the chart."""
    if args.plot:
        image_format(args.plot, field="--plot")  # before the sweep
    if args.per_op:
        _per_op_path(args.per_op)
    workers = None if args.workers is None else _positive_int(args.workers)
    fmt = output_format(args)
    hw = load_hardware(args.hw)
    knobs = parse_vary(args.vary, hw)
    total = n_points(knobs, args.mode) * len(args.models) * len(args.dtype or [None])
    bar = Progress(total, stream=sys.stderr) if not args.quiet else None
    if isinstance(hw, System):
        _system_options(args)
    dataset = bool(args.output) and (fmt == "parquet" or is_dataset(Path(args.output)))
    columns = getattr(args, "columns", None)
    if dataset and columns and columns.strip() != "all":
        raise SpecError(
            "a sweep dataset keeps every column",
            field="--columns",
            fix="drop --columns and read only some back: rl.read_sweep(path, columns=[...]) or "
            "pd.read_parquet(path, columns=[...])",
        )
    out: Any = None
    if dataset:
        out = args.output
    elif fmt in ("csv", "json") and not args.plot and not getattr(args, "columns", None):
        # streamed as it is computed; --columns needs the whole table (emit below)
        path = None if not args.output or args.output == "-" else args.output
        out = TextSink(fmt, path, sys.stdout)
    try:
        result = sweep(
            models_of(args.models, args.set),
            hw,
            knobs,
            batch=parse_batches(args.batch),
            dtype=args.dtype,
            mode=args.mode,
            policy=args.policy,
            fuse=not args.no_fuse,
            progress=bar,
            per_op=bool(args.per_op),
            out=out,
            scheduler=args.scheduler,
            workers=workers,
            **_layout_kwargs(args, hw),
        )
    except SpecError as exc:
        if exc.field != "per_op":
            raise
        raise per_op_for_cli(exc) from None
    if args.per_op:
        assert result.per_op is not None  # asked for: the sweep made it or refused
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
    people = [*result.knobs, *(c for c in SWEEP_PEOPLE_COLUMNS if c in result.columns)]
    emit(result, args, people if fmt in ("table", "markdown") else None)
    return 0


def _system_options(args: argparse.Namespace) -> None:
    """Refuse what a system sweep cannot do (it runs in this process, totals only), naming the
    option, before anything runs."""
    for name in ("per_op", "workers", "scheduler"):
        if getattr(args, name):
            raise system_refusal(name, cli=True)


def _counts(spec: str) -> list[float]:
    """``8,16,32`` -> device counts (whole numbers >= 1)."""
    out = []
    for v in spec.split(","):
        problem = f"{v!r} is not a device count"
        whole_number(
            v, field="--vary count", fix="e.g. count=8,16,32", problem=problem, spaces=True
        )
        out.append(float(v.strip()))  # a float: a count beyond the floats is infinite
    return out


def _layout_kwargs(args: argparse.Namespace, hw: Any) -> dict[str, Any]:
    """The sweep's layout arguments on a system (``--all-layouts`` or ``--tp/--pp/--cp/--ep``)."""
    if not isinstance(hw, System):
        if args.all_layouts or any(getattr(args, k) for k in ("tp", "pp", "cp", "ep", "dp")):
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
    return {
        "tp": lay["tp"],
        "pp": lay["pp"],
        "ep": lay["ep"],
        "cp": lay["cp"],
        "all_layouts": args.all_layouts,
    }


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
    try:
        factor: Any = float(args.factor)
    except ValueError:
        factor = args.factor  # check_factor says it is not a number
    factor = check_factor(factor, field="--factor")
    table = sensitivity(
        models_of([args.model], args.set)[0],
        args.hw,
        batch=b[0],
        dtype=args.dtype,
        knobs=args.knob or None,
        factor=factor,
        policy=args.policy,
        fuse=not args.no_fuse,
    )
    emit(table, args)
    return 0


def run_diff(args: argparse.Namespace) -> int:
    """Print one model's speedup by op kind from one device to another, and the bound changes:
    two tables, so as text, markdown or one JSON document (CSV and Parquet hold one table and
    are refused, :func:`~roofline.cli.common.one_table_format`)."""
    if len(args.hw) != 2:
        raise SpecError(
            f"diff needs two devices, got {len(args.hw)}",
            field="--hw",
            fix="e.g. --hw a100_sxm4_80gb h100_sxm5",
        )
    fmt = one_table_format(args, "diff writes two tables (by kind, and the bound changes)")
    d = diff_devices(
        models_of([args.model], args.set)[0],
        args.hw[0],
        args.hw[1],
        batch=parse_batches(args.batch),
        dtype=args.dtype,
        policy=args.policy,
    )
    by_kind = chosen_columns(d.by_kind, args, fmt)
    if fmt == "json":
        text = json.dumps(
            {"by_kind": by_kind.to_records(), "bound_changes": d.bound_changes.to_records()},
            indent=1,
            allow_nan=False,
        )
    else:
        text = by_kind.format(fmt, args.units) + "\n" + d.bound_changes.format(fmt, args.units)
    write_output(text, args.output)
    return 0


def sweep_arguments(sp: argparse.ArgumentParser) -> None:
    sp.add_argument("models", nargs="+", help="model preset names or YAML paths")
    sp.add_argument(
        "--hw", required=True, help="the base device, or a system (then --tp/--pp/--ep)"
    )
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
        help="a knob and its values, each with its unit: memory.hbm.bandwidth=0.5TB/s:8TB/s:16:log "
        "or memory.sram.capacity=8MiB,32MiB,128MiB (repeatable; knobs: memory.LEVEL.capacity, "
        ".bandwidth, .granularity, .energy; engines.matrix|vector.peak.DTYPE, .energy.DTYPE, "
        ".efficiency; overheads.per_op; power.tdp, .idle; cost.*; on a system count, "
        "interconnect.LEVEL.bandwidth|latency, device.KNOB)",
    )
    sp.add_argument(
        "--mode",
        choices=("product", "zip"),
        default="product",
        help="every combination of the knobs' values, or their values side by side",
    )
    add_batch_option(sp)
    add_dtype_option(sp, many=True)
    add_policy_option(sp)
    add_fuse_option(sp)
    sp.add_argument("--plot", metavar="FILE", help="write a chart of the result (.png, .svg, .pdf)")
    sp.add_argument(
        "--per-op", metavar="FILE", help="also write per-op detail as CSV (small sweeps)"
    )
    sp.add_argument(
        "--metric",
        default="latency_s",
        choices=("latency_s", "throughput_per_s", "utilization"),
        help="what --plot draws",
    )
    sp.add_argument("-q", "--quiet", action="store_true", help="no progress bar on stderr")
    cluster = sp.add_mutually_exclusive_group()
    cluster.add_argument(
        "--scheduler",
        metavar="tcp://HOST:PORT",
        help="run the chunks on this Dask cluster (with -o x.parquet its workers write the parts: "
        "a path they share)",
    )
    cluster.add_argument(
        "--workers",
        metavar="N",
        help="run the chunks on N local worker processes (a Dask LocalCluster, closed at the end)",
    )
    add_output_options(sp)
    sp.epilog = (
        "-o FILE.parquet streams the rows to a partitioned Parquet dataset (a directory); "
        "--format csv|json streams them as text; table and markdown hold the whole table"
    )


def _positive_int(text: str) -> int:
    """``--workers``: a whole number >= 1 (checked when the command runs, not by argparse,
    whose message would name this function)."""
    return whole_number(text, field="--workers", fix="e.g. --workers 2", spaces=True)


def _per_op_path(path: str) -> None:
    """``--per-op FILE``: a CSV file (its extension says so, as ``-o`` files' do), a new or
    regular file."""
    ext = PurePath(path).suffix.lower()
    if ext != ".csv":
        raise SpecError(
            f"{path!r} is not a .csv file: the per-op detail is written as CSV",
            field="--per-op",
            fix="name the file .csv, e.g. --per-op per_op.csv",
        )
    check_outputs([(path, "--per-op")])  # a directory, a device... named before the sweep runs


def sensitivity_arguments(sp: argparse.ArgumentParser) -> None:
    sp.add_argument("model", help="model preset name or YAML path")
    sp.add_argument("--hw", required=True, help="device preset name or YAML path")
    add_batch_option(sp)
    add_dtype_option(sp)
    sp.add_argument(
        "--factor",
        default="2",
        help="each knob is multiplied and divided by this (a finite number > 1)",
    )
    sp.add_argument(
        "--knob",
        action="append",
        metavar="PATH",
        help="rank only this knob (repeatable): any device knob of sweep --vary, "
        "memory.LEVEL.capacity, .bandwidth, .granularity, .energy; engines.matrix|vector.peak."
        "DTYPE, .energy.DTYPE, .efficiency; overheads.per_op; power.tdp, .idle, .interconnect; "
        "cost.price, .lifetime, .electricity, .pue, .hourly (default: every level's bandwidth "
        "and capacity, the peaks at the dtype, the per-op overhead); a direction that would "
        "leave the knob's range shows 'out of range'",
    )
    add_model_options(sp)
    add_policy_option(sp)
    add_fuse_option(sp)
    add_output_options(sp)


def diff_arguments(sp: argparse.ArgumentParser) -> None:
    sp.add_argument("model", help="model preset name or YAML path")
    sp.add_argument("--hw", nargs="+", required=True, help="two devices: from, to")
    add_batch_option(sp)
    sp.add_argument(
        "--dtype",
        metavar="DTYPE",
        help="precision on both devices (default: the first device's default_dtype)",
    )
    add_model_options(sp)
    add_policy_option(sp)
    add_output_options(sp)


#: the columns ``sweep`` prints for people after its knobs (csv, json and ``--columns all`` keep
#: every column)
SWEEP_PEOPLE_COLUMNS = (
    "model",
    "layout",
    "batch",
    "dtype",
    "latency_s",
    "throughput_per_s",
    "utilization",
    "bound",
    "feasible",
    "energy_per_sample_j",
    "cost_per_1m_samples",
    "power_capped",
)


COMMANDS = {
    "sweep": Command(
        sweep_arguments,
        run_sweep,
        (
            "roofline sweep resnet50 --hw a100_sxm4_80gb "
            "--vary memory.hbm.bandwidth=0.5TB/s:8TB/s:16:log --batch 1 64",
            "roofline sweep resnet50 --hw a100_sxm4_80gb --vary memory.sram.capacity=8MiB,32MiB "
            "--vary engines.matrix.peak.fp16=100TFLOP/s,300TFLOP/s -o sweep.csv --plot sweep.png",
            "roofline sweep llama2_70b --hw dgx_h100 --vary count=8,16 --all-layouts",
        ),
    ),
    "sensitivity": Command(
        sensitivity_arguments,
        run_sensitivity,
        (
            "roofline sensitivity dlrm_rm2 --hw a100_sxm4_80gb --batch 64",
            "roofline sensitivity resnet50 --hw t4 --factor 1.5 --knob memory.dram.bandwidth",
        ),
    ),
    "diff": Command(
        diff_arguments,
        run_diff,
        ("roofline diff resnet50 --hw a100_sxm4_80gb h100_sxm5 --batch 16",),
    ),
}
