"""What an importer knows about each tensor, and the per-sample view of traced shapes.

Every tensor the traced forward touches is one of:

* :class:`Act`, an activation: a tensor of the graph (named), or a view of one not yet written to
  the spec (``parent`` + ``step``: views are emitted only when an op reads them, so the views a
  model takes and drops cost nothing in the spec either);
* :class:`Param`, a parameter or a view of one (a weight an op owns, or a bare learnable tensor);
* :class:`Const`, anything else: a buffer, a tensor made by a factory (``zeros``, ``arange``) or
  computed from constants only (attention masks, index tables; folded, as an inference compiler
  folds them).

**Per-sample shapes.** The tracer runs the model at a batch of :data:`TRACE_BATCH` (a prime no
layer size is a multiple of), so in every tensor the first dim divisible by it carries the batch:
``(B, C, H, W)`` is (C, H, W) per sample, ``(B * heads, L, d)`` is (heads, L, d), an LSTM's
``(T, B, H)`` is (T, H). A tensor with no such dim does not depend on the batch (parameters,
constants and what is computed from them alone): its per-sample shape is its whole shape, and an
op that reads only such tensors runs once per run (``per_run``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: the batch the forward is traced at: prime, and larger than any layer size one would meet
TRACE_BATCH = 9973

Shape = tuple[int, ...]


@dataclass(eq=False)
class Act:
    """An activation: graph tensor ``tensor``, or ``step`` applied to ``parent`` once needed."""

    tensor: str | None
    parent: Act | None = None
    step: tuple[str, str, dict[str, Any]] | None = None  # (kind, name base, fields)


@dataclass(eq=False)
class Param:
    """A parameter (``name``: its path in the module) or a view of one."""

    name: str


@dataclass(eq=False)
class Const:
    """A constant tensor; ``name`` is its buffer path when it is a module buffer."""

    name: str = ""


def batch_axis(shape: tuple[int, ...], batch: int) -> tuple[int, int]:
    """Return (dim, factor): the first dim of ``shape`` that is a multiple of ``batch`` and how
    many samples' worth it holds per sample; (-1, 0) for a tensor that does not carry the batch."""
    if batch > 1:
        for i, d in enumerate(shape):
            if d >= batch and d % batch == 0:
                return i, d // batch
    return -1, 0


def per_sample(shape: tuple[int, ...], batch: int) -> Shape:
    """Per-sample shape of a traced tensor (a scalar per sample is ``(1,)``)."""
    i, k = batch_axis(shape, batch)
    if i < 0:
        out = tuple(int(d) for d in shape)
    elif k == 1:
        out = tuple(int(d) for d in shape[:i] + shape[i + 1 :])
    else:
        out = tuple(int(d) for d in shape[:i]) + (k,) + tuple(int(d) for d in shape[i + 1 :])
    return out or (1,)


def sample_dim(shape: tuple[int, ...], batch: int, dim: int) -> int | None:
    """The per-sample dim that torch dim ``dim`` of ``shape`` becomes (None: the batch dim)."""
    dim %= max(len(shape), 1)
    i, k = batch_axis(shape, batch)
    if i < 0 or k > 1:
        return dim if (i < 0 or dim != i) else None
    if dim == i:
        return None
    return dim - 1 if dim > i else dim
