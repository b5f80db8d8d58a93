"""The scalar oracle (roofline/oracle.py): right by hand-derived figures, and equal to the
vectorized evaluation on every shipped model (tests/test_invariants.py: on generated models)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from roofline.counting import count_graph
from roofline.evaluation import evaluate_costs
from roofline.knobs import vary
from roofline.presets import build_model, list_models, load_hardware, load_model
from roofline.testing.oracle import curve_value, evaluate_one

MiB = 2**20


def _device(sram: float, tile: list[int] | None = None, host: float | None = None) -> dict:
    """1 TFLOP/s fp16 matrix, 0.1 TFLOP/s vector; SRAM 10 TB/s; DRAM 1 GiB at 100 GB/s; 1 us/op."""
    matrix = {"peak": {"fp16": 1e12, "fp32": 1e12}, "source": "test"}
    if tile:
        matrix["tile"] = tile
    memory = {
        "sram": {
            "kind": "onchip",
            "capacity": sram,
            "bandwidth": 1e13,
            "granularity": 32,
            "source": "test",
        },
        "dram": {
            "kind": "device",
            "capacity": 2**30,
            "bandwidth": 1e11,
            "granularity": 64,
            "source": "test",
        },
    }
    if host is not None:
        memory["host"] = {
            "kind": "host",
            "capacity": host,
            "bandwidth": 1e10,
            "granularity": 128,
            "source": "test",
        }
    return {
        "name": "toy",
        "source": "test",
        "engines": {
            "matrix": matrix,
            "vector": {"peak": {"fp16": 1e11, "fp32": 1e11}, "source": "test"},
        },
        "memory": memory,
        "overheads": {"per_op": 1e-6, "source": "test"},
    }


def _model(ops: list[dict], x: list[int]) -> dict:
    return {
        "name": "toy",
        "family": "layers",
        "source": "test",
        "params": {"inputs": {"x": x}, "ops": ops},
    }


FC = _model([{"kind": "linear", "name": "fc", "out_features": 1024, "bias": False}], [1024])
# a 1024 x 1024 fp16 linear at batch 1: 2 * 1024^2 FLOPs, 2 MiB of weights, 2 KiB in, 2 KiB out;
# its live set is its input and output: 4096 B
FLOPS, WEIGHTS, ACTS = 2.0 * 1024**2, 2.0 * 1024**2, 4096.0


def _both(spec: dict, dev: dict, policy: str, batch: int = 1):
    ct = count_graph(build_model(spec).graph, [batch], "fp16")
    hw = load_hardware(dev)
    return evaluate_one(ct, hw, 0, policy), evaluate_costs(ct, hw, policy)


def test_classic_roofline_streams_everything_from_dram():
    one, vec = _both(FC, _device(sram=MiB), "single")
    assert one.bytes_moved == [[0.0, WEIGHTS + ACTS]]
    assert one.compute_time_s[0] == pytest.approx(FLOPS / 1e12, rel=1e-12)
    assert one.time_s[0] == pytest.approx((WEIGHTS + ACTS) / 1e11 + 1e-6, rel=1e-12)
    assert one.bound == [2]  # 0 compute, 1 sram, 2 dram
    assert one.feasible and one.footprint_bytes == WEIGHTS + ACTS
    assert vec.time_s[0, 0, 0] == pytest.approx(one.time_s[0], rel=1e-12)


def test_capacity_aware_keeps_activations_on_chip_when_weights_do_not_fit():
    one, vec = _both(FC, _device(sram=MiB), "capacity")  # 2 MiB of weights > 1 MiB
    assert one.bytes_moved == [[ACTS, WEIGHTS]]
    assert one.time_s[0] == pytest.approx(WEIGHTS / 1e11 + 1e-6, rel=1e-12)
    assert one.bound == [2]
    np.testing.assert_allclose(vec.bytes_moved[0, 0], one.bytes_moved, rtol=1e-12)


def test_capacity_aware_resident_weights_make_the_op_compute_bound():
    one, _ = _both(FC, _device(sram=4 * MiB), "capacity")  # weights + live set fit: resident
    assert one.bytes_moved == [[WEIGHTS + ACTS, 0.0]]
    assert one.level_time_s[0][0] == pytest.approx((WEIGHTS + ACTS) / 1e13, rel=1e-12)
    assert one.bound == [0]
    assert one.time_s[0] == pytest.approx(FLOPS / 1e12 + 1e-6, rel=1e-12)


def test_tile_padding():
    """M = 1 on a 16-row tile: 1/16 of the work is useful, compute time x16."""
    one, vec = _both(FC, _device(sram=MiB, tile=[16, 8, 16]), "single")
    assert one.tile_utilization == [pytest.approx(1 / 16, rel=1e-12)]
    assert one.compute_time_s[0] == pytest.approx(16 * FLOPS / 1e12, rel=1e-12)
    assert vec.tile_utilization[0, 0, 0] == pytest.approx(1 / 16, rel=1e-12)


TABLES = _model(
    [
        {
            "kind": "embedding_bag",
            "name": "small",
            "inputs": ["x"],
            "num_embeddings": 1000,
            "embedding_dim": 64,
            "pooling_factor": 10,
        },
        {
            "kind": "embedding_bag",
            "name": "big",
            "inputs": ["x"],
            "num_embeddings": 10**6,
            "embedding_dim": 32,
            "pooling_factor": 1,
        },
    ],
    [1],
)


def test_tables_go_to_the_fastest_tier_with_room():
    """fp16 tables: small = 1000 x 64 x 2 = 128 kB (SRAM), big = 1e6 x 32 x 2 = 64 MB (> 48 MB of
    DRAM left, so host). At batch 4, big reads 4 rows of 64 B, each rounded up to the host's 128 B
    granularity: 512 B from the host; small reads 40 rows of 128 B from SRAM (32 B granularity)."""
    dev = _device(sram=MiB, host=1e12)
    dev["memory"]["dram"]["capacity"] = 48e6
    one, vec = _both(TABLES, dev, "capacity", batch=4)
    small, big = one.bytes_moved
    assert big[2] == 4 * 128
    assert small[0] >= 40 * 128 and small[1] == 0 and small[2] == 0
    assert one.feasible
    np.testing.assert_allclose(vec.bytes_moved[0, 0], one.bytes_moved, rtol=1e-12)


def test_a_table_that_fits_nowhere_is_reported_not_raised():
    dev = _device(sram=MiB, host=10e6)
    dev["memory"]["dram"]["capacity"] = 48e6
    one, vec = _both(TABLES, dev, "capacity", batch=4)
    assert not one.feasible
    assert one.shortfall_bytes == 64e6  # the big table, served by the slowest level meanwhile
    total = MiB + 48e6 + 10e6  # < 64 MB: two devices, all levels pooled
    assert one.devices_needed == math.ceil(one.footprint_bytes / total) == 2
    assert one.bytes_moved[1][2] == 4 * 128
    assert not vec.feasible[0, 0] and vec.shortfall_bytes[0, 0] == 64e6


def test_efficiency_curve_is_linear_in_log_size_and_clamped():
    dev = _device(sram=MiB)
    dev["engines"]["matrix"]["efficiency_curve"] = {"size": [1e3, 1e9], "efficiency": [0.2, 0.8]}
    hw = load_hardware(dev)
    curve = hw.engines.matrix.efficiency_curve
    assert curve_value(curve, 1.0) == 0.2 and curve_value(curve, 1e12) == 0.8
    assert curve_value(curve, 1e6) == pytest.approx(0.5, rel=1e-12)  # halfway in log(size)
    one, vec = _both(FC, dev, "single")
    eff = 0.2 + 0.6 * math.log(FLOPS / 1e3) / math.log(1e6)
    assert one.compute_time_s[0] == pytest.approx(FLOPS / 1e12 / eff, rel=1e-12)
    assert one.ideal_time_s[0] == pytest.approx((WEIGHTS + ACTS) / 1e11 + 1e-6, rel=1e-12)
    assert vec.compute_time_s[0, 0, 0] == pytest.approx(one.compute_time_s[0], rel=1e-12)


def test_gather_curve_derates_only_the_lookups_by_rounded_row_bytes():
    """``big`` alone on the single-level roofline at batch 1000: 1000 rows of 64 B (fp16, D = 32;
    already a multiple of DRAM's 64 B granularity) = 64 kB of lookups, plus 8 kB of int64 indices
    and 64 kB of pooled output that stream. A gather curve of 0.25 at 64 B quarters only the
    lookups' rate; the ideal time keeps the full bandwidth."""
    spec = _model([TABLES["params"]["ops"][1]], [1])
    dev = _device(sram=MiB)
    dev["memory"]["dram"]["gather_curve"] = {"size": [64, 4096], "efficiency": [0.25, 1.0]}
    one, vec = _both(spec, dev, "single", batch=1000)
    rows, streamed = 1000 * 64.0, 1000 * 8.0 + 1000 * 64.0
    assert one.bytes_moved[0][1] == rows + streamed
    assert one.level_time_s[0][1] == pytest.approx((streamed + rows / 0.25) / 1e11, rel=1e-12)
    assert one.ideal_time_s[0] == pytest.approx((rows + streamed) / 1e11 + 1e-6, rel=1e-12)
    assert vec.time_s[0, 0, 0] == pytest.approx(one.time_s[0], rel=1e-12)
    # the curve keys on the row rounded up to the level's granularity: 32-element fp32 rows are
    # 128 B, a sixth of the way from 64 B to 4096 B in log(size)
    ct = count_graph(build_model(spec).graph, [1000], "fp32")
    eff = 0.25 + 0.75 * math.log(2) / math.log(64)
    o32 = evaluate_one(ct, load_hardware(dev), 0, "single")
    rows32, streamed32 = 1000 * 128.0, 1000 * 8.0 + 1000 * 128.0
    assert o32.level_time_s[0][1] == pytest.approx((streamed32 + rows32 / eff) / 1e11, rel=1e-12)


# -- every shipped model --------------------------------------------------------------------------

DEVICES = ["a100_sxm4_80gb", "tpu_v4", "hypothetical_100tops"]


def _assert_equal(ct, hw, r, h: int, policy: str) -> None:
    for j in range(ct.batch.size):
        o = evaluate_one(ct, hw, j, policy)
        np.testing.assert_allclose(r.time_s[h, j], o.time_s, rtol=1e-9, atol=0)
        np.testing.assert_allclose(r.bytes_moved[h, j], o.bytes_moved, rtol=1e-9, atol=0)
        assert list(r.bound[h, j]) == o.bound
        assert bool(r.feasible[h, j]) == o.feasible
        assert float(r.shortfall_bytes[h, j]) == pytest.approx(o.shortfall_bytes, rel=1e-9)
        assert float(r.devices_needed[h, j]) == o.devices_needed


@pytest.mark.parametrize("model", list_models())
def test_every_shipped_model_equals_the_oracle(model):
    m = load_model(model)
    ct = count_graph(m.graph, [1, 64], "fp16", fuse=True)
    for device in DEVICES:
        hw = load_hardware(device)
        for policy in ("capacity", "single"):
            _assert_equal(ct, hw, evaluate_costs(ct, hw, policy), 0, policy)


@pytest.mark.parametrize("model", ["resnet50", "dlrm_rm1", "bert_base"])
def test_grid_variants_of_a_shipped_device_equal_the_oracle(model):
    """A grid over on-chip capacity (1 KiB .. 1 GiB) and main bandwidth, variant by variant."""
    hw = load_hardware("a100_sxm4_80gb")
    grid = vary(
        hw,
        {
            "memory.onchip.capacity": [1024, 40 * MiB, 2**30],
            "memory.main.bandwidth": ["1 TB/s", "4 TB/s"],
        },
    )
    ct = count_graph(load_model(model).graph, [1, 256], "fp16", fuse=True)
    for policy in ("capacity", "single"):
        r = evaluate_costs(ct, grid, policy)
        for h in range(grid.size):
            _assert_equal(ct, grid.variant(h), r, h, policy)
