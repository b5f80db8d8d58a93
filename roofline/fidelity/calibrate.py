"""``roofline calibrate``: measure the machine this runs on and write a device spec that loads like
a preset (:func:`roofline.load_hardware`).

What is measured (each figure's ``source`` says how, when and on which CPU):

* matrix engine: dense GEMM FLOP/s per dtype the machine's BLAS offers, fp32 and fp64 through
  numpy's ``matmul``, plus fp32, bf16 and fp16 through ``torch.matmul`` when torch is installed.
  The peak is the best rate over square sizes (best of two rounds of runs: a peak is a best
  case). The efficiency curve is the rate of fp32 square numpy GEMMs of 16 to 2048 per side over
  the fp32 peak, after the per-op overhead is taken off each call, made non-decreasing in size;
* vector engine: the FLOP rate of a SIMD reduction (``np.max``, 1 FLOP per element) over data
  resident in L1, with one and with all threads. numpy issues no fused multiply-adds, so this is
  the elementwise rate the libraries reach, not the FMA peak of the vector units;
* memory: one ``onchip`` level per data or unified cache the OS reports (``/sys/devices/system/
  cpu/cpu*/cache``), with its capacity summed over the instances the threads use, and one
  ``device`` level (DRAM, capacity = physical memory). Bandwidth is the best streaming read rate
  of ``np.max`` over a buffer read repeatedly in one call (one buffer per thread, with one and
  with all threads) and of a BLAS matrix-vector product, at working sets of twice the faster
  level and 1/4, 1/2 and 3/4 of each cache, and of 2 and 4 times the last-level cache for DRAM.
  Rates are made non-increasing in working set within a level and never below the next slower
  level's. A cache's bandwidth is its best point and its efficiency curve each point over that
  best, so a cache that holds less than its nominal size for us (shared with other tenants)
  shows as efficiency falling with size; DRAM gets no curve;
* random row reads: each level's ``gather_curve``, the rate of reading random rows of 64 B to
  4 KiB from a table of a quarter of the cache (DRAM: the largest working set above) over the
  level's best streaming rate, the best of numpy's ``take`` and torch's ``embedding_bag``;
* overhead: the median time of a one-element ``np.add`` (and of a one-element ``torch.add``; the
  smaller is taken, so that it stays a floor).

Every measurement warms up first, runs with the BLAS and torch pinned to ``threads`` threads
(default: every usable CPU), takes the best of its timed calls, and allocates and touches its
buffers before timing (no page faults inside a timed call). ``quick`` measures one point per
level, GEMMs up to 512 and no torch, in a few seconds.
"""

from __future__ import annotations

import datetime
import os
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from roofline.fidelity.device_spec import curve_entry, iec_text, level_entry, rate_text
from roofline.fidelity.machine import (
    Progress,
    available_memory,
    blas_name,
    busy_warning,
    cpu_model,
    cpus,
    physical_memory,
    read_caches,
    set_threads,
    thread_count,
    torch_module,
)
from roofline.fidelity.probes import (
    GATHER_ROWS,
    best_stream,
    gather_rate,
    measure_gemm,
    measure_overhead,
)


def calibrate(
    quick: bool = False,
    name: str = "calibrated",
    progress: Progress | None = None,
    use_torch: bool = True,
    threads: int | None = None,
) -> dict[str, Any]:
    """Measure this machine; return a device spec mapping (``load_hardware`` accepts it).

    Parameters
    ----------
    quick : bool
        Fewer sizes and shorter runs (seconds, for tests); torch is not used.
    name : str
        The device name written into the spec.
    progress : callable or None
        Called with one line per step (the CLI prints them to stderr).
    use_torch : bool
        Also measure torch's GEMMs when torch is installed.
    threads : int or None
        Threads for the BLAS, torch and the bandwidth probes (default: every usable CPU): a whole
        number from 1 to the usable CPUs, else a SpecError before anything is measured.
    """
    threads = thread_count(threads)
    say = progress or (lambda _msg: None)
    t_start = time.perf_counter()
    torch = torch_module() if use_torch and not quick else None
    pinned = set_threads(threads, torch)
    if warn := busy_warning(threads):
        say(warn)
    caches = read_caches()
    model = cpu_model()
    today = datetime.date.today().isoformat()
    libs = f"numpy {np.__version__} ({blas_name()})"
    if torch is not None:
        libs += f", torch {torch.__version__}"
    stamp = f"measured {today} on {model} ({cpus()} CPUs), threads={threads}, {libs}"
    if pinned["blas"] is None:
        stamp += " (BLAS threads not pinned: its default)"
    mt = 0.03 if quick else 0.15
    pool = ThreadPoolExecutor(threads)

    def step(i: int, what: str) -> None:
        say(f"[{i}/6 {time.perf_counter() - t_start:4.1f}s] {what}")

    step(1, "per-op overhead")
    over = measure_overhead(torch)
    overhead = min(over.values())

    step(2, "matrix engine: GEMM peaks per dtype and the fp32 size curve")
    sizes = [16, 32, 64, 128, 256, 512] + ([] if quick else [1024, 2048])
    runs = [("numpy", "fp32", n) for n in sizes]
    runs += [("numpy", "fp64", n) for n in ([256] if quick else [512, 1024])]
    if torch is not None:
        runs += [("torch", dt, n) for dt in ("fp32", "bf16", "fp16") for n in (512, 1024, 2048)]
    best_t = dict.fromkeys(runs, np.inf)
    for _round in range(1 if quick else 2):
        for lib, dt, n in runs:
            t = measure_gemm(lib, dt, n, torch, mt)
            best_t[lib, dt, n] = min(best_t[lib, dt, n], t)
    rates: dict[str, dict[str, float]] = {}
    for (lib, dt, n), t in best_t.items():
        per_lib = rates.setdefault(dt, {})
        per_lib[lib] = max(per_lib.get(lib, 0.0), 2.0 * n**3 / t)
    fp32_t = {n: best_t["numpy", "fp32", n] for n in sizes}
    peaks = {dt: max(r.values()) for dt, r in rates.items()}
    eff = [2.0 * n**3 / peaks["fp32"] / max(t - overhead, 1e-9) for n, t in fp32_t.items()]
    eff = list(np.maximum.accumulate(np.minimum(eff, 1.0)))
    how = (
        f"fp32 square numpy GEMMs n={sizes[0]}..{sizes[-1]} (2 n^3 FLOPs), best of runs "
        "over the fp32 peak, overhead taken off, non-decreasing"
    )
    mcurve = curve_entry([2.0 * n**3 for n in sizes], eff, f"{stamp}; {how}")
    say("    " + ", ".join(f"{dt} {rate_text(p, 'FLOP/s')}" for dt, p in peaks.items()))

    step(3, "vector engine: reduction rate over L1-resident data")
    l1 = caches[0].size if caches else 32 * 1024
    vec = {"fp32": 0.0, "fp64": 0.0}
    for _round in range(1 if quick else 2):
        for dt, item in (("fp32", 4), ("fp64", 8)):
            rate = best_stream(
                l1 / 4 * threads,
                pool,
                threads,
                dtype=f"float{8 * item}",
                target=16e6 if quick else 64e6,
                min_time=mt,
            )
            vec[dt] = max(vec[dt], rate / item)
    say(f"    fp32 {rate_text(vec['fp32'], 'FLOP/s')}, fp64 {rate_text(vec['fp64'], 'FLOP/s')}")

    step(4, "memory: streaming read bandwidth per cache level and DRAM")
    # just above the faster level (where a level is at its best), then up to near its capacity
    points: dict[str, list[float]] = {}
    prev = 0
    for c in caches:
        pts = {f * c.capacity(threads) for f in ((0.5,) if quick else (0.25, 0.5, 0.75))}
        if prev and 2 * prev < min(pts):
            pts = {2 * prev} if quick else pts | {2 * prev}
        points[f"l{c.level}"] = sorted(pts)
        prev = c.capacity(threads)
    llc = max(prev, 32 * 1024**2)
    budget = available_memory() / 4
    points["dram"] = sorted({min(m * llc, budget) for m in ((2,) if quick else (2, 4))})
    # rounds spread the measurements of a point over time; a busy machine slows some of them
    bws = {k: [0.0] * len(v) for k, v in points.items()}
    for _round in range(1 if quick else 2):
        for k, sizes_at in points.items():
            for i, size in enumerate(sizes_at):
                target = size if k == "dram" else 64e6
                rate = best_stream(size, pool, threads, target=target, min_time=mt)
                bws[k][i] = max(bws[k][i], rate)
    # a larger working set never streams faster, and a cache never reads slower than the memory
    # behind it: lower figures come from a busy machine or a probe's call overhead
    raw = {k: list(v) for k, v in bws.items()}
    floor = 0.0
    for k in reversed(list(points)):
        bws[k] = [max(r, floor) for r in np.maximum.accumulate(bws[k][::-1])[::-1]]
        floor = max(bws[k])
    levels: dict[str, dict[str, Any]] = {}
    for c in caches:
        k = f"l{c.level}"
        what = f"L{c.level}: {c.size // 1024} KiB x {min(c.instances, threads)} of {c.instances}"
        levels[k] = level_entry(
            "onchip", c.capacity(threads), points[k], bws[k], raw[k], c.line, stamp, what
        )
        read_rates = ", ".join(rate_text(b, "B/s") for b in bws[k])
        say(f"    {k} {iec_text(c.capacity(threads))}: {read_rates}")
    line = caches[-1].line if caches else 64
    dram = physical_memory() // 1024**2 * 1024**2
    levels["dram"] = level_entry(
        "device", dram, points["dram"], bws["dram"], raw["dram"], line, stamp, "DRAM"
    )
    say("    dram: " + ", ".join(rate_text(b, "B/s") for b in bws["dram"]))
    pool.shutdown()

    step(5, "memory: random row reads per level (64 B to 4 KiB rows)")
    gather_sizes = (64, 1024) if quick else GATHER_ROWS
    tables = {f"l{c.level}": c.capacity(threads) / 4 for c in caches}
    tables["dram"] = points["dram"][-1]
    for k, lvl in levels.items():
        # a table of a quarter of the cache (well inside it, shared or not), or DRAM's largest
        size, best = tables[k], max(bws[k])
        # one table per level, viewed per row length (at least two of the longest rows)
        flat = np.ones(max(int(size // 4), max(gather_sizes) // 2), np.float32)
        by_row: dict[int, dict[str, float]] = {r: {} for r in gather_sizes}
        for _round in range(1 if quick else 2):
            for r in gather_sizes:
                for lib, x in gather_rate(flat, r, 8e6 if quick else 32e6, mt, torch).items():
                    by_row[r][lib] = max(by_row[r].get(lib, 0.0), x)
        del flat
        row_rates = [max(by_row[r].values()) for r in gather_sizes]
        # a longer row never reads slower: lower figures are noise
        effs = list(np.maximum.accumulate([x / best for x in row_rates]))
        how = (
            f"{stamp}; random rows from a {iec_text(size)} table (np.take into an L2-resident "
            f"buffer{', torch embedding_bag sum' if torch is not None else ''}), best of "
            "runs and libraries, over the level's best streaming rate, non-decreasing"
        )
        text = ", ".join(f"{r} B {rate_text(x, 'B/s')}" for r, x in zip(gather_sizes, row_rates))
        if curve := curve_entry([float(r) for r in gather_sizes], effs, how):
            lvl["gather_curve"] = curve
            lvl["note"] += "; random rows: " + "; ".join(
                f"{r} B " + ", ".join(f"{lib} {rate_text(x, 'B/s')}" for lib, x in d.items())
                for r, d in by_row.items()
            )
        say(f"    {k}: {text}")

    step(6, "writing the spec")
    by_dtype = {
        dt: ", ".join(f"{lib} {rate_text(r, 'FLOP/s')}" for lib, r in d.items())
        for dt, d in rates.items()
    }
    mpeak_src = "; ".join(f"{dt}: {text}" for dt, text in by_dtype.items())
    spec = {
        "name": name,
        "description": f"{model}: {threads} of {cpus()} CPUs, measured by roofline calibrate "
        f"on {today}",
        "source": f"{stamp} (python -m roofline calibrate{' --quick' if quick else ''})",
        "default_dtype": "fp32",
        "default_dtype_source": f"{stamp}; fp32, the precision numpy (and torch on a CPU, by "
        "default) computes in and the validation suite runs",
        "engines": {
            "matrix": {
                "peak": {dt: rate_text(p, "FLOP/s") for dt, p in peaks.items()},
                "fallback": {"tf32": "fp32"},
                "efficiency": 1.0,
                **({"efficiency_curve": mcurve} if mcurve else {}),
                "source": f"{stamp}; best rate of square GEMMs (np.matmul / torch.matmul), "
                f"n up to {max(sizes)}",
                "note": f"best per library: {mpeak_src}",
            },
            "vector": {
                "peak": {dt: rate_text(p, "FLOP/s") for dt, p in vec.items()},
                "fallback": {d: "fp32" for d in ("tf32", "bf16", "fp16", "int8")},
                "efficiency": 1.0,
                "source": f"{stamp}; np.max over a {iec_text(l1 / 4)} buffer per thread read "
                "repeatedly in one call, 1 FLOP per element, best of 1 and all threads",
                "note": "elementwise rate the libraries reach on L1-resident data, not the FMA "
                "peak (numpy issues no fused multiply-adds); narrow types are widened to fp32",
            },
        },
        "memory": levels,
        "overheads": {
            "per_op": f"{overhead * 1e6:.3g} us",
            "source": f"{stamp}; median of a one-element add: "
            + ", ".join(f"{k} {v * 1e6:.3g} us" for k, v in over.items())
            + " (the smaller)",
        },
        "assumptions": [
            f"Ops run on {threads} thread(s) of the {cpus()} usable CPUs (BLAS and torch "
            f"pinned to {threads}); numpy's elementwise loops and its take use one.",
            "Cache capacities are the OS's figures summed over the instances the threads "
            "use; a shared cache may hold less for us when other tenants use it, which the "
            "efficiency curves show.",
            f"Calibration took {time.perf_counter() - t_start:.0f} s; load average before "
            f"{os.getloadavg()[0]:.2f} (a busy machine makes every figure lower).",
        ],
    }
    return spec
