"""Table 1 of Park et al. 2018: the recomputed cells against formulas and the paper's figures.

Expected values are the independent checks of docs/paper_notes.md (a copy of the project notes
shared/paper.md) Section 2 (written here as formulas), or the paper's reconstructed figures
themselves; the comparison rules are tested on made-up cells.
"""

from __future__ import annotations

import csv
import io
import json
import math

import pytest

import roofline as rl
from roofline.errors import SpecError
from roofline.paper.data import METRICS, ROWS, PaperRow, cell
from roofline.paper.table1 import compute_row, judge, render, table1


@pytest.fixture(scope="module")
def t1():
    return table1()


def cells(table):
    return {(r["row"], r["metric"]): r for r in table}


# -- structure ----------------------------------------------------------------------------------


def test_every_paper_row_has_every_metric_and_a_latency_line(t1):
    got = cells(t1)
    for row in ROWS:
        for metric, _ in METRICS:
            assert (row.key, metric) in got
        assert got[(row.key, "latency")]["verdict"] == "n/a"
    assert len(t1) == len(ROWS) * (len(METRICS) + 1)


def test_api_export_is_the_same_function():
    assert rl.table1 is table1


def test_every_disagreement_is_explained(t1):
    for r in t1:
        assert r["verdict"] in ("agree", "DISAGREE", "n/a")
        if r["verdict"] == "DISAGREE":
            assert r["note"], f"{r['row']} {r['metric']} disagrees without a reason"
        if r["verdict"] == "n/a":
            assert r["note"]


def test_batch_conventions_are_stated(t1):
    for r in t1:
        assert r["batch"] and r["batch_convention"]
    got = cells(t1)
    assert got[("rec_fc", "params")]["batch"] == "10, 100"
    assert got[("seq2seq", "params")]["batch"] == "1, 10"


# -- the paper's independent checks (paper.md Section 2) -----------------------------------------


def test_resnext_min_intensity_over_acts_and_weights_is_the_stride2_grouped_conv(t1):
    # stage-2 first block of 32x4d: 3x3 conv, 256 -> 256 channels, 32 groups (8 per group),
    # stride 2, 56x56 -> 28x28: 2 * out * (C/g) * 9 / (in + out + weights) = 28.3
    p = 28 * 28
    expected = 2 * 256 * p * 8 * 9 / (256 * 56 * 56 + 256 * p + 256 * 8 * 9)
    assert cells(t1)[("resnext", "intensity_aw_min")]["computed_low"] == pytest.approx(expected)
    assert expected == pytest.approx(28.3, abs=0.05)  # the paper's "min. 28"


def test_resnext_min_intensity_over_weights_is_the_final_7x7_stage(t1):
    # a conv's ops per weight = 2 x output spatial size; the 7x7 stage at 224x224 gives 98
    assert cells(t1)[("resnext", "intensity_w_min")]["computed_low"] == pytest.approx(2 * 49)


def test_faster_rcnn_min_is_a_stride2_depthwise_3x3(t1):
    # 2 * 9 * P / (4P in + P out + 9 weights) per channel, P = 25 x 42 (stage 4 of 800x1344)
    p = 25 * 42
    got = cells(t1)[("faster_rcnn", "intensity_aw_min")]["computed_low"]
    assert got == pytest.approx(2 * 9 * p / (5 * p + 9))


def test_resnext3d_min_is_a_stride2_channelwise_3x3x3(t1):
    # 2 * 27 * P / (8P in + P out + 27 weights), P = 4x7x7 outputs: the paper's "min. 6"
    p = 4 * 7 * 7
    got = cells(t1)[("resnext3d", "intensity_aw_min")]["computed_low"]
    assert got == pytest.approx(2 * 27 * p / (9 * p + 27))


def test_fc_ops_per_weight_is_twice_the_batch(t1):
    # 2MKN / (KN + N bias): within 1% of 2M for the rec FCs (K >= 256); M = 10 and 100
    r = cells(t1)[("rec_fc", "intensity_w_avg")]
    assert r["computed_low"] == pytest.approx(20, rel=0.01)
    assert r["computed_high"] == pytest.approx(200, rel=0.01)
    s = cells(t1)[("seq2seq", "intensity_w_min")]  # batch x beam = 1 and 10
    assert s["computed_low"] == pytest.approx(2, rel=0.01)
    assert s["computed_high"] == pytest.approx(20, rel=0.01)


def test_embedding_intensities_follow_the_pooling(t1):
    # sum pooling: 1 op per fetched element; over weights + outputs P*D / (P*D + D) per table
    tables = rl.load_model("rec_paper").params.tables
    ops = sum(t.count * t.pooling_factor * t.dim for t in tables)
    outs = sum(t.count * t.dim for t in tables)
    got = cells(t1)
    assert got[("rec_emb", "intensity_w_avg")]["computed_low"] == pytest.approx(1.0)
    assert got[("rec_emb", "intensity_aw_avg")]["computed_low"] == pytest.approx(ops / (ops + outs))
    params = sum(t.count * t.rows * t.dim for t in tables)
    assert got[("rec_emb", "params")]["computed_low"] == pytest.approx(params)


def test_resnext_sizes_match_the_published_models(t1):
    # Mahajan et al. 2018: 43M (32x4d) and 829M (32x48d) params; ours adds BN affine and the FC
    r = cells(t1)[("resnext", "params")]
    assert r["computed_low"] == pytest.approx(43e6, rel=0.05)
    assert r["computed_high"] == pytest.approx(829e6, rel=0.01)


@pytest.mark.parametrize(
    "key",
    [
        ("rec_fc", "params"),
        ("rec_fc", "intensity_w_avg"),
        ("rec_emb", "params"),
        ("rec_emb", "intensity_w_avg"),
        ("resnext", "params"),
        ("resnext", "intensity_w_avg"),
        ("resnext", "intensity_w_min"),
        ("resnext", "intensity_aw_avg"),
        ("resnext", "intensity_aw_min"),
        ("faster_rcnn", "intensity_aw_min"),
        ("resnext3d", "intensity_aw_min"),
        ("seq2seq", "params"),
        ("seq2seq", "intensity_w_avg"),
    ],
)
def test_cells_the_paper_checks_independently_agree(t1, key):
    # the M-tagged cells backed by an arithmetic check or a published size (paper.md Section 2)
    assert cells(t1)[key]["verdict"] == "agree"


# -- options ------------------------------------------------------------------------------------


def test_batch_override_recomputes_every_row():
    t = table1(batch=1, rows=["rec_fc", "resnext"])
    got = cells(t)
    assert {r["row"] for r in t} == {"rec_fc", "resnext"}
    assert got[("rec_fc", "intensity_w_avg")]["computed_high"] == pytest.approx(2, rel=0.01)
    assert got[("rec_fc", "params")]["batch_convention"] == "batch override"


def test_unknown_row_is_a_spec_error():
    with pytest.raises(SpecError, match="unknown Table 1 row"):
        table1(rows=["resnet"])


def test_missing_preset_is_explained_not_raised():
    row = PaperRow(
        "x",
        "Cat",
        "Missing",
        (("no_such_model", {}),),
        (1,),
        "1",
        frozenset({"fc"}),
        True,
        False,
        {"params": cell("1M", "M", "approx", 1e6)},
        "-",
    )
    res = compute_row(row)
    assert res.missing and "no_such_model" in res.missing


def test_a_row_can_stand_on_any_model_spec():
    ops = [
        {"kind": "linear", "name": "fc1", "out_features": 1024},
        {"kind": "linear", "name": "fc2", "out_features": 256},
    ]
    spec = {
        "name": "two_fc",
        "family": "layers",
        "source": "a made-up test model",
        "params": {"inputs": {"x": [512]}, "ops": ops},
    }
    row = PaperRow(
        "x", "Cat", "FC", ((spec, {}),), (4,), "4", frozenset({"fc"}), True, False, {}, "-"
    )
    res = compute_row(row)
    flops = 2 * 4 * (512 * 1024 + 1024 * 256)
    weights = 512 * 1024 + 1024 + 1024 * 256 + 256
    assert res.values["intensity_w_avg"][0] == pytest.approx(flops / weights)
    assert res.values["params"][0] == weights


# -- comparison rules ----------------------------------------------------------------------------


def test_judge_span_needs_both_ends():
    c = cell("20-200", "M", "span", (20, 200))
    assert judge(c, 19.5, 180)[0]
    assert not judge(c, 20, 100)[0]  # 200/100 > 1.25


def test_judge_bound_needs_every_value_inside():
    c = cell(">10K", "L", "bound", (1e4, math.inf))
    assert judge(c, 2e4, 1e9)[0]
    assert judge(c, 7e3, 1e5)[0]  # 1e4 / 1.5 = 6.7e3
    assert not judge(c, 6e3, 1e5)[0]


def test_judge_approx_puts_the_figure_inside_our_range_and_tries_every_option():
    c = cell("21M or 8M", "L", "approx", 21e6, 8e6)
    assert judge(c, 22e6, 22e6) == (True, 0)
    assert judge(c, 9e6, 9e6) == (True, 1)
    assert not judge(c, 50e6, 50e6)[0]
    assert cell("x", "L/M", "approx", 1).tolerance == 0.5


# -- rendering ----------------------------------------------------------------------------------


def test_markdown_has_the_papers_columns_and_flags(t1):
    md = render(t1, "markdown")
    assert md.startswith("| Category | Model type | Model size (#params)")
    assert "✓" in md and "Faster-RCNN-Shuffle" in md
    assert "- DISAGREE" in md or "✗" not in md


def test_csv_and_json_carry_raw_numbers(t1):
    rows = list(csv.DictReader(io.StringIO(render(t1, "csv"))))
    assert float(rows[0]["computed_low"]) > 0
    recs = json.loads(render(t1, "json"))
    assert recs[0]["row"] == "rec_fc" and isinstance(recs[0]["computed_low"], float)


def test_text_groups_by_row(t1):
    text = render(t1, "table")
    assert text.count("metric") == len(ROWS)
    assert "Recommendation / FCs" in text
