"""Recommendation family (DLRM, DLRM-DCNv2): parameters by formula from the published
configurations, embedding and FC arithmetic intensity against Park et al. 2018's Table 1."""

from __future__ import annotations

import numpy as np
import pytest

from roofline.counting import count_graph
from roofline.presets import load_model

BATCHES = [1, 10, 100, 1000]

# facebookresearch/dlrm dlrm_s_pytorch.py, --max-ind-range=40000000 (MLPerf DLRM v1) ln_emb
CRITEO_1TB_40M_ROWS = [
    39884406,
    39043,
    17289,
    7420,
    20263,
    3,
    7120,
    1543,
    63,
    38532951,
    2953546,
    403346,
    10,
    2208,
    11938,
    155,
    4,
    976,
    14,
    39979771,
    25641295,
    39664984,
    585935,
    12972,
    108,
    36,
]
# MLPerf DLRMv2 (torchrec_dlrm): --num_embeddings_per_feature and --multi_hot_sizes
DLRMV2_ROWS = [
    40000000,
    39060,
    17295,
    7424,
    20265,
    3,
    7122,
    1543,
    63,
    40000000,
    3067956,
    405282,
    10,
    2209,
    11938,
    155,
    4,
    976,
    14,
    40000000,
    40000000,
    40000000,
    590152,
    12973,
    108,
    36,
]
DLRMV2_HOTNESS = [3, 2, 1, 2, 6, 1, 1, 1, 1, 7, 3, 8, 1, 6, 9, 5, 1, 1, 1, 12, 100, 27, 10, 3, 1, 1]
# harvard-acc/DeepRecSys models/configs/dlrm_rm{1,2,3}.json: (mlp_bot, mlp_top, tables, rows,
# sparse feature size, indices per lookup)
DEEPRECSYS = {
    "dlrm_rm1": ("128-64-32", "256-64-1", 8, 4_000_000, 32, 80),
    "dlrm_rm2": ("256-128-64", "128-64-1", 32, 500_000, 64, 120),
    "dlrm_rm3": ("2560-1024-256-32", "512-256-1", 10, 2_000_000, 32, 20),
}


def _mlp_params(sizes: list[int]) -> int:
    """Linear weights + biases of an MLP whose layer widths are ``sizes`` (input first)."""
    return sum(a * b + b for a, b in zip(sizes, sizes[1:]))


def _costs(model, batch=BATCHES):
    return count_graph(model.graph, batch, "fp32")


def _params(name: str) -> float:
    return float(_costs(load_model(name), 1).columns["weight_elems"].sum())


def test_mlperf_dlrm_params():
    rows = CRITEO_1TB_40M_ROWS
    top_in = 128 + 27 * 26 // 2  # dense vector + pairwise dots of 27 features (dlrm_s: 479)
    expected = (
        sum(rows) * 128
        + _mlp_params([13, 512, 256, 128])
        + _mlp_params([top_in, 1024, 1024, 512, 256, 1])
    )
    assert expected == 24_036_595_969
    assert _params("dlrm_mlperf") == expected
    model = load_model("dlrm_mlperf")
    ops = {o.name: o for o in model.graph.ops}
    assert ops["top_l.0"].in_features == 479
    assert [o.num_embeddings for o in model.graph.ops if o.kind == "embedding_bag"] == rows


def test_dlrm_dcn_params_and_cross():
    n, rank = 27 * 128, 512
    cross = 3 * (2 * n * rank + n)  # torchrec LowRankCrossNet: V, W and bias per layer
    expected = (
        sum(DLRMV2_ROWS) * 128
        + _mlp_params([13, 512, 256, 128])
        + cross
        + _mlp_params([n, 1024, 1024, 512, 256, 1])
    )
    assert _params("dlrm_dcn") == expected == 26_151_671_809
    model = load_model("dlrm_dcn")
    bags = [o for o in model.graph.ops if o.kind == "embedding_bag"]
    assert [o.pooling_factor for o in bags] == DLRMV2_HOTNESS
    t = _costs(model)
    cross_rows = [i for i, name in enumerate(t.names) if name.startswith("inter_arch.crossnet")]
    np.testing.assert_allclose(
        t.columns["flops_matrix"][cross_rows].sum(0), np.asarray(BATCHES) * 3 * 2 * 2 * n * rank
    )
    lookups = t.columns["gather_rows"][[t.kinds[i] == "embedding_bag" for i in range(len(t.kinds))]]
    np.testing.assert_allclose(lookups.sum(0), np.asarray(BATCHES) * sum(DLRMV2_HOTNESS))


@pytest.mark.parametrize("name", sorted(DEEPRECSYS))
def test_deeprecsys_params(name):
    bot, top, tables, rows, dim, lookups = DEEPRECSYS[name]
    bot_sizes = [int(s) for s in bot.split("-")]
    top_sizes = [(tables + 1) * dim] + [int(s) for s in top.split("-")]  # cat interaction
    expected = tables * rows * dim + _mlp_params(bot_sizes) + _mlp_params(top_sizes)
    assert _params(name) == expected
    model = load_model(name)
    (bag,) = [o for o in model.graph.ops if o.kind == "embedding_bag"]
    assert (bag.repeat, bag.num_embeddings, bag.embedding_dim) == (tables, rows, dim)
    assert bag.pooling_factor == lookups


@pytest.mark.parametrize("name", ["rec_paper", "dlrm_rm1", "dlrm_mlperf", "dlrm_dcn"])
def test_embedding_intensity(name):
    # Park et al. 2018 Table 1: embeddings run at 1-2 ops per fetched element (sum pooling: 1)
    t = _costs(load_model(name))
    bags = [i for i, k in enumerate(t.kinds) if k == "embedding_bag"]
    fetched = t.columns["gather_rows"][bags] * t.columns["gather_row_bytes"][bags, None] / 4
    per_elem = t.columns["flops_vector"][bags] / fetched
    np.testing.assert_allclose(per_elem, 1.0)
    assert np.all(t.columns["flops_matrix"][bags] == 0)


def test_weighted_sum_pooling_is_two_ops_per_element():
    model = load_model("dlrm_rm1")
    tables = [{**model.params.tables[0].model_dump(), "mode": "weighted_sum"}]
    t = _costs(model.with_params(tables=tables), 1)
    (i,) = [i for i, k in enumerate(t.kinds) if k == "embedding_bag"]
    fetched = 8 * 80 * 32  # tables x lookups x dim
    assert t.columns["flops_vector"][i, 0] / fetched == 2


def test_rec_paper_matches_park_ranges():
    model = load_model("rec_paper")
    t = _costs(model)
    c = t.columns
    table = c["is_table"]
    # Table 1: > 10 billion embedding parameters, FCs of 1-10M parameters
    assert c["weight_elems"][table].sum() > 10e9
    fc = [i for i, k in enumerate(t.kinds) if k == "linear"]
    assert 1e6 <= c["weight_elems"][fc].sum() <= 10e6
    # FC FLOPs per weight = 2 x candidates x w / (w + bias): 20-200 at 10-100 candidates
    w = np.array([model.graph.ops[i].in_features * model.graph.ops[i].out_features for i in fc])
    per_weight = c["flops_matrix"][fc].sum(0) / c["weight_elems"][fc].sum()
    np.testing.assert_allclose(
        per_weight, 2 * np.asarray(BATCHES) * w.sum() / c["weight_elems"][fc].sum()
    )
    assert np.all((per_weight[1:3] > 19) & (per_weight[1:3] <= 200))
    # pooling factors of tens
    assert all(10 <= g.pooling_factor <= 100 for g in model.params.tables)


def test_dot_interaction_counts():
    model = load_model("dlrm_mlperf")
    t = _costs(model)
    i = list(t.names).index("interact")
    f, d = 27, 128
    np.testing.assert_allclose(t.columns["flops_matrix"][i], np.asarray(BATCHES) * 2 * f * f * d)
    np.testing.assert_allclose(t.columns["act_out_elems"][i], np.asarray(BATCHES) * (d + 351))


def test_identical_tables_are_one_op():
    model = load_model("dlrm_rm2")
    assert len(model.graph.ops) < 15
    assert [o.name for o in model.graph.ops if o.kind == "embedding_bag"] == ["emb_l.0-31"]


def test_dlrm_validation():
    model = load_model("dlrm_rm1")
    bad = [{**model.params.tables[0].model_dump(), "dim": 16}]
    with pytest.raises(ValueError, match=r"table dims \[16\] must all equal the bottom MLP output"):
        model.with_params(tables=bad)
    with pytest.raises(ValueError, match="cross_layers=2 needs interaction='cat'"):
        load_model("dlrm_mlperf").with_params(cross_layers=2)
    full = model.with_params(cross_layers=1)  # a full-rank cross layer: N x N + bias
    n = 9 * 32
    assert _costs(full, 1).columns["weight_elems"].sum() - _params("dlrm_rm1") == n * n + n
