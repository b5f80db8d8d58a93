"""From a review of the API and of ``calibrate`` / ``validate``: each misuse is one line naming the
argument or the flag and the fix (a SpecError from the API, exit 2 from the command line), refused
before anything is measured or written; reports that ``validate --from-json`` accepts render.

Nothing here is timed: the measurements of calibrate and validate are replaced by stand-ins
(or by functions that fail the test when called)."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from cli_errors import fails

import roofline as rl
from roofline import cli
from roofline.errors import SpecError
from roofline.fidelity import machine as mach
from roofline.fidelity import validate as fv
from roofline.fidelity.kernels import gemm

ROOT = Path(__file__).resolve().parents[1]


def _never(*_args: Any, **_kwargs: Any) -> Any:
    raise AssertionError("measured before the arguments were checked")


@pytest.fixture
def no_measuring(monkeypatch: pytest.MonkeyPatch) -> None:
    """calibrate and validate fail the test if they start measuring."""
    monkeypatch.setattr("roofline.cli.fidelity.calibrate", _never)
    monkeypatch.setattr("roofline.cli.fidelity.run_validation", _never)
    monkeypatch.setattr("roofline.fidelity.calibrate.set_threads", _never)
    monkeypatch.setattr(mach, "set_threads", _never)
    monkeypatch.setattr(fv, "measure", _never)


@pytest.fixture
def tiny_suite(monkeypatch: pytest.MonkeyPatch) -> None:
    """validate runs one small GEMM, "measured" at once (no timing)."""
    monkeypatch.setattr(fv, "suite", lambda quick, with_torch: [gemm(8, 8, 8)])
    monkeypatch.setattr(
        fv,
        "measure",
        lambda run, quick, clock="wall": {"measured_s": 1e-3, "measured_min_s": 9e-4, "reps": 3},
    )


# -- 1. validate --from-json: every field the tables read is checked ------------------------------

REPORT: dict[str, Any] = {
    "roofline_validate": 1,
    "quick": True,
    "machine": {"cpu": "test", "cpus": 2, "date": "2024-01-01T00:00:00", "threads": {"blas": 1}},
    "device": {"name": "calibrated", "file": None, "spec": {}},
    "definitions": {},
    "summary": [
        {"subset": "all", "kernels": 1, "median_ratio": 1.25, "p90_ratio": 1.3},
        {"subset": "gemm", "kernels": 1, "median_ratio": 1.25, "p90_ratio": 1.3},
    ],
    "kernels": [
        {
            "name": "gemm",
            "group": "gemm",
            "library": "numpy",
            "dtype": "fp32",
            "batch": 1,
            "flops": 2e9,
            "bytes": 1.2e7,
            "bound": "compute",
            "measured_s": 0.01,
            "measured_min_s": 0.009,
            "predicted_s": 0.008,
            "ideal_s": 0.007,
            "ratio": 1.25,
            "ratio_ideal": 1.43,
        }
    ],
    "models": [],
    "skipped": [{"name": "model resnet50", "reason": "--quick runs no whole model"}],
}


def _report(tmp_path: Path, **changes: Any) -> Path:
    doc = json.loads(json.dumps(REPORT))
    doc.update(changes)
    path = tmp_path / "report.json"
    path.write_text(json.dumps(doc))
    return path


@pytest.mark.parametrize(
    "changes, pattern",
    [
        ({"skipped": [{"name": "a"}]}, r"skipped\[0\]\.reason"),
        ({"skipped": "abc"}, r"skipped"),
        ({"skipped": [{"name": "a", "reason": 3}]}, r"skipped\[0\]\.reason"),
        (
            {
                "summary": [
                    {"subset": "all", "kernels": 1, "median_ratio": 1.0, "p90_ratio": 1.0},
                    {"subset": "gemm", "kernels": 1, "median_ratio": 1.0},
                ]
            },
            r"summary\[1\].*p90_ratio",
        ),
    ],
)
def test_from_json_checks_skipped_rows_and_summary_keys(tmp_path, capsys, changes, pattern):
    path = _report(tmp_path, **changes)
    for fmt in ("table", "markdown"):
        fails(["validate", "--from-json", path, "--format", fmt], capsys, pattern)


def test_from_json_renders_what_it_accepts(tmp_path, capsys):
    path = _report(tmp_path)
    assert cli.main(["validate", "--from-json", str(path)]) == 0
    out = capsys.readouterr().out
    assert "not run (1)" in out and "p90_ratio" in out
    for committed in sorted((ROOT / "validation").glob("*.json")):  # the shipped reports load
        assert cli.main(["validate", "--from-json", str(committed), "--format", "markdown"]) == 0
        capsys.readouterr()


# -- 2, 3, 6. outputs, flags and threads are checked before measuring -----------------------------


def _fifo(tmp_path: Path, name: str) -> Path:
    path = tmp_path / name
    if not path.exists():
        os.mkfifo(path)
    return path


@pytest.mark.parametrize(
    "flags, pattern",
    [
        (lambda t: ["--json", t / "dir.json"], r"--json.*is a directory"),
        (lambda t: ["--json", _fifo(t, "f.json")], r"--json.*FIFO|--json.*named pipe"),
        (lambda t: ["--json", t / "nowhere" / "r.json"], r"--json.*does not exist"),
        (lambda t: ["--plot", t], r"cannot tell the image format|--plot"),
        (lambda t: ["--plot", t / "dir.png"], r"--plot.*is a directory"),
        (lambda t: ["-o", t / "x.xlsx"], r"--output.*\.xlsx"),
        (lambda t: ["-o", t / "dir.csv"], r"--output.*is a directory"),
        (lambda t: ["-o", t / "nowhere" / "x.csv"], r"--output.*does not exist"),
        (lambda t: ["--json", t / "same.json", "-o", t / "same.json"], r"twice"),
    ],
)
def test_validate_refuses_bad_outputs_before_measuring(
    tmp_path, capsys, no_measuring, flags, pattern
):
    for folder in ("dir.png", "dir.csv", "dir.json"):
        (tmp_path / folder).mkdir()
    argv = ["validate", "--hw", "t4", "--quick", "--no-torch", "-q", *flags(tmp_path)]
    fails(argv, capsys, pattern)
    argv = ["validate", "--quick", "--no-torch", "-q", *flags(tmp_path)]  # calibrates first
    fails(argv, capsys, pattern)
    left = {p.name for p in tmp_path.iterdir()}
    assert left <= {"dir.png", "dir.csv", "dir.json", "f.json"}, left


@pytest.mark.parametrize(
    "target, pattern",
    [
        ("/dev/null", r"--output.*character device"),
        ("{tmp}", r"--output.*is a directory|not a YAML file"),
        ("{tmp}/c.json", r"--output.*not a YAML file.*\.yaml"),
        ("{tmp}/c.txt", r"--output.*not a YAML file"),
        ("{tmp}/nowhere/c.yaml", r"--output.*does not exist"),
        ("{tmp}/dir.yaml", r"--output.*is a directory"),
    ],
)
def test_calibrate_refuses_bad_outputs_before_measuring(
    tmp_path, capsys, no_measuring, target, pattern
):
    (tmp_path / "dir.yaml").mkdir()
    fails(["calibrate", "--quick", "-q", "-o", target.format(tmp=tmp_path)], capsys, pattern)
    assert {p.name for p in tmp_path.iterdir()} == {"dir.yaml"}


def test_cpu_clock_needs_one_thread_before_calibrating(capsys, no_measuring, monkeypatch):
    monkeypatch.setattr(mach, "cpus", lambda: 4)
    fails(["validate", "--quick", "--clock", "cpu"], capsys, r"--clock.*4 threads.*one thread")
    fails(["validate", "--hw", "t4", "--clock", "cpu"], capsys, r"clock.*4 threads")
    fails(["validate", "--clock", "cpu", "--threads", "2"], capsys, r"clock.*2 threads")


@pytest.mark.parametrize("command", ["calibrate", "validate"])
@pytest.mark.parametrize("threads", ["1000000000000", "0", "-3"])
def test_threads_are_bounded_by_the_cpus(capsys, no_measuring, command, threads):
    fails([command, "--quick", "--threads", threads], capsys, r"--threads")


def test_threads_are_bounded_in_the_api(no_measuring):
    with pytest.raises(SpecError, match=r"threads.*CPUs"):
        rl.run_validation("t4", quick=True, with_torch=False, threads=10**12)
    with pytest.raises(SpecError, match=r"threads"):
        rl.run_validation("t4", quick=True, with_torch=False, threads=True)
    from roofline.fidelity.calibrate import calibrate

    with pytest.raises(SpecError, match=r"threads.*CPUs"):
        calibrate(quick=True, threads=10**12)
    with pytest.raises(SpecError, match=r"threads"):
        calibrate(quick=True, threads=2.5)


# -- 4. compare refuses empty lists ---------------------------------------------------------------


@pytest.mark.parametrize(
    "models, devices, kwargs, field",
    [
        (["resnet18"], [], {}, "devices"),
        ([], ["t4"], {}, "models"),
        (["resnet18"], ["t4"], {"dtype": []}, "dtype"),
        (["resnet18"], ["t4"], {"dtype": ()}, "dtype"),
    ],
)
def test_compare_refuses_empty_lists(models, devices, kwargs, field):
    with pytest.raises(SpecError, match="an empty list") as exc:
        rl.compare(models, devices, **kwargs)
    assert exc.value.field == field


# -- 5. fuse is a boolean -------------------------------------------------------------------------


@pytest.mark.parametrize("fuse", ["no", 0, None, 1, "False", 1.0])
def test_fuse_must_be_a_boolean(fuse):
    calls = [
        lambda: rl.evaluate("resnet18", "t4", fuse=fuse),
        lambda: rl.evaluate("resnet18", "dgx_h100", fuse=fuse),
        lambda: rl.evaluate_device("resnet18", "t4", fuse=fuse),
        lambda: rl.compare("resnet18", "t4", fuse=fuse),
        lambda: rl.sweep("resnet18", "t4", {"memory.main.bandwidth": ["300 GB/s"]}, fuse=fuse),
    ]
    for call in calls:
        with pytest.raises(SpecError, match="is not a boolean") as exc:
            call()
        assert exc.value.field == "fuse"


def test_fuse_booleans_still_work():
    fused = rl.evaluate("resnet18", "t4", fuse=True)
    unfused = rl.evaluate("resnet18", "t4", fuse=False)
    assert len(unfused.costs.names) > len(fused.costs.names)


# -- 7. the what-if widget ------------------------------------------------------------------------


@pytest.mark.parametrize("batch", [2.7, True, "8", math.nan, None, [1, 2], 0])
def test_whatif_checks_its_batch(batch):
    pytest.importorskip("ipywidgets")
    from roofline.widgets import whatif

    with pytest.raises(SpecError) as exc:
        whatif("resnet18", "t4", batch=batch)
    assert exc.value.field == "batch"


def test_whatif_shows_energy_as_the_tables_do():
    pytest.importorskip("ipywidgets")
    import matplotlib

    matplotlib.use("Agg")
    from roofline.formatting import format_value
    from roofline.widgets import _cell, whatif

    assert _cell("energy_per_sample_j", 0.014) == "14 mJ"
    w = whatif("resnet18", "t4", batch=np.int64(4))  # a numpy integer is a batch
    energy = w.totals["energy_per_sample_j"]
    assert format_value("energy_per_sample_j", energy) in w._table.value
    assert w.batch.value == 4 and type(w.batch.value) is int


# -- 8. run_validation takes what every rl.* function takes; an empty run is refused --------------


@pytest.mark.parametrize("device", ["t4", "dict"])
def test_run_validation_loads_its_device(device, tiny_suite):
    hw = rl.load_device("t4").model_dump(mode="json") if device == "dict" else device
    doc = rl.run_validation(hw, quick=True, with_torch=False)
    assert doc["device"]["name"] == "t4" and len(doc["kernels"]) == 1


def test_run_validation_refuses_what_is_not_a_device(tiny_suite):
    with pytest.raises(SpecError, match="a device is"):
        rl.run_validation(None, quick=True, with_torch=False)


def test_a_run_with_every_kernel_skipped_is_refused(tmp_path, capsys, monkeypatch):
    """gaudi3 has no fp32 peak: no kernel can be predicted, none is timed, nothing is written."""
    monkeypatch.setattr(fv, "measure", _never)
    with pytest.raises(SpecError, match=r"gaudi3.*fp32") as exc:
        rl.run_validation("gaudi3", quick=True, with_torch=False)
    assert "README" not in (exc.value.fix or "")
    out = tmp_path / "r.json"
    argv = ["validate", "--hw", "gaudi3", "--quick", "--no-torch", "-q", "--json", out]
    line = fails(argv, capsys, r"no kernel.*gaudi3")
    assert "README" not in line and not out.exists()


# -- minor ----------------------------------------------------------------------------------------


def test_counts_per_op_refuses_a_boolean_batch():
    c = rl.count("resnet18", batch=[1, 4])
    with pytest.raises(SpecError, match="batch"):
        c.per_op(batch=True)
    with pytest.raises(SpecError, match="batch"):
        c.table1(batch=True)
    assert "batch 4" in c.per_op(batch=4).title


IC = {
    "nvlink": {
        "scope": "scale_up",
        "topology": "switch",
        "devices": 4,
        "bandwidth": "450 GB/s",
        "latency": "1 us",
        "source": "test",
    }
}


@pytest.mark.parametrize("count", [4.0, "4", True, 0, 2.5])
def test_system_count_is_a_whole_number(count):
    with pytest.raises(SpecError) as exc:
        rl.system("h100_sxm5", count, interconnect=IC)
    assert exc.value.field == "count"
    assert rl.system("h100_sxm5", 4, interconnect=IC).name == "4x_h100_sxm5"


@pytest.mark.parametrize("name", ["tp", "pp", "ep", "cp", "dp"])
@pytest.mark.parametrize("value", [True, 1.0, 0, "1"])
def test_one_device_refuses_the_degrees_a_system_refuses(name, value):
    with pytest.raises(SpecError) as on_system:
        rl.evaluate("resnet18", "dgx_h100", **{name: value})
    with pytest.raises(SpecError) as on_device:
        rl.evaluate("resnet18", "t4", **{name: value})
    assert on_device.value.field == on_system.value.field == name


def test_result_repr_prints_plain_batches():
    r = rl.evaluate("resnet18", "t4", batch=[1, 8])
    assert repr(r) == "Result(resnet18, 1 devices, batch [1, 8])"
