"""Hostile input (issue 14): nothing overwritten, nothing unbounded, no silent nonsense.

The corpus has two parts. The spec files of ``tests/data/hostile/`` (manifest ``cases.yaml``) run
through the API and the CLI like the bad-spec corpus. The cases that need a live system (devices,
FIFOs, sockets, symlinks, signals, concurrent writers, resource limits), the API or the CLI's flags
are built here, one parametrized case each. Every case must end in exactly one line
``roofline: error: ...`` and exit status 2 (or, for what must keep working, exit 0 with finite
numbers): no traceback, no exit-0 result with a null, NaN, infinite or negative time or count, no
non-regular file replaced. Hostile reads are refused before parsing or while parsing (checked
structurally: the parser's events are counted), and within 200 MB of address space (a subprocess
under ``RLIMIT_AS``); nothing here is timed.
"""

from __future__ import annotations

import io
import json
import math
import os
import re
import signal
import socket
import stat
import subprocess
import sys
import textwrap
import warnings
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

import roofline as rl
from roofline import cli, yaml_loader
from roofline.errors import SpecError
from roofline.output_files import atomic_write

HERE = Path(__file__).parent / "data" / "hostile"
CASES: dict[str, dict] = yaml.safe_load((HERE / "cases.yaml").read_text())["cases"]
MODEL, DEVICE = "resnet18", "a100_sxm4_80gb"
ROOT = Path(__file__).resolve().parents[1]
ERR = "roofline: error: "

#: output columns that are times or counts: finite and non-negative in every exit-0 result
_NUMERIC = re.compile(
    r"(_s|_bytes|_per_s|flops.*|params|batch|devices_needed|tokens.*|prompt|output|kernels)$"
)


# -- helpers --------------------------------------------------------------------------------------


def run(argv: list[str]) -> tuple[int, str, str]:
    """``roofline ARGV`` in this process: (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        status = cli.main([str(a) for a in argv])
    return status, out.getvalue(), err.getvalue()


def refused(argv: list[str], pattern: str) -> str:
    """Run ``argv``: exit 2, one stderr line matching ``pattern``, nothing on stdout."""
    status, out, err = run(argv)
    assert status == 2, (status, out[:200], err)
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith(ERR), err
    assert re.search(pattern, lines[0]), lines[0]
    assert out == ""
    return lines[0]


def _no_nan(word: str) -> Any:
    raise AssertionError(f"{word} in a result")


def finite_json(text: str) -> Any:
    """Parse JSON output: no NaN or Infinity anywhere; every time or count finite and >= 0."""
    doc = json.loads(text, parse_constant=_no_nan)

    def walk(node: Any, key: str = "") -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, k)
        elif isinstance(node, list):
            for v in node:
                walk(v, key)
        elif _NUMERIC.search(key) and not key.startswith(("energy", "cost")):
            assert isinstance(node, (int, float)) and not isinstance(node, bool), (key, node)
            assert math.isfinite(node) and node >= 0, (key, node)

    walk(doc)
    return doc


def leftovers(folder: Path) -> list[str]:
    """Hidden temporary files left in ``folder`` (a failed write must leave none)."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def spec_file(tmp_path: Path, name: str = "m.yaml") -> Path:
    path = tmp_path / name
    path.write_text((HERE / "ok_crlf.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    return path


def _args(path: Path, case: dict) -> tuple[str, str]:
    return (str(path), DEVICE) if case["kind"] == "model" else (MODEL, str(path))


# -- the file corpus ------------------------------------------------------------------------------


def test_manifest_covers_every_file_and_every_class():
    files = {p.name for p in HERE.glob("*.yaml")} - {"cases.yaml"}
    assert files == set(CASES)
    classes = {c["class"] for c in CASES.values()}
    assert {"numbers", "names", "yaml", "input", "held"} <= classes


@pytest.mark.parametrize("name", sorted(CASES))
def test_corpus_file_through_the_api(name):
    case, path = CASES[name], HERE / name
    model, hw = _args(path, case)
    if case.get("ok"):
        r = rl.evaluate(model, hw, batch=[1, 64], dtype="fp16")
        assert np.isfinite(r.latency_s).all() and (r.latency_s > 0).all()
        return
    with pytest.raises(SpecError) as info:
        rl.evaluate(model, hw, batch=[1, 64], dtype="fp16")
    exc = info.value
    assert exc.field == case["field"], str(exc)
    assert re.search(case["problem"], exc.problem), exc.problem
    if case.get("names_file", True):
        assert exc.file == str(path)
    assert "\n" not in str(exc)


@pytest.mark.parametrize("name", sorted(CASES))
def test_corpus_file_through_the_cli(name, tmp_path):
    case, path = CASES[name], HERE / name
    model, hw = _args(path, case)
    out = tmp_path / "out.json"
    argv = ["analyze", model, "--hw", hw, "--batch", "1", "64", "--dtype", "fp16"]
    argv += ["--format", "json", "-o", out]
    if case.get("ok"):
        assert run(argv)[0] == 0
        finite_json(out.read_text())
        return
    line = refused(argv, case["problem"])
    if case["field"]:
        assert f": {case['field']}: " in line
    assert list(tmp_path.iterdir()) == []


# -- output: only a new or a regular file, never an input ---------------------------------------


def _char_device(tmp: Path) -> Path:
    """A character device to aim -o at: a private copy of /dev/null where we may make one (as
    root: if the refusal ever broke, /dev/null itself would be replaced), else /dev/null."""
    node = tmp / "null_device"
    try:
        os.mknod(node, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
        return node
    except (PermissionError, OSError):
        return Path("/dev/null")


def _fifo(tmp: Path) -> Path:
    path = tmp / "fifo"
    os.mkfifo(path)
    return path


def _socket(tmp: Path) -> Path:
    path = tmp / "sock"
    s = socket.socket(socket.AF_UNIX)
    s.bind(str(path))
    s.close()
    return path


def _link(tmp: Path, target: Path | str, name: str = "link") -> Path:
    path = tmp / name
    path.symlink_to(target)
    return path


#: -o targets that must be refused, each built in a fresh folder: (builder, problem regex)
BAD_TARGETS = {
    "character device": (_char_device, "is a character device"),
    "fifo": (_fifo, r"is a FIFO"),
    "socket": (_socket, "is a socket"),
    "directory": (lambda t: t, "is a directory"),
    "symlink to a character device": (lambda t: _link(t, _char_device(t)), "character device"),
    "symlink to a fifo": (lambda t: _link(t, _fifo(t)), "FIFO"),
    "symlink to a directory": (lambda t: _link(t, t), "is a directory"),
    "symlink loop": (lambda t: (_link(t, t / "b", "a"), _link(t, t / "a", "b"))[0], "loop"),
    "dangling symlink": (lambda t: _link(t, t / "nowhere.json"), "link to nothing"),
    "/dev/stdout": (lambda t: Path("/dev/stdout"), "not|character device|FIFO|socket"),
}


@pytest.mark.parametrize("which", sorted(BAD_TARGETS))
def test_output_refuses_a_non_regular_target(which, tmp_path):
    if which == "/dev/stdout" and not stat.S_ISFIFO(os.fstat(1).st_mode):
        # under pytest fd 1 may be a capture file (regular): run where stdout is a pipe
        proc = subprocess.run(
            [sys.executable, "-m", "roofline", "list", "devices", "-o", "/dev/stdout"],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            timeout=120,
        )
        assert proc.returncode == 2 and proc.stdout == "", proc
        assert re.search("FIFO|socket|character device", proc.stderr), proc.stderr
        return
    build, pattern = BAD_TARGETS[which]
    target = build(tmp_path)
    before = os.lstat(target) if os.path.lexists(target) else None
    refused(["list", "devices", "--format", "json", "-o", target], pattern)
    if before is not None:
        after = os.lstat(target)
        assert (after.st_ino, stat.S_IFMT(after.st_mode)) == (
            before.st_ino,
            stat.S_IFMT(before.st_mode),
        )
    assert leftovers(tmp_path) == []


def _same_path(t: Path, spec: Path) -> Path:
    return spec


def _hard_link(t: Path, spec: Path) -> Path:
    link = t / "hard.yaml"
    os.link(spec, link)
    return link


def _soft_link(t: Path, spec: Path) -> Path:
    return _link(t, spec, "soft.yaml")


@pytest.mark.parametrize("how", [_same_path, _hard_link, _soft_link])
@pytest.mark.parametrize("role", ["model", "device"])
def test_output_never_replaces_an_input_of_the_same_command(how, role, tmp_path):
    """``analyze my.yaml ... -o my.yaml`` used to overwrite the spec with CSV, exit 0."""
    if role == "model":
        spec = spec_file(tmp_path)
        argv = ["analyze", spec, "--hw", DEVICE]
    else:
        spec = tmp_path / "dev.yaml"
        spec.write_text((ROOT / "hw_specs" / "t4.yaml").read_text())
        argv = ["analyze", MODEL, "--hw", spec]
    text = spec.read_bytes()
    target = how(tmp_path, spec)
    refused([*argv, "--format", "csv", "-o", target], "is an input of this command")
    assert spec.read_bytes() == text
    assert leftovers(tmp_path) == []


def test_validate_report_is_not_written_over_its_source(tmp_path):
    report = tmp_path / "r.json"
    report.write_text(json.dumps(REPORT))
    refused(["validate", "--from-json", report, "--json", report], "is an input")
    assert json.loads(report.read_text()) == REPORT


@pytest.mark.parametrize("length", [250, 255])
def test_a_long_file_name_is_written(length, tmp_path):
    """The temporary name is short: a 250-character target used to fail (NAME_MAX)."""
    target = tmp_path / ("x" * (length - 5) + ".json")
    assert len(target.name) == length
    assert run(["list", "devices", "--format", "json", "-o", target])[0] == 0
    assert json.loads(target.read_text())
    assert leftovers(tmp_path) == []


def test_a_symlink_to_a_regular_file_is_written_through(tmp_path):
    real = tmp_path / "real.json"
    real.write_text("old")
    link = _link(tmp_path, real, "link.json")
    assert run(["list", "devices", "--format", "json", "-o", link])[0] == 0
    assert link.is_symlink() and json.loads(real.read_text())


def test_outputs_of_one_command_appear_together_or_not_at_all(tmp_path):
    """``--per-op a.csv`` used to stay behind when ``--plot`` then failed."""
    fifo = _fifo(tmp_path)
    plot = tmp_path / "chart.png"
    os.rename(fifo, plot)  # a FIFO named like a chart: refused only when the chart is written
    per_op, out = tmp_path / "per_op.csv", tmp_path / "sweep.csv"
    argv = ["sweep", MODEL, "--hw", DEVICE, "--vary", "memory.hbm.bandwidth=1TB/s,2TB/s", "-q"]
    argv += ["--per-op", per_op, "--plot", plot, "--format", "csv", "-o", out]
    refused(argv, "chart.png: output: is a FIFO")
    assert not per_op.exists() and not out.exists()
    assert leftovers(tmp_path) == []


def test_one_file_is_not_two_outputs(tmp_path):
    out = tmp_path / "a.csv"
    argv = ["sweep", MODEL, "--hw", DEVICE, "--vary", "memory.hbm.bandwidth=1TB/s", "-q"]
    refused([*argv, "--per-op", out, "--format", "csv", "-o", out], "written twice")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "signum, status",
    [(signal.SIGTERM, 143), (signal.SIGHUP, 129), (signal.SIGINT, 130)],
)
def test_a_signal_while_writing_removes_the_temporary_file(signum, status, tmp_path, monkeypatch):
    """The signal arrives in the middle of writing the output: exit 128 + signal, no file."""
    import roofline.cli.common as common

    def slow_write(path: str, text: str) -> None:
        def writer(tmp: str) -> None:
            with open(tmp, "w", encoding="utf-8") as f:
                f.write(text[: len(text) // 2])
                f.flush()
                os.kill(os.getpid(), signum)
                f.write(text[len(text) // 2 :])

        atomic_write(path, writer)

    monkeypatch.setattr(common, "write_text", slow_write)
    out = tmp_path / "out.csv"
    status_got, _, err = run(["list", "devices", "--format", "csv", "-o", out])
    assert status_got == status, err
    assert len(err.splitlines()) == 1 and "no output written" in err
    assert list(tmp_path.iterdir()) == []
    assert signal.getsignal(signal.SIGTERM) is not None  # the handlers are restored


def test_sigterm_during_a_long_sweep_leaves_nothing(tmp_path):
    """A real process: SIGTERM once the sweep reports progress -> exit 143, no file left."""
    out = tmp_path / "big.csv"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "roofline",
            "sweep",
            "resnet50",
            "--hw",
            DEVICE,
            "--vary",
            "memory.hbm.bandwidth=0.5TB/s:8TB/s:300:log",
            "--vary",
            "memory.sram.capacity=1MiB:256MiB:1000:log",
            "--format",
            "csv",
            "-o",
            str(out),
        ],
        cwd=tmp_path,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stderr is not None
    try:
        if not proc.stderr.read(1):  # the progress line (after 1 s): the sweep is under way
            pytest.skip("the sweep finished before it could be interrupted")
        proc.send_signal(signal.SIGTERM)
        err = proc.stderr.read()
        assert proc.wait(timeout=120) == 143, err
    finally:
        proc.kill()
    assert "SIGTERM received" in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def test_concurrent_writers_leave_one_complete_file(tmp_path):
    """Held: processes writing the same -o at once leave one complete file, no temp files."""
    out = tmp_path / "same.json"
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "roofline",
                "analyze",
                MODEL,
                "--hw",
                DEVICE,
                "--batch",
                str(b),
                "--format",
                "json",
                "-o",
                str(out),
            ],
            cwd=tmp_path,
        )  # fmt: skip
        for b in (1, 2, 3)
    ]
    assert [p.wait(timeout=300) for p in procs] == [0, 0, 0]
    doc = finite_json(out.read_text())
    assert doc["summary"][0]["batch"] in (1, 2, 3)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["same.json"]


# -- bounded input --------------------------------------------------------------------------------

REPORT = {
    "roofline_validate": 1,
    "quick": True,
    "machine": {"cpu": "test", "cpus": 2, "date": "2024-01-01T00:00:00", "threads": {"blas": 1}},
    "device": {"name": "calibrated", "file": None, "spec": {}},
    "definitions": {},
    "summary": [{"subset": "all", "kernels": 1, "median_ratio": 1.25}],
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
    "skipped": [],
}


def _report(**changes: Any) -> str:
    doc = json.loads(json.dumps(REPORT))
    for path, value in changes.items():
        node = doc
        *parents, last = path.split("__")
        for p in parents:
            node = node[int(p)] if p.isdigit() else node[p]
        node[last] = value
    return json.dumps(doc)


#: validate --from-json documents that must be refused: (text, field or problem regex)
BAD_REPORTS = {
    "wrong type": (_report(kernels__0__measured_s="fast"), r"kernels\[0\]\.measured_s"),
    "NaN": (json.dumps(REPORT).replace("0.009", "NaN"), "NaN is not a JSON number"),
    "Infinity": (json.dumps(REPORT).replace("0.009", "-Infinity"), "Infinity is not a JSON"),
    "negative time": (_report(kernels__0__predicted_s=-1.0), r"kernels\[0\]\.predicted_s"),
    "zero time": (_report(kernels__0__ideal_s=0), r"kernels\[0\]\.ideal_s"),
    "missing field": (_report(machine={"cpu": "x"}), r"machine\.(cpus|date|threads)"),
    "no kernels": (_report(kernels=[]), "kernels"),
    "kernels not a list": (_report(kernels="x"), "kernels"),
    "string for a number": (_report(kernels__0__batch="1"), r"kernels\[0\]\.batch"),
    "boolean batch": (_report(kernels__0__batch=True), r"kernels\[0\]\.batch"),
    "top-level list": ("[1, 2]", "top level is list"),
    "100k nested arrays": ("[" * 100_000 + "]" * 100_000, "nests too deeply"),
    "5000-digit integer": ('{"a": ' + "9" * 5000 + "}", "invalid JSON"),
    "not JSON": ("name: yaml", "invalid JSON at line 1"),
    "empty": ("", "invalid JSON"),
    "UTF-16": (json.dumps(REPORT).encode("utf-16").decode("latin-1"), "not UTF-8|invalid JSON"),
}


@pytest.mark.parametrize("which", sorted(BAD_REPORTS))
def test_validate_from_json_is_held_to_its_schema(which, tmp_path):
    text, pattern = BAD_REPORTS[which]
    path = tmp_path / "report.json"
    path.write_bytes(text.encode("latin-1") if which == "UTF-16" else text.encode())
    refused(["validate", "--from-json", path, "--format", "csv"], pattern)


def test_a_report_that_fits_the_schema_renders(tmp_path):
    path = tmp_path / "report.json"
    path.write_text(json.dumps(REPORT))
    status, out, _ = run(["validate", "--from-json", path, "--format", "json"])
    assert status == 0 and finite_json(out) == REPORT


def _loop(t: Path) -> Path:
    _link(t, t / "b.yaml", "a.yaml")
    _link(t, t / "a.yaml", "b.yaml")
    return t / "a.yaml"


def _folder(path: Path) -> Path:
    path.mkdir()
    return path


def _not_a_folder(t: Path) -> Path:
    (t / "file").write_text("x")
    return t / "file" / "spec.yaml"


#: paths given where a spec belongs: (builder, problem regex); each as model, --hw and JSON
BAD_READS = {
    "/dev/zero": (lambda t: Path("/dev/zero"), "is a character device, not a regular file"),
    "/dev/urandom": (lambda t: Path("/dev/urandom"), "is a character device"),
    "fifo": (lambda t: _fifo(t), "is a FIFO"),
    "socket": (_socket, "is a socket"),
    "symlink to /dev/zero": (lambda t: _link(t, "/dev/zero", "z.yaml"), "character device"),
    "symlink loop": (_loop, "symbolic link loop"),
    "directory": (lambda t: _folder(t / "d.yaml"), "directory"),
    "part of the path is a file": (_not_a_folder, "not a directory"),
    "name too long": (lambda t: t / ("x" * 300 + ".yaml"), "too long"),
}


@pytest.mark.parametrize("role", ["model", "--hw", "--from-json"])
@pytest.mark.parametrize("which", sorted(BAD_READS))
def test_unreadable_paths_give_one_line(which, role, tmp_path):
    """Nothing is read from a device or a pipe (it used to grow to 23 GB, or hang forever)."""
    build, pattern = BAD_READS[which]
    path = build(tmp_path)
    argv = {
        "model": ["analyze", path, "--hw", DEVICE],
        "--hw": ["analyze", MODEL, "--hw", path],
        "--from-json": ["validate", "--from-json", path],
    }[role]
    refused(argv, pattern)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every file")
def test_an_unreadable_file_is_one_line(tmp_path):
    spec = spec_file(tmp_path)
    spec.chmod(0)
    refused(["analyze", spec, "--hw", DEVICE], "permission denied")


def test_a_proc_file_is_read_within_the_cap_and_refused_cleanly():
    """Held: /proc files say 0 bytes but have content; they are read within the cap."""
    refused(["analyze", MODEL, "--hw", "/proc/self/status"], "/proc/self/status: ")


def test_a_bare_word_is_a_preset_even_with_a_file_of_that_name_here(tmp_path, monkeypatch):
    """A file ``t4`` or a folder ``resnet18`` in the current folder does not shadow the preset."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "t4").write_text("name: not a device\n")
    (tmp_path / "resnet18").mkdir()
    status, out, err = run(["compare", "resnet18", "--hw", "t4", "--format", "json"])
    assert status == 0, err
    (row,) = finite_json(out)
    assert (row["model"], row["device"]) == ("resnet18", "t4")


def _big_list() -> str:
    return "name: big\nfamily: layers\nsource: test\nparams: [" + "1," * 7_000_000 + "1]\n"


def _deep() -> str:
    return "name: deep\nparams: " + "[" * 100_000 + "]" * 100_000 + "\n"


#: documents that must be refused while parsing: (text, problem regex)
BOMBS = {
    "7 million numbers (14 MB)": (_big_list, "more than 250000 nodes"),
    "100,000 nested lists": (_deep, "nesting deeper than 100 levels"),
    "alias bomb": (lambda: (ROOT / "tests/data/bad_specs/m_alias_bomb.yaml").read_text(), "bomb"),
    "merge-key bomb": (lambda: (HERE / "m_merge_bomb.yaml").read_text(), "alias bomb"),
}


@pytest.mark.parametrize("which", sorted(BOMBS))
def test_hostile_documents_are_refused_while_parsing(which, monkeypatch):
    """Structural: the loader stops within its node limit of events, long before the end."""
    make, pattern = BOMBS[which]
    text = make()
    seen = [0]
    events = yaml_loader._events

    def counted(t: str) -> Any:
        for e in events(t):
            seen[0] += 1
            yield e

    monkeypatch.setattr(yaml_loader, "_events", counted)
    with pytest.raises(SpecError, match=pattern):
        yaml_loader.parse_yaml(text, "hostile.yaml")
    assert seen[0] <= yaml_loader.MAX_NODES + 10


_LIMITED = """
import re, resource, sys
from roofline import cli
from roofline.cli import fidelity, models  # the commands' modules, imported before the limit
from roofline.presets import load_hardware, load_model
load_model("resnet18"), load_hardware("a100_sxm4_80gb")
vm = int(re.search(r"VmSize:\\s+(\\d+) kB", open("/proc/self/status").read()).group(1)) * 1024
limit = vm + 200 * 2**20
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
resource.setrlimit(resource.RLIMIT_CPU, (120, 120))  # a safety net against a hang, not a timing
sys.exit(cli.main(sys.argv[1:]))
"""


def test_hostile_reads_are_refused_within_200_mb(tmp_path):
    """Each hostile read in a fresh process whose address space is capped at 200 MB above what
    the interpreter, numpy and roofline already hold: exit 2 and one line, never a MemoryError
    (before, /dev/zero grew to 23 GB and the 14 MB list took 5 GB)."""
    big = tmp_path / "big.yaml"
    big.write_text(_big_list())
    deep = tmp_path / "deep.yaml"
    deep.write_text(_deep())
    nested = tmp_path / "nested.json"
    nested.write_text("[" * 100_000 + "]" * 100_000)
    huge = tmp_path / "huge.yaml"
    huge.write_bytes(b"# " + b"x" * (yaml_loader.MAX_FILE_BYTES + 10) + b"\n")
    bomb = ROOT / "tests/data/bad_specs/m_alias_bomb.yaml"
    cases = [
        (["analyze", MODEL, "--hw", "/dev/zero"], "not a regular file"),
        (["analyze", "/dev/urandom", "--hw", DEVICE], "not a regular file"),
        (["validate", "--from-json", "/dev/zero"], "not a regular file"),
        (["analyze", big, "--hw", DEVICE], "more than 250000 nodes"),
        (["analyze", deep, "--hw", DEVICE], "nesting deeper"),
        (["analyze", huge, "--hw", DEVICE], "over the .*-byte limit"),
        (["analyze", bomb, "--hw", DEVICE], "alias bomb"),
        (["analyze", HERE / "m_merge_bomb.yaml", "--hw", DEVICE], "alias bomb"),
        (["validate", "--from-json", nested], "nests too deeply"),
    ]
    for argv, pattern in cases:
        proc = subprocess.run(
            [sys.executable, "-c", _LIMITED, *map(str, argv)],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            timeout=300,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        assert proc.returncode == 2, (argv, proc.stderr[-2000:])
        lines = proc.stderr.splitlines()
        assert len(lines) == 1 and re.search(pattern, lines[0]), (argv, proc.stderr[-2000:])


def test_a_spec_rewritten_within_the_same_second_is_not_served_stale(tmp_path):
    """The load caches are keyed by content, not by path and modification time."""
    spec = spec_file(tmp_path)
    first = rl.load_model(str(spec))
    stamp = spec.stat()
    text = spec.read_text().replace("out_features: 10", "out_features: 20")
    spec.write_text(text)
    os.utime(spec, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
    again = rl.load_model(str(spec))
    assert first.graph.ops[-1].out_features == 10
    assert again.graph.ops[-1].out_features == 20


# -- numbers with meaning, through the CLI and the API -------------------------------------------

#: CLI runs whose numbers are out of range: (argv, problem regex)
BAD_NUMBERS = {
    "--batch 1e300": (["analyze", MODEL, "--hw", DEVICE, "--batch", "1e300"], "beyond 2\\*\\*53"),
    "--batch 2**53+2": (
        ["compare", MODEL, "--hw", DEVICE, "--batch", str(2**53 + 2)],
        "beyond 2\\*\\*53",
    ),
    "--vary bandwidth 1e-300": (
        ["sweep", MODEL, "--hw", DEVICE, "--vary", "memory.hbm.bandwidth=1e-300B/s,1TB/s", "-q"],
        "outside the physical range",
    ),
    "--vary efficiency 1e-320": (
        ["sweep", MODEL, "--hw", DEVICE, "--vary", "engines.matrix.efficiency=1e-320", "-q"],
        "outside the physical range",
    ),
    "--vary per_op 1e308 s": (
        ["sweep", MODEL, "--hw", DEVICE, "--vary", "overheads.per_op=1e308s", "-q"],
        "outside the physical range",
    ),
    "--set a float past 2**53": (
        ["analyze", MODEL, "--hw", DEVICE, "--set", "width_per_group=1e20"],
        "beyond 2\\*\\*53",
    ),
    "--set a boolean": (
        ["analyze", MODEL, "--hw", DEVICE, "--set", "width_per_group=true"],
        "boolean where a number belongs",
    ),
    "--set 1:30": (["analyze", MODEL, "--hw", DEVICE, "--set", "width_per_group=1:30"], "base-60"),
}


@pytest.mark.parametrize("which", sorted(BAD_NUMBERS))
def test_numbers_out_of_range_from_the_command_line(which):
    argv, pattern = BAD_NUMBERS[which]
    refused(argv, pattern)


def test_no_numpy_warning_reaches_the_user(tmp_path):
    """The runs that used to print RuntimeWarnings now refuse, silently otherwise."""
    bad = HERE / "m_table_dims_huge.yaml"
    proc = subprocess.run(
        [sys.executable, "-W", "error::RuntimeWarning", "-m", "roofline", "analyze", str(bad)]
        + ["--hw", DEVICE],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
    )
    assert proc.returncode == 2 and len(proc.stderr.splitlines()) == 1, proc.stderr
    assert "Warning" not in proc.stderr


def test_extreme_but_valid_numbers_evaluate_to_finite_results(tmp_path):
    """The edges of the ranges are results, not errors (and never NaN)."""
    spec = yaml.safe_load((ROOT / "hw_specs" / "a100_sxm4_80gb.yaml").read_text())
    spec["engines"]["matrix"]["efficiency"] = 1e-4
    spec["engines"]["matrix"]["peak"] = {k: "1 MFLOP/s" for k in spec["engines"]["matrix"]["peak"]}
    spec["memory"]["hbm"]["bandwidth"] = "1 kB/s"
    spec["overheads"]["per_op"] = "1 s"
    path = tmp_path / "slow.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    status, out, err = run(["compare", "resnet50", "--hw", path, "--batch", "1", "4096"])
    assert status == 0, err
    status, out, err = run(["compare", "resnet50", "--hw", path, "--format", "json"])
    assert status == 0 and finite_json(out)


# -- API misuse: a SpecError naming the argument -------------------------------------------------

HW = rl.load_hardware(DEVICE)

#: calls that must raise SpecError: (call, field)
BAD_CALLS = {
    "observers=[1]": (lambda: rl.evaluate(MODEL, HW, observers=[1]), "observers[0]"),
    "observers='abc'": (lambda: rl.evaluate(MODEL, HW, observers="abc"), "observers"),
    "observers=object()": (lambda: rl.evaluate(MODEL, HW, observers=object()), "observers"),
    "vary('no_such_device')": (
        lambda: rl.vary("no_such_device", {"memory.hbm.bandwidth": [1e12]}),
        "device",
    ),
    "vary(hw, {k: None})": (lambda: rl.vary(HW, {"memory.hbm.bandwidth": None}), "memory.hbm"),
    "vary(hw, None)": (lambda: rl.vary(HW, None), "vary"),  # type: ignore[arg-type]
    "vary(hw, [..])": (lambda: rl.vary(HW, ["memory.hbm.bandwidth"]), "vary"),  # type: ignore
    "vary(hw, {1: [..]})": (lambda: rl.vary(HW, {1: [1e12]}), "vary"),  # type: ignore[dict-item]
    "vary(hw, {k: []})": (lambda: rl.vary(HW, {"memory.hbm.bandwidth": []}), "memory.hbm"),
    "vary(hw, {k: 'str'})": (lambda: rl.vary(HW, {"memory.hbm.bandwidth": "1 TB/s"}), "memory"),
    "vary a 1e-300 bandwidth": (
        lambda: rl.vary(HW, {"memory.hbm.bandwidth": [1e-300]}),
        "memory.hbm.bandwidth",
    ),
    "vary a 2-D array": (
        lambda: rl.vary(HW, {"memory.hbm.bandwidth": np.ones((2, 2)) * 1e12}),
        "memory.hbm.bandwidth",
    ),
    "sweep over an empty grid": (lambda: rl.sweep([MODEL], HW, {}, batch=[1]), "vary"),
    "sweep over empty values": (
        lambda: rl.sweep([MODEL], HW, {"memory.hbm.bandwidth": []}),
        "memory.hbm.bandwidth",
    ),
    "sweep executor=object()": (
        lambda: rl.sweep([MODEL], HW, {"memory.hbm.bandwidth": [1e12]}, executor=object()),
        "executor",
    ),
    "batch=True": (lambda: rl.evaluate(MODEL, HW, batch=True), "batch"),
    "batch=[1, False]": (lambda: rl.evaluate(MODEL, HW, batch=[1, False]), "batch"),
    "batch=datetime64": (lambda: rl.evaluate(MODEL, HW, batch=np.datetime64("2020")), "batch"),
    "batch=complex": (lambda: rl.evaluate(MODEL, HW, batch=1 + 2j), "batch"),
    "batch=complex array": (lambda: rl.evaluate(MODEL, HW, batch=np.array([1 + 0j])), "batch"),
    "batch=2**70": (lambda: rl.evaluate(MODEL, HW, batch=2**70), "batch"),
    "batch=1e300": (lambda: rl.evaluate(MODEL, HW, batch=1e300), "batch"),
    "batch=nan": (lambda: rl.count(MODEL, batch=float("nan")), "batch"),
    "per_op(batch=7)": (lambda: rl.evaluate(MODEL, HW, batch=[1]).per_op(batch=7), "batch"),
    "per_op(device=5)": (lambda: rl.evaluate(MODEL, HW).per_op(device=5), "device"),
    "per_op(device='x')": (lambda: rl.evaluate(MODEL, HW).per_op(device="x"), "device"),
    "with_params(layers=[true...])": (
        lambda: rl.load_model(MODEL).with_params(layers=[True, 1, 1, 1]),
        "params.layers[0]",
    ),
    "system(count=True)": (lambda: rl.system("h100_sxm5", True), "count"),  # type: ignore
}


@pytest.mark.parametrize("which", sorted(BAD_CALLS))
def test_api_misuse_is_a_spec_error(which):
    call, field = BAD_CALLS[which]
    with pytest.raises(SpecError) as info:
        call()
    assert info.value.field and info.value.field.startswith(field), str(info.value)
    assert "\n" not in str(info.value)


def test_observers_none_means_none():
    r = rl.evaluate(MODEL, HW, observers=None)
    kinds = rl.ByKind()
    once = rl.evaluate(MODEL, HW, observers=kinds)  # one observer, not in a list
    assert np.array_equal(once.latency_s, r.latency_s) and kinds.table().rows


# -- names ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["compute", "overhead", "interconnect", "power", " ", "hbm"])
def test_an_interconnect_level_cannot_take_a_bound_label_or_a_memory_level_name(name):
    link = {
        "scope": "scale_up",
        "topology": "switch",
        "devices": 8,
        "bandwidth": "450 GB/s",
        "latency": "5 us",
        "source": "test",
    }
    with pytest.raises(SpecError, match="cannot be named") as info:
        rl.system("h100_sxm5", 8, interconnect={name: link})
    assert info.value.field == f"interconnect.{name}"


# -- immutability ---------------------------------------------------------------------------------

#: changes to loaded objects that must raise (TypeError: read-only; ValidationError: frozen)
MUTATIONS = {
    "model params": lambda m, hw: m.spec.params.__setitem__("layers", [1, 1, 1, 1]),
    "model params list": lambda m, hw: m.spec.params["layers"].append(1),
    "graph inputs": lambda m, hw: m.graph.inputs.__setitem__("x", (1,)),
    "graph inputs pop": lambda m, hw: m.graph.inputs.pop("x"),
    "device peak": lambda m, hw: hw.engines.matrix.peak.__setitem__("fp16", -1.0),
    "device memory": lambda m, hw: hw.memory.pop("hbm"),
    "device assumptions": lambda m, hw: hw.assumptions.append("x"),
    "device field": lambda m, hw: setattr(hw.engines.matrix, "efficiency", 0.5),
    "op field": lambda m, hw: setattr(m.graph.ops[0], "out_channels", 1),
}


@pytest.mark.parametrize("which", sorted(MUTATIONS))
def test_loaded_models_and_devices_are_frozen(which):
    m, hw = rl.load_model(MODEL), rl.load_hardware(DEVICE)
    ops, peak = len(m.graph.ops), hw.engines.matrix.peak["fp16"]
    with pytest.raises((TypeError, ValueError)):
        MUTATIONS[which](m, hw)
    again, hw2 = rl.load_model(MODEL), rl.load_hardware(DEVICE)
    assert len(again.graph.ops) == ops and again.spec.params["layers"] == [2, 2, 2, 2]
    assert hw2.engines.matrix.peak["fp16"] == peak and "hbm" in hw2.memory


def test_frozen_specs_still_copy_pickle_and_dump(tmp_path):
    import copy
    import pickle

    m, hw = rl.load_model(MODEL), rl.load_hardware(DEVICE)
    assert pickle.loads(pickle.dumps(hw)) == hw and copy.deepcopy(hw) == hw
    data = m.spec.model_dump()
    data["params"]["layers"] = [1, 1, 1, 1]  # a dump is a plain, mutable copy
    assert rl.load_model(data).graph.ops != m.graph.ops
    path = tmp_path / "m.yaml"
    m.to_yaml(str(path))
    assert len(rl.load_model(str(path)).graph.ops) == len(m.graph.ops)


# -- CLI flags: a repeat appends, or is refused ---------------------------------------------------


def test_repeated_list_flags_append():
    argv = ["compare", MODEL, "--hw", "t4", "--hw", "l4", "--batch", "1", "--batch", "64"]
    status, out, err = run([*argv, "--format", "json"])
    assert status == 0, err
    rows = finite_json(out)
    assert {(r["device"], r["batch"]) for r in rows} == {
        ("t4", 1),
        ("t4", 64),
        ("l4", 1),
        ("l4", 64),
    }


def test_a_repeat_replaces_a_list_default_once():
    argv = ["generate", "llama2_7b", "--hw", "h100_sxm5", "--prompt", "128", "--prompt", "256"]
    status, out, err = run([*argv, "--output", "8", "--format", "json"])
    assert status == 0, err
    assert sorted(r["prompt"] for r in finite_json(out)) == [128, 256]


@pytest.mark.parametrize(
    "argv",
    [
        ["analyze", MODEL, "--hw", "t4", "--hw", "l4"],
        ["analyze", MODEL, "--hw", "t4", "--dtype", "fp16", "--dtype", "int8"],
        ["analyze", MODEL, "--hw", "t4", "-o", "a.csv", "-o", "b.csv"],
        ["sensitivity", MODEL, "--hw", "t4", "--factor", "2", "--factor", "4"],
    ],
    ids=["--hw", "--dtype", "-o", "--factor"],
)
def test_repeated_single_value_flags_are_refused(argv, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    refused(argv, "given twice")
    assert list(tmp_path.iterdir()) == []


# -- sensitivity: every knob's base value is the device's own ---------------------------------


def _purchased() -> rl.Hardware:
    """h100_sxm5 priced by purchase (price, lifetime, electricity, PUE) instead of by the hour."""
    spec = yaml.safe_load((ROOT / "hw_specs" / "h100_sxm5.yaml").read_text())
    spec["name"] = "h100_purchased"
    spec["cost"] = {
        "price": "$30000",
        "lifetime": "4 y",
        "electricity": "$0.1/kWh",
        "pue": 1.2,
        "source": "a test's assumption",
    }
    return rl.load_hardware(spec)


def _spec_value(hw: rl.Hardware, path: str) -> float:
    """Knob ``path``'s value read from the loaded spec's own fields (apart from roofline.knobs)."""
    parts = path.split(".")
    if parts[0] == "memory":
        return getattr(hw.memory[parts[1]], parts[2])
    if parts[0] == "engines":
        engine = getattr(hw.engines, parts[1])
        return (
            engine.efficiency if parts[2] == "efficiency" else getattr(engine, parts[2])[parts[3]]
        )
    if parts[0] == "overheads":
        return hw.overheads.per_op
    return getattr(getattr(hw, parts[0]), parts[1])


def _every_knob(hw: rl.Hardware) -> list[str]:
    """Every knob ``sensitivity --help`` lists that ``hw`` has a value for."""
    knobs = [f"memory.{n}.{k}" for n in hw.memory for k in SENSITIVITY_LEAVES[:4]]
    for e in ("matrix", "vector"):
        engine = getattr(hw.engines, e)
        knobs += [f"engines.{e}.{what}.{dt}" for dt in engine.peak for what in ("peak", "energy")]
        knobs.append(f"engines.{e}.efficiency")
    knobs += ["overheads.per_op", "power.tdp", "power.idle", "power.interconnect"]
    hourly = hw.cost.hourly is not None
    return knobs + (
        ["cost.hourly"]
        if hourly
        else ["cost.price", "cost.lifetime", "cost.electricity", "cost.pue"]
    )


#: the last word of every knob family ``sensitivity --help`` lists
SENSITIVITY_LEAVES = (
    "capacity",
    "bandwidth",
    "granularity",
    "energy",
    "peak",
    "efficiency",
    "per_op",
    "tdp",
    "idle",
    "interconnect",
    "price",
    "lifetime",
    "electricity",
    "pue",
    "hourly",
)


def test_sensitivity_help_lists_every_knob_family(capsys):
    with pytest.raises(SystemExit):
        cli.main(["sensitivity", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for leaf in SENSITIVITY_LEAVES:
        assert leaf in text.split("--knob", 1)[1], leaf


def test_sensitivity_base_values_are_the_devices_figures():
    """cost.hourly and power.idle used to read the per-op overhead ($0.018/h, 5 uW)."""
    hw = rl.load_hardware("h100_sxm5")
    t = rl.sensitivity(MODEL, hw, knobs=["cost.hourly", "power.idle", "power.tdp"])
    base = {r["knob"]: r["base_value"] for r in t}
    assert base["cost.hourly"] == pytest.approx(4.916 / 3600) == hw.cost.hourly
    assert base["power.idle"] == 140.0 == hw.power.idle
    assert base["power.tdp"] == 700.0 == hw.power.tdp


@pytest.mark.parametrize("device", ["h100_sxm5", "purchased"])
def test_every_knob_gets_its_own_base_value(device):
    """Each listed knob's base value is the spec's own figure, and varying the knob to it gives
    the device back (the value rl.vary sets is the value sensitivity reads)."""
    hw = _purchased() if device == "purchased" else rl.load_hardware("h100_sxm5")
    knobs = _every_knob(hw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", rl.UnreadKnobWarning)  # peaks of other dtypes
        t = rl.sensitivity(MODEL, hw, knobs=knobs)
    base = {r["knob"]: r["base_value"] for r in t}
    assert sorted(base) == sorted(knobs)
    for knob in knobs:
        assert base[knob] == _spec_value(hw, knob), knob
        varied, plain = rl.vary(hw, {knob: [base[knob]]}).variant(0), hw
        assert varied.model_dump(exclude={"name"}) == plain.model_dump(exclude={"name"}), knob
    for r in t:  # every evaluated direction has a latency (NaN is None); the others say why not
        for d in ("improved", "degraded"):
            ok = r[f"{d}_latency_s"] is not None and math.isfinite(r[f"{d}_latency_s"])
            assert ok or r[f"{d}_bound"] == "out of range", (r["knob"], d)


def test_sensitivity_skips_a_direction_that_leaves_the_knobs_range():
    """An efficiency of 1.0 cannot double, a PUE of 1.2 cannot halve: those cells are empty
    and say so, the other direction is evaluated, and the row ranks last."""
    hw = _purchased()
    knobs = ["engines.matrix.efficiency", "cost.pue", "memory.hbm.bandwidth"]
    rows = {r["knob"]: r for r in rl.sensitivity(MODEL, hw, knobs=knobs)}
    for knob in knobs[:2]:
        r = rows[knob]
        assert r["improved_latency_s"] is None and r["improved_speedup"] is None  # NaN
        assert r["improved_bound"] == "out of range"
        assert math.isfinite(r["degraded_latency_s"]), knob
    t = rl.sensitivity(MODEL, hw, knobs=knobs)
    assert t[0]["knob"] == "memory.hbm.bandwidth"
    status, out, err = run(["sensitivity", MODEL, "--hw", "h100_sxm5", "--knob", "power.tdp"])
    assert status == 0 and err == "", err
    assert "700 W" in out


@pytest.mark.parametrize(
    "factor, problem",
    [
        ("2", r"'2' is not a number"),
        (None, r"None is not a number"),
        (True, r"True is not a number"),
        (float("nan"), r"nan must be a finite number > 1"),
        (float("inf"), r"inf must be a finite number > 1"),
        (1.0, r"1 must be a finite number > 1"),
        (0.5, r"0.5 must be a finite number > 1"),
        (10**400, r"inf must be a finite number > 1"),
    ],
    ids=["text", "None", "bool", "nan", "inf", "one", "half", "int beyond floats"],
)
def test_sensitivity_factor_is_a_finite_number_above_one(factor, problem):
    with pytest.raises(SpecError, match=problem) as info:
        rl.sensitivity(MODEL, "t4", factor=factor)
    assert info.value.field == "factor"


def test_the_corpus_has_at_least_100_cases():
    """Files, plus every parametrized case built here."""
    built = (
        len(BAD_TARGETS)
        + 6  # inputs as outputs
        + 1  # validate report over its source
        + 2  # long names
        + 1  # symlink written through
        + 2  # outputs together, one file twice
        + 3  # signals while writing
        + 2  # sigterm during a sweep, concurrent writers
        + len(BAD_REPORTS)
        + 1  # a report that fits
        + 3 * len(BAD_READS)
        + 2  # /proc, presets not shadowed
        + len(BOMBS)
        + 1  # resource limits
        + 1  # stale cache
        + len(BAD_NUMBERS)
        + 2  # no warnings, extreme but valid
        + len(BAD_CALLS)
        + 1  # observers None
        + 6  # interconnect names
        + len(MUTATIONS)
        + 1  # copies, pickles and dumps
        + 2  # repeated list flags
        + 4  # repeated single flags
    )
    assert len(CASES) + built >= 100
    print(f"hostile corpus: {len(CASES)} files + {built} built cases")


def test_docs_name_the_limits():
    """docs/hostile_input.md states each limit the code enforces."""
    doc = (ROOT / "docs" / "hostile_input.md").read_text()
    for text in (
        f"{yaml_loader.MAX_NODES:,}",
        f"{yaml_loader.MAX_DEPTH}",
        "16 MiB",
        "2**53",
        "MAX_COUNT",
    ):
        assert text in doc, text
    assert textwrap.dedent(doc).count("\n") > 20
