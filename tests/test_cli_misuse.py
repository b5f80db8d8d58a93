"""CLI misuse: unknown subcommands, flags, models and devices (with suggestions), malformed values,
unwritable outputs and interrupts. Each gives exactly one line on stderr, ``roofline: error: ...``,
exit status 2 (130 when interrupted), no traceback and no output file."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from cli_errors import ERR, fails

from roofline import cli

ANALYZE = ["analyze", "resnet18", "--hw", "a100_sxm4_80gb"]

MISUSE = {
    "unknown subcommand": (["analyse", "resnet18"], r"invalid choice: 'analyse'.*'analyze'"),
    "unknown flag": ([*ANALYZE, "--batchsize", "4"], r"unrecognized arguments: --batchsize"),
    "missing --hw": (["analyze", "resnet18"], r"required: --hw"),
    "bad choice": ([*ANALYZE, "--policy", "fastest"], r"invalid choice: 'fastest'"),
    "unknown model": (
        ["analyze", "resnt50", "--hw", "t4"],
        r"model: unknown model 'resnt50' \(did you mean 'resnet50'",
    ),
    "unknown device": (
        ["analyze", "resnet18", "--hw", "a100"],
        r"device: unknown device 'a100' \(did you mean 'a100_sxm4_80gb'",
    ),
    "device in capitals": (["analyze", "resnet18", "--hw", "H100"], r"did you mean 'h100_sxm5'"),
    "model as device": (["analyze", "resnet18", "--hw", "resnet50"], r"unknown device 'resnet50'"),
    "unknown model in compare": (
        ["compare", "resnet18", "vgg61", "--hw", "t4"],
        r"unknown model 'vgg61' \(did you mean 'vgg16'",
    ),
    "batch zero": ([*ANALYZE, "--batch", "0"], r"--batch: '0' must be positive"),
    "batch negative": ([*ANALYZE, "--batch", "-4"], r"--batch: .*'-4'"),
    "batch fraction": ([*ANALYZE, "--batch", "1.5"], r"--batch: .*'1.5'"),
    "batch not a number": ([*ANALYZE, "--batch", "ten"], r"--batch: 'ten' is not a number"),
    "batch infinite": ([*ANALYZE, "--batch", "inf"], r"--batch: 'inf'"),
    "batch overflow": ([*ANALYZE, "--batch", "1e400"], r"--batch: '1e400'"),
    "batch nan": ([*ANALYZE, "--batch", "nan"], r"--batch: 'nan'"),
    "batch list with a bad entry": ([*ANALYZE, "--batch", "1,x,4"], r"--batch: 'x'"),
    "batch missing value": ([*ANALYZE, "--batch"], r"--batch: expected at least one argument"),
    "unknown dtype": ([*ANALYZE, "--dtype", "fp17"], r"unknown dtype 'fp17' \(did you mean 'fp16'"),
    "dtype the device lacks": (
        [*ANALYZE, "--dtype", "int32"],
        r"engines.matrix.peak.int32: .*no matrix peak for int32",
    ),
    # str.isdigit accepts superscripts, which int() refuses: they used to end in a traceback
    "a superscript device count": (
        ["sweep", "resnet50", "--hw", "2x_dgx_h100", "--vary", "count=\u00b2"],
        r"--vary count: '\u00b2' is not a device count",
    ),
    "a superscript --workers": (
        [
            "sweep",
            "resnet50",
            "--hw",
            "t4",
            "--vary",
            "memory.dram.bandwidth=1TB/s",
            "--workers",
            "\u00b2",
        ],
        r"--workers",
    ),
    "a superscript --dim": (
        ["import", "torchvision.models:resnet18", "--dim", "seq=\u00b2"],
        r"--dim seq: '\u00b2' must be a whole number >= 1",
    ),
    "sla of the wrong dimension": (
        ["compare", "resnet18", "--hw", "t4", "--sla", "10GB"],
        r"bytes quantity where s is expected",
    ),
}


@pytest.mark.parametrize("case", sorted(MISUSE))
def test_misuse_gives_one_line_and_status_2(case, capsys):
    argv, pattern = MISUSE[case]
    fails(argv, capsys, pattern)


SWEEP = ["sweep", "resnet18", "--hw", "a100_sxm4_80gb", "-q", "--vary"]
VARY = {
    "no '='": ("memory.hbm.bandwidth", r"--vary: .*has no '='"),
    "unknown knob": (
        "memory.hbm.bandwith=1TB/s",
        r"unknown knob 'memory.hbm.bandwith' \(did you mean 'memory.hbm.bandwidth'",
    ),
    "unknown level": ("memory.l3.bandwidth=1TB/s", r"no memory level 'l3' \(use one of sram, hbm"),
    "range without count": ("memory.hbm.bandwidth=1TB/s:2TB/s", r"cannot parse range"),
    "count not an integer": ("memory.hbm.bandwidth=1TB/s:2TB/s:x", r"'x' .* is not an integer"),
    "zero points": ("memory.hbm.bandwidth=1TB/s:2TB/s:0", r"must be at least 1"),
    "unknown spacing": ("memory.hbm.bandwidth=1TB/s:2TB/s:3:cubic", r"unknown spacing 'cubic'"),
    "wrong dimension": ("memory.hbm.bandwidth=80GiB", r"bytes quantity where bytes/s"),
    "zero value": ("memory.hbm.bandwidth=0TB/s", r"must be positive"),
    "empty list": ("memory.hbm.bandwidth=", r"empty value list"),
    "efficiency above one": ("engines.matrix.efficiency=2", r"must be in \(0, 1\]"),
    "unknown dtype in a knob": ("engines.matrix.peak.fp17=1TFLOP/s", r"unknown dtype 'fp17'"),
    "value without its unit": (
        "memory.hbm.bandwidth=900",
        r"--vary memory.hbm.bandwidth: '900' has no unit \(write it with its unit: '900 B/s' or "
        r"'900 GB/s'\)",
    ),
    "range end without its unit": ("memory.hbm.bandwidth=1TB/s:2:3", r"'2' has no unit"),
}


@pytest.mark.parametrize("case", sorted(VARY))
def test_malformed_vary(case, capsys, tmp_path):
    value, pattern = VARY[case]
    out = tmp_path / "sweep.csv"
    fails([*SWEEP, value, "-o", str(out), "--format", "csv"], capsys, pattern)
    assert list(tmp_path.iterdir()) == []


SENS = ["sensitivity", "resnet18", "--hw", "t4"]
SWEEP_BW = ["sweep", "resnet18", "--hw", "t4", "-q", "--vary", "memory.dram.bandwidth=1TB/s"]
#: input slips a fuzzer found: each names its flag and says what is wrong with the value
SLIPS = {
    "factor nan": ([*SENS, "--factor", "nan"], r"^roofline: error: --factor: nan must be a finite"),
    "factor inf": ([*SENS, "--factor", "inf"], r"--factor: inf must be a finite number > 1"),
    "factor overflow": ([*SENS, "--factor", "1e400"], r"--factor: inf must be a finite number"),
    "factor one": ([*SENS, "--factor", "1"], r"--factor: 1 must be a finite number > 1"),
    "factor below one": ([*SENS, "--factor", "0.5"], r"--factor: 0.5 must be a finite number"),
    "factor text": ([*SENS, "--factor", "two"], r"--factor: 'two' is not a number"),
    "workers zero": ([*SWEEP_BW, "--workers", "0"], r"--workers: '0' must be a whole number >= 1"),
    "workers negative": ([*SWEEP_BW, "--workers", "-1"], r"--workers: '-1' must be a whole"),
    "workers text": ([*SWEEP_BW, "--workers", "two"], r"--workers: 'two' must be a whole"),
    "vary with no knob": (
        [*SWEEP_BW[:-1], "=1TB/s"],
        r"^roofline: error: --vary: .*'=1TB/s' names no knob before '='",
    ),
    "vary an unknown knob": (
        [*SWEEP_BW[:-1], "memory.dram.bandwith=1TB/s"],
        r"^roofline: error: --vary memory.dram.bandwith: unknown knob",
    ),
    "vary an empty item": (
        [*SWEEP_BW[:-1], "memory.dram.bandwidth=1TB/s,,2TB/s"],
        r"--vary memory.dram.bandwidth: an empty value in the list '1TB/s,,2TB/s'",
    ),
    "vary a trailing comma": (
        [*SWEEP_BW[:-1], "memory.dram.bandwidth=1TB/s,"],
        r"--vary memory.dram.bandwidth: an empty value",
    ),
    "per-op of an unknown extension": (
        [*SWEEP_BW, "--per-op", "out.xyz"],
        r"--per-op: 'out.xyz' is not a .csv file",
    ),
    "per-op without an extension": (
        [*SWEEP_BW, "--per-op", "out"],
        r"--per-op: 'out' is not a .csv file",
    ),
    "per-op to stdout": ([*SWEEP_BW, "--per-op", "-"], r"--per-op: '-' is not a .csv file"),
    "check a directory": (["check", "."], r"^roofline: error: \.: is a directory"),
    "check a device": (["check", os.devnull], r"is a character device, not a regular file"),
    "dim zero": (["import", "x.onnx", "--dim", "seq=0"], r"--dim seq: '0' must be a whole number"),
    "dim without a name": (["import", "x.onnx", "--dim", "=8"], r"--dim '=8' is not NAME=VALUE"),
    "import a directory": (["import", "."], r"^roofline: error: \.: is a directory, not an .onnx"),
    "import a device": (["import", os.devnull], r"is a character device, not a regular file"),
}


@pytest.mark.parametrize("case", sorted(SLIPS))
def test_input_slips_name_the_flag(case, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    argv, pattern = SLIPS[case]
    line = fails(argv, capsys, pattern)
    assert "_positive_int" not in line
    assert list(tmp_path.iterdir()) == []  # no per-op file, no output


def test_an_sla_no_batch_meets_shows_none_not_zero(capsys):
    argv = ["compare", "resnet18", "--hw", "t4", "--sla", "1e-30s", "--format", "json"]
    assert cli.main(argv) == 0
    row = json.loads(capsys.readouterr().out)[0]
    assert row["sla_s"] == 1e-30
    for col in ("max_batch_under_sla", "best_batch_under_sla", "throughput_at_best_batch_per_s"):
        assert row[col] is None, col  # '-' in a table, empty in CSV


def test_per_op_writes_a_csv_file(capsys, tmp_path):
    out = tmp_path / "per_op.CSV"
    assert cli.main([*SWEEP_BW, "--per-op", str(out), "--format", "csv"]) == 0
    header = out.read_text().splitlines()[0].split(",")
    assert "op" in header and "time_s" in header
    capsys.readouterr()


def test_unwritable_outputs_leave_no_file(capsys, tmp_path):
    a_file = tmp_path / "not_a_dir"
    a_file.write_text("x")
    before = sorted(tmp_path.iterdir())
    cases = {
        str(tmp_path / "missing" / "out.json"): r"directory .* does not exist",
        str(tmp_path): r"is a directory",
        str(a_file / "out.json"): r"does not exist",
    }
    for path, pattern in cases.items():
        line = fails([*ANALYZE, "--format", "json", "-o", path], capsys, pattern)
        assert line.startswith(f"{ERR}{path}: output: ")
    assert sorted(tmp_path.iterdir()) == before
    assert a_file.read_text() == "x"


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_read_only_directory(capsys, tmp_path):
    if os.geteuid() == 0:
        # root writes through permission bits: /proc refuses new files to everyone
        fails([*ANALYZE, "-o", "/proc/out.csv", "--format", "csv"], capsys, r"cannot write")
        assert not os.path.exists("/proc/out.csv")
        return
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        fails([*ANALYZE, "-o", str(ro / "out.csv"), "--format", "csv"], capsys, r"cannot write")
        assert list(ro.iterdir()) == []
    finally:
        ro.chmod(0o700)


def test_interrupt_during_evaluation(monkeypatch, capsys, tmp_path):
    import roofline.cli.models

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(roofline.cli.models, "evaluate", interrupted)
    out = tmp_path / "out.json"
    fails([*ANALYZE, "--format", "json", "-o", str(out)], capsys, r"interrupted", status=130)
    assert list(tmp_path.iterdir()) == []


def test_interrupt_while_writing_leaves_no_partial_file(monkeypatch, capsys, tmp_path):
    real = Path.write_text

    def half_then_interrupt(self, text, *args, **kwargs):
        real(self, text[: len(text) // 2], *args, **kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(Path, "write_text", half_then_interrupt)
    out = tmp_path / "out.csv"
    fails([*ANALYZE, "--format", "csv", "-o", str(out)], capsys, r"interrupted", status=130)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("quiet", [True, False])
def test_interrupt_during_a_long_sweep(monkeypatch, capsys, tmp_path, quiet):
    """Ctrl-C after the first chunk: exit 130, the error as the last stderr line, no file."""
    import roofline.sweep_plan

    real = roofline.sweep_plan.chunk_columns
    calls = []

    def chunk_then_interrupt(*args, **kwargs):
        calls.append(1)
        if len(calls) > 1:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(roofline.sweep_plan, "chunk_columns", chunk_then_interrupt)
    out = tmp_path / "sweep.csv"
    argv = [
        "sweep",
        "resnet18",
        "--hw",
        "a100_sxm4_80gb",
        "--vary",
        "memory.hbm.bandwidth=1TB/s:4TB/s:3",
        "--dtype",
        "fp16",
        "fp32",
        "--format",
        "csv",
        "-o",
        str(out),
        *(["-q"] if quiet else []),
    ]
    assert cli.main(argv) == 130
    err = capsys.readouterr().err
    assert err.splitlines()[-1] == f"{ERR}interrupted (no output written)"
    assert "Traceback" not in err
    if quiet:
        assert len(err.splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_debug_flag_shows_the_exception(capsys):
    from roofline.errors import SpecError

    with pytest.raises(SpecError, match="unknown device"):
        cli.main(["analyze", "resnet18", "--hw", "a100", "--debug"])


API_MISUSE = {
    "batch zero": ({"batch": 0}, "batch", r"must be positive"),
    "batch negative": ({"batch": [1, -8]}, "batch", r"must be positive"),
    "batch nan": ({"batch": float("nan")}, "batch", r"finite"),
    "batch not a number": ({"batch": "ten"}, "batch", r"not a number"),
    "batch empty": ({"batch": []}, "batch", r"a number or a list"),
    "unknown dtype": ({"dtype": "fp17"}, "dtype", r"unknown dtype 'fp17'"),
    "unknown policy": ({"policy": "fastest"}, "policy", r"unknown policy 'fastest'"),
}


@pytest.mark.parametrize("case", sorted(API_MISUSE))
def test_api_argument_misuse_is_a_spec_error(case):
    from roofline.api import evaluate
    from roofline.errors import SpecError

    kwargs, field, pattern = API_MISUSE[case]
    with pytest.raises(SpecError, match=pattern) as info:
        evaluate("resnet18", "a100_sxm4_80gb", **kwargs)
    assert info.value.field == field


def test_a_chart_option_the_chart_does_not_read_is_named_in_a_warning(capsys, tmp_path):
    """plot energy --sla 5ms --by kind drew the energy study and said nothing of either."""
    out = tmp_path / "e.svg"
    assert (
        cli.main(["plot", "breakdown", "resnet18", "--hw", "t4", "--sla", "5ms", "-o", str(out)])
        == 0
    )
    err = capsys.readouterr().err.strip()
    assert err == (
        "roofline: warning: plot breakdown does not read --sla: ignored (--sla is for plot batch)"
    )
    assert (
        cli.main(["plot", "breakdown", "resnet18", "--hw", "t4", "--by", "kind", "-o", str(out)])
        == 0
    )
    assert capsys.readouterr().err == ""
