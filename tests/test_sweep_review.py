"""Sweep review: per-op detail checked against the budget before anything is written, the
budget's argument and plain bytes honoured everywhere, system sweeps refusing what they cannot
do, datasets read back through their labels, and empty lists refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_errors import one_line

import roofline as rl
from roofline import budget
from roofline.cli.main import main
from roofline.distributed import SCHEDULER_ADDRESS
from roofline.sweep_sinks import META_FILE, read_sweep
from roofline.sweeps import sweep

pytest.importorskip("pyarrow")

HW = "a100_sxm4_80gb"
KNOBS = {
    "memory.hbm.bandwidth": ["1 TB/s", "2 TB/s", "4 TB/s"],
    "memory.sram.capacity": ["8 MiB", "40 MiB"],
}
SYSTEM = "dgx_h100"
SYSTEM_KNOBS = {"interconnect.nvlink.bandwidth": ["450 GB/s", "900 GB/s"], "count": [8]}
CLI_SWEEP = [
    "sweep", "resnet18", "--hw", HW, "--vary", "memory.hbm.bandwidth=1TB/s,2TB/s", "-q",
]  # fmt: skip


def _rows(dataset: Path) -> int:
    return json.loads((dataset / META_FILE).read_text())["rows"]


@pytest.fixture
def earlier(tmp_path):
    """A one-row dataset at tmp_path/p.parquet."""
    p = tmp_path / "p.parquet"
    sweep("resnet18", HW, {"memory.hbm.bandwidth": ["1 TB/s"]}, out=str(p))
    assert _rows(p) == 1
    return p


# 1. per-op detail: the budget is checked first, and memory_budget= reaches it


def test_per_op_over_the_budget_is_refused_before_the_dataset_is_replaced(earlier, tmp_path):
    with pytest.raises(rl.SpecError) as exc:
        sweep("resnet18", HW, KNOBS, batch=[1, 8], per_op=True, out=str(earlier),
              memory_budget="20 kB")  # fmt: skip
    assert exc.value.field == "per_op" and "over the budget of" in str(exc.value)
    assert _rows(earlier) == 1  # the earlier dataset is untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.parquet"]  # nothing left beside


def test_per_op_honours_the_memory_budget_argument_over_the_environment(
    earlier, tmp_path, monkeypatch
):
    monkeypatch.setenv("ROOFLINE_MEMORY_BUDGET", "10 kB")
    got = sweep("resnet18", HW, KNOBS, batch=[1, 8], per_op=True, out=str(earlier),
                memory_budget="1 GiB")  # fmt: skip
    assert got.per_op is not None and _rows(earlier) == 6 * 2
    table = sweep("resnet18", HW, KNOBS, batch=[1, 8], per_op=True, memory_budget="1 GiB")
    assert table.per_op is not None and table.per_op.to_csv() == got.per_op.to_csv()


def test_cli_per_op_over_the_budget_writes_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ROOFLINE_MEMORY_BUDGET", "20 kB")
    argv = [*CLI_SWEEP, "--vary", "memory.sram.capacity=8MiB,40MiB", "--batch", "1", "8"]
    assert main([*argv, "--per-op", "pp.csv", "-o", "ds.parquet"]) == 2
    assert "--per-op" in one_line(capsys.readouterr().err)
    assert list(tmp_path.iterdir()) == []


# 2. and 3. system sweeps: the budget argument; options they cannot honour are refused


def test_system_sweep_honours_the_memory_budget_argument(monkeypatch):
    monkeypatch.setenv("ROOFLINE_MEMORY_BUDGET", "10 kB")
    got = sweep("llama2_7b", SYSTEM, SYSTEM_KNOBS, tp=[1], memory_budget="16 GiB")
    assert len(got) == 2
    monkeypatch.delenv("ROOFLINE_MEMORY_BUDGET")
    with pytest.raises(rl.SpecError, match="system variants.*over the budget of 9.77 KiB"):
        sweep("llama2_7b", SYSTEM, SYSTEM_KNOBS, tp=[1], memory_budget="10 kB")


def test_a_system_table_beyond_its_sinks_budget_goes_to_disk(tmp_path, monkeypatch):
    """memory_budget= now bounds a system's variants too, so a table sink's own budget sends a
    system table to disk (its text columns are codes, as a device sweep's)."""
    from roofline.sweep_sinks import MemorySink

    monkeypatch.setenv("ROOFLINE_SPILL_DIR", str(tmp_path))
    memory = sweep("llama2_7b", SYSTEM, SYSTEM_KNOBS, tp=[1, 2], batch=[1, 4])
    disk = sweep("llama2_7b", SYSTEM, SYSTEM_KNOBS, tp=[1, 2], batch=[1, 4],
                 out=MemorySink("100 B"))  # fmt: skip
    assert isinstance(memory._cols, dict) and not isinstance(disk._cols, dict)
    assert disk.to_csv() == memory.to_csv()
    with pytest.raises(rl.SpecError, match="system variants"):
        sweep("llama2_7b", SYSTEM, SYSTEM_KNOBS, tp=[1, 2], memory_budget="100 B")


@pytest.mark.parametrize(
    "option",
    [
        {"per_op": True},
        {"workers": 2},
        {"scheduler": "tcp://127.0.0.1:8786"},
        {"executor": "pool"},
        {"chunk": 4},
        {"window": 2},
    ],
)
def test_system_sweep_refuses_what_it_cannot_do(option, tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    name = next(iter(option))
    out = tmp_path / "s.parquet"
    with ThreadPoolExecutor(1) as pool:
        kwargs = {name: pool if option[name] == "pool" else option[name]}
        with pytest.raises(rl.SpecError) as exc:
            sweep("llama2_7b", SYSTEM, SYSTEM_KNOBS, tp=[1], out=str(out), **kwargs)
    assert exc.value.field == name and exc.value.fix
    assert not out.exists()


def test_system_sweep_reports_progress():
    seen: list[int] = []
    sweep(["llama2_7b"], SYSTEM, SYSTEM_KNOBS, tp=[1], dtype=["fp16", "int8"],
          progress=seen.append)  # fmt: skip
    assert sum(seen) == 2 * 2  # variants x models x dtypes, as a device sweep counts points


@pytest.mark.parametrize("extra", [["--per-op", "pp.csv"], ["--workers", "2"]])
def test_cli_system_sweep_refuses_per_op_and_workers(extra, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    argv = ["sweep", "llama2_7b", "--hw", SYSTEM, "--vary", "count=8", "--tp", "1", "-q"]
    assert main([*argv, *extra, "-o", "s.csv"]) == 2
    assert extra[0] in one_line(capsys.readouterr().err)
    assert list(tmp_path.iterdir()) == []


# 4. the budget as a plain number of bytes; invalid budgets refused up front


@pytest.mark.parametrize("text", ["2e10", "17179869184", " 2e10 "])
def test_budget_as_plain_bytes(text, monkeypatch):
    assert budget.memory_budget(text) == float(text)
    monkeypatch.setenv("ROOFLINE_MEMORY_BUDGET", text)
    assert budget.memory_budget() == float(text)
    assert len(sweep("resnet18", HW, KNOBS)) == 6


@pytest.mark.parametrize("bad", ["abc", "-1", "0", "nan", "inf", "-2 GiB"])
def test_invalid_budget_refused_before_anything_streams(bad, tmp_path, monkeypatch, capsys):
    with pytest.raises(rl.SpecError) as exc:
        budget.memory_budget(bad)
    assert exc.value.field == "memory_budget"
    out = tmp_path / "s.csv"
    with pytest.raises(rl.SpecError):
        sweep("resnet18", HW, KNOBS, out=str(out), memory_budget=bad)
    monkeypatch.setenv("ROOFLINE_MEMORY_BUDGET", bad)
    with pytest.raises(rl.SpecError) as exc:
        sweep("resnet18", HW, KNOBS, out=str(out))
    assert exc.value.field == "ROOFLINE_MEMORY_BUDGET"
    assert not out.exists()
    capsys.readouterr()
    assert main([*CLI_SWEEP, "--format", "csv"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "ROOFLINE_MEMORY_BUDGET" in one_line(captured.err)


# 5. reading a dataset back decodes categories through their labels


def test_read_sweep_decodes_categories_through_the_labels(tmp_path):
    out = tmp_path / "s.parquet"
    kwargs = dict(batch=[1, 8], dtype=["fp16", "int8"], chunk=2)
    ref = sweep(["resnet18", "dlrm_rm1"], HW, KNOBS, **kwargs)
    sweep(["resnet18", "dlrm_rm1"], HW, KNOBS, out=str(out), **kwargs)
    back = read_sweep(out)
    assert back.to_csv() == ref.to_csv() and back.columns == ref.columns
    for name in ("model", "dtype", "bound"):
        cells = back.column(name)
        assert cells.dtype == object
        # one str object per label (as SweepSchema.decode gives), not one per cell
        assert len({id(x) for x in cells}) == len(set(cells.tolist()))
    assert (
        read_sweep(out, columns=["bound"]).column("bound").tolist() == ref.column("bound").tolist()
    )


def test_read_sweep_takes_one_column_as_a_string(tmp_path):
    out = tmp_path / "s.parquet"
    ref = sweep("resnet18", HW, KNOBS, out=str(out))
    back = read_sweep(out, columns="latency_s")
    assert list(back.columns) == ["latency_s"]
    assert len(back) == ref.rows


# 6. --columns with a dataset


@pytest.mark.parametrize("columns", ["nope", "latency_s,bound"])
def test_cli_dataset_refuses_columns(columns, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main([*CLI_SWEEP, "--columns", columns, "-o", "ds.parquet"]) == 2
    line = one_line(capsys.readouterr().err)
    assert "--columns" in line and "read_sweep" in line
    assert list(tmp_path.iterdir()) == []


def test_cli_dataset_takes_columns_all(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main([*CLI_SWEEP, "--columns", "all", "-o", "ds.parquet"]) == 0
    assert _rows(tmp_path / "ds.parquet") == 2


# 7. empty lists of models or dtypes


@pytest.mark.parametrize(
    ("kwargs", "field"), [({"models": []}, "models"), ({"dtype": []}, "dtype")]
)
def test_empty_models_or_dtypes_refused(kwargs, field, tmp_path):
    args = {"models": "resnet18", "base_device": HW, "vary": KNOBS, **kwargs}
    out = tmp_path / "e.parquet"
    with pytest.raises(rl.SpecError) as exc:
        sweep(**args, out=str(out))
    assert exc.value.field == field and not out.exists()
    with pytest.raises(rl.SpecError):
        sweep(**{**args, "base_device": SYSTEM, "vary": SYSTEM_KNOBS})


# minor: inproc scheduler addresses


@pytest.mark.parametrize(
    "address",
    ["inproc://192.0.2.2/11816/1", "tcp://127.0.0.1:8786", "tls://[::1]:8786", "ucx://h:1"],
)
def test_scheduler_addresses_dask_gives(address):
    assert SCHEDULER_ADDRESS.match(address)


def test_sweep_on_an_inproc_scheduler():
    distributed = pytest.importorskip("dask.distributed")
    knobs = {"memory.hbm.bandwidth": ["1 TB/s", "2 TB/s"]}
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, processes=False, protocol="inproc",
        dashboard_address=None,
    ) as cluster:  # fmt: skip
        assert cluster.scheduler_address.startswith("inproc://")
        got = sweep("resnet18", HW, knobs, scheduler=cluster.scheduler_address)
    assert got.to_csv() == sweep("resnet18", HW, knobs).to_csv()


@pytest.mark.parametrize("address", ["foo", "tcp://host", "inproc://", "http://h:1"])
def test_not_scheduler_addresses(address):
    assert not SCHEDULER_ADDRESS.match(address)


def test_streamed_json_is_to_json_plus_the_final_newline(tmp_path):
    """A file ends with a newline (as the command line's -o and stdout); to_json() is a string."""
    out = tmp_path / "s.json"
    ref = sweep("resnet18", HW, KNOBS)
    sweep("resnet18", HW, KNOBS, out=str(out), chunk=2)
    assert out.read_text() == ref.to_json() + "\n"
    assert json.loads(out.read_text()) == json.loads(ref.to_json())
