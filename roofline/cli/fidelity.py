"""Commands ``calibrate`` and ``validate``: measure this machine into a device spec, and hold the
roofline to real kernels timed here.

``roofline calibrate [-o FILE.yaml] [--quick]`` measures this machine and writes a device spec;
``roofline validate [--hw FILE.yaml] [--format ...] [--json FILE] [--plot FILE.png] [--quick]``
runs the kernel suite, predicts it on the device and prints the per-kernel table and the summary.
Progress goes to stderr; ``-q`` silences it.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from roofline.cli.common import (
    Command,
    add_output_options,
    check_outputs,
    emit,
    output_format,
    write_output,
    yaml_output,
)
from roofline.errors import SpecError
from roofline.fidelity.calibrate import calibrate
from roofline.fidelity.device_spec import to_yaml
from roofline.fidelity.machine import Progress, progress_to_stderr, thread_count
from roofline.fidelity.report import load_report
from roofline.fidelity.validate import check_clock, run_validation, tables
from roofline.output_files import image_format, write_text
from roofline.presets import load_device


def _say(args: argparse.Namespace) -> Progress | None:
    return None if args.quiet else progress_to_stderr


def run_calibrate(args: argparse.Namespace) -> int:
    """Measure this machine; print or write the device spec (YAML)."""
    out = args.output
    if out and out != "-":  # refused before the minutes of measuring, as every output is
        check_outputs([(out, "--output")])
        yaml_output(
            out, f"e.g. {Path(out).stem or 'mymachine'}.yaml", why="calibrate writes a device spec"
        )
    threads = _threads(args)
    name = args.name or (Path(out).stem if out and out != "-" else "calibrated")
    spec = calibrate(
        quick=args.quick,
        name=name,
        progress=_say(args),
        use_torch=not args.no_torch,
        threads=threads,
    )
    load_device(spec)  # what is written must load
    write_output(to_yaml(spec), out)
    return 0


def _threads(args: argparse.Namespace) -> int | None:
    """``--threads``: None (every usable CPU) or a whole number from 1 to the usable CPUs."""
    if args.threads is None:
        return None
    return thread_count(args.threads, field="--threads")


def _validate_outputs(args: argparse.Namespace) -> str:
    """Check ``--json``, ``--plot`` and ``-o`` (name, format, target) before measuring; return
    the output format."""
    targets = []
    if args.json:
        if not args.json.endswith(".json"):
            raise SpecError(
                "file must end in .json", file=args.json, field="--json", fix="e.g. validation.json"
            )
        targets.append((args.json, "--json"))
    if args.plot:
        image_format(args.plot, field="--plot")
        targets.append((args.plot, "--plot"))
    if args.output and args.output != "-":
        targets.append((args.output, "--output"))
    check_outputs(targets)
    return output_format(args)  # the -o file's extension and --format


def _measure(args: argparse.Namespace, say: Progress | None, threads: int | None) -> dict[str, Any]:
    """Calibrate if no device is given, then run the suite."""
    if args.hw:
        hw, source = load_device(args.hw), args.hw
    else:
        if say:
            say("no --hw given: calibrating this machine first")
        hw = load_device(
            calibrate(quick=args.quick, progress=say, use_torch=not args.no_torch, threads=threads)
        )
        source = "calibrated in this run"
    return run_validation(
        hw,
        quick=args.quick,
        with_torch=not args.no_torch,
        models=not args.no_models,
        progress=say,
        device_file=source,
        threads=threads,
        clock=args.clock,
    )


def run_validate(args: argparse.Namespace) -> int:
    """Time the kernel suite here (or re-read a report); print the tables, write JSON and chart.
    Outputs, ``--threads`` and ``--clock`` are checked first, before anything is measured."""
    fmt = _validate_outputs(args)
    if args.from_json:
        doc = load_report(args.from_json)
    else:
        threads = _threads(args)
        # before calibrating: the cpu clock needs one thread
        check_clock(args.clock, threads, field="--clock")
        doc = _measure(args, _say(args), threads)
    text = json.dumps(doc, indent=1, allow_nan=False)
    if args.json:
        write_text(args.json, text + "\n")
    if args.plot:
        _write_chart(doc, args.plot)
    if fmt == "json":
        write_output(text, args.output)
    elif fmt in ("csv", "parquet"):
        emit(tables(doc)[0], args)  # the per-kernel table
    else:
        parts = tables(doc)
        if args.summary_only:
            parts = parts[1:]
        write_output("\n".join(t.format(fmt, args.units) for t in parts), args.output)
    return 0


def _write_chart(doc: dict[str, Any], path: str) -> None:
    """Draw measured against predicted time and write it to ``path``."""
    import matplotlib  # the chart's libraries: only a validate with --plot loads them

    matplotlib.use("Agg")
    from roofline import plot
    from roofline.plot.validation import measured_vs_predicted

    plot.save(measured_vs_predicted(doc), path)


def calibrate_arguments(sp: argparse.ArgumentParser) -> None:
    sp.add_argument("--quick", action="store_true", help="a few seconds, fewer sizes, no torch")
    sp.add_argument("--name", help="device name in the spec (default: the output file's stem)")
    sp.add_argument("--no-torch", action="store_true", help="numpy only")
    sp.add_argument("--threads", type=int, help="BLAS/torch threads (default: all usable CPUs)")
    sp.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    add_output_options(sp, formats=False)


def validate_arguments(sp: argparse.ArgumentParser) -> None:
    sp.add_argument("--hw", help="device spec (default: calibrate this machine first)")
    sp.add_argument("--quick", action="store_true", help="a few small kernels, no whole models")
    sp.add_argument(
        "--no-torch",
        action="store_true",
        help="numpy kernels only (without torch installed, the torch kernels and the whole "
        "models are left out and listed as not run: pip install 'roofline[torch]')",
    )
    sp.add_argument("--no-models", action="store_true", help="skip resnet50 and DLRM")
    sp.add_argument("--summary-only", action="store_true", help="no per-kernel table")
    sp.add_argument(
        "--clock",
        choices=("wall", "cpu"),
        default="wall",
        help="time by elapsed time, or by process CPU time (needs --threads 1)",
    )
    sp.add_argument("--json", metavar="FILE", help="also write the full JSON document to FILE.json")
    sp.add_argument(
        "--from-json", metavar="FILE", help="re-render a report saved with --json (no measuring)"
    )
    sp.add_argument(
        "--plot", metavar="FILE", help="also write the measured-vs-predicted chart (png/svg/pdf)"
    )
    sp.add_argument("--threads", type=int, help="BLAS/torch threads (default: all usable CPUs)")
    sp.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    add_output_options(sp)


COMMANDS = {
    "calibrate": Command(
        calibrate_arguments,
        run_calibrate,
        (
            "roofline calibrate -o mymachine.yaml",
            "roofline calibrate --quick --threads 1 -o quick.yaml",
        ),
    ),
    "validate": Command(
        validate_arguments,
        run_validate,
        (
            "roofline validate --hw mymachine.yaml",
            "roofline validate --hw mymachine.yaml --quick --summary-only",
            "roofline validate --hw mymachine.yaml --json report.json --plot report.png",
            "roofline validate --from-json report.json --format markdown",
        ),
    ),
}
