"""The lean stage evaluation (:mod:`roofline.systems.stage_costs`) against the full one.

A stage's totals from :func:`~roofline.systems.stage_costs.op_seconds` must be the full
evaluation's (:func:`roofline.evaluation.evaluate_costs`, read through ``FullStage``) to the bit:
latency, strict bound, seconds by bound, capacity verdict, footprint, dynamic energy. A decode's
mean step is held to the full path's within 1e-12 (the two sum the envelopes in different
orders). Both are checked over every shipped device, both built-in policies, both launch modes,
fused and unfused counts of a CNN, a recommendation model with many tables, an encoder and the
columns of a decoder's prefill and decode; hypothesis adds random devices and layer models.
"""

from __future__ import annotations

import numpy as np
import pytest
from hyp_strategies import batches, devices, dtypes, layer_models
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import roofline as rl
from roofline.counting import count_graph
from roofline.errors import SpecError
from roofline.evaluation import evaluate_costs
from roofline.grid import to_grid
from roofline.placement import CapacityAware, get_policy
from roofline.records import CostTable, join_columns
from roofline.serving.context_counts import phase_counts
from roofline.systems import stage_costs as sc
from roofline.systems.evaluate import fuse_counts
from roofline.systems.stage_costs import FullStage, LeanStage, stage_costs

TOTALS = (
    "latency_s",
    "latency_bound_s",
    "by_bound_s",
    "feasible",
    "devices_needed",
    "footprint_bytes",
    "dynamic_j",
)


def _full(ct: CostTable, hw: rl.Hardware, policy: str, launch: str) -> FullStage:
    return FullStage(evaluate_costs(ct, hw, policy, launch))


def _assert_same_totals(lean: sc.StageCosts, full: sc.StageCosts) -> None:
    assert isinstance(lean, LeanStage)
    for name in TOTALS:
        np.testing.assert_array_equal(getattr(lean, name), getattr(full, name), err_msg=name)
    assert (lean.policy, lean.dtype) == (full.policy, full.dtype)


def _decoder_columns(model: str, dtype: str) -> tuple[CostTable, np.ndarray, np.ndarray, int]:
    """Prefill and decode columns of ``model`` as one unfused table (as generate joins them;
    the decode's alone where the phases' per-op counts differ), the decode ranges' ends
    (contexts lo..hi at columns n + i and n + len(lo) + i) and n, the prefill's columns."""
    m = rl.load_model(model)
    batch = np.array([1.0, 8.0, 64.0, 256.0])
    prompts = np.tile([128.0, 1024.0], 4)
    pre = phase_counts(m, "prefill").table(np.repeat(batch, 2), prompts, dtype, fuse=False)
    lo = np.tile([129.0, 1025.0, 129.0], 4)
    hi = np.tile([255.0, 1151.0, 1536.0], 4)
    b = np.repeat(batch, 3)
    contexts = np.concatenate([lo, hi])
    dec = phase_counts(m, "decode").table(np.concatenate([b, b]), contexts, dtype, fuse=False)
    joined = join_columns(pre, dec)
    return (dec, lo, hi, 0) if joined is None else (joined, lo, hi, pre.batch.size)


CASES = [("resnet50", "fp16"), ("dlrm_rm2", "fp32"), ("bert_base", "int8")]


@pytest.mark.parametrize("device", rl.list_devices())
def test_lean_totals_are_the_full_evaluation_to_the_bit(device: str) -> None:
    hw = rl.load_hardware(device)
    tables = [count_graph(rl.load_model(m).graph, [1, 7, 64, 512], dt) for m, dt in CASES]
    tables.append(_decoder_columns("llama2_7b", "fp16")[0])
    assert tables[-1].batch.size == 32  # the prefill's columns and the decode's, joined
    for ct in tables:
        graph = rl.load_model(ct.model).graph if ct.model != "llama2_7b" else None
        for fused in (False, True):
            if fused:
                g = graph or phase_counts(rl.load_model("llama2_7b"), "prefill").template
                table = fuse_counts(ct, g)
            else:
                table = ct
            for policy in ("capacity", "single"):
                for launch in ("kernel", "graph"):
                    try:
                        full = _full(table, hw, policy, launch)
                    except SpecError:  # a dtype the device lacks: refused the same way
                        with pytest.raises(SpecError):
                            stage_costs(table, hw, policy, launch)
                        continue
                    _assert_same_totals(stage_costs(table, hw, policy, launch), full)


@pytest.mark.parametrize("model", ["llama2_7b", "mixtral_8x7b", "deepseek_v3"])
@pytest.mark.parametrize("device", ["h100_sxm5", "l4", "tpu_v5e", "xeon_gold_6138_2s"])
def test_lean_decode_means_match_the_full_envelope(model: str, device: str) -> None:
    ct, lo, hi, n = _decoder_columns(model, "fp16")
    hw = rl.load_hardware(device)
    lo_col, hi_col = n + np.arange(lo.size), n + lo.size + np.arange(lo.size)
    for policy in ("capacity", "single"):
        lean = stage_costs(ct, hw, policy, "kernel")
        full = _full(ct, hw, policy, "kernel")
        _assert_same_totals(lean, full)
        for a, b in zip(
            lean.step_means(lo_col, hi_col, lo, hi), full.step_means(lo_col, hi_col, lo, hi)
        ):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=0)


def test_a_range_whose_top_component_changes_takes_the_envelope() -> None:
    """A decode whose attention turns from compute- to memory-bound inside a range: the lean
    mean takes the breaks (not the chord), as the full path does."""
    ct, lo, hi, n = _decoder_columns("llama2_7b", "fp16")
    hw = rl.load_hardware("h100_sxm5")
    s = sc.op_seconds(ct, to_grid(hw), CapacityAware(), "kernel")
    assert s is not None
    lo_col, hi_col = n + np.arange(lo.size), n + lo.size + np.arange(lo.size)
    parts_lo = np.concatenate([s.compute[None], s.levels])[:, :, lo_col].argmax(axis=0)
    parts_hi = np.concatenate([s.compute[None], s.levels])[:, :, hi_col].argmax(axis=0)
    assert (parts_lo != parts_hi).any(), "the cases should include a bent envelope"
    lean = sc.lean_step_means(s, lo_col, hi_col, lo, hi)
    full = _full(ct, hw, "capacity", "kernel").step_means(lo_col, hi_col, lo, hi)
    np.testing.assert_allclose(lean[0], full[0], rtol=1e-12, atol=0)
    # the envelope is convex: where a top changes, the mean lies below the chord of the ends
    ends = [np.maximum(s.compute, s.level_max)[:, c] for c in (lo_col, hi_col)]
    chord = ((ends[0] + ends[1]) / 2.0).sum(axis=0) + s.overhead.sum()
    bent = (parts_lo != parts_hi).any(axis=0)
    assert (lean[0][bent] < chord[bent]).all()
    np.testing.assert_allclose(lean[0][~bent], chord[~bent], rtol=1e-12)


def test_curves_a_policy_of_ones_own_and_bad_counts_take_the_full_evaluation() -> None:
    ct = count_graph(rl.load_model("resnet50").graph, [1, 8], "fp16")
    hw = rl.load_hardware("a100_sxm4_80gb")
    data = hw.model_dump()
    data["engines"]["matrix"]["efficiency_curve"] = {"size": [1e6, 1e9], "efficiency": [0.3, 0.9]}
    curved = rl.load_hardware(data)
    assert isinstance(stage_costs(ct, curved, None, "kernel"), FullStage)

    class Mine(CapacityAware):
        name = "mine"

    assert isinstance(stage_costs(ct, hw, Mine(), "kernel"), FullStage)
    assert sc.op_seconds(ct, to_grid(hw), get_policy(None), "kernel") is not None
    bad = ct.with_columns(flops_vector=np.full(ct.flops_vector.shape, np.inf))
    with pytest.raises(SpecError, match="has no finite time"):
        stage_costs(bad, hw, None, "kernel")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    spec=layer_models(),
    device=devices(curves=False, energy=True),
    batch=batches,
    dtype=dtypes,
    policy=st.sampled_from(["capacity", "single"]),
    launch=st.sampled_from(["kernel", "graph"]),
)
def test_lean_totals_on_random_devices_and_models(spec, device, batch, dtype, policy, launch):
    try:
        model = rl.load_model(spec)
        hw = rl.load_hardware(device)
        ct = count_graph(model.graph, batch, dtype)
        full = _full(ct, hw, policy, launch)
    except SpecError:
        return  # a dtype the device lacks, counts past any machine: refused by both
    _assert_same_totals(stage_costs(ct, hw, policy, launch), full)
