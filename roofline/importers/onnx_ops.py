"""ONNX nodes to roofline ops, for :func:`~roofline.importers.onnx_import.from_onnx`.

=====================================================  =========================================
ONNX                                                   roofline
=====================================================  =========================================
Conv (1-3D, group)                                     conv (asymmetric pads: pad + conv)
ConvTranspose (1-3D, group)                            conv_transpose
Gemm; MatMul with an initializer (+ Add of its bias)   linear (bias folded in as nn.Linear's)
MatMul of two activations                              matmul
Attention (opset 23)                                   attention
Gather of an initializer                               embedding
BatchNormalization, LayerNormalization,                batchnorm, layernorm, groupnorm
GroupNormalization, InstanceNormalization
MaxPool, AveragePool, GlobalAveragePool/MaxPool        pool, adaptive_pool
ReduceMean over the trailing 2-3 dims                  adaptive_pool; other reductions: reduce
Softmax, LogSoftmax                                    softmax
Relu, Sigmoid, Tanh, Gelu, HardSwish, Clip(0, 6)...    activation
Add, Mul, Div, Sub, Pow, Where, Sqrt, Exp, Erf...      elementwise (broadcast, scalar operands)
Concat                                                 concat
Reshape, Flatten, Squeeze, Unsqueeze, Identity,        reshape / slice / expand / view (no
Dropout, Slice, Split, Expand, Gather of one index     cost: views, as torch takes them)
Transpose                                              copy (ONNX materializes it)
Pad, Cast of an activation, Tile                       pad, copy, generic
LSTM, GRU (one node per layer, as exported)            lstm, gru
Resize / Upsample (integer scale)                      interpolate
=====================================================  =========================================

Nodes whose inputs are all constants (``Shape``, ``Constant``, the arithmetic of shapes) are
folded. Any other node becomes a ``generic`` op costed by its bytes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from onnx import helper

from roofline.importers.builder import compact, conv_fields
from roofline.importers.onnx_graph import OnnxGraph
from roofline.importers.values import Shape, batch_axis, sample_dim
from roofline.ops.base import numel
from roofline.ops.conv_transpose import conv_transpose_out_size, output_padding_ok

NodeHandler = Callable[[OnnxGraph, Any, dict[str, Any], str], None]
HANDLERS: dict[str, NodeHandler] = {}


def handles(*op_types: str) -> Callable[[NodeHandler], NodeHandler]:
    def wrap(fn: NodeHandler) -> NodeHandler:
        for t in op_types:
            HANDLERS[t] = fn
        return fn

    return wrap


def _path(node: Any) -> str:
    """Module path of a node from its exporter name (``/layer1/layer1.0/conv1/Conv`` ->
    ``layer1.0.conv1``)."""
    parts: list[str] = []
    for comp in (node.name or "").strip("/").split("/")[:-1]:
        if parts and comp.startswith(parts[-1] + "."):
            parts[-1] = comp
        elif comp:
            parts.append(comp)
    return ".".join(parts)


def _base(node: Any, main: bool) -> str:
    path = _path(node)
    short = node.op_type.lower()
    if not path:
        return node.name.strip("/").replace("/", ".") or short
    if main or path.rsplit(".", 1)[-1] == short:
        return path
    return f"{path}.{short}"


#: ops that, applied to a weight, give the same weights laid out otherwise (``do_constant_folding
#: =False`` exports keep ``MatMul(x, Transpose(W))``)
_WEIGHT_VIEWS = ("Transpose", "Reshape", "Cast", "Unsqueeze", "Squeeze", "Flatten")
#: ops that read only their input's shape
_SHAPE_ONLY = ("Shape", "Size", "ConstantOfShape", "EyeLike")


def map_node(g: OnnxGraph, node: Any, defer: bool = True) -> None:
    """Write the ops of one ONNX node (``defer``: a layout of weights alone waits until an op
    reads it as a tensor, :func:`defer_weight_layout`)."""
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    if node.op_type in ("Identity", "Dropout") and node.input:
        g.alias[node.output[0]] = node.input[0]
        return
    if node.op_type in _SHAPE_ONLY:
        return  # reads no data: its value is known (shape arithmetic, folded)
    if not any(g.in_graph(x) for x in node.input if x):
        return  # constants only: folded (shape arithmetic, Constant)
    if defer and defer_weight_layout(g, node):
        return
    src = node.input[0] if node.input else ""
    weight_view = (
        node.op_type in _WEIGHT_VIEWS
        and g.is_weight(src)
        and not g.is_act(src)
        and g.origin(src) not in g.composed
    )
    if weight_view and not any(g.is_act(x) for x in node.input[1:] if x):
        g.derived[node.output[0]] = src  # a weight transposed in the graph
        return
    handler = HANDLERS.get(node.op_type)
    if handler is None or node.domain not in ("", "ai.onnx"):
        return unmapped(g, node, attrs, "")
    handler(g, node, attrs, node.op_type)


#: ops that lay weights out anew from parts of one or more initializers
_WEIGHT_LAYOUTS = ("Slice", "Split", "Concat")


def defer_weight_layout(g: OnnxGraph, node: Any) -> bool:
    """Hold back a Slice, Split or Concat of weights alone (or a view of such a layout): the
    weight, made of those initializers (:attr:`OnnxGraph.composed`), is written only when an op
    reads it as a tensor (:meth:`OnnxGraph.tensor`). ``torch.onnx.export`` reorders an LSTM's
    and a GRU's gates this way: the recurrent node then holds the initializers as its weights,
    and no parameter or concat op counts them a second time, or once per sample."""
    data = [x for x in (node.input if node.op_type == "Concat" else node.input[:1]) if x]
    if not data or any(g.is_act(x) for x in node.input if x):
        return False
    layout = node.op_type in _WEIGHT_LAYOUTS
    of_layout = node.op_type in _WEIGHT_VIEWS and g.origin(data[0]) in g.composed
    if not (layout or of_layout) or not all(g.is_weight(x) for x in data):
        return False
    sources = tuple(dict.fromkeys(s for x in data for s in g.sources(x)))
    for out in node.output:
        if out:
            g.deferred[out] = node
            g.composed[out] = sources
    return True


def unmapped(g: OnnxGraph, node: Any, attrs: dict[str, Any], _: str) -> None:
    ins = [x for x in node.input if x and g.in_graph(x)]
    base = _base(node, False)
    names = [g.tensor(x, base) for x in ins]
    out = node.output[0]
    domain = f"{node.domain}." if node.domain else ""
    g.acts[out] = g.b.fallback(f"onnx.{domain}{node.op_type}", names, g.ps(out), base)


def _ints(v: Any, n: int, default: int) -> tuple[int, ...]:
    if v is None:
        return (default,) * n
    return tuple(int(x) for x in v)


def _pads(node: Any, attrs: dict[str, Any], nd: int) -> tuple[int, ...] | None:
    """Symmetric padding per dim, or None (asymmetric, or an auto_pad other than NOTSET/VALID)."""
    auto = _auto(attrs)
    if auto == "VALID":
        return (0,) * nd
    if auto not in ("NOTSET", ""):
        return None
    pads = _ints(attrs.get("pads"), 2 * nd, 0)
    if pads[:nd] != pads[nd:]:
        return None
    return pads[:nd]


def _auto(attrs: dict[str, Any]) -> str:
    auto = attrs.get("auto_pad", b"NOTSET")
    return auto.decode() if isinstance(auto, bytes) else str(auto)


def _pad_pairs(
    attrs: dict[str, Any], size: Shape, kernel: Shape, stride: Shape, dilation: Shape
) -> tuple[Shape, Shape] | None:
    """Padding (before, after) of each spatial dim by ONNX's rules: ``pads``, or ``auto_pad``
    SAME_UPPER / SAME_LOWER (the output ceil(in / stride); an odd total puts the extra one
    after / before); None for an auto_pad ONNX does not define."""
    auto, nd = _auto(attrs), len(kernel)
    if auto == "VALID":
        return (0,) * nd, (0,) * nd
    if auto in ("NOTSET", ""):
        pads = _ints(attrs.get("pads"), 2 * nd, 0)
        return pads[:nd], pads[nd:]
    if auto not in ("SAME_UPPER", "SAME_LOWER"):
        return None
    before, after = [], []
    for i, k, s, d in zip(size, kernel, stride, dilation):
        total = max(0, (-(-i // s) - 1) * s + (k - 1) * d + 1 - i)
        small, large = total // 2, total - total // 2
        before.append(small if auto == "SAME_UPPER" else large)
        after.append(large if auto == "SAME_UPPER" else small)
    return tuple(before), tuple(after)


# -- weighted ops ---------------------------------------------------------------------------------
@handles("Conv")
def conv(g: OnnxGraph, node: Any, attrs: dict[str, Any], _: str) -> None:
    """A conv; padding that differs between the two sides of a dim (asymmetric ``pads``,
    ``auto_pad`` SAME_*) is the conv's symmetric part, the rest a ``pad`` op before it, as
    PyTorch runs ``padding="same"`` with an even kernel."""
    x, w = node.input[0], node.input[1]
    bias = node.input[2] if len(node.input) > 2 and node.input[2] else None
    w_shape = g.shapes[g.name(w)]
    nd = len(w_shape) - 2
    kernel = tuple(int(k) for k in w_shape[2:])
    stride = _ints(attrs.get("strides"), nd, 1)
    dilation = _ints(attrs.get("dilations"), nd, 1)
    pairs = _pad_pairs(attrs, g.ps(x)[1:], kernel, stride, dilation)
    if not g.is_weight(w) or pairs is None:
        return unmapped(g, node, attrs, "")
    base = _base(node, True)
    src = g.tensor(x, base)
    padding = tuple(min(b, a) for b, a in zip(*pairs))
    extra = [(b - p, a - p) for b, a, p in zip(*pairs, padding)]
    if any(b or a for b, a in extra):
        pad = tuple(n for pair in reversed(extra) for n in pair)  # F.pad's order: last dim first
        src = g.b.add("pad", [src], f"{base}.pad", padding=pad)
    tied = g.weight(w, base)
    g.weight(bias, base)
    fields = conv_fields(
        w_shape,
        tied,
        stride=stride,
        padding=padding,
        dilation=dilation,
        groups=int(attrs.get("group", 1)),
        bias=bias is not None,
    )
    g.emit_named("conv", [src], [x], node.output[0], base, **fields)


@handles("ConvTranspose")
def conv_transpose(g: OnnxGraph, node: Any, attrs: dict[str, Any], _: str) -> None:
    """A transposed conv. Its padding and output padding are the node's when they give the
    inferred output size (as exported from PyTorch), else derived from that size (``auto_pad``,
    ``output_shape``, asymmetric ``pads``); an odd crop that PyTorch's symmetric padding cannot
    express is a zero-cost slice of the output (the work is set by the input either way)."""
    x, w, out = node.input[0], node.input[1], node.output[0]
    bias = node.input[2] if len(node.input) > 2 and node.input[2] else None
    w_shape = g.shapes[g.name(w)]
    nd = len(w_shape) - 2
    size, want = g.ps(x)[1:], g.ps(out)[1:]
    if not g.is_weight(w) or len(want) != nd:
        return unmapped(g, node, attrs, "")
    kernel = tuple(int(k) for k in w_shape[2:])
    stride = _ints(attrs.get("strides"), nd, 1)
    dilation = _ints(attrs.get("dilations"), nd, 1)
    plan = _transposed_padding(attrs, size, want, kernel, stride, dilation)
    if plan is None:
        return unmapped(g, node, attrs, "")
    padding, output_padding, crop = plan
    base = _base(node, True)
    tied = g.weight(w, base)
    g.weight(bias, base)
    fields = conv_fields(
        w_shape,
        tied,
        transposed=True,
        stride=stride,
        padding=padding,
        output_padding=output_padding,
        dilation=dilation,
        groups=int(attrs.get("group", 1)),
        bias=bias is not None,
    )
    if not any(crop):
        g.emit("conv_transpose", [x], out, base, **fields)
        return
    name = g.b.add("conv_transpose", [g.tensor(x, base)], base, **fields)
    for i, n in enumerate(crop):
        if n:
            stop = g.b.shapes[name][1 + i] - n
            name = g.b.add("slice", [name], f"{base}.crop", dim=1 + i, stop=stop)
    g.acts[out] = g.b.view_as(name, g.ps(out), f"{base}.view")


def _transposed_padding(
    attrs: dict[str, Any], size: Shape, want: Shape, kernel: Shape, stride: Shape, dilation: Shape
) -> tuple[Shape, Shape, Shape] | None:
    """(padding, output_padding, crop) per dim of a ConvTranspose whose output is ``want``."""
    nd = len(kernel)
    full = [
        conv_transpose_out_size(i, k, s, 0, 0, d)
        for i, k, s, d in zip(size, kernel, stride, dilation)
    ]
    pads = _ints(attrs.get("pads"), 2 * nd, 0)
    given = _ints(attrs.get("output_padding"), nd, 0)
    if (
        _auto(attrs) in ("NOTSET", "")
        and pads[:nd] == pads[nd:]
        and all(f - 2 * p + o == n for f, p, o, n in zip(full, pads, given, want))
        and all(output_padding_ok(o, s, d) for o, s, d in zip(given, stride, dilation))
    ):
        return pads[:nd], given, (0,) * nd
    plan: list[tuple[int, int, int]] = []
    for f, n, s, d in zip(full, want, stride, dilation):
        total = f - n  # 2 * padding - output_padding
        p = max(0, -(-total // 2))
        o = 2 * p - total
        if output_padding_ok(o, s, d):
            plan.append((p, o, 0))
        elif total >= 0:
            plan.append((total // 2, 0, total % 2))
        else:
            return None
    padding, output_padding, crop = zip(*plan)
    return tuple(padding), tuple(output_padding), tuple(crop)


@handles("Gemm")
def gemm(g: OnnxGraph, node: Any, attrs: dict[str, Any], _: str) -> None:
    a, w = node.input[0], node.input[1]
    c = node.input[2] if len(node.input) > 2 and node.input[2] else None
    if attrs.get("transA", 0) or not g.is_weight(w) or g.is_weight(a):
        return _matmul(g, node, [a, w], c)
    shape = g.shapes[g.name(w)]
    out_features = int(shape[0] if attrs.get("transB", 0) else shape[1])
    in_features = int(shape[1] if attrs.get("transB", 0) else shape[0])
    has_bias = c is not None and g.is_weight(c) and numel(g.shapes[g.name(c)]) == out_features
    _linear(g, node, a, w, c if has_bias else None, in_features, out_features)
    if c is not None and not has_bias:
        _add_after(g, node, c)


def _linear(g: OnnxGraph, node: Any, x: str, w: str, bias: str | None, fin: int, fout: int) -> None:
    base = _base(node, True)
    tied = g.weight(w, base)
    g.weight(bias, base)
    fields: dict[str, Any] = dict(in_features=fin, out_features=fout, bias=bias is not None)
    if tied:
        fields["tied_to"] = tied
    g.emit("linear", [x], node.output[0], base, **fields)


def _add_after(g: OnnxGraph, node: Any, c: str) -> None:
    out = node.output[0]
    g.emit("elementwise", [out, c], out, f"{_base(node, False)}.add", op="add")


@handles("MatMul")
def matmul(g: OnnxGraph, node: Any, attrs: dict[str, Any], _: str) -> None:
    a, w = node.input[0], node.input[1]
    shape = g.shapes.get(g.name(w), ())
    if g.is_weight(w) and not g.is_weight(a) and len(shape) == 2:
        _linear(g, node, a, w, None, int(shape[0]), int(shape[1]))
        return
    _matmul(g, node, [a, w], None)


def _matmul(g: OnnxGraph, node: Any, ins: list[str], add: str | None) -> None:
    base = _base(node, False)
    names = [g.tensor(x, base) for x in ins]
    a, b = (g.b.shapes[n] for n in names)
    if len(a) < 2 or len(b) < 2 or a[-1] != b[-2]:
        return unmapped(g, node, {}, "")
    out = node.output[0]
    once = not any(g.batched(x) for x in ins) and not g.batched(out)
    fields: dict[str, Any] = {"per_run": True} if once and g.batch > 1 else {}
    g.acts[out] = g.b.add_as("matmul", names, g.ps(out), base, **fields)
    if add is not None:
        _add_after(g, node, add)


@handles("Einsum")
def einsum(g: OnnxGraph, node: Any, attrs: dict[str, Any], _: str) -> None:
    """A two-operand einsum as a batched matmul: letters in both inputs and the output are
    batch dims (``count``), those in one input and the output are ``m`` / ``n``, those summed
    over are ``k``."""
    eq = attrs["equation"]
    eq = eq.decode() if isinstance(eq, bytes) else str(eq)
    if "->" not in eq or "." in eq or len(node.input) != 2:
        return unmapped(g, node, attrs, "")
    lhs, out_letters = eq.replace(" ", "").split("->")
    a_letters, b_letters = lhs.split(",")
    a, b = (g.shapes[g.name(x)] for x in node.input)
    size = {**dict(zip(b_letters, b)), **dict(zip(a_letters, a))}
    if len(a) != len(a_letters) or len(b) != len(b_letters):
        return unmapped(g, node, attrs, "")
    per = {c: (d // g.batch if d >= g.batch and d % g.batch == 0 else d) for c, d in size.items()}
    both = [c for c in out_letters if c in a_letters and c in b_letters]
    m = numel(tuple(per[c] for c in a_letters if c in out_letters and c not in b_letters))
    n = numel(tuple(per[c] for c in b_letters if c in out_letters and c not in a_letters))
    k = numel(tuple(per[c] for c in a_letters if c not in out_letters and c in b_letters))
    count = numel(tuple(per[c] for c in both))
    base = _base(node, False)
    ins = [
        g.b.view_as(g.tensor(node.input[0], base), (count, m, k), f"{base}.lhs"),
        g.b.view_as(g.tensor(node.input[1], base), (count, k, n), f"{base}.rhs"),
    ]
    g.emit_named("matmul", ins, list(node.input), node.output[0], base)


@handles("Attention")
def attention(g: OnnxGraph, node: Any, attrs: dict[str, Any], _: str) -> None:
    q, k, v = node.input[:3]
    qs, ks = g.shapes[g.name(q)], g.shapes[g.name(k)]
    if len(qs) != 4 or len(ks) != 4 or (len(node.input) > 3 and g.in_graph(node.input[3])):
        return unmapped(g, node, attrs, "")
    fields: dict[str, Any] = dict(
        num_heads=int(qs[1]),
        head_dim=int(qs[3]),
        q_len=int(qs[2]),
        kv_len=int(ks[2]),
        causal=bool(attrs.get("is_causal", 0)),
        heads_first=True,
    )
    if ks[1] != qs[1]:
        fields["num_kv_heads"] = int(ks[1])
    g.emit("attention", [q, k, v], node.output[0], _base(node, True), **fields)


@handles("Gather")
def gather(g: OnnxGraph, node: Any, attrs: dict[str, Any], _: str) -> None:
    data, idx = node.input[0], node.input[1]
    out = node.output[0]
    axis = int(attrs.get("axis", 0))
    if g.is_weight(data) and axis == 0 and len(g.shapes[g.name(data)]) == 2:
        rows, dim = g.shapes[g.name(data)]
        base = _base(node, True)
        tied = g.weight(data, base)
        fields: dict[str, Any] = dict(
            num_embeddings=int(rows), embedding_dim=int(dim), lookups=numel(g.ps(idx))
        )
        if tied:
            fields["tied_to"] = tied
        g.emit("embedding", [idx], out, base, **fields)
        return
    value = g.value(idx)
    if value is not None and value.size == 1 and not g.is_param(data):
        g.view(data, out, _base(node, False))  # one index of a dim: a view, as torch's select
        return
    base = _base(node, False)
    n_idx = numel(g.ps(idx)) if g.batched(idx) else numel(g.shapes[g.name(idx)])
    g.emit("gather", [data], out, base, output_shape=g.ps(out), index_elements=n_idx)


@handles("LSTM", "GRU")
def recurrent(g: OnnxGraph, node: Any, attrs: dict[str, Any], op: str) -> None:
    x, w, r = node.input[:3]
    bias = node.input[3] if len(node.input) > 3 and node.input[3] else None
    if not (g.is_weight(w) and g.is_weight(r)) or attrs.get("layout", 0):
        return unmapped(g, node, attrs, "")
    dirs, _, size = g.shapes[g.name(w)]
    base = _base(node, True)
    for p in (w, r, bias):
        g.weight(p, base)
    direction = attrs.get("direction", b"forward")
    direction = direction.decode() if isinstance(direction, bytes) else str(direction)
    carry = len(node.input) > 5 and bool(node.input[5]) and g.is_act(node.input[5])
    fields: dict[str, Any] = dict(
        input_size=int(size),
        hidden_size=int(attrs["hidden_size"]),
        seq_len=int(g.shapes[g.name(x)][0]),
        bidirectional=direction == "bidirectional",
        bias=bias is not None,
    )
    if carry:
        fields["carry_state"] = True
    y = node.output[0] if node.output and node.output[0] else f"{base}.out"
    if y not in g.shapes:
        return unmapped(g, node, attrs, "")
    name = g.emit(op.lower(), [x], y, base, **fields)
    for state in node.output[1:]:
        if state and state in g.shapes:
            g.acts[state] = g.b.add_as(
                "view", [name], g.ps(state), f"{base}.state", target=g.ps(state)
            )
    _ = dirs


# -- normalization, pooling, reductions -----------------------------------------------------------
def _learned(g: OnnxGraph, base: str, *inputs: str) -> list[bool]:
    """For each scale or bias input of a norm: whether it is a parameter (then recorded as a
    weight of op ``base``). An exporter writes a norm without affine parameters with folded
    constants (ones, zeros) in their place; those are no parameters."""
    out = []
    for x in inputs:
        learned = bool(x) and g.is_weight(x) and not g.is_folded(x)
        if learned:
            g.weight(x, base)
        out.append(learned)
    return out


@handles("BatchNormalization")
def batchnorm(g: OnnxGraph, node: Any, attrs: dict[str, Any], _: str) -> None:
    base = _base(node, True)
    scale, _bias = _learned(g, base, node.input[1], node.input[2])
    fields = {} if scale else {"affine": False}
    g.emit("batchnorm", [node.input[0]], node.output[0], base, **fields)


@handles("LayerNormalization")
def layernorm(g: OnnxGraph, node: Any, attrs: dict[str, Any], _: str) -> None:
    x = node.input[0]
    rank = len(g.shapes[g.name(x)])
    axis = int(attrs.get("axis", -1)) % rank
    base = _base(node, True)
    scale_in = node.input[1] if len(node.input) > 1 else ""
    bias_in = node.input[2] if len(node.input) > 2 else ""
    scale, bias = _learned(g, base, scale_in, bias_in)
    fields: dict[str, Any] = {}
    if rank - axis != 1:
        fields["normalized_ndim"] = rank - axis
    if not scale:
        fields["affine"] = False
    elif not bias:
        fields["bias"] = False
    g.emit("layernorm", [x], node.output[0], base, **fields)


@handles("GroupNormalization", "InstanceNormalization")
def groupnorm(g: OnnxGraph, node: Any, attrs: dict[str, Any], op: str) -> None:
    x = node.input[0]
    channels = g.ps(x)[0]
    groups = channels if op == "InstanceNormalization" else int(attrs["num_groups"])
    base = _base(node, True)
    scale, _bias = _learned(g, base, node.input[1], node.input[2])
    fields: dict[str, Any] = {"num_groups": groups}
    if not scale:
        fields["affine"] = False
    g.emit("groupnorm", [x], node.output[0], base, **fields)


@handles("MaxPool", "AveragePool")
def pool(g: OnnxGraph, node: Any, attrs: dict[str, Any], op: str) -> None:
    k = tuple(int(v) for v in attrs["kernel_shape"])
    nd = len(k)
    pads = _pads(node, attrs, nd)
    if pads is None or any(d != 1 for d in _ints(attrs.get("dilations"), nd, 1)):
        return unmapped(g, node, attrs, "")
    mode = "max" if op == "MaxPool" else "avg"
    stride = _ints(attrs.get("strides"), nd, 1)
    fields = compact(
        dict(
            mode=mode,
            kernel_size=k,
            stride=stride,
            padding=pads,
            ceil_mode=bool(attrs.get("ceil_mode", 0)),
        ),
        {"padding": 0, "ceil_mode": False, "stride": k[0] if len(set(k)) == 1 else k},
    )
    g.emit("pool", [node.input[0]], node.output[0], _base(node, True), **fields)


@handles("GlobalAveragePool", "GlobalMaxPool")
def global_pool(g: OnnxGraph, node: Any, attrs: dict[str, Any], op: str) -> None:
    mode = "max" if op == "GlobalMaxPool" else "avg"
    fields = {} if mode == "avg" else {"mode": "max"}
    g.emit("adaptive_pool", [node.input[0]], node.output[0], _base(node, True), **fields)


_REDUCE = {
    "ReduceMean": "mean",
    "ReduceSum": "sum",
    "ReduceMax": "max",
    "ReduceMin": "min",
    "ReduceProd": "prod",
    "ReduceL2": "norm",
    "ReduceLogSumExp": "logsumexp",
    "ArgMax": "argmax",
    "ArgMin": "argmin",
}


@handles(*_REDUCE)
def reduce(g: OnnxGraph, node: Any, attrs: dict[str, Any], op: str) -> None:
    x, out = node.input[0], node.output[0]
    full = g.shapes[g.name(x)]
    axes = attrs.get("axes", attrs.get("axis"))
    if axes is None and len(node.input) > 1 and node.input[1]:
        value = g.value(node.input[1])
        axes = None if value is None else [int(v) for v in value.reshape(-1)]
    if isinstance(axes, int):
        axes = [axes]
    axes = list(range(len(full))) if axes is None else [int(a) % len(full) for a in axes]
    sample = [sample_dim(full, g.batch, a) for a in axes]
    if any(d is None for d in sample):
        return unmapped(g, node, attrs, "")
    dims = sorted(d for d in sample if d is not None)
    rank = len(g.ps(x))
    keep = bool(attrs.get("keepdims", 1))
    base = _base(node, False)
    if (
        _REDUCE[op] == "mean"
        and 2 <= len(dims) <= 3
        and dims == list(range(rank - len(dims), rank))
    ):
        src = g.b.view_as(
            g.tensor(x, base),
            (numel(g.ps(x)[: rank - len(dims)]), *g.ps(x)[rank - len(dims) :]),
            f"{base}.view",
        )
        g.acts[out] = g.b.add_as("adaptive_pool", [src], g.ps(out), base)
        return
    fields: dict[str, Any] = {"dims": tuple(dims), "op": _REDUCE[op]}
    if keep:
        fields["keepdim"] = True
    g.emit("reduce", [x], out, base, **fields)


@handles("Softmax", "LogSoftmax")
def softmax(g: OnnxGraph, node: Any, attrs: dict[str, Any], _: str) -> None:
    g.emit("softmax", [node.input[0]], node.output[0], _base(node, True))


# -- activations and elementwise ------------------------------------------------------------------
_ACTIVATIONS = {
    "Relu": "relu",
    "Sigmoid": "sigmoid",
    "Tanh": "tanh",
    "Gelu": "gelu",
    "HardSwish": "hardswish",
    "HardSigmoid": "hardsigmoid",
    "LeakyRelu": "leaky_relu",
    "Elu": "elu",
    "Softplus": "softplus",
    "Mish": "softplus",
}


@handles(*_ACTIVATIONS)
def activation(g: OnnxGraph, node: Any, attrs: dict[str, Any], op: str) -> None:
    fn = _ACTIVATIONS[op]
    g.emit("activation", [node.input[0]], node.output[0], _base(node, True), function=fn)


@handles("Clip")
def clip(g: OnnxGraph, node: Any, attrs: dict[str, Any], _: str) -> None:
    bounds = [g.value(x) if x else None for x in node.input[1:3]]
    lo = attrs.get("min", None if bounds[0] is None else float(bounds[0]))
    hi = attrs.get("max", None if len(bounds) < 2 or bounds[1] is None else float(bounds[1]))
    if (lo, hi) == (0.0, 6.0):
        g.emit("activation", [node.input[0]], node.output[0], _base(node, True), function="relu6")
        return
    scalars = sum(v is not None for v in (lo, hi))
    _elementwise(g, node, "max", [node.input[0]], scalars)


_ELEMENTWISE = {
    "Add": "add",
    "Sub": "sub",
    "Mul": "mul",
    "Div": "div",
    "Pow": "pow",
    "Max": "max",
    "Min": "min",
    "Where": "where",
    "Equal": "compare",
    "Less": "compare",
    "Greater": "compare",
    "LessOrEqual": "compare",
    "GreaterOrEqual": "compare",
    "And": "compare",
    "Or": "compare",
    "Not": "compare",
    "Exp": "exp",
    "Log": "log",
    "Sqrt": "sqrt",
    "Neg": "neg",
    "Abs": "abs",
    "Reciprocal": "reciprocal",
    "Erf": "erf",
}


@handles(*_ELEMENTWISE)
def elementwise(g: OnnxGraph, node: Any, attrs: dict[str, Any], op_type: str) -> None:
    if op_type == "Add" and len(node.input) == 2:
        for x, b in (node.input, node.input[::-1]):
            once = g.consumers.get(x) == 1 and len(g.shapes.get(g.name(b), ())) == 1
            if g.is_act(x) and g.is_weight(b) and once:
                owner = g.b.add_bias(g.acts[g.name(x)], numel(g.shapes[g.name(b)]))
                if owner:
                    g.weight(b, owner)
                    g.acts[node.output[0]] = g.acts[g.name(x)]
                    return
    if op_type == "Mul" and len(node.input) == 2 and _silu(g, node):
        return
    tensors, scalars = [], 0
    for x in node.input:
        if not x:
            continue
        value = g.value(x)
        if value is not None and value.size == 1 and not g.is_act(x):
            scalars += 1
        else:
            tensors.append(x)
    _elementwise(g, node, _ELEMENTWISE[op_type], tensors, scalars)


def _silu(g: OnnxGraph, node: Any) -> bool:
    """``x * Sigmoid(x)`` as one silu activation (``nn.SiLU``, exported as two nodes)."""
    for x, s in (node.input, node.input[::-1]):
        sig = g.producers.get(s)
        if sig is None or sig.op_type != "Sigmoid" or g.name(sig.input[0]) != g.name(x):
            continue
        if g.consumers.get(s) == 1 and g.b.retype_activation(g.acts.get(s, ""), "silu"):
            g.acts[node.output[0]] = g.acts[s]
            return True
    return False


def _elementwise(g: OnnxGraph, node: Any, op: str, tensors: list[str], scalars: int) -> None:
    out = node.output[0]
    base = _base(node, False)
    target = g.ps(out)
    names = [_aligned(g, x, out, base) for x in tensors]
    fields: dict[str, Any] = {"op": op, "shape": target}
    if scalars:
        fields["scalars"] = scalars
    once = not any(g.batched(x) for x in tensors) and not g.batched(out)
    if once and g.batch > 1 and tensors:
        fields["per_run"] = True
    g.acts[out] = g.b.add_as("elementwise", names, target, base, **fields)


def _aligned(g: OnnxGraph, x: str, out: str, base: str) -> str:
    """Operand ``x`` viewed to broadcast against per-sample output ``out`` (an operand without
    the batch loses its size-1 batch slot)."""
    name = g.tensor(x, base)
    if g.batched(x) or not g.batched(out):
        return name
    oshape = g.shapes[g.name(out)]
    i, k = batch_axis(oshape, g.batch)
    xs = g.shapes.get(g.name(x), ())
    full = (1,) * (len(oshape) - len(xs)) + tuple(xs)
    if k == 1 and full[i] == 1:
        want = full[:i] + full[i + 1 :]
        while len(want) > max(len(g.ps(out)), 1) and want[0] == 1:
            want = want[1:]
        return g.b.view_as(name, want or (1,), f"{base}.view")
    return name


# -- tensor manipulation --------------------------------------------------------------------------
@handles("Concat")
def concat(g: OnnxGraph, node: Any, attrs: dict[str, Any], _: str) -> None:
    out = node.output[0]
    full = g.shapes[g.name(out)]
    d = sample_dim(full, g.batch, int(attrs["axis"]) % len(full))
    ins = [x for x in node.input if x and numel(g.shapes.get(g.name(x), (0,))) > 0]
    if d is None:
        return unmapped(g, node, attrs, "")
    base = _base(node, False)
    names = []
    for x in ins:
        want = list(g.ps(out))
        want[d] = int(g.shapes[g.name(x)][int(attrs["axis"]) % len(full)])
        names.append(g.b.view_as(g.tensor(x, base), tuple(want), f"{base}.view"))
    g.emit_named("concat", names, ins, out, base, dim=d)


@handles("Reshape", "Flatten", "Squeeze", "Unsqueeze", "Expand", "Slice", "Split")
def views(g: OnnxGraph, node: Any, attrs: dict[str, Any], op: str) -> None:
    x = node.input[0]
    base = _base(node, False)
    for out in node.output:
        if out:
            g.view(x, out, base)


@handles("Transpose", "Cast", "Tile")
def copy(g: OnnxGraph, node: Any, attrs: dict[str, Any], op: str) -> None:
    x, out = node.input[0], node.output[0]
    if op == "Tile":
        return unmapped(g, node, attrs, "")
    g.emit("copy", [x], out, _base(node, False))


@handles("Pad")
def pad(g: OnnxGraph, node: Any, attrs: dict[str, Any], _: str) -> None:
    x, out = node.input[0], node.output[0]
    ps_in, ps_out = g.ps(x), g.ps(out)
    if len(ps_in) != len(ps_out):
        return unmapped(g, node, attrs, "")
    padding: list[int] = []
    for a, b in zip(reversed(ps_in), reversed(ps_out)):  # after-only: the counts are the same
        padding += [0, b - a]
    if min(padding) < 0:
        return unmapped(g, node, attrs, "")
    g.emit("pad", [x], out, _base(node, False), padding=tuple(padding))


@handles("Resize", "Upsample")
def resize(g: OnnxGraph, node: Any, attrs: dict[str, Any], _: str) -> None:
    x, out = node.input[0], node.output[0]
    a, b = g.ps(x), g.ps(out)
    ratios = {o / i for o, i in zip(b[1:], a[1:])}
    mode = attrs.get("mode", b"nearest")
    mode = mode.decode() if isinstance(mode, bytes) else str(mode)
    if len(a) != len(b) or len(ratios) != 1 or not float(next(iter(ratios))).is_integer():
        return unmapped(g, node, attrs, "")
    fields = dict(
        scale_factor=int(next(iter(ratios))), mode="bilinear" if mode == "linear" else "nearest"
    )
    g.emit("interpolate", [x], out, _base(node, True), **fields)
