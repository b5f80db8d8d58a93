"""The state of one ONNX import: shapes and values of the tensors, the spec being built.

:class:`OnnxGraph` is shared by :mod:`roofline.importers.onnx_import` and the node handlers of
:mod:`roofline.importers.onnx_ops`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import onnx

from roofline.importers.builder import SpecBuilder
from roofline.importers.values import Shape, batch_axis, per_sample


@dataclass
class OnnxGraph:
    """State of one import: shapes and values of the ONNX tensors, the spec being built."""

    b: SpecBuilder
    batch: int
    shapes: dict[str, tuple[int, ...]]
    inits: dict[str, Any]  # name -> TensorProto (weights) or a numpy array (small values)
    acts: dict[str, str] = field(default_factory=dict)  # ONNX name -> graph tensor
    params: dict[str, str] = field(default_factory=dict)  # initializer -> parameter op
    users: dict[str, str] = field(default_factory=dict)  # weight initializer -> first op
    used: set[str] = field(default_factory=set)
    alias: dict[str, str] = field(default_factory=dict)  # Identity outputs -> their input
    consumers: dict[str, int] = field(default_factory=dict)
    producers: dict[str, Any] = field(default_factory=dict)  # tensor -> the node writing it
    derived: dict[str, str] = field(default_factory=dict)  # a weight transposed, reshaped...
    #: weights laid out from several initializers (Slice / Concat), written only if an op
    #: reads them as a tensor: output -> the node, and -> the initializers it is made of
    deferred: dict[str, Any] = field(default_factory=dict)
    composed: dict[str, tuple[str, ...]] = field(default_factory=dict)
    #: maps a deferred node (set by the importer: :func:`onnx_ops.map_node` without deferring)
    replay: Callable[[OnnxGraph, Any], None] | None = None

    def name(self, x: str) -> str:
        while x in self.alias:
            x = self.alias[x]
        return x

    def origin(self, x: str) -> str:
        """The initializer a (possibly transposed or reshaped) weight ``x`` comes from."""
        x = self.name(x)
        while x in self.derived:
            x = self.name(self.derived[x])
        return x

    def ps(self, x: str) -> Shape:
        return per_sample(self.shapes[self.name(x)], self.batch)

    def batched(self, x: str) -> bool:
        return batch_axis(self.shapes.get(self.name(x), ()), self.batch)[0] >= 0

    def sources(self, x: str | None) -> tuple[str, ...]:
        """The initializers a weight ``x`` is laid out from: its origin, or those of a weight
        composed by Slice / Concat nodes; () for anything else."""
        if not x:
            return ()
        x = self.origin(x)
        if x in self.composed:
            return self.composed[x]
        return (x,) if x in self.inits else ()

    def is_param(self, x: str) -> bool:
        """A float initializer of more than one element that is not a folded constant (or a
        weight composed of such)."""
        x = self.origin(x)
        if x in self.composed:
            return all(self.is_param(s) for s in self.composed[x])
        init = self.inits.get(x)
        if init is None or self._folded(x):
            return False
        return _is_float(init) and _numel(init) > 1

    def is_folded(self, x: str) -> bool:
        """Whether ``x`` is (laid out from) a constant the exporter folded, named ``onnx::...``
        or ``/...``, that no op has read as its weight."""
        return any(self._folded(s) for s in self.sources(x))

    def _folded(self, s: str) -> bool:
        """Whether initializer ``s`` is named as a constant the exporter folded (``onnx::...`` or
        ``/...``) and no op has read it as its weight."""
        return s.startswith(("onnx::", "/")) and s not in self.users

    def is_weight(self, x: str | None) -> bool:
        """A float initializer (read as the weight or bias of a layer), or a view of one, or a
        weight composed of such."""
        srcs = self.sources(x)
        return bool(srcs) and all(_is_float(self.inits[s]) for s in srcs)

    def is_act(self, x: str) -> bool:
        return self.name(x) in self.acts

    def in_graph(self, x: str) -> bool:
        return bool(x) and (self.is_act(x) or self.is_param(x))

    def value(self, x: str) -> Any:
        """The numpy value of a small constant, or None."""
        v = self.inits.get(self.name(x))
        return v if v is not None and not isinstance(v, onnx.TensorProto) else None

    def weight(self, x: str | None, owner: str) -> str | None:
        """Record initializer ``x`` as a weight of op ``owner``; return the op that already
        holds it (tied weights), else None."""
        if not x or not self.is_weight(x):
            return None
        srcs = self.sources(x)
        firsts = [self.users.get(s) for s in srcs]
        for s in srcs:
            self.used.add(s)
            self.users.setdefault(s, owner)
        return firsts[0] if all(firsts) else None

    def tensor(self, x: str, base: str) -> str:
        """The graph tensor for ONNX tensor ``x`` (parameters and constants written at first
        use), with ``x``'s per-sample shape."""
        x = self.name(x)
        if x in self.acts:
            return self.acts[x]
        node = self.deferred.get(x)
        if node is not None and self.replay is not None:
            for out in node.output:
                self.deferred.pop(out, None)
            self.replay(self, node)
            if x in self.acts:
                return self.acts[x]
        if self.is_param(x):
            src = self.origin(x)
            name = self.params.get(src)
            if name is None:
                name = self.b.add("parameter", [], src, shape=self.shapes[src] or (1,))
                self.params[src] = name
                self.used.add(src)
            return self.b.view_as(name, self.ps(x), f"{base}.view")
        name = self.b.add("constant", [], f"{base}.constant", shape=self.ps(x))
        self.acts[x] = name
        return name

    def emit(self, kind: str, ins: list[str], out: str, base: str, **fields: Any) -> str:
        """Add an op reading ONNX tensors ``ins`` whose result is ONNX tensor ``out``."""
        names = [self.tensor(x, base) for x in ins]
        return self.emit_named(kind, names, ins, out, base, **fields)

    def emit_named(
        self, kind: str, names: list[str], ins: list[str], out: str, base: str, **fields: Any
    ) -> str:
        """:meth:`emit` with the graph tensors it reads already chosen (views of ``ins``); an
        op on parameters and constants alone runs once per run (``per_run``)."""
        once = not any(self.batched(x) for x in ins) and not self.batched(out)
        if self.batch > 1 and ins and once:
            fields["per_run"] = True
        name = self.b.add_as(kind, names, self.ps(out), base, **fields)
        self.acts[out] = name
        return name

    def view(self, x: str, out: str, base: str) -> None:
        """``out`` is a view of ``x`` (no cost)."""
        self.acts[out] = self.b.view_as(self.tensor(x, base), self.ps(out), base)


def _numel(t: Any) -> int:
    n = 1
    for d in t.dims if isinstance(t, onnx.TensorProto) else t.shape:
        n *= int(d)
    return n


def has_data(t: onnx.TensorProto) -> bool:
    return bool(
        t.raw_data
        or t.float_data
        or t.int32_data
        or t.int64_data
        or t.double_data
        or t.uint64_data
        or t.string_data
        or not _numel(t)
    )


def _is_float(t: Any) -> bool:
    if isinstance(t, onnx.TensorProto):
        return t.data_type in (
            onnx.TensorProto.FLOAT,
            onnx.TensorProto.FLOAT16,
            onnx.TensorProto.BFLOAT16,
            onnx.TensorProto.DOUBLE,
        )
    return t.dtype.kind == "f"
