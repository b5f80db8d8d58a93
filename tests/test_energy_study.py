"""The energy study (half precision in joules) and the energy charts."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import roofline as rl  # noqa: E402
from roofline.errors import SpecError  # noqa: E402
from roofline.plot.energy import energy_breakdown, throughput_vs_power  # noqa: E402
from roofline.studies.energy import PARTS, energy_study  # noqa: E402


@pytest.fixture(scope="module")
def study():
    return energy_study()


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def test_the_parts_add_up_to_the_energy_per_sample(study):
    for r in study.table:
        if r["supported"]:
            assert sum(r[p] for p in PARTS) == pytest.approx(r["energy_per_sample_j"])


def test_narrower_data_save_energy_on_every_model_and_device(study):
    rows = [r for r in study.table if r["supported"] and r["dtype"] != "fp32"]
    assert rows and all(r["saving"] > 0 for r in rows)
    for dev, by_model in study.findings.items():
        for model, saving in by_model.items():
            assert saving["fp32"] == 0.0 and saving["int8"] >= saving["fp16"] - 1e-12, (dev, model)


def test_int8_quarters_the_dram_joules_of_a_dram_bound_model(study):
    # seq2seq_gru streams its weights from DRAM at every dtype on the paper's accelerator: int8
    # moves a quarter of fp32's bytes (all but a few: token indices keep their size), and DRAM
    # joules are bytes x J/B
    rows = {r["dtype"]: r for r in study.table if r["model"] == "seq2seq_gru"
            and r["device"] == "hypothetical_100tops"}  # fmt: skip
    assert rows["fp32"]["dominant"] == "dram"
    assert rows["int8"]["dram_j"] == pytest.approx(rows["fp32"]["dram_j"] / 4, rel=1e-3)
    assert rows["fp16"]["dram_j"] == pytest.approx(rows["fp32"]["dram_j"] / 2, rel=1e-3)


def test_the_answer_says_what_each_dtype_saves_and_where_energy_goes(study):
    assert "fp16 saves" in study.answer and "int8 saves" in study.answer
    assert "energy goes" in study.answer
    assert [p.chart for p in study.panels] == ["energy_breakdown", "energy_saving", "energy_power"]


def test_a_device_without_an_energy_model_is_refused():
    dev = rl.load_hardware("t4").model_copy(update={"power": None})
    with pytest.raises(SpecError, match="no energy model"):
        energy_study(models=["seq2seq_gru"], devices=[dev])


def test_breakdown_bars_are_the_joules_per_sample():
    r = rl.evaluate("resnet18", "t4", batch=[1, 8], dtype="fp16")
    ax = energy_breakdown(r)
    heights = np.zeros(2)
    for bar in ax.patches:
        heights[int(round(bar.get_x() + bar.get_width() / 2))] += bar.get_height()
    assert heights == pytest.approx(r.energy_per_sample_j[0] * 1e3)  # mJ
    assert "mJ" in ax.get_ylabel()


def test_throughput_against_power_plots_the_capped_point():
    rs = [rl.evaluate("resnet18", d, batch=[1, 64], dtype="fp16") for d in ("t4", "l4")]
    ax = throughput_vs_power(rs)
    lines = [ln for ln in ax.get_lines() if ln.get_linestyle() == "None"]
    xs = np.concatenate([ln.get_xdata() for ln in lines])
    ys = np.concatenate([ln.get_ydata() for ln in lines])
    want_x = np.concatenate([r.avg_power_w[0] for r in rs])
    want_y = np.concatenate([r.capped_throughput_per_s[0] for r in rs])
    assert xs == pytest.approx(want_x) and ys == pytest.approx(want_y)
    assert "W" in ax.get_xlabel() and "samples/s" in ax.get_ylabel()


def test_roofline_plot_energy_writes_the_study(tmp_path):
    from roofline.cli import main

    out = tmp_path / "energy.png"
    assert main(["plot", "energy", "seq2seq_gru", "--hw", "t4", "-o", str(out)]) == 0
    assert out.stat().st_size > 0
