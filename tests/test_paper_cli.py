"""CLI: ``roofline table1`` and ``roofline plot``: formats, exit codes, no file left on error."""

from __future__ import annotations

import csv
import io
import json

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402

from roofline.cli.main import main  # noqa: E402
from roofline.paper.data import ROWS  # noqa: E402


def run(capsys, *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def test_table1_formats(capsys):
    rc, out, _ = run(capsys, "table1", "--rows", "resnext", "faster_rcnn")
    assert rc == 0 and "Computer vision / ResNeXt101-32x4-48" in out and "verdict" in out
    rc, out, _ = run(capsys, "table1", "--format", "markdown", "--rows", "resnext")
    assert rc == 0 and out.startswith("| Category |") and "✓" in out
    rc, out, _ = run(capsys, "table1", "--format", "csv", "--rows", "resnext")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert {r["metric"] for r in rows} >= {"params", "intensity_aw_min", "latency"}
    rc, out, _ = run(capsys, "table1", "--format", "json", "--batch", "1", "4", "--rows", "rec_fc")
    recs = json.loads(out)
    assert rc == 0 and all(r["batch"] == "1, 4" for r in recs)


def test_table1_default_covers_every_row(capsys):
    rc, out, _ = run(capsys, "table1", "--format", "csv")
    assert rc == 0
    assert {r["row"] for r in csv.DictReader(io.StringIO(out))} == {r.key for r in ROWS}


@pytest.mark.parametrize(
    "argv",
    [
        ("roofline", "resnet50", "--hw", "t4", "--dtype", "fp16", "--table1"),
        ("breakdown", "resnet50", "--hw", "t4", "a100_sxm4_80gb", "--by", "bound"),
        ("batch", "resnet50", "--hw", "t4", "--batch", "1", "8", "64", "--sla", "5ms"),
        ("engines", "shufflenet_v2_x1_0"),
        ("onchip", "resnet18", "--batch", "1", "4"),
        ("fleet", "rec_paper=2", "resnet50=1", "--hw", "t4"),
    ],
)
def test_plot_kinds_write_images(capsys, tmp_path, argv):
    out = tmp_path / f"{argv[0]}.png"
    rc, _, err = run(capsys, "plot", *argv, "-o", str(out))
    assert rc == 0, err
    assert out.read_bytes()[:4] == b"\x89PNG"


def test_plot_svg(capsys, tmp_path):
    out = tmp_path / "r.svg"
    assert run(capsys, "plot", "roofline", "resnet18", "--hw", "t4", "-o", str(out))[0] == 0
    assert out.read_text().lstrip().startswith("<?xml")


@pytest.mark.parametrize(
    "argv, message",
    [
        (("roofline", "resnet50", "--hw", "nope"), "unknown device"),
        (("roofline", "--hw", "t4"), "needs at least one model"),
        (("roofline", "resnet50", "--hw", "t4", "a100_sxm4_80gb"), "exactly one device"),
        (("breakdown", "resnet50"), "needs --hw"),
        (("fleet", "rec_paper=x"), "not a number"),
        (("embeddings", "resnet50"), "no embedding tables"),
    ],
)
def test_plot_errors_exit_2_and_leave_no_file(capsys, tmp_path, argv, message):
    out = tmp_path / "x.png"
    rc, _, err = run(capsys, "plot", *argv, "-o", str(out))
    assert rc == 2 and err.startswith("roofline: error:") and message in err
    assert list(tmp_path.iterdir()) == []


def test_plot_needs_an_image_file(capsys, tmp_path):
    rc, _, err = run(capsys, "plot", "roofline", "resnet50", "--hw", "t4")
    assert rc == 2 and "output file" in err
    rc, _, err = run(
        capsys, "plot", "roofline", "resnet50", "--hw", "t4", "-o", str(tmp_path / "x.txt")
    )
    assert rc == 2 and "image format" in err
    assert list(tmp_path.iterdir()) == []


def test_table1_unknown_row_exits_2(capsys):
    rc, _, err = run(capsys, "table1", "--rows", "alexnet")
    assert rc == 2 and "unknown Table 1 row" in err
