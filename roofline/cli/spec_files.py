"""Commands ``new`` and ``check``: start a device spec from a commented template, and check a
model, device or system spec file, every invalid field at once, with a summary when it is valid.

``roofline new device NAME -o NAME.yaml`` writes ``roofline/templates/device.yaml`` with the name
filled in: it loads as it is, and each figure marked EXAMPLE is there to be replaced.
``roofline check FILE`` tells a device (``engines:``/``memory:``), a system (``device:`` and
``count:``) and a model (anything else, a Hugging Face ``config.json`` or an ``.onnx`` file) apart,
loads it, and prints what it holds in human units; an invalid file is exit status 2 with one line
per invalid field.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import Any

from roofline.api import count
from roofline.cli.common import Command, add_output_options, emit, write_output, yaml_output
from roofline.errors import SpecError
from roofline.hardware import Hardware
from roofline.input_files import require_file
from roofline.kinds import EngineKind
from roofline.presets import load_hardware, load_model
from roofline.systems.spec import System
from roofline.table import Table
from roofline.yaml_loader import read_spec_file

#: the templates ``new`` writes, by kind
TEMPLATES = {"device": Path(__file__).resolve().parents[1] / "templates" / "device.yaml"}
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


def template(kind: str, name: str) -> str:
    """The commented spec template of ``kind`` with ``name`` filled in."""
    if not _NAME.match(name):
        raise SpecError(
            f"{name!r} is not a spec name", field="name", fix="letters, digits, _ . -; e.g. my_npu"
        )
    return TEMPLATES[kind].read_text(encoding="utf-8").replace("{name}", name)


def new_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("kind", choices=tuple(TEMPLATES), help="what to write a template of")
    parser.add_argument("name", help="its name (a device file is best named NAME.yaml)")
    add_output_options(parser, formats=False)


def run_new(args: argparse.Namespace) -> int:
    """Print or write the template."""
    out = args.output
    yaml_output(out, f"e.g. {args.name}.yaml")
    write_output(template(args.kind, args.name), out)
    return 0


def check_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="a model, device or system spec (YAML), config.json or .onnx")
    add_output_options(parser)


def run_check(args: argparse.Namespace) -> int:
    """Load the file; print its summary (an invalid one is a SpecError: every field at once)."""
    path = Path(args.file)
    if not path.exists():
        raise SpecError("no such file", file=args.file, fix="give the path of a spec file")
    require_file(args.file)  # a directory, a device, a FIFO: each said as such
    emit(summary(str(path)), args)
    return 0


def kind_of(path: str) -> str:
    """``device``, ``system`` or ``model``: what the spec file at ``path`` describes."""
    if path.endswith((".json", ".onnx")):
        return "model"
    data = read_spec_file(path)
    if "device" in data or "count" in data:
        return "system"
    if "engines" in data or "memory" in data:
        return "device"
    return "model"


def summary(path: str) -> Table:
    """One row (printed vertically) of what the spec at ``path`` holds, in SI units."""
    kind = kind_of(path)
    if kind == "model":
        return _model_summary(path)
    hw = load_hardware(path)
    if isinstance(hw, System):
        return _system_summary(path, hw)
    return Table(*_device_columns(path, hw, prefix=""), title=f"{path}: a valid device")


def _device_columns(path: str, hw: Hardware, prefix: str) -> tuple[list[str], list[list[Any]]]:
    """Columns named by knob path (so that they print in their units) and the one row."""
    cols: dict[str, Any] = {
        "file": path,
        f"{prefix}name": hw.name,
        f"{prefix}default_dtype": hw.dtype,
    }
    for eng in EngineKind:
        engine = getattr(hw.engines, eng)
        for dt, peak in engine.peak.items():
            cols[f"{prefix}engines.{eng}.peak.{dt}"] = peak
    for name, lvl in hw.memory.items():
        cols[f"{prefix}memory.{name}.capacity"] = lvl.capacity
        cols[f"{prefix}memory.{name}.bandwidth"] = lvl.bandwidth
    cols[f"{prefix}overheads.per_op"] = hw.overheads.per_op
    cols[f"{prefix}energy_model"] = hw.has_energy
    if hw.power is not None:
        cols[f"{prefix}power.tdp"] = hw.power.tdp
    cols[f"{prefix}priced"] = hw.cost is not None
    return list(cols), [list(cols.values())]


def _system_summary(path: str, system: System) -> Table:
    cols: dict[str, Any] = {"file": path, "name": system.name, "count": system.count}
    for name, link in system.interconnect.items():
        cols[f"interconnect.{name}.bandwidth"] = link.bandwidth
        cols[f"interconnect.{name}.latency"] = link.latency
    dev_cols, dev_row = _device_columns(path, system.device, prefix="device.")
    for c, v in zip(dev_cols[1:], dev_row[0][1:]):
        cols[c] = v
    return Table(list(cols), [list(cols.values())], title=f"{path}: a valid system")


def _model_summary(path: str) -> Table:
    m = load_model(path)
    totals = count(m, batch=1, dtype="fp32").totals().to_records()[0]
    cols = {
        "file": path,
        "name": m.name,
        "family": m.family,
        "sample": m.sample,
        "ops": len(m.graph.nodes),
        "params": totals["params"],
        "flops": totals["flops"],
        "flops_mac": totals["flops_mac"],
        "max_live_activations": totals["max_live_activations"],
        "description": m.spec.description,
    }
    title = f"{path}: a valid model (counts at batch 1)"
    return Table(list(cols), [list(cols.values())], title=title)


COMMANDS = {
    "new": Command(
        new_arguments,
        run_new,
        (
            "roofline new device my_npu -o my_npu.yaml",
            "roofline check my_npu.yaml",
            "roofline analyze resnet50 --hw my_npu.yaml",
        ),
    ),
    "check": Command(
        check_arguments,
        run_check,
        (
            "roofline check my_npu.yaml",
            "roofline check model_specs/resnet50.yaml --format json",
            "roofline check hw_specs/systems/dgx_h100.yaml",
        ),
    ),
}
