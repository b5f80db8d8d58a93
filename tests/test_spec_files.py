"""Writing a spec without the 4-6 rounds: ``roofline new device`` writes a commented template
that loads as it is, ``roofline check`` prints what a spec holds, and every invalid field of a
file is reported at once (one line each, exit status 2)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

import roofline as rl
from roofline.cli.main import main
from roofline.errors import SpecError, SpecErrors

ROOT = Path(__file__).resolve().parents[1]


def test_the_template_loads_as_it_is_from_a_file(tmp_path, capsys):
    out = tmp_path / "my_npu.yaml"
    assert main(["new", "device", "my_npu", "-o", str(out)]) == 0
    text = out.read_text()
    assert "EXAMPLE" in text and text.count("#") > 20  # commented
    hw = rl.load_hardware(str(out))  # from a file: every quantity carries its unit
    assert hw.name == "my_npu" and hw.dtype == "fp16"
    assert rl.evaluate("resnet50", str(out), batch=4).latency_s[0, 0] > 0
    assert main(["check", str(out)]) == 0
    summary = capsys.readouterr().out
    assert "a valid device" in summary and "100 TFLOP/s" in summary and "16 GiB" in summary


def test_new_refuses_a_bad_name_and_a_non_yaml_file(tmp_path, capsys):
    assert main(["new", "device", "my npu"]) == 2
    assert main(["new", "device", "x", "-o", str(tmp_path / "x.txt")]) == 2
    assert not (tmp_path / "x.txt").exists()
    capsys.readouterr()


def _broken(tmp_path: Path) -> Path:
    """The template with three mistakes in three places."""
    data = yaml.safe_load((ROOT / "roofline" / "templates" / "device.yaml").read_text())
    data["name"] = "broken"
    data["memory"]["hbm"]["bandwith"] = "1 TB/s"  # a typo (bandwidth is then missing too)
    del data["memory"]["hbm"]["bandwidth"]
    data["overheads"]["per_op"] = 5  # no unit
    data["engines"]["matrix"]["peak"]["fp16"] = "100 TB/s"  # a bandwidth, not a rate
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_every_invalid_field_is_reported_at_once(tmp_path, capsys):
    path = _broken(tmp_path)
    with pytest.raises(SpecErrors) as info:
        rl.load_hardware(str(path))
    fields = [e.field for e in info.value.errors]
    assert fields == ["engines.matrix.peak.fp16", "memory.hbm.bandwith", "overheads.per_op"]
    assert isinstance(info.value, SpecError) and info.value.field == fields[0]
    assert main(["check", str(path)]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert lines[0] == f"roofline: error: {path}: 3 problems:"
    assert lines[1].startswith("  engines.matrix.peak.fp16: '100 TB/s' is a bytes/s quantity")
    assert lines[2] == "  memory.hbm.bandwith: unknown field 'bandwith' (did you mean 'bandwidth'?)"
    assert lines[3].startswith("  overheads.per_op: 5 has no unit (write it with its unit: '5 s'")
    assert main(["analyze", "resnet50", "--hw", str(path)]) == 2  # the same block, exit 2
    assert "3 problems" in capsys.readouterr().err


def test_a_model_spec_with_several_invalid_parameters(tmp_path, capsys):
    data = yaml.safe_load((ROOT / "model_specs" / "bert_base.yaml").read_text())
    data["params"]["hidden_size"] = "big"
    data["params"]["num_layers"] = -1
    path = tmp_path / "bad_bert.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    assert main(["check", str(path)]) == 2
    err = capsys.readouterr().err
    assert "2 problems" in err and "params.hidden_size" in err and "params.num_layers" in err


@pytest.mark.parametrize(
    ("path", "says"),
    [
        ("model_specs/resnet50.yaml", "a valid model"),
        ("hw_specs/t4.yaml", "a valid device"),
        ("hw_specs/systems/dgx_h100.yaml", "a valid system"),
    ],
)
def test_check_summarizes_each_kind_of_spec(path, says, capsys):
    assert main(["check", str(ROOT / path)]) == 0
    out = capsys.readouterr().out
    assert says in out and "e+" not in out


def test_check_of_a_missing_file(capsys):
    assert main(["check", "no_such.yaml"]) == 2
    assert "no such file" in capsys.readouterr().err
