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

from roofline.fidelity.machine import (
    GATHER_CHUNK,
    Progress,
    available_memory,
    blas_name,
    busy_warning,
    cpu_model,
    cpus,
    index_sets,
    physical_memory,
    read_caches,
    set_threads,
    time_calls,
    torch_module,
)

# -- measurements -------------------------------------------------------------------------------


def measure_overhead(torch: Any | None) -> dict[str, float]:
    """Median seconds of a one-element op per library (``numpy``, ``torch``)."""
    x, y, z = np.ones(1, np.float32), np.ones(1, np.float32), np.empty(1, np.float32)
    out = {"numpy": float(np.median(time_calls(lambda: np.add(x, y, out=z), 200, 0.05)))}
    if torch is not None:
        a, b, c = torch.ones(1), torch.ones(1), torch.empty(1)
        out["torch"] = float(np.median(time_calls(lambda: torch.add(a, b, out=c), 200, 0.05)))
    return out


#: the numpy / torch names of the dtypes GEMMs are measured in
_LIB_DTYPES = {"fp64": "float64", "fp32": "float32", "bf16": "bfloat16", "fp16": "float16"}


def measure_gemm(lib: str, dtype: str, n: int, torch: Any | None, min_time: float) -> float:
    """Best seconds of one n x n x n GEMM in ``dtype`` (``fp32``...) through ``lib`` (numpy or
    torch)."""
    if lib == "numpy":
        rng = np.random.default_rng(0)
        a, b = (rng.standard_normal((n, n)).astype(_LIB_DTYPES[dtype]) for _ in range(2))
        c = np.empty((n, n), _LIB_DTYPES[dtype])
        return float(time_calls(lambda: np.matmul(a, b, out=c), 3, min_time).min())
    dt = getattr(torch, _LIB_DTYPES[dtype])
    a, b = (torch.randn(n, n).to(dt) for _ in range(2))
    c = torch.empty(n, n, dtype=dt)
    with torch.inference_mode():
        return float(time_calls(lambda: torch.matmul(a, b, out=c), 3, min_time).min())


def stream_rate(
    nbytes: float,
    threads: int,
    pool: ThreadPoolExecutor,
    dtype: str = "float32",
    target: float = 64e6,
    min_time: float = 0.05,
) -> float:
    """Best bytes/s of ``np.max`` reading ``nbytes`` split over ``threads`` buffers.

    Each buffer is read ``passes`` times in one call (a stride-0 broadcast), so one call reads
    about ``target`` bytes and the call overhead does not count. numpy releases the GIL inside the
    reduction, so the threads run in parallel.
    """
    item = np.dtype(dtype).itemsize
    n = max(64, int(nbytes / item / threads))
    passes = max(1, int(target / (n * item * threads)))
    bufs = [np.ones(n, dtype) for _ in range(threads)]
    views = [np.broadcast_to(b, (passes, n)) for b in bufs]
    if threads == 1:
        t = time_calls(lambda: np.max(views[0]), 3, min_time).min()
    else:
        t = time_calls(lambda: list(pool.map(np.max, views)), 3, min_time).min()
    return passes * n * item * threads / float(t)


def gemv_rate(nbytes: float, min_time: float = 0.05) -> float:
    """Best bytes/s of a BLAS matrix-vector product (``A @ x``) whose matrix is ``nbytes``.

    The BLAS kernels prefetch in software and use every thread, so they often read a large cache
    or DRAM faster than a numpy reduction does.
    """
    a = np.ones((max(1, int(nbytes / 4 / 1024)), 1024), np.float32)
    x, y = np.ones(1024, np.float32), np.empty(a.shape[0], np.float32)
    return a.nbytes / float(time_calls(lambda: np.matmul(a, x, out=y), 3, min_time).min())


def best_stream(nbytes: float, pool: ThreadPoolExecutor, threads: int, **kw: Any) -> float:
    """The best read rate of one thread, ``threads`` threads (a busy machine may favour either)
    and, for float32 working sets of 64 KiB or more, a BLAS matrix-vector product."""
    rates = [stream_rate(nbytes, 1, pool, **kw)]
    if threads > 1:
        rates.append(stream_rate(nbytes, threads, pool, **kw))
    if kw.get("dtype", "float32") == "float32" and nbytes >= 65536:
        rates.append(gemv_rate(nbytes, kw.get("min_time", 0.05)))
    return max(rates)


#: bytes of one random row read by the gather probe (64 B: one cache line; 4 KiB: a page)
GATHER_ROWS = (64, 256, 1024, 4096)


def gather_rate(
    flat: np.ndarray, row_bytes: int, target: float, min_time: float, torch: Any | None = None
) -> dict[str, float]:
    """Best bytes/s of reading random rows of ``row_bytes`` from the fp32 table ``flat`` (1-D,
    viewed as rows of that length), per library (``numpy``, and ``torch`` when given).

    numpy: ``np.take`` copies rows picked uniformly at random into a buffer that stays in L2,
    chunk by chunk, about ``target`` bytes per timed call (``mode="wrap"`` skips numpy's buffered
    bounds check). torch: one ``embedding_bag`` sum over the same number of rows in bags of 64,
    which keeps the gathered rows in registers (its output is 1/64 of the rows). Each call reads
    fresh rows (:func:`~roofline.machine.index_sets`), as a new request would.
    """
    d = max(1, row_bytes // 4)
    rows = flat.size // d
    table = flat[: rows * d].reshape(rows, d)
    chunk = max(1, GATHER_CHUNK // (4 * d))
    calls = max(1, int(target // (chunk * 4 * d)))
    fresh = index_sets(rows, calls * chunk, table.nbytes)
    buf = np.empty((chunk, d), np.float32)

    def run() -> None:
        for i in fresh().reshape(calls, chunk):
            np.take(table, i, axis=0, out=buf, mode="wrap")

    nbytes = calls * chunk * 4 * d
    out = {"numpy": nbytes / float(time_calls(run, 3, min_time).min())}
    if torch is not None:
        t_table = torch.from_numpy(table)
        offsets = torch.arange(0, calls * chunk, 64)
        bag = torch.nn.functional.embedding_bag

        def run_torch() -> None:
            with torch.inference_mode():
                bag(torch.from_numpy(fresh()), t_table, offsets, mode="sum")

        out["torch"] = nbytes / float(time_calls(run_torch, 3, min_time).min())
    return out


def _curve(sizes: list[float], eff: list[float], source: str) -> dict[str, Any] | None:
    """A curve mapping (sizes rounded to 4 digits, efficiencies clipped to [0.01, 1]), or None
    when it would be flat at 1."""
    points: dict[float, float] = {}
    for s, x in zip(sizes, eff):
        points.setdefault(float(f"{s:.4g}"), round(float(min(1.0, max(0.01, x))), 3))
    if len(points) < 2 or min(points.values()) >= 0.999:
        return None
    return {"size": list(points), "efficiency": list(points.values()), "source": source}


def _iec(x: float) -> str:
    for unit, scale in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if x >= scale and x % (scale // 16 or 1) == 0:
            return f"{x / scale:g} {unit}"
    return f"{int(x)} B"


def _rate(x: float, unit: str) -> str:
    return f"{x / 1e9:.4g} G{unit}"


# -- the calibration ----------------------------------------------------------------------------


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
        Threads for the BLAS, torch and the bandwidth probes (default: every usable CPU).
    """
    say = progress or (lambda _msg: None)
    t_start = time.perf_counter()
    threads = threads or cpus()
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
    mcurve = _curve([2.0 * n**3 for n in sizes], eff, f"{stamp}; {how}")
    say("    " + ", ".join(f"{dt} {_rate(p, 'FLOP/s')}" for dt, p in peaks.items()))

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
    say(f"    fp32 {_rate(vec['fp32'], 'FLOP/s')}, fp64 {_rate(vec['fp64'], 'FLOP/s')}")

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
        for k, pts in points.items():
            for i, size in enumerate(pts):
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
        levels[k] = _level(
            "onchip", c.capacity(threads), points[k], bws[k], raw[k], c.line, stamp, what
        )
        say(f"    {k} {_iec(c.capacity(threads))}: " + ", ".join(_rate(b, "B/s") for b in bws[k]))
    line = caches[-1].line if caches else 64
    dram = physical_memory() // 1024**2 * 1024**2
    levels["dram"] = _level(
        "device", dram, points["dram"], bws["dram"], raw["dram"], line, stamp, "DRAM"
    )
    say("    dram: " + ", ".join(_rate(b, "B/s") for b in bws["dram"]))
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
        per_lib: dict[int, dict[str, float]] = {r: {} for r in gather_sizes}
        for _round in range(1 if quick else 2):
            for r in gather_sizes:
                for lib, x in gather_rate(flat, r, 8e6 if quick else 32e6, mt, torch).items():
                    per_lib[r][lib] = max(per_lib[r].get(lib, 0.0), x)
        del flat
        rate = [max(per_lib[r].values()) for r in gather_sizes]
        # a longer row never reads slower: lower figures are noise
        effs = list(np.maximum.accumulate([x / best for x in rate]))
        how = (
            f"{stamp}; random rows from a {_iec(size)} table (np.take into an L2-resident "
            f"buffer{', torch embedding_bag sum' if torch is not None else ''}), best of "
            "runs and libraries, over the level's best streaming rate, non-decreasing"
        )
        text = ", ".join(f"{r} B {_rate(x, 'B/s')}" for r, x in zip(gather_sizes, rate))
        if curve := _curve([float(r) for r in gather_sizes], effs, how):
            lvl["gather_curve"] = curve
            lvl["note"] += "; random rows: " + "; ".join(
                f"{r} B " + ", ".join(f"{lib} {_rate(x, 'B/s')}" for lib, x in d.items())
                for r, d in per_lib.items()
            )
        say(f"    {k}: {text}")

    step(6, "writing the spec")
    per_lib = {
        dt: ", ".join(f"{lib} {_rate(r, 'FLOP/s')}" for lib, r in d.items())
        for dt, d in rates.items()
    }
    mpeak_src = "; ".join(f"{dt}: {text}" for dt, text in per_lib.items())
    spec = {
        "name": name,
        "description": f"{model}: {threads} of {cpus()} CPUs, measured by roofline calibrate "
        f"on {today}",
        "source": f"{stamp} (python -m roofline calibrate{' --quick' if quick else ''})",
        "engines": {
            "matrix": {
                "peak": {dt: _rate(p, "FLOP/s") for dt, p in peaks.items()},
                "fallback": {"tf32": "fp32"},
                "efficiency": 1.0,
                **({"efficiency_curve": mcurve} if mcurve else {}),
                "source": f"{stamp}; best rate of square GEMMs (np.matmul / torch.matmul), "
                f"n up to {max(sizes)}",
                "note": f"best per library: {mpeak_src}",
            },
            "vector": {
                "peak": {dt: _rate(p, "FLOP/s") for dt, p in vec.items()},
                "fallback": {d: "fp32" for d in ("tf32", "bf16", "fp16", "int8")},
                "efficiency": 1.0,
                "source": f"{stamp}; np.max over a {_iec(l1 / 4)} buffer per thread read "
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


def _level(
    kind: str,
    capacity: float,
    sizes: list[float],
    bw: list[float],
    raw: list[float],
    line: int,
    stamp: str,
    what: str,
) -> dict[str, Any]:
    best = max(bw)
    # above the last cache the working set no longer changes the rate: DRAM gets no curve
    how = f"{stamp}; read rate at each working set over the best"
    curve = _curve(sizes, [b / best for b in bw], how) if kind == "onchip" else None
    out: dict[str, Any] = {
        "kind": kind,
        "capacity": _iec(capacity),
        "bandwidth": _rate(best, "B/s"),
        "granularity": f"{line} B",
    }
    if curve:
        out["efficiency_curve"] = curve
    out["source"] = (
        f"{stamp}; {what}; best streaming read (np.max, BLAS gemv) at working sets "
        + ", ".join(_iec(s) for s in sizes)
    )
    pts = ", ".join(f"{_iec(s)} {_rate(b, 'B/s')}" for s, b in zip(sizes, raw))
    out["note"] = (
        f"measured: {pts}; each rate is raised to the best at a larger working set "
        "and to the next slower level's"
    )
    return out


def to_yaml(spec: dict[str, Any]) -> str:
    """The spec as YAML text (keys in the order written)."""
    import yaml

    header = "# Written by `python -m roofline calibrate`: every figure measured on this machine.\n"
    return header + yaml.safe_dump(spec, sort_keys=False, width=100, allow_unicode=True)
