"""``roofline import``: write the ``layers`` spec of an ONNX file or a torch model.

    roofline import model.onnx -o model.yaml [--dim seq=128]
    roofline import --torch torchvision.models:resnet50 --input 1x3x224x224 -o resnet50.yaml

Errors are :class:`~roofline.errors.SpecError` (one line, exit 2, nothing written). torch and
onnx are imported only when the command runs (the importer modules that need them are imported
inside the functions that use them).
"""

from __future__ import annotations

import argparse
import importlib
import sys
import warnings
from typing import Any

from roofline.cli.common import Command, whole_number
from roofline.errors import SpecError
from roofline.importers.spec_writer import write_layers_spec
from roofline.input_files import note_input


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``import`` command's arguments to ``parser``."""
    parser.add_argument("file", nargs="?", help="the .onnx file to import")
    parser.add_argument(
        "--torch",
        metavar="MODULE:FACTORY",
        help="import a torch model made by calling FACTORY() from MODULE "
        "(e.g. torchvision.models:resnet50); built on the meta device",
    )
    parser.add_argument(
        "--input",
        action="append",
        default=[],
        metavar="SHAPE",
        help="with --torch: an input shape, e.g. 1x3x224x224 (int64:1x128 for indices); "
        "repeat for several inputs",
    )
    parser.add_argument(
        "--dim",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="with an .onnx file: the value of a symbolic dim other than the batch",
    )
    parser.add_argument("--name", help="the model's name (default: the file or factory name)")
    parser.add_argument(
        "--strict", action="store_true", help="fail on an op with no mapping (default: warn)"
    )
    parser.add_argument(
        "-o", "--output", metavar="FILE", help="write the spec here (default: print it)"
    )


def parse_shape(text: str) -> tuple[str, tuple[int, ...]]:
    """``"1x3x224x224"`` -> ("float32", (1, 3, 224, 224)); ``"int64:1x128"`` -> int64."""
    dtype, _, dims = text.rpartition(":")
    try:
        shape = tuple(int(d) for d in dims.lower().split("x"))
    except ValueError:
        shape = ()
    if not shape or min(shape) < 1 or dtype not in ("", "float32", "float16", "int64", "int32"):
        raise SpecError(
            f"input {text!r} is not a shape",
            field="--input",
            fix="write dims joined by x, e.g. 1x3x224x224, or int64:1x128 for token ids",
        )
    return dtype or "float32", shape


def parse_dims(items: list[str]) -> dict[str, int]:
    """``["seq=128"]`` -> {"seq": 128}."""
    out = {}
    for item in items:
        name, eq, value = item.partition("=")
        if not name.strip() or not eq:
            raise SpecError(
                f"--dim {item!r} is not NAME=VALUE", field="--dim", fix="e.g. --dim seq=128"
            )
        out[name] = whole_number(value, field=f"--dim {name}", fix=f"e.g. --dim {name}=128")
    return out


def _factory(spec: str) -> Any:
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise SpecError(
            f"--torch {spec!r} is not MODULE:FACTORY",
            field="--torch",
            fix="e.g. --torch torchvision.models:resnet50",
        )
    try:
        if module_name.split(".")[0] == "torchvision":
            from roofline.importers.torchvision_compat import import_torchvision

            import_torchvision()
        module = importlib.import_module(module_name)
        return getattr(module, attr)
    except (ImportError, AttributeError) as exc:
        raise SpecError(
            f"cannot load {spec!r}: {exc}",
            field="--torch",
            fix="check the module path and that its package is installed",
        ) from None


def _torch_model(args: argparse.Namespace) -> Any:
    import torch

    from roofline.importers.torch_trace import from_torch

    if not args.input:
        raise SpecError(
            "--torch needs the model's input shapes", field="--input", fix="add --input 1x3x224x224"
        )
    factory = _factory(args.torch)
    try:
        with torch.device("meta"):
            module = factory()
    except Exception:  # noqa: BLE001 - a constructor that cannot run on meta: build it on the CPU
        try:
            module = factory()
        except Exception as exc:  # noqa: BLE001 - any failure of user code is one line
            raise SpecError(
                f"{args.torch}() failed: {type(exc).__name__}: {exc}", field="--torch"
            ) from None
    inputs = []
    for text in args.input:
        dtype, shape = parse_shape(text)
        inputs.append(torch.empty(shape, dtype=getattr(torch, dtype), device="meta"))
    name = args.name or args.torch.partition(":")[2]
    return from_torch(module, *inputs, name=name, strict=args.strict)


def run(args: argparse.Namespace) -> int:
    """Import the model and write (or print) its spec; return the exit status (0)."""
    if bool(args.file) == bool(args.torch):
        raise SpecError(
            "give an .onnx file or --torch MODULE:FACTORY (one of the two)",
            fix="roofline import model.onnx -o model.yaml",
        )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if args.torch:
            model = _torch_model(args)
        else:
            if args.input:
                raise SpecError("--input applies to --torch", field="--input", fix="use --dim")
            from roofline.importers.onnx_import import from_onnx

            note_input(args.file)  # never written over by -o
            model = from_onnx(args.file, parse_dims(args.dim), name=args.name, strict=args.strict)
    for w in caught:
        print(f"roofline: warning: {w.message}", file=sys.stderr)
    if args.output:
        write_layers_spec(model, args.output)
        params = sum(op.params for op in model.graph.ops)
        print(f"wrote {args.output}: {len(model.graph.ops)} ops, {params:,.0f} parameters")
    else:
        sys.stdout.write(model.to_yaml())
    return 0


COMMANDS = {
    "import": Command(
        add_arguments,
        run,
        (
            "roofline import model.onnx -o model.yaml --dim seq=128",
            "roofline import --torch torchvision.models:resnet50 --input 1x3x224x224 "
            "-o resnet50.yaml",
            "roofline check resnet50.yaml",
        ),
    )
}
