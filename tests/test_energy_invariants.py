"""Invariants of the energy model, checked by hypothesis on generated models and devices with an
energy model (tests/hyp_strategies.py): the vectorized energy equals the scalar oracle's, energy
is the sum over ops, it rises with every energy figure, the cap never speeds a run up nor lets it
draw more than the TDP, and energy per sample never rises with batch when every count is affine
in batch with a non-negative intercept (the classic roofline, no tile padding, no efficiency
curves: weights read once per run, everything else per sample)."""

from __future__ import annotations

import numpy as np
from hyp_strategies import batches, devices, dtypes, layer_models
from hypothesis import given
from hypothesis import strategies as st

from roofline.counting import count_graph
from roofline.evaluation import evaluate_costs
from roofline.kinds import EngineKind
from roofline.knobs import vary
from roofline.presets import build_model, load_hardware
from roofline.testing.oracle import energy_one, evaluate_one
from roofline.totals import totals_direct, totals_ridge

RTOL = 1e-9
policies = st.sampled_from(["capacity", "single"])


def _run(spec, dev, batch, dtype="fp16", policy="capacity"):
    ct = count_graph(build_model(spec).graph, batch, dtype)
    hw = load_hardware(dev)
    return ct, hw, evaluate_costs(ct, hw, policy)


def _close(a, b) -> bool:
    return bool(np.allclose(a, b, rtol=RTOL, atol=0.0, equal_nan=True))


@given(layer_models(), devices(energy=True), batches, dtypes, policies)
def test_vectorized_energy_equals_scalar_oracle(spec, dev, batch, dtype, policy):
    ct, hw, r = _run(spec, dev, batch, dtype, policy)
    for j in range(ct.batch.size):
        one = energy_one(ct, hw, j, evaluate_one(ct, hw, j, policy))
        assert _close(r.dynamic_op_energy_j[0, j], one.op_dynamic_j)
        assert _close(r.dynamic_energy_j[0, j], one.dynamic_j)
        assert _close(r.power_floor_s[0, j], one.floor_s)
        near = abs(one.floor_s / one.capped_latency_s - 1.0) < 1e-9
        if not near:  # at the boundary either answer is right
            assert bool(r.power_capped[0, j]) == one.capped
            assert _close(r.clock_fraction[0, j], one.clock_fraction)
            assert _close(r.capped_time_s[0, j], one.capped_time_s)
        assert _close(r.capped_latency_s[0, j], one.capped_latency_s)
        assert _close(r.energy_j[0, j], one.energy_j)
        assert _close(r.avg_power_w[0, j], one.avg_power_w)
        assert _close(r.cost_per_1m_samples[0, j], 1e6 * one.cost_per_sample)


@given(layer_models(), devices(energy=True), batches, policies)
def test_energy_is_the_sum_over_ops(spec, dev, batch, policy):
    _, _, r = _run(spec, dev, batch, policy=policy)
    assert _close(r.op_energy_j.sum(axis=(-2, -1)), r.energy_j)
    assert _close(r.op_energy_j.sum(axis=-2), r.energy_by_part())
    # the static part of every op adds up to idle power over the capped run
    idle = load_hardware(dev).power.idle
    assert _close(r.op_energy_j[..., -1].sum(axis=-1), idle * r.capped_latency_s)


@given(
    layer_models(),
    devices(energy=True),
    batches,
    policies,
    dtypes,
    st.floats(1.0, 100.0),
    st.data(),
)
def test_energy_never_falls_when_an_energy_figure_rises(spec, dev, batch, policy, dtype, k, data):
    ct, hw, r = _run(spec, dev, batch, dtype, policy)
    knobs = [f"memory.{n}.energy" for n in hw.memory]
    for e in EngineKind:
        used = getattr(hw.engines, e).resolve(ct.precision.compute)
        knobs.append(f"engines.{e}.energy.{used}")
    knob = data.draw(st.sampled_from(knobs))
    part = knob.split(".")
    if part[0] == "memory":
        value = hw.memory[part[1]].energy
    else:
        value = getattr(hw.engines, part[1]).energy[part[3]]
    grid = vary(hw, {knob: np.array([value, value * k])})
    rr = evaluate_costs(ct, grid, policy)
    assert (rr.energy_j[1] >= rr.energy_j[0] * (1 - RTOL)).all()
    assert (rr.dynamic_energy_j[1] >= rr.dynamic_energy_j[0] * (1 - RTOL)).all()


@given(layer_models(), devices(energy=True), batches, policies, dtypes)
def test_the_cap_never_speeds_up_nor_exceeds_the_tdp(spec, dev, batch, policy, dtype):
    _, hw, r = _run(spec, dev, batch, dtype, policy)
    assert (r.capped_throughput_per_s <= r.throughput_per_s * (1 + RTOL)).all()
    assert (r.capped_latency_s >= r.latency_s * (1 - RTOL)).all()
    assert (r.avg_power_w <= hw.power.tdp * (1 + 1e-9)).all()
    capped = r.power_capped
    # where it binds, the run draws exactly the TDP
    assert np.allclose(r.avg_power_w[capped], hw.power.tdp, rtol=1e-9)
    assert (r.clock_fraction[capped & np.isfinite(r.clock_fraction)] <= 1.0).all()
    assert _close(r.capped_time_s.sum(axis=-1), r.capped_latency_s)


@given(
    layer_models(),
    devices(energy=True, curves=False),
    st.lists(st.integers(1, 4096), min_size=2, max_size=5, unique=True),
)
def test_energy_per_sample_never_rises_with_batch(spec, dev, batch):
    dev["engines"]["matrix"].pop("tile", None)  # padding is not affine in batch
    _, _, r = _run(spec, dev, sorted(batch), policy="single")
    e = r.energy_per_sample_j[0]
    assert (np.diff(e) <= np.abs(e[:-1]) * 1e-9).all(), e


@given(layer_models(), devices(energy=True, curves=False), batches, dtypes, policies)
def test_totals_fast_paths_equal_the_full_energy(spec, dev, batch, dtype, policy):
    ct, hw, r = _run(spec, dev, batch, dtype, policy)
    grid = vary(hw, {"power.tdp": np.array([hw.power.tdp, 2 * hw.power.tdp])})
    full = evaluate_costs(ct, grid, policy)
    tot = totals_ridge(ct, grid) if policy == "single" else totals_direct(ct, grid, policy)
    assert tot.energy is not None
    assert _close(tot.energy.dynamic_j, full.dynamic_energy_j)
    assert _close(tot.energy.energy_j, full.energy_j)
    assert _close(tot.energy.capped_latency_s, full.capped_latency_s)
    assert _close(tot.energy.cost_per_sample * 1e6, full.cost_per_1m_samples)
