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


# -- what does not fit has no value: the batch chart and sweep charts --------------------------


def _crosses(ax):
    return [line for line in ax.get_lines() if line.get_marker() == "x"]


def _at_axes_bottom(ax, line):
    """Whether ``line`` is drawn with x in data and y in axes coordinates, low in the axes."""
    xy = np.c_[line.get_xdata(), line.get_ydata()]
    same = np.allclose(line.get_transform().transform(xy), ax.get_xaxis_transform().transform(xy))
    return same and bool(np.all((xy[:, 1] >= 0) & (xy[:, 1] < 0.5)))


def test_batch_chart_marks_the_batch_the_sla_search_finds():
    # Llama-2-7B on a T4 under 2 s: batches 4 and up do not fit (their KV cache), though their
    # latency is under the target; compare --sla and batches_under_sla say 3, so must the chart
    found = rl.batches_under_sla("llama2_7b", "t4", "2s")
    assert found.max_batch_under_sla == 3
    grid = sorted({1, 2, 4, 8, 16, 32, 64, 128, 256, found.max_batch_under_sla})
    r = rl.evaluate("llama2_7b", "t4", batch=grid)
    assert (r.latency_s[0, ~r.feasible[0]] <= 2.0).any()
    ax = plot.batch_scaling(r, target_s="2s")
    note = next(t.get_text() for t in ax.texts if "largest batch" in t.get_text())
    assert note.startswith("largest batch under target: 3\n")
    assert "  " not in note and note.endswith(" samples/s)")


def test_batch_chart_draws_no_time_for_a_batch_that_does_not_fit():
    r = rl.evaluate("llama2_7b", "t4", batch=[1, 2, 64, 256])
    bad = ~r.feasible[0]
    assert bad.any() and not bad.all()
    ax = plot.batch_scaling(r)
    latency, throughput = ax.get_lines()[0], ax.figure.axes[1].get_lines()[0]
    for line in (latency, throughput):  # a gap, never a value, where the batch does not fit
        y = np.asarray(line.get_ydata(), dtype=float)
        assert np.isnan(y[bad]).all() and np.isfinite(y[~bad]).all()
    (cross,) = _crosses(ax)
    np.testing.assert_array_equal(cross.get_xdata(), r.costs.batch[bad])
    assert _at_axes_bottom(ax, cross)


def test_sweep_line_crosses_what_does_not_fit_and_keeps_its_tick():
    # a T4 with 4 to 32 GiB: Llama-2-7B's 13.5 GB of fp16 weights need 16 GiB
    caps = [4 * 2**30, 8 * 2**30, 16 * 2**30, 32 * 2**30]
    t = rl.sweep("llama2_7b", "t4", {"memory.dram.capacity": caps})
    bad = ~t.column("feasible").astype(bool)
    assert list(bad) == [True, True, False, False]
    ax = plot.plot_sweep(t, "latency_s").axes[0]
    (cross,) = _crosses(ax)
    np.testing.assert_array_equal(cross.get_xdata(), np.asarray(caps)[bad])
    assert _at_axes_bottom(ax, cross)
    lo, hi = ax.get_xlim()
    assert lo < caps[0] and caps[-1] < hi  # every swept value stays on the axis
    assert np.isnan(np.asarray(ax.get_lines()[0].get_ydata(), dtype=float)[bad]).all()


def test_sweep_where_nothing_fits_shows_its_axis_and_says_so():
    caps = [2 * 2**30, 4 * 2**30, 8 * 2**30]
    t = rl.sweep("llama2_7b", "t4", {"memory.dram.capacity": caps})
    assert not t.column("feasible").astype(bool).any()
    ax = plot.plot_sweep(t, "latency_s").axes[0]
    (cross,) = _crosses(ax)
    np.testing.assert_array_equal(cross.get_xdata(), caps)
    assert _at_axes_bottom(ax, cross)
    lo, hi = ax.get_xlim()
    assert lo < caps[0] and caps[-1] < hi
    assert any("no point fits" in x.get_text() for x in ax.texts)
    assert list(ax.get_yticks()) == []  # no latency scale around nothing


def _best(t, metric, knobs, pick):
    """Per distinct knob values: ``pick`` (min or max) of ``metric`` over the layouts that fit."""
    ok = t.column("feasible").astype(bool)
    cols = [t.column(k).astype(float) for k in knobs]
    v = t.column(metric).astype(float)
    out = {}
    for point in sorted(set(zip(*cols))):
        here = ok & np.all([c == p for c, p in zip(cols, point)], axis=0)
        out[point] = pick(v[here])
    return out


def test_sweep_of_several_layouts_draws_the_best_layout_per_point():
    t = rl.sweep("llama2_70b", "dgx_h100", {"count": [2, 8]}, all_layouts=True, batch=1)
    assert len(t) > 2  # several layouts per count
    ax = plot.plot_sweep(t, "latency_s").axes[0]
    data = [line for line in ax.get_lines() if line.get_marker() == "o"]
    assert len(data) == 1
    best = _best(t, "latency_s", ["count"], np.min)
    np.testing.assert_array_equal(data[0].get_xdata(), [2, 8])
    np.testing.assert_allclose(data[0].get_ydata(), [best[(2.0,)], best[(8.0,)]])
    assert "best layout per point (lowest latency)" in ax.get_title()
    names = {x.get_text() for x in ax.texts}
    assert {"tp2 pp1 ep1 dp1", "tp8 pp1 ep1 dp1"} <= names
    # throughput: the highest
    ax = plot.plot_sweep(t, "throughput_per_s").axes[0]
    best = _best(t, "throughput_per_s", ["count"], np.max)
    np.testing.assert_allclose(ax.get_lines()[0].get_ydata(), [best[(2.0,)], best[(8.0,)]])


def test_heat_map_of_several_layouts_takes_the_best_per_cell():
    from matplotlib.collections import QuadMesh

    knobs = {"count": [2, 8], "interconnect.nvlink.bandwidth": [1e11, 4.5e11]}
    # at batch 64 the last layout of a 2-device variant does not fit, while others do
    t = rl.sweep("llama2_70b", "dgx_h100", knobs, all_layouts=True, batch=64)
    fig = plot.plot_sweep(t, "latency_s")
    mesh = next(c for c in fig.axes[0].collections if isinstance(c, QuadMesh))
    z = np.asarray(mesh.get_array()).reshape(2, 2)  # rows: bandwidth; columns: count
    best = _best(t, "latency_s", list(knobs), np.min)
    for (count, bw), v in best.items():
        assert np.isfinite(v)
        assert z[[1e11, 4.5e11].index(bw), [2, 8].index(count)] == pytest.approx(v, rel=1e-12)
    assert "best layout per point" in fig.axes[0].get_title()
