"""Spec mappings as YAML text: top-level fields as block YAML, each op of ``params.ops`` as one
flow mapping on its own line, so that a long ``layers`` spec stays readable and diffable.
:func:`roofline.load_model` reads the text back to the same mapping."""

from __future__ import annotations

import math
from typing import Any

import yaml


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
