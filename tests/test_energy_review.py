"""Energy review: sensitivity under the power cap, the energy study's reference dtype and its
infeasible points, and a fix for every hostile ``cost.pue``, ``cost`` and ``power``.

Each expected number is worked out here from the formulas of docs/energy.md (capped latency =
max(T, E_dyn / (TDP - P_idle)); saving = 1 - E / E_reference), from the uncapped latency and
the joules of one evaluation, never read back from the code under test."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import yaml  # noqa: E402
from cli_errors import one_line  # noqa: E402

import roofline as rl  # noqa: E402
from roofline.cli.main import main  # noqa: E402
from roofline.errors import SpecError  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]

# -- 1. sensitivity ranks power, energy and cost knobs by the power-capped latency --------------

CAPPED = dict(model="bert_large", hw="a100_sxm4_80gb", batch=64, dtype="fp16")
ENERGY_KNOBS = ["power.tdp", "power.idle", "memory.hbm.energy", "engines.matrix.energy.fp16"]


@pytest.fixture(scope="module")
def capped_run():
    """bert_large at batch 64 on an A100 (fp16): the power cap binds (docs/energy.md)."""
    c = CAPPED
    return rl.evaluate(c["model"], c["hw"], batch=c["batch"], dtype=c["dtype"])


@pytest.fixture(scope="module")
def capped_table():
    c = CAPPED
    t = rl.sensitivity(c["model"], c["hw"], batch=c["batch"], dtype=c["dtype"], knobs=ENERGY_KNOBS)
    return {r["knob"]: r for r in t}


def _capped(latency: float, dynamic_j: float, tdp: float, idle: float) -> float:
    """The power roof by hand: max(T, E_dyn / (TDP - P_idle))."""
    return max(latency, dynamic_j / (tdp - idle))


def test_power_and_energy_knobs_move_a_capped_run(capped_run, capped_table):
    hw = rl.load_hardware(CAPPED["hw"])
    tdp, idle = hw.power.tdp, hw.power.idle
    lat = float(capped_run.latency_s[0, 0])  # uncapped
    dyn = float(capped_run.dynamic_energy_j[0, 0])
    hbm = capped_run.grid.level_names.index("hbm")
    hbm_j = float(capped_run.bytes_moved[0, 0, :, hbm].sum()) * hw.memory["hbm"].energy
    mat_j = float(capped_run.costs.flops_matrix.sum()) * hw.engines.matrix.energy["fp16"]
    base = _capped(lat, dyn, tdp, idle)
    assert base > lat  # the cap binds
    want = {  # knob: (improved, degraded) capped latency, by hand
        "power.tdp": (_capped(lat, dyn, 2 * tdp, idle), _capped(lat, dyn, tdp / 2, idle)),
        "power.idle": (_capped(lat, dyn, tdp, idle / 2), _capped(lat, dyn, tdp, 2 * idle)),
        "memory.hbm.energy": (
            _capped(lat, dyn - hbm_j / 2, tdp, idle),
            _capped(lat, dyn + hbm_j, tdp, idle),
        ),
        "engines.matrix.energy.fp16": (
            _capped(lat, dyn - mat_j / 2, tdp, idle),
            _capped(lat, dyn + mat_j, tdp, idle),
        ),
    }
    for knob, (up, down) in want.items():
        r = capped_table[knob]
        assert r["base_latency_s"] == pytest.approx(base, rel=1e-9), knob
        assert r["base_bound"] == "power", knob
        assert r["improved_latency_s"] == pytest.approx(up, rel=1e-9), knob
        assert r["degraded_latency_s"] == pytest.approx(down, rel=1e-9), knob
        assert r["improved_speedup"] == pytest.approx(base / up, rel=1e-9), knob
        assert r["degraded_speedup"] == pytest.approx(base / down, rel=1e-9), knob
        assert r["degraded_speedup"] < 1 and r["degraded_bound"] == "power", knob
    # the figures docs/energy.md quotes (Where it shows: sensitivity)
    assert (round(1e3 * base, 1), round(1e3 * lat, 1)) == (56.7, 54.8)
    assert round(1e3 * dyn / (tdp / 2 - idle)) == 151
    # halving the TDP: the floor E_dyn / (200 W - 80 W) alone sets the time
    assert capped_table["power.tdp"]["degraded_latency_s"] == pytest.approx(dyn / 120.0)
    assert capped_table["power.tdp"]["improved_speedup"] > 1


def test_a_rate_knob_on_a_capped_run_is_ranked_by_the_capped_latency(capped_run):
    c = CAPPED
    t = rl.sensitivity(
        c["model"], c["hw"], batch=c["batch"], dtype=c["dtype"], knobs=["memory.hbm.bandwidth"]
    )
    r = t[0]
    hw = rl.load_hardware(c["hw"])
    bw = hw.memory["hbm"].bandwidth
    dyn = float(capped_run.dynamic_energy_j[0, 0])  # bandwidth moves no joule
    floor = dyn / (hw.power.tdp - hw.power.idle)
    for side, value in (("improved", 2 * bw), ("degraded", bw / 2)):
        dev = rl.vary(hw, {"memory.hbm.bandwidth": [value]}).variant(0)
        lat = float(
            rl.evaluate(c["model"], dev, batch=c["batch"], dtype=c["dtype"]).latency_s[0, 0]
        )
        assert r[f"{side}_latency_s"] == pytest.approx(max(lat, floor), rel=1e-9)


def _evaluated_latency(model: str, hw: rl.Hardware, batch: int, dtype: str, knob: str, v: float):
    dev = rl.vary(hw, {knob: [v]}).variant(0)
    return float(rl.evaluate(model, dev, batch=batch, dtype=dtype).latency_s[0, 0])


def test_an_uncapped_run_keeps_the_uncapped_latencies():
    """dlrm_rm2 at batch 64 on an A100 is launch-bound and under its TDP: every figure is the
    plain latency of the varied device, as before."""
    hw = rl.load_hardware("a100_sxm4_80gb")
    r0 = rl.evaluate("dlrm_rm2", hw, batch=64, dtype="fp16")
    assert not bool(r0.power_capped[0, 0])
    knobs = ["memory.hbm.bandwidth", "overheads.per_op"]
    t = rl.sensitivity("dlrm_rm2", hw, batch=64, dtype="fp16", knobs=knobs)
    rows = {r["knob"]: r for r in t}
    assert rows["memory.hbm.bandwidth"]["base_latency_s"] == pytest.approx(
        float(r0.latency_s[0, 0])
    )
    assert rows["memory.hbm.bandwidth"]["base_bound"] == str(r0.dominant_bound()[0, 0])
    bw, per_op = hw.memory["hbm"].bandwidth, hw.overheads.per_op
    want = {
        "memory.hbm.bandwidth": (2 * bw, bw / 2),
        "overheads.per_op": (per_op / 2, 2 * per_op),
    }
    for knob, (up, down) in want.items():
        up_lat = _evaluated_latency("dlrm_rm2", hw, 64, "fp16", knob, up)
        down_lat = _evaluated_latency("dlrm_rm2", hw, 64, "fp16", knob, down)
        assert rows[knob]["improved_latency_s"] == pytest.approx(up_lat, rel=1e-12)
        assert rows[knob]["degraded_latency_s"] == pytest.approx(down_lat, rel=1e-12)


def _without_energy(name: str) -> rl.Hardware:
    """Device ``name`` with its energy model taken out (no power, cost or energy figures)."""
    spec = yaml.safe_load((ROOT / "hw_specs" / f"{name}.yaml").read_text())
    spec["name"] = f"{name}_no_energy"
    spec.pop("power", None)
    spec.pop("cost", None)
    for block in [*spec["engines"].values(), *spec["memory"].values()]:
        for key in ("energy", "energy_source", "energy_note"):
            block.pop(key, None)
    return rl.load_hardware(spec)


def test_a_device_without_an_energy_model_gives_the_plain_latencies():
    """No energy model: NaN joules, no power roof; the same run that an A100 caps is ranked by
    its plain latency and its dominant bound."""
    hw = _without_energy("a100_sxm4_80gb")
    assert not hw.has_energy
    c = CAPPED
    r0 = rl.evaluate(c["model"], hw, batch=c["batch"], dtype=c["dtype"])
    assert math.isnan(float(r0.energy_j[0, 0]))
    t = rl.sensitivity(c["model"], hw, batch=c["batch"], dtype=c["dtype"])
    for r in t:
        assert r["base_latency_s"] == pytest.approx(float(r0.latency_s[0, 0]), rel=1e-12)
        assert r["base_bound"] == str(r0.dominant_bound()[0, 0]) == "compute"
    row = next(r for r in t if r["knob"] == "engines.matrix.peak.fp16")
    peak = hw.engines.matrix.peak["fp16"]
    up = _evaluated_latency(c["model"], hw, c["batch"], c["dtype"], row["knob"], 2 * peak)
    assert row["improved_latency_s"] == pytest.approx(up, rel=1e-12)
    assert all(r["improved_latency_s"] is not None for r in t)  # no NaN crept in


def test_sensitivity_cli_shows_the_power_bound():
    status = main(
        [
            "sensitivity",
            "bert_large",
            "--hw",
            "a100_sxm4_80gb",
            "--batch",
            "64",
            "--knob",
            "power.tdp",
            "--format",
            "csv",
        ]
    )
    assert status == 0


# -- 2 and 3. the energy study: the first dtype is the reference; infeasible points are NaN -----


def _energy(model: str, device: str, dtype: str) -> float:
    return float(rl.evaluate(model, device, batch=1, dtype=dtype).energy_per_sample_j[0, 0])


def test_no_saving_without_the_reference_dtype():
    """Gaudi 3 has no fp32 matrix peak: fp16 has nothing to save against (NaN), and the answer
    states no fp16 saving rather than "0-0%"."""
    st = rl.energy_study(models=["resnet50"], devices=["gaudi3"])
    rows = {r["dtype"]: r for r in st.table}
    assert rows["fp32"]["supported"] is False
    assert rows["fp16"]["supported"] is True
    assert rows["fp16"]["saving"] is None  # NaN
    assert rows["fp16"]["energy_per_sample_j"] == pytest.approx(
        _energy("resnet50", "gaudi3", "fp16")
    )
    assert "saves 0-0%" not in st.answer
    assert "fp16 saves" not in st.answer
    assert math.isnan(st.findings["gaudi3"]["resnet50"]["fp16"])


def test_a_device_without_the_reference_is_left_out_of_the_savings():
    st = rl.energy_study(models=["resnet50"], devices=["gaudi3", "t4"])
    e32, e16 = _energy("resnet50", "t4", "fp32"), _energy("resnet50", "t4", "fp16")
    saving = 1 - e16 / e32
    assert 0.5 < saving < 0.95
    t4 = next(r for r in st.table if r["device"] == "t4" and r["dtype"] == "fp16")
    assert t4["saving"] == pytest.approx(saving)
    pct = f"{100 * saving:.0f}"
    assert f"fp16 saves {pct}-{pct}% of the joules of fp32" in st.answer


@pytest.fixture(scope="module")
def misfit():
    """llama2_70b does not fit a 16 GB T4 at any of the dtypes; resnet50 does."""
    return rl.energy_study(models={"llama2_70b": 1, "resnet50": 1}, devices=["t4"])


def test_an_infeasible_point_has_no_energy(misfit):
    numbers = [
        "energy_per_sample_j",
        "saving",
        "compute_j",
        "onchip_j",
        "dram_j",
        "host_j",
        "static_j",
        "latency_s",
        "throughput_per_s",
        "avg_power_w",
        "samples_per_j",
    ]
    rows = [r for r in misfit.table if r["model"] == "llama2_70b"]
    assert len(rows) == 3
    for r in rows:
        assert not bool(rl.evaluate("llama2_70b", "t4", batch=1, dtype=r["dtype"]).feasible[0, 0])
        assert r["supported"] is True and r["feasible"] is False
        assert all(r[k] is None for k in numbers), r  # NaN, as totals() has it
        assert r["power_capped"] is False and r["dominant"] == ""
    for dt in ("fp32", "fp16", "int8"):
        assert math.isnan(misfit.findings["t4"]["llama2_70b"][dt])


def test_the_answer_holds_only_the_points_that_fit(misfit):
    e = {dt: _energy("resnet50", "t4", dt) for dt in ("fp32", "fp16", "int8")}
    for dt in ("fp16", "int8"):
        pct = f"{100 * (1 - e[dt] / e['fp32']):.0f}"
        assert f"{dt} saves {pct}-{pct}% of the joules of fp32" in misfit.answer
    rows = [r for r in misfit.table if r["model"] == "resnet50"]
    assert all(r["feasible"] is True for r in rows)
    # where the energy goes: the median share over resnet50's three rows alone
    shares = {
        p: float(np.median([r[p] / r["energy_per_sample_j"] for r in rows]))
        for p in ("compute_j", "onchip_j", "dram_j", "host_j", "static_j")
    }
    top = max(shares, key=lambda p: shares[p])
    assert f"to {top.removesuffix('_j')} {100 * shares[top]:.0f}%" in misfit.answer


def test_the_default_energy_study_is_unchanged():
    """Every default point fits and runs fp32: the answer the docs and the notebook quote."""
    st = rl.energy_study()
    assert all(r["feasible"] for r in st.table)
    assert st.answer.startswith("fp16 saves 45-83% of the joules of fp32")
    st.figure()
    plt.close("all")


def test_a_study_with_a_misfit_draws(misfit):
    """The charts draw the points that fit (a misfit's joules are empty: a TypeError before)."""
    misfit.figure()
    plt.close("all")


def test_the_precision_study_takes_its_speedups_against_the_first_dtype_only():
    """As the energy study's savings: Gaudi 3 has no fp32 peak, so fp16 has no speedup over
    fp32 (it was 1.0, fp16 over itself)."""
    st = rl.precision_study({"resnet50": 1}, devices=("gaudi3",), dtypes=("fp32", "fp16"))
    fp16 = next(r for r in st.table if r["dtype"] == "fp16")
    assert _empty(fp16["speedup"])


# -- 4. hostile cost.pue, cost and power blocks: each with its fix ------------------------------

PRICED = {
    "price": "$25000",
    "lifetime": "5 y",
    "electricity": "$0.1/kWh",
    "source": "a test's assumption",
}


def _spec(**change) -> dict:
    spec = yaml.safe_load((ROOT / "hw_specs" / "h100_sxm5.yaml").read_text())
    spec.update(change)
    return spec


HOSTILE = {
    "pue text": (_spec(cost={**PRICED, "pue": "high"}), "cost.pue", "'high'"),
    "pue null": (_spec(cost={**PRICED, "pue": None}), "cost.pue", "None"),
    "pue percent": (_spec(cost={**PRICED, "pue": "120%"}), "cost.pue", "'120%'"),
    "pue list": (_spec(cost={**PRICED, "pue": [1.2]}), "cost.pue", "[1.2]"),
    "cost list": (_spec(cost=[1, 2]), "cost", "[1, 2]"),
    "cost text": (_spec(cost="cheap"), "cost", "'cheap'"),
    "power text": (_spec(power="hot"), "power", "'hot'"),
    "power list": (_spec(power=[700]), "power", "[700]"),
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_hostile_cost_and_power_give_a_fix(case):
    spec, field, shown = HOSTILE[case]
    with pytest.raises(SpecError) as info:
        rl.load_hardware(spec)
    err = info.value
    assert err.field == field
    assert shown in err.problem
    assert err.fix, err.render()
    assert "README" in err.fix or "e.g." in err.fix


@pytest.mark.parametrize("case", list(HOSTILE))
def test_roofline_check_prints_one_line_with_the_fix(case, tmp_path, capsys):
    spec, field, _ = HOSTILE[case]
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    assert main(["check", str(path)]) == 2
    line = one_line(capsys.readouterr().err)
    assert f"{path}: {field}: " in line
    with pytest.raises(SpecError) as info:  # the same spec from a file: the same error
        rl.load_hardware(str(path))
    assert info.value.fix and line.endswith(f"({info.value.fix})"), line


@pytest.mark.parametrize("pue", [1.2, "1.2", 1, 10])
def test_a_valid_pue_still_loads(pue):
    hw = rl.load_hardware(_spec(cost={**PRICED, "pue": pue}))
    assert hw.cost.pue == pytest.approx(float(pue))


def test_an_out_of_range_pue_keeps_its_range_message():
    with pytest.raises(SpecError, match="outside the physical range 1 to 10") as info:
        rl.load_hardware(_spec(cost={**PRICED, "pue": 0.5}))
    assert info.value.field == "cost.pue" and info.value.fix


def _empty(x: object) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def test_sensitivity_gives_no_time_where_the_model_does_not_fit():
    """llama2_7b at batch 64 on a 24 GB L4 does not fit (evaluate, compare, sweep and diff leave
    its time empty); sensitivity gave a 0.275 s base latency and a 1.99x speedup. Now every
    direction that does not fit is empty and says so; 4x the memory makes it fit and shows a
    time (no speedup: the base has none)."""
    t = rl.sensitivity("llama2_7b", "l4", batch=64, dtype="fp16", factor=4.0)
    assert _empty(t.column("base_latency_s")[0])
    assert set(t.column("base_bound")) == {"does not fit"}
    for row in t.to_records():
        for side in ("improved", "degraded"):
            if row[f"{side}_bound"] in ("does not fit", "out of range"):
                assert _empty(row[f"{side}_latency_s"])
            assert _empty(row[f"{side}_speedup"])
    fit = [r for r in t.to_records() if r["improved_bound"] not in ("does not fit", "out of range")]
    assert [r["knob"] for r in fit] == ["memory.dram.capacity"]
    assert fit[0]["improved_latency_s"] > 0
