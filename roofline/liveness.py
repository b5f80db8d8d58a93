"""Activation liveness: the activation elements alive at each step of a graph.

A tensor is alive from the step that produces it (graph inputs: step 0) through the last step that
reads it, so a skip connection keeps its tensor alive across the branch. A view (reshape, permute,
slice...) holds no elements of its own: reading it keeps its source alive. Parameters and
constants are weights, not activations. The live set of a step
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


def _owners(graph: Graph) -> tuple[dict[str, str], set[str]]:
    """(view output -> the tensor whose memory it is, outputs of ops that read nothing): a view
    holds no elements of its own but keeps its source alive; a parameter or constant is a weight,
    not an activation."""
    owner: dict[str, str] = {}
    weights: set[str] = set()
    for node in graph.nodes:
        if node.op.aliases_input and node.inputs:
            owner[node.output] = owner.get(node.inputs[0], node.inputs[0])
        elif not node.op.reads_inputs:
            weights.add(node.output)
    return owner, weights


def live_elements_of(graph: Graph, sizes: Mapping[str, float]) -> np.ndarray:
    """Elements alive at each op [ops] when each tensor of ``graph`` has the given size (per
    sample): a device's share of a split graph, for instance."""
    groups = fusion_groups(graph)
    n = len(groups)
    owner, weights = _owners(graph)
    birth = {k: 0 for k in graph.inputs}
    death = dict(birth)
    for g, members in enumerate(groups):
        inner = {graph.nodes[i].output for i in members[:-1]}
        for i in members:
            for t in graph.nodes[i].inputs:
                if t not in inner:
                    death[owner.get(t, t)] = g
        out = graph.nodes[members[-1]].output
        birth[out] = g
        death[out] = max(death.get(out, g), g)
    diff = np.zeros(n + 1)
    for t, b in birth.items():
        size = 0.0 if t in owner or t in weights else sizes[t]
        diff[b] += size
        diff[death[t] + 1] -= size
    per_group = np.cumsum(diff)[:n]
    live = np.empty(len(graph.nodes))
    for g, members in enumerate(groups):
        live[members] = per_group[g]
    live.flags.writeable = False
    return live
