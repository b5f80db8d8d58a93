"""The fast counter equals the op-by-op reference for every registered op kind, and counts ops that
are not affine in batch exactly.

The fast counter (``count_graph``) evaluates each op at B = 0, 1, 2 and extends intercept + slope x
B; the reference (``count_graph_reference``) counts each op at the requested batches directly. For
random valid ops of every kind (``tests/op_strategies.py``), random repeats, batches and dtypes,
every count column must agree.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from op_strategies import OP_STRATEGIES

from roofline.counting import coefficients, count_graph
from roofline.graph import Graph, Node
from roofline.ops import REGISTRY
from roofline.ops.base import Counts, Gemm, Op, Shape
from roofline.testing.reference import count_graph_reference

DTYPES = ["fp32", "fp16", "bf16", "int8", "w4a16"]
batches = st.lists(st.integers(1, 4096), min_size=1, max_size=4)


def _graph(op: Op) -> Graph:
    """A one-op graph reading a graph input (its shape only matters for liveness)."""
    return Graph("one", {"x": (3, 5)}, (Node(op, ("x",)),))


def _assert_same(fast: Any, ref: Any) -> None:
    for name, want in ref.columns.items():
        np.testing.assert_allclose(fast.columns[name], want, rtol=1e-12, atol=0, err_msg=name)
    np.testing.assert_allclose(fast.flops_matrix.sum(), ref.flops_matrix.sum(), rtol=1e-12)


def test_every_registered_op_has_a_strategy():
    assert set(OP_STRATEGIES) == set(REGISTRY), "add a strategy for each new op kind"


@pytest.mark.parametrize("kind", sorted(REGISTRY))
@settings(max_examples=25, deadline=None)
@given(data=st.data(), batch=batches, dtype=st.sampled_from(DTYPES), rep=st.integers(1, 4))
def test_fast_counter_equals_reference(kind: str, data: st.DataObject, batch, dtype, rep) -> None:
    fields = data.draw(OP_STRATEGIES[kind])
    op = REGISTRY[kind].model_validate({**fields, "kind": kind, "name": "op", "repeat": rep})
    graph = _graph(op)
    _assert_same(count_graph(graph, batch, dtype), count_graph_reference(graph, batch, dtype))


class _Experts(Op):
    """A mixture-of-experts weight read: the distinct experts a batch of B tokens touches under
    uniform top-k routing, E (1 - (1 - k/E)^B), each of ``size`` elements (concave in B)."""

    kind: Literal["test_experts"] = "test_experts"
    experts: int = 8
    top_k: int = 2
    size: int = 1000
    declared: ClassVar[bool] = True

    def counts(self, batch: Any) -> Counts:
        touched = self.experts * (1.0 - (1.0 - self.top_k / self.experts) ** batch)
        return Counts(
            weight=float(self.experts * self.size),
            weight_read=touched * self.size,
            act_in=batch * 16.0,
            act_out=batch * 16.0,
            gemms=(Gemm(batch * self.top_k, 16, 16),),
        )

    @property
    def out_shape(self) -> Shape:
        return (16,)


class _DeclaredExperts(_Experts):
    affine_in_batch = False


@pytest.mark.parametrize("cls", [_Experts, _DeclaredExperts])
def test_non_affine_op_is_counted_exactly(cls: type[_Experts]) -> None:
    """Declared (affine_in_batch = False) or found by the B = 2 check: exact at every batch."""
    graph = _graph(cls(name="moe"))
    assert coefficients(graph).exact.all()
    batch = [1, 3, 64, 1000]
    ct = count_graph(graph, batch, "fp16")
    _assert_same(ct, count_graph_reference(graph, batch, "fp16"))
    touched = 8 * (1 - (1 - 2 / 8) ** np.array(batch, dtype=float))
    np.testing.assert_allclose(ct.weight_read_bytes[0], touched * 1000 * 2, rtol=1e-12)
    np.testing.assert_allclose(ct.flops_matrix[0], 2 * np.array(batch) * 2 * 16 * 16)


def test_affine_op_with_a_constant_term_is_exact() -> None:
    """A batch-independent activation term (read once per run) is an intercept, not a slope."""

    class Constant(_Experts):
        def counts(self, batch: Any) -> Counts:
            return Counts(act_in=batch * 4.0 + 100.0, act_out=batch * 4.0)

    graph = _graph(Constant(name="c"))
    assert not coefficients(graph).exact.any()
    ct = count_graph(graph, [1, 10], "fp32")
    np.testing.assert_allclose(ct.act_in_elems[0], [104.0, 140.0])
