"""What a knob buys: latency-bound batch, one-knob sensitivity rankings, and device diffs."""

from __future__ import annotations

from typing import Any

import numpy as np

from .counting import count_graph
from .errors import SpecError
from .evaluate import evaluate_costs
from .hardware import Hardware, vary
from .table import Table
from .units import Dim, parse_quantity
from .zoo import load_hardware, load_model

MAX_BATCH = 2**24


def max_batch_under(
    model: Any,
    hw: Any,
    target_s: float | str,
    dtype: str = "fp32",
    policy: Any = None,
    fuse: bool = True,
    feasible_only: bool = True,
) -> tuple[int, float, float]:
    """Return (largest batch with latency <= target, its latency in s, its throughput per s).

    Latency is non-decreasing in batch (every count is affine in batch with a non-negative slope,
    and spilling only adds traffic), so the answer is bracketed on a power-of-two grid and then
    refined with vectorized evaluations of up to 64 batches at a time. Returns ``(0, nan, 0.0)``
    when even batch 1 misses the target (or does not fit, with ``feasible_only``).
    """
    target = parse_quantity(target_s, Dim.TIME)
    m = load_model(model)
    dev = hw if isinstance(hw, Hardware) else load_hardware(hw)

    def ok(batches: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        r = evaluate_costs(count_graph(m.graph, batches, dtype, fuse=fuse), dev, policy)
        lat = r.latency_s[0]
        good = lat <= target
        if feasible_only:
            good &= r.feasible[0]
        return good, lat

    grid = 2.0 ** np.arange(0, int(np.log2(MAX_BATCH)) + 1)
    good, lat = ok(grid)
    if not good[0]:
        return 0, float("nan"), 0.0
    # last good power of two; the first bad one bounds the answer (monotone latency)
    k = int(np.flatnonzero(good)[-1])
    lo, hi = int(grid[k]), int(grid[k + 1]) if k + 1 < grid.size else int(grid[k])
    best_lat = float(lat[k])
    while hi - lo > 1:
        cand = np.unique(np.linspace(lo, hi, num=min(64, hi - lo + 1)).astype(int))
        g, la = ok(cand.astype(float))
        idx = np.flatnonzero(g)
        j = int(idx[-1])
        lo, best_lat = int(cand[j]), float(la[j])
        if j + 1 < cand.size:
            hi = int(cand[j + 1])
        else:
            break
    return lo, best_lat, lo / best_lat


def sla_columns(model: Any, hw: Any, target: str, dtype: str, policy: Any, fuse: bool) -> list:
    """``[sla_s, max_batch_under_sla, latency_at_max_batch_s, throughput_at_max_batch_per_s]``."""
    t = parse_quantity(target, Dim.TIME)
    b, lat, thr = max_batch_under(model, hw, t, dtype, policy, fuse)
    return [t, b, lat, thr]


def _require(cond: bool, problem: str, field: str, fix: str) -> None:
    if not cond:
        raise SpecError(problem, field=field, fix=fix)
