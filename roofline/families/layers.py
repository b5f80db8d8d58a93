"""The ``layers`` family: an explicit op list in YAML, for any model the zoo lacks.

```yaml
params:
  inputs: {x: [3, 224, 224]}          # graph inputs: name -> per-sample shape
  ops:
    - {kind: conv, name: c1, out_channels: 64, kernel_size: 7, stride: 2, padding: 3}
    - {kind: batchnorm, name: bn1}     # inputs default to the previous op's output
    - {kind: linear, name: fc, inputs: [pool], out_features: 10}
```
Each op takes its kind's fields (``roofline/ops``); fields describing the input shape
(``in_channels``, ``input_size``, ``shape``, ``in_features``, ``rows``, ``channels``,
``input_shapes``) are filled from the input tensor when omitted. Ops run in list order; an op may
read only graph inputs and earlier ops (no cycles).
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from roofline.errors import SpecError
from roofline.families.base import FamilyParams, family
from roofline.graph import Graph
from roofline.graph_builder import GraphBuilder
from roofline.ops import REGISTRY
from roofline.suggest import did_you_mean


class LayersParams(FamilyParams):
    """An explicit graph."""

    inputs: dict[str, tuple[int, ...]] = Field(
        min_length=1, description="graph input tensors: name -> per-sample shape (elements)"
    )
    ops: tuple[dict[str, Any], ...] = Field(
        min_length=1,
        description="ops in execution order: each a mapping with `kind`, `name`, optional "
        "`inputs` (tensor names; default: the previous op's output) and the kind's fields",
    )

    @field_validator("inputs")
    @classmethod
    def _shapes(cls, v: dict[str, tuple[int, ...]]) -> dict[str, tuple[int, ...]]:
        for tname, shape in v.items():
            if not tname:
                raise ValueError("an input needs a non-empty name")
            if not shape or min(shape) < 1:
                raise ValueError(
                    f"input {tname!r} has shape {list(shape)}: give at least one dimension, "
                    "each >= 1 (per sample, without the batch)"
                )
        return v


@family("layers", LayersParams, sample="sample")
def build_layers(p: LayersParams, name: str) -> Graph:
    """An explicit list of ops, each with its kind's fields, wired by tensor names."""
    b = GraphBuilder(name)
    for tname, shape in p.inputs.items():
        b.input(tname, shape)
    all_names = [str(o.get("name", "")) for o in p.ops]
    prev: str | None = None
    for i, raw in enumerate(p.ops):
        where = f"ops[{i}]"
        if not isinstance(raw, dict):
            raise SpecError("each op must be a mapping", field=where, fix="e.g. {kind: relu}")
        fields = dict(raw)
        kind = fields.pop("kind", None)
        if not isinstance(kind, str) or kind not in REGISTRY:
            raise SpecError(
                f"unknown op kind {kind!r}",
                field=f"{where}.kind",
                fix=did_you_mean(str(kind), REGISTRY, "use one of " + ", ".join(sorted(REGISTRY))),
            )
        op_name = fields.pop("name", None) or f"{kind}{i}"
        if not isinstance(op_name, str):
            raise SpecError(
                f"name {op_name!r} is not a string", field=f"{where}.name", fix="e.g. name: conv1"
            )
        if op_name in b:
            raise SpecError(
                f"name {op_name!r} is used twice",
                field=f"{where}.name",
                fix="give every op and input a unique name",
            )
        inputs = fields.pop("inputs", None)
        if inputs is None:
            inputs = [prev] if prev else list(p.inputs)[:1]
        if isinstance(inputs, str):
            inputs = [inputs]
        names_ok = isinstance(inputs, list) and all(isinstance(t, str) for t in inputs)
        if not names_ok or not inputs:
            raise SpecError(
                f"inputs {inputs!r} is not a list of tensor names",
                field=f"{where}.inputs",
                fix="e.g. inputs: [x, conv1]",
            )
        for t in inputs:
            if t not in b:
                later = t in all_names[i:]
                raise SpecError(
                    f"input {t!r} "
                    + (
                        "is defined later or by this op (cycles are not allowed)"
                        if later
                        else "does not exist"
                    ),
                    field=f"{where}.inputs",
                    fix="list ops in execution order"
                    if later
                    else did_you_mean(str(t), b.tensors(), "name a graph input or an earlier op"),
                )
        fields = REGISTRY[kind].bind([b.shape(t) for t in inputs], fields)
        try:
            prev = b.add(kind, inputs, name=op_name, **fields)
        except SpecError as exc:
            field = (exc.field or "").replace(f"ops.{op_name}", where, 1) or where
            raise SpecError(exc.problem, field=field, fix=exc.fix) from None
        except TypeError as exc:
            raise SpecError(str(exc), field=where) from None
    return b.build()
