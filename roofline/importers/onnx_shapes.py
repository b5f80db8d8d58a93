"""Shape arithmetic that onnx's shape inference leaves open, done with numpy.

Exporters compute reshape targets from ``Shape`` with ``Gather``, ``Div``, ``Cast``, ``Concat``...
onnx's data propagation covers some of these ops only; where it stops, the output shape of a
``Reshape`` (and everything after it) stays unknown. :func:`fold` evaluates such small integer
tensors from known shapes and constants, and :func:`resolve` gives the output shapes of the ops
that read them (Reshape, Expand, Unsqueeze, Slice, Split, Tile, Pad, Resize, Range...), which the
importer feeds back to shape inference until nothing more resolves.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from onnx import helper, numpy_helper

from roofline.ops.base import broadcast_shapes

Values = dict[str, np.ndarray]
Shapes = dict[str, tuple[int, ...]]
#: values larger than this are not kept (shape tensors are small)
LIMIT = 4096


#: ops whose output has their first input's shape (when inference gives none: function ops)
SAME_SHAPE = {
    "GroupNormalization",
    "InstanceNormalization",
    "LayerNormalization",
    "BatchNormalization",
    "Gelu",
    "HardSwish",
    "HardSigmoid",
    "Mish",
    "Softplus",
    "Elu",
    "LeakyRelu",
    "Relu",
    "Sigmoid",
    "Tanh",
    "Softmax",
    "LogSoftmax",
    "Cast",
    "Identity",
    "Dropout",
}


def _attrs(node: Any) -> dict[str, Any]:
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _int_list(v: np.ndarray | None) -> list[int] | None:
    return None if v is None else [int(x) for x in np.asarray(v).reshape(-1)]


def _eval(node: Any, ins: list[Any], shapes: Shapes, a: dict[str, Any]) -> Any:
    """The value of one node's first output from its inputs' values (None: unknown)."""
    op = node.op_type
    if op == "Shape":
        shape = shapes.get(node.input[0])
        if shape is None:
            return None
        start, end = a.get("start", 0), a.get("end", len(shape))
        return np.array(shape[start:end], dtype=np.int64)
    if op == "Size":
        shape = shapes.get(node.input[0])
        return None if shape is None else np.array(int(np.prod(shape)), dtype=np.int64)
    if any(v is None for v, name in zip(ins, node.input) if name):
        return None
    x: Any = ins[0] if ins else None
    if op in ("Identity", "Cast", "CastLike") and x is not None:
        return x.astype(np.int64) if x.dtype.kind in "iub" else x
    if op == "Gather":
        return np.take(x, ins[1], axis=a.get("axis", 0))
    if op == "Unsqueeze":
        axes = a.get("axes") or _int_list(ins[1]) or []
        out = x
        for ax in sorted(int(i) % (x.ndim + len(axes)) for i in axes):
            out = np.expand_dims(out, ax)
        return out
    if op == "Squeeze":
        axes = a.get("axes") or _int_list(ins[1] if len(ins) > 1 else None)
        return np.squeeze(x, axis=tuple(axes) if axes else None)
    if op == "Concat":
        return np.concatenate([np.atleast_1d(v) for v in ins], axis=a.get("axis", 0))
    if op in _BINARY:
        return _BINARY[op](ins[0], ins[1])
    if op in _UNARY:
        return _UNARY[op](x)
    if op == "Where":
        return np.where(ins[0], ins[1], ins[2])
    if op == "Range":
        n = range_length(ins[0], ins[1], ins[2])
        return None if n is None or n > LIMIT else np.arange(ins[0], ins[1], ins[2])
    if op == "ConstantOfShape":
        fill = a.get("value")
        value = np.float32(0) if fill is None else numpy_helper.to_array(fill).reshape(-1)[0]
        return np.full(_int_list(x) or [], value)
    if op == "Reshape":
        return x.reshape(_reshape(x.shape, _int_list(ins[1]) or [], a))
    if op == "Slice":
        return _slice(x, ins[1:])
    if op == "Transpose":
        return np.transpose(x, a.get("perm"))
    if op == "ReduceProd":
        return np.prod(x, keepdims=bool(a.get("keepdims", 1)))
    if op == "Expand":
        target = broadcast_shapes(x.shape, tuple(_int_list(ins[1]) or ()))
        return None if target is None else np.broadcast_to(x, target)
    return None


def _div(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    if x.dtype.kind in "iu" and y.dtype.kind in "iu":
        return np.trunc(x / y).astype(np.int64)
    return x / y


_BINARY: dict[str, Any] = {
    "Add": np.add,
    "Sub": np.subtract,
    "Mul": np.multiply,
    "Div": _div,
    "Mod": np.mod,
    "Max": np.maximum,
    "Min": np.minimum,
    "Equal": np.equal,
    "Less": np.less,
    "Greater": np.greater,
    "And": np.logical_and,
    "Or": np.logical_or,
    "Pow": np.power,
}
_UNARY: dict[str, Any] = {
    "Neg": np.negative,
    "Abs": np.abs,
    "Floor": np.floor,
    "Ceil": np.ceil,
    "Sqrt": np.sqrt,
    "Not": np.logical_not,
}


def _reshape(shape: tuple[int, ...], target: list[int], a: dict[str, Any]) -> tuple[int, ...]:
    out = [shape[i] if d == 0 and not a.get("allowzero") else d for i, d in enumerate(target)]
    if -1 in out:
        known = int(np.prod([d for d in out if d != -1]))
        out[out.index(-1)] = int(np.prod(shape)) // max(known, 1)
    return tuple(int(d) for d in out)


def range_length(start: Any, limit: Any, delta: Any) -> int | None:
    """Elements of ``Range(start, limit, delta)``: max(0, ceil((limit - start) / delta)), from
    its scalar inputs (None for a zero or non-finite step, or bounds that are not numbers)."""
    s, e, d = (np.asarray(v).reshape(-1) for v in (start, limit, delta))
    if s.size != 1 or e.size != 1 or d.size != 1:
        return None
    s0, e0, d0 = s[0].item(), e[0].item(), d[0].item()
    if all(isinstance(v, int) for v in (s0, e0, d0)):
        # integer ceiling: a float quotient rounds int64 bounds (INT64_MAX ends are common)
        return None if d0 == 0 else max(0, -((s0 - e0) // d0))
    q = (e0 - s0) / d0 if d0 else math.nan
    return max(0, math.ceil(q)) if math.isfinite(q) else None


def _slice(x: np.ndarray, ins: list[np.ndarray | None]) -> np.ndarray:
    starts, ends = _int_list(ins[0]) or [], _int_list(ins[1]) or []
    axes = _int_list(ins[2]) if len(ins) > 2 and ins[2] is not None else list(range(len(starts)))
    steps = _int_list(ins[3]) if len(ins) > 3 and ins[3] is not None else [1] * len(starts)
    index = [slice(None)] * x.ndim
    for s, e, ax, st in zip(starts, ends, axes or [], steps or []):
        index[ax] = slice(s, e, st)
    return x[tuple(index)]


def fold(nodes: list[Any], shapes: Shapes, values: Values) -> None:
    """Add to ``values`` every small tensor computable from shapes and constants."""
    for node in nodes:
        if not node.output or node.output[0] in values:
            continue
        ins = [values.get(x) if x else None for x in node.input]
        try:
            v = _eval(node, ins, shapes, _attrs(node))
        except (ValueError, TypeError, IndexError, ZeroDivisionError):
            v = None
        if v is not None and np.size(v) <= LIMIT:
            values[node.output[0]] = np.asarray(v)


def resolve(node: Any, shapes: Shapes, values: Values) -> dict[str, tuple[int, ...]]:
    """Output shapes of ``node`` that follow from its inputs' shapes and values ({} if none)."""
    op, a = node.op_type, _attrs(node)
    out = node.output[0] if node.output else ""
    if out in values:
        return {out: tuple(np.shape(values[out]))}
    x = shapes.get(node.input[0]) if node.input else None
    v = [values.get(i) if i else None for i in node.input]
    if op == "Range" and len(v) == 3 and all(i is not None for i in v):
        n = range_length(v[0], v[1], v[2])  # fold keeps no value past LIMIT: size it here
        return {} if n is None else {out: (n,)}
    if x is None:
        return {}
    if op in SAME_SHAPE:
        return {out: x}
    if op == "Reshape" and v[1] is not None:
        return {out: _reshape(x, _int_list(v[1]) or [], a)}
    if op == "Expand" and v[1] is not None:
        b = broadcast_shapes(x, tuple(_int_list(v[1]) or ()))
        return {} if b is None else {out: b}
    if op == "Tile" and v[1] is not None:
        return {out: tuple(int(d) * int(r) for d, r in zip(x, _int_list(v[1]) or []))}
    if op == "Unsqueeze":
        axes = a.get("axes") or _int_list(v[1] if len(v) > 1 else None)
        if axes is None:
            return {}
        rank = len(x) + len(axes)
        ones = {int(i) % rank for i in axes}
        rest = iter(x)
        return {out: tuple(1 if i in ones else next(rest) for i in range(rank))}
    if op == "Squeeze":
        axes = a.get("axes") or _int_list(v[1] if len(v) > 1 else None)
        gone = {int(i) % len(x) for i in axes} if axes else {i for i, d in enumerate(x) if d == 1}
        return {out: tuple(d for i, d in enumerate(x) if i not in gone)}
    if op == "Slice" and v[1] is not None and v[2] is not None:
        starts, ends = _int_list(v[1]) or [], _int_list(v[2]) or []
        axes = _int_list(v[3]) if len(v) > 3 and v[3] is not None else list(range(len(starts)))
        steps = _int_list(v[4]) if len(v) > 4 and v[4] is not None else [1] * len(starts)
        shape = list(x)
        for s, e, ax, st in zip(starts, ends, axes or [], steps or []):
            shape[ax] = len(range(*slice(s, e, st).indices(x[ax])))
        return {out: tuple(shape)}
    if op == "Split":
        axis = int(a.get("axis", 0)) % len(x)
        sizes = a.get("split") or _int_list(v[1] if len(v) > 1 else None)
        n = len(node.output)
        if not sizes:
            sizes = [-(-x[axis] // n)] * (n - 1) + [x[axis] - -(-x[axis] // n) * (n - 1)]
        return {o: x[:axis] + (int(s),) + x[axis + 1 :] for o, s in zip(node.output, sizes) if o}
    if op == "Pad" and len(v) > 1 and v[1] is not None:
        pads = _int_list(v[1]) or []
        k = len(pads) // 2
        axes = _int_list(v[3]) if len(v) > 3 and v[3] is not None else None
        shape = list(x)
        for i, ax in enumerate((axes or list(range(len(x))))[:k]):
            shape[ax] += pads[i] + pads[i + k]
        return {out: tuple(shape)}
    if op == "Resize":
        sizes = v[3] if len(v) > 3 else None
        scales = v[2] if len(v) > 2 else None
        if sizes is not None and np.size(sizes):
            return {out: tuple(_int_list(sizes) or [])}
        if scales is not None and np.size(scales):
            return {out: tuple(int(np.floor(d * s)) for d, s in zip(x, scales.reshape(-1)))}
    return {}
