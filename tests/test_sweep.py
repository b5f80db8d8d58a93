"""Sweeps, the totals fast paths, sensitivity, latency targets and the sweep CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pytest

import roofline as rl
from roofline.cli.main import main
from roofline.counting import count_graph
from roofline.evaluation import evaluate_costs
from roofline.knobs import vary
from roofline.sweep_sinks import MemorySink
from roofline.sweeps import sweep
from roofline.totals import totals_direct, totals_ridge

SWEEP_CLI = [sys.executable, "-m", "roofline", "sweep"]

KNOBS = {
    "memory.main.bandwidth": np.geomspace(0.2e12, 8e12, 7),
    "memory.onchip.capacity": np.geomspace(1e6, 256e6, 5),
    "engines.matrix.peak.fp16": [1e14, 4e14, 1.5e15],
}


@pytest.mark.parametrize("model", ["resnet50", "shufflenet_v2_x1_0", "dlrm_rm2", "seq2seq_gru"])
@pytest.mark.parametrize("device", ["a100_sxm4_80gb", "xeon_gold_6138_2s", "mi300x"])
def test_fast_paths_equal_full_evaluation(model, device):
    hw = rl.load_hardware(device)
    dtype = (
        "fp16"
        if "fp16" in hw.engines.matrix.peak or "fp16" in hw.engines.matrix.fallback
        else "fp32"
    )
    knobs = {k.replace("fp16", dtype): v for k, v in KNOBS.items()}
    if dtype not in hw.engines.matrix.peak:
        knobs.pop(f"engines.matrix.peak.{dtype}")
    grid = vary(hw, knobs)
    ct = count_graph(rl.load_model(model).graph, [1, 16], dtype, fuse=True)
    for policy in ("capacity", "single"):
        full = evaluate_costs(ct, grid, policy)
        fast = totals_direct(ct, grid, policy)
        np.testing.assert_allclose(fast.latency_s, full.latency_s, rtol=1e-12)
        np.testing.assert_allclose(fast.bound_time_s, full.time_by_bound(), rtol=1e-12, atol=1e-18)
        np.testing.assert_array_equal(fast.feasible, full.feasible)
    ridge = totals_ridge(ct, grid)
    full = evaluate_costs(ct, grid, "single")
    np.testing.assert_allclose(ridge.latency_s, full.latency_s, rtol=1e-9)
    np.testing.assert_allclose(ridge.bound_time_s, full.time_by_bound(), rtol=1e-9, atol=1e-15)


def test_sweep_table_shape_units_and_order():
    t = sweep(
        ["resnet50"],
        "a100_sxm4_80gb",
        {"memory.hbm.bandwidth": ["1 TB/s", "2TB/s"], "memory.sram.capacity": ["8MiB", "32 MiB"]},
        batch=[1, 8],
        dtype=["fp16", "bf16"],
    )
    assert len(t) == 2 * 2 * 2 * 2
    for c in (
        "memory.hbm.bandwidth",
        "memory.sram.capacity",
        "model",
        "batch",
        "dtype",
        "latency_s",
        "throughput_per_s",
        "bound",
        "feasible",
        "utilization",
    ):
        assert c in t.columns
    bw = t.column("memory.hbm.bandwidth")
    assert set(bw) == {1e12, 2e12}
    assert set(t.column("memory.sram.capacity")) == {8 * 2**20, 32 * 2**20}
    # throughput = batch / latency
    np.testing.assert_allclose(
        t.column("throughput_per_s"), t.column("batch") / t.column("latency_s")
    )
    # each point equals a direct evaluation of that variant
    row = t[5]
    hw = rl.load_hardware("a100_sxm4_80gb")
    v = vary(
        hw,
        {
            "memory.hbm.bandwidth": [row["memory.hbm.bandwidth"]],
            "memory.sram.capacity": [row["memory.sram.capacity"]],
        },
    )
    r = rl.evaluate("resnet50", v, batch=row["batch"], dtype=row["dtype"])
    assert r.latency_s[0, 0] == pytest.approx(row["latency_s"], rel=1e-12)
    assert t.to_pandas is not None and len(t.to_records()) == len(t)


def test_an_infeasible_point_has_no_time_in_a_sweep_as_in_totals():
    """Mixtral 8x7B does not fit one 80 GB A100 at 16 bits: the sweep's row says so and, like
    ``evaluate(...).totals()``, carries no latency, throughput or utilization (it once printed
    14 ms and 70.5 samples/s there while its energy columns were empty)."""
    knobs = {"memory.hbm.bandwidth": ["2 TB/s", "3 TB/s"]}
    rows = sweep(["mixtral_8x7b"], "a100_sxm4_80gb", knobs, batch=[1, 4]).to_records()
    hw = vary(rl.load_hardware("a100_sxm4_80gb"), knobs)
    totals = rl.evaluate("mixtral_8x7b", hw, batch=[1, 4]).totals().to_records()
    assert len(rows) == len(totals) == 4
    for row, tot in zip(rows, totals):
        assert row["feasible"] is tot["feasible"] is False
        for col in ("latency_s", "throughput_per_s", "utilization", "energy_per_sample_j"):
            assert row[col] is None and tot[col] is None, col
        assert row["devices_needed"] == tot["devices_needed"] >= 2


def test_sweep_zip_mode_and_errors():
    t = sweep(
        "resnet50",
        "t4",
        {
            "memory.dram.bandwidth": [1e11, 2e11, 3e11],
            "engines.matrix.peak.fp16": [1e13, 2e13, 3e13],
        },
        mode="zip",
    )
    assert len(t) == 3
    with pytest.raises(rl.SpecError, match="equal length"):
        sweep(
            "resnet50",
            "t4",
            {"memory.dram.bandwidth": [1e11, 2e11], "engines.matrix.peak.fp16": [1e13]},
            mode="zip",
        )
    with pytest.raises(rl.SpecError) as exc:
        sweep("resnet50", "t4", {"memory.hbm.bandwidth": [1e11]})
    assert "dram" in str(exc.value)  # did-you-mean names the device's level
    with pytest.raises(rl.SpecError, match="bandwidth"):
        sweep("resnet50", "t4", {"memory.dram.bandwidth": ["40 MiB"]})


def test_executor_results_identical_to_single_process():
    knobs = {
        "memory.main.bandwidth": np.geomspace(1e11, 4e12, 9),
        "memory.onchip.capacity": [4e6, 64e6],
    }
    ref = sweep(["resnet50", "dlrm_rm1"], "a100_sxm4_80gb", knobs, batch=[1, 32])
    with ProcessPoolExecutor(2) as ex:
        par = sweep(
            ["resnet50", "dlrm_rm1"], "a100_sxm4_80gb", knobs, batch=[1, 32], executor=ex, chunk=5
        )
    assert par.to_json() == ref.to_json()


def test_dask_executor_identical():
    distributed = pytest.importorskip("distributed")
    knobs = {"memory.main.bandwidth": np.geomspace(1e11, 4e12, 6)}
    ref = sweep("resnet50", "a100_sxm4_80gb", knobs)
    with (
        distributed.LocalCluster(
            n_workers=1,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            host="127.0.0.1",
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        par = sweep("resnet50", "a100_sxm4_80gb", knobs, executor=client.get_executor(), chunk=2)
    assert par.to_json() == ref.to_json()


def test_sensitivity_ranks_by_speedup_and_bounds():
    t = rl.sensitivity("dlrm_rm2", "a100_sxm4_80gb", batch=64, dtype="fp16")
    speed = t.column("improved_speedup").astype(float)
    assert list(speed) == sorted(speed, reverse=True)
    assert (speed >= 1 - 1e-12).all()  # improving a knob never slows the model
    assert (t.column("degraded_speedup").astype(float) <= 1 + 1e-12).all()


def test_diff_devices_speedup_by_kind():
    d = rl.diff_devices("resnet50", "a100_sxm4_80gb", "h100_sxm5", batch=16, dtype="fp16")
    by_kind, changed = d.by_kind, d.bound_changes
    total = by_kind[-1]
    a = rl.evaluate("resnet50", "a100_sxm4_80gb", batch=16, dtype="fp16").latency_s[0, 0]
    b = rl.evaluate("resnet50", "h100_sxm5", batch=16, dtype="fp16").latency_s[0, 0]
    assert total["speedup"] == pytest.approx(a / b)
    assert all(r["a100_sxm4_80gb_bound"] != r["h100_sxm5_bound"] for r in changed)


def test_sweep_cli_csv_json_plot(tmp_path):
    out, png = tmp_path / "s.json", tmp_path / "s.png"
    cmd = [
        *SWEEP_CLI,
        "resnet50",
        "--hw",
        "a100_sxm4_80gb",
        "--vary",
        "memory.hbm.bandwidth=0.5TB/s:8TB/s:4:log",
        "--vary",
        "memory.sram.capacity=8MiB,32MiB",
        "--batch",
        "1",
        "64",
        "--format",
        "json",
        "-o",
        str(out),
        "--plot",
        str(png),
    ]
    p = subprocess.run(cmd, capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    rows = json.loads(out.read_text())
    assert len(rows) == 4 * 2 * 2
    assert rows[0]["memory.hbm.bandwidth"] == pytest.approx(0.5e12)
    assert rows[-1]["memory.hbm.bandwidth"] == pytest.approx(8e12)
    assert png.stat().st_size > 1000


def test_sweep_honours_efficiency_curves():
    # a calibrated device carries size-dependent efficiency: sweeps must not drop it
    hw = rl.load_hardware("validation/cpu_device.yaml")
    bw = hw.memory[hw.main_level].bandwidth
    t = sweep("resnet50", hw, {"memory.main.bandwidth": [bw, 2 * bw]}, batch=[1, 4])
    v = vary(hw, {"memory.main.bandwidth": [bw, 2 * bw]})
    r = rl.evaluate("resnet50", v, batch=[1, 4])
    np.testing.assert_allclose(t.column("latency_s"), r.latency_s.ravel(), rtol=1e-12)


@pytest.mark.parametrize("model", ["resnet50", "dlrm_rm2", "faster_rcnn_shufflenet"])
def test_direct_path_with_many_capacities_equals_full_evaluation(model):
    # more than 8 capacity configurations take the chunk-vectorized placement branch
    hw = rl.load_hardware("a100_sxm4_80gb")
    grid = vary(
        hw,
        {
            "memory.hbm.bandwidth": np.geomspace(2e11, 8e12, 3),
            "memory.sram.capacity": np.geomspace(1e5, 3e8, 13),
        },
    )
    ct = count_graph(rl.load_model(model).graph, [1, 16], "fp16", fuse=True)
    full, fast = evaluate_costs(ct, grid, "capacity"), totals_direct(ct, grid, "capacity")
    np.testing.assert_allclose(fast.latency_s, full.latency_s, rtol=1e-12)
    np.testing.assert_allclose(fast.bound_time_s, full.time_by_bound(), rtol=1e-12, atol=1e-18)
    np.testing.assert_array_equal(fast.devices_needed, full.devices_needed)


def test_per_op_detail_on_request(tmp_path):
    knobs = {"memory.hbm.bandwidth": ["1 TB/s", "2 TB/s"]}
    plain = sweep("resnet50", "a100_sxm4_80gb", knobs, batch=[1, 8], dtype="fp16")
    assert plain.per_op is None
    t = sweep("resnet50", "a100_sxm4_80gb", knobs, batch=[1, 8], dtype="fp16", per_op=True)
    po = t.per_op
    n_ops = count_graph(rl.load_model("resnet50").graph, 1, "fp16", fuse=True).n_ops
    assert len(po) == len(t) * n_ops
    # per-op times add up to each point's latency
    for row in t:
        sel = (po.column("memory.hbm.bandwidth") == row["memory.hbm.bandwidth"]) & (
            po.column("batch") == row["batch"]
        )
        assert po.column("time_s")[sel].sum() == pytest.approx(row["latency_s"], rel=1e-12)
    many = {"memory.hbm.bandwidth": np.geomspace(1e11, 1e13, 50000)}
    # a row per point and kernel: resnet50's 56 fused groups, or its 174 ops unfused
    with pytest.raises(rl.SpecError, match="per-op detail would have 2800000 rows"):
        sweep("resnet50", "a100_sxm4_80gb", many, per_op=True)
    with pytest.raises(rl.SpecError, match="per-op detail would have 8700000 rows"):
        sweep("resnet50", "a100_sxm4_80gb", many, per_op=True, fuse=False)
    out = tmp_path / "ops.csv"
    cmd = [
        *SWEEP_CLI,
        "resnet50",
        "--hw",
        "a100_sxm4_80gb",
        "-q",
        "--vary",
        "memory.hbm.bandwidth=1TB/s,2TB/s",
        "--per-op",
        str(out),
        "--format",
        "csv",
        "-o",
        str(tmp_path / "s.csv"),
    ]
    assert subprocess.run(cmd, capture_output=True).returncode == 0
    assert len(out.read_text().splitlines()) == 1 + 2 * n_ops


def test_a_system_sweep_over_the_budget_goes_to_disk_too(tmp_path, monkeypatch):
    # a system sweep's text columns (model, system, bound...) are codes like a device sweep's,
    # so its table can go to disk (object columns cannot: that was a TypeError traceback)
    monkeypatch.setenv("ROOFLINE_SPILL_DIR", str(tmp_path))
    knobs = {"interconnect.nvlink.bandwidth": [1e11, 2e11, 3e11]}
    args = (["llama2_70b", "mixtral_8x7b"], "dgx_h100", knobs)
    memory = sweep(*args, tp=[1, 2], ep=[1, 2], batch=[1, 4, 512])
    # the sink's own budget: memory_budget= also holds the system variants (96 KiB) to it
    disk = sweep(*args, tp=[1, 2], ep=[1, 2], batch=[1, 4, 512], out=MemorySink("100 B"))
    assert isinstance(memory._cols, dict) and not isinstance(disk._cols, dict)
    assert disk.to_csv() == memory.to_csv() and disk.rows == memory.rows
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize(
    ("path", "text", "si", "problem"),
    [
        ("memory.hbm.bandwidth", "-2 TB/s", -2e12, "must be positive"),
        ("memory.hbm.bandwidth", "0 TB/s", 0.0, "must be positive"),
        ("overheads.per_op", "-1 us", -1e-6, "must be non-negative"),
        ("engines.matrix.efficiency", "1.5", 1.5, r"must be in \(0, 1\]"),
        ("memory.hbm.bandwidth", "1e30 TB/s", 1e42, "outside the physical range"),
    ],
)
def test_a_knob_value_out_of_range_is_refused_alike_as_text_and_as_si_numbers(
    path, text, si, problem
):
    """The same rule, one place: a value given with its units (one by one) and the same value as
    an SI number in a sweep chunk (checked in bulk) are refused with the same problem."""
    from roofline.errors import SpecError
    from roofline.knobs import parse_knob_values

    hw = rl.load_hardware("h100_sxm5")
    # beside it a value its knob accepts, so that the refused one is the one given
    fine = {"memory.hbm.bandwidth": 2e12, "overheads.per_op": 5e-6}.get(path, 0.5)
    for values in ([text], np.array([fine, si])):
        with pytest.raises(SpecError, match=problem) as err:
            parse_knob_values(hw, path, values)
        assert err.value.field == path


def test_diff_of_two_devices_of_one_name_keeps_both(tmp_path, capsys):
    """A preset against an edited copy of its YAML: both are named a100_sxm4_80gb, and the
    columns were both ``a100_sxm4_80gb_time_s`` (JSON kept one, the first device's times lost)."""
    spec = os.path.join(os.path.dirname(__file__), "..", "hw_specs", "a100_sxm4_80gb.yaml")
    with open(spec) as f:
        text = f.read()
    assert text.count("bandwidth: 2.039 TB/s") == 1  # the HBM's
    mine = tmp_path / "my_a100.yaml"
    mine.write_text(text.replace("bandwidth: 2.039 TB/s", "bandwidth: 4 TB/s"))
    d = rl.diff_devices("resnet50", "a100_sxm4_80gb", str(mine), batch=64, dtype="fp16")
    cols = d.by_kind.columns
    assert len(set(cols)) == len(cols) and len(set(d.bound_changes.columns)) == 7
    a, b = cols[2], cols[3]
    assert (a, b) == ("a100_sxm4_80gb_a_time_s", "a100_sxm4_80gb_b_time_s")
    assert "a100_sxm4_80gb_a is a100_sxm4_80gb" in d.by_kind.title and str(mine) in d.by_kind.title
    total = d.by_kind[-1]
    ta = rl.evaluate("resnet50", "a100_sxm4_80gb", batch=64, dtype="fp16").latency_s[0, 0]
    tb = rl.evaluate("resnet50", str(mine), batch=64, dtype="fp16").latency_s[0, 0]
    assert total[a] == pytest.approx(ta) and total[b] == pytest.approx(tb) and tb < ta
    assert main(["diff", "resnet50", "--hw", "a100_sxm4_80gb", str(mine), "--batch", "64",
                 "--dtype", "fp16", "--format", "json"]) == 0  # fmt: skip
    rows = json.loads(capsys.readouterr().out)["by_kind"]
    assert rows[-1][a] == pytest.approx(ta) and rows[-1][b] == pytest.approx(tb)


def test_diff_gives_no_time_where_the_model_does_not_fit(capsys):
    """llama2_70b at batch 16 fits neither a T4 (16 GB) nor an H100 (80 GB): diff printed a 467
    ms total and a 9.23x speedup. A device the model does not fit has no time, so no speedup,
    and a warning names it."""
    for hw in ("t4", "h100_sxm5"):
        assert not rl.evaluate("llama2_70b", hw, batch=16, dtype="fp16").feasible[0, 0]
    with pytest.warns(rl.RooflineWarning, match="fits neither t4 nor h100_sxm5"):
        d = rl.diff_devices("llama2_70b", "t4", "h100_sxm5", batch=16, dtype="fp16")
    for row in [*d.by_kind, *d.bound_changes]:
        assert row["t4_time_s"] is None and row["h100_sxm5_time_s"] is None
        assert row["speedup"] is None
    assert "fits neither" in d.by_kind.title
    # one side fits (mi300x: 192 GB): its times stay, the other's and the speedups go
    r = rl.evaluate("llama2_70b", "mi300x", batch=1, dtype="fp16")
    assert r.feasible[0, 0]
    with pytest.warns(rl.RooflineWarning, match="does not fit t4"):
        d = rl.diff_devices("llama2_70b", "mi300x", "t4", batch=1, dtype="fp16")
    total = d.by_kind[-1]
    assert total["mi300x_time_s"] == pytest.approx(r.latency_s[0, 0])
    assert total["t4_time_s"] is None and total["speedup"] is None
    assert main(["diff", "llama2_70b", "--hw", "t4", "h100_sxm5", "--batch", "16"]) == 0
    captured = capsys.readouterr()
    assert captured.err.startswith("roofline: warning: ") and "t4" in captured.err
    assert "467" not in captured.out and "9.23" not in captured.out
