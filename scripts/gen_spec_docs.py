#!/usr/bin/env python
"""Generate the family and op reference of ``model_specs/README.md`` from the code.

The section between ``<!-- BEGIN GENERATED -->`` and ``<!-- END GENERATED -->`` is rebuilt from
the family parameter schemas (``roofline.families.FAMILIES``: each ``Params`` field's name, type,
default and description) and the op registry (``roofline.ops.REGISTRY``: each op kind's fields and
its module's counting formula). Everything outside the markers is written by hand.

Usage::

    python scripts/gen_spec_docs.py           # rewrite model_specs/README.md in place
    python scripts/gen_spec_docs.py --check   # exit 1 if the README is out of date
    python scripts/gen_spec_docs.py --stdout  # print the generated section

``tests/test_spec_docs.py`` fails when the committed README differs from what this produces.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import inspect
import re
import sys
import types
import typing
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "model_specs" / "README.md"
BEGIN = "<!-- BEGIN GENERATED -->"
END = "<!-- END GENERATED -->"
#: fields every op has, documented once
COMMON_OP_FIELDS = ("name", "repeat", "shared_weights", "tied_to", "per_run")
_SCALARS = {int: "int", float: "float", bool: "bool", str: "string", type(None): "null"}
#: meaning of op fields whose class states none, keyed ``kind.field`` or ``field`` (the fields
#: keep PyTorch's argument names; a ``Field(description=...)`` in the op module wins)
OP_FIELD_NOTES = {
    "in_channels": "input channels C",
    "out_channels": "output channels K",
    "groups": "channel groups g (in and out channels split g ways; in_channels = g: depthwise)",
    "conv.kernel_size": "kernel extent per spatial dim (an int repeats over the dims)",
    "conv.stride": "stride per spatial dim (an int repeats; default 1)",
    "conv.padding": "zero padding per side and spatial dim (an int repeats; default 0)",
    "conv.dilation": "kernel dilation per spatial dim (an int repeats; default 1)",
    "conv.bias": "a bias of out_channels (in params)",
    "shared_conv.kernel_size": "kernel extent per spatial dim",
    "shared_conv.stride": "stride in every spatial dim",
    "shared_conv.padding": "zero padding per side in every spatial dim",
    "shared_conv.bias": "a bias of out_channels (in params, once)",
    "channel_shuffle.groups": "g: channels viewed as (g, C/g), transposed and flattened",
    "mode": "`max` or `avg` pooling",
    "channels": "channels C",
    "input_size": "spatial input size (L), (H, W) or (T, H, W)",
    "pool.kernel_size": "window per spatial dim (an int repeats over the dims)",
    "pool.stride": "stride per spatial dim (an int repeats; default: kernel_size)",
    "pool.padding": "implicit padding per side and dim (an int repeats; at most half the window)",
    "pool.ceil_mode": "round the output size up instead of down (PyTorch's ceil_mode)",
    "adaptive_pool.output_size": "spatial output size (an int repeats over the dims; default: "
    "all 1, global pooling)",
    "activation.function": "nonlinearity (vector FLOPs per element in the module's table)",
    "attention.num_heads": "query heads h",
    "attention.head_dim": "elements per head d",
    "attention.kv_cache": "K and V of earlier tokens come from a KV cache (decode)",
    "attention.causal": "causal mask (does not change the dense counts)",
    "concat.input_shapes": "per-sample shape of each input tensor",
    "concat.dim": "per-sample dim to concatenate along (negative: from the end)",
    "elementwise.op": "arithmetic operation, or a unary function (one FLOP per element)",
    "elementwise.num_inputs": "tensors combined (n - 1 FLOPs per element)",
    "num_embeddings": "rows in the table",
    "embedding_dim": "elements per row",
    "embedding_bag.mode": "pooling of the looked-up rows (EmbeddingBag mode)",
    "lstm.input_size": "features per step of the input sequence",
    "gru.input_size": "features per step of the input sequence",
    "hidden_size": "state width H (per direction)",
    "num_layers": "stacked recurrent layers L",
    "bidirectional": "add a reversed direction per layer (output 2H)",
    "lstm.bias": "the bias vectors b_ih and b_hh of each layer and direction (in params)",
    "gru.bias": "the bias vectors b_ih and b_hh of each layer and direction (in params)",
    "interaction.dim": "d: elements per feature vector",
    "interaction.mode": "`dot` (pairwise dot products) or `cat` (concatenation)",
    "interaction.self_interaction": "keep each vector's product with itself: F(F+1)/2 pairs",
    "interpolate.shape": "per-sample input shape (C, *spatial)",
    "interpolate.scale_factor": "integer upsampling factor of every spatial dim",
    "interpolate.mode": "`nearest` (no FLOPs) or `bilinear`",
    "layernorm.rms": "RMS norm (no mean subtraction, no bias)",
    "linear.in_features": "input features per row",
    "linear.out_features": "output features per row",
    "linear.bias": "a bias of out_features (in params; its add is not counted)",
    "matmul.m": "rows of the left operand",
    "matmul.n": "columns of the right operand",
    "matmul.k": "inner (reduced) dimension",
    "proposal.scores_per_candidate": "scores read per candidate (objectness 1, or one per class)",
    "proposal.pre_nms_top_n": "boxes kept by score before NMS",
    "proposal.post_nms_top_n": "boxes kept after NMS (output rows)",
    "roi_align.num_rois": "boxes pooled per sample",
    "roi_align.channels": "channels C of the pooled feature map",
    "roi_align.output_size": "o: output bins per side",
    "roi_align.sampling_ratio": "s: sampling points per bin side",
    "split.sections": "parts the tensor is split into",
}


# -- rendering of types, defaults and docstrings --------------------------------------------------


def constraints(metadata: Iterable[Any]) -> list[str]:
    """Return pydantic constraints (``Ge``, ``MinLen``...) as text, e.g. ``['>= 1']``."""
    out = []
    for m in metadata:
        for attr, fmt in (
            ("ge", ">= {}"),
            ("gt", "> {}"),
            ("le", "<= {}"),
            ("lt", "< {}"),
            ("min_length", "at least {} entries"),
            ("max_length", "at most {} entries"),
        ):
            value = getattr(m, attr, None)
            if value is not None:
                out.append("non-empty" if (attr, value) == ("min_length", 1) else fmt.format(value))
    return out


def render_type(ann: Any, nested: list[type[BaseModel]] | None = None) -> str:
    """Return a YAML-oriented description of a type annotation (``list of int``...).

    Pydantic models met on the way are appended to ``nested`` (documented in their own table).
    """
    origin, args = typing.get_origin(ann), typing.get_args(ann)
    if origin is typing.Annotated:
        base = render_type(args[0], nested)
        extra = constraints(
            c for a in args[1:] for c in (a.metadata if isinstance(a, FieldInfo) else [a])
        )
        return f"{base} ({', '.join(extra)})" if extra else base
    if origin is typing.Literal:
        return " or ".join(f"`{a}`" for a in args)
    if origin in (typing.Union, types.UnionType):
        parts = [render_type(a, nested) for a in args if a is not type(None)]
        return " or ".join(parts) + (" or null" if type(None) in args else "")
    if origin in (tuple, list):
        if not args:
            return "list"
        if (len(args) == 2 and args[1] is Ellipsis) or origin is list:
            return f"list of {render_type(args[0], nested)}"
        items = {render_type(a, nested) for a in args}
        if len(items) == 1:
            return f"list of {len(args)} {items.pop()}"
        return "[" + ", ".join(render_type(a, nested) for a in args) + "]"
    if origin is dict:
        return f"mapping of {render_type(args[0], nested)} to {render_type(args[1], nested)}"
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        if nested is not None and ann not in nested:
            nested.append(ann)
        return f"`{ann.__name__}`"
    if ann is Any:
        return "any"
    return _SCALARS.get(ann, getattr(ann, "__name__", str(ann)))


def render_value(value: Any) -> str:
    """Return a default as YAML would write it (``[224, 224]``, ``null``, ``true``)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(render_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {render_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, BaseModel):
        return render_value(value.model_dump())
    return str(value)


def render_default(info: FieldInfo) -> str:
    """Return a field's default for a table cell (``required`` when it has none)."""
    if info.default_factory is not None:
        return f"`{render_value(info.default_factory())}`"
    if info.default is PydanticUndefined:
        return "required"
    return f"`{render_value(info.default)}`"


def cell(text: str) -> str:
    """Make ``text`` safe for one markdown table cell."""
    return " ".join(text.split()).replace("|", "\\|")


def markdown_doc(doc: str | None) -> str:
    """Return a docstring dedented, with reST roles and double backticks made markdown."""
    text = inspect.cleandoc(doc or "")
    text = re.sub(r":\w+:`~?([^`]+)`", r"`\1`", text)
    return text.replace("``", "`")


def field_table(
    fields: dict[str, FieldInfo],
    nested: list[type[BaseModel]] | None,
    describe: Callable[[str, FieldInfo], str] | None = None,
) -> list[str]:
    """Return the markdown rows of a field table (name, type, default, description)."""
    rows = ["| field | type | default | description |", "| --- | --- | --- | --- |"]
    for name, info in fields.items():
        typ = render_type(info.annotation, nested)
        extra = constraints(info.metadata)
        if extra:
            typ += f" ({', '.join(extra)})"
        text = describe(name, info) if describe else info.description or ""
        rows.append(f"| `{name}` | {cell(typ)} | {cell(render_default(info))} | {cell(text)} |")
    return rows


def bound_fields(kind: str) -> set[str]:
    """Fields of op ``kind`` that a ``layers`` spec may omit (filled from the input tensor)."""
    from roofline.errors import SpecError
    from roofline.ops import REGISTRY

    out: set[str] = set()
    for shapes in ([(4, 8, 8)], [(4, 8, 8), (4, 8, 8)]):
        with contextlib.suppress(SpecError):
            out |= set(REGISTRY[kind].bind(shapes, {}))
    return out


def op_field_description(kind: str, name: str, info: FieldInfo) -> str:
    """Return the description of an op field: its own, else :data:`OP_FIELD_NOTES` ("" if none)."""
    text = info.description or OP_FIELD_NOTES.get(f"{kind}.{name}") or OP_FIELD_NOTES.get(name, "")
    if text and name in bound_fields(kind):
        text += "; filled from the input tensor when omitted in a `layers` spec, checked when given"
    return text


def undocumented_op_fields() -> list[str]:
    """``kind.field`` of every op field with no description anywhere."""
    from roofline.ops import REGISTRY

    return [
        f"{kind}.{name}"
        for kind, cls in sorted(REGISTRY.items())
        for name, info in cls.model_fields.items()
        if name != "kind" and not op_field_description(kind, name, info)
    ]


# -- sections -------------------------------------------------------------------------------------


def family_section() -> list[str]:
    """Markdown for every registered family: what a sample is, then its parameter table."""
    from roofline.families import FAMILIES

    out = [
        "## Family reference",
        "",
        "Generated from each family's `Params` class. `required` fields have no default.",
        "",
        "| family | one batch sample is | builds |",
        "| --- | --- | --- |",
    ]
    fams = sorted(FAMILIES.values(), key=lambda f: f.name)
    for fam in fams:
        first = markdown_doc(fam.doc).split("\n\n")[0]
        out.append(f"| [`{fam.name}`](#family-{fam.name}) | {fam.sample} | {cell(first)} |")
    for fam in fams:
        module = fam.build.__module__.replace(".", "/") + ".py"
        out += [
            "",
            f"### Family `{fam.name}`",
            "",
            f"One sample: **{fam.sample}**. Builder: `{module}`.",
            "",
            markdown_doc(fam.doc),
            "",
        ]
        nested: list[type[BaseModel]] = []
        out += field_table(fam.params.model_fields, nested)
        done: set[type[BaseModel]] = set()
        while nested:
            model = nested.pop(0)
            if model in done:
                continue
            done.add(model)
            doc = markdown_doc(model.__doc__).split("\n\n")[0]
            out += ["", f"`{model.__name__}`: {doc}", ""]
            out += field_table(model.model_fields, nested)
    return out


def op_section() -> list[str]:
    """Markdown for every registered op kind, grouped by module, with the module's formulas."""
    from roofline.ops import REGISTRY, Op

    out = [
        "## Op reference",
        "",
        "Generated from `roofline/ops`: each module's counting formulas (its docstring), then "
        "the fields of each op kind it registers. Shapes are per sample; the batch is applied "
        "when counting. Fields every op has:",
        "",
    ]
    out += field_table({k: Op.model_fields[k] for k in COMMON_OP_FIELDS}, None)
    by_module: dict[str, list[str]] = {}
    for kind in sorted(REGISTRY):
        by_module.setdefault(REGISTRY[kind].__module__, []).append(kind)
    for module in sorted(by_module):
        path = module.replace(".", "/") + ".py"
        doc = markdown_doc(sys.modules[module].__doc__)
        out += ["", f"### `{path}`", "", doc]
        for kind in by_module[module]:
            cls = REGISTRY[kind]
            summary = markdown_doc(cls.__doc__).split("\n\n")[0]
            fields = {
                k: v
                for k, v in cls.model_fields.items()
                if k not in COMMON_OP_FIELDS and k != "kind"
            }
            out += [
                "",
                f"#### `{kind}`",
                "",
                f"{' '.join(summary.split())} (category `{cls.category}`)",
                "",
            ]
            describe = functools.partial(op_field_description, kind)
            out += field_table(fields, None, describe) if fields else ["No other fields."]
    return out


def generate() -> str:
    """Return the generated section, markers included, ending in a newline."""
    lines = [
        BEGIN,
        "<!-- generated by scripts/gen_spec_docs.py from roofline/families and roofline/ops; "
        "edit those, then run the script -->",
        "",
    ]
    lines += family_section() + [""] + op_section() + ["", END]
    return "\n".join(lines) + "\n"


def render_readme(text: str) -> str:
    """Return ``text`` with its generated section replaced (appended if it has no markers)."""
    section = generate()
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        return text.rstrip("\n") + "\n\n" + section
    return text[:start] + section + text[end + len(END) :].lstrip("\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="exit 1 if the README is out of date")
    mode.add_argument("--stdout", action="store_true", help="print the generated section")
    args = parser.parse_args(argv)
    if args.stdout:
        sys.stdout.write(generate())
        return 0
    current = README.read_text(encoding="utf-8")
    wanted = render_readme(current)
    if args.check:
        if current != wanted:
            print(f"{README.relative_to(ROOT)} is out of date: run python scripts/gen_spec_docs.py")
            return 1
        return 0
    if current != wanted:
        from roofline.output_files import atomic_write  # the file's usual mode, not mkstemp's

        atomic_write(str(README), lambda tmp: Path(tmp).write_text(wanted, encoding="utf-8"))
        print(f"wrote {README.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
