"""Collect a ``layers`` spec op by op (both importers), then build the :class:`Model` from it.

Each op is checked as it is added (its kind's ``bind`` and validation, as the ``layers`` family
does when it loads the spec), so the importer knows every tensor's per-sample shape and can
compare it with the framework's. The spec holds only the fields an op's input does not give
(``in_channels``, ``shape``... are left for ``bind``) and ``inputs`` only where an op does not
read the previous op's output, so a written spec stays short.

An op the importer cannot map becomes a ``generic`` op costed by its bytes (never a silent zero);
:meth:`SpecBuilder.unmapped` is collected for the warning, and ``strict`` makes it an error.
"""

from __future__ import annotations

import warnings
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from roofline.counting import count_graph
from roofline.errors import SpecError
from roofline.ops import REGISTRY
from roofline.ops.base import Shape, broadcast_shapes, numel


class UnmappedOpWarning(UserWarning):
    """An imported model has ops with no mapping, counted as vector ops by their bytes."""


@dataclass
class SpecBuilder:
    """A ``layers`` spec under construction.

    Attributes
    ----------
    name : str
        The model's name.
    origin : str
        What is imported (``"module ResNet"``, ``"resnet50.onnx"``): names the source in errors.
    strict : bool
        An unmapped op is a SpecError instead of a ``generic`` op and a warning.
    """

    name: str
    origin: str
    strict: bool = False
    inputs: dict[str, Shape] = field(default_factory=dict)
    ops: list[dict[str, Any]] = field(default_factory=list)
    shapes: dict[str, Shape] = field(default_factory=dict)
    unmapped: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    _counter: dict[str, int] = field(default_factory=dict)
    _last: str | None = None

    def unique(self, base: str) -> str:
        """Return ``base`` or ``base_N``, a name no tensor has yet."""
        base = base or "op"
        if base not in self.shapes:
            return base
        k = self._counter.get(base, 1)
        while f"{base}_{k}" in self.shapes:
            k += 1
        self._counter[base] = k + 1
        return f"{base}_{k}"

    def input(self, name: str, shape: Shape) -> str:
        """Declare a graph input of per-sample ``shape``; return its (unique) name."""
        name = self.unique(name)
        self.inputs[name] = tuple(int(d) for d in shape)
        self.shapes[name] = self.inputs[name]
        return name

    def add(self, kind: str, inputs: list[str], base: str, **fields: Any) -> str:
        """Append an op of ``kind`` reading ``inputs``; return its output tensor's name.

        ``fields`` are the op's fields a spec must state (input-shape fields are bound).
        """
        name = self.unique(base)
        cls = REGISTRY[kind]
        try:
            bound = cls.bind([self.shapes[t] for t in inputs], fields)
            op = cls.model_validate({**bound, "kind": kind, "name": name})
        except (SpecError, ValueError) as exc:  # a mapping the op kind rejects: an importer bug
            raise SpecError(
                f"cannot express {kind} op {name!r}: {exc}",
                file=self.origin,
                fix="please report this model to the roofline developers",
            ) from None
        entry: dict[str, Any] = {"kind": kind, "name": name}
        default = [self._last or next(iter(self.inputs), "")] if cls.reads_inputs else []
        if list(inputs) != default:
            entry["inputs"] = list(inputs)
        entry.update({k: _plain(v) for k, v in fields.items()})
        self.ops.append(entry)
        self.shapes[name] = tuple(op.out_shape)
        self._last = name
        return name

    def view_as(self, name: str, want: Shape, base: str) -> str:
        """``name``, or a zero-cost view of it with per-sample shape ``want``."""
        have = self.shapes[name]
        if have == want:
            return name
        if numel(have) == numel(want):
            return self.add("reshape", [name], base, target=want)
        if broadcast_shapes(have, want) == want and len(want) >= len(have):
            return self.add("expand", [name], base, target=want)
        return self.add("view", [name], base, target=want)

    def add_as(self, kind: str, inputs: list[str], want: Shape, base: str, **fields: Any) -> str:
        """:meth:`add`, then a zero-cost view so that the output has the framework's per-sample
        shape ``want`` (an op with ``repeat`` copies gives one copy's output).

        Raises
        ------
        SpecError
            The op's output holds other than ``want``'s elements: a wrong mapping.
        """
        name = self.add(kind, inputs, base, **fields)
        have = self.shapes[name]
        copies = int(fields.get("repeat", 1))
        if copies > 1 and numel(have) * copies == numel(want):
            return self.add("view", [name], f"{base}.view", target=want)
        if have != want:
            if numel(have) != numel(want):
                raise SpecError(
                    f"{kind} op {name!r} gives per-sample shape {list(have)}, the model "
                    f"{list(want)}",
                    file=self.origin,
                    fix="please report this model to the roofline developers",
                )
            name = self.add("reshape", [name], f"{base}.reshape", target=want)
        return name

    def add_bias(self, tensor: str, features: int) -> str | None:
        """Fold a bias add into the linear op that just wrote ``tensor`` (directly or through a
        zero-cost reshape), as ``nn.Linear`` runs it; return the linear's name, or None when
        ``tensor`` is not the output of the last op, a linear without a bias of ``features``."""
        if tensor != self._last or not self.ops:
            return None
        entry = self.ops[-1]
        if entry["kind"] == "reshape" and "inputs" not in entry and len(self.ops) > 1:
            entry = self.ops[-2]
        if (
            entry["kind"] != "linear"
            or entry.get("bias", True)
            or entry["out_features"] != features
        ):
            return None
        entry["bias"] = True
        return str(entry["name"])

    def retype_activation(self, name: str, function: str) -> bool:
        """Make the last op, activation ``name``, compute ``function`` instead (two exported
        nodes that are one activation: ``x * sigmoid(x)`` is silu); False if it is not."""
        entry = self.ops[-1] if self.ops else {}
        if entry.get("name") != name or entry.get("kind") != "activation":
            return False
        entry["function"] = function
        return True

    def fallback(self, operation: str, inputs: list[str], out_shape: Shape, base: str) -> str:
        """Add a ``generic`` op for an ``operation`` with no mapping (SpecError if strict)."""
        if self.strict:
            raise SpecError(
                f"{operation} (at {base or 'the top level'}) has no mapping to a roofline op",
                file=self.origin,
                fix="leave strict off to count it as a vector op by its bytes",
            )
        name = self.add("generic", inputs, base, operation=operation, output_shape=tuple(out_shape))
        self.unmapped[operation].append(name)
        return name

    def spec(self, description: str, source: str, notes: str = "") -> dict[str, Any]:
        """Return the model spec mapping (``family: layers``)."""
        data: dict[str, Any] = {
            "name": self.name,
            "family": "layers",
            "description": description,
            "source": source,
            "params": {
                "inputs": {k: list(v) for k, v in self.inputs.items()},
                "ops": self.ops,
            },
        }
        if notes:
            data["notes"] = notes
        return data


#: the defaults of a conv's and a transposed conv's fields, left out of a written spec
CONV_DEFAULTS = {
    "stride": 1,
    "padding": 0,
    "output_padding": 0,
    "dilation": 1,
    "groups": 1,
    "bias": False,
}


def compact(fields: dict[str, Any], defaults: dict[str, Any]) -> dict[str, Any]:
    """``fields`` with per-dim tuples whose entries are equal written as one int, and values
    equal to their default left out (a written spec states what differs, as PyTorch code)."""
    out = {}
    for key, value in fields.items():
        if isinstance(value, (tuple, list)) and value and all(v == value[0] for v in value):
            value = value[0]
        if key in defaults and value == defaults[key]:
            continue
        out[key] = value
    return out


def conv_fields(
    weight: Sequence[int], tied: str | None, transposed: bool = False, **fields: Any
) -> dict[str, Any]:
    """A conv's written fields: ``out_channels`` and ``kernel_size`` from its ``weight`` shape
    ((out_channels, in_channels / groups, *kernel_size), a transposed conv's (in_channels,
    out_channels / groups, *kernel_size)), then ``fields`` (stride, padding, groups...) in the
    order given, :func:`compact` with :data:`CONV_DEFAULTS`, and ``tied_to`` where ``tied``."""
    groups = int(fields.get("groups", 1))
    out_channels = int(weight[1]) * groups if transposed else int(weight[0])
    kernel = tuple(int(k) for k in weight[2:])
    out = compact(dict(out_channels=out_channels, kernel_size=kernel, **fields), CONV_DEFAULTS)
    if tied:
        out["tied_to"] = tied
    return out


def _plain(value: Any) -> Any:
    """Tuples as lists, numpy scalars as Python numbers (a spec is plain data)."""
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (int, float, bool, str)):
        return value.item()
    return value


def warn_unmapped(model: Any, unmapped: dict[str, list[str]], origin: str) -> None:
    """Warn once, listing each unmapped operation with its share of the model's bytes (batch 1)."""
    if not unmapped:
        return
    costs = count_graph(model.graph, 1)
    moved = costs.act_in_bytes[:, 0] + costs.act_out_bytes[:, 0] + costs.weight_read_bytes[:, 0]
    total = float(moved.sum()) or 1.0
    index = {n: i for i, n in enumerate(costs.names)}
    parts = []
    for operation, names in sorted(unmapped.items()):
        share = sum(float(moved[index[n]]) for n in names) / total
        parts.append(f"{operation} x{len(names)} ({share:.2%} of bytes)")
    warnings.warn(
        f"{origin}: ops with no mapping, counted as vector ops by their bytes: " + "; ".join(parts),
        UnmappedOpWarning,
        stacklevel=3,
    )
