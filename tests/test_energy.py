"""Energy, power and cost by hand-derived figures (DESIGN.md, "Energy and power"): units, the
energy of a run, the power cap and its clock, cost, the totals/compare/sweep/generate columns,
the EnergyBreakdown observer, knobs, and the multi-device hook."""

from __future__ import annotations

import numpy as np
import pytest

import roofline as rl
from roofline.counting import count_graph
from roofline.energy import clock_fraction, system_energy
from roofline.errors import SpecError, UnitError
from roofline.evaluation import evaluate_costs
from roofline.knobs import vary
from roofline.observers import EnergyBreakdown
from roofline.presets import build_model, load_hardware
from roofline.units import Dim, parse_quantity

PJ = 1e-12


# -- units ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "dim", "si"),
    [
        ("0.6 pJ", Dim.ENERGY, 0.6e-12),
        ("0.6 pJ/FLOP", Dim.ENERGY, 0.6e-12),
        ("1.2 nJ", Dim.ENERGY, 1.2e-9),
        ("28 pJ/B", Dim.ENERGY_PER_BYTE, 28e-12),
        ("3.5 pJ/bit", Dim.ENERGY_PER_BYTE, 3.5e-12 * 8),  # 8 bits a byte
        ("700 W", Dim.POWER, 700.0),
        ("750 mW", Dim.POWER, 0.75),
        ("1.2 kW", Dim.POWER, 1200.0),
        ("$25000", Dim.MONEY, 25000.0),
        ("$25k", Dim.MONEY, 25000.0),
        ("25000 USD", Dim.MONEY, 25000.0),
        ("$0.1/kWh", Dim.MONEY_PER_ENERGY, 0.1 / 3.6e6),  # 1 kWh = 3.6e6 J
        ("0.1 $/kWh", Dim.MONEY_PER_ENERGY, 0.1 / 3.6e6),
        ("$2.5/h", Dim.MONEY_PER_TIME, 2.5 / 3600),
        ("5 y", Dim.TIME, 5 * 365 * 86400.0),
    ],
)
def test_energy_power_and_money_units(text, dim, si):
    assert parse_quantity(text, dim, require_unit=True) == pytest.approx(si, rel=1e-12)


@pytest.mark.parametrize(
    ("value", "dim", "fix"),
    [(700, Dim.POWER, "'700 W'"), ("25000", Dim.MONEY, "'$25000'"), (3e-12, Dim.ENERGY, "J")],
)
def test_a_bare_number_needs_its_unit(value, dim, fix):
    with pytest.raises(UnitError) as info:
        parse_quantity(value, dim, require_unit=True)
    assert "has no unit" in info.value.problem and fix in info.value.fix


def test_sub_unit_prefixes_are_only_for_energy_and_power():
    with pytest.raises(UnitError):
        parse_quantity("5 mB", Dim.BYTES)
    with pytest.raises(UnitError, match="where W is expected"):
        parse_quantity("$5", Dim.POWER)


# -- a toy device, every figure chosen so the arithmetic is by hand -------------------------------
def _device(tdp: float = 1000.0, idle: float = 10.0, cost: dict | None = None) -> dict:
    """1 TFLOP/s fp16 matrix (1 pJ/FLOP), 0.1 TFLOP/s vector (2 pJ/FLOP); SRAM 32 MiB at 10 TB/s
    (1 pJ/B); DRAM 1 GiB at 100 GB/s (10 pJ/B); 1 us per op."""
    dev = {
        "name": "toy",
        "source": "test",
        "engines": {
            "matrix": {
                "peak": {"fp16": 1e12},
                "energy": {"fp16": "1 pJ"},
                "energy_source": "test",
                "source": "test",
            },
            "vector": {
                "peak": {"fp16": 1e11},
                "energy": {"fp16": "2 pJ"},
                "energy_source": "test",
                "source": "test",
            },
        },
        "memory": {
            "sram": {
                "kind": "onchip",
                "capacity": 32 * 2**20,
                "bandwidth": 1e13,
                "source": "test",
                "energy": "1 pJ/B",
                "energy_source": "test",
            },
            "dram": {
                "kind": "device",
                "capacity": 2**30,
                "bandwidth": 1e11,
                "source": "test",
                "energy": "10 pJ/B",
                "energy_source": "test",
            },
        },
        "overheads": {"per_op": 1e-6, "source": "test"},
        "power": {"tdp": f"{tdp} W", "idle": f"{idle} W", "source": "test"},
    }
    if cost:
        dev["cost"] = {**cost, "source": "test"}
    return dev


FC = {
    "name": "fc",
    "family": "layers",
    "source": "test",
    "params": {
        "inputs": {"x": [1024]},
        "ops": [{"kind": "linear", "name": "fc", "out_features": 1024, "bias": False}],
    },
}
# a 1024 x 1024 fp16 linear at batch 1: 2 * 1024^2 FLOPs on the matrix engine; its 2 MiB of
# weights and 2 KiB in + 2 KiB out all stay in the 32 MiB SRAM (weights + live set fit)
FLOPS = 2.0 * 1024**2
SRAM_BYTES = 2.0 * 1024**2 + 4096
T_COMPUTE = FLOPS / 1e12  # 2.097 us, above the SRAM time 2.1e6 B / 10 TB/s = 0.21 us
LATENCY = T_COMPUTE + 1e-6  # + 1 us launch overhead
DYNAMIC = FLOPS * 1 * PJ + SRAM_BYTES * 1 * PJ


def _eval(dev: dict, batch=(1,)):
    ct = count_graph(build_model(FC).graph, list(batch), "fp16")
    return evaluate_costs(ct, load_hardware(dev), "capacity")


def test_energy_of_a_run_by_hand():
    r = _eval(_device())
    assert r.latency_s[0, 0] == pytest.approx(LATENCY)
    assert r.dynamic_energy_j[0, 0] == pytest.approx(DYNAMIC)
    assert not r.power_capped[0, 0]  # 4.2 uJ / 3.1 us = 1.4 W of dynamic power, far below
    energy = DYNAMIC + 10.0 * LATENCY  # + idle 10 W over the run
    assert r.energy_j[0, 0] == pytest.approx(energy)
    assert r.energy_per_sample_j[0, 0] == pytest.approx(energy)
    assert r.samples_per_j[0, 0] == pytest.approx(1 / energy)
    assert r.avg_power_w[0, 0] == pytest.approx(energy / LATENCY)
    parts = dict(zip(r.energy_labels, r.energy_by_part()[0, 0]))
    assert parts == pytest.approx(
        {"compute": FLOPS * PJ, "sram": SRAM_BYTES * PJ, "dram": 0.0, "static": 10 * LATENCY}
    )
    assert r.clock_fraction[0, 0] == 1.0
    assert np.isnan(r.cost_per_1m_samples[0, 0])  # no cost block


def test_the_power_cap_by_hand():
    # TDP 10.5 W over 10 W idle leaves 0.5 W for 4.2 uJ: the run must last 8.39 us
    r = _eval(_device(tdp=10.5))
    floor = DYNAMIC / 0.5
    assert r.power_capped[0, 0] and floor > LATENCY
    assert r.capped_latency_s[0, 0] == pytest.approx(floor)
    assert r.latency_s[0, 0] == pytest.approx(LATENCY)  # the uncapped time is untouched
    assert r.capped_throughput_per_s[0, 0] == pytest.approx(1 / floor)
    assert r.avg_power_w[0, 0] == pytest.approx(10.5)  # exactly the TDP
    assert r.energy_j[0, 0] == pytest.approx(DYNAMIC + 10.0 * floor)
    # the clock that gets there: T_compute / f + 1 us = floor (the op stays compute-bound)
    assert r.clock_fraction[0, 0] == pytest.approx(T_COMPUTE / (floor - 1e-6))
    assert r.capped_time_s[0, 0].sum() == pytest.approx(floor)
    assert str(r.capped_bound()[0, 0]) == "power"
    row = r.totals().to_records()[0]
    assert row["power_capped"] and row["capped_bound"] == "power"
    assert row["capped_throughput_per_s"] == pytest.approx(1 / floor)
    assert row["throughput_per_s"] == pytest.approx(1 / LATENCY)


def test_clock_fraction_solves_the_piecewise_linear_equation_by_hand():
    # two ops: (compute 1, memory 3) and (compute 2, memory 1), no overhead; at f = 1 the run
    # takes 3 + 2 = 5. With u = 1/f the run takes max(u, 3) + max(2u, 1). To take 11: past
    # u = 3 both ops compute: 3u = 11, u = 11/3
    c = np.array([[[1.0, 2.0]]])
    m = np.array([[[3.0, 1.0]]])
    f, t = clock_fraction(c, m, np.zeros_like(c), np.array([[11.0]]), np.array([[True]]))
    assert f[0, 0] == pytest.approx(3 / 11)
    assert t[0, 0] == pytest.approx([11 / 3, 22 / 3])
    # to take 8: u in [1/2, 3], the first op still waits on memory: 3 + 2u = 8, u = 2.5
    f, t = clock_fraction(c, m, np.zeros_like(c), np.array([[8.0]]), np.array([[True]]))
    assert f[0, 0] == pytest.approx(1 / 2.5)
    assert t[0, 0] == pytest.approx([3.0, 5.0])
    # to take 6: u in [1, 3]: 3 + 2u = 6 -> u = 1.5
    f, t = clock_fraction(c, m, np.zeros_like(c), np.array([[6.0]]), np.array([[True]]))
    assert f[0, 0] == pytest.approx(1 / 1.5)
    assert t[0, 0] == pytest.approx([3.0, 3.0])


def test_a_run_without_compute_is_stretched_in_proportion():
    c = np.zeros((1, 1, 2))
    m = np.array([[[1.0, 3.0]]])
    f, t = clock_fraction(c, m, np.zeros_like(c), np.array([[8.0]]), np.array([[True]]))
    assert np.isnan(f[0, 0])
    assert t[0, 0] == pytest.approx([2.0, 6.0])


def test_hourly_cost_by_hand():
    r = _eval(_device(cost={"hourly": "$3.6/h"}))  # $0.001 per second
    assert r.cost_per_1m_samples[0, 0] == pytest.approx(1e6 * 0.001 * LATENCY)


def test_purchase_cost_by_hand():
    cost = {"price": "$31536", "lifetime": "1 y", "electricity": "$0.36/kWh", "pue": 1.5}
    r = _eval(_device(cost=cost), batch=(1, 4))
    # $31536 over 31536000 s = $0.001/s of capex; $0.36/kWh = $1e-7 per J, x PUE 1.5
    hold = r.capped_latency_s[0] / np.array([1.0, 4.0])
    want = 0.001 * hold + r.energy_per_sample_j[0] * 1.5 * 1e-7
    assert r.cost_per_1m_samples[0] == pytest.approx(1e6 * want)


def test_a_device_without_an_energy_model_has_empty_energy_columns():
    dev = _device()
    for e in dev["engines"].values():
        del e["energy"], e["energy_source"]
    for lvl in dev["memory"].values():
        del lvl["energy"], lvl["energy_source"]
    del dev["power"]
    r = _eval(dev)
    assert np.isnan(r.energy_j).all() and not r.power_capped.any()
    assert r.capped_latency_s == pytest.approx(r.latency_s)
    row = r.totals().to_records()[0]
    assert row["energy_per_sample_j"] is None  # NaN: empty in tables, null in JSON
    assert row["capped_bound"] == row["bound"]


def test_fallback_dtypes_use_the_targets_energy():
    hw = load_hardware("h100_sxm5")
    assert hw.energy("matrix", "int4") == hw.engines.matrix.energy["int8"]  # int4 -> int8
    assert hw.energy("vector", "int8") == hw.engines.vector.energy["fp16"]


# -- knobs ---------------------------------------------------------------------------------------
def test_energy_knobs_vary_like_any_other():
    hw = load_hardware(_device())
    grid = vary(hw, {"engines.matrix.energy.fp16": ["1 pJ", "3 pJ"], "power.tdp": ["20 W", "1 kW"]})
    r = evaluate_costs(count_graph(build_model(FC).graph, [1], "fp16"), grid, "capacity")
    dyn = np.array([FLOPS * e + SRAM_BYTES * PJ for e in (PJ, PJ, 3 * PJ, 3 * PJ)])
    assert r.dynamic_energy_j[:, 0] == pytest.approx(dyn)
    assert list(grid.knobs) == ["engines.matrix.energy.fp16", "power.tdp"]
    assert grid.variant(3).engines.matrix.energy["fp16"] == pytest.approx(3 * PJ)
    assert grid.variant(3).power.tdp == 1000.0


@pytest.mark.parametrize(
    ("knobs", "problem"),
    [
        ({"power.tdp": ["5 W"]}, "not above idle"),
        ({"engines.matrix.energy.int4": ["1 pJ"]}, "unknown dtype|no matrix peak"),
        ({"memory.sram.energy": ["-1 pJ/B"]}, "non-negative"),
        ({"cost.pue": [0.5]}, "below 1"),
        ({"cost.hourly": ["$1/h"]}, "priced by purchase"),
    ],
)
def test_bad_energy_knobs_are_one_clear_error(knobs, problem):
    cost = {"price": "$1000", "lifetime": "1 y", "electricity": "$0.1/kWh"}
    with pytest.raises(SpecError, match=problem):
        vary(load_hardware(_device(cost=cost)), knobs)


def test_energy_knobs_need_an_energy_model():
    dev = load_hardware(_device()).model_copy(update={"power": None})
    with pytest.raises(SpecError, match="no energy model"):
        vary(dev, {"power.tdp": ["100 W"]})


# -- columns of compare, sweep, generate; the observer ------------------------------------------
def test_compare_shows_the_energy_columns():
    t = rl.compare(["resnet18"], ["t4"], batch=[1, 8], dtype=["fp16"])
    for col in ("energy_per_sample_j", "avg_power_w", "samples_per_j", "capped_throughput_per_s"):
        assert all(r[col] > 0 for r in t.to_records())
    r = rl.evaluate("resnet18", "t4", batch=[1, 8], dtype="fp16")
    got = [row["energy_per_sample_j"] for row in t.to_records()]
    assert got == pytest.approx(r.energy_per_sample_j[0])


@pytest.mark.parametrize("policy", ["capacity", "single"])
def test_sweep_energy_equals_the_full_evaluation(policy):
    knobs = {"memory.main.bandwidth": ["200 GB/s", "1 TB/s"], "power.tdp": ["40 W", "70 W"]}
    t = rl.sweep(["resnet18"], "t4", knobs, batch=[1, 64], dtype="fp16", policy=policy)
    r = rl.evaluate("resnet18", vary(load_hardware("t4"), knobs), batch=[1, 64], dtype="fp16",
                    policy=policy)  # fmt: skip
    for col, arr in (
        ("energy_per_sample_j", r.energy_per_sample_j),
        ("avg_power_w", r.avg_power_w),
        ("capped_throughput_per_s", r.capped_throughput_per_s),
    ):
        assert list(t.column(col)) == pytest.approx(arr.ravel(), rel=1e-9), col
    assert list(t.column("power_capped")) == list(r.power_capped.ravel())


def test_generate_energy_per_token_by_the_phases():
    t = rl.generate("llama2_7b", "h100_sxm5", prompt=64, output=[1, 9], batch=4, dtype="fp16")
    rows = t.to_records()
    # output 1: the prefill alone yields the token: energy = prefill energy at its capped time
    pre = rl.evaluate(
        rl.load_model("llama2_7b", phase="prefill", seq_len=64), "h100_sxm5", batch=4, dtype="fp16"
    )
    assert rows[0]["energy_per_token_j"] == pytest.approx(pre.energy_j[0, 0] / 4, rel=1e-6)
    assert rows[0]["tokens_per_j"] == pytest.approx(4 / pre.energy_j[0, 0], rel=1e-6)
    assert rows[1]["energy_per_token_j"] > 0 and rows[1]["avg_power_w"] <= 700 * (1 + 1e-9)


def test_energy_breakdown_adds_up_to_the_run():
    obs = EnergyBreakdown()
    r = rl.evaluate("resnet18", "a100_sxm4_80gb", batch=[1, 32], dtype="fp16", observers=[obs])
    rows = obs.table().to_records()
    for j, b in enumerate((1, 32)):
        total = sum(x["energy_j"] for x in rows if x["batch"] == b)
        assert total == pytest.approx(r.energy_j[0, j])
        parts = sum(x["hbm_j"] for x in rows if x["batch"] == b)
        assert parts == pytest.approx(r.energy_by_part()[0, j, 2])
    assert {"compute", "sram", "hbm", "host", "static"} == set(obs.by_part())


# -- the multi-device hook -------------------------------------------------------------------------
def test_system_energy_is_every_device_plus_the_interconnect():
    hw = load_hardware("h100_sxm5")
    # two devices of 1 J and 2 J, 1 GB sent at 44 pJ/B: 3 J + 0.044 J
    got = system_energy([1.0, 2.0], 1e9, hw.power.interconnect)
    assert got == pytest.approx(3.0 + 1e9 * 44e-12)
    assert np.isnan(system_energy([1.0], 1e9, float("nan")))
