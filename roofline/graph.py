"""Graphs: ops in execution order wired by named tensors.

A :class:`Graph` is what a family builder (:class:`~roofline.graph_builder.GraphBuilder`) produces.
Tensors are per-sample (the batch is a separate leading dimension applied at count time). What is
derived from a graph (liveness, fusion groups, count coefficients) is computed once by the modules
that own it and kept in the graph's private cache, so the graph itself stays immutable.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from roofline.frozen import FrozenDict
from roofline.ops import Op
from roofline.ops.base import Shape, numel

T = TypeVar("T")


@dataclass(frozen=True)
class Node:
    """One op in a graph: what it reads and the tensor (named after the op) it writes."""

    op: Op
    inputs: tuple[str, ...]
    output: str = ""

    def __post_init__(self) -> None:
        if not self.output:
            object.__setattr__(self, "output", self.op.name)


@dataclass(frozen=True, eq=False)
class Graph:
    """Ops in execution order plus the per-sample shapes of the graph inputs."""

    name: str
    inputs: dict[str, Shape]
    nodes: tuple[Node, ...]
    _derived: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.inputs, FrozenDict):
            object.__setattr__(self, "inputs", FrozenDict(self.inputs))

    def derived(self, key: str, compute: Callable[[Graph], T]) -> T:
        """Return ``compute(self)``, computed once per graph and cached under ``key``."""
        if key not in self._derived:
            self._derived[key] = compute(self)
        value: T = self._derived[key]
        return value

    @property
    def ops(self) -> tuple[Op, ...]:
        """The ops in execution order."""
        return self.derived("ops", lambda g: tuple(n.op for n in g.nodes))

    def tensor_sizes(self) -> dict[str, int]:
        """Per-sample elements of every tensor (graph inputs and op outputs)."""
        return self.derived("sizes", _tensor_sizes)


def _tensor_sizes(graph: Graph) -> dict[str, int]:
    sizes = {k: numel(v) for k, v in graph.inputs.items()}
    for n in graph.nodes:
        # repeated embedding tables are side by side: all their outputs are alive at once
        copies = n.op.concurrent_copies
        sizes[n.output] = numel(n.op.out_shape) * copies
    return sizes
