"""Aten ops to roofline ops: one handler per family of aten ops, for the torch tracer.

Conventions: a handler receives the tracer, the aten op, its arguments by schema name
(:func:`named`) and its result, writes ops with :meth:`Tracer.emit` and binds the result. Ops
whose tensors are all constants are folded (nothing written). Any op without a handler becomes a
``generic`` op costed by its bytes (:func:`unmapped`).

=======================================  ===================================================
aten                                     roofline
=======================================  ===================================================
convolution (1-3D, groups)               conv (tied_to when its weights ran before)
convolution, transposed                  conv_transpose
addmm / mm with a parameter operand      linear (bias from addmm), else matmul
bmm / baddbmm by an expanded parameter   linear (the weight read once, tied_to as above)
bmm / baddbmm / mm of activations        matmul (+ elementwise add for baddbmm's input)
_scaled_dot_product_* / F.sdpa           attention (causal, GQA, heads first)
embedding / _embedding_bag               embedding / embedding_bag (pooling factor from offsets)
max/avg pool 1-3D, adaptive pools        pool / adaptive_pool
mean over the trailing spatial dims      adaptive_pool (global average pooling)
sum, mean, amax, var, norm...            reduce
batch / layer / group norm               batchnorm / layernorm / groupnorm
softmax, log_softmax                     softmax
relu, gelu, sigmoid, hardswish...        activation
add, mul, where, exp, clamp...           elementwise (broadcast, scalar operands)
cat / stack                              concat (stack: unsqueeze views first)
views (view, permute, slice, split...)   reshape / permute / slice / expand / view (no cost)
clone, copy_, roll, _to_copy, repeat     copy
constant_pad_nd                          pad
index, index_select, gather              gather
upsample nearest / bilinear (integer)    interpolate
nn.LSTM / nn.GRU modules                 lstm / gru (one op, from module hooks)
=======================================  ===================================================
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from roofline.importers.builder import compact, conv_fields
from roofline.importers.torch_tracer import Tracer
from roofline.importers.values import Act, Const, batch_axis, sample_dim
from roofline.ops.base import broadcast_shapes, numel

aten = torch.ops.aten
Handler = Callable[[Tracer, Any, dict[str, Any], Any], None]
HANDLERS: dict[Any, Handler] = {}
_SCHEMAS: dict[Any, list[tuple[str, Any]]] = {}


def handles(*packets: Any) -> Callable[[Handler], Handler]:
    """Register a handler for aten op packets."""

    def wrap(fn: Handler) -> Handler:
        for p in packets:
            HANDLERS[p] = fn
        return fn

    return wrap


def named(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    """The op's arguments by schema name, defaults filled."""
    schema = _SCHEMAS.get(func)
    if schema is None:
        schema = [
            (a.name, a.default_value if a.has_default_value() else None)
            for a in func._schema.arguments
        ]
        _SCHEMAS[func] = schema
    out = {n: d for n, d in schema}
    for (n, _), v in zip(schema, args):
        out[n] = v
    out.update(kwargs)
    return out


def _tensors(x: Any) -> list[torch.Tensor]:
    if isinstance(x, torch.Tensor):
        return [x]
    if isinstance(x, (list, tuple)):
        return [t for t in x if isinstance(t, torch.Tensor)]
    return []


def on_op(tr: Tracer, func: Any, args: tuple[Any, ...], kwargs: dict[str, Any], out: Any) -> None:
    """Map one aten op the forward ran."""
    if not any(tr.in_graph(t) for a in (*args, *kwargs.values()) for t in _tensors(a)):
        tr.bind_all(out, Const())
        tr.folded += 1
        return
    handler = HANDLERS.get(func.overloadpacket)
    if handler is None:
        unmapped(tr, func, named(func, args, kwargs), out)
        return
    handler(tr, func, named(func, args, kwargs), out)


def unmapped(tr: Tracer, func: Any, a: dict[str, Any], out: Any) -> None:
    """A ``generic`` op costed by its bytes (first output), or SpecError when strict."""
    ins = [t for v in a.values() for t in _tensors(v) if tr.in_graph(t)]
    outs = _tensors(out)
    if not outs:
        return
    short = func.overloadpacket.__name__
    names = [tr.tensor(t) for t in ins]
    name = tr.b.fallback(str(func), names, tr.ps(outs[0]), tr.where(short, False))
    tr.bind(outs[0], Act(name))
    for o in outs[1:]:
        tr.bind(o, Const())


def _short(func: Any) -> str:
    return str(func.overloadpacket.__name__).rstrip("_")


def _first(out: Any) -> torch.Tensor:
    return out if isinstance(out, torch.Tensor) else out[0]


def _rest_const(tr: Tracer, out: Any) -> None:
    if isinstance(out, (tuple, list)):
        for o in out[1:]:
            tr.bind_all(o, Const())


def _ints(v: Any, n: int) -> tuple[int, ...]:
    if isinstance(v, int):
        return (v,) * n
    v = tuple(int(x) for x in v)
    return v * n if len(v) == 1 and n > 1 else v


# -- convolution and matrix products --------------------------------------------------------------
@handles(aten.convolution, aten._convolution)
def convolution(tr: Tracer, func: Any, a: dict[str, Any], out: Any) -> None:
    x, w, bias = a["input"], a["weight"], a["bias"]
    if not tr.is_param(w):
        return unmapped(tr, func, a, out)
    nd = w.dim() - 2
    transposed = bool(a["transposed"])
    kind = "conv_transpose" if transposed else "conv"
    base = tr.where(kind)
    src, copies = _one_copy(tr, x, nd, base)
    tied = tr.weight(w, base)
    tr.weight(bias, base)
    extra = {"output_padding": _ints(a["output_padding"], nd)} if transposed else {}
    fields = conv_fields(
        w.shape,
        tied,
        transposed,
        stride=_ints(a["stride"], nd),
        padding=_ints(a["padding"], nd),
        dilation=_ints(a["dilation"], nd),
        groups=int(a["groups"]),
        bias=bias is not None,
        **extra,
    )
    if copies > 1:
        fields.update(repeat=copies, shared_weights=True)
    tr.emit_named(kind, [src], [x], out, base, **fields)


def _one_copy(tr: Tracer, x: torch.Tensor, nd: int, base: str) -> tuple[str, int]:
    """The graph tensor of (C, *spatial) input ``x`` of an ``nd``-D conv or pool, and how many
    copies of the op each sample runs: MViT pools (B * heads, C, T, H, W), so per sample the op
    runs once per head (``repeat``), reading one head's (C, T, H, W) each time."""
    name = tr.tensor(x)
    shape = tr.b.shapes[name]
    extra = len(shape) - (nd + 1)
    if extra <= 0:
        return name, 1
    return tr.b.add("view", [name], f"{base}.view", target=shape[extra:]), numel(shape[:extra])


@handles(aten.addmm, aten.mm)
def mm(tr: Tracer, func: Any, a: dict[str, Any], out: Any) -> None:
    x, w = a["mat1"] if "mat1" in a else a["self"], a["mat2"]
    bias = a.get("self") if "mat1" in a else None
    if tr.is_param(w) and not tr.is_param(x) and not tr.batched(w):
        return _linear(tr, x, w, out, bias)
    _matmul(tr, x, w, out, bias)


@handles(aten.bmm, aten.baddbmm)
def bmm(tr: Tracer, func: Any, a: dict[str, Any], out: Any) -> None:
    x, y, add = (
        (a["batch1"], a["batch2"], a["self"]) if "batch1" in a else (a["self"], a["mat2"], None)
    )
    if tr.is_param(y) and not tr.is_param(x) and _broadcast_matrix(y):
        return _linear(tr, x, y, out, add)
    _matmul(tr, x, y, out, add)


def _broadcast_matrix(t: torch.Tensor) -> bool:
    """Whether the leading dims of ``t`` only repeat one matrix (an ``expand``: stride 0)."""
    return all(s == 0 or n == 1 for n, s in zip(t.shape[:-2], t.stride()[:-2]))


def _linear(tr: Tracer, x: torch.Tensor, w: torch.Tensor, out: torch.Tensor, bias: Any) -> None:
    """``x @ w (+ bias)`` with parameter ``w`` a (k, n) matrix, or one expanded over leading
    dims (the same weights, read once per run): a ``linear`` op on ``x``."""
    base = tr.where("linear")
    k, n = int(w.shape[-2]), int(w.shape[-1])
    has_bias = bias is not None and tr.is_param(bias) and bias.numel() == n
    tied = tr.weight(w, base)
    if has_bias:
        tr.weight(bias, base)
    fields: dict[str, Any] = dict(in_features=k, out_features=n, bias=has_bias)
    if tied:
        fields["tied_to"] = tied
    name = tr.emit("linear", [x], out, base, **fields)
    if bias is not None and not has_bias:
        tr.emit_named("elementwise", [name, tr.tensor(bias)], [out, bias], out, f"{base}.add")


def _matmul(tr: Tracer, x: torch.Tensor, y: torch.Tensor, out: torch.Tensor, add: Any) -> None:
    """A product of two tensors (activations, or a parameter used as a matrix): per sample,
    (..., m, k) @ (..., k, n) with the batch dims as ``count``."""
    base = tr.where("matmul")
    ins = [tr.tensor(x), tr.tensor(y)]
    a, b = (tr.b.shapes[n] for n in ins)
    if len(a) < 2 or len(b) < 2 or a[-1] != b[-2]:
        return unmapped(tr, aten.bmm.default, {"self": x, "mat2": y}, out)
    name = tr.emit_named("matmul", ins, [x, y], out, base)
    if isinstance(add, torch.Tensor):
        tr.emit_named("elementwise", [name, tr.tensor(add)], [out, add], out, f"{base}.add")


# -- attention ------------------------------------------------------------------------------------
def attention(tr: Tracer, func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``F.scaled_dot_product_attention``: one attention op when the shapes allow, else let it
    decompose (its matmuls and softmax are then mapped one by one)."""
    names = ("query", "key", "value", "attn_mask", "dropout_p", "is_causal", "scale", "enable_gqa")
    a = dict(zip(names, args))
    a.update(kwargs)
    q, k, v = a["query"], a["key"], a["value"]
    mask = a.get("attn_mask")
    simple = (
        isinstance(q, torch.Tensor)
        and q.dim() == 4
        and k.dim() == 4
        and v.shape[-1] == q.shape[-1]
        and q.shape[1] % k.shape[1] == 0
        and batch_axis(tuple(q.shape), tr.batch)[0] in (0, -1)
        and (mask is None or not tr.in_graph(mask))
    )
    if not simple:
        return func(*args, **kwargs)
    tr.suppress += 1
    try:
        out = func(*args, **kwargs)
    finally:
        tr.suppress -= 1
    h, hk = int(q.shape[1]), int(k.shape[1])
    fields: dict[str, Any] = dict(
        num_heads=h,
        head_dim=int(q.shape[-1]),
        q_len=int(q.shape[-2]),
        kv_len=int(k.shape[-2]),
        causal=bool(a.get("is_causal", False)),
        heads_first=True,
    )
    if hk != h:
        fields["num_kv_heads"] = hk
    tr.emit("attention", [q, k, v], out, tr.where("attention"), **fields)
    return out


@handles(
    aten._scaled_dot_product_flash_attention_for_cpu,
    aten._scaled_dot_product_efficient_attention,
    aten._scaled_dot_product_flash_attention,
    aten._scaled_dot_product_cudnn_attention,
)
def sdpa_kernel(tr: Tracer, func: Any, a: dict[str, Any], out: Any) -> None:
    q, k = a["query"], a["key"]
    fields: dict[str, Any] = dict(
        num_heads=int(q.shape[1]),
        head_dim=int(q.shape[-1]),
        q_len=int(q.shape[-2]),
        kv_len=int(k.shape[-2]),
        causal=bool(a.get("is_causal") or False),
        heads_first=True,
    )
    if k.shape[1] != q.shape[1]:
        fields["num_kv_heads"] = int(k.shape[1])
    tr.emit("attention", [q, k, a["value"]], _first(out), tr.where("attention"), **fields)
    _rest_const(tr, out)


# -- embeddings -----------------------------------------------------------------------------------
@handles(aten.embedding)
def embedding(tr: Tracer, func: Any, a: dict[str, Any], out: Any) -> None:
    w, idx = a["weight"], a["indices"]
    if not tr.is_param(w):
        return unmapped(tr, func, a, out)
    base = tr.where("embedding")
    tied = tr.weight(w, base)
    fields: dict[str, Any] = dict(
        num_embeddings=int(w.shape[0]),
        embedding_dim=int(w.shape[1]),
        lookups=numel(tr.ps(idx)),
    )
    if tied:
        fields["tied_to"] = tied
    tr.emit("embedding", [idx], out, base, **fields)


@handles(aten._embedding_bag, aten._embedding_bag_forward_only)
def embedding_bag(tr: Tracer, func: Any, a: dict[str, Any], out: Any) -> None:
    w, idx, offsets = a["weight"], a["indices"], a["offsets"]
    if not tr.is_param(w):
        return unmapped(tr, func, a, out)
    bags = int(offsets.numel()) - (1 if a["include_last_offset"] else 0)
    weighted = a.get("per_sample_weights") is not None
    mode = "weighted_sum" if weighted else ("sum", "mean", "max")[int(a["mode"])]
    base = tr.where("embedding_bag")
    tied = tr.weight(w, base)
    fields: dict[str, Any] = dict(
        num_embeddings=int(w.shape[0]),
        embedding_dim=int(w.shape[1]),
        pooling_factor=idx.numel() / max(bags, 1),
        mode=mode,
    )
    if tied:
        fields["tied_to"] = tied
    tr.emit("embedding_bag", [idx], _first(out), base, **fields)
    _rest_const(tr, out)


# -- recurrent (from module hooks) ----------------------------------------------------------------
def recurrent_op(tr: Tracer, m: Any, args: tuple[Any, ...], result: Any, kind: str) -> None:
    """One ``lstm`` / ``gru`` op for a whole ``nn.LSTM`` / ``nn.GRU`` call."""
    x = args[0]
    y = result[0]
    base = tr.where(kind)
    for p in m.parameters():
        tr.weight(p, base)
    hx = args[1] if len(args) > 1 else None
    seq = x.shape[1] if m.batch_first and x.dim() == 3 else x.shape[0]
    fields: dict[str, Any] = dict(
        input_size=int(m.input_size),
        hidden_size=int(m.hidden_size),
        seq_len=int(seq),
        num_layers=int(m.num_layers),
        bidirectional=bool(m.bidirectional),
        bias=bool(m.bias),
    )
    if hx is not None:
        fields["carry_state"] = True
    name = tr.emit(kind, [x], y, base, **fields)
    states = _tensors(result[1]) if len(result) > 1 else []
    for s in states:  # final states: a view of the op's output (no bytes of their own)
        tr.bind(s, Act(None, Act(name), ("view", f"{base}.state", {"target": tr.ps(s)})))


# -- pooling and reductions -----------------------------------------------------------------------
@handles(
    aten.max_pool1d,
    aten.max_pool2d,
    aten.max_pool3d,
    aten.max_pool1d_with_indices,
    aten.max_pool2d_with_indices,
    aten.max_pool3d_with_indices,
    aten.avg_pool1d,
    aten.avg_pool2d,
    aten.avg_pool3d,
)
def pool(tr: Tracer, func: Any, a: dict[str, Any], out: Any) -> None:
    x = a["self"]
    nd = x.dim() - 2
    dil = _ints(a.get("dilation") or 1, nd)
    if nd < 1 or any(d != 1 for d in dil):
        return unmapped(tr, func, a, out)
    k = _ints(a["kernel_size"], nd)
    stride = _ints(a["stride"], nd) if a["stride"] else k
    mode = "max" if "max" in _short(func) else "avg"
    base = tr.where(f"{mode}pool")
    src, copies = _one_copy(tr, x, nd, base)
    fields: dict[str, Any] = compact(
        dict(
            mode=mode,
            kernel_size=k,
            stride=stride,
            padding=_ints(a["padding"], nd),
            ceil_mode=bool(a["ceil_mode"]),
        ),
        {"padding": 0, "ceil_mode": False, "stride": k[0] if len(set(k)) == 1 else k},
    )
    if copies > 1:
        fields["repeat"] = copies
    tr.emit_named("pool", [src], [x], _first(out), base, **fields)
    _rest_const(tr, out)


@handles(
    aten._adaptive_avg_pool2d,
    aten._adaptive_avg_pool3d,
    aten.adaptive_avg_pool1d,
    aten.adaptive_max_pool1d,
    aten.adaptive_max_pool2d,
    aten.adaptive_max_pool3d,
)
def adaptive_pool(tr: Tracer, func: Any, a: dict[str, Any], out: Any) -> None:
    x = a["self"]
    mode = "max" if "max" in _short(func) else "avg"
    size = _ints(a["output_size"], x.dim() - 2)
    fields = compact({"mode": mode, "output_size": size}, {"mode": "avg", "output_size": 1})
    tr.emit("adaptive_pool", [x], _first(out), tr.where(f"{mode}pool"), **fields)
    _rest_const(tr, out)


_REDUCE = {
    "sum": "sum",
    "mean": "mean",
    "amax": "max",
    "amin": "min",
    "max": "max",
    "min": "min",
    "prod": "prod",
    "var": "var",
    "std": "std",
    "linalg_vector_norm": "norm",
    "norm": "norm",
    "argmax": "argmax",
    "argmin": "argmin",
    "any": "any",
    "all": "all",
    "logsumexp": "logsumexp",
}


@handles(*(getattr(aten, n) for n in _REDUCE))
def reduce(tr: Tracer, func: Any, a: dict[str, Any], out: Any) -> None:
    x = a["self"]
    if isinstance(a.get("other"), torch.Tensor):  # max.other / min.other: elementwise
        op = "max" if _short(func) == "max" else "min"
        return _elementwise(tr, op, [x, a["other"]], 0, _first(out))
    y = _first(out)
    dims = a.get("dim")
    if isinstance(dims, int):
        dims = [dims]
    if not dims:
        dims = list(range(x.dim()))
    keep = bool(a.get("keepdim") or False)
    sample = [sample_dim(tuple(x.shape), tr.batch, d) for d in dims]
    op = _REDUCE[_short(func)]
    if any(d is None for d in sample):  # reduces over the batch
        return unmapped(tr, func, a, out)
    xs = tr.ps(x)
    rank = len(xs)
    trailing = sorted(d % rank for d in sample if d is not None) == list(
        range(rank - len(sample), rank)
    )
    if op == "mean" and trailing and 2 <= len(sample) <= 3 and len(sample) < rank:
        base = tr.where("avgpool")
        lead = numel(xs[: rank - len(sample)])
        src = tr.b.view_as(tr.tensor(x), (lead, *xs[rank - len(sample) :]), f"{base}.view")
        tr.emit_named("adaptive_pool", [src], [x], y, base, mode="avg")
    else:
        fields: dict[str, Any] = dict(dims=tuple(int(d) for d in sample if d is not None), op=op)
        if keep:
            fields["keepdim"] = True
        tr.emit("reduce", [x], y, tr.where(op), **fields)
    _rest_const(tr, out)


# -- normalization, softmax, activations ----------------------------------------------------------
@handles(
    aten._native_batch_norm_legit_no_training,
    aten._native_batch_norm_legit,
    aten.native_batch_norm,
    aten.batch_norm,
)
def batch_norm(tr: Tracer, func: Any, a: dict[str, Any], out: Any) -> None:
    w = a["weight"]
    base = tr.where("batchnorm")
    tr.weight(w, base)
    tr.weight(a["bias"], base)
    # a weight computed from the parameters (InstanceNorm's, repeated over the batch) holds no
    # parameters of its own: the ops that computed it read them
    fields = {} if tr.is_param(w) else {"affine": False}
    tr.emit("batchnorm", [a["input"]], _first(out), base, **fields)
    _rest_const(tr, out)


@handles(aten.native_layer_norm)
def layer_norm(tr: Tracer, func: Any, a: dict[str, Any], out: Any) -> None:
    w, bias = a["weight"], a["bias"]
    base = tr.where("layernorm")
    tr.weight(w, base)
    tr.weight(bias, base)
    fields: dict[str, Any] = {}
    if len(a["normalized_shape"]) != 1:
        fields["normalized_ndim"] = len(a["normalized_shape"])
    if not tr.is_param(w):  # as batch_norm: a computed weight holds no parameters
        fields["affine"] = False
    elif not tr.is_param(bias):
        fields["bias"] = False
    tr.emit("layernorm", [a["input"]], _first(out), base, **fields)
    _rest_const(tr, out)


@handles(aten.native_group_norm)
def group_norm(tr: Tracer, func: Any, a: dict[str, Any], out: Any) -> None:
    w = a["weight"]
    base = tr.where("groupnorm")
    tr.weight(w, base)
    tr.weight(a["bias"], base)
    fields: dict[str, Any] = {"num_groups": int(a["group"])}
    if not tr.is_param(w):  # as batch_norm: a computed weight holds no parameters
        fields["affine"] = False
    tr.emit("groupnorm", [a["input"]], _first(out), base, **fields)
    _rest_const(tr, out)


@handles(aten._softmax, aten._safe_softmax, aten._log_softmax, aten.softmax, aten.log_softmax)
def softmax(tr: Tracer, func: Any, a: dict[str, Any], out: Any) -> None:
    tr.emit("softmax", [a["self"]], out, tr.where("softmax"))


_ACTIVATIONS = {
    "relu": "relu",
    "gelu": "gelu",
    "sigmoid": "sigmoid",
    "tanh": "tanh",
    "silu": "silu",
    "hardswish": "hardswish",
    "hardsigmoid": "hardsigmoid",
    "leaky_relu": "leaky_relu",
    "elu": "elu",
    "softplus": "softplus",
    "mish": "softplus",
}


@handles(
    *(getattr(aten, n) for n in _ACTIVATIONS),
    *(
        getattr(aten, n + "_")
        for n in (
            "relu",
            "sigmoid",
            "tanh",
            "silu",
            "hardswish",
            "hardsigmoid",
            "leaky_relu",
            "elu",
            "mish",
        )
    ),
)
def activation(tr: Tracer, func: Any, a: dict[str, Any], out: Any) -> None:
    fn = _ACTIVATIONS[_short(func)]
    tr.emit("activation", [a["self"]], out, tr.where(fn), function=fn)


@handles(aten.hardtanh, aten.hardtanh_)
def hardtanh(tr: Tracer, func: Any, a: dict[str, Any], out: Any) -> None:
    if (a["min_val"], a["max_val"]) == (0, 6):
        tr.emit("activation", [a["self"]], out, tr.where("relu6"), function="relu6")
    else:
        tr.emit(
            "elementwise", [a["self"]], out, tr.where("clamp"), op="max", num_inputs=1, scalars=2
        )


# -- elementwise ----------------------------------------------------------------------------------
_BINARY = {
    "add": "add",
    "sub": "sub",
    "rsub": "sub",
    "mul": "mul",
    "div": "div",
    "maximum": "max",
    "minimum": "min",
    "pow": "pow",
    "where": "where",
    "masked_fill": "where",
    "clamp": "max",
    "clamp_min": "max",
    "clamp_max": "min",
    "eq": "compare",
    "ne": "compare",
    "lt": "compare",
    "le": "compare",
    "gt": "compare",
    "ge": "compare",
    "logical_and": "compare",
    "logical_or": "compare",
    "logical_not": "compare",
    "exp": "exp",
    "log": "log",
    "sqrt": "sqrt",
    "rsqrt": "rsqrt",
    "neg": "neg",
    "abs": "abs",
    "reciprocal": "reciprocal",
    "erf": "erf",
}
_INPLACE = [n + "_" for n in _BINARY if hasattr(aten, n + "_")]


@handles(*(getattr(aten, n) for n in (*_BINARY, *_INPLACE)))
def elementwise(tr: Tracer, func: Any, a: dict[str, Any], out: Any) -> None:
    op = _BINARY[_short(func)]
    tensors: list[torch.Tensor] = []
    scalars = 0
    for key, v in a.items():
        if key in ("alpha", "out", "dtype", "memory_format"):
            continue
        if isinstance(v, torch.Tensor):
            if tr.in_graph(v) or v.dim() > 0:
                tensors.append(v)
            else:
                scalars += 1
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            scalars += 1
    if op == "add" and len(tensors) == 2 and not scalars and _linear_bias(tr, tensors, _first(out)):
        return
    _elementwise(tr, op, tensors, scalars, _first(out))


def _linear_bias(tr: Tracer, tensors: list[torch.Tensor], y: torch.Tensor) -> bool:
    """``F.linear`` on a 3-D input runs a matmul, then adds the bias: fold the add into the
    linear (``nn.Linear``'s bias, as a 2-D input gives with ``addmm``). The matmul's result may
    be a pending reshape of the linear's (a strided input): it is written here, as the add
    would write it."""
    for x, b in (tensors, tensors[::-1]):
        v = tr.value(x)
        if isinstance(v, Act) and (v.tensor or v.step) and tr.is_param(b) and b.dim() == 1:
            owner = tr.b.add_bias(tr.realize(v), int(b.numel()))
            if owner:
                tr.weight(b, owner)
                tr.bind(y, v)
                return True
    return False


def _elementwise(
    tr: Tracer, op: str, tensors: list[torch.Tensor], scalars: int, y: torch.Tensor
) -> None:
    target = tr.ps(y)
    names = [_aligned(tr, t, y, len(target)) for t in tensors]
    fields: dict[str, Any] = {"op": op}
    if broadcast_shapes(*(tr.b.shapes[n] for n in names)) != target:
        fields["shape"] = target
    if scalars:
        fields["scalars"] = scalars
    tr.emit_named("elementwise", names, tensors, y, tr.where(op, False), **fields)


def _aligned(tr: Tracer, t: torch.Tensor, y: torch.Tensor, rank: int) -> str:
    """The graph tensor of operand ``t`` of an op writing ``y``, viewed so that it broadcasts
    to ``y``'s per-sample shape (an operand without the batch loses its size-1 batch slot)."""
    name = tr.tensor(t)
    if tr.batched(t) or not tr.batched(y):
        return name
    i, k = batch_axis(tuple(y.shape), tr.batch)
    full = (1,) * (y.dim() - t.dim()) + tuple(int(d) for d in t.shape)
    if k == 1 and full[i] == 1:
        want = full[:i] + full[i + 1 :]
        while len(want) > max(rank, 1) and want[0] == 1:
            want = want[1:]
        return tr.b.view_as(name, want or (1,), tr.where("view", False))
    return name


# -- tensor manipulation --------------------------------------------------------------------------
@handles(aten.cat, aten.stack, aten.concat)
def cat(tr: Tracer, func: Any, a: dict[str, Any], out: Any) -> None:
    xs = [t for t in a["tensors"] if isinstance(t, torch.Tensor) and t.numel() > 0]
    d = sample_dim(tuple(out.shape), tr.batch, int(a["dim"]) % out.dim())
    if d is None:
        return unmapped(tr, func, a, out)
    base = tr.where("cat", False)
    target = tr.ps(out)
    names = []
    for t in xs:
        want = list(target)
        if _short(func) == "stack":
            want[d] = 1
        else:
            want[d] = int(t.shape[int(a["dim"]) % t.dim()])
        names.append(tr.b.view_as(tr.tensor(t), tuple(want), f"{base}.view"))
    tr.emit_named("concat", names, xs, out, base, dim=d)


@handles(aten.clone, aten._to_copy, aten.roll, aten.flip, aten.lift_fresh_copy)
def copy(tr: Tracer, func: Any, a: dict[str, Any], out: Any) -> None:
    tr.emit("copy", [a["self"]], out, tr.where("copy", False))


@handles(aten.repeat)
def repeat(tr: Tracer, func: Any, a: dict[str, Any], out: Any) -> None:
    """``Tensor.repeat``: a copy that writes its output (the input seen as the output's shape,
    a zero-cost view, then copied)."""
    base = tr.where("repeat", False)
    src = tr.b.view_as(tr.tensor(a["self"]), tr.ps(out), f"{base}.view")
    tr.emit_named("copy", [src], [a["self"]], out, base)


@handles(aten.copy_)
def copy_(tr: Tracer, func: Any, a: dict[str, Any], out: Any) -> None:
    src = a["src"]
    if not tr.in_graph(src):
        tr.bind(out, Const())
        return
    if tuple(src.shape) != tuple(out.shape):
        return unmapped(tr, func, a, out)
    tr.emit("copy", [src], out, tr.where("copy", False))


@handles(
    aten.zero_,
    aten.fill_,
    aten.zeros_like,
    aten.ones_like,
    aten.empty_like,
    aten.full_like,
    aten.new_zeros,
    aten.new_ones,
    aten.new_empty,
    aten.new_full,
)
def constant(tr: Tracer, func: Any, a: dict[str, Any], out: Any) -> None:
    tr.bind_all(out, Const())


@handles(aten.constant_pad_nd)
def pad(tr: Tracer, func: Any, a: dict[str, Any], out: Any) -> None:
    padding = tuple(int(p) for p in a["pad"])
    i, _ = batch_axis(tuple(a["self"].shape), tr.batch)
    if i >= 0 and a["self"].dim() - 1 - i < len(padding) // 2:
        return unmapped(tr, func, a, out)
    tr.emit("pad", [a["self"]], out, tr.where("pad", False), padding=padding)


@handles(aten.index, aten.index_select, aten.gather, aten.take, aten._unsafe_index)
def gather(tr: Tracer, func: Any, a: dict[str, Any], out: Any) -> None:
    src = a["self"]
    idx = [t for k in ("indices", "index") for t in _tensors(a.get(k))]
    n_idx = sum(numel(tr.ps(t)) if tr.batched(t) else t.numel() for t in idx)
    ins = [src] + [t for t in idx if tr.in_graph(t)]
    tr.emit(
        "gather",
        ins[:1],
        out,
        tr.where("gather", False),
        output_shape=tr.ps(out),
        index_elements=int(n_idx),
    )


@handles(aten.upsample_nearest2d, aten.upsample_bilinear2d, aten.upsample_nearest3d)
def interpolate(tr: Tracer, func: Any, a: dict[str, Any], out: Any) -> None:
    x: torch.Tensor = a["input"] if "input" in a else a["self"]
    ratios = {o / i for o, i in zip(out.shape[2:], x.shape[2:])}
    if len(ratios) != 1 or not float(next(iter(ratios))).is_integer():
        return unmapped(tr, func, a, out)
    mode = "bilinear" if "bilinear" in _short(func) else "nearest"
    scale = int(next(iter(ratios)))
    tr.emit("interpolate", [x], out, tr.where("interpolate"), scale_factor=scale, mode=mode)


# -- views ----------------------------------------------------------------------------------------
_VIEWS = (
    "view",
    "_unsafe_view",
    "_reshape_alias",
    "reshape",
    "unsqueeze",
    "squeeze",
    "flatten",
    "unflatten",
    "permute",
    "transpose",
    "t",
    "expand",
    "expand_as",
    "slice",
    "select",
    "narrow",
    "as_strided",
    "diagonal",
    "unfold",
    "alias",
    "detach",
    "view_as_real",
    "view_as_complex",
    "lift_fresh",
    "movedim",
    "swapaxes",
    "split",
    "split_with_sizes",
    "unsafe_split",
    "chunk",
    "unbind",
    "tensor_split",
    "as_strided_",
    "squeeze_",
    "unsqueeze_",
    "t_",
    "transpose_",
)


@handles(*(getattr(aten, n) for n in _VIEWS if hasattr(aten, n)))
def view(tr: Tracer, func: Any, a: dict[str, Any], out: Any) -> None:
    x = a["self"]
    v = tr.value(x)
    outs = _tensors(out)
    if not isinstance(v, Act):  # a view of a parameter or constant is that parameter or constant
        for o in outs:
            tr.bind(o, v)
        return
    short = _short(func)
    start = 0
    for o in outs:
        step = _view_step(tr, short, a, x, o, start)
        if step is None:
            tr.bind(o, v)
        else:
            tr.bind(o, Act(None, v, step))
        if short in ("split", "split_with_sizes", "unsafe_split", "chunk", "tensor_split"):
            start += int(o.shape[int(a.get("dim") or 0) % x.dim()])


def _view_step(
    tr: Tracer, short: str, a: dict[str, Any], x: torch.Tensor, o: torch.Tensor, start: int
) -> tuple[str, str, dict[str, Any]] | None:
    """The view op that takes ``x`` to ``o`` per sample; None when they look the same."""
    have, want = tr.ps(x), tr.ps(o)
    base = tr.where(short, False)
    xs = tuple(x.shape)
    if short in ("permute", "transpose", "t", "movedim", "swapaxes") and len(have) == len(want):
        perm = _permutation(short, a, x.dim())
        dims = _sample_perm(xs, tr.batch, perm)
        if dims is not None and tuple(have[d] for d in dims) == want:
            if dims == tuple(range(len(have))):
                return None
            return ("permute", base, {"dims": dims})
    if have == want:
        return None
    if numel(have) == numel(want):
        return ("reshape", base, {"target": want})
    if short in ("slice", "narrow", "split", "split_with_sizes", "unsafe_split", "chunk"):
        dim = int(a.get("dim") or 0) % x.dim()
        d = sample_dim(xs, tr.batch, dim)
        if d is not None:
            if short == "slice":
                lo, hi, step = slice(a["start"], a["end"], a["step"]).indices(x.shape[dim])
            elif short == "narrow":
                lo, hi, step = int(a["start"]) % x.shape[dim], 0, 1
                hi = lo + int(a["length"])
            else:
                lo, hi, step = start, start + int(o.shape[dim]), 1
            fields: dict[str, Any] = {"dim": d, "start": lo, "stop": hi}
            if step != 1:
                fields["step"] = step
            return ("slice", base, fields)
    if short in ("expand", "expand_as") and broadcast_shapes(have, want) == want:
        return ("expand", base, {"target": want})
    return ("view", base, {"target": want})


def _permutation(short: str, a: dict[str, Any], rank: int) -> tuple[int, ...]:
    if short == "permute":
        return tuple(int(d) % rank for d in a["dims"])
    order = list(range(rank))
    if short == "t":
        return tuple(reversed(order)) if rank == 2 else tuple(order)
    if short == "movedim":
        src, dst = a["source"], a["destination"]
        src = [src] if isinstance(src, int) else list(src)
        dst = [dst] if isinstance(dst, int) else list(dst)
        rest = [d for d in order if d not in [s % rank for s in src]]
        out = [0] * rank
        for s, d in zip(src, dst):
            out[d % rank] = s % rank
        it = iter(rest)
        placed = {d % rank for d in dst}
        return tuple(out[i] if i in placed else next(it) for i in range(rank))
    d0: int = a["dim0"] if "dim0" in a else a["axis0"]
    d1: int = a["dim1"] if "dim1" in a else a["axis1"]
    i, j = int(d0) % rank, int(d1) % rank
    order[i], order[j] = order[j], order[i]
    return tuple(order)


def _sample_perm(
    shape: tuple[int, ...], batch: int, perm: tuple[int, ...]
) -> tuple[int, ...] | None:
    """The per-sample permutation of a torch permutation of ``shape``."""
    i, k = batch_axis(shape, batch)
    if i < 0 or k > 1:
        return perm
    return tuple(p - (p > i) for p in perm if p != i)
