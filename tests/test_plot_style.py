"""Charts a person can read: they follow the active matplotlib style, keep legends off the data,
never draw one label over another, count integer work in OP/s, mark what does not fit, and the
sweep heat map draws every swept value in human units."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.collections import QuadMesh  # noqa: E402
from matplotlib.colors import to_rgba  # noqa: E402
from matplotlib.legend import Legend  # noqa: E402

import roofline as rl  # noqa: E402
from roofline import plot  # noqa: E402
from roofline.cli.main import main  # noqa: E402
from roofline.plot import energy as energy_charts  # noqa: E402
from roofline.plot.validation import measured_vs_predicted  # noqa: E402

PAPER = "hypothetical_100tops"
#: the README's sweep: 16 bandwidths (log-spaced) x 3 SRAM sizes x 2 batches
README_SWEEP = {
    "memory.hbm.bandwidth": np.geomspace(0.5e12, 8e12, 16),
    "memory.sram.capacity": [8 * 2**20, 32 * 2**20, 128 * 2**20],
}


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def _figure(obj):
    return getattr(obj, "figure", obj)


def table1_roofline():
    models = {"resnext101_32x4d": 1, "rec_paper": 100, "seq2seq_gru": 1}
    rs = [rl.evaluate(m, PAPER, batch=b, dtype="int8") for m, b in models.items()]
    return plot.roofline(rs, table1=True)


def breakdown_bars():
    rs = [rl.evaluate(m, d, batch=[1, 8], dtype="fp16") for m in ("resnet50", "rec_paper")
          for d in ("t4", "a100_sxm4_80gb")]  # fmt: skip
    return plot.breakdown(rs, by="category")


def heat_map():
    t = rl.sweep("resnet50", "a100_sxm4_80gb", README_SWEEP, batch=[1, 64], dtype="fp16")
    return plot.plot_sweep(t, "latency_s")


def sweep_lines():
    knobs = {"memory.hbm.bandwidth": np.geomspace(0.5e12, 8e12, 24)}
    t = rl.sweep(["resnet18", "resnet50"], "a100_sxm4_80gb", knobs, batch=[1, 16])
    return plot.plot_sweep(t, "throughput_per_s")


def batch_chart():
    r = rl.evaluate("resnet50", "t4", batch=[1, 2, 4, 8, 16, 32, 64], dtype="fp16")
    return plot.batch_scaling(r, target_s="5ms")


def energy_bars():
    return energy_charts.energy_breakdown(
        [rl.evaluate("resnet50", d, batch=[1, 16], dtype="fp16") for d in ("t4", "h100_sxm5")]
    )


def power_chart():
    return energy_charts.throughput_vs_power(
        [rl.evaluate("resnet50", d, batch=[1, 16], dtype="fp16") for d in ("t4", "h100_sxm5")]
    )


def validation_chart():
    doc = {
        "kernels": [
            {"group": "gemm", "predicted_s": 1e-3, "measured_s": 2e-3},
            {"group": "embedding", "predicted_s": 4e-4, "measured_s": 3e-4},
        ],
        "models": [{"model": "resnet50", "batch": 1, "predicted_s": 0.01, "measured_s": 0.02}],
        "machine": {"cpu": "cpu", "cpus": 2, "threads": {"blas": 2}, "date": "2024-01-01"},
    }
    return measured_vs_predicted(doc)


CHARTS = {
    "table1_roofline": table1_roofline,
    "breakdown": breakdown_bars,
    "heat_map": heat_map,
    "sweep_lines": sweep_lines,
    "batch_scaling": batch_chart,
    "energy_breakdown": energy_bars,
    "throughput_vs_power": power_chart,
    "validation": validation_chart,
    "embedding_study": lambda: rl.embedding_study().figure(),
    "engine_balance_study": lambda: rl.engine_balance_study().figure(),
    "onchip_memory_study": lambda: rl.onchip_memory_study(batches=(1, 4, 16)).figure(),
    "precision_study": lambda: rl.precision_study().figure(),
    "fleet_breakdown": lambda: rl.fleet_breakdown().figure(),
    "energy_study": lambda: rl.energy_study().figure(),
}


def drawn_texts(fig):
    """Every text the figure draws, after a draw: tick labels inside the view, axis labels,
    titles, annotations, legend entries and titles, figure titles and legends."""
    fig.canvas.draw()
    out = [t for t in fig.texts]
    if fig._suptitle is not None:
        out.append(fig._suptitle)
    for leg in fig.legends:
        out += [*leg.get_texts(), leg.get_title()]
    for ax in fig.axes:
        if not ax.get_visible():
            continue
        out += [ax.title, ax._left_title, ax._right_title, *ax.texts]
        for axis in (ax.xaxis, ax.yaxis):
            out.append(axis.label)
            lo, hi = sorted(axis.get_view_interval())
            span = (hi - lo) * 1e-9
            for tick in axis.get_major_ticks() + axis.get_minor_ticks():
                if lo - span <= tick.get_loc() <= hi + span:
                    out += [lab for lab in (tick.label1, tick.label2) if lab.get_visible()]
        for child in ax.get_children():
            if isinstance(child, Legend):
                out += [*child.get_texts(), child.get_title()]
    return [t for t in out if t.get_visible() and t.get_text().strip()]


def _corners(text, renderer):
    """The four corners, in display pixels, of the rectangle a text's glyphs fill (turned with
    the text: a slanted tick label's own box, not the upright box around it)."""
    box = text.get_window_extent(renderer)
    angle = text.get_rotation()
    if angle % 90 == 0:
        return np.array([[box.x0, box.y0], [box.x1, box.y0], [box.x1, box.y1], [box.x0, box.y1]])
    text.set_rotation(0)
    w, h = text.get_window_extent(renderer).size
    text.set_rotation(angle)
    # the upright box around a turned rectangle is centered on it
    c, a = np.array([box.x0 + box.x1, box.y0 + box.y1]) / 2, np.radians(angle)
    turn = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    half = np.array([[-w, -h], [w, -h], [w, h], [-w, h]]) / 2
    return c + half @ turn.T


def _overlap(p, q, margin=0.5):
    """Whether convex quadrilaterals ``p`` and ``q`` overlap by more than ``margin`` pixels
    (separating axis theorem over both shapes' edge normals)."""
    for shape in (p, q):
        for i in range(4):
            edge = shape[(i + 1) % 4] - shape[i]
            normal = np.array([-edge[1], edge[0]]) / np.hypot(*edge)
            a, b = p @ normal, q @ normal
            if a.max() - margin <= b.min() or b.max() - margin <= a.min():
                return False
    return True


def overlapping(fig):
    """Pairs of drawn texts whose glyph rectangles overlap (by more than half a pixel)."""
    renderer = fig.canvas.get_renderer()
    texts = list({id(t): t for t in drawn_texts(fig)}.values())
    rects = [_corners(t, renderer) for t in texts]
    return [
        (texts[i].get_text(), texts[k].get_text())
        for i in range(len(texts))
        for k in range(i + 1, len(texts))
        if _overlap(rects[i], rects[k])
    ]


@pytest.mark.parametrize("name", list(CHARTS))
def test_no_label_overlaps_another(name):
    fig = _figure(CHARTS[name]())
    assert overlapping(fig) == []


@pytest.mark.parametrize("name", list(CHARTS))
def test_legends_sit_outside_the_data(name):
    fig = _figure(CHARTS[name]())
    fig.canvas.draw()
    for ax in fig.axes:
        frame = ax.get_window_extent().shrunk(1.0, 1.0).padded(-1.0)
        for child in ax.get_children():
            if isinstance(child, Legend) and child.get_visible():
                assert not child.get_window_extent().overlaps(frame), (name, ax.get_title())


def _colors(fig):
    """Every color a line, text, marker or patch of the figure is drawn in (images and the heat
    map's color mesh aside); edges in the axes' own face color (the white gaps between stacked
    bars on a light style) are the background, not a drawing."""
    out = []
    for ax in fig.axes:
        face = to_rgba(ax.get_facecolor())
        edges = []
        for line in ax.get_lines():
            out.append(line.get_color())
            edges.append(line.get_markeredgecolor())
        for c in ax.collections:
            if not isinstance(c, QuadMesh):
                out += list(c.get_facecolors())
                edges += list(c.get_edgecolors())
        edges += [p.get_edgecolor() for p in ax.patches]
        out += [e for e in edges if to_rgba(e)[:3] != face[:3]]
    out += [t.get_color() for t in drawn_texts(fig)]
    return [to_rgba(c) for c in out]


@pytest.mark.parametrize("name", list(CHARTS))
def test_charts_follow_a_dark_style(name):
    # under dark_background the text color is white; a hard-coded black roof, star, mark or
    # label would vanish into the black face
    with plt.style.context("dark_background"):
        fig = _figure(CHARTS[name]())
        black = [c for c in _colors(fig) if c[3] > 0 and max(c[:3]) < 0.15]
        assert black == []


def test_roofs_take_the_styles_foreground():
    r = rl.evaluate("resnet50", PAPER, batch=1, dtype="int8")
    with plt.style.context("dark_background"):
        ax = plot.roofline(r)
        flat = [line for line in ax.get_lines() if np.ptp(line.get_ydata()) == 0]
        assert flat and all(to_rgba(line.get_color()) == to_rgba("white") for line in flat)
        assert to_rgba(ax.texts[0].get_color())[:3] == (1.0, 1.0, 1.0)


def _roof_labels(ax):
    legends = [c for c in ax.get_children() if isinstance(c, Legend)]
    roofs = next(leg for leg in legends if leg.get_title().get_text() == "roofs")
    return [t.get_text() for t in roofs.get_texts()]


def test_integer_roofs_say_top_per_s_and_float_roofs_tflop_per_s():
    int8 = _roof_labels(plot.roofline(rl.evaluate("resnet50", PAPER, batch=1, dtype="int8")))
    # the paper's accelerator: 100 TOP/s int8 matrix engine, 4 TOP/s vector engine (its YAML)
    assert "matrix engine 100 TOP/s (int8)" in int8 and "vector engine 4 TOP/s (int8)" in int8
    fp16 = _roof_labels(plot.roofline(rl.evaluate("resnet50", "t4", batch=1, dtype="fp16")))
    assert any(t.startswith("matrix engine") and "TFLOP/s (fp16)" in t for t in fp16)


def test_the_engine_study_counts_int8_work_in_op_per_s():
    fig = rl.engine_balance_study().figure()  # on the paper's accelerator at int8
    ax = fig.axes[0]
    fig.canvas.draw()
    assert ax.get_xlabel().endswith("(int8, OP/s)")
    ticks = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
    assert ticks and all(t.endswith("OP/s") and "FLOP" not in t for t in ticks)


def test_legends_do_not_hide_ridge_points():
    # each memory roof meets the matrix roof at intensity peak / bandwidth: no legend covers it
    ax = table1_roofline()
    ax.figure.canvas.draw()
    hw = rl.load_hardware(PAPER)
    peak = hw.peak("matrix", "int8")
    legends = [c.get_window_extent() for c in ax.get_children() if isinstance(c, Legend)]
    for level in hw.memory.values():
        x, y = ax.transData.transform((peak / level.bandwidth, peak))
        assert not any(b.contains(x, y) for b in legends)


def test_a_model_that_does_not_fit_is_a_hollow_star():
    # Llama-2-70B's fp16 weights (140 GB) exceed a T4's 16 GB
    r = rl.evaluate("llama2_70b", "t4", batch=1, dtype="fp16")
    assert not r.feasible[0, 0]
    ax = plot.roofline(r)
    stars = [c for c in ax.collections if c.get_paths() and len(c.get_offsets()) == 1]
    assert any(len(c.get_facecolors()) == 0 for c in stars)
    needed = int(r.devices_needed[0, 0])
    assert any(f"does not fit: {needed} devices" in t.get_text() for t in ax.texts)


def test_sweep_points_that_do_not_fit_are_crossed_out():
    # 0.1 GB to 100 GB of HBM: Llama-2-7B's 13.5 GB of fp16 weights fit only the larger ones
    caps = [1e8, 1e9, 1e10, 1e11]
    t = rl.sweep("llama2_7b", "a100_sxm4_80gb", {"memory.hbm.capacity": caps}, dtype="fp16")
    bad = ~t.column("feasible").astype(bool)
    assert 0 < bad.sum() < len(caps)
    ax = plot.plot_sweep(t, "latency_s").axes[0]
    crosses = [line for line in ax.get_lines() if line.get_marker() == "x"]
    assert len(crosses) == 1
    np.testing.assert_array_equal(crosses[0].get_xdata(), np.asarray(caps)[bad])


def test_batches_that_do_not_fit_are_crossed_out():
    # Llama-2-7B on a T4 (16 GB): 13.5 GB of fp16 weights fit; the KV cache of a large batch of
    # long contexts does not
    r = rl.evaluate("llama2_7b", "t4", batch=[1, 64, 256], dtype="fp16")
    bad = ~r.feasible[0]
    assert bad.any() and not bad.all()
    ax = plot.batch_scaling(r)
    cross = next(line for line in ax.get_lines() if line.get_marker() == "x")
    np.testing.assert_array_equal(cross.get_xdata(), r.costs.batch[bad])


def test_heat_map_draws_every_swept_value_in_a_panel_per_batch():
    fig = heat_map()
    panels = [ax for ax in fig.axes if ax.get_title()]  # the color bars have none
    assert [ax.get_title() for ax in panels] == [
        "resnet50, batch 1, fp16",
        "resnet50, batch 64, fp16",
    ]
    bw, sram = README_SWEEP["memory.hbm.bandwidth"], README_SWEEP["memory.sram.capacity"]
    for ax in panels:
        mesh = next(c for c in ax.collections if isinstance(c, QuadMesh))
        assert mesh.get_array().shape == (3, 16)  # three SRAM rows, sixteen bandwidth columns
        assert not np.ma.getmaskarray(mesh.get_array()).any()
        corners = mesh.get_coordinates()
        ye, xe = corners[:, 0, 1], corners[0, :, 0]
        assert (ye > 0).all() and (xe > 0).all()
        # geometric cells on log axes: every inner edge is its neighbours' geometric mean
        np.testing.assert_allclose(ye[1:-1], np.sqrt(np.multiply(sram[1:], sram[:-1])))
        np.testing.assert_allclose(xe[1:-1], np.sqrt(bw[1:] * bw[:-1]))
        assert ax.get_xscale() == "log" and ax.get_yscale() == "log"


def test_heat_map_axes_read_in_human_units():
    fig = heat_map()
    ax = fig.axes[0]
    fig.canvas.draw()
    ys = [t.get_text() for t in ax.get_yticklabels() if t.get_text()]
    xs = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
    assert ys == ["8 MiB", "32 MiB", "128 MiB"]
    assert xs and all(x.endswith(("GB/s", "TB/s")) for x in xs) and xs[0] == "500 GB/s"


def test_heat_map_batch_selector_draws_one_panel():
    t = rl.sweep("resnet50", "a100_sxm4_80gb", README_SWEEP, batch=[1, 64], dtype="fp16")
    _, ax = plt.subplots()
    plot.plot_sweep(t, "latency_s", ax=ax, batch=64)
    mesh = next(c for c in ax.collections if isinstance(c, QuadMesh))
    lat = t.column("latency_s")[t.column("batch") == 64]
    assert np.sort(mesh.get_array().compressed()) == pytest.approx(np.sort(lat))
    with pytest.raises(rl.SpecError, match="batch"):
        plot.plot_sweep(t, "latency_s", ax=ax)
    with pytest.raises(rl.SpecError, match="batch 3 was not swept"):
        plot.plot_sweep(t, "latency_s", batch=3)


def test_the_cli_draws_in_a_style_and_names_a_bad_one(tmp_path, capsys):
    out = tmp_path / "dark.png"
    argv = ["plot", "roofline", "resnet50", "--hw", PAPER, "--style", "dark_background"]
    assert main([*argv, "-o", str(out)]) == 0
    corner = plt.imread(str(out))[2, 2, :3]
    assert corner.max() < 0.1  # the dark style's black face, not the default white
    assert main(["plot", "roofline", "resnet50", "--hw", PAPER, "--style", "neon", "-o",
                 str(tmp_path / "x.png")]) == 2  # fmt: skip
    err = capsys.readouterr().err
    assert "--style: unknown matplotlib style 'neon'" in err and "dark_background" in err
    assert not (tmp_path / "x.png").exists()
