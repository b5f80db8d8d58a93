"""Implication 4 of Park et al. (2018), half precision, asked in joules: what fp16 and int8 save in
energy per inference for each of the paper's model classes, and where the energy goes.

:func:`energy_study` evaluates the Table 1 models at fp32, fp16 and int8 on the paper's
accelerator and on devices with energy models (:mod:`roofline.energy`), and splits each
sample's joules into compute, on-chip memory, DRAM (the device's main memory), host memory and
static power.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from roofline.dtypes import canonical
from roofline.energy import energy_parts
from roofline.errors import SpecError
from roofline.presets import load_device
from roofline.result import Result
from roofline.studies.base import (
    PAPER_DEVICE,
    Options,
    Study,
    StudyEntry,
    at_batch,
    dtype_runs,
    fits,
    fitting,
    given,
    paper_models,
)
from roofline.table import Table

#: where a sample's joules go, in the study's table (joules per sample each)
PARTS = ("compute_j", "onchip_j", "dram_j", "host_j", "static_j")


def _parts(r: Result) -> dict[str, float]:
    """Joules per sample of run (0, 0) by :data:`PARTS` (:func:`roofline.energy.energy_parts`)."""
    by = r.energy_by_part()[0, 0] / float(r.costs.batch[0])
    return {f"{p}_j": float(v) for p, v in energy_parts(by, r.grid.level_kinds).items()}


def energy_study(
    models: Mapping[str, int] | Sequence[str] | None = None,
    devices: Sequence[Any] = (PAPER_DEVICE, "t4", "h100_sxm5"),
    dtypes: Sequence[str] = ("fp32", "fp16", "int8"),
) -> Study:
    """Half precision in joules: energy per sample at fp32, fp16 and int8 for the paper's model
    classes, what each saves over fp32, and where the energy goes.

    Parameters
    ----------
    models : mapping model -> batch, or model names (their :data:`PAPER_MODELS` batch)
        Default the Table 1 models at the paper's batches.
    devices : sequence of device-likes with an energy model
        Default the paper's accelerator, a T4 (a paper-era inference GPU) and an H100.
    dtypes : sequence of str
        The first is the reference the savings are taken against, on each device and model:
        where the device lacks it (Gaudi 3 has no fp32 matrix peak) or the model does not fit
        at it, the other dtypes' savings are NaN, never taken against another dtype.

    Returns
    -------
    Study
        ``table``: model, device, batch, dtype, compute_dtype (after the device's fallbacks),
        supported, feasible (the model fits the device at this dtype), energy_per_sample_j,
        saving (1 - energy / reference energy), compute_j, onchip_j, dram_j, host_j, static_j
        (joules per sample), dominant (the largest part), regime
        (:func:`roofline.studies.base.regime` at the reference dtype: ``memory``, ``compute``
        or ``overhead``; empty without a reference run), latency_s, throughput_per_s and
        avg_power_w (all three power-capped), power_capped, samples_per_j.
        ``findings[device][model][dtype]``: the saving. A dtype a device lacks gives a row with
        ``supported = False``; a point that does not fit has no energy, time or power (NaN,
        as :meth:`~roofline.result.Result.totals` has it) and no saving. The answer's ranges
        and medians of savings hold only the rows with a saving; where the energy goes, every
        row that fits.
    """
    mods = paper_models(models)
    cols = [
        "model",
        "device",
        "batch",
        "dtype",
        "compute_dtype",
        "supported",
        "feasible",
        "energy_per_sample_j",
        "saving",
        *PARTS,
        "dominant",
        "regime",
        "latency_s",
        "throughput_per_s",
        "avg_power_w",
        "power_capped",
        "samples_per_j",
    ]
    rows: list[list[Any]] = []
    findings: dict[str, Any] = {}
    nan = float("nan")
    hws = [load_device(dev) for dev in devices]
    for hw in hws:
        if not hw.has_energy:
            raise SpecError(
                f"device {hw.name!r} has no energy model",
                field="devices",
                fix="give it a power block and energy figures (hw_specs/README.md, Energy)",
            )
    blank = [nan] * (2 + len(PARTS))
    for run in dtype_runs(hws, mods, dtypes):
        hw, m, r, ref = run.device, run.model, run.result, run.reference
        head = [m.name, hw.name, run.batch, run.dtype]
        if r is None:
            rows.append(
                head + ["", False, False, *blank, "", run.regime, nan, nan, nan, False, nan]
            )
            continue
        used = hw.engines.matrix.resolve(canonical(run.dtype))
        if not fits(r):  # no joules for a point that does not fit (totals())
            rows.append(
                head + [used, True, False, *blank, "", run.regime, nan, nan, nan, False, nan]
            )
            findings.setdefault(hw.name, {}).setdefault(m.name, {})[run.dtype] = nan
            continue
        e = float(r.energy_per_sample_j[0, 0])
        saving = 1.0 - e / fitting(ref, "energy_per_sample_j")
        parts = _parts(r)
        rows.append(
            head
            + [used, True, True, e, saving]
            + [parts[p] for p in PARTS]
            + [
                max(parts, key=lambda p: parts[p]).removesuffix("_j"),
                run.regime,
                float(r.capped_latency_s[0, 0]),
                float(r.capped_throughput_per_s[0, 0]),
                float(r.avg_power_w[0, 0]),
                bool(r.power_capped[0, 0]),
                float(r.samples_per_j[0, 0]),
            ]
        )
        findings.setdefault(hw.name, {}).setdefault(m.name, {})[run.dtype] = saving
    table = Table(cols, rows, title="energy study")
    return ENTRY.study(table, findings, _answer(table, dtypes))


def _answer(table: Table, dtypes: Sequence[str]) -> str:
    """The study's answer: savings of each narrower dtype (over the rows that have one), and
    where the energy goes (over the rows that fit). NaN reads as None in a table's rows."""
    ok = [r for r in table if r["feasible"]]
    if not ok:
        return "No result: no device supports the dtypes with the models fitting."
    parts: list[str] = []
    for dt in dtypes[1:]:
        ran = [r for r in ok if r["dtype"] == dt]
        got = [r for r in ran if r["saving"] is not None]
        if not got:
            if ran:
                parts.append(
                    f"no {dt} saving: no run of {dtypes[0]} to take it against (the device "
                    "lacks it or the model does not fit)"
                )
            continue
        sav = [r["saving"] for r in got]
        text = f"{dt} saves {100 * min(sav):.0f}-{100 * max(sav):.0f}% of the joules of {dtypes[0]}"
        detail = []
        for regime in ("memory", "compute", "overhead"):
            by = [r["saving"] for r in got if r["regime"] == regime]
            if by:
                detail.append(f"{regime}-bound runs {100 * np.median(by):.0f}%")
        parts.append(text + (f" (median: {', '.join(detail)})" if detail else ""))
    where = {p: float(np.median([r[p] / r["energy_per_sample_j"] for r in ok])) for p in PARTS}
    ranked = sorted(where, key=lambda p: -where[p])
    goes = ", ".join(f"{p.removesuffix('_j')} {100 * where[p]:.0f}%" for p in ranked[:3])
    lead = "; ".join(parts)
    return (
        (f"{lead}. " if lead else "")
        + f"The energy goes (median share per sample) to {goes}: narrower data cut DRAM and "
        "compute joules, while static power follows the time a sample takes."
    )


def from_options(o: Options) -> Study:
    """``roofline plot energy [MODEL...] [--hw DEVICE...] [--batch B]``."""
    return energy_study(**given(models=at_batch(o.models, o.batch), devices=o.devices))


ENTRY = StudyEntry(
    name="energy",
    question="Half precision in joules: what fp16 and int8 save per inference, and where the "
    "energy goes",
    charts=("energy_breakdown", "energy_saving", "energy_power"),
    function=energy_study,
    from_options=from_options,
    reads={
        "--batch": "first",
        "--dtype": "the study compares its own dtypes (fp32, fp16 and int8)",
    },
)
