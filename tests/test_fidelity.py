"""Size-dependent efficiency curves, ``roofline calibrate`` and ``roofline validate``.

The curve tests derive their expectations from the interpolation formula of
:mod:`roofline.efficiency` (linear in log(size), clamped); calibrate and validate run in quick mode
and are checked for structure and provenance only (no timed assertions).
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import yaml

import roofline as rl
from roofline.cli.main import main
from roofline.curves import EfficiencyCurve, interpolate
from roofline.errors import SpecError
from roofline.fidelity.kernels import torch_suite
from roofline.fidelity.validate import not_run
from roofline.grid import stack
from roofline.knobs import vary


def _with_curves(hw: rl.Hardware, matrix=None, vector=None, main_level=None) -> rl.Hardware:
    """``hw`` with the given curve mappings set on its engines and main memory level."""
    data = hw.model_dump()
    for eng, c in (("matrix", matrix), ("vector", vector)):
        if c is not None:
            data["engines"][eng]["efficiency_curve"] = c
    if main_level is not None:
        data["memory"][hw.main_level]["efficiency_curve"] = main_level
    return rl.load_hardware(data)


# -- curves -------------------------------------------------------------------------------------


def test_interpolation_is_linear_in_log_size_and_clamped() -> None:
    c = EfficiencyCurve(size=(1e3, 1e6), efficiency=(0.2, 0.8))
    # eff(s) = 0.2 + 0.6 * ln(s / 1e3) / ln(1e6 / 1e3)
    for s in (1e4, 10**4.5, 2e5):
        assert c(s) == pytest.approx(0.2 + 0.6 * math.log(s / 1e3) / math.log(1e3))
    assert c(10**4.5) == pytest.approx(0.5)  # the geometric midpoint takes the mean
    assert interpolate(c, np.array([0.0, 1.0, 1e3, 1e6, 1e12])).tolist() == pytest.approx(
        [0.2, 0.2, 0.2, 0.8, 0.8]
    )


def test_three_point_curve_uses_the_segment_holding_the_size() -> None:
    c = EfficiencyCurve(size=(1e2, 1e4, 1e8), efficiency=(0.1, 0.5, 1.0))
    # 1e6 lies half way (in log) between 1e4 and 1e8
    assert c(1e6) == pytest.approx(0.75)
    assert c(1e3) == pytest.approx(0.3)


@pytest.mark.parametrize(
    "curve",
    [
        {"size": [1e6, 1e3], "efficiency": [0.5, 1.0]},  # not increasing
        {"size": [1e3, 1e6], "efficiency": [0.0, 1.0]},  # not in (0, 1]
        {"size": [1e3, 1e6], "efficiency": [0.5, 1.2]},
        {"size": [1e3, 1e6], "efficiency": [0.5]},  # lengths differ
        {"size": [-1.0, 1e6], "efficiency": [0.5, 1.0]},
    ],
)
def test_bad_curves_are_spec_errors(curve: dict) -> None:
    with pytest.raises(SpecError, match="efficiency_curve"):
        _with_curves(rl.load_hardware("a100_sxm4_80gb"), matrix=curve)


def test_single_linear_op_follows_the_formula() -> None:
    hw = rl.load_hardware("a100_sxm4_80gb")
    curved = _with_curves(hw, matrix={"size": [1e6, 1e12], "efficiency": [0.1, 1.0]})
    ops = [{"kind": "linear", "out_features": 1024, "bias": False}]
    spec = {
        "name": "fc",
        "family": "layers",
        "source": "test",
        "params": {"inputs": {"x": [1024]}, "ops": ops},
    }
    r = rl.evaluate(spec, curved, batch=4096, dtype="fp16")
    flops = 2.0 * 4096 * 1024 * 1024  # 2 M N K
    eff = 0.1 + 0.9 * math.log(flops / 1e6) / math.log(1e6)
    peak = hw.peak("matrix", "fp16") * hw.engines.matrix.efficiency
    assert r.bound[0, 0, 0] == 0  # compute bound
    assert r.time_s[0, 0, 0] == pytest.approx(flops / (peak * eff) + hw.overheads.per_op)
    assert r.ideal_time_s[0, 0, 0] == pytest.approx(flops / peak + hw.overheads.per_op)


def test_curves_never_speed_up_and_ideal_equals_the_plain_device() -> None:
    hw = rl.load_hardware("a100_sxm4_80gb")
    curved = _with_curves(
        hw,
        matrix={"size": [1e6, 1e10], "efficiency": [0.2, 0.9]},
        vector={"size": [1e4, 1e8], "efficiency": [0.3, 1.0]},
        main_level={"size": [1e5, 1e8], "efficiency": [0.4, 0.95]},
    )
    plain = rl.evaluate("resnet50", hw, batch=[1, 32])
    r = rl.evaluate("resnet50", curved, batch=[1, 32])
    assert np.all(r.time_s >= r.ideal_time_s)
    assert np.all(r.latency_s > r.ideal_latency_s)
    np.testing.assert_allclose(r.ideal_time_s, plain.time_s, rtol=1e-12)
    np.testing.assert_allclose(plain.ideal_latency_s, plain.latency_s)
    totals = r.totals()
    assert totals.column("ideal_latency_s") == pytest.approx(r.ideal_latency_s[0])


def test_grids_keep_the_base_curves_and_refuse_mixed_ones() -> None:
    hw = rl.load_hardware("a100_sxm4_80gb")
    curved = _with_curves(hw, main_level={"size": [1e5, 1e8], "efficiency": [0.5, 1.0]})
    grid = vary(curved, {"memory.main.bandwidth": ["1 TB/s", "2 TB/s", "4 TB/s"]})
    r = rl.evaluate("resnet50", grid, batch=8)
    assert np.all(r.time_s >= r.ideal_time_s)
    assert np.all(np.diff(r.latency_s[:, 0]) <= 0)  # more bandwidth never slows it
    assert grid.variant(1).memory[hw.main_level].efficiency_curve is not None
    with pytest.raises(SpecError, match="efficiency curves differ"):
        stack([curved, hw])


def test_gather_curve_slows_lookups_and_nothing_else() -> None:
    """A gather curve on HBM slows the embedding ops of a DLRM and leaves its other ops, a model
    without lookups and the ideal roofline unchanged."""
    hw = rl.load_hardware("a100_sxm4_80gb")
    data = hw.model_dump()
    data["memory"][hw.main_level]["gather_curve"] = {"size": [64, 4096], "efficiency": [0.2, 1.0]}
    gathered = rl.load_hardware(data)
    for model in ("resnet50", "dlrm_rm2"):
        plain = rl.evaluate(model, hw, batch=[1, 256])
        r = rl.evaluate(model, gathered, batch=[1, 256])
        np.testing.assert_allclose(r.ideal_time_s, plain.time_s, rtol=1e-12)
        tables = r.costs.is_table
        if model == "resnet50":
            assert not tables.any()
            np.testing.assert_allclose(r.time_s, plain.time_s, rtol=1e-12)
            continue
        assert np.all(r.time_s[..., tables] > plain.time_s[..., tables])
        np.testing.assert_allclose(r.time_s[..., ~tables], plain.time_s[..., ~tables], rtol=1e-12)


def test_index_sets_cycle_through_fresh_rows() -> None:
    from roofline.fidelity.machine import index_sets

    fresh = index_sets(rows=1000, per_call=10, table_bytes=1000 * 256.0)
    first = [fresh() for _ in range(100)]  # 100 sets of 10 rows x 256 B = the whole table
    assert all(a.shape == (10,) and a.min() >= 0 and a.max() < 1000 for a in first)
    assert len({a.tobytes() for a in first}) == 100
    assert np.array_equal(fresh(), first[0])  # then the cycle repeats
    tiny = index_sets(rows=10, per_call=10, table_bytes=10 * 256.0)
    assert np.array_equal(tiny(), tiny())  # a table one call covers needs one set


# -- calibrate and validate (quick) ---------------------------------------------------------------


@pytest.fixture(scope="module")
def calibrated(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = str(tmp_path_factory.mktemp("cal") / "here.yaml")
    assert main(["calibrate", "--quick", "-q", "-o", path]) == 0
    return path


def test_calibrate_writes_a_loadable_measured_spec(calibrated: str) -> None:
    hw = rl.load_hardware(calibrated)
    assert hw.name == "here"
    with open(calibrated, encoding="utf-8") as fh:
        data = yaml.safe_load(fh)
    sources = [data["source"], data["overheads"]["source"]]
    sources += [e["source"] for e in data["engines"].values()]
    sources += [lvl["source"] for lvl in data["memory"].values()]
    assert all(s.startswith("measured ") for s in sources)
    kinds = [lvl.kind for lvl in hw.memory.values()]
    assert kinds[-1] == "device" and set(kinds[:-1]) <= {"onchip"}
    levels = list(hw.memory.values())
    assert all(a.bandwidth >= b.bandwidth for a, b in zip(levels, levels[1:]))  # raised so
    assert {"fp32", "fp64"} <= set(hw.engines.matrix.peak)
    assert hw.overheads.per_op > 0
    for lvl in levels:  # random rows: measured, at the probe's row sizes, never slower if longer
        if (g := lvl.gather_curve) is not None:
            assert g.source.startswith("measured ") and set(g.size) <= {64, 256, 1024, 4096}
            assert list(g.efficiency) == sorted(g.efficiency)


def test_validate_quick_reports_the_documented_summary(calibrated: str, capsys) -> None:
    assert (
        main(["validate", "--hw", calibrated, "--quick", "--no-torch", "-q", "--format", "json"])
        == 0
    )
    doc = json.loads(capsys.readouterr().out)
    assert doc["machine"]["cpus"] >= 1 and doc["device"]["name"] == "here"
    groups = {k["group"] for k in doc["kernels"]}
    assert {"gemm", "gemv", "embedding", "elementwise"} <= groups
    for k in doc["kernels"]:
        assert k["measured_s"] > 0 and k["predicted_s"] > 0
        assert k["ratio"] == pytest.approx(k["measured_s"] / k["predicted_s"])
        assert k["predicted_s"] >= k["ideal_s"] * (1 - 1e-12)
    overall = doc["summary"][0]
    assert overall["subset"] == "all" and overall["kernels"] == len(doc["kernels"])
    for field in (
        "median_ratio",
        "p90_ratio",
        "lower_bound_share",
        "within_10pct_share",
        "ideal_median_ratio",
        "ideal_lower_bound_share",
    ):
        assert field in overall
    ratios = [k["ratio"] for k in doc["kernels"]]
    assert overall["median_ratio"] == pytest.approx(float(np.median(ratios)))
    assert overall["lower_bound_share"] == pytest.approx(np.mean(np.array(ratios) >= 1))


def test_validate_lists_what_it_leaves_out_and_why():
    """Without torch the torch kernels and both whole models are listed as not run, with the
    install command; with torch and --quick only the models are."""
    missing = not_run(with_torch=True, have_torch=False, quick=False, models=True)
    names = [r["name"] for r in missing]
    assert names == [k.name for k in torch_suite(False)] + ["model resnet50", "model dlrm_rm2"]
    assert all("roofline[torch]" in r["reason"] for r in missing)
    quick = not_run(with_torch=True, have_torch=True, quick=True, models=True)
    assert [r["name"] for r in quick] == ["model resnet50", "model dlrm_rm2"]
    assert not_run(with_torch=True, have_torch=True, quick=False, models=True) == []
    assert all("--no-torch" in r["reason"] for r in not_run(False, True, False, True))
