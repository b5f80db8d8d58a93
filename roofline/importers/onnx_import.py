"""``from_onnx``: an ONNX model to a ``layers`` spec, with onnx's own shape inference.

Loading. The file is parsed with ``onnx``; shape inference (``onnx.shape_inference``, with data
propagation so that ``Reshape`` targets computed by ``Shape``/``Gather``/``Concat`` resolve) runs
on a copy whose large initializers are replaced by their shapes, so a 100 MB model costs what its
graph costs. A truncated or invalid file is a SpecError naming the file.

Batch. The batch axis is a symbolic dim of the first input: one named like a batch (``batch``,
``batch_size``, ``N``), else its first symbolic dim; with no symbolic dim, its first dim. It is
set to :data:`~roofline.importers.values.TRACE_BATCH` for shape inference, and every tensor's
per-sample shape follows as for the torch tracer (:mod:`roofline.importers.values`). Every other
symbolic dim needs a value (``dims={"seq": 128}``), else a SpecError names them. A ``Reshape``
whose output holds another number of elements than its input, or an ``Expand`` whose target does
not broadcast with it, is a SpecError: the export fixed there a dim the import traces at another
value (most often the batch size of an export without a dynamic batch axis), and the counts past
it would be wrong.

Parameters. An initializer read as a weight (Conv, Gemm, a MatMul operand, a norm's scale and
bias, a Gather table, LSTM/GRU W, R, B) is a parameter, and so is a float initializer of more than
one element read by another op (a position embedding, a layer scale). Batch-norm running
statistics, scalars, integer tensors, and initializers the exporter made by folding constants
(named ``onnx::...`` or ``/...``) are constants, also where a norm reads them as its scale or
bias. A Slice, Split or Concat of weights alone is a layout of those weights, mapped only when
an op reads it as a tensor (:func:`~roofline.importers.onnx_ops.defer_weight_layout`): an op
that reads it as its weight (an exported LSTM's gates, reordered) holds the initializers.
Mapping of ONNX ops: :mod:`roofline.importers.onnx_ops`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import helper, numpy_helper

from roofline.errors import SpecError
from roofline.importers.builder import SpecBuilder, warn_unmapped
from roofline.importers.onnx_graph import OnnxGraph, has_data
from roofline.importers.onnx_light import WireError, read_light
from roofline.importers.onnx_ops import map_node
from roofline.importers.onnx_shapes import fold, resolve
from roofline.importers.values import TRACE_BATCH, per_sample
from roofline.input_files import require_file
from roofline.model import build_model
from roofline.ops.base import broadcast_shapes, numel

#: initializers up to this many elements keep their values (shape tensors, axes, scalars)
SMALL = 4096


def _load(model: Any) -> tuple[onnx.ModelProto, str]:
    """The ModelProto and the name to give in errors."""
    if isinstance(model, onnx.ModelProto):
        return model, f"<onnx model {model.graph.name or 'unnamed'}>"
    if not isinstance(model, (str, os.PathLike)):
        raise SpecError(
            f"from_onnx needs a path or an onnx.ModelProto, not {type(model).__name__}",
            fix="pass the .onnx file's path",
        )
    path = str(model)
    require_file(path, what="an .onnx file")  # missing, a directory, a device: said as such
    try:
        try:
            proto = onnx.ModelProto.FromString(read_light(path, SMALL))
        except (WireError, OSError):
            proto = onnx.load(path, load_external_data=False)  # gives the decoder's message
    except Exception as exc:  # noqa: BLE001 - protobuf's errors have no common base
        text = " ".join(str(exc).split())[:200] or type(exc).__name__
        raise SpecError(
            f"not a valid ONNX model ({text})",
            file=path,
            fix="re-export it; a truncated download or a different file type gives this",
        ) from None
    if not proto.graph.node:
        raise SpecError(
            "not a valid ONNX model (no graph nodes)",
            file=path,
            fix="re-export it; a truncated download or a different file type gives this",
        )
    return proto, path


def _inputs(
    proto: onnx.ModelProto, dims: dict[str, int], origin: str
) -> tuple[dict[str, list[int]], dict[str, int], int | None]:
    """Graph inputs (initializers excluded) with every dim a number: the batch axis (dim 0 of
    the first input, and every dim with its symbol) set to TRACE_BATCH; the symbols' values;
    and the batch size the file fixes (a static first dim 0), None where the batch is symbolic."""
    inits = {i.name for i in proto.graph.initializer}
    raw = [i for i in proto.graph.input if i.name not in inits]
    if not raw:
        raise SpecError("the model has no inputs", file=origin, fix="export it with an input")
    free = [d.dim_param for d in raw[0].type.tensor_type.shape.dim if d.dim_param]
    named = [s for s in free if "batch" in s.lower() or s in ("N", "B", "n", "b")]
    batch_symbol = (named or free or [None])[0]
    out: dict[str, list[int]] = {}
    missing: list[str] = []
    fixed: int | None = None
    for k, inp in enumerate(raw):
        shape = []
        for j, d in enumerate(inp.type.tensor_type.shape.dim):
            if d.dim_param and d.dim_param == batch_symbol:
                shape.append(TRACE_BATCH)
            elif d.dim_param:
                if d.dim_param in dims:
                    shape.append(int(dims[d.dim_param]))
                else:
                    shape.append(1)
                    missing.append(d.dim_param)
            elif k == 0 and j == 0 and batch_symbol is None:
                shape.append(TRACE_BATCH)  # a fixed batch size: traced like a symbolic one
                fixed = int(d.dim_value) if d.HasField("dim_value") else None
            elif d.HasField("dim_value"):
                shape.append(int(d.dim_value))
            else:
                missing.append(f"{inp.name}[{j}]")
                shape.append(1)
        out[inp.name] = shape
    if missing:
        names = sorted(set(missing))
        raise SpecError(
            f"symbolic dims {names} have no value (only the batch axis, {batch_symbol or 'dim 0'} "
            "of the first input, is free)",
            file=origin,
            field="dims",
            fix="give them, e.g. dims={" + ", ".join(f"'{n}': 128" for n in names) + "}",
        )
    symbols = dict(dims)
    if batch_symbol:
        symbols[batch_symbol] = TRACE_BATCH
    return out, symbols, fixed


def _dynamic_batch_fix(first: str) -> str:
    """The export argument that keeps the batch of input ``first`` symbolic."""
    return (
        "re-export with a dynamic batch axis: "
        f"torch.onnx.export(..., dynamic_axes={{{first!r}: {{0: 'batch'}}}})"
    )


def _check_targets(
    proto: onnx.ModelProto,
    shapes: dict[str, tuple[int, ...]],
    inits: dict[str, Any],
    origin: str,
    fixed: int | None,
    first: str,
) -> None:
    """Raise a SpecError for the first Reshape whose output holds another number of elements
    than its input, or Expand whose target does not broadcast with its input: the target fixes
    a dim the import traces at another value (with ``fixed``, the batch size of input ``first``
    the export baked in), and every count past it would miss that dim's share."""
    for node in proto.graph.node:
        x = shapes.get(node.input[0]) if node.input else None
        if x is None or node.op_type not in ("Reshape", "Expand"):
            continue
        if node.op_type == "Reshape":
            out = shapes.get(node.output[0])
            if out is None or numel(out) == numel(x):
                continue
            target = list(out)
        else:
            value = inits.get(node.input[1])
            if not isinstance(value, np.ndarray):
                continue
            target = [int(d) for d in value.reshape(-1)]
            if broadcast_shapes(x, tuple(target)) is not None:
                continue
        field = f"node {node.name or node.output[0]!r} ({node.op_type})"
        if fixed is not None:
            raise SpecError(
                f"its fixed target {target} drops the batch of its input, batch x "
                f"{list(per_sample(x, TRACE_BATCH))}: the export baked its batch size {fixed} "
                "into the graph, so counts at any other batch would be wrong",
                file=origin,
                field=field,
                fix=_dynamic_batch_fix(first),
            )
        raise SpecError(
            f"its target {target} does not fit its input {list(x)} (the batch traced at "
            f"{TRACE_BATCH}): the export fixed a dim there that the file declares symbolic",
            file=origin,
            field=field,
            fix="export that dim as dynamic (the batch too), or give dims its exported value",
        )


def _infer(
    proto: onnx.ModelProto, inputs: dict[str, list[int]], symbols: dict[str, int], origin: str
) -> tuple[dict[str, tuple[int, ...]], dict[str, Any]]:
    """Shapes of every tensor (onnx shape inference on a copy without large weights), and the
    initializers (large: the TensorProto, small: its numpy value)."""
    g = proto.graph
    small: list[onnx.TensorProto] = []
    typed: list[onnx.ValueInfoProto] = []
    inits: dict[str, Any] = {}
    shapes: dict[str, tuple[int, ...]] = {}
    for init in g.initializer:
        n = 1
        for d in init.dims:
            n *= int(d)
        shapes[init.name] = tuple(int(d) for d in init.dims)
        if n <= SMALL and has_data(init):
            small.append(init)
            inits[init.name] = numpy_helper.to_array(init)
        else:
            typed.append(helper.make_tensor_value_info(init.name, init.data_type, list(init.dims)))
            inits[init.name] = init
    elem = {i.name: i.type.tensor_type.elem_type for i in g.input}
    ins = [helper.make_tensor_value_info(k, elem[k] or 1, v) for k, v in inputs.items()]
    graph = helper.make_graph(
        list(g.node), g.name or "model", ins + typed, list(g.output), small, value_info=g.value_info
    )
    light = helper.make_model(graph, opset_imports=list(proto.opset_import))
    light.ir_version = proto.ir_version
    values = {k: v for k, v in inits.items() if not isinstance(v, onnx.TensorProto)}
    for node in g.node:
        if node.op_type == "Constant":
            for a in node.attribute:
                if a.name == "value":
                    value = numpy_helper.to_array(a.t)
                    inits[node.output[0]] = values[node.output[0]] = value
                    shapes[node.output[0]] = tuple(value.shape)
    nodes = list(g.node)
    for _ in range(64):  # shape inference, then numpy for what it left open, until settled
        types = _run_inference(light, shapes, symbols, origin)
        fold(nodes, shapes, values)
        new: dict[str, tuple[int, ...]] = {}
        for node in nodes:
            if any(o and o not in shapes for o in node.output):
                new.update(
                    {o: s for o, s in resolve(node, shapes, values).items() if o not in shapes}
                )
        if not new:
            break
        for o, s in new.items():
            shapes[o] = s
            etype = types.get(o) or next(
                (types[i] for i in nodes_inputs(nodes, o) if i in types), 1
            )
            light.graph.value_info.append(helper.make_tensor_value_info(o, etype, list(s)))
    for k, v in values.items():
        if k not in inits and v.size <= SMALL:
            inits[k] = v  # folded shape arithmetic: a constant with a value
    return shapes, inits


def nodes_inputs(nodes: list[Any], output: str) -> list[str]:
    """Inputs of the node that writes ``output``."""
    return next((list(n.input) for n in nodes if output in n.output), [])


def _run_inference(
    light: onnx.ModelProto,
    shapes: dict[str, tuple[int, ...]],
    symbols: dict[str, int],
    origin: str,
) -> dict[str, int]:
    """Run onnx shape inference; add the static shapes found; return element types."""
    try:
        inferred = onnx.shape_inference.infer_shapes(light, data_prop=True)
    except Exception as exc:  # noqa: BLE001 - onnx raises several unrelated types
        text = " ".join(str(exc).split())[:300]
        raise SpecError(
            f"shape inference failed: {text}",
            file=origin,
            fix="check the model with onnx.checker.check_model",
        ) from None
    types: dict[str, int] = {}
    for vi in (*inferred.graph.input, *inferred.graph.value_info, *inferred.graph.output):
        t = vi.type.tensor_type
        types[vi.name] = t.elem_type
        dims = [
            d.dim_value if d.HasField("dim_value") else symbols.get(d.dim_param)
            for d in t.shape.dim
        ]
        if t.HasField("shape") and all(d is not None for d in dims):
            shapes[vi.name] = tuple(int(d) for d in dims)  # type: ignore[arg-type]
    return types


def _replay(g: OnnxGraph, node: Any) -> None:
    """Map a node held back as a layout of weights, now that an op reads its output."""
    map_node(g, node, defer=False)


def from_onnx(
    model: str | os.PathLike[str] | onnx.ModelProto,
    dims: dict[str, int] | None = None,
    *,
    name: str | None = None,
    strict: bool = False,
) -> Any:
    """Return the :class:`~roofline.presets.Model` of an ONNX model.

    Parameters
    ----------
    model : path or onnx.ModelProto
        The ``.onnx`` file (weights may be external: only their shapes are read) or a loaded
        model.
    dims : dict, optional
        Values of symbolic dims other than the batch (``{"seq": 128}``).
    name : str, optional
        The model's name (default: the file stem, or the graph's name).
    strict : bool
        An ONNX op with no mapping is a SpecError (default: a ``generic`` op costed by its
        bytes, listed in an :class:`~roofline.importers.UnmappedOpWarning`).

    Raises
    ------
    SpecError
        A missing, truncated or invalid file; a symbolic dim without a value; failed shape
        inference; with ``strict``, an op that cannot be mapped.
    """

    proto, origin = _load(model)
    inputs, symbols, fixed = _inputs(proto, dims or {}, origin)
    shapes, inits = _infer(proto, inputs, symbols, origin)
    _check_targets(proto, shapes, inits, origin, fixed, next(iter(inputs)))
    label = name or (Path(origin).stem if not origin.startswith("<") else proto.graph.name)
    builder = SpecBuilder(label or "model", origin, strict)
    g = OnnxGraph(builder, TRACE_BATCH, shapes, inits, replay=_replay)
    for node in proto.graph.node:
        for x in node.input:
            g.consumers[x] = g.consumers.get(x, 0) + 1
        for x in node.output:
            g.producers[x] = node
    for k, v in inputs.items():
        g.acts[k] = builder.input(k, per_sample(tuple(v), TRACE_BATCH))
    for node in proto.graph.node:
        try:
            map_node(g, node)
        except KeyError as exc:
            raise SpecError(
                f"node {node.name or node.op_type!r} ({node.op_type}): tensor {exc} has no "
                "inferred shape"
                + ("" if fixed is None else f" (the file fixes the batch size at {fixed})"),
                file=origin,
                fix="run onnx.shape_inference on the model to see why; export with static dims"
                if fixed is None
                else _dynamic_batch_fix(next(iter(inputs))),
            ) from None
    unread = {s for out in g.deferred for s in g.composed[out]}  # laid out, never read
    for x in inits:
        if x not in g.used and g.is_param(x) and (x in unread or not g.consumers.get(x)):
            builder.add("parameter", [], x, shape=shapes[x] or (1,), used=False)
    opset = max((o.version for o in proto.opset_import), default=0)
    producer = f"{proto.producer_name or 'unknown'} {proto.producer_version}".strip()
    spec = builder.spec(
        description=f"{label} imported from ONNX by roofline.from_onnx",
        source=f"{origin} (opset {opset}, producer {producer})",
        notes="Per-sample inputs "
        + ", ".join(f"{k}: {list(v)}" for k, v in builder.inputs.items())
        + "; the first input's dim 0 is the batch.",
    )
    result = build_model(spec)
    warn_unmapped(result, builder.unmapped, origin)
    return result
