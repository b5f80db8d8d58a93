"""The what-if widget, headless: sliders moved from code change the totals exactly as an
evaluation of the device with those figures predicts."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

pytest.importorskip("ipywidgets")

import roofline as rl  # noqa: E402
from roofline.widgets import whatif  # noqa: E402

DEVICE = "a100_sxm4_80gb"


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def _edited(level_or_engine: str, field: str, factor: float, dtype: str | None = None):
    """The device's spec with one figure multiplied by ``factor``, built by hand (not through
    the knobs the widget uses)."""
    hw = rl.load_hardware(DEVICE)
    spec = hw.model_dump(exclude_none=True)  # quantities as text with their base unit
    if dtype is None:
        spec["memory"][level_or_engine][field] = getattr(hw.memory[level_or_engine], field) * factor
    else:
        spec["engines"][level_or_engine][field][dtype] = (
            getattr(getattr(hw.engines, level_or_engine), field)[dtype] * factor
        )
    return rl.Hardware.model_validate(spec)


def _latency(hw, model, batch, dtype):
    return float(rl.evaluate_device(model, hw, batch=batch, dtype=dtype).latency_s[0, 0])


def test_sliders_start_at_the_device_and_read_in_human_units():
    w = whatif("resnet50", DEVICE, batch=16, dtype="fp16")
    # A100 SXM4 80GB: 2.039 TB/s HBM2e, 40 MiB L2, 312 TFLOP/s dense fp16 (hw_specs)
    assert w.bandwidth.label == "2.04 TB/s"
    assert w.capacity is not None and w.capacity.label == "40 MiB"
    assert w.matrix_peak.label == "312 TFLOP/s"
    assert w.totals["latency_s"] == pytest.approx(_latency(DEVICE, "resnet50", 16, "fp16"))
    assert "as shipped" in w._table.value and "what-if" in w._table.value


def test_more_bandwidth_gives_the_latency_of_a_faster_memory():
    # Llama-2-7B's decode step at batch 1 reads its 13.5 GB of fp16 weights from HBM: 8x the
    # bandwidth cuts the latency to what the hand-edited device predicts, by more than half
    w = whatif("llama2_7b", DEVICE, batch=1, dtype="fp16")
    before = w.totals["latency_s"]
    assert w.totals["bound"] == "hbm"
    w.bandwidth.value = w.bandwidth.options[-1][1]  # x 2^3
    expected = _latency(_edited("hbm", "bandwidth", 8.0), "llama2_7b", 1, "fp16")
    assert w.totals["latency_s"] == pytest.approx(expected, rel=1e-12)
    assert w.totals["latency_s"] < before / 2


def test_more_matrix_peak_and_sram_change_totals_as_predicted():
    w = whatif("resnet50", DEVICE, batch=64, dtype="fp16")
    w.matrix_peak.value = w.matrix_peak.options[4][1]  # x 2
    expected = _latency(_edited("matrix", "peak", 2.0, "fp16"), "resnet50", 64, "fp16")
    assert w.totals["latency_s"] == pytest.approx(expected, rel=1e-12)
    w.matrix_peak.value = w.matrix_peak.options[3][1]  # back to the device
    w.capacity.value = w.capacity.options[0][1]  # 40 MiB / 8 = 5 MiB of on-chip memory
    expected = _latency(_edited("sram", "capacity", 1 / 8), "resnet50", 64, "fp16")
    assert w.totals["latency_s"] == pytest.approx(expected, rel=1e-12)


def test_batch_and_dtype_re_evaluate_and_peaks_follow_the_dtype():
    w = whatif("resnet50", DEVICE, batch=1, dtype="fp16")
    w.batch.value = 32
    lat = _latency(DEVICE, "resnet50", 32, "fp16")
    assert w.totals["latency_s"] == pytest.approx(lat)
    assert w.totals["throughput_per_s"] == pytest.approx(32 / lat)
    w.dtype.value = "int8"
    # int8 engines count operations: A100 dense int8 624 TOP/s
    assert w.matrix_peak.label == "624 TOP/s"
    assert w.totals["latency_s"] == pytest.approx(_latency(DEVICE, "resnet50", 32, "int8"))
    ax = w.figure.axes[0]
    assert "(OP/s)" in ax.get_ylabel() and "what-if" in ax.get_title()


def test_a_system_or_an_unknown_dtype_is_a_spec_error():
    with pytest.raises(rl.SpecError, match="system"):
        whatif("resnet50", "dgx_h100")
    with pytest.raises(rl.SpecError, match="no matrix peak for fp64"):
        whatif("resnet50", "hypothetical_100tops", dtype="fp64")
