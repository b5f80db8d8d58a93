"""CLI subcommands ``sweep``, ``sensitivity`` and ``diff`` (registered by :mod:`roofline.cli`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from roofline.errors import SpecError


def parse_vary(items: list[str], hw: Any) -> dict[str, list[float]]:
    """``["memory.hbm.bandwidth=0.5TB/s:8TB/s:16:log", "memory.sram.capacity=8MiB,32MiB"]`` ->
    {canonical path: SI values}."""
    from roofline.grid import knob_dim
    from roofline.units import parse_range

    out: dict[str, list[float]] = {}
    for item in items:
        if "=" not in item:
            raise SpecError(
                f"--vary {item!r} has no '='",
                field="--vary",
                fix="write PATH=a,b,c or PATH=start:stop:count[:log]",
            )
        path, spec = item.split("=", 1)
        canon, dim = knob_dim(hw, path.strip())
        if dim is None:
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


def cmd_sweep(args: argparse.Namespace) -> int:
    from roofline.cli.main import _batches, atomic_write, write_output
    from roofline.presets import load_hardware
    from roofline.sweeps import Progress, n_points, sweep

    hw = load_hardware(args.hw)
    knobs = parse_vary(args.vary, hw)
    total = n_points(knobs, args.mode) * len(args.models) * len(args.dtype or ["fp32"])
    bar = Progress(total, stream=sys.stderr) if not args.quiet else None
    table = sweep(
        args.models,
        hw,
        knobs,
        batch=_batches(args.batch),
        dtype=args.dtype or "fp32",
        mode=args.mode,
        policy=args.policy,
        fuse=not args.no_fuse,
        progress=bar.update if bar else None,
        per_op=bool(args.per_op),
    )
    if args.per_op:
        atomic_write(args.per_op, lambda tmp: Path(tmp).write_text(table.per_op.to_csv()))
    if args.plot:
        if not args.plot.endswith((".png", ".svg", ".pdf")):
            raise SpecError(
                "plot file must end in .png, .svg or .pdf",
                file=args.plot,
                field="--plot",
                fix="e.g. --plot sweep.png",
            )
        import matplotlib

        matplotlib.use("Agg")
        from roofline.plot import plot_sweep

        fig = plot_sweep(table, args.metric)
        atomic_write(args.plot, lambda tmp: fig.savefig(tmp, dpi=130))
    write_output(table.format(args.format), args.output)
    return 0


def cmd_sensitivity(args: argparse.Namespace) -> int:
    from roofline.cli.main import _batches, write_output
    from roofline.whatif import sensitivity

    b = _batches(args.batch)
    if len(b) != 1:
        raise SpecError("sensitivity takes one batch size", field="--batch", fix="e.g. --batch 16")
    table = sensitivity(
        args.model,
        args.hw,
        batch=b[0],
        dtype=args.dtype,
        factor=args.factor,
        policy=args.policy,
        fuse=not args.no_fuse,
    )
    write_output(table.format(args.format), args.output)
    return 0


def cmd_diff(args: argparse.Namespace) -> int:
    from roofline.cli.main import _batches, write_output
    from roofline.whatif import diff_devices

    if len(args.hw) != 2:
        raise SpecError(
            f"diff needs two devices, got {len(args.hw)}",
            field="--hw",
            fix="e.g. --hw a100_sxm4_80gb h100_sxm5",
        )
    b = _batches(args.batch)
    by_kind, changed = diff_devices(
        args.model, args.hw[0], args.hw[1], batch=b[0], dtype=args.dtype, policy=args.policy
    )
    if args.format == "json":
        import json

        text = json.dumps(
            {"by_kind": by_kind.to_records(), "bound_changes": changed.to_records()},
            indent=1,
            allow_nan=False,
        )
    else:
        text = by_kind.format(args.format) + "\n" + changed.format(args.format)
    write_output(text, args.output)
    return 0


def register(sub: Any, common: Any) -> None:
    """Add the subcommands to the CLI's subparsers."""
    sp = sub.add_parser("sweep", help="evaluate models over device variants")
    sp.add_argument("models", nargs="+")
    sp.add_argument("--hw", required=True, help="base device")
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
    sp.add_argument("--policy", choices=("single", "capacity"), default="capacity")
    sp.add_argument("--no-fuse", action="store_true")
    sp.add_argument("--plot", help="write a chart of the result (FILE.png|svg|pdf)")
    sp.add_argument(
        "--per-op", metavar="FILE", help="also write per-op detail as CSV (small sweeps)"
    )
    sp.add_argument(
        "--metric", default="latency_s", choices=("latency_s", "throughput_per_s", "utilization")
    )
    sp.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    common(sp)
    sp.set_defaults(func=cmd_sweep)

    sp = sub.add_parser("sensitivity", help="rank what doubling each device knob buys")
    sp.add_argument("model")
    sp.add_argument("--hw", required=True)
    sp.add_argument("--batch", nargs="+")
    sp.add_argument("--dtype", default="fp32")
    sp.add_argument("--factor", type=float, default=2.0)
    sp.add_argument("--policy", choices=("single", "capacity"), default="capacity")
    sp.add_argument("--no-fuse", action="store_true")
    common(sp)
    sp.set_defaults(func=cmd_sensitivity)

    sp = sub.add_parser("diff", help="one model on two devices: speedup by op kind, bound changes")
    sp.add_argument("model")
    sp.add_argument("--hw", nargs="+", required=True)
    sp.add_argument("--batch", nargs="+")
    sp.add_argument("--dtype", default="fp32")
    sp.add_argument("--policy", choices=("single", "capacity"), default="capacity")
    common(sp)
    sp.set_defaults(func=cmd_diff)
