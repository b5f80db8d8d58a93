"""Command line: ``roofline list|analyze|compare|table1|plot|sweep|calibrate|validate``.

A thin face over the Python API. Every :class:`~roofline.errors.RooflineError` (and argparse
misuse) becomes one line ``roofline: error: ...`` on stderr and exit status 2; ``--debug``
re-raises. Output files are written to a temporary name and renamed, so an error leaves none.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from roofline.errors import RooflineError, SpecError
from roofline.output_files import atomic_write

FORMATS = ("table", "markdown", "csv", "json")


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of printing usage and exiting."""

    def error(self, message: str) -> None:  # type: ignore[override]
        import re

        from roofline.suggest import did_you_mean

        fix = f"see '{self.prog} --help'"
        bad = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)", message)
        if bad:
            choices = re.findall(r"'?([A-Za-z0-9_.-]+)'?", bad.group(2))
            fix = did_you_mean(bad.group(1), choices, fix)
        raise SpecError(message.replace("\n", " "), fix=fix)


def write_output(text: str, path: str | None) -> None:
    """Print ``text`` or write it atomically to ``path`` (temp file + rename)."""
    if not path or path == "-":
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        return
    atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


def _batches(values: Sequence[str] | None, default: Sequence[int] = (1,)) -> list[float]:
    if not values:
        return list(default)
    out = []
    for v in values:
        for part in str(v).split(","):
            try:
                x = float(part)
            except ValueError:
                raise SpecError(
                    f"batch {part!r} is not a number", field="--batch", fix="e.g. --batch 1 16 64"
                ) from None
            if not (x >= 1 and x.is_integer()):
                raise SpecError(
                    f"batch {part!r} must be a whole number >= 1",
                    field="--batch",
                    fix="e.g. --batch 1 16 64",
                )
            out.append(int(x))
    return out


# -- subcommands --------------------------------------------------------------------------------


def cmd_list(args: argparse.Namespace) -> int:
    from roofline.presets import list_devices, list_models, load_hardware, load_model
    from roofline.table import Table

    def short(text: str) -> str:
        # people get a line each; csv and json keep the whole description
        if args.format in ("csv", "json"):
            return text
        text = text.split(" (", 1)[0]
        return text if len(text) <= 48 else text[:47] + "…"

    if args.what == "models":
        rows = []
        for n in list_models():
            m = load_model(n)
            rows.append([n, m.family, m.sample, short(m.spec.description)])
        table = Table(["model", "family", "sample", "description"], rows, title="models")
    else:
        rows = []
        for n in list_devices():
            hw = load_hardware(n)

            def peak(dtype: str, hw=hw) -> float | None:
                used = hw.engines.matrix.resolve(dtype)
                return hw.engines.matrix.peak[used] if used else None

            main = hw.memory[hw.main_level]
            onchip = sum(lv.capacity for lv in hw.memory.values() if lv.kind == "onchip")
            rows.append(
                [
                    n,
                    short(hw.description),
                    peak("fp16") or peak("bf16"),
                    peak("int8"),
                    main.bandwidth,
                    main.capacity,
                    onchip,
                ]
            )
        table = Table(
            [
                "device",
                "description",
                "fp16_matrix_flops_per_s",
                "int8_matrix_flops_per_s",
                "main_bandwidth_bytes_per_s",
                "main_capacity_bytes",
                "onchip_bytes",
            ],
            rows,
            title="devices",
        )
    write_output(table.format(args.format), args.output)
    return 0


def cmd_analyze(args: argparse.Namespace) -> int:
    from roofline.api import evaluate

    r = evaluate(
        args.model,
        args.hw,
        batch=_batches(args.batch),
        dtype=args.dtype,
        policy=args.policy,
        fuse=not args.no_fuse,
    )
    ops = r.per_op()
    keep = [
        "batch",
        "op",
        "kind",
        "flops",
        "params",
        "weight_read_bytes",
        "act_in_bytes",
        "act_out_bytes",
        "kv_bytes",
        "intensity_flops_per_byte",
        "time_s",
        "bound",
        "tile_utilization",
    ]
    if args.format in ("csv", "json"):
        text = ops.format(args.format) if args.format == "csv" else _json_both(ops, r.totals())
    else:
        from roofline.table import Table

        idx = [ops.columns.index(c) for c in keep]
        slim = Table(keep, [[row[i] for i in idx] for row in ops.rows], title=ops.title)
        text = slim.format(args.format) + "\n" + r.totals().format(args.format)
    write_output(text, args.output)
    return 0


def _json_both(ops, totals) -> str:
    import json

    return json.dumps(
        {"summary": totals.to_records(), "ops": ops.to_records()}, indent=1, allow_nan=False
    )


def cmd_compare(args: argparse.Namespace) -> int:
    from roofline.api import compare

    table = compare(
        args.models,
        args.hw,
        _batches(args.batch),
        args.dtype or ["fp32"],
        policy=args.policy,
        fuse=not args.no_fuse,
        sla=args.sla,
    )
    write_output(table.format(args.format), args.output)
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (subcommands register their own options)."""
    p = _Parser(prog="roofline", description="Analytical roofline modeling of DL inference.")
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = p.add_subparsers(dest="command", parser_class=_Parser, metavar="COMMAND")

    def common(sp: argparse.ArgumentParser, fmt: bool = True) -> None:
        if fmt:
            sp.add_argument("--format", choices=FORMATS, default="table")
        sp.add_argument("-o", "--output", help="write to FILE instead of stdout")
        sp.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)

    sp = sub.add_parser("list", help="list model or device presets")
    sp.add_argument("what", choices=("models", "devices"))
    common(sp)
    sp.set_defaults(func=cmd_list)

    sp = sub.add_parser("analyze", help="per-op prediction of one model on one device")
    sp.add_argument("model", help="preset name or YAML path")
    sp.add_argument("--hw", required=True, help="device preset name or YAML path")
    sp.add_argument("--batch", nargs="+", help="batch size(s)")
    sp.add_argument("--dtype", default="fp32")
    sp.add_argument("--policy", choices=("single", "capacity"), default="capacity")
    sp.add_argument("--no-fuse", action="store_true", help="run every op as its own kernel")
    common(sp)
    sp.set_defaults(func=cmd_analyze)

    sp = sub.add_parser("compare", help="models x devices x batches x dtypes")
    sp.add_argument("models", nargs="+")
    sp.add_argument("--hw", nargs="+", required=True)
    sp.add_argument("--batch", nargs="+")
    sp.add_argument("--dtype", nargs="+")
    sp.add_argument("--policy", choices=("single", "capacity"), default="capacity")
    sp.add_argument("--no-fuse", action="store_true")
    sp.add_argument("--sla", help="latency target, e.g. 10ms: adds max batch under it")
    common(sp)
    sp.set_defaults(func=cmd_compare)

    for register in _EXTRA:
        register(sub, common)
    return p


#: hooks of other modules' subcommands: register(subparsers, common) -> None
_EXTRA: list[Callable] = []


def _load_extra() -> None:
    import importlib

    for mod in ("paper", "sweep", "fidelity"):
        m = importlib.import_module(f"roofline.cli.{mod}")
        if m.register not in _EXTRA:
            _EXTRA.append(m.register)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the exit status (0 ok, 2 error, 130 interrupted)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    try:
        _load_extra()
        parser = build_parser()
        args = parser.parse_args(argv)
        if not getattr(args, "command", None):
            parser.print_help()
            return 2
        return int(args.func(args) or 0)
    except RooflineError as exc:
        if debug:
            raise
        print(f"roofline: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("roofline: error: interrupted (no output written)", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
