"""Epilogue fusion: fold pointwise ops into the op that produces their input.

Inference engines (TensorRT, XLA, oneDNN, FBGEMM's output pipeline) fold batch norm into the
preceding convolution and run activations and residual adds in the GEMM epilogue, so the
intermediate tensor never goes to memory and no extra kernel is launched. :func:`fusion_groups`
finds such chains in a graph: a pointwise op (batch norm, activation, elementwise) joins the group
of the op right before it when it reads that op's output and nothing else reads that output.
A fused group moves the group's first input(s), any extra inputs of the fused ops (the residual of
an add) and the last output; FLOPs and parameters are summed; it launches once. Ops repeated
``n`` times (a transformer's layers) fuse with a producer repeated ``n`` times: layer by layer.

Counting (``count``, Table 1) stays unfused, layer by layer as the paper counts; evaluation fuses by
default (``fuse=False`` models an eager framework that runs every op as its own kernel).
"""

from __future__ import annotations

from collections import Counter

from roofline.graph import Graph


def fusion_groups(graph: Graph) -> list[list[int]]:
    """Return op indices grouped into fused kernels, in execution order."""
    uses = Counter(t for n in graph.nodes for t in n.inputs)
    groups: list[list[int]] = []
    for i, node in enumerate(graph.nodes):
        if groups and node.op.epilogue:
            prev = graph.nodes[groups[-1][-1]]
            same = node.op.repeat == prev.op.repeat and not prev.op.side_by_side
            if same and node.inputs and prev.output in node.inputs and uses[prev.output] == 1:
                groups[-1].append(i)
                continue
        groups.append([i])
    return groups
