"""The studies, their charts and the paper's command, from a review (each test failed before its
fix): speedups only against a run of the first dtype given, no time for a point that does not
fit, Table 1 marks on the chart from Table 1's own counts, answers that agree with their numbers,
and command-line options that are read or named in a warning."""

from __future__ import annotations

import argparse
import csv
import io
import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import roofline as rl  # noqa: E402
from roofline import plot  # noqa: E402
from roofline.cli.main import main  # noqa: E402
from roofline.observers import ByCategory  # noqa: E402

PAPER = "hypothetical_100tops"


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def run(capsys, *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def nan(x) -> bool:
    """A table cell with no value (a table's rows read NaN as None)."""
    return x is None or (isinstance(x, float) and math.isnan(x))


def latency(model, device, dtype, batch=1) -> float:
    return float(rl.evaluate(model, device, batch=batch, dtype=dtype).latency_s[0, 0])


def device_memory(device) -> float:
    """On-chip + device memory, the bytes a model's footprint must fit (hw spec)."""
    hw = rl.load_hardware(device)
    return sum(lv.capacity for lv in hw.memory.values() if lv.kind in ("onchip", "device"))


def bar_heights(ax) -> list[float]:
    return [p.get_height() for p in ax.patches]


def crosses(ax) -> list:
    return [ln for ln in ax.get_lines() if ln.get_marker() == "x" and len(ln.get_xdata())]


# -- 1. precision: speedups over the first dtype given, only where it ran -----------------------


def test_precision_without_a_run_of_the_reference_gives_no_speedup():
    """Gaudi 3 has no fp32 matrix peak: 'speeds models up 1.00-1.0x over fp32' was fp16 over
    fp16."""
    st = rl.precision_study({"resnet50": 1}, devices=["gaudi3"])
    fp32 = next(r for r in st.table if r["dtype"] == "fp32")
    assert fp32["supported"] is False
    assert {r["dtype"] for r in st.table if r["supported"]} == {"fp16", "bf16"}
    assert all(nan(r["speedup"]) for r in st.table)
    assert "1.00-1.0x" not in st.answer and "speeds models up" not in st.answer
    assert "no run of fp32" in st.answer
    ax = st.plot()
    assert not [h for h in bar_heights(ax) if np.isfinite(h)]  # no bar at 1.0 over fp32


def test_precision_speedups_are_over_the_first_dtype_given():
    """t4 with dtypes fp16, fp32: the reference is fp16 and fp32's speedup is fp16's latency
    over fp32's; it said 'Half precision speeds models up 1.00x over fp32'."""
    st = rl.precision_study({"resnet50": 1}, devices=["t4"], dtypes=["fp16", "fp32"])
    fp32 = next(r for r in st.table if r["dtype"] == "fp32")
    hand = latency("resnet50", "t4", "fp16") / latency("resnet50", "t4", "fp32")
    assert fp32["speedup"] == pytest.approx(hand, rel=1e-9)
    assert 0.2 < hand < 0.6  # fp16 is 2-3x faster on a T4's tensor cores
    assert "over fp32" not in st.answer and "1.00" not in st.answer
    assert "fp16" in st.answer and f"{hand:.2f}" in st.answer
    ax = st.plot()
    assert "fp16" in ax.get_ylabel() and "fp32" not in ax.get_ylabel()
    assert "over fp16" in ax.get_title()


# -- 2. points that do not fit: no time, left out of the answers --------------------------------


def test_llama2_70b_does_not_fit_a_t4():
    params = float(rl.count("llama2_70b").costs.weight_elems.sum())
    assert params * 1 > device_memory("t4")  # even at int8 (1 byte per weight)


def test_precision_leaves_out_what_does_not_fit():
    """llama2_70b on a 16 GB T4 showed 874 ms and 3.97x, and entered the medians."""
    st = rl.precision_study(["llama2_70b", "resnet50"], devices=["t4"])
    llama = [r for r in st.table if r["model"] == "llama2_70b"]
    assert llama and all(r["feasible"] is False for r in llama)
    assert all(nan(r["latency_s"]) and nan(r["speedup"]) for r in llama)
    assert all(math.isnan(v) for v in st.findings["t4"]["llama2_70b"].values())
    res = [r for r in st.table if r["model"] == "resnet50"]
    assert all(r["feasible"] for r in res)
    half = {
        dt: latency("resnet50", "t4", "fp32") / latency("resnet50", "t4", dt)
        for dt in ("fp16", "bf16")
    }
    lo, hi = min(half.values()), max(half.values())
    assert f"{lo:.2f}-{hi:.1f}x over fp32" in st.answer
    # only llama2_70b was memory-bound: no memory-bound median is left
    assert "memory-bound" not in st.answer and "3.97" not in st.answer
    assert "llama2_70b" in st.answer and "does not fit" in st.answer
    ax = st.plot()
    assert len([h for h in bar_heights(ax) if np.isfinite(h) and h > 0]) == 4  # resnet50's
    assert crosses(ax)


def test_engine_balance_leaves_out_what_does_not_fit():
    st = rl.engine_balance_study(["llama2_70b", "resnet50"], device="t4", scales=[0.5, 1, 2])
    llama = [r for r in st.table if r["model"] == "llama2_70b"]
    assert all(r["feasible"] is False for r in llama)
    for col in ("latency_s", "vector_time_s", "vector_share", "speedup", "amdahl_limit"):
        assert all(nan(r[col]) for r in llama)
    assert all(r["feasible"] for r in st.table if r["model"] == "resnet50")
    assert "llama2_70b 1x" not in st.answer and "llama2_70b 0%" not in st.answer
    assert "resnet50" in st.answer and "llama2_70b" in st.answer and "does not fit" in st.answer
    fig = st.figure()
    fig.canvas.draw()


def test_engine_balance_with_nothing_that_fits_says_so():
    st = rl.engine_balance_study(["llama2_70b"], device="t4")
    assert "1x" not in st.answer and "does not fit" in st.answer
    assert math.isnan(st.findings["llama2_70b"]["amdahl_limit"])
    st.figure().canvas.draw()


def test_onchip_leaves_out_what_does_not_fit():
    """'llama2_70b ... (1.0x faster once they fit)' on a T4 it does not fit."""
    st = rl.onchip_memory_study(["llama2_70b"], "t4", batches=[1])
    assert all(r["feasible"] is False and nan(r["latency_s"]) for r in st.table)
    assert math.isnan(st.findings["llama2_70b"][1]["speedup"])
    assert "faster once they fit" not in st.answer and "does not fit" in st.answer
    ax = st.plot()
    assert crosses(ax)
    assert not any(np.isfinite(np.asarray(ln.get_ydata(), float)).any()
                   for ln in ax.get_lines() if ln.get_marker() != "x")  # fmt: skip


def test_fleet_leaves_out_what_does_not_fit():
    """A T4 cannot hold llama2_70b: its time shares entered the fleet's."""
    st = rl.fleet_breakdown({"llama2_70b": 1.0, "resnet50": 1.0}, "t4")
    llama = [r for r in st.table if r["model"] == "llama2_70b"]
    assert llama and all(r["feasible"] is False for r in llama)
    assert all(nan(r["time_s"]) and nan(r["time_share"]) for r in llama)
    obs = ByCategory()
    rl.evaluate("resnet50", "t4", batch=1, dtype="fp32", observers=[obs])
    hand: dict[str, float] = {}
    for rec in obs.table():
        hand[rec["category"]] = hand.get(rec["category"], 0.0) + rec["time_share"]
    assert st.findings["shares"] == pytest.approx(hand)  # the fleet is what fits: resnet50
    assert "llama2_70b" in st.answer and "does not fit" in st.answer
    st.figure().canvas.draw()


def test_fleet_with_nothing_that_fits_says_so():
    st = rl.fleet_breakdown({"llama2_70b": 1.0}, "t4")
    assert st.findings["shares"] == {} and "fc 99%" not in st.answer
    assert "does not fit" in st.answer
    st.figure().canvas.draw()


def test_the_default_studies_fit_everywhere():
    for st in (
        rl.precision_study(),
        rl.engine_balance_study(),
        rl.onchip_memory_study(batches=[1, 16]),
        rl.fleet_breakdown(),
    ):
        assert all(r["feasible"] for r in st.table), st.name


# -- 3. Table 1 marks on the roofline chart: Table 1's counts and formula -----------------------


def hand_intensities(model, batch: int = 1) -> tuple[float, float]:
    """Table 1's averages over layers (ops with weights, not normalization), counted unfused,
    layer by layer (DESIGN.md): FLOPs per weight element, and per weight + in + out element."""
    ct = rl.count(model, batch=batch).costs  # unfused
    wb = ct.precision.bytes_per("weight")
    layers = np.array(
        [w > 0 and c != "normalization" for w, c in zip(ct.weight_elems, ct.categories)]
    )
    f = (ct.flops_matrix + ct.flops_vector)[layers, 0].sum()
    w = (ct.weight_read_bytes[layers, 0] / wb).sum()
    a = ct.act_in_elems[layers, 0].sum() + ct.act_out_elems[layers, 0].sum()
    return f / w, f / (w + a)


def table1_marks(ax) -> list[float]:
    """x of the two hollow Table 1 marks, smallest first: per acts + weights, then per weight."""
    hollow = [
        c for c in ax.collections if len(c.get_offsets()) == 1 and len(c.get_facecolors()) == 0
    ]
    return sorted(float(np.asarray(c.get_offsets())[0][0]) for c in hollow)


@pytest.mark.parametrize(
    "model, row, end",
    [
        ("resnext101_32x4d", "resnext", "computed_low"),
        ("faster_rcnn_shufflenet", "faster_rcnn", "computed_low"),
    ],
)
def test_table1_marks_are_table1s_figures(model, row, end):
    """The marks counted fused kernels (a residual add's input as a conv input, batch norm's
    parameters as weights): 168 for ResNeXt-101 32x4d where table1 says 185, 104 vs 122."""
    iw, iaw = hand_intensities(model)
    t1 = {r["metric"]: r for r in rl.table1(rows=[row])}
    assert t1["intensity_aw_avg"][end] == pytest.approx(iaw, rel=1e-9)
    assert t1["intensity_w_avg"][end] == pytest.approx(iw, rel=1e-9)
    ax = plot.roofline(rl.evaluate(model, PAPER, batch=1, dtype="int8"), table1=True)
    assert table1_marks(ax) == pytest.approx([iaw, iw], rel=1e-9)  # int8: 1 byte per element


def test_table1_marks_refuse_a_model_that_is_not_its_presets(tmp_path):
    """A result whose model is not the preset of its name (changed parameters) cannot be
    re-counted by name: a one-line SpecError asks for the model, which then gives the marks."""
    spec = rl.load_model("resnext101_32x4d")
    changed = spec.with_params(layers=[1, 1, 1, 1])
    r = rl.evaluate(changed, PAPER, batch=1, dtype="int8")
    with pytest.raises(rl.SpecError, match="table1"):
        plot.roofline(r, table1=True)
    ax = plot.roofline(r, table1=[changed])
    assert table1_marks(ax) == pytest.approx(sorted(hand_intensities(changed)), rel=1e-9)


# -- 4. embeddings: no time for a tier the tables do not fit ------------------------------------


def test_embedding_answer_gives_no_time_for_a_tier_the_tables_do_not_fit():
    st = rl.embedding_study(table_scales=[1e-3, 1.0])
    sram = rl.load_hardware(PAPER).memory["sram"].capacity
    assert st.findings["tables_bytes"] > sram  # 13.7 GiB of tables, 32 MiB of SRAM
    tier = {r["x"]: r for r in st.table if r["sweep"] == "tier"}
    assert tier["sram"]["fits"] is False
    assert "sram 75.9 us" not in st.answer
    assert "sram: they do not fit" in st.answer
    assert "dram 189 us" in st.answer  # the tiers that hold them keep their time


# -- 5. table1 --columns in every format ---------------------------------------------------------


@pytest.mark.parametrize("fmt", ["table", "markdown", "csv", "json"])
def test_table1_columns_in_every_format(capsys, fmt):
    """KeyError 'category' (text), 'metric' (markdown), 'row' with --columns."""
    rc, out, err = run(
        capsys, "table1", "--rows", "rec_fc", "--columns", "row,verdict", "--format", fmt
    )
    assert rc == 0, err
    assert "verdict" in out and "rec_fc" in out and "category" not in out.lower()
    rc, out, err = run(
        capsys, "table1", "--rows", "rec_fc", "--columns", "computed_low", "--format", fmt
    )
    assert rc == 0 and "Traceback" not in err, err
    assert "computed_low" in out


def test_table1_csv_columns(capsys):
    rc, out, _ = run(capsys, "table1", "--rows", "rec_fc", "--columns", "metric,verdict",
                     "--format", "csv")  # fmt: skip
    rows = list(csv.DictReader(io.StringIO(out)))
    assert rc == 0 and list(rows[0]) == ["metric", "verdict"]


# -- 6. options a chart does not read are named ------------------------------------------------


def draw_args(kind, models=(), hw=None, batch=None, dtype=None, **kw):
    return argparse.Namespace(
        kind=kind, models=list(models), hw=hw, batch=batch, dtype=dtype, sla=None,
        table1=kw.get("table1", False), by=None, output="x.png",
    )  # fmt: skip


def test_plot_roofline_draws_every_batch_given():
    from roofline.cli import plot as plot_cli

    ax = plot_cli._draw(draw_args("roofline", ["resnet18"], ["t4"], ["1", "64"]))
    texts = " ".join(t.get_text() for t in ax.texts)
    assert "batches as labeled" in ax.get_title()
    assert "(batch 1)" in texts and "(batch 64)" in texts


def test_plot_precision_reads_the_batch(capsys):
    from roofline.cli import plot as plot_cli

    fig = plot_cli._draw(draw_args("precision", ["resnet18"], ["t4"], ["8"]))
    assert "batch 8" in fig.axes[0].get_title()


@pytest.mark.parametrize(
    "argv, warning",
    [
        (
            ("precision", "resnet18", "--hw", "t4", "--dtype", "fp16"),
            "plot precision does not read --dtype",
        ),
        (
            ("energy", "resnet18", "--hw", "t4", "--dtype", "fp16"),
            "plot energy does not read --dtype",
        ),
        (
            ("engines", "resnet18", "--hw", "t4", "l4"),
            "plot engines reads one value of --hw: only the first (t4) is used",
        ),
        (
            ("onchip", "resnet18", "--hw", PAPER, "t4", "--batch", "1"),
            f"plot onchip reads one value of --hw: only the first ({PAPER}) is used",
        ),
        (
            ("fleet", "resnet18=1", "--hw", "t4", "l4"),
            "plot fleet reads one value of --hw: only the first (t4) is used",
        ),
        (
            ("precision", "resnet18", "--hw", "t4", "--batch", "1", "4"),
            "plot precision reads one value of --batch: only the first (1) is used",
        ),
        (
            ("embeddings", "rec_paper", "resnet18", "--batch", "10", "100"),
            "plot embeddings reads one value of models, --batch: only the first "
            "(rec_paper; 10) is used",
        ),
    ],
)
def test_options_a_study_reads_one_of_or_none_warn_in_one_line(capsys, tmp_path, argv, warning):
    out = tmp_path / "s.png"
    rc, _, err = run(capsys, "plot", *argv, "-o", str(out))
    assert rc == 0, err
    lines = [ln for ln in err.splitlines() if ln]
    assert len(lines) == 1 and lines[0].startswith(f"roofline: warning: {warning}"), err
    assert out.exists()


def test_table1_units_warns(capsys):
    rc, out, err = run(capsys, "table1", "--rows", "rec_fc", "--units", "iec")
    assert rc == 0 and out
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("roofline: warning: table1") and "--units" in err


# -- 7. breakdown crosses out a run that does not fit -------------------------------------------


def test_breakdown_crosses_out_a_run_that_does_not_fit():
    rs = [rl.evaluate(m, "t4", batch=1, dtype="fp16") for m in ("resnet50", "llama2_70b")]
    assert bool(rs[0].feasible[0, 0]) and not bool(rs[1].feasible[0, 0])
    ax = plot.breakdown(rs)
    by_x: dict[float, float] = {}
    for p in ax.patches:
        x = round(p.get_x() + p.get_width() / 2)
        by_x[x] = by_x.get(x, 0.0) + (p.get_height() if np.isfinite(p.get_height()) else 0.0)
    assert by_x[0] == pytest.approx(100.0) and by_x.get(1, 0.0) == 0.0
    (cross,) = crosses(ax)
    assert list(cross.get_xdata()) == [1.0]
    assert "does not fit the device" in [t.get_text() for t in ax.get_legend().get_texts()]
    alone = plot.breakdown(rs[1])
    assert crosses(alone) and not [h for h in bar_heights(alone) if h > 0]


# -- 8. answers that agree with their numbers --------------------------------------------------


def test_scaling_answer_names_no_none_device_count():
    st = rl.scaling_study(models=["rec_paper"], counts=[1, 2])
    f = st.findings["rec_paper"]
    assert f["min_devices_in_device_memory"] is None and f["min_devices"] == 1
    assert "None" not in st.answer
    assert "does not fit the device memory of up to 2 devices" in st.answer


def test_engine_answer_counts_integer_work_in_ops():
    st = rl.engine_balance_study({"resnet50": 1}, scales=[0.5, 1.0])
    assert "TFLOP/s" not in st.answer and "(100 TOP/s)" in st.answer


def test_engine_answer_names_the_scale_its_limit_is_against():
    st = rl.engine_balance_study({"resnet50": 1}, scales=[4, 8, 16])
    rows = [r for r in st.table if r["model"] == "resnet50"]
    at4 = next(r for r in rows if r["scale"] == 4)
    top = next(r for r in rows if r["unbounded"])
    assert at4["speedup"] == pytest.approx(1.0)  # the reference is the scale nearest 1
    assert st.findings["resnet50"]["amdahl_limit"] == pytest.approx(
        at4["latency_s"] / top["latency_s"]
    )
    assert "4x" in st.answer and "400 TOP/s" in st.answer  # 4 x 100 TOP/s


def test_onchip_gain_is_from_the_smallest_to_the_largest_capacity():
    """capacities given largest first: '0.6x faster once they fit'."""
    down = rl.onchip_memory_study(["resnet50"], capacities=["4 GiB", "1 MiB"], batches=[1])
    up = rl.onchip_memory_study(["resnet50"], capacities=["1 MiB", "4 GiB"], batches=[1])
    lat = {r["onchip_capacity_bytes"]: r["latency_s"] for r in down.table}
    gain = lat[2.0**20] / lat[2.0**32]
    assert gain > 1
    assert down.findings["resnet50"][1]["speedup"] == pytest.approx(gain)
    assert f"({gain:.1f}x faster once they fit)" in down.answer
    assert down.answer == up.answer


def test_table1_footnote_names_the_layer_where_resnext_peaks():
    """It said 'around its 1536-channel 56x56 grouped conv (4.8M elements per tensor)'."""
    from roofline.counting import count_graph

    m = rl.load_model("resnext101_32x48d")
    ct = count_graph(m.graph, [1], "fp32")
    live = ct.live_act_bytes[:, 0] / 4
    i = int(np.argmax(live))
    op = m.graph.nodes[i].op
    assert ct.names[i] == "layer2.0.conv2" and op.in_channels == 3072
    assert tuple(op.input_size) == (56, 56) and op.groups == 32
    assert ct.act_in_elems[i, 0] == 3072 * 56 * 56  # 9.6M
    note = next(r["note"] for r in rl.table1(rows=["resnext"])
                if r["metric"] == "max_live_activations")  # fmt: skip
    assert "1536" not in note and "4.8M" not in note
    assert "layer2.0.conv2" in note and "3072-channel" in note and "9.6M" in note
