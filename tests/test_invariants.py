"""Invariants of counting and evaluation, checked by hypothesis on generated models and devices.

Each property is a law that follows from DESIGN.md's formulas ("Counting conventions", "The
roofline model", the placement rules of roofline/placement.py), not from our own output:
additivity, affinity in batch, operator equivalences, repeat, the max in the roofline, monotonicity
in every rate and capacity, scaling, and the vectorized path equal to the scalar oracle.
The ``ci`` profile (tests/conftest.py) runs each with 200 derandomized examples.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
from hyp_strategies import batches, devices, dtypes, layer_models
from hypothesis import assume, given
from hypothesis import strategies as st

import roofline as rl
from roofline.counting import count_graph
from roofline.evaluation import evaluate_costs
from roofline.grid import to_grid
from roofline.knobs import vary
from roofline.ops.base import derive_cost
from roofline.ops.conv import Conv
from roofline.ops.linear import Linear
from roofline.placement import CapacityAware
from roofline.precision import Precision
from roofline.presets import build_model, load_hardware, load_model
from roofline.records import BATCHED
from roofline.testing.oracle import evaluate_one

RTOL = 1e-9
policies = st.sampled_from(["capacity", "single"])


def _run(spec, dev, batch, dtype="fp16", policy="capacity", fuse=True):
    ct = count_graph(build_model(spec).graph, batch, dtype, fuse=fuse)
    hw = load_hardware(dev)
    return ct, hw, evaluate_costs(ct, hw, policy)


def _close(a: Any, b: Any, rtol: float = RTOL) -> None:
    np.testing.assert_allclose(np.asarray(a, float), np.asarray(b, float), rtol=rtol, atol=0)


def _scaled(
    dev: dict,
    *,
    bandwidth: dict[str, float] | None = None,
    peak: float = 1.0,
    engines: tuple[str, ...] = ("matrix", "vector"),
    capacity: dict[str, float] | None = None,
) -> dict:
    """A copy of a device spec with bandwidths, peaks or capacities multiplied."""
    out = copy.deepcopy(dev)
    for name, k in (bandwidth or {}).items():
        out["memory"][name]["bandwidth"] *= k
    for name, k in (capacity or {}).items():
        out["memory"][name]["capacity"] *= k
    for eng in engines:
        out["engines"][eng]["peak"] = {d: v * peak for d, v in out["engines"][eng]["peak"].items()}
    return out


def _strip_tables(spec: dict) -> dict:
    out = copy.deepcopy(spec)
    out["params"]["ops"] = [o for o in out["params"]["ops"] if o["kind"] != "embedding_bag"]
    return out


# ---------------------------------------------------------------------------------------------
# the vectorized path equals the scalar oracle


def _assert_matches_oracle(ct, hw, result, h: int, policy: str) -> None:
    for j in range(ct.batch.size):
        o = evaluate_one(ct, hw, j, policy)
        _close(result.time_s[h, j], o.time_s)
        _close(result.compute_time_s[h, j], o.compute_time_s)
        _close(result.level_time_s[h, j], o.level_time_s)
        _close(result.bytes_moved[h, j], o.bytes_moved)
        _close(result.tile_utilization[h, j], o.tile_utilization)
        _close(result.overhead_s[h, j], o.overhead_s)
        assert list(result.bound[h, j]) == o.bound
        assert bool(result.feasible[h, j]) == o.feasible
        _close(result.shortfall_bytes[h, j], o.shortfall_bytes)
        _close(result.footprint_bytes[h, j], o.footprint_bytes)
        assert float(result.devices_needed[h, j]) == o.devices_needed
        _close(result.latency_s[h, j], o.latency_s)
        _close(result.ideal_time_s[h, j], o.ideal_time_s)


@given(layer_models(), devices(), batches, dtypes, st.booleans(), policies)
def test_vectorized_equals_scalar_oracle(spec, dev, batch, dtype, fuse, policy):
    ct, hw, r = _run(spec, dev, batch, dtype, policy, fuse)
    _assert_matches_oracle(ct, hw, r, 0, policy)


@given(layer_models(max_ops=4), devices(max_onchip=1), st.integers(1, 256), policies, st.data())
def test_grid_variants_equal_scalar_oracle(spec, dev, batch, policy, data):
    """Every variant of a vary() grid (bandwidth x capacity) is the oracle on that variant."""
    hw = load_hardware(dev)
    first = next(iter(hw.memory))
    caps = data.draw(st.lists(st.floats(1e3, 1e12), min_size=1, max_size=3))
    bws = data.draw(st.lists(st.floats(1e9, 1e14), min_size=1, max_size=2))
    grid = vary(hw, {"memory.main.bandwidth": bws, f"memory.{first}.capacity": caps})
    ct = count_graph(build_model(spec).graph, [batch], "fp16", fuse=True)
    r = evaluate_costs(ct, grid, policy)
    for h in range(grid.size):
        _assert_matches_oracle(ct, grid.variant(h), r, h, policy)


@given(layer_models(max_ops=4), devices(), batches, policies)
def test_batch_axis_equals_batches_one_by_one(spec, dev, batch, policy):
    _, _, r = _run(spec, dev, batch, policy=policy)
    for j, b in enumerate(batch):
        _, _, one = _run(spec, dev, [b], policy=policy)
        _close(r.time_s[:, j], one.time_s[:, 0], 1e-12)
        assert (r.feasible[:, j] == one.feasible[:, 0]).all()


# ---------------------------------------------------------------------------------------------
# counting


@given(layer_models(), st.integers(1, 10_000), dtypes)
def test_counts_are_affine_in_batch(spec, b, dtype):
    """Weights are constant and everything else linear in B: f(3b) - f(2b) = f(2b) - f(b)."""
    ct = count_graph(build_model(spec).graph, [b, 2 * b, 3 * b], dtype)
    for f in (*BATCHED, "live_act_bytes"):
        col = ct.columns[f]
        _close(col[:, 2] - col[:, 1], col[:, 1] - col[:, 0], 1e-7)
    _close(ct.weight_bytes, count_graph(build_model(spec).graph, [7 * b], dtype).weight_bytes)


def _prefixed(spec: dict, p: str) -> dict:
    """The same model with every tensor name prefixed (so two models can run side by side)."""
    params = spec["params"]
    ops = []
    for op in params["ops"]:
        op = dict(op, name=p + op["name"])
        op["inputs"] = [p + t for t in op["inputs"]]
        ops.append(op)
    return {
        **spec,
        "params": {"inputs": {p + k: v for k, v in params["inputs"].items()}, "ops": ops},
    }


@given(layer_models(max_ops=4), layer_models(max_ops=4), batches, dtypes, devices())
def test_counts_and_single_level_time_add_over_graphs(a, b, batch, dtype, dev):
    """Model A then model B counts what A and B count; classic-roofline latency adds too."""
    both = copy.deepcopy(_prefixed(a, "a."))
    pb = _prefixed(b, "b.")
    both["params"]["inputs"].update(pb["params"]["inputs"])
    both["params"]["ops"] += pb["params"]["ops"]
    cts = [count_graph(build_model(s).graph, batch, dtype) for s in (a, b, both)]
    for f in (*BATCHED, "weight_elems", "weight_bytes"):
        _close(
            cts[0].columns[f].sum(axis=0) + cts[1].columns[f].sum(axis=0),
            cts[2].columns[f].sum(axis=0),
            1e-12,
        )
    lat = [_run(s, dev, batch, dtype, "single")[2].latency_s for s in (a, b, both)]
    _close(lat[0] + lat[1], lat[2], 1e-12)


@given(st.integers(1, 512), st.integers(1, 512), st.booleans(), st.integers(1, 64))
def test_conv_1x1_on_1x1_equals_linear(c, k, bias, batch):
    conv = Conv(
        name="c", in_channels=c, out_channels=k, kernel_size=(1, 1), input_size=(1, 1), bias=bias
    )
    lin = Linear(name="l", in_features=c, out_features=k, bias=bias)
    p = Precision.of("fp16")
    cc, lc = derive_cost(conv, batch, p), derive_cost(lin, batch, p)
    for f in (
        "flops",
        "flops_mac",
        "weight_elems",
        "weight_bytes",
        "act_in_bytes",
        "act_out_bytes",
    ):
        _close(getattr(cc, f), getattr(lc, f), 0)
    if c > 1:  # a one-input-channel conv is depthwise (vector engine); a linear never is
        _close(cc.flops_matrix, lc.flops_matrix, 0)
        (g1,), (g2,) = conv.counts(batch).gemms, lin.counts(batch).gemms
        assert (g1.m, g1.n, g1.k, g1.count) == (g2.m, g2.n, g2.k, g2.count)


@given(
    st.integers(1, 8),
    st.integers(1, 8),
    st.integers(1, 6),
    st.integers(1, 3),
    st.integers(1, 9),
    st.integers(1, 2),
    st.booleans(),
    st.integers(1, 32),
)
def test_grouped_conv_is_groups_of_plain_convs(c, k, g, ks, size, stride, bias, batch):
    """groups=g over C and K channels = g plain convs over C/g and K/g; groups=1 = the default."""
    assume(ks <= size)
    common = dict(kernel_size=(ks, ks), input_size=(size, size), stride=(stride, stride), bias=bias)
    grouped = Conv(name="g", in_channels=g * c, out_channels=g * k, groups=g, **common)
    plain = Conv(name="p", in_channels=c, out_channels=k, **common)
    explicit = Conv(name="e", in_channels=c, out_channels=k, groups=1, **common)
    p = Precision.of("fp32")
    gc, pc, ec = (derive_cost(op, batch, p) for op in (grouped, plain, explicit))
    for f in ("flops_mac", "weight_elems", "act_in_elems", "act_out_elems"):
        _close(getattr(gc, f), g * getattr(pc, f), 0)
        _close(getattr(ec, f), getattr(pc, f), 0)
    _close(gc.flops_matrix + gc.flops_vector, g * (pc.flops_matrix + pc.flops_vector), 0)


@st.composite
def _shape_preserving_op(draw):
    kind = draw(
        st.sampled_from(["activation", "batchnorm", "layernorm", "softmax", "linear", "conv"])
    )
    if kind in ("linear",):
        d = draw(st.integers(1, 64))
        return (d,), {"kind": "linear", "out_features": d, "bias": draw(st.booleans())}
    c, h = draw(st.integers(1, 8)), draw(st.integers(1, 8))
    if kind == "conv":
        return (c, h, h), {"kind": "conv", "out_channels": c, "kernel_size": 3, "padding": 1}
    return (c, h, h), {"kind": kind}


@given(_shape_preserving_op(), st.integers(2, 5), batches, devices(), dtypes)
def test_repeat_n_equals_n_copies(shape_op, n, batch, dev, dtype):
    shape, op = shape_op
    spec = {
        "name": "r",
        "family": "layers",
        "source": "s",
        "params": {"inputs": {"x": list(shape)}, "ops": [dict(op, name="o", repeat=n)]},
    }
    copies = [dict(op, name=f"o{i}") for i in range(n)]
    spec_n = {**spec, "params": {"inputs": {"x": list(shape)}, "ops": copies}}
    c1, cn = (count_graph(build_model(s).graph, batch, dtype) for s in (spec, spec_n))
    for f in (*BATCHED, "weight_elems", "weight_bytes"):
        _close(c1.columns[f].sum(axis=0), cn.columns[f].sum(axis=0), 1e-12)
    hw = load_hardware(dev)
    t1, tn = (evaluate_costs(c, hw, "single").latency_s for c in (c1, cn))
    _close(t1, tn, 1e-12)


# ---------------------------------------------------------------------------------------------
# the roofline itself


@given(layer_models(), devices(), batches, policies, dtypes)
def test_time_is_max_of_components_plus_overhead(spec, dev, batch, policy, dtype):
    _, _, r = _run(spec, dev, batch, dtype, policy)
    parts = np.concatenate([r.compute_time_s[..., None], r.level_time_s], axis=-1)
    assert (r.time_s >= r.compute_time_s).all()
    assert (r.time_s[..., None] >= r.level_time_s).all()
    _close(r.time_s, parts.max(axis=-1) + r.overhead_s, 1e-12)
    chosen = np.take_along_axis(parts, r.bound[..., None], -1)[..., 0]
    _close(chosen, parts.max(axis=-1), 0)
    assert ((r.tile_utilization > 0) & (r.tile_utilization <= 1)).all()
    _close(r.throughput_per_s, np.asarray(batch)[None, :] / r.time_s.sum(axis=-1), 1e-12)


@given(layer_models(), devices(), batches, policies, st.floats(1.0, 100.0), st.data())
def test_more_bandwidth_never_slows_any_op(spec, dev, batch, policy, k, data):
    level = data.draw(st.sampled_from(sorted(dev["memory"])))
    base = _run(spec, dev, batch, policy=policy)[2]
    fast = _run(spec, _scaled(dev, bandwidth={level: k}), batch, policy=policy)[2]
    assert (fast.time_s <= base.time_s * (1 + 1e-12)).all()


@given(
    layer_models(),
    devices(),
    batches,
    policies,
    st.floats(1.0, 100.0),
    st.sampled_from([("matrix",), ("vector",), ("matrix", "vector")]),
    dtypes,
)
def test_more_peak_never_slows_any_op(spec, dev, batch, policy, k, engines, dtype):
    base = _run(spec, dev, batch, dtype, policy)[2]
    fast = _run(spec, _scaled(dev, peak=k, engines=engines), batch, dtype, policy)[2]
    assert (fast.time_s <= base.time_s * (1 + 1e-12)).all()


@given(layer_models(), devices(curves=False), batches, policies, st.floats(1.0, 1e6), st.data())
def test_more_capacity_never_makes_a_model_infeasible(spec, dev, batch, policy, k, data):
    """More capacity at any level: a feasible model stays feasible and the shortfall never grows;
    the classic roofline's times do not depend on capacity at all."""
    level = data.draw(st.sampled_from(sorted(dev["memory"])))
    base = _run(spec, dev, batch, policy=policy)[2]
    big = _run(spec, _scaled(dev, capacity={level: k}), batch, policy=policy)[2]
    assert (big.feasible >= base.feasible).all()
    assert (big.shortfall_bytes <= base.shortfall_bytes * (1 + 1e-12)).all()
    if policy == "single":
        _close(big.time_s, base.time_s, 0)


@given(
    layer_models(tables=False),
    devices(max_onchip=2, ordered=True, curves=False),
    batches,
    st.floats(1.0, 1e6),
    st.data(),
)
def test_more_capacity_only_moves_bytes_up_the_hierarchy(spec, dev, batch, k, data):
    """Without tables, more capacity moves bytes to faster levels only, with one on-chip level or
    two: per op, the bytes served by the fastest k levels never shrink, so on a hierarchy that
    gets slower downwards the summed level time never grows.

    The op time itself (a max over levels, which the roofline treats as parallel channels) can
    grow: moving DRAM bytes into SRAM may make SRAM the bottleneck. (Tables can move down: weights
    that become resident take the room a table had.)
    """
    level = data.draw(st.sampled_from(sorted(dev["memory"])))
    base = _run(spec, dev, batch, policy="capacity")[2]
    big = _run(spec, _scaled(dev, capacity={level: k}), batch, policy="capacity")[2]
    _close(big.bytes_moved.sum(-1), base.bytes_moved.sum(-1), 1e-12)
    up = np.cumsum(big.bytes_moved, -1) - np.cumsum(base.bytes_moved, -1)
    assert (up >= -1e-9 * base.bytes_moved.sum(-1, keepdims=True)).all()
    assert (big.level_time_s.sum(-1) <= base.level_time_s.sum(-1) * (1 + 1e-12)).all()


def test_resident_weights_leave_activations_in_a_faster_level():
    """Weights resident in a slower on-chip level do not pull the activations down into it.

    ShuffleNetV2 x0.5 on the two-socket Xeon: at batch 28 the weights and live set fit the 1 TB/s
    L3, at batch 29 they do not; the live set fits the 5.12 TB/s L2 at both. When resident weights
    pulled every activation into L3, batch 28 had a strict bound 27% above batch 29's (more work
    bounded below by less time), and doubling the L3 raised ShuffleNetV2 x2.0's by 12%.
    """
    hw = load_hardware("xeon_gold_6138_2s")
    l2, l3, dram = (list(hw.memory).index(n) for n in ("l2", "l3", "dram"))
    ct = count_graph(load_model("shufflenet_v2_x0_5").graph, [28, 29], "fp32")
    placed = CapacityAware().place(ct, to_grid(hw))
    assert placed.weights_level[0].tolist() == [l3, dram]  # resident at 28, streamed at 29
    moved = placed.bytes.sum(axis=2)[0]  # [B, L]
    assert (moved[:, l2] > 0).all() and moved[0, l3] < moved[0, l2]
    bound = evaluate_costs(ct, hw).latency_bound_s[0]
    assert bound[0] <= bound[1]
    ct = count_graph(load_model("shufflenet_v2_x2_0").graph, [8], "fp32")
    caps = vary(hw, {"memory.l3.capacity": ["27.5 MiB", "55 MiB"]})
    bound = evaluate_costs(ct, caps).latency_bound_s[:, 0]
    assert bound[1] <= bound[0]


@given(layer_models(), devices(), batches, policies, st.floats(0.01, 100.0))
def test_scaling_every_rate_by_k_scales_time_by_one_over_k(spec, dev, batch, policy, k):
    """All bandwidths and peaks x k: time less overhead / k; placement and feasibility unchanged."""
    base = _run(spec, dev, batch, policy=policy)[2]
    every = {name: k for name in dev["memory"]}
    scaled = _run(spec, _scaled(dev, bandwidth=every, peak=k), batch, policy=policy)[2]
    for name in ("compute_time_s", "level_time_s"):
        _close(getattr(scaled, name) * k, getattr(base, name), 1e-9)
    _close(scaled.time_s, (base.time_s - base.overhead_s) / k + base.overhead_s, 1e-9)
    _close(scaled.bytes_moved, base.bytes_moved, 0)
    assert (scaled.feasible == base.feasible).all()
    parts = np.sort(np.concatenate([base.compute_time_s[..., None], base.level_time_s], -1), -1)
    clear = parts[..., -1] > parts[..., -2] * (1 + 1e-6)  # ties may break either way
    assert (scaled.bound[clear] == base.bound[clear]).all()


@given(
    layer_models(tables=False), devices(ordered=True, same_granularity=True, curves=False), batches
)
def test_capacity_aware_never_slower_than_classic_roofline(spec, dev, batch):
    """Placing bytes on faster levels can only help when the hierarchy gets slower downwards.

    (Without efficiency curves: a curve may derate the smaller per-level transfers of a split.)
    """
    aware = _run(spec, dev, batch, policy="capacity")[2]
    single = _run(spec, dev, batch, policy="single")[2]
    assert (aware.time_s <= single.time_s * (1 + 1e-12)).all()
    assert (aware.feasible >= single.feasible).all()
    _close(aware.bytes_moved.sum(-1), single.bytes_moved.sum(-1), 1e-12)


@given(layer_models(), devices(curves=False), batches, dtypes)
def test_fusion_keeps_work_and_never_slows_the_classic_roofline(spec, dev, batch, dtype):
    fused = _run(spec, dev, batch, dtype, "single", fuse=True)
    plain = _run(spec, dev, batch, dtype, "single", fuse=False)
    for f in ("flops_matrix", "flops_vector", "weight_bytes", "weight_read_bytes", "kv_bytes"):
        _close(fused[0].columns[f].sum(axis=0), plain[0].columns[f].sum(axis=0), 1e-12)
    assert (fused[0].act_in_bytes.sum(0) <= plain[0].act_in_bytes.sum(0) * (1 + 1e-12)).all()
    assert (fused[2].latency_s <= plain[2].latency_s * (1 + 1e-12)).all()


@given(layer_models(), devices(), batches, policies)
def test_infeasible_says_by_how_much_and_how_many_devices(spec, dev, batch, policy):
    _, hw, r = _run(spec, dev, batch, policy=policy)
    total = sum(lvl.capacity for lvl in hw.memory.values())
    assert (r.feasible == (r.shortfall_bytes <= 0)).all()
    # one device where its device memory holds the model; a model that fits only with the host
    # tier is feasible and still counts the devices that would hold it in device memory
    device_memory = sum(lvl.capacity for lvl in hw.memory.values() if lvl.kind != "host")
    in_device = r.feasible & (r.footprint_bytes <= device_memory)
    assert (r.devices_needed[in_device] == 1).all()
    assert (r.devices_needed[r.feasible] * device_memory >= r.footprint_bytes[r.feasible]).all()
    bad = ~r.feasible
    assert (r.devices_needed[bad] * total >= r.footprint_bytes[bad] * (1 - 1e-12)).all()
    assert (r.shortfall_bytes <= r.footprint_bytes * (1 + 1e-12)).all()
    assert np.isfinite(r.time_s).all()


@given(layer_models(max_ops=4), batches, dtypes)
def test_bytes_are_elements_times_dtype_size(spec, batch, dtype):
    """Weight bytes = parameters x bytes of the weight dtype (int4: 0.5 B); so are activations."""
    ct = count_graph(build_model(spec).graph, batch, dtype)
    p = Precision.of(dtype)
    _close(ct.weight_bytes, ct.weight_elems * p.bytes_per("weight"), 1e-12)
    _close(ct.act_out_bytes, ct.act_out_elems * p.bytes_per("act_out"), 1e-12)


def test_a_point_that_does_not_fit_has_no_time_by_bound():
    """systems.md and Result.totals: a point that does not fit its device has no time. Its
    time-by-bound columns were filled (llama2_7b at batch 64 on a 24 GB L4: dram 0.273 s beside
    an empty latency); the bytes each level would move stay (they are not times)."""
    t = rl.evaluate("llama2_7b", "l4", batch=[1, 64], dtype="fp16").totals()
    fits = np.array(t.column("feasible"), dtype=bool)
    assert fits.tolist() == [True, False]
    for c in t.columns:
        if c.endswith("_bound_time_s") or c == "overhead_time_s":
            values = np.array(t.column(c), dtype=float)
            assert np.isfinite(values[0]) and np.isnan(values[1]), c
