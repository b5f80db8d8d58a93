"""Checks written once and used in several places: what each place accepts and refuses, pinned.

* a finite real number: :func:`roofline.whatif.check_factor` (``factor``, ``--factor``) and
  :func:`roofline.studies.fleet.mix_weights` (``mix.MODEL``, ``models.MODEL``);
* a whole number written as text on the command line: ``import --dim NAME=VALUE``,
  ``sweep --vary count=...`` and ``sweep --workers N``.

Each case states the message, field and fix of today's behaviour, so that sharing the check
changes none of them.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

from roofline import cli
from roofline.cli.importing import parse_dims
from roofline.cli.sweep import _counts, _positive_int
from roofline.errors import SpecError
from roofline.studies.fleet import mix_weights, parse_mix
from roofline.whatif import check_factor

# -- a finite real number -----------------------------------------------------------------------

FACTOR_FIX = "e.g. factor=2: each knob is multiplied and divided by it"
CLI_FACTOR_FIX = "e.g. --factor 2: each knob is multiplied and divided by it"


@pytest.mark.parametrize(
    "factor, expected",
    [
        (2, 2.0),
        (2.0, 2.0),
        (1.5, 1.5),
        (1.0000001, 1.0000001),
        (10**20, 1e20),
        (1e308, 1e308),
        (np.float32(3.0), 3.0),
        (np.float64(2.5), 2.5),
        (np.int64(4), 4.0),
        (np.int8(7), 7.0),
        (Fraction(3, 2), 1.5),
    ],
    ids=str,
)
@pytest.mark.parametrize("field", ["factor", "--factor"])
def test_check_factor_accepts_finite_real_numbers_above_one(factor, expected, field):
    x = check_factor(factor, field=field)
    assert type(x) is float and x == expected


@pytest.mark.parametrize(
    "factor, problem",
    [
        ("2", "'2' is not a number"),
        ("x", "'x' is not a number"),
        (None, "None is not a number"),
        (True, "True is not a number"),
        (False, "False is not a number"),
        (np.bool_(True), f"{np.bool_(True)!r} is not a number"),
        (1 + 2j, "(1+2j) is not a number"),
        ([2], "[2] is not a number"),
        (float("nan"), "nan must be a finite number > 1"),
        (np.float64("nan"), "nan must be a finite number > 1"),
        (float("inf"), "inf must be a finite number > 1"),
        (-float("inf"), "-inf must be a finite number > 1"),
        (1, "1 must be a finite number > 1"),
        (1.0, "1 must be a finite number > 1"),
        (0, "0 must be a finite number > 1"),
        (0.5, "0.5 must be a finite number > 1"),
        (-2, "-2 must be a finite number > 1"),
        (10**400, "inf must be a finite number > 1"),
        (-(10**400), "-inf must be a finite number > 1"),
        (Fraction(10**400, 3), "inf must be a finite number > 1"),
        (Fraction(-(10**400), 3), "-inf must be a finite number > 1"),
    ],
    ids=repr,
)
@pytest.mark.parametrize("field, fix", [("factor", FACTOR_FIX), ("--factor", CLI_FACTOR_FIX)])
def test_check_factor_refuses_with_its_message(factor, problem, field, fix):
    with pytest.raises(SpecError) as info:
        check_factor(factor, field=field)
    assert info.value.problem == problem
    assert info.value.field == field
    assert info.value.fix == fix


def test_check_factor_names_factor_by_default():
    with pytest.raises(SpecError) as info:
        check_factor("2")
    assert info.value.field == "factor" and info.value.fix == FACTOR_FIX


MIX_FIX = (
    "weights are finite numbers >= 0 with a positive sum, e.g. {'rec_paper': 0.6, 'resnet50': 0.4}"
)
MODELS_FIX = "write MODEL=WEIGHT, each weight a finite number >= 0, e.g. rec_paper=0.6"


@pytest.mark.parametrize(
    "weight, share",
    [
        (1, 0.5),
        (1.0, 0.5),
        (np.float32(1.0), 0.5),
        (np.int64(3), 0.75),
        (Fraction(1, 3), 0.25),
        (0, 0.0),
        (0.0, 0.0),
        (1e308, 1.0),
    ],
    ids=repr,
)
@pytest.mark.parametrize("field", ["mix", "models"])
def test_mix_weights_accepts_finite_real_numbers_at_least_zero(weight, share, field):
    out = mix_weights({"a": 1.0, "b": weight}, field=field)
    assert list(out) == ["a", "b"]
    assert all(type(w) is float for w in out.values())
    assert out["b"] == pytest.approx(share)
    assert sum(out.values()) == pytest.approx(1.0)


@pytest.mark.parametrize(
    "weight, problem",
    [
        ("a", "weight 'a' of 'b' in the fleet mix is not a number"),
        ("0.5", "weight '0.5' of 'b' in the fleet mix is not a number"),
        (None, "weight None of 'b' in the fleet mix is not a number"),
        (True, "weight True of 'b' in the fleet mix is not a number"),
        (np.bool_(False), f"weight {np.bool_(False)!r} of 'b' in the fleet mix is not a number"),
        (1 + 2j, "weight (1+2j) of 'b' in the fleet mix is not a number"),
        (float("nan"), "weight nan of 'b' in the fleet mix is not a finite number >= 0"),
        (float("inf"), "weight inf of 'b' in the fleet mix is not a finite number >= 0"),
        (-float("inf"), "weight -inf of 'b' in the fleet mix is not a finite number >= 0"),
        (-1, "weight -1 of 'b' in the fleet mix is not a finite number >= 0"),
        (-0.5, "weight -0.5 of 'b' in the fleet mix is not a finite number >= 0"),
        (np.int8(-1), "weight -1 of 'b' in the fleet mix is not a finite number >= 0"),
        (10**400, "weight inf of 'b' in the fleet mix is not a finite number >= 0"),
        (-(10**400), "weight -inf of 'b' in the fleet mix is not a finite number >= 0"),
    ],
    ids=repr,
)
@pytest.mark.parametrize("field, fix", [("mix", MIX_FIX), ("models", MODELS_FIX)])
def test_mix_weights_refuses_with_its_message(weight, problem, field, fix):
    with pytest.raises(SpecError) as info:
        mix_weights({"a": 1.0, "b": weight}, field=field)
    assert info.value.problem == problem
    assert info.value.field == f"{field}.b"
    assert info.value.fix == fix


@pytest.mark.parametrize(
    "mix, problem",
    [
        ({}, "an empty mapping is not a fleet mix of model -> weight"),
        ([1], "list is not a fleet mix of model -> weight"),
        (None, "NoneType is not a fleet mix of model -> weight"),
        ({"a": 0, "b": 0.0}, "the weights of the fleet mix sum to 0"),
    ],
    ids=repr,
)
def test_mix_weights_refuses_a_mix_that_is_not_one(mix, problem):
    with pytest.raises(SpecError) as info:
        mix_weights(mix)
    assert info.value.problem == problem
    assert info.value.field == "mix" and info.value.fix == MIX_FIX


@pytest.mark.parametrize(
    "items, expected",
    [([], None), (["a=2", "b"], {"a": 2.0, "b": 1.0}), (["a=0", "b=1e3"], {"a": 0.0, "b": 1e3})],
    ids=repr,
)
def test_parse_mix_keeps_the_given_weights(items, expected):
    assert parse_mix(items) == expected


@pytest.mark.parametrize(
    "item, problem",
    [
        ("a=x", "weight 'x' of 'a' in the fleet mix is not a number"),
        ("a=-1", "weight -1 of 'a' in the fleet mix is not a finite number >= 0"),
        ("a=nan", "weight nan of 'a' in the fleet mix is not a finite number >= 0"),
        ("a=1e400", "weight inf of 'a' in the fleet mix is not a finite number >= 0"),
    ],
    ids=repr,
)
def test_parse_mix_names_the_models_weight(item, problem):
    with pytest.raises(SpecError) as info:
        parse_mix([item])
    assert info.value.problem == problem
    assert info.value.field == "models.a" and info.value.fix == MODELS_FIX


# -- a whole number written as text -------------------------------------------------------------

BIG = "9" * 30  # beyond 2**64: whole numbers have no upper bound here
HUGE = "1" + "0" * 400  # beyond the floats

#: ASCII digits only, >= 1; no sign, exponent, point, underscore, superscript or other script
REFUSED_EVERYWHERE = ["0", "00", "-1", "+8", "1e3", "8.0", "1_000", "0x10", "\u00b2", "\u0668"]
REFUSED_EVERYWHERE += ["", " ", "two"]


@pytest.mark.parametrize("text, value", [("8", 8), ("08", 8), ("1", 1), (BIG, int(BIG))], ids=repr)
def test_dim_accepts_digits(text, value):
    assert parse_dims([f"seq={text}", "b=2"]) == {"seq": value, "b": 2}


@pytest.mark.parametrize("text", [*REFUSED_EVERYWHERE, " 8", "8 ", "\t8\n", "8\n"], ids=repr)
def test_dim_refuses_anything_else_even_spaces(text):
    with pytest.raises(SpecError) as info:
        parse_dims([f"seq={text}"])
    assert info.value.problem == f"{text!r} must be a whole number >= 1"
    assert info.value.field == "--dim seq"
    assert info.value.fix == "e.g. --dim seq=128"


@pytest.mark.parametrize("item", ["seq", "=8", " =8"], ids=repr)
def test_dim_without_a_name_is_not_name_value(item):
    with pytest.raises(SpecError) as info:
        parse_dims([item])
    assert info.value.problem == f"--dim {item!r} is not NAME=VALUE"
    assert info.value.field == "--dim" and info.value.fix == "e.g. --dim seq=128"


SPACED = [" 8", "8 ", " 8 ", "\t8\n", "8\n", "\u30008"]  # int() reads these, as str.strip()


@pytest.mark.parametrize(
    "spec, counts",
    [
        ("8", [8.0]),
        ("8,16,32", [8.0, 16.0, 32.0]),
        ("08", [8.0]),
        ("4, 8", [4.0, 8.0]),
        *((f"4,{s}", [4.0, 8.0]) for s in SPACED),
        (BIG, [float(BIG)]),
        (HUGE, [math.inf]),  # read as a float: beyond the floats is infinite, not an error
    ],
    ids=repr,
)
def test_device_counts_accept_digits_with_spaces_around(spec, counts):
    out = _counts(spec)
    assert out == counts and all(type(c) is float for c in out)


@pytest.mark.parametrize("text", REFUSED_EVERYWHERE + [" 0 ", "4 2"], ids=repr)
def test_device_counts_refuse_anything_else_unstripped_in_the_message(text):
    with pytest.raises(SpecError) as info:
        _counts(f"4,{text},8")
    assert info.value.problem == f"{text!r} is not a device count"
    assert info.value.field == "--vary count"
    assert info.value.fix == "e.g. count=8,16,32"


def test_device_counts_name_the_first_bad_one():
    with pytest.raises(SpecError) as info:
        _counts("8,0x,x")
    assert info.value.problem == "'0x' is not a device count"
    with pytest.raises(SpecError) as info:
        _counts("8,,16")
    assert info.value.problem == "'' is not a device count"


@pytest.mark.parametrize(
    "text, value", [("2", 2), ("02", 2), (BIG, int(BIG)), *((s, 8) for s in SPACED)], ids=repr
)
def test_workers_accept_digits_with_spaces_around(text, value):
    n = _positive_int(text)
    assert type(n) is int and n == value


@pytest.mark.parametrize("text", [*REFUSED_EVERYWHERE, " 0 "], ids=repr)
def test_workers_refuse_anything_else(text):
    with pytest.raises(SpecError) as info:
        _positive_int(text)
    assert info.value.problem == f"{text!r} must be a whole number >= 1"
    assert info.value.field == "--workers"
    assert info.value.fix == "e.g. --workers 2"


# -- end to end: one line, exit 2 ---------------------------------------------------------------


@pytest.mark.parametrize(
    "argv, line",
    [
        (
            ["sensitivity", "resnet18", "--hw", "t4", "--factor", "x"],
            "roofline: error: --factor: 'x' is not a number (" + CLI_FACTOR_FIX + ")",
        ),
        (
            ["sweep", "resnet18", "--hw", "t4", "--vary", "memory.dram.bandwidth=1TB/s"]
            + ["--workers", " 0"],
            "roofline: error: --workers: ' 0' must be a whole number >= 1 (e.g. --workers 2)",
        ),
        (
            ["import", "x.onnx", "--dim", "seq=1e3"],
            "roofline: error: --dim seq: '1e3' must be a whole number >= 1 (e.g. --dim seq=128)",
        ),
        (
            ["sweep", "resnet18", "--hw", "2x_dgx_h100", "--vary", "count=8,+16"],
            "roofline: error: --vary count: '+16' is not a device count (e.g. count=8,16,32)",
        ),
        (
            ["plot", "fleet", "resnet50=1", "vgg16=true", "--hw", "t4", "-o", "f.png"],
            "roofline: error: models.vgg16: weight 'true' of 'vgg16' in the fleet mix is not a "
            "number (" + MODELS_FIX + ")",
        ),
    ],
    ids=["factor", "workers", "dim", "count", "fleet weight"],
)
def test_the_cli_says_each_in_one_line(argv, line, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli.main(argv) == 2
    assert capsys.readouterr().err.splitlines() == [line]
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("call", [_positive_int, lambda t: _counts(t)], ids=["workers", "count"])
def test_spaces_int_does_not_read_are_stripped_first(call):
    """str.strip takes the separators \\x1c to \\x1f for spaces and int() does not: the digits
    are read after the strip (a ValueError traceback before)."""
    got = call("\x1c8\x1f")
    assert got == 8 or list(got) == [8.0]


@pytest.mark.parametrize(
    "call",
    [_positive_int, lambda t: _counts(t), lambda t: parse_dims([f"seq={t}"])],
    ids=["workers", "count", "dim"],
)
def test_more_digits_than_int_reads_is_one_line(call):
    """Beyond int()'s 4,300 digits a whole number is refused by name (a ValueError traceback
    before)."""
    with pytest.raises(SpecError, match="5000 characters, too many for a whole number"):
        call("9" * 5000)
