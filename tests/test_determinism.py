"""Determinism: the same inputs give byte-identical JSON, call after call and process after process
(with different hash seeds, so no set or dict order can leak into the output)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from roofline import cli
from roofline.api import evaluate
from roofline.comparison import compare

COMMANDS = {
    "analyze": [
        "analyze",
        "resnet50",
        "--hw",
        "a100_sxm4_80gb",
        "--batch",
        "1",
        "16",
        "--dtype",
        "fp16",
    ],
    "compare": [
        "compare",
        "resnet18",
        "mobilenet_v2",
        "--hw",
        "a100_sxm4_80gb",
        "t4",
        "xeon_gold_6138_2s",
        "--batch",
        "1",
        "64",
        "--dtype",
        "fp32",
        "fp16",
    ],
    "analyze a file": [
        "analyze",
        "model_specs/vgg16.yaml",
        "--hw",
        "hw_specs/tpu_v4.yaml",
        "--policy",
        "single",
    ],
}
ROOT = Path(__file__).resolve().parent.parent


def _run_inprocess(argv: list[str], out: Path, monkeypatch) -> bytes:
    monkeypatch.chdir(ROOT)
    assert cli.main([*argv, "--format", "json", "-o", str(out)]) == 0
    return out.read_bytes()


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_two_runs_in_one_process_are_byte_identical(name, tmp_path, monkeypatch):
    a = _run_inprocess(COMMANDS[name], tmp_path / "a.json", monkeypatch)
    b = _run_inprocess(COMMANDS[name], tmp_path / "b.json", monkeypatch)
    assert a == b and len(a) > 100


@pytest.mark.parametrize("name", ["analyze", "compare"])
def test_two_processes_are_byte_identical(name, tmp_path):
    outs = []
    for seed in ("1", "2"):
        out = tmp_path / f"{seed}.json"
        env = {**os.environ, "PYTHONHASHSEED": seed}
        proc = subprocess.run(
            [sys.executable, "-m", "roofline", *COMMANDS[name], "--format", "json", "-o", str(out)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert proc.returncode == 0, proc.stderr
        outs.append(out.read_bytes())
    assert outs[0] == outs[1]


def test_api_exports_are_identical_across_calls():
    first = compare(["resnet18", "dlrm_rm1"], ["a100_sxm4_80gb", "l4"], [1, 32], ["fp16", "int8"])
    second = compare(["resnet18", "dlrm_rm1"], ["a100_sxm4_80gb", "l4"], [1, 32], ["fp16", "int8"])
    assert first.to_json() == second.to_json()
    assert first.to_csv() == second.to_csv()
    r1 = evaluate("bert_base", "h100_sxm5", batch=[1, 8], dtype="bf16")
    r2 = evaluate("bert_base", "h100_sxm5", batch=[1, 8], dtype="bf16")
    assert r1.totals().to_json() == r2.totals().to_json()
    assert r1.per_op().to_json() == r2.per_op().to_json()
