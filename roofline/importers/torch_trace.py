"""``from_torch``: trace a ``torch.nn.Module`` on the meta device into a ``layers`` spec.

Why a dispatch mode. The tracer is a ``TorchDispatchMode``, the mechanism of torch's own FLOP
counter (``torch.utils.flop_counter``): it sees every aten op the forward runs, after autograd
and the Python-level decompositions, with real shapes, for any Python control flow. ``torch.fx``
symbolic tracing fails on data-dependent Python (torchvision's own models need wrappers), and
``torch.export`` takes seconds per model and mostly gives the same aten ops. On meta tensors no
weight is allocated and nothing is computed, so the 829M-parameter ResNeXt costs nothing.

Two higher-level hooks sit beside it: module forward hooks give op names (``layer1.0.conv1``)
and let a whole ``nn.LSTM`` / ``nn.GRU`` become one recurrent op (on meta they decompose into
per-step GEMMs); a ``TorchFunctionMode`` catches ``F.scaled_dot_product_attention`` called by
the model's code, before it decomposes, and makes it one ``attention`` op (causal, GQA).
Attention reached only inside another torch function (``nn.MultiheadAttention``) stays
decomposed into its two batched matmuls and a softmax, counted exactly all the same.

The forward runs at batch :data:`~roofline.importers.values.TRACE_BATCH`; how per-sample
shapes follow from it is in :mod:`roofline.importers.values`. Mapping of aten ops:
:mod:`roofline.importers.torch_ops`.
"""

from __future__ import annotations

import inspect
import math
import sys
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode

from roofline.errors import SpecError
from roofline.importers.builder import SpecBuilder, warn_unmapped
from roofline.importers.torch_ops import attention, on_op, recurrent_op
from roofline.importers.torch_tracer import Tracer
from roofline.importers.values import (
    TRACE_BATCH,
    Act,
    Const,
    Param,
)
from roofline.model import build_model

_RECURRENT = {nn.LSTM: "lstm", nn.GRU: "gru"}


_aten = torch.ops.aten
#: in-place pointwise ops: on meta tensors they only return their first argument
_IN_PLACE = {
    getattr(_aten, n)
    for n in (
        "relu_",
        "hardtanh_",
        "hardswish_",
        "hardsigmoid_",
        "silu_",
        "sigmoid_",
        "tanh_",
        "gelu_",
        "leaky_relu_",
        "elu_",
        "add_",
        "sub_",
        "mul_",
        "div_",
        "clamp_",
        "clamp_min_",
        "clamp_max_",
    )
    if hasattr(_aten, n)
}
_BATCH_NORM = {
    _aten._native_batch_norm_legit_no_training,
    _aten._native_batch_norm_legit,
    _aten.native_batch_norm,
}


def _shapes_only(func: Any, args: Any, kwargs: Any) -> Any:
    """The op's result where its shape is plain (the meta kernels of batch norm and in-place
    pointwise ops are slow decompositions that compute nothing); None otherwise."""
    packet = func.overloadpacket
    if packet in _IN_PLACE and not kwargs and args[0].dim() >= _dims(args[1:]):
        return args[0]
    if packet in _BATCH_NORM and not kwargs and args[1] is not None:
        x, c = args[0], args[1].shape[0]
        stats = torch.empty((c,), dtype=torch.float32, device=x.device)
        return (torch.empty_like(x), stats, torch.empty_like(stats))
    return None


def _dims(args: Any) -> int:
    return max((a.dim() for a in args if isinstance(a, torch.Tensor)), default=0)


class _Dispatch(TorchDispatchMode):
    def __init__(self, tracer: Tracer) -> None:
        super().__init__()
        self.tracer = tracer

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        kwargs = kwargs or {}
        out = _shapes_only(func, args, kwargs) if args else None
        if out is None:
            try:
                out = func(*args, **kwargs)
            except Exception:
                tr = self.tracer
                if tr.failed_at is None:
                    tr.failed_at = f"{func} in {tr.stack[-1][0] or 'the top level'}"
                raise
        tr = self.tracer
        if tr.suppress:
            return out
        on_op(tr, func, args, kwargs, out)
        return out


class _Functions(TorchFunctionMode):
    """Catch ``F.scaled_dot_product_attention`` before it decomposes."""

    def __init__(self, tracer: Tracer) -> None:
        super().__init__()
        self.tracer = tracer

    def __torch_function__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        kwargs = kwargs or {}
        if func is torch.nn.functional.scaled_dot_product_attention and not self.tracer.suppress:
            return attention(self.tracer, func, args, kwargs)
        return func(*args, **kwargs)


def _meta_inputs(
    inputs: Sequence[Any], batch_dim: int | None, broadcast: bool = False
) -> tuple[list[Any], int, list[int]]:
    """Meta tensors for the example inputs, with the batch scaled to TRACE_BATCH; the batch
    traced at (1: no batch axis); and the positions of the inputs read as broadcast.

    The example's batch is the greatest common divisor of the inputs' sizes at ``batch_dim``:
    an EmbeddingBag's indices (B * pooling) and offsets (B) both scale with it. With
    ``broadcast``, an input of size 1 there beside inputs of larger sizes is shared by every
    sample (a position table, ``position_ids`` of shape (1, T)): it keeps its size, and the batch
    is the divisor of the others.
    """
    specs: list[tuple[list[int], Any] | None] = []
    for x in inputs:
        if isinstance(x, torch.Tensor):
            specs.append((list(x.shape), x.dtype))
        elif isinstance(x, (tuple, list, torch.Size)) and all(isinstance(d, int) for d in x):
            specs.append((list(x), torch.float32))
        else:
            specs.append(None)
    sizes = {
        i: s[0][batch_dim]
        for i, s in enumerate(specs)
        if s is not None and batch_dim is not None and len(s[0]) > batch_dim
    }
    shared = [i for i, n in sizes.items() if n == 1] if broadcast else []
    if len(shared) == len(sizes):
        shared = []
    b0 = math.gcd(*(n for i, n in sizes.items() if i not in shared)) if sizes else 0
    out: list[Any] = []
    for i, (x, s) in enumerate(zip(inputs, specs)):
        if s is None:
            out.append(x)
            continue
        shape, dtype = s
        if b0 and i in sizes and i not in shared:
            shape[batch_dim] = shape[batch_dim] // b0 * TRACE_BATCH  # type: ignore[index]
        out.append(torch.empty(shape, dtype=dtype, device="meta"))
    return out, (TRACE_BATCH if b0 else 1), shared


def _mixed(inputs: Sequence[Any], batch_dim: int | None) -> bool:
    """Whether some example inputs have size 1 at ``batch_dim`` and others a larger size."""
    _, _, shared = _meta_inputs(inputs, batch_dim, broadcast=True)
    return bool(shared)


def _tensors_in(value: Any) -> list[torch.Tensor]:
    """The tensors of a forward's result (a tensor, or tuples, lists and dicts of them)."""
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, (tuple, list)):
        return [t for v in value for t in _tensors_in(v)]
    return []


def _meta_param(p: torch.Tensor) -> torch.Tensor:
    """``p`` itself when it is a meta tensor that requires grad (as a module built on meta has
    them), else a meta tensor like it that does (for a float ``p``).

    Why requires grad: aten's ``matmul`` of a strided 3-D input by a 2-D weight folds into one
    ``mm`` only when the weight requires grad; otherwise it expands the weight over the batch
    into a ``bmm``. The trace, and so every count, must not depend on the device of the user's
    weights or on whether they are frozen.
    """
    trainable = p.dtype.is_floating_point or p.dtype.is_complex
    if p.device.type == "meta" and (p.requires_grad or not trainable):
        return p
    return torch.empty_like(p, device="meta").requires_grad_(trainable)


def _input_names(module: nn.Module, n: int) -> list[str]:
    try:
        params = [
            p.name
            for p in inspect.signature(module.forward).parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
    except (TypeError, ValueError):
        params = []
    return [params[i] if i < len(params) else f"input{i}" for i in range(n)]


def from_torch(
    module: nn.Module,
    *example_inputs: Any,
    name: str | None = None,
    strict: bool = False,
    batch_dim: int | None = 0,
) -> Any:
    """Return the :class:`~roofline.presets.Model` of a torch module, traced on the meta device.

    Parameters
    ----------
    module : torch.nn.Module
        The model; its weights may live anywhere and be frozen or not (they are replaced by
        meta tensors that require grad for the trace, the module is not changed).
    *example_inputs : tensor or shape
        The forward's positional inputs, as tensors (only their shape and dtype are used) or
        shapes (``(1, 3, 224, 224)``: a float32 tensor). Where they cannot all carry the batch
        because an input of size 1 at ``batch_dim`` broadcasts against larger ones (``(4, 16)``
        token ids with ``(1, 16)`` position ids), the size-1 inputs are shared by every sample.
    name : str, optional
        The model's name (default: the module's class name, lower case).
    strict : bool
        An aten op with no mapping is a SpecError (default: a ``generic`` op costed by its
        bytes, listed in an :class:`~roofline.importers.UnmappedOpWarning`).
    batch_dim : int or None
        The inputs' batch dim (default 0); None: the inputs are one sample, with no batch dim.

    Raises
    ------
    SpecError
        The module fails to trace (the message names the module and the op), or, with
        ``strict``, an op has no mapping.
    """
    if not isinstance(module, nn.Module):
        raise SpecError(
            f"from_torch needs a torch.nn.Module, not {type(module).__name__}",
            fix="pass the model object (e.g. torchvision.models.resnet50())",
        )
    label = type(module).__name__
    model_name = name or label.lower()
    origin = f"module {label}"
    # Read first with every input carrying the batch (the gcd of their sizes); where that
    # reading cannot run because an input of size 1 broadcasts against the batched ones, read
    # such inputs as shared by the samples. That reading must give a result that carries the
    # batch, so an input that scales with the batch is never taken as shared.
    readings = (False, True) if _mixed(example_inputs, batch_dim) else (False,)
    first: SpecError | None = None
    for broadcast in readings:
        builder = SpecBuilder(model_name, origin, strict)
        try:
            tracer, batch, shared = _trace(module, example_inputs, batch_dim, broadcast, builder)
            break
        except SpecError as exc:
            if first is None:
                first = exc
    else:
        assert first is not None
        raise first
    spec = builder.spec(
        description=f"{label} imported from PyTorch by roofline.from_torch",
        source=f"torch module {type(module).__module__}.{label}, traced on the meta device",
        notes=_notes(tracer, example_inputs, batch, shared),
    )
    model = build_model(spec)
    warn_unmapped(model, builder.unmapped, origin)
    return model


def _trace(
    module: nn.Module,
    example_inputs: Sequence[Any],
    batch_dim: int | None,
    broadcast: bool,
    builder: SpecBuilder,
) -> tuple[Tracer, int, list[str]]:
    """Trace the forward into ``builder``; return the tracer, the batch traced at and the names
    of the inputs read as shared by the samples (:func:`_meta_inputs`)."""
    inputs, batch, positions = _meta_inputs(example_inputs, batch_dim, broadcast)
    tracer = Tracer(builder, batch)
    shared: list[str] = []
    for i, (arg_name, x) in enumerate(zip(_input_names(module, len(inputs)), inputs)):
        if isinstance(x, torch.Tensor):
            graph_input = builder.input(arg_name, tracer.ps(x))
            tracer.bind(x, Act(graph_input))
            if i in positions:
                shared.append(graph_input)
    params = dict(module.named_parameters(remove_duplicate=False))
    buffers = dict(module.named_buffers(remove_duplicate=False))
    meta: dict[str, torch.Tensor] = {}
    by_id: dict[int, torch.Tensor] = {}
    for pname, p in params.items():
        if id(p) not in by_id:
            by_id[id(p)] = _meta_param(p)
            tracer.bind(by_id[id(p)], Param(pname))
        meta[pname] = by_id[id(p)]
    tracer.full_params = {v.name: t for t, v in tracer.values.values() if isinstance(v, Param)}
    for bname, buf in buffers.items():
        if id(buf) not in by_id:
            by_id[id(buf)] = (
                buf if buf.device.type == "meta" else torch.empty_like(buf, device="meta")
            )
            tracer.bind(by_id[id(buf)], Const(bname))
        meta[bname] = by_id[id(buf)]
    on_meta = all(t is params.get(k, buffers.get(k)) for k, t in meta.items())
    out = _run(module, tracer, inputs, meta, on_meta, builder.origin)
    if shared and not any(tracer.batched(t) for t in _tensors_in(out)):
        raise SpecError(
            "no output carries the batch when the inputs of size 1 are read as shared",
            file=builder.origin,
        )
    del out
    _unused(tracer, module)
    return tracer, batch, shared


def _run(
    module: nn.Module,
    tracer: Tracer,
    inputs: list[Any],
    meta: dict[str, torch.Tensor],
    on_meta: bool,
    origin: str,
) -> Any:
    """Run the forward under the tracer, hooks in place; restore the module's modes after."""
    names = {id(m): (path, next(m.children(), None) is None) for path, m in module.named_modules()}
    training = {m: m.training for m in module.modules()}
    whole: list[tuple[nn.Module, Any]] = []  # recurrent modules counted as one op, innermost last

    def pre(m: nn.Module, args: Any) -> None:
        entry = names.get(id(m))
        if entry is None:
            return
        tracer.stack.append(entry)
        whole_op = type(m) in _RECURRENT and not getattr(m, "proj_size", 0)
        if whole_op and args and isinstance(args[0], torch.Tensor) and tracer.in_graph(args[0]):
            whole.append((m, args))
            tracer.suppress += 1

    def post(m: nn.Module, args: Any, result: Any) -> None:
        if id(m) not in names:
            return
        if tracer.failed_at is None and sys.exc_info()[0] is not None:
            tracer.failed_at = f"module {tracer.stack[-1][0] or 'the top level'}"
        if whole and whole[-1][0] is m:
            tracer.suppress -= 1
            _, call = whole.pop()
            if not tracer.suppress:
                recurrent_op(tracer, m, call, result, _RECURRENT[type(m)])
        tracer.stack.pop()

    hooks = [
        nn.modules.module.register_module_forward_pre_hook(pre),
        nn.modules.module.register_module_forward_hook(post, always_call=True),
    ]
    module.eval()
    try:
        with torch.no_grad(), _Functions(tracer), _Dispatch(tracer):
            if on_meta:
                return module(*inputs)
            return torch.func.functional_call(module, meta, tuple(inputs))
    except SpecError:
        raise
    except Exception as exc:  # noqa: BLE001 - any failure of user code becomes one line
        where = tracer.failed_at or f"module {tracer.stack[-1][0] or 'the top level'}"
        # the batch the forward ran at means nothing to the user: show it as B
        text = " ".join(str(exc).split())[:300].replace(str(TRACE_BATCH), "B")
        raise SpecError(
            f"tracing failed at {where}: {type(exc).__name__}: {text}",
            file=origin,
            fix="check the example inputs' shapes; the forward must run on meta tensors",
        ) from None
    finally:
        for h in hooks:
            h.remove()
        for m, mode in training.items():
            m.training = mode


def _unused(tracer: Tracer, module: nn.Module) -> None:
    """Add a ``parameter`` op (``used: false``) for each parameter the forward never read."""
    for pname, t in tracer.full_params.items():
        if pname not in tracer.used:
            tracer.b.add("parameter", [], pname, shape=tuple(t.shape) or (1,), used=False)


def _notes(tracer: Tracer, example_inputs: Sequence[Any], batch: int, shared: list[str]) -> str:
    shapes = [list(x.shape) if isinstance(x, torch.Tensor) else x for x in example_inputs]
    unused = sorted(set(tracer.full_params) - tracer.used)
    text = f"Example inputs {shapes}; per-sample shapes as written (batch traced at {batch})."
    if shared:
        text += f" Shared by every sample (size 1 beside batched inputs): {', '.join(shared)}."
    if unused:
        n = sum(tracer.full_params[p].numel() for p in unused)
        text += f" {len(unused)} parameters ({n:,} elements) never run in the forward: " + (
            ", ".join(unused[:8]) + (", ..." if len(unused) > 8 else "")
        )
    return text
