"""Where the CLI writes and in what: ``-o`` picks the format from the file's extension (.csv,
.json, .md, .txt, .parquet), an unknown extension or a disagreeing ``--format`` is an error,
``--columns`` picks columns, and ``compare`` prints a compact set for people."""

from __future__ import annotations

import csv
import json

import pytest

import roofline as rl
from roofline.cli.main import main
from roofline.comparison import COMPARE_COLUMNS

COMPARE = ["compare", "resnet18", "--hw", "t4", "--batch", "1", "8"]


@pytest.mark.parametrize("ext", ["csv", "json", "md", "txt", "parquet"])
def test_the_extension_picks_the_format(ext, tmp_path):
    out = tmp_path / f"r.{ext}"
    assert main([*COMPARE, "-o", str(out)]) == 0
    if ext == "parquet":
        pq = pytest.importorskip("pyarrow.parquet")
        table = pq.read_table(out).to_pydict()
        assert table["batch"] == [1, 8] and table["device"] == ["t4", "t4"]
        assert set(COMPARE_COLUMNS) <= set(table)
        return
    text = out.read_text()
    if ext == "csv":
        rows = list(csv.DictReader(text.splitlines()))
        assert [r["batch"] for r in rows] == ["1", "8"] and set(COMPARE_COLUMNS) <= set(rows[0])
        float(rows[0]["latency_s"])  # raw SI numbers
    elif ext == "json":
        rows = json.loads(text)
        assert [r["batch"] for r in rows] == [1, 8]
    elif ext == "md":
        assert text.startswith("| model | device |")
    else:
        assert text.startswith("compare\nmodel") and " ms" in text or " us" in text


def test_an_unknown_extension_is_an_error_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "r.xlsx"
    assert main([*COMPARE, "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "cannot tell the format of" in err and ".csv, .json, .md, .txt, .parquet" in err
    assert not out.exists()


def test_a_format_that_disagrees_with_the_extension_is_an_error(tmp_path, capsys):
    assert main([*COMPARE, "--format", "json", "-o", str(tmp_path / "r.csv")]) == 2
    assert "--format json disagrees with" in capsys.readouterr().err
    assert main([*COMPARE, "--format", "csv", "-o", str(tmp_path / "r.csv")]) == 0


def test_columns_pick_and_order_the_columns(tmp_path, capsys):
    out = tmp_path / "r.csv"
    assert main([*COMPARE, "--columns", "batch,latency_s,dtype", "-o", str(out)]) == 0
    assert out.read_text().splitlines()[0] == "batch,latency_s,dtype"
    assert main([*COMPARE, "--columns", "batch,latency"]) == 2
    err = capsys.readouterr().err
    assert "no column 'latency'" in err and "did you mean 'latency_s'" in err


def test_compare_prints_a_compact_table_and_keeps_every_column_for_data(capsys):
    assert main(COMPARE) == 0
    text = capsys.readouterr().out
    assert max(len(line) for line in text.splitlines()) < 160
    assert "energy_per_sample_j" in text and "flops_mac" not in text
    assert main([*COMPARE, "--columns", "all"]) == 0
    assert "flops_mac" in capsys.readouterr().out


def test_analyze_writes_its_ops_as_csv_and_everything_as_json(tmp_path):
    argv = ["analyze", "resnet18", "--hw", "t4"]
    assert main([*argv, "-o", str(tmp_path / "ops.csv")]) == 0
    header = (tmp_path / "ops.csv").read_text().splitlines()[0].split(",")
    assert header[:4] == ["model", "device", "batch", "op"]
    assert main([*argv, "-o", str(tmp_path / "a.json")]) == 0
    doc = json.loads((tmp_path / "a.json").read_text())
    assert set(doc) == {"summary", "ops"} and doc["summary"][0]["dtype"] == "fp16"


def test_diff_cannot_be_one_parquet_table(tmp_path, capsys):
    argv = ["diff", "resnet18", "--hw", "t4", "l4", "-o", str(tmp_path / "d.parquet")]
    assert main(argv) == 2
    assert "a Parquet file holds one table" in capsys.readouterr().err


@pytest.mark.parametrize("ext", ["csv", "json", "md", "txt"])
def test_a_file_holds_what_stdout_prints_final_newline_included(ext, tmp_path, capsys):
    """``-o x.json`` had no final newline while stdout had one."""
    fmt = {"csv": "csv", "json": "json", "md": "markdown", "txt": "table"}[ext]
    assert main([*COMPARE, "--format", fmt]) == 0
    printed = capsys.readouterr().out
    out = tmp_path / f"r.{ext}"
    assert main([*COMPARE, "-o", str(out)]) == 0
    assert out.read_text() == printed and printed.endswith("\n")


@pytest.mark.parametrize("how", [["--format", "csv"], ["-o", "d.csv"]])
def test_diff_cannot_be_one_csv_table(how, tmp_path, capsys, monkeypatch):
    """diff writes two tables; as CSV the second header read as data. Refused like Parquet."""
    monkeypatch.chdir(tmp_path)
    assert main(["diff", "resnet18", "--hw", "t4", "l4", *how]) == 2
    err = capsys.readouterr().err
    assert err.startswith("roofline: error: ") and err.count("\n") == 1
    assert "CSV holds one table" in err and "json" in err and how[0] in err
    assert not (tmp_path / "d.csv").exists()


def test_a_quantity_with_no_value_keeps_a_number_type(tmp_path):
    """A column of quantities that are all None (every point infeasible, a device without a
    price) was ``object`` in pandas and type null in Parquet; it is float64, None as NaN."""
    pd = pytest.importorskip("pandas")
    frame = rl.evaluate("llama2_70b", "dgx_h100", batch=[1, 64], tp=[1]).totals().to_pandas()
    assert not frame["feasible"].any()  # 140 GB of fp16 weights on one 80 GB device
    for c in ("latency_s", "throughput_per_s"):
        assert frame[c].dtype == "float64" and frame[c].isna().all()
    table = rl.compare(["resnet18"], ["t4"], batch=[1, 8])
    assert table["cost_per_1m_samples"] == [None, None]  # hw_specs/t4.yaml has no price
    frame = table.to_pandas()
    assert frame["cost_per_1m_samples"].dtype == "float64"
    assert pd.api.types.is_string_dtype(frame["device"]) or frame["device"].dtype == object
    pq = pytest.importorskip("pyarrow.parquet")
    assert main([*COMPARE, "--columns", "all", "-o", str(tmp_path / "c.parquet")]) == 0
    back = pq.read_table(tmp_path / "c.parquet")
    assert str(back.schema.field("cost_per_1m_samples").type) == "double"
    assert back.column("cost_per_1m_samples").null_count == 2
