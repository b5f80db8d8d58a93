"""The bad-spec corpus (tests/data/bad_specs/cases.yaml): each malformed input, one clear error.

Each case goes through the Python API (exactly one SpecError, a ValueError, naming the file and the
field, its problem matching the manifest) and through the CLI (exactly one line on stderr,
``roofline: error: FILE: FIELD: problem (fix)``, exit status 2, no traceback, no output file).
"""

from __future__ import annotations

import re
import subprocess
import sys
import tracemalloc
from pathlib import Path

import pytest
import yaml

from roofline import cli
from roofline.api import evaluate
from roofline.errors import SpecError
from roofline.yaml_loader import MAX_FILE_BYTES

HERE = Path(__file__).parent / "data" / "bad_specs"
CASES: dict[str, dict] = yaml.safe_load((HERE / "cases.yaml").read_text())["cases"]
MODEL, DEVICE = "resnet18", "a100_sxm4_80gb"


def _model_and_device(path: Path, case: dict) -> tuple[str, str]:
    """The case's file as the model (on a preset device) or as the device (for a preset model)."""
    return (str(path), DEVICE) if case["kind"] == "model" else (MODEL, str(path))


def _api(path: Path, case: dict) -> SpecError:
    model, hw = _model_and_device(path, case)
    with pytest.raises(SpecError) as info:
        evaluate(model, hw, dtype=case.get("dtype", "fp32"))
    return info.value


def _argv(path: Path, case: dict, out: Path) -> list[str]:
    model, hw = _model_and_device(path, case)
    argv = ["analyze", model, "--hw", hw, "--format", "json", "-o", str(out)]
    return argv + (["--dtype", case["dtype"]] if "dtype" in case else [])


def _check_line(err: str, path: Path, case: dict) -> str:
    lines = err.splitlines()
    assert len(lines) == 1, err
    line = lines[0]
    assert "Traceback" not in err
    head = "roofline: error: "
    if case.get("names_file", True):
        head += f"{path}: "
    if case["field"]:
        head += f"{case['field']}: "
    assert line.startswith(head), (line, head)
    assert re.search(case["problem"], line[len(head) :]), line
    return line


def test_manifest_covers_every_file():
    files = {p.name for p in HERE.glob("*.yaml")} - {"cases.yaml"}
    assert files == set(CASES)
    assert len(CASES) >= 30


@pytest.mark.parametrize("name", sorted(CASES))
def test_api_raises_one_spec_error_naming_file_and_field(name):
    case, path = CASES[name], HERE / name
    exc = _api(path, case)
    assert isinstance(exc, ValueError)
    assert exc.field == case["field"]
    assert re.search(case["problem"], exc.problem), exc.problem
    if "fix" in case:
        assert exc.fix and re.search(case["fix"], exc.fix), exc.fix
    if case.get("names_file", True):
        assert exc.file == str(path)
        assert str(exc).startswith(f"{path}: ")
    assert "\n" not in str(exc)


@pytest.mark.parametrize("name", sorted(CASES))
def test_cli_prints_one_line_exits_2_and_writes_nothing(name, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a tag that ran code would leave its file here
    case, path = CASES[name], HERE / name
    out = tmp_path / "out" / "result.json"
    out.parent.mkdir()
    assert cli.main(_argv(path, case, out)) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    _check_line(captured.err, path, case)
    assert list(out.parent.iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


@pytest.mark.parametrize(
    "name", ["d_bandwidth_is_a_size.yaml", "m_python_object_tag.yaml", "m_alias_bomb.yaml"]
)
def test_cli_in_a_fresh_process(name, tmp_path):
    """The installed entry point behaves the same: one stderr line, exit 2, nothing written."""
    case, path = CASES[name], HERE / name
    out = tmp_path / "result.json"
    proc = subprocess.run(
        [sys.executable, "-m", "roofline", *_argv(path, case, out)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""
    _check_line(proc.stderr, path, case)
    assert list(tmp_path.iterdir()) == []


def test_alias_bomb_fails_with_bounded_memory():
    """A 1 KiB file that would expand to 10**9 nodes is refused before anything is built."""
    path = HERE / "m_alias_bomb.yaml"
    assert path.stat().st_size < 2048
    tracemalloc.start()
    try:
        with pytest.raises(SpecError, match="alias bomb"):
            evaluate(str(path), DEVICE)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 32 * 2**20


# -- cases made at test time -------------------------------------------------------------------


def _generated(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    latin1 = tmp_path / "latin1.yaml"
    latin1.write_bytes(b"name: caf\xe9\nfamily: layers\nsource: test\n")
    folder = tmp_path / "folder.yaml"
    folder.mkdir()
    big = tmp_path / "big.yaml"
    big.write_bytes(b"# " + b"x" * (MAX_FILE_BYTES + 1) + b"\n")
    return {
        "not utf-8": (latin1, r"not UTF-8 text \(byte 9\)"),
        "missing file": (tmp_path / "nope.yaml", "file does not exist"),
        "directory": (folder, "is a directory"),
        "too large": (big, "over the .* limit"),
    }


@pytest.mark.parametrize("which", ["not utf-8", "missing file", "directory", "too large"])
@pytest.mark.parametrize("kind", ["model", "device"])
def test_unreadable_files(which, kind, tmp_path, capsys):
    path, problem = _generated(tmp_path)[which]
    case = {"kind": kind, "field": None, "problem": problem}
    exc = _api(path, case)
    assert exc.file == str(path) and exc.field is None
    assert re.search(problem, exc.problem)
    out = tmp_path / "out.json"
    assert cli.main(_argv(path, case, out)) == 2
    _check_line(capsys.readouterr().err, path, case)
    assert not out.exists()


# -- a detection backbone's parameters, named as the detection spec spells them --------------------

PRESETS = Path(__file__).parents[1] / "model_specs"
#: case -> (preset, its params changed, field named, problem); each was a raw pydantic
#: ValidationError (a traceback) or, for a stage of 0 or fewer units, a silent wrong count
BACKBONE_CASES = {
    "resnet_stage_of_no_blocks": (
        "fasterrcnn_resnet50_fpn",
        {"backbone_layers": [0, 4, 6, 3]},
        "params.backbone_layers[0]",
        r"greater than 0 \(got 0\)",
    ),
    "shufflenet_negative_channels": (
        "faster_rcnn_shufflenet",
        {"backbone_channels": [-1, 480, 960]},
        "params.backbone_channels[0]",
        r"-1 is not a positive integer",
    ),
    "shufflenet_negative_units": (
        "faster_rcnn_shufflenet",
        {"backbone_layers": [-1, 8, 4]},
        "params.backbone_layers[0]",
        r"-1 is not a positive integer",
    ),
    "shufflenet_stage_of_no_units": (
        "faster_rcnn_shufflenet",
        {"backbone_layers": [4, 8, 0]},
        "params.backbone_layers[2]",
        r"0 is not a positive integer",
    ),
    "shufflenet_widths_not_divisible_by_groups": (
        "faster_rcnn_shufflenet",
        {"backbone_channels": [250, 480, 960]},
        "params.backbone_channels",
        r"backbone_channels=\(250, 480, 960\), backbone_groups=3: .* divisible by backbone_groups",
    ),
    "shufflenet_v2_stage_of_no_units": (
        "faster_rcnn_shufflenet",
        {
            "backbone": "shufflenet_v2",
            "backbone_groups": 1,
            "backbone_layers": [4, 0, 4],
            "backbone_channels": [24, 116, 232, 464, 1024],
        },
        "params.backbone_layers[1]",
        r"0 is not a positive integer",
    ),
    "shufflenet_v2_odd_width": (
        "faster_rcnn_shufflenet",
        {
            "backbone": "shufflenet_v2",
            "backbone_groups": 1,
            "backbone_channels": [24, 117, 232, 464, 1024],
        },
        "params.backbone_channels",
        r"backbone_channels=\(24, 117, 232, 464, 1024\): stage width 117 is odd",
    ),
}


@pytest.mark.parametrize("name", sorted(BACKBONE_CASES))
def test_backbone_params_are_named_as_the_detection_spec_spells_them(name, tmp_path, capsys):
    preset, changes, field, problem = BACKBONE_CASES[name]
    spec = _preset(preset)
    spec["params"].update(changes)
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    case = {"kind": "model", "field": field, "problem": problem}
    exc = _api(path, case)
    assert (exc.file, exc.field) == (str(path), field)
    assert re.search(problem, exc.problem), exc.problem
    out = tmp_path / "out.json"
    assert cli.main(_argv(path, case, out)) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    _check_line(captured.err, path, case)
    assert not out.exists()


@pytest.mark.parametrize(
    ("preset", "repeats", "field"),
    [
        ("shufflenet_v2_x1_0", [0, 8, 4], r"stages_repeats\[0\]"),
        ("shufflenet_v2_x1_0", [4, -1, 4], r"stages_repeats\[1\]"),
        ("shufflenet_v1_g3", [4, 8, 0], r"stages_repeats\[2\]"),
    ],
)
def test_shufflenet_stages_have_units(preset, repeats, field):
    """A ShuffleNet stage of 0 or fewer units was left out (a silent wrong count)."""
    spec = _preset(preset)
    spec["params"]["stages_repeats"] = repeats
    with pytest.raises(SpecError, match=rf": params\.{field}: -?\d is not a positive integer"):
        evaluate(spec, DEVICE)


def _preset(name: str) -> dict:
    return yaml.safe_load((PRESETS / f"{name}.yaml").read_text(encoding="utf-8"))
