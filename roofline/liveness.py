"""Activation liveness: the activation elements alive at each step of a graph.

A tensor is alive from the step that produces it (graph inputs: step 0) through the last step that
reads it, so a skip connection keeps its tensor alive across the branch. The live set of a step
includes the op's inputs and its output. An op with ``repeat = n`` stands for n identical ops in a
row; its live set is that of one copy.

Liveness follows the graph as an inference engine runs it: pointwise epilogues (batch norm,
activations, residual adds) are fused into their producer (:mod:`roofline.fusion`), so only each
fused kernel's output is materialized, and every op of a kernel gets the kernel's live set.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from roofline.fusion import fusion_groups
from roofline.graph import Graph


def live_elements(graph: Graph) -> np.ndarray:
    """Per-sample activation elements alive at each op of ``graph`` [ops] (cached)."""
    return graph.derived("live_elements", _live_elements)


def _live_elements(graph: Graph) -> np.ndarray:
    return live_elements_of(graph, graph.tensor_sizes())


def live_elements_of(graph: Graph, sizes: Mapping[str, float]) -> np.ndarray:
    """Elements alive at each op [ops] when each tensor of ``graph`` has the given size (per
    sample): a device's share of a split graph, for instance."""
    groups = fusion_groups(graph)
    n = len(groups)
    birth = {k: 0 for k in graph.inputs}
    death = dict(birth)
    for g, members in enumerate(groups):
        inner = {graph.nodes[i].output for i in members[:-1]}
        for i in members:
            for t in graph.nodes[i].inputs:
                if t not in inner:
                    death[t] = g
        out = graph.nodes[members[-1]].output
        birth[out] = g
        death[out] = max(death.get(out, g), g)
    diff = np.zeros(n + 1)
    for t, b in birth.items():
        diff[b] += sizes[t]
        diff[death[t] + 1] -= sizes[t]
    per_group = np.cumsum(diff)[:n]
    live = np.empty(len(graph.nodes))
    for g, members in enumerate(groups):
        live[members] = per_group[g]
    live.flags.writeable = False
    return live
