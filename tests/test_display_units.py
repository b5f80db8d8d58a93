"""Human units in every table a person reads: one prefix convention per kind of quantity (IEC for
capacities, SI for bytes moved and rates; ``--units si|iec`` for all), knob and energy columns in
their units, the alarm style only for ``feasible``, a vertical view of one row, and raw shortest
round-trip floats in CSV and JSON."""

from __future__ import annotations

import json
import re

import numpy as np
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


@pytest.mark.parametrize(
    ("column", "value", "shown"),
    [
        # 0.9996 ms rounds to 3 digits as 1.00 ms: the prefix is picked after rounding
        ("latency_s", 0.0009996, "1 ms"),
        ("bytes_moved", 999_700_000, "1 GB"),  # 999.7 MB -> 1.00e3 MB = 1 GB
        ("weight_bytes", 1023.7 * 2**20, "1 GiB"),  # 1023.7 / 1024 = 0.9997 GiB
        ("throughput_per_s", 999.8, "1 k/s"),
        ("cost_per_1m_samples", 999.9, "$1k"),
        ("energy_per_sample_j", 999.7, "1 kJ"),
        ("avg_power_w", 0.99996, "1 W"),
        ("cost.lifetime", 86399.9, "1 d"),
        # 1000 MiB is 1000 / 1024 = 0.9765625 GiB: three digits cannot write 1000 of a prefix
        ("weight_bytes", 1000 * 2**20, "0.977 GiB"),
        ("memory.hbm.bandwidth", 999.96e9, "1 TB/s"),
    ],
)
def test_a_value_that_rounds_up_to_the_next_prefix_takes_it(column, value, shown):
    assert format_value(column, value) == shown


MANTISSA = re.compile(r"^\$?([\d.]+)(?= |[kMGTPE]|$)")  # the digits before a unit or prefix


@pytest.mark.parametrize("units", ["si", "iec"])
def test_a_byte_figure_at_a_prefix_boundary_has_one_to_three_digits(units):
    """Across each prefix boundary (999 to 1024 of a prefix of 1000 or of 1024, in steps of
    0.01) a figure is 1 to 3 digits and its prefix, never ``1e+03``: 1000 to 1023 of an IEC
    prefix, which three digits cannot write, is a fraction of the next (``0.977 GiB``)."""
    base = 1000.0 if units == "si" else 1024.0
    for k in range(5):
        for m in np.arange(999.0, 1024.0, 0.01):
            text = format_value("bytes_moved", m * base**k, units)
            m_text = MANTISSA.match(text)
            assert m_text and 0.97 <= float(m_text.group(1)) < 1000, text


@pytest.mark.parametrize("unit", [1e-6, 1e-3, 1.0])
def test_a_time_at_a_unit_boundary_has_one_to_three_digits(unit):
    """0.9996 ms is ``1 ms`` (it was ``1e+03 us``): every time around a boundary of ns, us, ms
    and s is 1 to 3 digits and its unit."""
    for m in np.arange(0.998, 1.002, 0.00001):
        text = format_value("latency_s", m * unit)
        m_text = MANTISSA.match(text)
        assert m_text and 1 <= float(m_text.group(1)) < 1000, text


def test_rates_qualified_after_their_unit_print_as_rates():
    """``tokens_per_s_bound`` and ``tokens_per_s_per_user`` (generate, layouts) beside
    ``tokens_per_s`` printed ``246.4`` against ``176 /s``."""
    for c in ("tokens_per_s_bound", "tokens_per_s_per_user"):
        assert column_kind(c) == column_kind("tokens_per_s") == "per_time"
        assert format_value(c, 246.4) == "246 /s"


@pytest.mark.parametrize("value", [12_345_678, 2**53, 1024, 12_345_678.0])
def test_a_count_prints_whole(value):
    """A count is exact, every digit: ``:g`` wrote batch 12345678 as ``1.23457e+07``."""
    text = format_value("batch", value)
    assert text.isdigit() and int(text) == value
