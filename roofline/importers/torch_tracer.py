"""The state of one trace: the spec being built and what each traced tensor stands for.

:class:`Tracer` is shared by the dispatch modes of :mod:`roofline.importers.torch_trace` and the
aten-op handlers of :mod:`roofline.importers.torch_ops`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from roofline.importers.builder import SpecBuilder
from roofline.importers.values import Act, Const, Param, Shape, batch_axis, per_sample
from roofline.ops.base import numel


class Tracer:
    """State of one trace: the spec being built and what each tensor is."""

    def __init__(self, builder: SpecBuilder, batch: int) -> None:
        self.b = builder
        self.batch = batch
        self.values: dict[int, tuple[torch.Tensor, Any]] = {}
        self.realized: dict[int, tuple[torch.Tensor, str]] = {}
        self.stack: list[tuple[str, bool]] = [("", False)]
        self.suppress = 0
        self.param_ops: dict[str, str] = {}
        self.weight_users: dict[tuple[str, int, int], str] = {}
        self.used: set[str] = set()
        self.full_params: dict[str, torch.Tensor] = {}
        self.folded = 0
        self.failed_at: str | None = None

    # -- values --------------------------------------------------------------------------------
    def value(self, t: torch.Tensor) -> Any:
        """What ``t`` is (:class:`Act`, :class:`Param` or :class:`Const`)."""
        entry = self.values.get(id(t))
        if entry is not None and entry[0] is t:
            return entry[1]
        return Const()

    def bind(self, t: Any, v: Any) -> None:
        """Record that torch tensor ``t`` is ``v`` (no-op for non-tensors)."""
        if isinstance(t, torch.Tensor):
            self.values[id(t)] = (t, v)
            self.realized.pop(id(t), None)

    def bind_all(self, out: Any, v: Any) -> None:
        """Bind every tensor in ``out`` (a tensor or a sequence) to ``v``."""
        if isinstance(out, torch.Tensor):
            self.bind(out, v)
        elif isinstance(out, (tuple, list)):
            for o in out:
                self.bind_all(o, v)

    def ps(self, t: torch.Tensor) -> Shape:
        """Per-sample shape of ``t``."""
        return per_sample(tuple(t.shape), self.batch)

    def batched(self, t: torch.Tensor) -> bool:
        """Whether ``t`` carries the batch."""
        return batch_axis(tuple(t.shape), self.batch)[0] >= 0

    def in_graph(self, t: Any) -> bool:
        """Whether ``t`` is an activation or a parameter (not a constant)."""
        return isinstance(t, torch.Tensor) and isinstance(self.value(t), (Act, Param))

    # -- names ---------------------------------------------------------------------------------
    def where(self, short: str, main: bool = True) -> str:
        """Name base of an op: the module path for the main op of a leaf module, else
        ``path.short``."""
        path, leaf = self.stack[-1]
        if main and leaf and path:
            return path
        return f"{path}.{short}" if path else short

    # -- graph tensors -------------------------------------------------------------------------
    def tensor(self, t: torch.Tensor) -> str:
        """The graph tensor holding ``t`` (views, parameters and constants written as needed),
        with ``t``'s per-sample shape."""
        hit = self.realized.get(id(t))
        if hit is not None and hit[0] is t:
            return hit[1]
        v = self.value(t)
        if isinstance(v, Act):
            name = self.realize(v)
        elif isinstance(v, Param):
            name = self.param_tensor(v, t)
        else:
            name = self.b.add(
                "constant", [], v.name or self.where("constant", False), shape=self.ps(t)
            )
        name = self.b.view_as(name, self.ps(t), self.where("view", False))
        self.realized[id(t)] = (t, name)
        return name

    def realize(self, a: Act) -> str:
        """Write the pending views of ``a``; return its graph tensor."""
        if a.tensor is None:
            assert a.parent is not None and a.step is not None
            base = self.realize(a.parent)
            kind, where, fields = a.step
            a.tensor = self.b.add(kind, [base], where, **fields)
        return a.tensor

    def param_tensor(self, p: Param, t: torch.Tensor) -> str:
        """The ``parameter`` op of ``p`` (written at its first use as a tensor)."""
        name = self.param_ops.get(p.name)
        if name is None:
            full = self.full_params[p.name]
            name = self.b.add("parameter", [], p.name, shape=tuple(full.shape) or (1,))
            self.param_ops[p.name] = name
            self.used.add(p.name)
        return name

    # -- ops -----------------------------------------------------------------------------------
    def emit(
        self,
        kind: str,
        inputs: Sequence[torch.Tensor],
        out: torch.Tensor,
        base: str,
        **fields: Any,
    ) -> str:
        """Add an op reading ``inputs`` whose result is torch tensor ``out``; bind ``out``."""
        names = [self.tensor(x) for x in inputs]
        return self.emit_named(kind, names, inputs, out, base, **fields)

    def emit_named(
        self,
        kind: str,
        names: list[str],
        inputs: Sequence[torch.Tensor],
        out: torch.Tensor,
        base: str,
        **fields: Any,
    ) -> str:
        """:meth:`emit` with the input graph tensors already chosen."""
        once = not any(self.batched(x) for x in inputs) and not self.batched(out)
        if self.batch > 1 and inputs and once:
            fields["per_run"] = True
        name = self.b.add_as(kind, names, self.ps(out), base, **fields)
        self.bind(out, Act(name))
        return name

    def weight(self, w: torch.Tensor | None, owner: str) -> str | None:
        """Record parameter ``w`` as a weight of op ``owner``; return the op that already holds
        these weights (tied weights), else None. A non-parameter ``w`` gives None too; a view of
        a parameter expanded over some dims holds the elements of one copy."""
        if w is None:
            return None
        v = self.value(w)
        if not isinstance(v, Param):
            return None
        self.used.add(v.name)
        elems = numel(tuple(int(n) for n, s in zip(w.shape, w.stride()) if s != 0))
        key = (v.name, int(w.storage_offset()), elems)
        first = self.weight_users.get(key)
        if first is None:
            self.weight_users[key] = owner
        return first

    def is_param(self, t: Any) -> bool:
        return isinstance(t, torch.Tensor) and isinstance(self.value(t), Param)
