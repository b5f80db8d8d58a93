"""Write a model's spec as YAML that :func:`roofline.load_model` reloads with identical counts.

An imported model is a ``layers`` spec from the start (:mod:`roofline.importers.builder`), so
writing it is writing that spec: top-level fields as block YAML, each op as one flow mapping on
its own line (``- {kind: conv, name: layer1.0.conv1, out_channels: 64, kernel_size: [3, 3]}``).
Reloading needs neither torch nor onnx. A preset (any other family) is written as its own spec.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import yaml

from roofline.output_files import write_text


def layers_spec(model: Any) -> dict[str, Any]:
    """Return the spec mapping of ``model`` (a :class:`~roofline.presets.Model`)."""
    return model.spec.model_dump(exclude_none=True)


def unused_params(model: Any) -> list[str]:
    """Names of the parameters an imported model holds but its forward never reads
    (``parameter`` ops with ``used: false``)."""
    return [
        op.name
        for op in model.graph.ops
        if op.kind == "parameter" and not getattr(op, "used", True)
    ]


def dumps(spec: dict[str, Any]) -> str:
    """Return ``spec`` as YAML text, one op per line."""
    head = {k: v for k, v in spec.items() if k != "params"}
    text = yaml.safe_dump(head, sort_keys=False, allow_unicode=True, width=100)
    params = dict(spec.get("params") or {})
    ops = params.pop("ops", None)
    if not params and ops is None:
        return text
    lines = [text.rstrip("\n"), "params:"]
    for key, value in params.items():
        lines.append(f"  {key}: {_flow(value)}")
    if ops is not None:
        lines.append("  ops:")
        lines += [f"    - {_flow(op)}" for op in ops]
    return "\n".join(lines) + "\n"


def _flow(value: Any) -> str:
    """One value as single-line flow YAML."""
    text = yaml.safe_dump(_plain(value), default_flow_style=True, sort_keys=False, width=math.inf)
    return text.strip().removesuffix("\n...")  # a scalar is dumped as a document: "basic\n..."


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def write_layers_spec(model: Any, path: str | os.PathLike[str]) -> Path:
    """Write ``model``'s spec to ``path`` (YAML) and return the path.

    Written atomically (:func:`roofline.output_files.write_text`): a failure leaves nothing
    half-written.

    Raises
    ------
    SpecError
        The directory does not exist or cannot be written.
    """
    write_text(str(path), dumps(layers_spec(model)))
    return Path(path)
