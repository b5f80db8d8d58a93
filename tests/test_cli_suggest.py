"""Mistyped subcommands and choices get a suggestion; evaluation errors name the device file."""

from __future__ import annotations

import pytest

import roofline as rl
from roofline.cli.main import main


@pytest.mark.parametrize(
    ("argv", "suggestion"),
    [
        (["comapre", "resnet50"], "did you mean 'compare'?"),
        (["analyze", "resnet50", "--hw", "t4", "--policy", "capcity"], "did you mean 'capacity'?"),
        (["list", "modles"], "did you mean 'models'?"),
    ],
)
def test_mistyped_choice_is_suggested(argv, suggestion, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("roofline: error: ")
    assert suggestion in err[0]


def test_missing_peak_names_the_device_file(capsys):
    assert main(["compare", "resnet50", "--hw", "tpu_v4", "--dtype", "fp64"]) == 2
    err = capsys.readouterr().err.strip()
    assert "tpu_v4.yaml: engines.matrix.peak.fp64:" in err
    with pytest.raises(rl.SpecError) as exc:
        rl.evaluate("resnet50", "tpu_v4", dtype="fp64")
    assert exc.value.file.endswith("tpu_v4.yaml")
    assert exc.value.field == "engines.matrix.peak.fp64"
