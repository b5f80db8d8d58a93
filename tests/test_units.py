"""Units in spec files and on the command line: a bare number is an error with the fix, text
needs its unit, quantities parse exactly, and every dumped spec loads again from a file."""

from __future__ import annotations

import pytest
import yaml

import roofline as rl
from roofline.cli.main import main
from roofline.errors import SpecError, UnitError
from roofline.units import Dim, parse_quantity, parse_range


def _device_file(tmp_path, **changes) -> str:
    """The t4 preset dumped to a YAML file, with ``changes`` (dotted path -> value) applied."""
    data = rl.load_device("t4").model_dump(mode="json", exclude_none=True)
    for path, value in changes.items():
        *parents, last = path.split(".")
        node = data
        for p in parents:
            node = node[p]
        node[last] = value
    path = tmp_path / f"{data['name']}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return str(path)


def test_a_bare_overhead_in_a_spec_file_is_refused_with_the_fix(tmp_path, capsys):
    """``per_op: 5`` was five seconds (a 280 s latency, no warning); now it is an error."""
    f = _device_file(tmp_path, **{"overheads.per_op": 5})
    with pytest.raises(SpecError) as info:
        rl.load_hardware(f)
    assert info.value.field == "overheads.per_op"
    assert info.value.problem == "5 has no unit"
    assert info.value.fix == "write it with its unit: '5 s' or '5 ms' or '5 us'"
    assert main(["analyze", "resnet50", "--hw", f]) == 2
    assert "overheads.per_op: 5 has no unit" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("field", "value", "fix"),
    [
        ("memory.dram.bandwidth", 320e9, "'320000000000.0 GB/s'"),
        ("memory.sram.capacity", "4", "'4 MiB'"),
        ("engines.matrix.peak.fp16", "65", "'65 TFLOP/s'"),
        ("power.tdp", 70, "'70 W'"),
    ],
)
def test_every_quantity_field_of_a_file_needs_its_unit(tmp_path, field, value, fix):
    with pytest.raises(SpecError) as info:
        rl.load_hardware(_device_file(tmp_path, **{field: value}))
    assert info.value.field == field and "has no unit" in info.value.problem
    assert fix in info.value.fix


def test_zero_needs_no_unit(tmp_path):
    hw = rl.load_hardware(_device_file(tmp_path, **{"overheads.per_op": 0}))
    assert hw.overheads.per_op == 0.0


def test_a_mapping_built_in_python_may_give_si_numbers():
    data = rl.load_device("t4").model_dump(mode="json", exclude_none=True)
    data["overheads"]["per_op"] = 5e-6
    data["memory"]["dram"]["bandwidth"] = 320e9
    hw = rl.load_hardware(data)
    assert hw.overheads.per_op == 5e-6 and hw.memory["dram"].bandwidth == 320e9
    data["memory"]["dram"]["bandwidth"] = "320"  # text needs its unit, even here
    with pytest.raises(SpecError, match="'320' has no unit"):
        rl.load_hardware(data)


@pytest.mark.parametrize("name", [*rl.list_devices(), *rl.list_systems()])
def test_every_dumped_preset_loads_again_from_a_file(tmp_path, name):
    hw = rl.load_hardware(name)
    path = tmp_path / f"{name}.yaml"
    path.write_text(
        yaml.safe_dump(hw.model_dump(mode="json", exclude_none=True), sort_keys=False),
        encoding="utf-8",
    )
    assert rl.load_hardware(str(path)) == hw


@pytest.mark.parametrize(
    ("text", "dim", "expected"),
    [
        ("2.039 TB/s", Dim.BANDWIDTH, 2039000000000.0),  # 2.039 * 1e12 in binary: ...0002
        ("1.2 TB/s", Dim.BANDWIDTH, 1200000000000.0),
        ("0.3 ms", Dim.TIME, 0.0003),
        ("40 MiB", Dim.BYTES, 41943040.0),
        ("989.4 TFLOP/s", Dim.RATE, 989400000000000.0),
    ],
)
def test_quantities_parse_to_the_nearest_float_of_their_decimal_value(text, dim, expected):
    assert parse_quantity(text, dim) == expected
    assert repr(parse_quantity(text, dim)) == repr(expected)


def test_text_without_a_unit_is_refused_and_a_python_number_is_si():
    with pytest.raises(UnitError, match="'10' has no unit"):
        parse_quantity("10", Dim.TIME)
    assert parse_quantity(0.01, Dim.TIME) == 0.01
    assert parse_quantity("0", Dim.TIME, allow_zero=True) == 0.0
    assert parse_quantity("1.5", Dim.COUNT) == 1.5  # a dimensionless count needs no unit


def test_range_points_carry_no_float_noise():
    assert parse_range("0.1 s:0.3 s:3", Dim.TIME) == [0.1, 0.2, 0.3]
    log = parse_range("0.5TB/s:8TB/s:5:log", Dim.BANDWIDTH)
    assert log == [5e11, 1e12, 2e12, 4e12, 8e12]
    with pytest.raises(UnitError, match="has no unit"):
        parse_range("1TB/s:2:3", Dim.BANDWIDTH)


def test_csv_carries_the_spec_figure_exactly(tmp_path):
    out = tmp_path / "s.csv"
    argv = ["sweep", "resnet50", "--hw", "a100_sxm4_80gb", "-q", "--batch", "1"]
    argv += ["--vary", "memory.hbm.bandwidth=2.039TB/s,1.2TB/s", "-o", str(out)]
    assert main(argv) == 0
    text = out.read_text()
    assert "2039000000000.0," in text and "1200000000000.0," in text
    assert "0002" not in text
