"""Sweeps over systems: each row equals evaluating that variant directly; knobs resize and
re-link the system; bad knobs are one SpecError."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import roofline as rl
from roofline.errors import SpecError
from roofline.systems.spec import System
from roofline.systems.variants import resized, system_variants


def test_each_row_equals_evaluating_that_variant():
    knobs = {"interconnect.nvlink.bandwidth": ["100 GB/s", "900 GB/s"], "count": [4, 8]}
    t = rl.sweep("llama2_7b", "dgx_h100", knobs, batch=[1, 8], dtype="fp16", tp=[2, 4])
    assert len(t) == 2 * 2 * 2 * 2  # bandwidth x count x tp x batch
    cols, variants = system_variants(rl.load_hardware("dgx_h100"), knobs)
    for i, v in enumerate(variants):
        direct = rl.evaluate("llama2_7b", v, batch=[1, 8], dtype="fp16", tp=[2, 4])
        bw = "interconnect.nvlink.bandwidth"
        rows = [r for r in t if r["count"] == cols["count"][i] and r[bw] == cols[bw][i]]
        got = np.array([r["latency_s"] for r in rows]).reshape(2, 2)
        np.testing.assert_allclose(got, direct.latency_s, rtol=1e-12)


def test_more_bandwidth_never_slows_a_layout():
    bws = [25e9, 100e9, 450e9, 1800e9]
    t = rl.sweep("llama2_70b", "dgx_h100", {"interconnect.nvlink.bandwidth": bws},
                 batch=[1, 64], dtype="fp16", tp=8)  # fmt: skip
    lat = np.array([r["latency_s"] for r in t]).reshape(len(bws), 2)
    assert np.all(np.diff(lat, axis=0) <= 0)
    assert lat[0, 1] > lat[-1, 1]  # the link matters at batch 64


def test_all_layouts_cover_every_filling_layout():
    t = rl.sweep("llama2_7b", "dgx_h100", {"count": [2, 4]}, batch=1, dtype="fp16",
                 all_layouts=True)  # fmt: skip
    by_count = {c: {(r["tp"], r["pp"], r["dp"]) for r in t if r["count"] == c} for c in (2, 4)}
    assert by_count[2] == {(1, 1, 2), (1, 2, 1), (2, 1, 1)}
    assert all(tp * pp * dp == 4 for tp, pp, dp in by_count[4]) and len(by_count[4]) == 6


def test_all_layouts_split_a_long_prefill_over_context_parallel_ranks():
    """A decoder's 4096-token prefill: every layout the layout search tries, cp 2 and 4 (each
    rank at least 1024 tokens) included, as rl.evaluate gives each."""
    m = rl.load_model("llama2_7b", phase="prefill", seq_len=4096)
    t = rl.sweep(m, "dgx_h100", {"count": [4]}, batch=1, dtype="fp16", all_layouts=True)
    got = {(r["tp"], r["pp"], r["cp"], r["dp"]) for r in t}
    assert {(1, 1, 4, 1), (2, 1, 2, 1), (1, 2, 2, 1)} <= got
    assert all(tp * pp * cp * dp == 4 for tp, pp, cp, dp in got)
    row = next(r for r in t if (r["tp"], r["pp"], r["cp"]) == (1, 1, 4))
    four = resized(rl.load_hardware("dgx_h100"), 4)
    direct = rl.evaluate(m, four, batch=1, dtype="fp16", tp=1, pp=1, cp=4)
    assert row["latency_s"] == pytest.approx(float(direct.latency_s[0, 0]), rel=1e-12)


def test_resizing_keeps_fast_levels_and_cuts_a_torus():
    two = rl.load_hardware("2x_dgx_h100")
    assert isinstance(two, System)
    assert list(resized(two, 8).interconnect) == ["nvlink"]
    assert resized(two, 32).interconnect["infiniband"].devices == 32
    torus = rl.load_hardware("tpu_v5p_pod_slice")
    assert isinstance(torus, System)
    assert resized(torus, 16).interconnect["ici"].dims == (2, 2, 4)
    assert resized(torus, 6).interconnect["ici"].topology == "ring"
    assert resized(two, 1).interconnect == {}


@pytest.mark.parametrize(
    ("knobs", "field"),
    [
        ({"interconnect.pcie.bandwidth": [1e9]}, "interconnect.pcie.bandwidth"),
        ({"count": [0]}, "count"),
        ({"count": [2.5]}, "count"),
        ({"links": [1]}, "links"),
        ({"interconnect.nvlink.bandwidth": [-1]}, "interconnect.nvlink.bandwidth"),
    ],
)
def test_bad_system_knobs_are_one_spec_error(knobs, field):
    with pytest.raises(SpecError) as e:
        rl.sweep("llama2_7b", "dgx_h100", knobs, dtype="fp16")
    assert field in str(e.value)


def test_the_link_energy_charges_the_collectives_and_is_read_on_a_system():
    """A tensor-parallel layout's all-reduces cost link energy (they used to be dropped: only
    pipeline hops were charged, and tp=8 pp=1 has none), and varying it on a system is no unread
    knob."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", rl.UnreadKnobWarning)
        t = rl.sweep(
            "llama2_7b",
            "dgx_h100",
            {"device.power.interconnect": ["0 J/B", "1 nJ/B", "2 nJ/B"]},
            batch=8,
            dtype="fp16",
            tp=8,
        )
    e0, e1, e2 = t.column("energy_per_sample_j")
    assert e1 > e0  # the all-reduces' bytes are charged
    assert e2 - e1 == pytest.approx(e1 - e0, rel=1e-9)  # linear in joules per byte


@pytest.mark.parametrize(
    ("counts", "degrees", "match"),
    [
        # no variant can host tp=8: the table used to be empty
        ([4], {"tp": 8}, r"^tp: tp=8 x pp=1 does not divide the system's 4 devices"),
        ([2, 4], {"tp": 8}, r"^tp: no variant of dgx_h100 \(2, 4 devices\) can run the layout"),
        ([4, 8], {"tp": 3}, r"^tp: no variant of dgx_h100 \(4, 8 devices\) can run the layout"),
        # a layout the model cannot split: rl.evaluate's words, though a variant has 4 devices
        ([3, 4], {"tp": 3}, r"^tp: tp=3 does not divide the 32 attention heads"),
        ([4, 8], {"ep": 2}, r"^ep: ep=2 but llama2_7b has no mixture-of-experts layer"),
        # a bad degree is an error for every variant
        ([4, 8], {"tp": 0}, r"^tp: tp=0 must be a whole number >= 1"),
        ([4, 8], {"tp": []}, r"^tp: tp is empty"),
        ([4, 8], {"pp": [2, True]}, r"^pp: pp=True must be a whole number >= 1"),
    ],
)
def test_a_layout_no_variant_can_run_is_one_spec_error(counts, degrees, match):
    with pytest.raises(SpecError, match=match):
        rl.sweep("llama2_7b", "dgx_h100", {"count": counts}, dtype="fp16", **degrees)


def test_the_model_refusing_a_layout_is_evaluates_error():
    three = resized(rl.load_hardware("dgx_h100"), 3)
    with pytest.raises(SpecError) as direct:
        rl.evaluate("llama2_7b", three, dtype="fp16", tp=3)
    with pytest.raises(SpecError) as swept:
        rl.sweep("llama2_7b", "dgx_h100", {"count": [3, 4]}, dtype="fp16", tp=3)
    assert str(swept.value) == str(direct.value)


def test_variants_that_cannot_host_the_layout_are_skipped():
    t = rl.sweep("llama2_7b", "dgx_h100", {"count": [2, 4, 8]}, batch=[1, 8], dtype="fp16", tp=4)
    assert sorted(set(t.column("count"))) == [4, 8] and len(t) == 2 * 2


def test_cli_sweep_a_layout_no_variant_can_run_exits_2_and_writes_nothing(tmp_path, capsys):
    from roofline.cli.main import main

    out = tmp_path / "x.csv"
    argv = ["sweep", "llama2_7b", "--hw", "dgx_h100", "--tp", "8", "--vary", "count=4", "-q"]
    assert main([*argv, "-o", str(out)]) == 2  # it wrote a file of the header alone
    err = capsys.readouterr().err
    assert err.startswith("roofline: error: tp: ") and err.count("\n") == 1
    assert not out.exists()
    assert main([*argv[:5], "3", "--vary", "count=4,8", "-q"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("roofline: error: tp: ") and err.count("\n") == 1


def test_infeasible_system_points_have_no_energy_or_cost():
    """A layout that does not fit has no time, energy, power or cost (NaN), in a system sweep
    as in a device sweep and in evaluate's totals."""
    t = rl.sweep("llama2_70b", "dgx_h100", {"count": [2, 8]}, batch=64, dtype="fp16",
                 all_layouts=True)  # fmt: skip
    rows = list(t)
    bad = [r for r in rows if not r["feasible"]]
    good = [r for r in rows if r["feasible"]]
    assert bad and good
    cols = ("energy_per_sample_j", "avg_power_w", "samples_per_j", "capped_throughput_per_s",
            "cost_per_1m_samples")  # fmt: skip

    def empty(v):  # NaN (None where a table stores a missing value as None)
        return v is None or bool(np.isnan(v))

    for r in bad:
        assert all(empty(r[k]) for k in cols), r
    for r in good:
        assert all(np.isfinite(r[k]) and r[k] > 0 for k in cols), r
    res = rl.evaluate("llama2_70b", "dgx_h100", batch=64, dtype="fp16", tp=[1, 8])
    assert not res.feasible.all() and res.feasible.any()
    for row, ok in zip(res.totals(), res.feasible.ravel()):
        assert empty(row["cost_per_1m_samples"]) != bool(ok)
