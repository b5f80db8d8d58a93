"""Valid extremes are results, not errors: huge tables, sub-byte weights, huge batches and tiny
on-chip memories evaluate to finite numbers, with infeasibility reported where it applies."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from roofline import cli
from roofline.api import count, evaluate
from roofline.knobs import vary
from roofline.presets import load_hardware

A100 = "a100_sxm4_80gb"


def _finite(r) -> None:
    for name in (
        "time_s",
        "compute_time_s",
        "level_time_s",
        "bytes_moved",
        "shortfall_bytes",
        "footprint_bytes",
        "devices_needed",
    ):
        assert np.isfinite(getattr(r, name)).all(), name
    assert (r.latency_s > 0).all()
    records = r.totals().to_records()
    json.dumps(records, allow_nan=False)  # every total is a finite JSON number


BIG_TABLE = """\
name: big_table
family: layers
source: test
params:
  inputs: {x: [1]}
  ops:
    - {kind: embedding_bag, name: table, num_embeddings: 1e12, embedding_dim: 64,
       pooling_factor: 20}
"""


def test_a_trillion_row_table_is_infeasible_by_its_size(tmp_path):
    """1e12 rows x 64 fp32 = 2.56e14 B: more than the whole device (all levels) holds. Devices
    needed: how many devices' device memory (on-chip + HBM, never host memory) holds it."""
    path = tmp_path / "big_table.yaml"
    path.write_text(BIG_TABLE)
    r = evaluate(str(path), A100, batch=[1, 1000], dtype="fp32")
    _finite(r)
    table = 1e12 * 64 * 4
    assert not r.feasible.any()
    np.testing.assert_allclose(r.shortfall_bytes, table, rtol=1e-12)
    hw = load_hardware(A100)
    per_device = sum(lvl.capacity for lvl in hw.memory.values() if lvl.kind != "host")
    assert (r.devices_needed == math.ceil(r.footprint_bytes[0, 0] / per_device)).all()
    # 20 lookups of one 256 B row per sample are the traffic, not the table
    assert r.bytes_moved[0, 0].sum() < 1e5


def test_int4_weights_take_half_a_byte_each():
    c = count("resnet50", dtype="w4a16").costs
    assert c.weight_bytes.sum() == pytest.approx(0.5 * c.weight_elems.sum(), rel=1e-12)
    r = evaluate("resnet50", A100, dtype="w4a16", batch=[1, 256])
    _finite(r)
    assert r.feasible.all()
    assert r.costs.precision.compute == "fp16"


def test_a_million_samples_is_a_result_with_its_shortfall():
    """ResNet-50 at batch 1e6 needs ~3.6 TB of live activations: infeasible, still finite."""
    r = evaluate("resnet50", A100, batch=[1, 10**6], dtype="fp16")
    _finite(r)
    assert r.feasible[0, 0] and not r.feasible[0, 1]
    assert r.shortfall_bytes[0, 1] > 1e12
    assert r.devices_needed[0, 1] >= 2


def test_one_kib_of_sram_only_changes_where_bytes_come_from():
    hw = load_hardware(A100)
    tiny = vary(hw, {"memory.sram.capacity": ["1 KiB"]})
    r = evaluate("resnet50", tiny, batch=[1, 64], dtype="fp16")
    _finite(r)
    assert r.feasible.all()
    roomy = evaluate("resnet50", A100, batch=[1, 64], dtype="fp16")
    assert (r.latency_s >= roomy.latency_s).all()  # less on-chip memory never helps here


@pytest.mark.parametrize(
    "argv",
    [
        ["analyze", "resnet50", "--hw", A100, "--batch", "1000000", "--dtype", "fp16"],
        ["analyze", "resnet50", "--hw", A100, "--dtype", "w4a16"],
        ["compare", "resnet18", "resnet50", "--hw", A100, "t4", "--batch", "1", "1000000"],
    ],
)
def test_extremes_through_the_cli_are_valid_json(argv, capsys):
    assert cli.main([*argv, "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data


def test_trillion_row_table_through_the_cli(tmp_path, capsys):
    path = tmp_path / "big_table.yaml"
    path.write_text(BIG_TABLE)
    assert (
        cli.main(["compare", str(path), "--hw", A100, "--dtype", "fp32", "--format", "json"]) == 0
    )
    (row,) = json.loads(capsys.readouterr().out)
    assert row["feasible"] is False
    assert row["capacity_shortfall_bytes"] == pytest.approx(2.56e14)
