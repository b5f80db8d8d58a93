"""``roofline calibrate``: measure the machine this runs on and write a device spec that loads like a
preset (:func:`roofline.load_hardware`).

What is measured (each figure's ``source`` says how, when and on which CPU):

* matrix engine: dense GEMM FLOP/s per dtype the machine's BLAS offers, fp32 and fp64 through
  numpy's ``matmul``, plus fp32, bf16 and fp16 through ``torch.matmul`` when torch is installed.
  The peak is the best rate over square sizes (best of several runs; a peak is a best case).
  The efficiency curve is the rate of fp32 square GEMMs of 16 to 1024 per side over that peak,
  after the per-op overhead is taken off each call, made non-decreasing in size;
* vector engine: the FLOP rate of a SIMD reduction (``np.max``, 1 FLOP per element) over data
  resident in each core's L1, with every core busy. numpy issues no fused multiply-adds, so this is
  the elementwise rate the libraries reach, not the FMA peak of the vector units;
* memory: one ``onchip`` level per data or unified cache the OS reports (``/sys/devices/system/
  cpu/cpu0/cache``), with its capacity summed over the instances this process may use, and one
  ``device`` level (DRAM, capacity = physical memory). Bandwidth is the best streaming read rate
  (``np.max`` over a buffer read repeatedly in one call, one buffer per thread, with 1 and with all
  threads) at working sets of 1/4, 1/2 and 3/4 of each cache, and of 2 and 4 times the last-level
  cache for DRAM. The level's bandwidth is the best of its points; its efficiency curve is each
  point's rate over that best, so a cache that holds less than its nominal size (shared with other
  tenants) shows as efficiency falling with size;
* overhead: the median time of a one-element ``np.add`` (and a one-element ``torch.add``; the
  smaller is taken, so that it stays a floor).

Every measurement warms up first, runs the BLAS and torch with one thread per usable CPU, and
allocates and touches its buffers before timing (no page faults inside a timed call).
"""

from __future__ import annotations

import datetime
import os
import platform
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

Progress = Callable[[str], None]


def cpus() -> int:
    """CPUs this process may run on (the thread count used for every measurement)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def cpu_model() -> str:
    """The CPU model name the OS reports."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def blas_name() -> str:
    """numpy's BLAS as its build configuration names it (e.g. ``scipy-openblas 0.3.31``)."""
    try:
        cfg = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        return f"{cfg.get('name', '?')} {cfg.get('version', '')}".strip()
    except Exception:  # older numpy: no dict mode
        return "unknown BLAS"


def torch_module() -> Any | None:
    """torch with one thread per usable CPU, or None when it is not installed."""
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(cpus())
    return torch


@dataclass(frozen=True)
class Cache:
    """One data or unified cache level as the OS reports it (bytes)."""

    level: int
    size: int
    instances: int
    line: int

    @property
    def capacity(self) -> int:
        """Bytes summed over the instances this process can use."""
        return self.size * self.instances


def _parse_size(text: str) -> int:
    text = text.strip().upper()
    scale = {"K": 1024, "M": 1024**2, "G": 1024**3}.get(text[-1:], 1)
    return int(text.rstrip("KMG")) * scale


def read_caches(root: str = "/sys/devices/system/cpu") -> list[Cache]:
    """Data and unified caches by level, from ``cpu*/cache/index*`` (empty if unreadable)."""
    try:
        allowed = sorted(os.sched_getaffinity(0))
    except AttributeError:
        allowed = list(range(os.cpu_count() or 1))
    found: dict[int, dict[str, Any]] = {}
    for cpu in allowed:
        for idx in sorted(Path(root, f"cpu{cpu}", "cache").glob("index*")):
            try:
                kind = (idx / "type").read_text().strip()
                if kind not in ("Data", "Unified"):
                    continue
                level = int((idx / "level").read_text())
                size = _parse_size((idx / "size").read_text())
                shared = (idx / "shared_cpu_list").read_text().strip()
                line = int((idx / "coherency_line_size").read_text())
            except (OSError, ValueError):
                continue
            entry = found.setdefault(level, {"size": size, "line": line, "shared": set()})
            entry["shared"].add(shared)
    return [Cache(lv, e["size"], len(e["shared"]), e["line"]) for lv, e in sorted(found.items())]


def physical_memory() -> int:
    """Bytes of physical memory."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 16 * 1024**3


def available_memory() -> int:
    """Bytes of memory available now (MemAvailable), or half the physical memory."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return physical_memory() // 2


def time_calls(
    fn: Callable[[], Any], min_reps: int = 3, min_time: float = 0.05, max_reps: int = 2000,
    max_time: float = 5.0,
) -> np.ndarray:  # fmt: skip
    """Seconds of each timed call of ``fn`` after one warm-up call.

    Runs at least ``min_reps`` calls and until ``min_time`` seconds have passed, at most
    ``max_reps`` calls or ``max_time`` seconds (but never fewer than ``min_reps``).
    """
    fn()
    times: list[float] = []
    start = time.perf_counter()
    while True:
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
        spent = time.perf_counter() - start
        if len(times) >= min_reps and (spent >= min_time or len(times) >= max_reps):
            break
        if len(times) >= min_reps and spent >= max_time:
            break
    return np.asarray(times)


# -- measurements -------------------------------------------------------------------------------


def measure_overhead(torch: Any | None) -> dict[str, float]:
    """Median seconds of a one-element op per library (``numpy``, ``torch``)."""
    x, y, z = np.ones(1, np.float32), np.ones(1, np.float32), np.empty(1, np.float32)
    out = {"numpy": float(np.median(time_calls(lambda: np.add(x, y, out=z), 200, 0.05)))}
    if torch is not None:
        a, b, c = torch.ones(1), torch.ones(1), torch.empty(1)
        out["torch"] = float(np.median(time_calls(lambda: torch.add(a, b, out=c), 200, 0.05)))
    return out


def measure_gemm(lib: str, dtype: str, n: int, torch: Any | None, min_time: float) -> float:
    """Best seconds of one n x n x n GEMM in ``dtype`` through ``lib`` (numpy or torch)."""
    if lib == "numpy":
        rng = np.random.default_rng(0)
        a, b = (rng.standard_normal((n, n)).astype(dtype) for _ in range(2))
        c = np.empty((n, n), dtype)
        return float(time_calls(lambda: np.matmul(a, b, out=c), 3, min_time).min())
    dt = getattr(torch, {"fp32": "float32", "bf16": "bfloat16", "fp16": "float16"}[dtype])
    a, b = (torch.randn(n, n).to(dt) for _ in range(2))
    c = torch.empty(n, n, dtype=dt)
    with torch.inference_mode():
        return float(time_calls(lambda: torch.matmul(a, b, out=c), 3, min_time).min())


def stream_rate(nbytes: float, threads: int, pool: ThreadPoolExecutor, dtype: str = "float32",
                target: float = 64e6, min_time: float = 0.05) -> float:  # fmt: skip
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


def best_stream(nbytes: float, pool: ThreadPoolExecutor, **kw: Any) -> float:
    """The best read rate of one thread, all threads (a busy machine may favour either) and,
    for float32 working sets of 64 KiB or more, a BLAS matrix-vector product."""
    rates = [stream_rate(nbytes, 1, pool, **kw), stream_rate(nbytes, cpus(), pool, **kw)]
    if kw.get("dtype", "float32") == "float32" and nbytes >= 65536:
        rates.append(gemv_rate(nbytes, kw.get("min_time", 0.05)))
    return max(rates)


def _curve(sizes: list[float], eff: list[float], source: str) -> dict[str, Any] | None:
    e = [float(min(1.0, max(0.01, x))) for x in eff]
    if len(sizes) < 2 or min(e) >= 0.999:
        return None
    return {"size": [float(f"{s:.4g}") for s in sizes], "efficiency": [round(x, 3) for x in e],
            "source": source}  # fmt: skip


def _iec(x: float) -> str:
    for unit, scale in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if x >= scale and x % (scale // 16 or 1) == 0:
            return f"{x / scale:g} {unit}"
    return f"{int(x)} B"


def _rate(x: float, unit: str) -> str:
    return f"{x / 1e9:.4g} G{unit}"


# -- the calibration ----------------------------------------------------------------------------


def calibrate(quick: bool = False, name: str = "calibrated", progress: Progress | None = None,
              use_torch: bool = True) -> dict[str, Any]:  # fmt: skip
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
    """
    say = progress or (lambda _msg: None)
    t_start = time.perf_counter()
    threads = cpus()
    torch = torch_module() if use_torch and not quick else None
    caches = read_caches()
    model = cpu_model()
    today = datetime.date.today().isoformat()
    libs = f"numpy {np.__version__} ({blas_name()})"
    if torch is not None:
        libs += f", torch {torch.__version__}"
    stamp = f"measured {today} on {model}, {threads} threads, {libs}"
    mt = 0.03 if quick else 0.15
    pool = ThreadPoolExecutor(threads)

    def step(i: int, what: str) -> None:
        say(f"[{i}/5 {time.perf_counter() - t_start:4.1f}s] {what}")

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
            np_dt = {"fp32": "float32", "fp64": "float64"}.get(dt, dt)
            t = measure_gemm(lib, np_dt if lib == "numpy" else dt, n, torch, mt)
            best_t[lib, dt, n] = min(best_t[lib, dt, n], t)
    rates: dict[str, dict[str, float]] = {}
    for (lib, dt, n), t in best_t.items():
        per_lib = rates.setdefault(dt, {})
        per_lib[lib] = max(per_lib.get(lib, 0.0), 2.0 * n**3 / t)
    fp32_t = {n: best_t["numpy", "fp32", n] for n in sizes}
    peaks = {dt: max(r.values()) for dt, r in rates.items()}
    eff = [2.0 * n**3 / peaks["fp32"] / max(t - overhead, 1e-9) for n, t in fp32_t.items()]
    eff = list(np.maximum.accumulate(np.minimum(eff, 1.0)))
    mcurve = _curve([2.0 * n**3 for n in sizes], eff,
                    f"{stamp}; fp32 square numpy GEMMs n={sizes[0]}..{sizes[-1]} (2 n^3 FLOPs), "
                    "best of runs over the fp32 peak, overhead taken off, non-decreasing")  # fmt: skip
    say("    " + ", ".join(f"{dt} {_rate(p, 'FLOP/s')}" for dt, p in peaks.items()))

    step(3, "vector engine: reduction rate over L1-resident data")
    l1 = caches[0].size if caches else 32 * 1024
    vec = {"fp32": 0.0, "fp64": 0.0}
    for _round in range(1 if quick else 2):
        for dt, item in (("fp32", 4), ("fp64", 8)):
            rate = best_stream(l1 / 4 * threads, pool, dtype=f"float{8 * item}",
                               target=16e6 if quick else 64e6, min_time=mt)  # fmt: skip
            vec[dt] = max(vec[dt], rate / item)
    say(f"    fp32 {_rate(vec['fp32'], 'FLOP/s')}, fp64 {_rate(vec['fp64'], 'FLOP/s')}")

    step(4, "memory: streaming read bandwidth per cache level and DRAM")
    fractions = (0.5,) if quick else (0.25, 0.5, 0.75)
    points: dict[str, list[float]] = {}
    prev = 0
    for c in caches:
        points[f"l{c.level}"] = sorted({max(prev * 1.25, f * c.capacity) for f in fractions})
        prev = c.capacity
    llc = max(prev, 32 * 1024**2)
    budget = available_memory() / 4
    points["dram"] = sorted({min(m * llc, budget) for m in ((2,) if quick else (2, 4))})
    # rounds spread the measurements of a point over time; a busy machine slows some of them
    bws = {k: [0.0] * len(v) for k, v in points.items()}
    for _round in range(1 if quick else 2):
        for k, pts in points.items():
            for i, size in enumerate(pts):
                target = size if k == "dram" else 64e6
                rate = best_stream(size, pool, target=target, min_time=mt)
                bws[k][i] = max(bws[k][i], rate)
    # a cache never reads slower than the memory behind it: a lower figure means it did not
    # hold the working set (or the machine was busy), and the slower level's rate stands
    raw = {k: list(v) for k, v in bws.items()}
    floor = 0.0
    for k in reversed(list(points)):
        bws[k] = [max(r, floor) for r in bws[k]]
        floor = max(bws[k])
    levels: dict[str, dict[str, Any]] = {}
    for c in caches:
        k = f"l{c.level}"
        levels[k] = _level("onchip", c.capacity, points[k], bws[k], raw[k], c.line, stamp,
                           f"L{c.level}: {c.size // 1024} KiB x {c.instances}")  # fmt: skip
        say(f"    {k} {_iec(c.capacity)}: " + ", ".join(_rate(b, "B/s") for b in bws[k]))
    line = caches[-1].line if caches else 64
    dram = physical_memory() // 1024**2 * 1024**2
    levels["dram"] = _level("device", dram, points["dram"], bws["dram"], raw["dram"], line,
                            stamp, "DRAM")  # fmt: skip
    say("    dram: " + ", ".join(_rate(b, "B/s") for b in bws["dram"]))
    pool.shutdown()

    step(5, "writing the spec")
    mpeak_src = "; ".join(f"{dt}: " + ", ".join(f"{lib} {_rate(r, 'FLOP/s')}" for lib, r in d.items())
                          for dt, d in rates.items())  # fmt: skip
    spec = {
        "name": name,
        "description": f"{model}, {threads} CPUs as measured by roofline calibrate on {today}",
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
            + ", ".join(f"{k} {v * 1e6:.3g} us" for k, v in over.items()) + " (the smaller)",
        },
        "assumptions": [
            f"All {threads} usable CPUs run every op (BLAS and torch threads = {threads}); "
            "numpy's elementwise loops use one.",
            "Cache capacities are the OS's figures summed over the instances this process may "
            "use; a shared cache may hold less for us when other tenants use it, which the "
            "efficiency curves show.",
            f"Calibration took {time.perf_counter() - t_start:.0f} s; load average before "
            f"{os.getloadavg()[0]:.2f} (a busy machine makes every figure lower).",
        ],
    }
    return spec


def _level(kind: str, capacity: float, sizes: list[float], bw: list[float], raw: list[float],
           line: int, stamp: str, what: str) -> dict[str, Any]:  # fmt: skip
    best = max(bw)
    curve = _curve(sizes, [b / best for b in bw], f"{stamp}; read rate at each working set "
                   "over the best")  # fmt: skip
    out: dict[str, Any] = {
        "kind": kind,
        "capacity": _iec(capacity),
        "bandwidth": _rate(best, "B/s"),
        "granularity": f"{line} B",
    }
    if curve:
        out["efficiency_curve"] = curve
    out["source"] = (f"{stamp}; {what}; best streaming read (np.max, BLAS gemv) at working sets "
                     + ", ".join(_iec(s) for s in sizes))  # fmt: skip
    out["note"] = ("measured: " + ", ".join(f"{_iec(s)} {_rate(b, 'B/s')}" for s, b in zip(sizes, raw))
                   + "; a rate below the next slower level's is raised to it")  # fmt: skip
    return out


def to_yaml(spec: dict[str, Any]) -> str:
    """The spec as YAML text (keys in the order written)."""
    import yaml

    header = "# Written by `python -m roofline calibrate`: every figure measured on this machine.\n"
    return header + yaml.safe_dump(spec, sort_keys=False, width=100, allow_unicode=True)


def progress_to_stderr(msg: str) -> None:
    """Print a progress line to stderr at once."""
    print(msg, file=sys.stderr, flush=True)
