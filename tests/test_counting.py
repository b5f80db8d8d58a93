"""The fast affine counting equals the straightforward per-op reference on every shipped model.

``count_graph`` evaluates each op once (declared batched GEMM dims, proportional element counts)
or twice, then extends to any batch as intercept + slope x batch; ``count_graph_reference`` calls
``derive_cost`` with the batch array directly. They must agree at unrelated batch sizes, which is
what would break if an op's counts were not affine, or not proportional where declared.

Count tables fused into kernels (``fuse_table``) have the same bits whether their columns are
stacked into one array or reduced one by one, and joined ones (``join_columns``) those of each
field's columns concatenated.
"""

from __future__ import annotations

from functools import reduce

import numpy as np
import pytest
from table_bits import assert_same_bits

import roofline as rl
from roofline import fusion
from roofline.counting import count_graph
from roofline.fusion import fuse_table
from roofline.graph import Graph
from roofline.graph_builder import GraphBuilder
from roofline.records import BATCHED, CostTable, join_columns
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


def _chain() -> Graph:
    """A linear layer and ten activations (one fused group of eleven ops: group_reduce's
    reduceat branch), then another linear layer."""
    b = GraphBuilder("chain")
    x = b.linear(b.input("x", (4, 16)), 8)
    for _ in range(10):
        x = b.act(x, "gelu")
    b.linear(x, 3)
    return b.build()


@pytest.mark.parametrize("name", ["llama2_7b", "resnet50", "chain"])
def test_fused_tables_have_the_same_bits_stacked_or_column_by_column(name, monkeypatch):
    """fuse_table stacks the columns it sums to reduce them in one pass while the stack is small
    (fusion.STACK_BYTES) and of one dtype, and reduces them one by one otherwise: the same bits
    either way, -0.0 and NaN included; each summed column of a kernel is its ops' added left to
    right (reduceat's order for a group of 8 ops or more)."""
    graph = _chain() if name == "chain" else rl.load_model(name).graph
    ct = _odd(count_graph(graph, [1, 3, 77], "fp16"))

    def fused(stack_bytes: int, table: CostTable = ct) -> CostTable:
        monkeypatch.setattr(fusion, "STACK_BYTES", stack_bytes)
        return fuse_table(table, graph)

    stacked = fused(1 << 40)
    assert_same_bits(stacked, fused(0))
    groups = fusion.fusion_groups(graph)
    long = max(map(len, groups)) >= 8
    assert long == (name == "chain")
    first = [m[0] for m in groups]
    for f in fusion.SUMMED:
        if f in ("act_in_elems", "act_in_bytes"):  # less the elements kept inside the group
            continue
        col = getattr(ct, f)
        if long:
            want = np.add.reduceat(col, first, axis=0)
        else:
            want = np.array([reduce(np.add, [col[i] for i in m]) for m in groups])
        assert getattr(stacked, f).tobytes() == want.tobytes(), f
    # a column of another dtype keeps it (a stack would cast it)
    single = ct.with_columns(kv_bytes=ct.kv_bytes.astype(np.float32))
    assert fused(1 << 40, single).kv_bytes.dtype == np.float32
    assert_same_bits(fused(1 << 40, single), fused(0, single))


@pytest.mark.parametrize("name", ["llama2_7b", "resnet50"])
def test_joined_tables_are_the_columns_concatenated(name):
    """join_columns copies every field's columns into one array (its fields' rows one under
    another): the bits of each field's columns concatenated, -0.0 and NaN included; a field of
    another dtype keeps its own; per-op counts that differ only in a zero's sign are not the
    same ops."""
    graph = rl.load_model(name).graph
    ct = _odd(count_graph(graph, [1, 3, 77], "fp16"))
    other = count_graph(graph, [5, 2], "fp16")
    singles = [t.with_columns(kv_bytes=t.kv_bytes.astype(np.float32)) for t in (ct, other)]
    cases = [(ct, other), (ct, ct), (singles[0], other), tuple(singles)]
    for a, b in cases:
        joint = join_columns(a, b)
        assert joint is not None
        for f in (*BATCHED, "live_act_bytes", "gemm_m", "gemm_n", "gemm_k", "gemm_count"):
            got, want = getattr(joint, f), np.concatenate([getattr(a, f), getattr(b, f)], axis=-1)
            assert got.dtype == want.dtype and got.tobytes() == want.tobytes(), f
            assert not got.flags.writeable, f
        assert joint.batch.tolist() == [*a.batch, *b.batch]
    signed = ct.with_columns(weight_bytes=np.where(ct.weight_bytes == 0.0, -0.0, ct.weight_bytes))
    assert (ct.weight_bytes == 0.0).any() and join_columns(ct, signed) is None


def _odd(ct: CostTable) -> CostTable:
    """``ct`` with a -0.0 and a NaN among its counts and its live bytes negated."""
    odd = ct.act_in_elems.copy()
    odd[0, 0], odd[-1, 1] = -0.0, np.nan
    return ct.with_columns(act_in_elems=odd, live_act_bytes=-ct.live_act_bytes)
