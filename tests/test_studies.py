"""The four implications and the fleet breakdown: invariants, formulas, and their charts."""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import roofline as rl  # noqa: E402
from roofline import cli  # noqa: E402
from roofline.counting import count_graph  # noqa: E402
from roofline.errors import SpecError  # noqa: E402
from roofline.evaluation import evaluate_costs  # noqa: E402
from roofline.observers import ByCategory  # noqa: E402
from roofline.placement import CapacityAware  # noqa: E402
from roofline.plot.studies import CHARTS  # noqa: E402
from roofline.studies import STUDIES, Options, TablesIn  # noqa: E402

DEVICE = "hypothetical_100tops"


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def sweep(study, name):
    return [r for r in study.table if r["sweep"] == name]


# -- 1. embeddings ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def emb():
    return rl.embedding_study(table_scales=np.geomspace(1e-4, 100, 12))


def test_more_bandwidth_never_slows_the_lookups(emb):
    rows = sorted(sweep(emb, "bandwidth"), key=lambda r: r["x"])
    lat = [r["latency_s"] for r in rows]
    assert all(b <= a * (1 + 1e-12) for a, b in zip(lat, lat[1:]))
    assert lat[0] > lat[-1]


def test_faster_tiers_serve_the_tables_faster(emb):
    tiers = {r["x"]: r["latency_s"] for r in sweep(emb, "tier")}
    hw = rl.load_hardware(DEVICE)
    order = sorted(hw.memory, key=lambda n: -hw.memory[n].bandwidth)
    assert [tiers[n] for n in order] == sorted(tiers.values())


def test_table_footprint_is_rows_times_width(emb):
    # rec_paper at int8: sum of count x rows x dim bytes (the spec's own sizes)
    tables = rl.load_model("rec_paper").params.tables
    assert emb.findings["tables_bytes"] == sum(t.count * t.rows * t.dim for t in tables)


def test_spill_points_are_each_tiers_free_capacity(emb):
    hw = rl.load_hardware(DEVICE)
    spill = emb.findings["spill_bytes"]
    assert list(spill) == list(hw.memory)
    for level, size in spill.items():
        assert size <= hw.memory[level].capacity * (1 + 1e-3)
    # rec_paper's dense weights and activations stay in the SRAM, so the DRAM holds only tables:
    # they spill past it at its capacity (to the bisection's 1e-4 and one table row)
    assert spill["dram"] == pytest.approx(hw.memory["dram"].capacity, rel=1e-3)
    # past the host tier the model no longer fits one device: at most all tiers together
    assert spill["sram"] < spill["dram"] < spill["host"]
    assert spill["host"] <= sum(lv.capacity for lv in hw.memory.values())


def test_devices_needed_pools_onchip_and_device_memory(emb):
    hw = rl.load_hardware(DEVICE)
    per_device = sum(lv.capacity for lv in hw.memory.values() if lv.kind != "host")
    for r in sweep(emb, "table_size"):
        assert r["devices_needed"] >= math.ceil(r["tables_bytes"] / per_device)
    assert emb.findings["devices_needed"] == 1  # 14.7 GB of int8 tables in a 16 GB DRAM


def test_tables_in_the_level_capacity_aware_picks_changes_nothing():
    ct = count_graph(rl.load_model("rec_paper").graph, [100], "int8", fuse=True)
    hw = rl.load_hardware(DEVICE)
    base = evaluate_costs(ct, hw, CapacityAware())
    dram = list(hw.memory).index("dram")  # where the 14.7 GB tables land
    forced = evaluate_costs(ct, hw, TablesIn(dram))
    np.testing.assert_allclose(forced.bytes_moved, base.bytes_moved)
    np.testing.assert_allclose(forced.latency_s, base.latency_s)


def test_embedding_study_needs_tables():
    with pytest.raises(SpecError, match="no embedding tables"):
        rl.embedding_study("resnet50")


# -- 2. engines ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def eng():
    return rl.engine_balance_study(
        {"faster_rcnn_shufflenet": 1, "rec_paper": 100}, scales=(0.125, 0.5, 1, 2, 8)
    )


def test_vector_share_grows_with_the_matrix_peak(eng):
    for m in ("faster_rcnn_shufflenet", "rec_paper"):
        rows = [r for r in eng.table if r["model"] == m]
        share = [r["vector_share"] for r in rows]
        assert all(b >= a - 1e-12 for a, b in zip(share, share[1:]))
        speed = [r["speedup"] for r in rows]
        assert all(b >= a - 1e-12 for a, b in zip(speed, speed[1:]))
        assert rows[2]["scale"] == 1 and rows[2]["speedup"] == pytest.approx(1.0)
        assert rows[-1]["unbounded"] and rows[-1]["speedup"] == pytest.approx(
            rows[0]["amdahl_limit"]
        )
        assert all(r["speedup"] <= r["amdahl_limit"] * (1 + 1e-9) for r in rows)


def test_vector_work_is_the_ops_without_gemms(eng):
    # with an unbounded matrix engine, ops without GEMMs keep their time (same memory, same
    # vector engine), so their seconds match a separate evaluation on the plain device
    m = rl.load_model("faster_rcnn_shufflenet")
    ct = count_graph(m.graph, [1], "int8", fuse=True)
    r = evaluate_costs(ct, rl.load_hardware(DEVICE))
    vec = ct.flops_matrix[:, 0] == 0
    row = next(x for x in eng.table if x["model"] == m.name and x["scale"] == 1)
    assert row["vector_time_s"] == pytest.approx(float(r.time_s[0, 0][vec].sum()))


# -- 3. on-chip memory --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def onchip():
    return rl.onchip_memory_study(
        models=("resnext101_32x4d", "seq2seq_gru"),
        batches=(1, 8),
        capacities=[2**k for k in range(20, 33, 2)],
    )


def test_more_onchip_memory_never_slows(onchip):
    for m in ("resnext101_32x4d", "seq2seq_gru"):
        for b in (1, 8):
            lat = [r["latency_s"] for r in onchip.table if r["model"] == m and r["batch"] == b]
            assert all(y <= x * (1 + 1e-12) for x, y in zip(lat, lat[1:]))


def test_fit_thresholds_are_weights_plus_peak_live_activations(onchip):
    ct = count_graph(rl.load_model("resnext101_32x4d").graph, [1, 8], "int8", fuse=True)
    dense = float(ct.weight_bytes[~ct.is_table].sum())
    live = ct.live_act_bytes.max(axis=0)
    f = onchip.findings["resnext101_32x4d"]
    assert f[8]["activations_fit_bytes"] == pytest.approx(live[1])
    assert f[1]["weights_fit_bytes"] == pytest.approx(dense + live[0])
    for r in onchip.table:
        assert not r["weights_fit"] or r["activations_fit"]
        assert r["activations_fit"] == (r["activation_bytes"] <= r["onchip_capacity_bytes"])


def test_onchip_needs_an_onchip_level():
    hw = rl.load_hardware(DEVICE).model_dump()
    hw["memory"] = {k: v for k, v in hw["memory"].items() if v["kind"] != "onchip"}
    with pytest.raises(SpecError, match="no on-chip memory"):
        rl.onchip_memory_study(models=("resnet50",), device=rl.load_hardware(hw))


# -- 4. precision -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def prec():
    return rl.precision_study(
        {"seq2seq_gru": 1, "resnext101_32x4d": 1},
        devices=("xeon_gold_6138_2s",),
        dtypes=("fp32", "fp16"),
    )


def test_half_precision_halves_a_memory_bound_models_time(prec):
    # the decoder step streams its weights: fp16 halves the bytes (paper Section 6.4: ~2x)
    r = next(x for x in prec.table if x["model"] == "seq2seq_gru" and x["dtype"] == "fp16")
    assert r["regime"] == "memory"
    assert 1.8 <= r["speedup"] <= 2.0


def test_without_half_arithmetic_a_compute_bound_model_gains_little(prec):
    # the Xeon converts fp16 to fp32 (its declared fallback): only the bytes shrink
    r = next(x for x in prec.table if x["model"] == "resnext101_32x4d" and x["dtype"] == "fp16")
    assert r["compute_dtype"] == "fp32" and r["regime"] == "compute"
    assert 1.0 <= r["speedup"] <= 1.1


def test_unsupported_dtype_is_a_row_not_an_error():
    hw = rl.load_hardware(DEVICE)  # no fp64 mode and no fallback for it
    st = rl.precision_study({"resnet50": 1}, devices=(hw,), dtypes=("fp64", "int8"))
    fp64 = next(r for r in st.table if r["dtype"] == "fp64")
    assert fp64["supported"] is False
    int8 = next(r for r in st.table if r["dtype"] == "int8")
    # the first dtype given is the reference: without a run of it there is no speedup
    assert int8["supported"] is True and _empty(int8["speedup"])


def test_precision_and_energy_studies_name_a_runs_regime_alike():
    # one definition: the bound the core reports for most of the time (Result.dominant_bound),
    # memory levels named "memory"; a launch-bound run was "memory" in the precision study
    kw = dict(models={"rec_paper": 100}, devices=("h100_sxm5",), dtypes=("fp32", "fp16"))
    prec = rl.precision_study(**kw)
    energy = rl.energy_study(**kw)
    fp32 = next(r for r in prec.table if r["dtype"] == "fp32")
    assert fp32["bound"] == "overhead"  # the H100's launches outlast this run's roofline time
    assert [r["regime"] for r in prec.table] == ["overhead", "overhead"]
    assert [r["regime"] for r in energy.table] == [r["regime"] for r in prec.table]
    assert "memory-bound" not in prec.answer and "launch-bound" in prec.answer


# -- fleet --------------------------------------------------------------------------------------


def test_fleet_shares_are_the_mix_weighted_model_shares():
    mix = {"rec_paper": 3.0, "resnet50": 1.0}
    st = rl.fleet_breakdown(mix, device="t4")
    assert sum(st.findings["shares"].values()) == pytest.approx(1.0)
    assert st.findings["mix"] == {"rec_paper": 0.75, "resnet50": 0.25}
    per = {}
    for name in mix:
        obs = ByCategory()
        batch = 100 if name == "rec_paper" else 1
        rl.evaluate(name, "t4", batch=batch, dtype="fp32", observers=[obs])  # the study's dtype
        per[name] = {r["category"]: r["time_share"] for r in obs.table()}
    expected = 0.75 * per["rec_paper"]["fc"] + 0.25 * per["resnet50"].get("fc", 0.0)
    assert st.findings["shares"]["fc"] == pytest.approx(expected)


def test_fleet_counts_recurrent_layers_as_fc():
    st = rl.fleet_breakdown({"seq2seq_gru": 1.0})
    assert "recurrent" not in st.findings["shares"] and st.findings["ranking"][0] == "fc"


def test_fleet_ranking_is_compared_with_the_papers():
    st = rl.fleet_breakdown()
    ours = [g for g in st.findings["ranking"] if g in st.findings["paper_ranking"]]
    assert st.findings["order_agrees"] == (
        ours == ["fc", "embedding", "tensor_manipulation", "conv"]
    )
    assert st.findings["paper_ranking"] == ["fc", "embedding", "tensor_manipulation", "conv"]


def test_fleet_rejects_an_empty_or_negative_mix():
    for bad in ({}, {"resnet50": -1.0}, {"resnet50": 0.0}):
        with pytest.raises(SpecError, match="fleet mix"):
            rl.fleet_breakdown(bad)


@pytest.mark.parametrize(
    "weight, problem",
    [
        (float("nan"), r"weight nan of 'resnet50' in the fleet mix is not a finite number >= 0"),
        (float("inf"), r"weight inf of 'resnet50' in the fleet mix is not a finite number >= 0"),
        (-float("inf"), r"weight -inf of 'resnet50' .* not a finite number >= 0"),
        ("a", r"weight 'a' of 'resnet50' in the fleet mix is not a number"),
        ("0.5", r"weight '0.5' of 'resnet50' .* is not a number"),
        (None, r"weight None of 'resnet50' .* is not a number"),
        (True, r"weight True of 'resnet50' .* is not a number"),
        (10**400, r"weight inf of 'resnet50' .* not a finite number >= 0"),
    ],
    ids=["nan", "inf", "-inf", "text", "numeric text", "None", "bool", "int beyond floats"],
)
def test_fleet_names_the_models_bad_weight(weight, problem):
    """A weight that is not a finite number >= 0 is a SpecError naming the model's weight, not
    a TypeError from the sum or a NaN share."""
    with pytest.raises(SpecError, match=problem) as info:
        rl.fleet_breakdown({"rec_paper": 1.0, "resnet50": weight}, device="t4")
    assert info.value.field == "mix.resnet50"


@pytest.mark.parametrize("mix", [["resnet50"], "resnet50", 1.0], ids=["list", "str", "number"])
def test_fleet_mix_must_be_a_mapping(mix):
    with pytest.raises(SpecError, match="is not a fleet mix") as info:
        rl.fleet_breakdown(mix)
    assert info.value.field == "mix"


def test_fleet_huge_weights_normalize_without_overflow():
    st = rl.fleet_breakdown({"resnet50": 1e308, "vgg16": 1e308}, device="t4")
    assert st.findings["mix"] == {"resnet50": 0.5, "vgg16": 0.5}
    assert all(math.isfinite(v) for v in st.findings["shares"].values())


@pytest.mark.parametrize("weight", ["nan", "inf", "-1", "x"])
def test_fleet_chart_refuses_a_bad_weight_in_one_line(weight, tmp_path, capsys):
    out = tmp_path / "f.png"
    argv = ["plot", "fleet", f"resnet50={weight}", "--hw", "t4", "-o", str(out)]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith("roofline: error: models.resnet50: weight ")
    assert not out.exists()


# -- the Study object ---------------------------------------------------------------------------


def test_every_study_answers_in_words_and_draws(emb, eng, onchip, prec):
    for st in (emb, eng, onchip, prec, rl.fleet_breakdown({"resnet50": 1.0})):
        assert st.answer and st.question and len(st.table) > 0
        fig = st.figure()
        visible = [a for a in fig.axes if a.get_visible() and a.get_title()]
        assert len(visible) == len(st.panels)
        for a in visible:
            assert a.get_xlabel() or a.get_xticklabels()
            assert a.get_ylabel()
        ax = st.plot()
        assert ax.get_title()
        assert st.question in st._repr_markdown_()
        plt.close("all")


# -- the registry -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(STUDIES))
def test_every_registered_study_is_complete_and_draws_headless(name):
    entry = STUDIES[name]
    assert entry.name == name and entry.question and entry.charts
    assert set(entry.charts) <= set(CHARTS)
    st = entry.from_options(Options())  # as `roofline plot NAME` runs it, with its defaults
    assert (st.name, st.question) == (name, entry.question)
    assert [p.chart for p in st.panels[: len(entry.charts)]] == list(entry.charts)
    assert all((p.subject is not None) == entry.per_subject for p in st.panels)
    assert matplotlib.get_backend().lower() == "agg"
    fig = st.figure()
    fig.canvas.draw()
    assert len([a for a in fig.axes if a.get_visible() and a.get_title()]) == len(st.panels)


def test_the_registry_is_what_roofline_exports_and_draws():
    functions = {e.function.__name__: e.function for e in STUDIES.values()}
    exported = {n for n, module in rl._EXPORTS.items() if module == "studies"} - {"Study"}
    assert set(functions) == exported
    assert all(getattr(rl, n) is f for n, f in functions.items())
    assert set(CHARTS) == {c for e in STUDIES.values() for c in e.charts}  # no chart unused


def _empty(x: object) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))
