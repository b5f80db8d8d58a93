"""Charts: what they draw matches the result arrays and the device's figures; labels carry units."""

from __future__ import annotations

import os
import subprocess
import sys

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import roofline as rl  # noqa: E402
from roofline import plot  # noqa: E402
from roofline.errors import SpecError  # noqa: E402
from roofline.plot.validation import measured_vs_predicted  # noqa: E402

DEVICE = "hypothetical_100tops"


@pytest.fixture(scope="module")
def resnext():
    return rl.evaluate("resnext101_32x4d", DEVICE, batch=[1, 4], dtype="int8")


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def test_computing_never_loads_matplotlib():
    # importing the package and the rooms that compute, and computing a study, stay off
    # matplotlib: only drawing (roofline.plot, Study.plot, Study.figure) imports it
    code = (
        "import sys, roofline, roofline.studies, roofline.paper.table1, roofline.cli.main, "
        "roofline.fidelity.validate, roofline.sweeps; "
        "roofline.fleet_breakdown({'resnet50': 1.0}); sys.exit('matplotlib' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_roofline_points_are_each_op_at_its_busiest_level(resnext):
    ax = plot.roofline(resnext)
    r, j = resnext, 0
    flops = (r.costs.flops_matrix + r.costs.flops_vector)[:, j]
    crit = np.argmax(r.level_time_s[0, j], axis=-1)
    moved = r.bytes_moved[0, j][np.arange(flops.size), crit]
    t = r.time_s[0, j]
    ok = (flops > 0) & (moved > 0)
    expected = np.sort(np.c_[flops[ok] / moved[ok], flops[ok] / t[ok]], axis=0)
    got = np.sort(np.asarray(ax.collections[0].get_offsets()), axis=0)
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_every_op_sits_under_its_roofs(resnext):
    # t >= bytes / bandwidth at every level and t >= flops / peak, so FLOPs / t can exceed
    # neither bandwidth x (FLOPs / bytes) at the busiest level nor the matrix peak
    hw = rl.load_hardware(DEVICE)
    ax = plot.roofline(resnext, batch=4)
    xy = np.asarray(ax.collections[0].get_offsets())
    top_bw = max(lv.bandwidth for lv in hw.memory.values())
    assert np.all(xy[:, 1] <= hw.peak("matrix", "int8") * (1 + 1e-12))
    assert np.all(xy[:, 1] <= top_bw * xy[:, 0] * (1 + 1e-12))


def test_roofs_are_the_devices_figures(resnext):
    ax = plot.roofline(resnext)
    flat = {
        round(float(line.get_ydata()[0]))
        for line in ax.get_lines()
        if np.ptp(line.get_ydata()) == 0
    }
    # the paper's hypothetical accelerator: 100 TOP/s int8 matrix; vector int8 4 TOP/s (YAML)
    assert {100e12, 4e12} <= flat
    slanted = [line for line in ax.get_lines() if np.ptp(line.get_ydata()) > 0]
    slopes = sorted({round(float(line.get_ydata()[0] / line.get_xdata()[0])) for line in slanted})
    assert slopes == sorted(round(lv.bandwidth) for lv in rl.load_hardware(DEVICE).memory.values())


def test_roofline_labels_name_units_model_device_dtype_batch(resnext):
    ax = plot.roofline(resnext, batch=4, table1=True)
    # int8 engines count operations, not floating-point ones
    assert "OP per byte" in ax.get_xlabel() and "(OP/s)" in ax.get_ylabel()
    assert "FLOP" not in ax.get_xlabel() + ax.get_ylabel()
    title = ax.get_title()
    for word in ("resnext101_32x4d", DEVICE, "int8", "batch 4"):
        assert word in title
    assert ax.get_legend() is not None
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"


def test_table1_marks_sit_on_the_main_memory_roof(resnext):
    ax = plot.roofline(resnext, table1=True)
    hollow = [
        c for c in ax.collections if len(c.get_offsets()) == 1 and len(c.get_facecolors()) == 0
    ]
    assert len(hollow) == 2
    for c in hollow:
        x, y = np.asarray(c.get_offsets())[0]
        assert y == pytest.approx(min(100e9 * x, 100e12))  # DRAM 100 GB/s, peak 100 TOP/s


def test_several_models_share_one_chart():
    pairs = (("rec_paper", 100), ("seq2seq_gru", 1))
    rs = [rl.evaluate(m, DEVICE, batch=b, dtype="int8") for m, b in pairs]
    ax = plot.roofline(rs, table1=True)
    assert "batches as labeled" in ax.get_title()
    texts = " ".join(t.get_text() for t in ax.texts)
    assert "rec_paper (batch 100)" in texts and "rec_paper embeddings" in texts


def test_unknown_batch_is_a_spec_error(resnext):
    with pytest.raises(SpecError, match="batch 3 was not evaluated"):
        plot.roofline(resnext, batch=3)


def test_breakdown_bars_are_shares_of_latency():
    rs = [
        rl.evaluate(m, ["t4", "a100_sxm4_80gb"][k], batch=[1, 8], dtype="fp16")
        for k, m in enumerate(("resnet50", "rec_paper"))
    ]
    for by in ("category", "bound", "kind"):
        ax = plot.breakdown(rs, by=by)
        heights: dict[float, float] = {}
        for p in ax.patches:
            heights[p.get_x()] = heights.get(p.get_x(), 0.0) + p.get_height()
        assert len(heights) == 4
        assert all(h == pytest.approx(100.0) for h in heights.values())
        assert "%" in ax.get_ylabel()
        plt.close("all")
    with pytest.raises(SpecError):
        plot.breakdown(rs, by="color")


def test_breakdown_seconds_sum_to_latency():
    r = rl.evaluate("resnet50", "t4", batch=[2], dtype="fp16")
    ax = plot.breakdown(r, share=False)
    assert sum(p.get_height() for p in ax.patches) == pytest.approx(r.latency_s[0, 0] * 1e3)
    assert ax.get_ylabel() == "Time (ms)"


def test_batch_scaling_marks_the_largest_batch_under_the_target():
    b = [1, 2, 4, 8, 16, 32, 64]
    r = rl.evaluate("resnet50", "t4", batch=b, dtype="fp16")
    lat = r.latency_s[0]
    target = float(lat[3] * 1.01)
    ax = plot.batch_scaling(r, target_s=target)
    note = next(t.get_text() for t in ax.texts if "largest batch" in t.get_text())
    assert "largest batch under target: 8" in note
    assert "Latency (ms)" in ax.get_ylabel() and "Batch size" in ax.get_xlabel()
    right = ax.figure.axes[1]
    np.testing.assert_allclose(right.get_lines()[0].get_ydata(), np.array(b) / lat)


def test_save_png_and_svg_with_ordinary_permissions(tmp_path, resnext):
    ax = plot.roofline(resnext)
    for name in ("a.png", "a.svg"):
        plot.save(ax, str(tmp_path / name))
        p = tmp_path / name
        assert p.stat().st_size > 1000
        assert p.stat().st_mode & 0o044  # readable by others under the usual umask
    assert (tmp_path / "a.png").read_bytes()[:4] == b"\x89PNG"


def test_save_rejects_unknown_formats_and_leaves_no_file(tmp_path, resnext):
    ax = plot.roofline(resnext)
    with pytest.raises(SpecError, match="image format"):
        plot.save(ax, str(tmp_path / "a.txt"))
    assert os.listdir(tmp_path) == []


def test_sweep_chart_draws_one_line_per_model_over_the_knob():
    bw = [1e12, 2e12, 4e12]
    t = rl.sweep(["resnet18", "resnet50"], "a100_sxm4_80gb", {"memory.hbm.bandwidth": bw})
    ax = plot.plot_sweep(t, "latency_s").axes[0]
    lines = ax.get_lines()
    assert len(lines) == 2 and list(lines[0].get_xdata()) == bw
    assert ax.get_xlabel() == "memory.hbm.bandwidth (B/s)" and ax.get_ylabel() == "latency"


def test_validation_chart_puts_each_kernel_at_predicted_measured():
    # a report of two kernels and one whole model (only the fields the chart reads)
    doc = {
        "kernels": [
            {"group": "gemm", "predicted_s": 1e-3, "measured_s": 2e-3},
            {"group": "embedding", "predicted_s": 4e-4, "measured_s": 3e-4},
        ],
        "models": [{"model": "resnet50", "batch": 1, "predicted_s": 0.01, "measured_s": 0.02}],
        "machine": {"cpu": "cpu", "cpus": 2, "threads": {"blas": 2}, "date": "2024-01-01"},
    }
    ax = measured_vs_predicted(doc)
    points = [tuple(np.asarray(c.get_offsets())[0]) for c in ax.collections]
    assert points == [(1e-3, 2e-3), (4e-4, 3e-4), (0.01, 0.02)]
    # the y = x line over the points' range with a factor 2 of margin: 3e-4 / 2 to 0.02 * 2
    assert list(ax.get_lines()[0].get_xdata()) == pytest.approx([1.5e-4, 0.04])
