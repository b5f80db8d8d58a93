"""The ``layers`` family: an explicit op list in YAML, for any model the zoo lacks.

```yaml
params:
  inputs: {x: [3, 224, 224]}          # graph inputs: name -> per-sample shape
  ops:
    - {kind: conv, name: c1, out_channels: 64, kernel_size: 7, stride: 2, padding: 3}
    - {kind: batchnorm, name: bn1}     # inputs default to the previous op's output
    - times: 2                         # a block of ops repeated, {i} = 0, 1 in names and inputs
      ops:
        - {kind: conv, name: "block{i}.conv", out_channels: 64, kernel_size: 3, padding: 1}
        - {kind: elementwise, name: "block{i}.add", inputs: ["block{i}.conv", "{input}"]}
    - {kind: flatten, name: flat, inputs: [pool]}
    - {kind: linear, name: fc, out_features: 10}
```
Each op takes its kind's fields (``roofline/ops``); fields describing the input shape
(``in_channels``, ``input_size``, ``shape``, ``in_features``, ``rows``, ``channels``,
``input_shapes``) are filled from the input tensor when omitted and checked against it when
given. Ops run in list order; an op may read only graph inputs and earlier ops (no cycles).
Errors name the op by its ``name`` (``params.ops.fc.in_features``).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import Field, field_validator

from roofline.errors import SpecError
from roofline.families.base import FamilyParams, family
from roofline.graph import Graph
from roofline.graph_builder import GraphBuilder
from roofline.ops import REGISTRY
from roofline.ops.base import show

#: PyTorch (and other) names of ops, mapped to the kind (and field) that writes them here
KIND_ALIASES = {
    **dict.fromkeys(("conv1d", "conv2d", "conv3d", "convolution"), "'conv'"),
    **dict.fromkeys(("dense", "fc", "gemm", "fully_connected"), "'linear'"),
    **dict.fromkeys(("mm", "bmm", "einsum", "matmul2d"), "'matmul'"),
    **{
        f: f"'activation' with function: {f}"
        for f in ("relu", "relu6", "gelu", "sigmoid", "tanh", "silu", "hardswish", "hardsigmoid")
    },
    "swish": "'activation' with function: silu",
    **{f: f"'elementwise' with op: {f}" for f in ("add", "sub", "mul", "div")},
    **dict.fromkeys(
        ("bn", "batch_norm", "batchnorm1d", "batchnorm2d", "batchnorm3d"), "'batchnorm'"
    ),
    **dict.fromkeys(("ln", "layer_norm"), "'layernorm'"),
    "rmsnorm": "'layernorm' with rms: true",
    "group_norm": "'groupnorm'",
    **dict.fromkeys(("maxpool", "max_pool2d", "maxpool2d", "avgpool", "avg_pool2d"), "'pool'"),
    **dict.fromkeys(
        ("global_pool", "adaptive_avg_pool2d", "adaptiveavgpool2d", "gap"), "'adaptive_pool'"
    ),
    **dict.fromkeys(("cat", "concatenate", "stack"), "'concat'"),
    **dict.fromkeys(("squeeze", "unsqueeze"), "'reshape'"),
    **dict.fromkeys(("contiguous", "clone", "roll"), "'copy'"),
    **dict.fromkeys(("index_select", "index", "take"), "'gather'"),
    **dict.fromkeys(("sum", "mean", "amax", "norm"), "'reduce'"),
    **dict.fromkeys(("mha", "multihead_attention", "sdpa", "self_attention"), "'attention'"),
    "embeddingbag": "'embedding_bag'",
    **dict.fromkeys(("upsample", "resize"), "'interpolate'"),
    **dict.fromkeys(("param", "weight", "class_token", "cls_token"), "'parameter'"),
    "buffer": "'constant'",
    **dict.fromkeys(("dropout", "identity"), "no op: leave it out (it does nothing at inference"),
}


class LayersParams(FamilyParams):
    """An explicit graph."""

    inputs: dict[str, tuple[int, ...]] = Field(
        min_length=1, description="graph input tensors: name -> per-sample shape (elements)"
    )
    ops: tuple[dict[str, Any], ...] = Field(
        min_length=1,
        description="ops in execution order: each a mapping with `kind`, `name`, optional "
        "`inputs` (tensor names; default: the previous op's output) and the kind's fields; or a "
        "block `{times: N, ops: [...]}` repeated N times with `{i}` in names and inputs replaced "
        "by 0 .. N-1 (`index:` renames `i`, `start:` shifts it) and `{input}` by the tensor the "
        "iteration starts from",
    )

    @field_validator("inputs")
    @classmethod
    def _shapes(cls, v: dict[str, tuple[int, ...]]) -> dict[str, tuple[int, ...]]:
        for tname, shape in v.items():
            if not tname.strip():
                raise ValueError("an input needs a non-blank name")
            if not shape or min(shape) < 1:
                raise ValueError(
                    f"input {tname!r} has shape {list(shape)}: give at least one dimension, "
                    "each >= 1 (per sample, without the batch)"
                )
        return v


@dataclass(frozen=True)
class Entry:
    """One op of the expanded list: its name, kind, fields and the tensors it reads."""

    name: str
    kind: str
    fields: dict[str, Any]
    inputs: list[str]


#: the most ops the repeated blocks of a spec may expand to
MAX_OPS = 200_000
_PLACEHOLDER = re.compile(r"\{(\w+)([+-]\d+)?\}")


def expand(raw: Sequence[Any], first_input: str) -> list[Entry]:
    """Return the op list with blocks repeated, placeholders replaced, default names and inputs.

    An op's default name is ``<kind><position>`` and its default input the previous op's output
    (the first graph input for the first op); an op kind that reads nothing (``parameter``,
    ``constant``) reads nothing by default.
    """
    out: list[Entry] = []
    _expand(raw, {}, out, "ops", [first_input])
    return out


def _expand(
    raw: Sequence[Any], subst: dict[str, Any], out: list[Entry], where: str, prev: list[str]
) -> None:
    """Append the entries of ``raw`` to ``out``; ``prev[0]`` is the latest output (updated)."""
    for j, item in enumerate(raw):
        at = f"{where}[{j}]"
        if not isinstance(item, dict):
            raise SpecError("each op must be a mapping", field=at, fix="e.g. {kind: conv, ...}")
        if "times" in item and "kind" not in item:
            _block(item, subst, out, at, prev)
            continue
        fields = dict(item)
        kind = fields.pop("kind", None)
        name = fields.pop("name", None)
        if not isinstance(kind, str):
            where = f"ops.{name}" if isinstance(name, str) else at
            problem = "an op needs a kind" if kind is None else f"kind {kind!r} is not a string"
            raise SpecError(problem, field=f"{where}.kind", fix="e.g. kind: conv")
        if name is None:
            name = f"{kind}{len(out)}"
        elif not isinstance(name, str):
            raise SpecError(f"name {name!r} is not a string", field=f"{at}.name", fix="e.g. conv1")
        elif not name.strip():
            raise SpecError(
                f"the name {name!r} is blank",
                field=f"{at}.name",
                fix="give the op a name, or leave name out for <kind><position>",
            )
        name = _substitute(name, subst, f"ops.{name}.name")
        inputs = fields.pop("inputs", None)
        reads = REGISTRY[kind].reads_inputs if kind in REGISTRY else True
        if inputs is None:
            inputs = [prev[0]] if reads else []
        if isinstance(inputs, str):
            inputs = [inputs]
        if not isinstance(inputs, list) or not all(isinstance(t, str) for t in inputs):
            raise SpecError(
                f"inputs {inputs!r} is not a list of tensor names",
                field=f"ops.{name}.inputs",
                fix="e.g. inputs: [x, conv1]",
            )
        if (inputs or reads) and not (inputs and reads):
            raise SpecError(
                f"a {kind} op reads {'nothing' if not reads else 'at least one tensor'}",
                field=f"ops.{name}.inputs",
                fix="remove inputs" if not reads else "e.g. inputs: [x]",
            )
        inputs = [_substitute(t, subst, f"ops.{name}.inputs") for t in inputs]
        if isinstance(fields.get("tied_to"), str):
            fields["tied_to"] = _substitute(fields["tied_to"], subst, f"ops.{name}.tied_to")
        out.append(Entry(name, kind, fields, inputs))
        prev[0] = name


def _block(
    item: dict[str, Any], subst: dict[str, Any], out: list[Entry], at: str, prev: list[str]
) -> None:
    """Expand one ``{times: N, ops: [...]}`` block."""
    extra = set(item) - {"times", "ops", "index", "start"}
    if extra:
        raise SpecError(
            f"a block has unknown field(s) {sorted(extra)}",
            field=at,
            fix="a block has times, ops, and optionally index and start",
        )
    times, ops = item.get("times"), item.get("ops")
    index, start = item.get("index", "i"), item.get("start", 0)
    ok = isinstance(times, int) and not isinstance(times, bool) and times >= 1
    if not ok or not isinstance(start, int) or isinstance(start, bool):
        raise SpecError(
            f"times={times!r}, start={start!r}: a block repeats its ops times >= 1 times",
            field=f"{at}.times",
            fix="e.g. times: 3 (and start: 1 to count from 1)",
        )
    if not isinstance(ops, list) or not ops:
        raise SpecError("a block needs a non-empty ops list", field=f"{at}.ops")
    times, start = int(times), int(start)  # type: ignore[arg-type]  # checked above
    if len(out) + times * len(ops) > MAX_OPS:
        raise SpecError(
            f"times={times}: the blocks expand to more than {MAX_OPS} ops",
            field=f"{at}.times",
            fix="a model this large is not a spec file; check times",
        )
    if not isinstance(index, str) or not index.isidentifier() or index == "input":
        raise SpecError(f"index {index!r} is not a name", field=f"{at}.index", fix="e.g. index: j")
    for k in range(start, start + times):
        _expand(ops, {**subst, index: k, "input": prev[0]}, out, f"{at}.ops", prev)


def _substitute(text: str, subst: dict[str, Any], field: str) -> str:
    """Replace ``{i}``, ``{i+1}``, ``{i-1}`` and ``{input}`` in ``text``."""

    def one(m: re.Match[str]) -> str:
        key, offset = m.group(1), m.group(2)
        if key not in subst or (offset and key == "input"):
            known = ", ".join("{" + k + "}" for k in subst) or "none (not inside a block)"
            raise SpecError(
                f"unknown placeholder {m.group(0)} in {text!r}",
                field=field,
                fix=f"placeholders here: {known}",
            )
        value = subst[key]
        return str(value + int(offset)) if offset else str(value)

    return _PLACEHOLDER.sub(one, text) if "{" in text else text


def suggest_kind(kind: str) -> str:
    """Return the fix for an unknown op kind: a PyTorch alias, a close name, or the list."""
    key = kind.lower().replace("nn.", "").replace("torch.", "")
    if key in KIND_ALIASES:
        alias = KIND_ALIASES[key]
        if alias.startswith("no op"):
            return alias + ")"
        return f"did you mean {alias}?"
    close = difflib.get_close_matches(key, list(REGISTRY), n=3, cutoff=0.75)
    if close:
        return "did you mean " + " or ".join(repr(c) for c in close) + "?"
    return "use one of " + ", ".join(sorted(REGISTRY))


def _required(kind: str, bound: set[str]) -> list[str]:
    """The fields a spec must give for an op of ``kind`` (``bound`` come from its input)."""
    fields = REGISTRY[kind].model_fields
    return [n for n, f in fields.items() if f.is_required() and n not in bound | {"name"}]


@family("layers", LayersParams, sample="sample")
def build_layers(p: LayersParams, name: str) -> Graph:
    """An explicit list of ops, each with its kind's fields, wired by tensor names."""
    b = GraphBuilder(name)
    for tname, shape in p.inputs.items():
        b.input(tname, shape)
    entries = expand(p.ops, first_input=next(iter(p.inputs)))
    all_names = {e.name: i for i, e in enumerate(entries)}
    if len(all_names) != len(entries):
        seen: set[str] = set()
        for e in entries:
            if e.name in seen:
                raise SpecError(
                    f"name {e.name!r} is used twice",
                    field=f"ops.{e.name}.name",
                    fix="give every op and input a unique name (in a repeated block, put {i} in "
                    "the name)",
                )
            seen.add(e.name)
    for i, e in enumerate(entries):
        _add(b, e, i, all_names)
    return b.build()


def _add(b: GraphBuilder, e: Entry, i: int, all_names: dict[str, int]) -> None:
    """Bind, check and add one expanded op entry."""
    where = f"ops.{e.name}"
    kind, fields, inputs = e.kind, dict(e.fields), e.inputs
    if kind not in REGISTRY:
        raise SpecError(f"unknown op kind {kind!r}", field=f"{where}.kind", fix=suggest_kind(kind))
    cls = REGISTRY[kind]
    if e.name in b:
        raise SpecError(
            f"name {e.name!r} is used twice (a graph input has it)",
            field=f"{where}.name",
            fix="give every op and input a unique name",
        )
    for t in inputs:
        if t not in b:
            later = all_names.get(t, -1) >= i
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
                else _close(t, b.tensors(), "name a graph input or an earlier op"),
            )
    tied = fields.get("tied_to")
    if tied is not None and (not isinstance(tied, str) or all_names.get(tied, i) >= i):
        raise SpecError(
            f"tied_to {tied!r} is not an earlier op",
            field=f"{where}.tied_to",
            fix=_close(str(tied), b.tensors(), "name the op that holds the weights"),
        )
    shapes = [b.shape(t) for t in inputs]
    try:
        fields = cls.bind(shapes, fields)
    except SpecError as exc:
        read = ", ".join(f"{t!r} {show(s)}" for t, s in zip(inputs, shapes))
        field = f"{where}.{exc.field}" if exc.field else where
        raise SpecError(f"{exc.problem}; it reads {read}", field=field, fix=exc.fix) from None
    try:
        b.add(kind, inputs, name=e.name, **fields)
    except SpecError as exc:
        fix = exc.fix
        if exc.problem == "required field is missing":
            bound = set(cls.bind(shapes, {})) if shapes else set()
            fix = f"a {kind} op needs " + ", ".join(_required(kind, bound))
        elif fix and "README of this spec folder" in fix:
            fix = f"see the fields of '{kind}' in the op reference of the roofline docs"
        raise SpecError(exc.problem, field=exc.field or where, fix=fix) from None
    except TypeError as exc:
        raise SpecError(str(exc), field=where) from None


def _close(word: str, choices: list[str], otherwise: str) -> str:
    close = difflib.get_close_matches(word, choices, n=3, cutoff=0.75)
    return "did you mean " + " or ".join(repr(c) for c in close) + "?" if close else otherwise
