"""``roofline validate``: run real kernels on this machine and hold the roofline to them.

Each kernel of :mod:`roofline.fidelity.kernels` is timed (one warm-up call, then repeated until a
time budget is spent; the median is the measured time) and predicted by evaluating its tiny
``layers``-family model with the real engine (:func:`roofline.evaluation.evaluate_costs`) on the
device spec, normally one written by ``roofline calibrate`` on the same machine. Per kernel the
report gives measured / predicted, for the derated prediction (with the device's efficiency
curves) and for the ideal roofline. The summary gives, over all kernels and over those of 1 ms and
more: the median and 90th percentile of measured / predicted, and the share of kernels where the
prediction is a true lower bound (predicted <= measured) and where it is at most 10% above the
measured time. Whole models (resnet50 from torchvision, the DLRM of ``model_specs/dlrm_rm2.yaml``)
are measured end to end when torch is installed (:mod:`roofline.fidelity.models`). The chart of
the report is :func:`roofline.plot.validation.measured_vs_predicted`.

The JSON document (``--format json``) holds the machine, the device spec, every kernel with its
``layers`` parameters, the summary and the whole models, so a run can be re-predicted later. The
format carries over unchanged to a GPU run with torch.
"""

from __future__ import annotations

import datetime
import os
import platform
import time
from typing import Any

import numpy as np

from roofline.counting import count_graph
from roofline.errors import SpecError
from roofline.evaluation import evaluate_costs
from roofline.fidelity import machine as mach
from roofline.fidelity.kernels import Kernel, release, suite, torch_suite
from roofline.fidelity.models import MODELS, measure_models
from roofline.fidelity.timing import measure
from roofline.hardware import Hardware
from roofline.presets import HardwareSource, build_model, load_device
from roofline.table import Table

#: kernels of at least this measured time are the ones the targets speak of (seconds)
LONG_S = 1e-3
#: a prediction more than this factor above the measured time counts as a miss
SLACK = 1.1


def predict(k: Kernel, hw: Hardware) -> dict[str, Any]:
    """Predicted seconds (derated and ideal), FLOPs, bytes and bound of kernel ``k`` on ``hw``."""
    spec = {
        "name": k.name,
        "family": "layers",
        "source": "roofline validate kernel",
        "params": {"inputs": k.inputs, "ops": k.ops},
    }
    model = build_model(spec, file=f"<kernel {k.name}>")
    r = evaluate_costs(count_graph(model.graph, k.batch, k.dtype, fuse=False), hw)
    return {
        "predicted_s": float(r.latency_s[0, 0]),
        "ideal_s": float(r.ideal_latency_s[0, 0]),
        "flops": float(r.flops[0]),
        "bytes": float(r.bytes_moved[0, 0].sum()),
        "bound": str(r.dominant_bound()[0, 0]),
    }


def machine(threads: dict[str, int | None]) -> dict[str, Any]:
    """What the run ran on: CPU, caches, memory, libraries, threads as pinned, load."""
    torch = mach.torch_module()
    return {
        "cpu": mach.cpu_model(),
        "cpus": mach.cpus(),
        "caches": [
            {"level": c.level, "size_bytes": c.size, "instances": c.instances, "line_bytes": c.line}
            for c in mach.read_caches()
        ],
        "memory_bytes": mach.physical_memory(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "blas": mach.blas_name(),
        "torch": None if torch is None else torch.__version__,
        "threads": threads,
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "load_average": list(os.getloadavg()),
    }


def summarize(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Summary rows over all kernels, those of >= 1 ms, and each group."""
    subsets = [
        ("all", rows),
        (f">= {LONG_S * 1e3:g} ms", [r for r in rows if r["measured_s"] >= LONG_S]),
    ]
    for g in dict.fromkeys(r["group"] for r in rows):
        subsets.append((g, [r for r in rows if r["group"] == g]))
    out = []
    for name, sub in subsets:
        if not sub:
            continue
        ratio = np.array([r["ratio"] for r in sub])
        ideal = np.array([r["ratio_ideal"] for r in sub])
        best = np.array([r["measured_min_s"] / r["predicted_s"] for r in sub])
        out.append(
            {
                "subset": name,
                "kernels": len(sub),
                "median_ratio": float(np.median(ratio)),
                "p90_ratio": float(np.percentile(ratio, 90)),
                "min_ratio": float(ratio.min()),
                "max_ratio": float(ratio.max()),
                "lower_bound_share": float(np.mean(ratio >= 1.0)),
                "within_10pct_share": float(np.mean(ratio >= 1.0 / SLACK)),
                "median_ratio_of_best": float(np.median(best)),
                "ideal_median_ratio": float(np.median(ideal)),
                "ideal_lower_bound_share": float(np.mean(ideal >= 1.0)),
            }
        )
    return out


def check_clock(clock: str, threads: int | None, field: str = "clock") -> int:
    """The thread count a run of ``clock`` uses (``threads``, else every usable CPU, checked by
    :func:`~roofline.fidelity.machine.thread_count`); a SpecError for an unknown clock or the cpu
    clock on more than one thread (it sums the threads' CPU time), naming ``field``."""
    n_threads = mach.thread_count(threads)
    if clock not in ("wall", "cpu") or (clock == "cpu" and n_threads != 1):
        raise SpecError(
            f"clock {clock!r} with {n_threads} threads",
            field=field,
            fix="use the wall clock, or the cpu clock with one thread: --threads 1",
        )
    return n_threads


def run_validation(
    hw: HardwareSource,
    quick: bool = False,
    with_torch: bool = True,
    models: bool = True,
    progress: mach.Progress | None = None,
    device_file: str | None = None,
    threads: int | None = None,
    clock: str = "wall",
) -> dict[str, Any]:
    """Run the suite on this machine and predict it on ``hw``; return the report document.

    Parameters
    ----------
    hw : str, path, mapping or Hardware
        The device spec (a calibrated one for this machine), loaded as every ``rl.*`` function
        loads a device (:func:`roofline.presets.load_device`).
    quick : bool
        A few small kernels and short runs (for tests); no whole models.
    with_torch : bool
        Run the torch kernels and models when torch is installed.
    models : bool
        Measure whole models (resnet50, DLRM) when torch is installed and not ``quick``.
    progress : callable or None
        Called with one line per kernel.
    device_file : str or None
        Where ``hw`` came from (recorded; default: ``hw`` itself when it is a name or a path).
    threads : int or None
        Threads for the BLAS and torch (default: every usable CPU, as ``calibrate``; at most
        those).
    clock : "wall" or "cpu"
        Time kernels by elapsed time, or by this process's CPU time (one thread only: time spent
        descheduled by other work on a shared machine then does not count).

    Raises
    ------
    SpecError
        Not a device; threads or clock out of range; or no kernel of the suite can be predicted on
        the device (every one skipped: a device without an fp32 peak), before anything is timed.

    Notes
    -----
    The BLAS and torch thread counts of this process are left pinned to ``threads``.
    """
    if device_file is None and isinstance(hw, (str, os.PathLike)):
        device_file = str(hw)
    hw = load_device(hw)
    n_threads = check_clock(clock, threads)
    say = progress or (lambda _msg: None)
    torch = mach.torch_module() if with_torch else None
    info = machine(mach.set_threads(n_threads, torch))
    info["clock"] = clock
    if warn := mach.busy_warning(n_threads):
        say(warn)
    kernels = suite(quick, torch is not None)
    t0 = time.perf_counter()
    rows: list[dict[str, Any]] = []
    skipped = not_run(with_torch, torch is not None, quick, models)
    why_not = ""
    for i, k in enumerate(kernels, 1):
        try:
            pred = predict(k, hw)
        except SpecError as exc:  # a dtype the device has no peak for
            why_not = f"{exc.field}: {exc.problem}" if exc.field else exc.problem
            skipped.append({"name": k.name, "reason": str(exc)})
            say(f"[{i}/{len(kernels)}] skipping {k.name}: {exc}")
            continue
        run = k.make()
        meas = measure(run, quick, clock)
        del run
        row = {
            "name": k.name,
            "group": k.group,
            "library": k.library,
            "dtype": k.dtype,
            "batch": k.batch,
            **meas,
            **pred,
            "ratio": meas["measured_s"] / pred["predicted_s"],
            "ratio_ideal": meas["measured_s"] / pred["ideal_s"],
            "layers": {"inputs": k.inputs, "ops": k.ops},
        }
        rows.append(row)
        say(
            f"[{i}/{len(kernels)} {time.perf_counter() - t0:5.1f}s] {k.name}: measured "
            f"{row['measured_s'] * 1e3:.3g} ms, predicted {row['predicted_s'] * 1e3:.3g} ms "
            f"(x{row['ratio']:.2f}, {row['bound']})"
        )
    release()
    if not rows:
        raise SpecError(
            f"no kernel of the suite can be predicted on {hw.name!r}"
            + (f" ({why_not})" if why_not else ""),
            field="hw",
            fix="give a device with fp32 peaks for its matrix and vector engines, such as one "
            "written by roofline calibrate on this machine",
        )
    whole: list[dict[str, Any]] = []
    if torch is not None and models and not quick:
        whole, missed = measure_models(hw, say, clock)
        skipped += missed
    info["load_average_after"] = list(os.getloadavg())
    return {
        "roofline_validate": 1,
        "quick": quick,
        "machine": info,
        "device": {"name": hw.name, "file": device_file, "spec": hw.model_dump(mode="json")},
        "definitions": {
            "ratio": f"measured_s / predicted_s: median of repeated calls on the {clock} clock "
            "over the derated roofline (with the device's efficiency curves)",
            "ratio_ideal": "measured_s / ideal_s (no efficiency curves)",
            "lower_bound": "predicted_s <= measured_s",
            "within_10pct": f"predicted_s <= {SLACK} x measured_s",
            "ratio_of_best": "measured_min_s / predicted_s (the fastest call: less noise from "
            "other work on the machine)",
            "long": f"measured_s >= {LONG_S} s",
        },
        "summary": summarize(rows),
        "kernels": rows,
        "skipped": skipped,
        "models": whole,
        "elapsed_s": time.perf_counter() - t0,
    }


def not_run(with_torch: bool, have_torch: bool, quick: bool, models: bool) -> list[dict[str, str]]:
    """What the suite leaves out and why, before it runs: the torch kernels without torch (or
    with ``with_torch`` off), the whole models without torch, with ``quick`` or ``models`` off."""
    out: list[dict[str, str]] = []
    if not with_torch:
        why_torch = "torch kernels not asked for (--no-torch)"
    elif not have_torch:
        why_torch = "torch is not installed: pip install 'roofline[torch]' (see the README)"
    else:
        why_torch = ""
    if why_torch:
        out += [{"name": k.name, "reason": why_torch} for k in torch_suite(quick)]
    if why_torch or quick or not models:
        why = why_torch or ("--quick runs no whole model" if quick else "--no-models")
        out += [{"name": f"model {name}", "reason": why} for name, _ in MODELS]
    return out


KERNEL_COLUMNS = (
    "name",
    "group",
    "library",
    "dtype",
    "batch",
    "flops",
    "bytes",
    "bound",
    "measured_s",
    "predicted_s",
    "ideal_s",
    "ratio",
    "ratio_ideal",
)


def tables(doc: dict[str, Any]) -> list[Table]:
    """The report as tables: per kernel, summary, whole models (when measured)."""
    k = Table(
        KERNEL_COLUMNS,
        [[r[c] for c in KERNEL_COLUMNS] for r in doc["kernels"]],
        title="measured vs predicted per kernel (ratio = measured / predicted)",
    )
    cols = list(doc["summary"][0]) if doc["summary"] else ["subset"]
    s = Table(
        cols,
        [[r[c] for c in cols] for r in doc["summary"]],
        title=f"summary on {doc['device']['name']}",
    )
    out = [k, s]
    if doc["models"]:
        out.append(Table.from_records(doc["models"], title="whole models (measured end to end)"))
    if doc.get("skipped"):
        skipped = [[r["name"], r["reason"]] for r in doc["skipped"]]
        out.append(Table(["name", "reason"], skipped, title=f"not run ({len(skipped)})"))
    return out
