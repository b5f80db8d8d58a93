"""Shared helpers of the benchmark scripts: machine description and a target line."""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable


def machine() -> str:
    """One line naming the CPU, cores, Python and numpy."""
    import numpy as np

    cpu = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (
        f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"numpy {np.__version__}, load average {load:.2f}"
    )


def best_of(fn: Callable[[], object], repeat: int = 5) -> tuple[float, float]:
    """Return (best, median) wall seconds of ``fn`` over ``repeat`` runs."""
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times), statistics.median(times)


def report(name: str, value: float, target: float, unit: str, higher_is_better: bool) -> bool:
    """Print ``name: value unit (target ...) MET|MISSED``; return whether it is met."""
    ok = value >= target if higher_is_better else value <= target
    cmp = ">=" if higher_is_better else "<="
    print(
        f"{name}: {value:.4g} {unit} (target {cmp} {target:.4g} {unit}) {'MET' if ok else 'MISSED'}"
    )
    return ok


def function_calls(fn: Callable[[], object]) -> int:
    """Python and C function calls one ``fn()`` makes (``sys.setprofile`` events): unlike a
    time, the same on any machine and under any load, so it shows a change of per-call overhead
    that the noise of a shared VM hides. Run ``fn`` once before, so caches are warm."""
    import sys

    count = 0

    def tally(frame: object, event: str, arg: object) -> None:
        nonlocal count
        if event in ("call", "c_call"):
            count += 1

    sys.setprofile(tally)
    try:
        fn()
    finally:
        sys.setprofile(None)
    return count
