"""The fast affine counting equals the straightforward per-op reference on every shipped model.

``count_graph`` evaluates each op once (declared batched GEMM dims, proportional element counts)
or twice, then extends to any batch as intercept + slope x batch; ``count_graph_reference`` calls
``derive_cost`` with the batch array directly. They must agree at unrelated batch sizes, which is
what would break if an op's counts were not affine, or not proportional where declared.
"""

from __future__ import annotations

import numpy as np
import pytest

import roofline as rl
from roofline.counting import count_graph
from roofline.testing.reference import count_graph_reference

GEMM = ("gemm_m", "gemm_n", "gemm_k", "gemm_count")


@pytest.mark.parametrize("name", rl.list_models())
def test_fast_counting_equals_reference(name):
    graph = rl.load_model(name).graph
    for dtype in ("fp32", "int8", "w4a16"):
        fast = count_graph(graph, [1, 3, 77], dtype)
        ref = count_graph_reference(graph, [1, 3, 77], dtype)
        for col, want in ref.columns.items():
            np.testing.assert_allclose(fast.columns[col], want, rtol=1e-12, err_msg=col)
        for col in GEMM:
            np.testing.assert_allclose(getattr(fast, col), getattr(ref, col), rtol=1e-12)
        np.testing.assert_array_equal(fast.gemm_op, ref.gemm_op)


def test_undeclared_gemm_dims_fall_back_to_two_evaluations():
    # an op whose GEMM does not name its batched dim is counted at B = 0 and B = 1
    from roofline.ops.base import Counts, Gemm, Op

    class Probe(Op):
        kind: str = "probe"

        def counts(self, batch):
            return Counts(weight=10.0, act_in=batch * 3 + 5, gemms=(Gemm(batch * 2, 4, 8),))

        @property
        def out_shape(self):
            return (3,)

    from roofline.graph import Graph, Node

    g = Graph("probe", {"x": (3,)}, (Node(Probe(name="p"), ("x",)),))
    ct = count_graph(g, [1, 4], "fp32")
    np.testing.assert_allclose(ct.act_in_elems[0], [8, 17])  # 3B + 5, intercept kept
    np.testing.assert_allclose(ct.flops_matrix[0], [2 * 2 * 4 * 8, 2 * 8 * 4 * 8])
