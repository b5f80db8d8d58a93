"""One default dtype per device: every shipped device names the dtype its datasheet headlines,
every command and API call uses it when no dtype is given and prints it, and a varied or given
knob the evaluation does not read at the dtype warns."""

from __future__ import annotations

import warnings

import pytest

import roofline as rl
from roofline.cli.main import main
from roofline.errors import SpecError, UnreadKnobWarning
from roofline.kinds import EngineKind
from roofline.sla import batches_under_sla

DEVICE = "a100_sxm4_80gb"


@pytest.mark.parametrize("name", rl.list_devices())
def test_every_shipped_device_has_a_sourced_default_dtype_both_engines_run(name):
    hw = rl.load_device(name)
    assert hw.default_dtype and hw.default_dtype_source
    for eng in EngineKind:
        assert getattr(hw.engines, eng).resolve(hw.default_dtype)
    assert hw.dtype == hw.default_dtype


def test_gpus_default_to_half_precision_and_the_paper_accelerator_to_int8():
    for name in ("a100_sxm4_80gb", "h100_sxm5", "t4", "l4", "v100_sxm2", "mi300x", "b200"):
        assert rl.load_device(name).dtype in ("fp16", "bf16"), name
    assert rl.load_device("hypothetical_100tops").dtype == "int8"
    assert rl.load_device("tpu_v4").dtype == "bf16"


def _fp16_only() -> dict:
    """A device that runs only fp16 (the issue: it failed both fp32 and int8 defaults)."""
    data = rl.load_device("t4").model_dump(mode="json", exclude_none=True)
    for key in ("default_dtype", "default_dtype_source", "power", "cost"):
        data.pop(key, None)
    for eng in ("matrix", "vector"):
        e = data["engines"][eng]
        e["peak"] = {"fp16": e["peak"]["fp16"]}
        e["fallback"] = {}
        for k in ("energy", "energy_source", "energy_note"):
            e.pop(k, None)
    for lvl in data["memory"].values():
        for k in ("energy", "energy_source", "energy_note"):
            lvl.pop(k, None)
    data["name"] = "fp16_only"
    return data


def test_a_device_without_default_dtype_uses_what_both_engines_run():
    hw = rl.load_hardware(_fp16_only())
    assert hw.dtype == "fp16"
    r = rl.evaluate("resnet50", hw, batch=4)
    assert r.costs.precision.name == "fp16"
    assert rl.compare(["resnet50"], [hw])[0]["dtype"] == "fp16"
    assert rl.sensitivity("resnet50", hw, batch=4).title.endswith("fp16)")


def test_every_api_call_defaults_to_the_device_dtype():
    hw = rl.load_device(DEVICE)
    assert rl.evaluate("resnet50", DEVICE).costs.precision.name == hw.dtype
    rows = rl.compare(["resnet50"], [DEVICE, "tpu_v4"], batch=[1])
    assert [r["dtype"] for r in rows] == [hw.dtype, "bf16"]
    sweep = rl.sweep("resnet50", DEVICE, {"memory.hbm.bandwidth": ["1 TB/s"]})
    assert set(sweep["dtype"]) == {hw.dtype}
    assert f", {hw.dtype})" in rl.sensitivity("resnet50", DEVICE, batch=2).title
    assert hw.dtype in rl.diff_devices("resnet50", DEVICE, "h100_sxm5").by_kind.title
    explicit = batches_under_sla("resnet50", DEVICE, "5 ms", dtype=hw.dtype)
    assert batches_under_sla("resnet50", DEVICE, "5 ms") == explicit
    grid = rl.vary(DEVICE, {"memory.hbm.bandwidth": ["1 TB/s", "2 TB/s"]})
    assert rl.evaluate("resnet50", grid).costs.precision.name == hw.dtype
    system = rl.evaluate("llama2_7b", "dgx_h100", batch=8)
    assert system.dtype == rl.load_hardware("dgx_h100").device.dtype


@pytest.mark.parametrize(
    "argv",
    [
        ["analyze", "resnet50", "--hw", DEVICE],
        ["compare", "resnet50", "--hw", DEVICE],
        ["sweep", "resnet50", "--hw", DEVICE, "-q", "--vary", "memory.hbm.bandwidth=1TB/s,2TB/s"],
        ["sensitivity", "resnet50", "--hw", DEVICE],
        ["diff", "resnet50", "--hw", DEVICE, "h100_sxm5"],
    ],
)
def test_every_command_defaults_to_the_device_dtype_and_prints_it(argv, capsys):
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "fp16" in out and "fp32" not in out


def test_a_varied_knob_the_evaluation_does_not_read_warns():
    """The README's old example: sweeping the fp16 peak while evaluating fp32 gave three identical
    answers without a word."""
    knobs = {"engines.matrix.peak.fp16": ["100 TFLOP/s", "300 TFLOP/s", "1 PFLOP/s"]}
    with pytest.warns(UnreadKnobWarning, match=r"engines.matrix.peak.fp16 is not read at fp32"):
        t = rl.sweep("resnet50", DEVICE, knobs, dtype="fp32")
    assert len(set(t["latency_s"])) == 1  # the warning is right: the answers are identical
    with warnings.catch_warnings():
        warnings.simplefilter("error", UnreadKnobWarning)
        t = rl.sweep("resnet50", DEVICE, knobs)  # fp16, the device's dtype: read
    assert len(set(t["latency_s"])) == 3
    grid = rl.vary(DEVICE, knobs)
    with pytest.warns(UnreadKnobWarning):
        rl.evaluate("resnet50", grid, dtype="int8")
    with pytest.warns(UnreadKnobWarning, match="power.interconnect is not read on one device"):
        rl.sweep("resnet50", DEVICE, {"power.interconnect": ["1 pJ/B", "2 pJ/B"]})
    with pytest.warns(UnreadKnobWarning):
        rl.sensitivity("resnet50", DEVICE, dtype="fp32", knobs=["engines.matrix.peak.fp16"])


def test_a_fallback_dtype_reads_its_targets_peak():
    """fp8 on an A100 runs at the fp16 peak (a declared fallback): varying that peak is read."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", UnreadKnobWarning)
        rl.sweep("resnet50", DEVICE, {"engines.matrix.peak.fp16": ["1 PFLOP/s"]}, dtype="fp8")


def test_the_cli_prints_the_warning_on_stderr_and_still_answers(capsys):
    argv = ["sweep", "resnet50", "--hw", DEVICE, "-q", "--dtype", "fp32"]
    argv += ["--vary", "engines.matrix.peak.fp16=100TFLOP/s,300TFLOP/s"]
    assert main(argv) == 0
    captured = capsys.readouterr()
    warned = [ln for ln in captured.err.splitlines() if ln.startswith("roofline: warning: ")]
    assert len(warned) == 1 and "engines.matrix.peak.fp16 is not read at fp32" in warned[0]
    assert "latency_s" in captured.out


def test_default_dtype_is_checked():
    data = _fp16_only()
    with pytest.raises(SpecError, match="default_dtype has no default_dtype_source"):
        rl.load_hardware({**data, "default_dtype": "fp16"})
    with pytest.raises(SpecError, match="default_dtype int8 has no matrix peak") as info:
        rl.load_hardware({**data, "default_dtype": "int8", "default_dtype_source": "x"})
    assert info.value.field == "default_dtype"


@pytest.mark.parametrize("dtype", ["int4", "fp8_e4m3", "fp16"])
@pytest.mark.parametrize(
    "order", [("h100_sxm5", "a100_sxm4_80gb"), ("a100_sxm4_80gb", "h100_sxm5")]
)
def test_a_stack_serves_each_dtype_as_each_device_alone(dtype, order):
    """Devices whose dtype fallbacks differ (the H100 runs int4 as int8, the A100 natively; the
    A100 has no fp8 peak) stacked in one grid: each variant's peaks, energies and the oracle's
    device are its own. Before, every variant took the first device's fallback: the A100 beside
    an H100 ran int4 at its int8 peak (1.205 ms and 6.06 mJ for 0.811 ms and 3.46 mJ)."""
    stacked = rl.evaluate("resnet50", rl.stack(list(order)), batch=64, dtype=dtype)
    for h, name in enumerate(order):
        alone = rl.evaluate("resnet50", name, batch=64, dtype=dtype)
        assert stacked.latency_s[h, 0] == pytest.approx(alone.latency_s[0, 0], rel=1e-12)
        assert stacked.energy_per_sample_j[h, 0] == pytest.approx(
            alone.energy_per_sample_j[0, 0], rel=1e-12
        )
        device = stacked.grid.variant(h)
        assert device.peak("matrix", dtype) == rl.load_hardware(name).peak("matrix", dtype)
