"""How many chips and which link: throughput per device against link bandwidth and device count.

Implication 1 of Park et al. (2018) at system scale: embedding tables (and today's LLM weights)
outgrow one device's memory, so a model runs on several devices and pays for it on the link.
:func:`scaling_study` sweeps a system's scale-up bandwidth and device count
(:mod:`roofline.systems.sweep`) for each model, keeps the best parallel layout of each point
(throughput per device, among every layout that fills it and fits), and reports where the bound
moves from memory to the interconnect, the fewest devices that hold each model, and the link
bandwidth past which more buys less than 5%.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from roofline.errors import SpecError
from roofline.formatting import si
from roofline.grid import to_grid
from roofline.model import Model
from roofline.presets import load_hardware, load_model
from roofline.studies.base import Options, Study, StudyEntry, at_batch, given, paper_models
from roofline.systems.layout import Layout
from roofline.systems.spec import System
from roofline.systems.sweep import sweep_system_columns
from roofline.systems.variants import resized
from roofline.table import Table

#: model -> samples per run per device (the system's batch grows with its devices): the paper's
#: recommendation model ranking 1,024 candidates, and two LLMs decoding 32 sequences per device at
#: their preset context
SCALING_MODELS: dict[str, int] = {"rec_paper": 1024, "llama2_70b": 32, "mixtral_8x7b": 32}
#: the recommendation model's tables grown 8x (14.7B -> 118B embedding parameters, 236 GB at
#: bf16): past one device's memory, as the paper's first implication foresees
TABLE_SCALE = 8.0
#: scale-up bandwidths per direction per device, bytes/s: PCIe 4 x16 (25 GB/s) to NVLink 5
BANDWIDTHS = (25e9, 50e9, 100e9, 200e9, 450e9, 900e9)
#: the share of the best throughput per device past which more bandwidth "buys little"
KNEE = 0.95

_COLUMNS = (
    "model",
    "system",
    "devices",
    "link_bandwidth",
    "batch",
    "dtype",
    "layout",
    "throughput_per_device_per_s",
    "latency_s",
    "interconnect_share",
    "bound",
    "feasible",
    "device_footprint_bytes",
)


def scaling_study(
    models: Mapping[str, int] | Sequence[str] | None = None,
    system: Any = "dgx_h100",
    bandwidths: Sequence[float] = BANDWIDTHS,
    counts: Sequence[int] = (1, 2, 4, 8),
    dtype: str | None = None,
    table_scale: float = TABLE_SCALE,
) -> Study:
    """Throughput per device of each model against ``system``'s scale-up bandwidth and device
    count, at the best parallel layout of each point.

    Parameters
    ----------
    models : mapping model -> batch per device, or names (their :data:`SCALING_MODELS` batch,
        else 32); the system's batch is that times its devices (weak scaling)
    system : a system preset or :class:`~roofline.systems.spec.System`; its fastest level's
        bandwidth varies, its device count takes each of ``counts``
    bandwidths : bytes/s per direction per device
    counts : device counts
    dtype : default: the device's
    table_scale : embedding tables' rows of a recommendation model (``dlrm`` family) scaled by it

    Returns
    -------
    Study
        ``table``: one row per (model, count, bandwidth) with the best layout (``feasible`` False
        and no time where none fits); ``findings[model]``: ``min_devices`` (feasible, a host tier
        allowed), ``min_devices_in_device_memory``,
        ``knee_bandwidth`` (B/s, at the largest count), ``bound_low_bw`` / ``bound_high_bw``.
    """
    base = load_hardware(system)
    if not isinstance(base, System) or not base.interconnect:
        raise SpecError(
            f"{getattr(base, 'name', system)!r} is not a system of several devices",
            field="system",
            fix="name a system preset such as dgx_h100",
        )
    level = next(iter(base.interconnect))
    picked = paper_models(models, SCALING_MODELS, other=32)
    dt = dtype or base.device.dtype
    knob = f"interconnect.{level}.bandwidth"
    rows: list[list[Any]] = []
    for name, batch in picked.items():
        model = _grown(load_model(name), table_scale)
        for n in counts:
            # one device has no link: its point holds at every bandwidth
            cols, _ = sweep_system_columns(
                [model],
                base if n == 1 else resized(base, n),
                {"count": [1]} if n == 1 else {knob: list(bandwidths)},
                np.array([float(batch * n)]),
                [dt],
                all_layouts=True,
            )
            rows += _best_rows(name, base.name, n, cols, knob, batch * n, dt, bandwidths)
    table = Table(_COLUMNS, rows, title=f"scaling study on {base.name} ({dt})")
    memory = float(to_grid(base.device).device_memory[0])
    findings = {name: _findings(table, name, memory) for name in picked}
    return ENTRY.study(table, findings, _answer(findings, base.name), subjects=list(picked))


def _grown(model: Model, scale: float) -> Model:
    """A recommendation model with its tables' rows times ``scale`` (others as they are)."""
    if model.family != "dlrm" or scale == 1.0:
        return model
    tables = [
        {**t, "rows": max(1, round(t["rows"] * scale))} for t in model.params.model_dump()["tables"]
    ]
    return model.with_params(tables=tables)


def _best_rows(
    model: str,
    system: str,
    n: int,
    cols: Mapping[str, np.ndarray],
    knob: str,
    batch: int,
    dtype: str,
    bandwidths: Sequence[float],
) -> list[list[Any]]:
    """One row per bandwidth on ``n`` devices: its best feasible layout, or an infeasible row."""
    out = []
    if not cols["model"].size:  # no layout fills n devices
        return [[model, system, n, bw, batch, dtype, "", None, None, None, "", False, None]
                for bw in bandwidths]  # fmt: skip
    per_device = np.nan_to_num(cols["throughput_per_device_per_s"].astype(float), nan=-1.0)
    for bw in bandwidths:
        at = cols[knob] == bw if knob in cols else np.ones(cols["model"].size, dtype=bool)
        here = np.flatnonzero(at & cols["feasible"].astype(bool))
        if here.size == 0:
            out.append([model, system, n, bw, batch, dtype, "", None, None, None, "", False,
                        None])  # fmt: skip
            continue
        i = here[np.argmax(per_device[here])]
        lat = float(cols["latency_s"][i])
        layout = Layout(*(int(cols[d][i]) for d in ("tp", "pp", "ep", "dp", "cp"))).label
        out.append(
            [
                model,
                system,
                n,
                bw,
                batch,
                dtype,
                layout,
                float(per_device[i]),
                lat,
                float(cols["interconnect_time_s"][i]) / lat,
                str(cols["bound"][i]),
                True,
                float(cols["device_footprint_bytes"][i]),
            ]
        )
    return out


def _findings(table: Table, model: str, memory: float) -> dict[str, Any]:
    rs = [r for r in table if r["model"] == model]
    ok = [r for r in rs if r["feasible"]]
    if not ok:
        return {"min_devices": None, "knee_bandwidth": None, "bound_low_bw": "",
                "bound_high_bw": ""}  # fmt: skip
    held = [r["devices"] for r in ok if r["device_footprint_bytes"] <= memory]
    most = max(r["devices"] for r in ok)
    line = sorted((r for r in ok if r["devices"] == most), key=lambda r: r["link_bandwidth"])
    best = max(r["throughput_per_device_per_s"] for r in line)
    knee = next(
        r["link_bandwidth"] for r in line if r["throughput_per_device_per_s"] >= KNEE * best
    )
    return {
        "min_devices": min(r["devices"] for r in ok),
        # feasible with a host tier is not held in device memory (tables served from the host)
        "min_devices_in_device_memory": min(held) if held else None,
        "devices": most,
        "knee_bandwidth": knee,
        "bound_low_bw": line[0]["bound"],
        "bound_high_bw": line[-1]["bound"],
        "gain_over_bandwidths": best / line[0]["throughput_per_device_per_s"],
    }


def _answer(findings: Mapping[str, Mapping[str, Any]], system: str) -> str:
    parts = []
    for model, f in findings.items():
        if f["min_devices"] is None:
            parts.append(f"{model} fits no layout of {system}")
            continue
        held = f["min_devices_in_device_memory"]
        if held is None:  # feasible only with tables served from a host tier
            fit = (
                f"{model} does not fit the device memory of up to {f['devices']} "
                f"device{'s' if f['devices'] > 1 else ''} (it fits from {f['min_devices']} "
                "with a host tier)"
            )
        else:
            fit = f"{model} fits device memory from {held} device(s)" + (
                "" if held == f["min_devices"] else f" (from {f['min_devices']} with a host tier)"
            )
        parts.append(
            fit + f"; at {f['devices']} devices it is "
            f"{f['bound_low_bw']}-bound on the slowest link and {f['bound_high_bw']}-bound on "
            f"the fastest ({f['gain_over_bandwidths']:.2f}x between them), and links past "
            f"{si(f['knee_bandwidth'], 'B/s')} buy less than {100 * (1 - KNEE):.0f}% more"
        )
    return "; ".join(parts) + "."


def from_options(o: Options) -> Study:
    """``roofline plot scaling [MODEL...] [--hw SYSTEM] [--batch B] [--dtype D]``."""
    models = at_batch(o.models, o.batch, SCALING_MODELS)
    return scaling_study(**given(models=models, system=o.device, dtype=o.dtype))


ENTRY = StudyEntry(
    name="scaling",
    question="How many chips and which link: throughput per device against link bandwidth and "
    "device count",
    charts=("scaling_bandwidth",),
    function=scaling_study,
    from_options=from_options,
    per_subject=True,
    reads={"--hw": "first", "--batch": "first"},
)
