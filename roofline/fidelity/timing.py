"""Timing a call: repeated calls after a warm-up (:func:`time_calls`), and the median and best of
them as ``roofline validate`` reports a kernel or a whole model (:func:`measure`).

``calibrate`` takes the best of :func:`time_calls` (a peak is a best case); ``validate`` the
median (a typical call).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np


def time_calls(
    fn: Callable[[], Any],
    min_reps: int = 3,
    min_time: float = 0.05,
    max_reps: int = 2000,
    clock: str = "wall",
) -> np.ndarray:
    """Seconds of each timed call of ``fn`` after one warm-up call.

    Runs at least ``min_reps`` calls, then stops once ``min_time`` seconds have passed or
    ``max_reps`` calls are done (a slow ``fn`` thus runs exactly ``min_reps`` calls). ``clock`` is
    ``wall`` (elapsed time) or ``cpu`` (CPU time of this process: the time spent descheduled by
    other work does not count; with more than one thread it sums over them).
    """
    timer = time.process_time if clock == "cpu" else time.perf_counter
    fn()
    times: list[float] = []
    start = time.perf_counter()
    while True:
        t0 = timer()
        fn()
        times.append(timer() - t0)
        spent = time.perf_counter() - start
        if len(times) >= min_reps and (spent >= min_time or len(times) >= max_reps):
            break
    return np.asarray(times)


def measure(run: Callable[[], Any], quick: bool, clock: str = "wall") -> dict[str, float]:
    """Median and best seconds of ``run`` over repeated calls (after a warm-up) on ``clock``,
    and the number of calls: ``measured_s``, ``measured_min_s``, ``reps``."""
    if quick:
        t = time_calls(run, min_reps=3, min_time=0.01, clock=clock)
    else:
        t = time_calls(run, min_reps=5, min_time=0.2, clock=clock)
    return {"measured_s": float(np.median(t)), "measured_min_s": float(t.min()), "reps": len(t)}
