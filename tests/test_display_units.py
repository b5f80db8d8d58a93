"""Human units in every table a person reads: one prefix convention per kind of quantity (IEC for
capacities, SI for bytes moved and rates; ``--units si|iec`` for all), knob and energy columns in
their units, the alarm style only for ``feasible``, a vertical view of one row, and raw shortest
round-trip floats in CSV and JSON."""

from __future__ import annotations

import json
import re

import pytest

import roofline as rl
from roofline.cli.main import main
from roofline.formatting import column_kind, format_table, format_value
from roofline.table import Table

IEC = re.compile(r"^-?[\d.]+ [KMGTP]iB$")
SI_BYTES = re.compile(r"^-?[\d.]+ [kMGTP]?B$")


def _cells(text: str, column: str) -> list[str]:
    """The cells of ``column`` in an aligned text table (header, rule of dashes, rows)."""
    lines = text.splitlines()
    rule = next(i for i, ln in enumerate(lines) if ln and set(ln) <= {"-", " "})
    widths = [len(w) for w in lines[rule].split("  ")]
    k = lines[rule - 1].split().index(column)
    begin = sum(widths[:k]) + 2 * k
    return [ln[begin : begin + widths[k]].strip() for ln in lines[rule + 1 :] if ln.strip()]


def test_one_prefix_convention_per_column():
    """The issue's mix (``19.1 kB`` beside ``33 KiB`` in one column) cannot happen: a capacity
    column is IEC whatever its values, a bytes-moved column SI."""
    t = Table(
        ["weight_bytes", "act_in_bytes"],
        [[19.1e3, 19.1e3], [33 * 1024, 33 * 1024], [40 * 2**20, 40 * 2**20]],
    )
    text = t.to_text()
    assert all(IEC.match(c) for c in _cells(text, "weight_bytes")), text
    assert all(SI_BYTES.match(c) for c in _cells(text, "act_in_bytes")), text
    si = t.to_text(units="si")
    assert all(SI_BYTES.match(c) for c in _cells(si, "weight_bytes"))
    iec = t.to_text(units="iec")
    assert all(IEC.match(c) for c in _cells(iec, "act_in_bytes"))


@pytest.mark.parametrize(
    ("column", "value", "shown"),
    [
        ("memory.hbm.bandwidth", 2.039e12, "2.04 TB/s"),
        ("memory.sram.capacity", 40 * 2**20, "40 MiB"),
        ("engines.matrix.peak.fp16", 3.12e14, "312 TFLOP/s"),
        ("engines.matrix.peak.int8", 6.24e14, "624 TOP/s"),
        ("overheads.per_op", 5e-6, "5 us"),
        ("engines.matrix.energy.fp16", 5.6e-13, "560 fJ"),
        ("memory.hbm.energy", 3.1e-11, "31 pJ/B"),
        ("power.tdp", 700.0, "700 W"),
        ("cost.hourly", 2.5 / 3600, "$2.5/h"),
        ("cost.electricity", 0.1 / 3.6e6, "$0.1/kWh"),
        ("cost.lifetime", 5 * 365 * 86400.0, "5 y"),
        ("device.memory.hbm.bandwidth", 3.35e12, "3.35 TB/s"),
        ("interconnect.nvlink.latency", 2e-6, "2 us"),
        ("energy_per_sample_j", 0.0144, "14.4 mJ"),
        ("avg_power_w", 55.5, "55.5 W"),
        ("samples_per_j", 69.7, "69.7 /J"),
        ("cost_per_1m_samples", 0.0421, "$0.0421"),
        ("bytes_moved", 4.194e7, "41.9 MB"),
        ("max_live_activations", 2.01e6, "2.01 M"),
        ("best_batch_under_sla", 24, "24"),
    ],
)
def test_knob_energy_and_other_columns_print_in_their_units(column, value, shown):
    assert format_value(column, value) == shown


def test_power_capped_is_no_alarm_and_feasible_is():
    assert format_value("power_capped", False) == "no"
    assert format_value("feasible", False) == "NO"
    assert format_value("feasible", True) == format_value("power_capped", True) == "yes"


def test_sensitivity_base_values_take_their_knobs_units():
    t = rl.sensitivity("resnet50", "t4", batch=8)
    text = t.to_text()
    assert "e+" not in text
    row = {r["knob"]: r for r in t}
    assert "320 GB/s" in text and "4 MiB" in text and "65 TFLOP/s" in text
    assert row["memory.dram.bandwidth"]["base_value"] == 320e9  # raw SI in the records


def test_sweep_knob_columns_and_observer_tables_print_human_units(capsys):
    argv = ["sweep", "resnet50", "--hw", "a100_sxm4_80gb", "-q", "--batch", "1"]
    assert main([*argv, "--vary", "memory.sram.capacity=8MiB,32MiB,128MiB"]) == 0
    out = capsys.readouterr().out
    assert "8 MiB" in out and "128 MiB" in out and "e+" not in out
    kinds = rl.ByKind()
    rl.evaluate("resnet50", "a100_sxm4_80gb", batch=8, observers=[kinds])
    text = kinds.table().to_text()
    assert "e+" not in text and re.search(r"\d MB", text) and "%" in text


def test_one_row_prints_vertically_with_units():
    text = rl.evaluate("resnet50", "t4", batch=8).totals().to_text()
    lines = text.splitlines()
    assert lines[1].split() == ["field", "value"]
    fields = dict(ln.split(None, 1) for ln in lines[3:])
    assert fields["latency_s"].endswith("ms") and fields["dtype"] == "fp16"
    assert fields["weight_bytes"].endswith("MiB") and fields["power_capped"] == "no"


def test_csv_and_json_carry_shortest_round_trip_floats():
    t = Table(["x_s", "y_bytes"], [[0.1 + 0.2, 2039000000000.0], [1 / 3, 1e-12]])
    rows = t.to_csv().splitlines()[1:]
    assert rows == ["0.30000000000000004,2039000000000.0", "0.3333333333333333,1e-12"]
    back = json.loads(t.to_json())
    assert back[0]["x_s"] == 0.1 + 0.2 and back[1]["y_bytes"] == 1e-12


def test_column_kinds_of_the_shared_suffixes():
    assert column_kind("capacity_shortfall_bytes") == "capacity"
    assert column_kind("hbm_bytes") == "bytes"
    assert column_kind("kv_cache_bytes") == "capacity"
    assert column_kind("kv_bytes") == "bytes"
    assert column_kind("main_bandwidth_bytes_per_s") == "bandwidth"
    assert format_table(Table(["a"], [[1.0]])).splitlines()[0] == "a"


def test_numbers_align_right_by_value_and_names_left_whatever_their_first_character():
    """``2x_dgx_h100`` used to be right-aligned: alignment was guessed from the text."""
    t = Table(["system", "devices"], [("2x_dgx_h100", 16), ("dgx_h100", 8)])
    lines = format_table(t).splitlines()
    assert lines[2].startswith("2x_dgx_h100 ") and lines[3].startswith("dgx_h100 ")
    assert lines[2].endswith(" 16") and lines[3].endswith("  8")
