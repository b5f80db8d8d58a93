"""Streaming sweeps: sinks (Parquet, CSV/JSON, callback) give the in-memory table's rows, writes
are atomic, sizes are refused before allocating, chunking and placement shortcuts change no
number."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import roofline as rl
import roofline.distributed
import roofline.sweep_plan
from roofline.counting import count_graph
from roofline.disk_columns import CodedColumns
from roofline.evaluation import evaluate_costs
from roofline.grid import VariantLabels
from roofline.knobs import knob_columns, knob_space, vary
from roofline.placement import MAX_RUNS, first_fit
from roofline.sweep_sinks import META_FILE, SweepOutput, read_sweep
from roofline.sweeps import Progress, sweep
from roofline.totals_lines import totals_lines

pd = pytest.importorskip("pandas")
pq = pytest.importorskip("pyarrow.parquet")

HW = "a100_sxm4_80gb"
KNOBS = {
    "memory.hbm.bandwidth": np.geomspace(0.5e12, 4e12, 9),
    "memory.sram.capacity": ["8 MiB", "40 MiB", "1 GiB"],
}
ARGS = dict(batch=[1, 16], dtype=["fp16", "int8"])
MODELS = ["resnet18", "dlrm_rm1"]


@pytest.fixture(scope="module")
def reference():
    return sweep(MODELS, HW, KNOBS, **ARGS)


def test_parquet_dataset_reads_back_as_the_in_memory_table(tmp_path, reference, monkeypatch):
    monkeypatch.setattr(roofline.sweep_plan, "PART_ROWS", 16)  # two chunks of 4 x 2 rows a part
    out = tmp_path / "s.parquet"
    got = sweep(MODELS, HW, KNOBS, **ARGS, out=str(out), chunk=4)
    assert isinstance(got, SweepOutput) and got.rows == len(reference)
    # 2 models x 2 dtypes x ceil(27 / 4) chunks; a part holds 8 variants, the first only 4
    assert got.chunks == 2 * 2 * 7 and got.parts == 4 * 4
    names = sorted(p.name for p in out.iterdir())
    assert names[:2] == [META_FILE, "part-000000.parquet"] and len(names) == 1 + got.parts
    assert pq.ParquetFile(out / "part-000001.parquet").num_row_groups == 2  # one per chunk
    back = read_sweep(out)
    assert back.to_json() == reference.to_json()  # energy columns included
    assert back.knobs == ("memory.hbm.bandwidth", "memory.sram.capacity")
    # pandas reads the directory as it is: categories for the labels, floats for the knobs
    df = pd.read_parquet(out)
    assert len(df) == len(reference)
    assert str(df["model"].dtype) == "category" and set(df["bound"].cat.categories) >= {"compute"}
    assert df["memory.hbm.bandwidth"].dtype == np.float64
    np.testing.assert_array_equal(df["latency_s"].to_numpy(), reference.column("latency_s"))
    assert list(read_sweep(out, columns=["model", "latency_s"]).columns) == ["model", "latency_s"]


@pytest.mark.filterwarnings("ignore:The inplace keyword")  # inside dask's own parquet reader
def test_dask_dataframe_reads_the_dataset(tmp_path):
    dd = pytest.importorskip("dask.dataframe")
    out = tmp_path / "s.parquet"
    sweep("resnet18", HW, {"memory.hbm.bandwidth": [1e12, 2e12, 3e12]}, out=out, chunk=1)
    df = dd.read_parquet(str(out)).compute()
    assert len(df) == 3 and df["latency_s"].is_monotonic_decreasing


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_text_streams_equal_the_whole_table(tmp_path, reference, fmt):
    out = tmp_path / f"s.{fmt}"
    got = sweep(MODELS, HW, KNOBS, **ARGS, out=out, chunk=5)
    assert got.rows == len(reference) and got.chunks > 1
    assert out.read_text() == reference.format(fmt) + ("\n" if fmt == "json" else "")


def test_callback_gets_every_chunk_in_order(reference):
    seen = []
    got = sweep(MODELS, HW, KNOBS, **ARGS, out=seen.append, chunk=7)
    assert [c.index for c in seen] == list(range(got.chunks))
    assert [c.row for c in seen] == list(np.cumsum([0] + [len(c) for c in seen[:-1]]))
    # compact columns: codes for the labels, decoded on request
    assert seen[0].columns["model"].dtype.kind == "i"
    rows = [r for c in seen for r in c.to_table().to_records()]
    assert rows == reference.to_records()


def test_an_executor_with_a_window_gives_the_same_rows(reference):
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(3) as ex:
        got = sweep(MODELS, HW, KNOBS, **ARGS, executor=ex, window=2, chunk=3)
    assert got.to_json() == reference.to_json()


def _interrupt_after(monkeypatch, n):
    real = roofline.sweep_plan.chunk_columns
    calls = []

    def chunk_then_fail(*args):
        calls.append(1)
        if len(calls) > n:
            raise KeyboardInterrupt
        return real(*args)

    monkeypatch.setattr(roofline.sweep_plan, "chunk_columns", chunk_then_fail)


def test_a_failed_sweep_leaves_the_earlier_dataset_and_no_temporary(tmp_path, monkeypatch):
    out = tmp_path / "s.parquet"
    knobs = {"memory.hbm.bandwidth": [1e12, 2e12, 3e12, 4e12]}
    sweep("resnet18", HW, knobs, out=out, chunk=1)
    before = read_sweep(out).to_json()
    _interrupt_after(monkeypatch, 2)
    with pytest.raises(KeyboardInterrupt):
        sweep("resnet18", HW, {"memory.hbm.bandwidth": [5e12, 6e12, 7e12]}, out=out, chunk=1)
    assert read_sweep(out).to_json() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.parquet"]
    with pytest.raises(KeyboardInterrupt):
        sweep("resnet18", HW, knobs, out=tmp_path / "t.csv", chunk=1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.parquet"]


def test_a_dataset_replaces_only_an_earlier_dataset(tmp_path):
    knobs = {"memory.hbm.bandwidth": [1e12, 2e12]}
    out = tmp_path / "s.parquet"
    sweep("resnet18", HW, knobs, out=out)
    sweep("resnet18", HW, {"memory.hbm.bandwidth": [3e12]}, out=out)  # replaced whole
    assert len(read_sweep(out)) == 1
    for blocker in ("file.parquet", "dir.parquet"):
        path = tmp_path / blocker
        if blocker.startswith("dir"):
            path.mkdir()
            (path / "mine.txt").write_text("keep")
        else:
            path.write_text("keep")
        with pytest.raises(rl.SpecError, match="not a sweep dataset"):
            sweep("resnet18", HW, knobs, out=path)
        assert (path / "mine.txt" if path.is_dir() else path).read_text() == "keep"
    with pytest.raises(rl.SpecError, match="does not exist"):
        sweep("resnet18", HW, knobs, out=tmp_path / "no" / "s.parquet")
    with pytest.raises(rl.SpecError, match="format"):
        sweep("resnet18", HW, knobs, out=tmp_path / "s.xlsx")
    with pytest.raises(rl.SpecError, match="not a sweep dataset"):
        read_sweep(tmp_path / "dir.parquet")


def test_sizes_are_refused_before_allocating(monkeypatch):
    hw = rl.load_hardware(HW)
    huge = {
        "memory.hbm.bandwidth": np.geomspace(1e11, 1e13, 10**6),
        "memory.sram.capacity": np.geomspace(1e6, 1e9, 10**6),
    }
    start = time.perf_counter()
    with pytest.raises(rl.SpecError, match=r"1,000,000,000,000 rows.*budget of 4 GiB.*parquet"):
        sweep("resnet50", hw, huge)
    with pytest.raises(rl.SpecError, match=r"vary: .*1,000,000,000,000 device variants"):
        rl.vary(hw, huge)
    assert time.perf_counter() - start < 10  # no allocation of 1e12 of anything
    big = rl.vary(hw, {"memory.hbm.bandwidth": np.geomspace(1e11, 1e13, 30000)})
    with pytest.raises(rl.SpecError, match="rl.sweep keeps totals only"):
        rl.evaluate("resnet50", big, batch=list(range(1, 65)))
    # the budget: the environment, then the argument
    small = {"memory.hbm.bandwidth": np.geomspace(1e11, 1e13, 1000)}
    monkeypatch.setenv("ROOFLINE_MEMORY_BUDGET", "10 kB")
    assert isinstance(sweep("resnet18", hw, small)._cols, CodedColumns)  # over it: on disk
    assert isinstance(sweep("resnet18", hw, small, memory_budget="1 GiB")._cols, dict)
    monkeypatch.setenv("ROOFLINE_MEMORY_BUDGET", "lots")
    with pytest.raises(rl.SpecError, match="ROOFLINE_MEMORY_BUDGET: .*lots"):
        sweep("resnet18", hw, small)


def test_knob_space_slices_equal_the_whole_grid():
    hw = rl.load_hardware(HW)
    knobs = {
        "memory.hbm.bandwidth": [1e12, 2e12, 3e12],
        "memory.sram.capacity": [1e6, 2e6],
        "engines.matrix.peak.fp16": [1e14, 2e14, 3e14, 4e14],
    }
    whole = knob_columns(hw, knobs)
    space = knob_space(hw, knobs)
    assert space.size == 24
    for start, stop in ((0, 24), (5, 11), (23, 24)):
        part = space.columns(start, stop)
        for k in whole:
            np.testing.assert_array_equal(part[k], whole[k][start:stop])
        # groups: the same number exactly where every other knob has the same value
        for i, knob in enumerate(knobs):
            groups = space.groups(start, stop, i)
            others = np.column_stack([part[k] for k in part if k != knob])
            same_group = groups[:, None] == groups[None, :]
            same_others = (others[:, None, :] == others[None, :, :]).all(axis=-1)
            np.testing.assert_array_equal(same_group, same_others)
            assert sorted(set(groups.tolist())) == list(range(groups.max() + 1))


def test_variant_labels_are_lazy_and_read_like_strings():
    grid = vary(rl.load_hardware("t4"), {"memory.dram.bandwidth": np.arange(1, 11) * 1e11})
    assert isinstance(grid.labels, VariantLabels)
    assert grid.labels[3] == "t4[3]" and grid.labels.index("t4[7]") == 7
    assert list(grid.take(slice(2, 4)).labels) == ["t4[2]", "t4[3]"]
    assert list(grid.take(np.array([9, 0])).labels) == ["t4[9]", "t4[0]"]
    assert grid.labels == tuple(f"t4[{i}]" for i in range(10))


def _first_fit_one_by_one(sizes, room):
    """The rule as written: each table in the first level with room left, else the last."""
    room = list(room)
    levels, short = [], 0.0
    for s in sizes:
        fit = next((k for k, r in enumerate(room) if r >= s), None)
        if fit is None:
            levels.append(len(room) - 1)
            short += s
        else:
            levels.append(fit)
            room[fit] -= s
    return levels, short


@given(
    st.lists(st.integers(0, 2000), max_size=3 * MAX_RUNS),
    st.lists(st.lists(st.integers(-50, 6000), min_size=3, max_size=3), min_size=1, max_size=4),
)
def test_first_fit_is_the_table_by_table_rule(sizes, rooms):
    sizes_a = np.asarray(sizes, dtype=float)
    levels, short = first_fit(sizes_a, np.asarray(rooms, dtype=float))
    for v, room in enumerate(rooms):
        want_levels, want_short = _first_fit_one_by_one(sizes, room)
        assert levels[v].tolist() == want_levels
        assert short[v] == want_short


@pytest.mark.parametrize("model", ["resnet50", "dlrm_rm2", "seq2seq_gru"])
@pytest.mark.parametrize("device", ["a100_sxm4_80gb", "mi300x"])
def test_line_path_equals_full_evaluation_whatever_varies(model, device):
    hw = rl.load_hardware(device)
    knobs = {
        "memory.main.bandwidth": np.geomspace(0.2e12, 8e12, 5),
        "memory.onchip.capacity": np.geomspace(1e6, 256e6, 3),
        "engines.matrix.peak.fp16": [1e14, 1.5e15],
        "engines.vector.efficiency": [0.5, 1.0],
    }
    grid = vary(hw, knobs)
    ct = count_graph(rl.load_model(model).graph, [1, 16], "fp16", fuse=True)
    for policy in ("capacity", "single"):
        full = evaluate_costs(ct, grid, policy)
        for varying in ("matrix", "vector", *range(len(hw.memory))):
            fast = totals_lines(ct, grid, policy, varying)
            np.testing.assert_allclose(fast.latency_s, full.latency_s, rtol=1e-12)
            np.testing.assert_allclose(
                fast.bound_time_s, full.time_by_bound(), rtol=1e-12, atol=1e-18
            )
            np.testing.assert_array_equal(fast.feasible, full.feasible)
            np.testing.assert_array_equal(fast.devices_needed, full.devices_needed)


@pytest.mark.parametrize("policy", ["capacity", "single"])
@pytest.mark.parametrize("bandwidth_first", [False, True])
def test_rows_do_not_depend_on_the_chunking(policy, bandwidth_first):
    knobs = {
        "memory.sram.capacity": np.geomspace(1e6, 1e9, 7),
        "memory.hbm.bandwidth": np.geomspace(0.5e12, 4e12, 40),
    }
    if bandwidth_first:
        knobs = dict(reversed(knobs.items()))
    plan = roofline.sweep_plan.plan_sweep(
        [rl.load_model("resnet50")],
        rl.load_hardware(HW),
        knob_space(rl.load_hardware(HW), knobs),
        np.array([1.0]),
        ["fp16"],
        policy,
        True,
    )
    assert plan.jobs[0].varying == 1  # hbm bandwidth, 40 values: the line path
    ref = sweep("resnet50", HW, knobs, dtype="fp16", policy=policy)
    for chunk in (1, 13, 1000):
        got = sweep("resnet50", HW, knobs, dtype="fp16", policy=policy, chunk=chunk)
        assert got.to_json() == ref.to_json()


def test_progress_shows_rate_and_time_left():
    class Stream(list):
        def write(self, s):
            self.append(s)

        def flush(self):
            pass

    out = Stream()
    bar = Progress(100, delay=0.0, stream=out)
    bar.every = 0.0
    bar.update(25)
    bar.update(75)
    assert "points/s, ETA" in out[0] and out[-1].rstrip().endswith("done)")
    assert bar.first is not None


def test_cli_streams_parquet_and_csv(tmp_path, reference):
    base = [sys.executable, "-m", "roofline", "sweep", "resnet18", "dlrm_rm1", "--hw", HW, "-q"]
    base += ["--vary", "memory.hbm.bandwidth=0.5TB/s:4TB/s:9:log"]
    base += ["--vary", "memory.sram.capacity=8MiB,40MiB,1GiB"]
    base += ["--batch", "1", "16", "--dtype", "fp16", "int8"]
    p = subprocess.run([*base, "-o", str(tmp_path / "s.parquet")], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    back = read_sweep(tmp_path / "s.parquet")
    assert len(back) == len(reference)
    np.testing.assert_allclose(back.column("latency_s"), reference.column("latency_s"), rtol=1e-12)
    p = subprocess.run([*base, "--format", "csv"], capture_output=True, text=True)
    assert p.returncode == 0 and p.stdout == back.to_csv()
    bad = subprocess.run([*base, "--workers", "0"], capture_output=True, text=True)
    assert bad.returncode == 2 and "workers" in bad.stderr and "Traceback" not in bad.stderr
    bad = subprocess.run([*base, "--scheduler", "nowhere"], capture_output=True, text=True)
    assert bad.returncode == 2 and "tcp://HOST:PORT" in bad.stderr
    assert bad.stderr.count("\n") == 1


def test_an_unreachable_scheduler_is_one_clear_error(monkeypatch):
    pytest.importorskip("distributed")
    monkeypatch.setattr(roofline.distributed, "CONNECT_TIMEOUT", "0.5s")
    with pytest.raises(rl.SpecError, match="cannot reach the Dask scheduler.*dask scheduler"):
        sweep("resnet18", HW, {"memory.hbm.bandwidth": [1e12]}, scheduler="tcp://127.0.0.1:9")
    with pytest.raises(rl.SpecError, match="not both"):
        sweep("resnet18", HW, {"memory.hbm.bandwidth": [1e12]}, scheduler="tcp://a:1", workers=2)


def test_a_system_sweep_streams_too(tmp_path):
    knobs = {"count": [8, 16]}
    ref = sweep("llama2_7b", "dgx_h100", knobs, dtype="fp16", tp=[1, 8])
    out = tmp_path / "sys.parquet"
    sweep("llama2_7b", "dgx_h100", knobs, dtype="fp16", tp=[1, 8], out=out)
    assert read_sweep(out).to_json() == ref.to_json()


def test_a_killed_worker_changes_nothing(tmp_path, monkeypatch):
    """A 2-worker LocalCluster loses a worker mid-sweep (SIGKILL): the scheduler runs its tasks
    again elsewhere and the dataset equals the serial sweep's rows."""
    distributed = pytest.importorskip("distributed")
    knobs = {
        "memory.sram.capacity": np.geomspace(1e6, 1e9, 48),
        "memory.hbm.bandwidth": np.geomspace(0.5e12, 4e12, 40),
    }
    ref = sweep("resnet50", HW, knobs, dtype="fp16", chunk=40)
    # many parts (4 chunks each), so that some are in flight when the worker dies
    monkeypatch.setattr(roofline.sweep_plan, "PART_ROWS", 160)
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            host="127.0.0.1",
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        pids = client.run(os.getpid)
        victim = sorted(pids.values())[0]
        killed = []

        def kill_once(points):
            if not killed:
                os.kill(victim, 9)
                killed.append(points)

        out = tmp_path / "s.parquet"
        got = sweep(
            "resnet50",
            HW,
            knobs,
            dtype="fp16",
            chunk=40,
            out=out,
            scheduler=cluster.scheduler_address,
            progress=kill_once,
        )
        assert killed and got.chunks == 48 and got.parts > 2
    with pytest.raises(ProcessLookupError):
        os.kill(victim, 0)
    assert read_sweep(out).to_json() == ref.to_json()
    assert json.loads((out / META_FILE).read_text())["rows"] == len(ref)
    assert not [p for p in Path(out).iterdir() if p.name.startswith(".")]


def test_a_table_over_the_memory_budget_goes_to_disk_and_reads_the_same(tmp_path, monkeypatch):
    hw = rl.load_hardware(HW)
    knobs = {"memory.hbm.bandwidth": np.geomspace(1e11, 1e13, 300)}
    monkeypatch.setenv("ROOFLINE_SPILL_DIR", str(tmp_path))
    memory = sweep(["resnet18", "mobilenet_v2"], hw, knobs, batch=[1, 8], dtype=["fp16", "int8"])
    disk = sweep(["resnet18", "mobilenet_v2"], hw, knobs, batch=[1, 8], dtype=["fp16", "int8"],
                 memory_budget="1 kB", chunk=100)  # fmt: skip
    assert isinstance(memory._cols, dict) and isinstance(disk._cols, CodedColumns)
    assert len(disk) == len(memory) == 2400 and disk.knobs == memory.knobs
    assert disk.to_csv() == memory.to_csv()
    assert disk["model"] == memory["model"] and disk.rows == memory.rows
    assert disk._cols.nbytes() < sum(v.nbytes for v in memory._cols.values())  # codes kept
    assert os.listdir(tmp_path) == []  # unlinked once mapped: gone with the table

    # a sweep whose disk fills halfway: one line, and nothing left behind
    real_pwrite = os.pwrite

    def full_after_one_chunk(fd: int, data: object, offset: int) -> int:
        if offset > 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_pwrite(fd, data, offset)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "pwrite", full_after_one_chunk)
    with pytest.raises(rl.SpecError, match="table on disk: No space left.*SPILL_DIR"):
        sweep("resnet18", hw, knobs, batch=[1, 8], memory_budget="1 kB", chunk=100)
    monkeypatch.setattr(os, "pwrite", real_pwrite)
    assert os.listdir(tmp_path) == []
    # a directory that cannot hold it, or is not there: one line naming the way out
    monkeypatch.setenv("ROOFLINE_SPILL_DIR", str(tmp_path / "missing"))
    with pytest.raises(rl.SpecError, match="ROOFLINE_SPILL_DIR"):
        sweep("resnet18", hw, knobs, memory_budget="1 kB")
    (tmp_path / "a_file").write_text("")
    monkeypatch.setenv("ROOFLINE_SPILL_DIR", str(tmp_path / "a_file"))
    with pytest.raises(rl.SpecError, match="a_file: out: cannot write a table on disk.*SPILL_DIR"):
        sweep("resnet18", hw, knobs, memory_budget="1 kB")
    (tmp_path / "a_file").unlink()
    huge = {"memory.hbm.bandwidth": np.geomspace(1e11, 1e13, 10**6),
            "memory.sram.capacity": np.geomspace(1e6, 1e9, 10**6)}  # fmt: skip
    monkeypatch.setenv("ROOFLINE_SPILL_DIR", str(tmp_path))
    with pytest.raises(rl.SpecError, match=r"on disk in .* free.*out='sweep.parquet'.*SPILL_DIR"):
        sweep("resnet50", hw, huge)
    assert os.listdir(tmp_path) == []
