"""An interactive what-if for notebooks: sliders for a device's main-memory bandwidth, on-chip
capacity, matrix and vector peaks, the batch and the dtype, driving a live roofline chart and the
model's totals beside the device as shipped.

Each slider steps by factors of two around the device's own figure (its label is the absolute
value in human units: ``4.08 TB/s``, ``80 MiB``, ``624 TOP/s``); every change re-evaluates the
model on a one-variant grid (:func:`roofline.knobs.vary` of the four knobs) and redraws. Importing
this module imports ipywidgets and matplotlib; :mod:`roofline` never does.

Examples
--------
>>> from roofline.widgets import whatif
>>> w = whatif("resnet50", "a100_sxm4_80gb")  # the last line of a cell shows it
>>> w.bandwidth.value = w.bandwidth.options[-1][1]  # what a slider move does, from code
>>> w.totals["latency_s"]
"""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as widgets
from IPython import get_ipython
from IPython.display import clear_output, display
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from roofline.api import ModelLike, evaluate_device
from roofline.batch_sizes import batch_sizes
from roofline.dtypes import canonical, work_unit
from roofline.errors import SpecError
from roofline.formatting import format_value, si
from roofline.hardware import Hardware
from roofline.kinds import LevelKind
from roofline.knobs import vary
from roofline.plot.common import iec_bytes
from roofline.plot.roofline_chart import roofline
from roofline.presets import load_hardware, load_model
from roofline.result import Result

#: factors of two each figure's slider spans, below and above the device's own value
STEPS = 3
#: the batches the batch slider offers (the given batch is added when it is not among them)
BATCHES = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
#: the totals shown and kept in :attr:`WhatIf.totals`
TOTALS = (
    "latency_s",
    "throughput_per_s",
    "utilization",
    "bound",
    "feasible",
    "energy_per_sample_j",
)


def _ladder(value: float, fmt: Any, steps: int = STEPS) -> list[tuple[str, float]]:
    """``value`` x 2^k for k in -steps..steps as (label, value) options of a slider."""
    return [(fmt(value * 2.0**k), value * 2.0**k) for k in range(-steps, steps + 1)]


def _slider(description: str, options: list[tuple[str, Any]], value: Any) -> Any:
    return widgets.SelectionSlider(
        description=description,
        options=options,
        value=value,
        continuous_update=False,
        style={"description_width": "10em"},
        layout=widgets.Layout(width="34em"),
    )


class WhatIf:
    """A model on a device with sliders for the device's figures; see the module docstring.

    Attributes
    ----------
    bandwidth, capacity, matrix_peak, vector_peak, batch : ipywidgets.SelectionSlider
        Main-memory bandwidth (B/s), on-chip capacity (bytes; None on a device without on-chip
        memory), the engines' peaks at the dtype (FLOP/s or OP/s) and the batch.
    dtype : ipywidgets.Dropdown
        The dtypes the device's matrix engine runs (natively or by a fallback).
    result : Result
        The evaluation of the sliders' device; ``baseline`` the device as shipped.
    totals : dict
        :data:`TOTALS` of ``result`` (SI units).
    figure : matplotlib Figure
        The live roofline chart.
    widget : ipywidgets.Box
        What a notebook shows.
    """

    def __init__(
        self, model: ModelLike, device: str | Hardware, batch: int = 1, dtype: str | None = None
    ) -> None:
        sizes = batch_sizes(batch)  # as the API checks it: 2.7, True, "8", NaN are refused
        if len(sizes) != 1:
            raise SpecError(
                f"{len(sizes)} batches: the what-if shows one (its slider moves it)",
                field="batch",
                fix="e.g. batch=8",
            )
        first = sizes[0]
        self.model = load_model(model)
        hw = load_hardware(device) if not isinstance(device, Hardware) else device
        if not isinstance(hw, Hardware):
            raise SpecError(
                f"{hw.name!r} is a system; the what-if varies one device",
                field="device",
                fix="give one device, e.g. h100_sxm5",
            )
        self.hw = hw
        engines = hw.engines.matrix
        choices = [*engines.peak, *(d for d in engines.fallback if d not in engines.peak)]
        dt = canonical(dtype or hw.dtype)
        if dt not in choices:
            raise SpecError(
                f"device {hw.name!r} has no matrix peak for {dt}",
                field="dtype",
                fix=f"use one of {', '.join(choices)}",
            )
        main = hw.memory[hw.main_level]
        onchip = [lvl for lvl in hw.memory.values() if lvl.kind == LevelKind.ONCHIP]
        self.dtype = widgets.Dropdown(description="dtype", options=choices, value=dt)
        self.bandwidth = _slider(
            f"{hw.main_level} bandwidth",
            _ladder(main.bandwidth, lambda v: si(v, "B/s")),
            main.bandwidth,
        )
        self.capacity = None
        if onchip:
            biggest = max(lvl.capacity for lvl in onchip)
            self.capacity = _slider("on-chip capacity", _ladder(biggest, iec_bytes), biggest)
        batches = sorted({*BATCHES, first})
        self.batch = _slider("batch", [(str(b), b) for b in batches], first)
        self._baselines: dict[tuple[str, int], Result] = {}
        self._quiet = True
        self.matrix_peak = _slider("matrix peak", [("", 0.0)], 0.0)
        self.vector_peak = _slider("vector peak", [("", 0.0)], 0.0)
        self._peak_options(dt)
        # not a pyplot figure: a notebook shows it in the widget only, not again below the cell
        self.figure = Figure(figsize=(10.0, 6.0), layout="constrained")
        FigureCanvasAgg(self.figure)
        self._chart = widgets.Output()
        self._table = widgets.HTML()
        sliders = [self.dtype, self.batch, self.bandwidth, self.capacity]
        sliders += [self.matrix_peak, self.vector_peak]
        controls = widgets.VBox([s for s in sliders if s is not None])
        self.widget = widgets.VBox([widgets.HBox([controls, self._table]), self._chart])
        self.dtype.observe(self._dtype_changed, names="value")
        for s in sliders[1:]:
            if s is not None:
                s.observe(self._update, names="value")
        self._update()

    def _peak_options(self, dtype: str) -> None:
        """Point the peak sliders at ``dtype``'s peaks (the device's own value selected)."""
        self._quiet = True  # one evaluation after both sliders moved, not one per change
        for slider, engine in ((self.matrix_peak, "matrix"), (self.vector_peak, "vector")):
            peak = self.hw.peak(engine, dtype)
            unit = work_unit(getattr(self.hw.engines, engine).resolve(dtype)) + "/s"
            slider.options = _ladder(peak, lambda v, u=unit: si(v, u))
            slider.value = peak
        self._quiet = False

    def _dtype_changed(self, _change: Any = None) -> None:
        self._peak_options(self.dtype.value)
        self._update()

    def knobs(self) -> dict[str, list[float]]:
        """The device knobs the sliders set (:func:`roofline.knobs.vary` paths, SI values)."""
        dt = self.dtype.value
        eng = self.hw.engines
        out = {
            "memory.main.bandwidth": [self.bandwidth.value],
            f"engines.matrix.peak.{eng.matrix.resolve(dt)}": [self.matrix_peak.value],
            f"engines.vector.peak.{eng.vector.resolve(dt)}": [self.vector_peak.value],
        }
        if self.capacity is not None:
            out["memory.onchip.capacity"] = [self.capacity.value]
        return out

    def _update(self, _change: Any = None) -> None:
        if self._quiet:
            return
        dt, b = self.dtype.value, self.batch.value
        grid = vary(self.hw, self.knobs())
        self.result: Result = evaluate_device(self.model, grid, batch=b, dtype=dt)
        if (dt, b) not in self._baselines:
            self._baselines[dt, b] = evaluate_device(self.model, self.hw, batch=b, dtype=dt)
        self.baseline: Result = self._baselines[dt, b]
        self.totals = _totals(self.result)
        self._table.value = _html(_totals(self.baseline), self.totals)
        self.figure.clear()
        ax = self.figure.add_subplot()
        roofline(self.result, ax=ax, title=f"{self.model.name} on {self.hw.name} (what-if)")
        self._show()

    def _show(self) -> None:
        """Redraw the chart in the notebook (nothing to show without a running kernel)."""
        if get_ipython() is None:
            return
        with self._chart:
            clear_output(wait=True)
            display(self.figure)

    def _ipython_display_(self) -> None:
        display(self.widget)
        self._show()


def _totals(r: Result) -> dict[str, Any]:
    row = r.totals().to_records()[0]
    return {k: row.get(k) for k in TOTALS}


def _cell(key: str, v: Any) -> str:
    """One total in human units, as the result tables print it (``14 mJ``, ``12.3 ms``, ``yes``;
    :func:`roofline.formatting.format_value`)."""
    return format_value(key, v)


def _html(base: dict[str, Any], now: dict[str, Any]) -> str:
    """The totals as shipped and with the sliders' figures, and their ratio, as HTML."""
    rows = []
    for k in TOTALS:
        ratio = ""
        a, b = base[k], now[k]
        if isinstance(a, float) and isinstance(b, float) and a:
            ratio = f"{b / a:.3g}x"
        cells = (k, _cell(k, a), _cell(k, b), ratio)
        rows.append("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>")
    head = "<tr><th></th><th>as shipped</th><th>what-if</th><th>ratio</th></tr>"
    return f"<table>{head}{''.join(rows)}</table>"


def whatif(
    model: ModelLike, device: str | Hardware, batch: int = 1, dtype: str | None = None
) -> WhatIf:
    """A :class:`WhatIf` of ``model`` on ``device`` at ``batch`` and ``dtype`` (default the
    device's headline dtype); the last line of a notebook cell shows its sliders and chart."""
    return WhatIf(model, device, batch=batch, dtype=dtype)


__all__ = ["WhatIf", "whatif"]
