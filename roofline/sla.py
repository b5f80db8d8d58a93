"""Batch sizes under a latency target: the largest batch that meets it, and the batch that gives
the most throughput while meeting it.

The two differ: latency is non-decreasing in batch, but throughput ``B / latency(B)`` is not
monotone. Where a larger batch spills activations or weights from on-chip memory to DRAM its
latency jumps, and a smaller batch that still fits on chip can deliver more samples per second
(resnet50 int8 on an L4 under 10 ms: the largest batch is 56, yet batch 24 gives nearly twice its
throughput). ``compare --sla``, ``plot batch --sla`` and :func:`batches_under_sla` run the same
search.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from typing import NamedTuple

import numpy as np

from roofline.api import HardwareLike, ModelLike, default_dtype
from roofline.counting import count_graph
from roofline.errors import SpecError
from roofline.evaluation import evaluate_costs
from roofline.formulas import throughput
from roofline.placement import Policy
from roofline.precision import Precision
from roofline.presets import load_device, load_model
from roofline.units import Dim, parse_quantity

#: the largest batch the search considers
MAX_BATCH = 2**24
#: every batch up to this one is evaluated for the best throughput; above, a grid of batches
#: 0.5% apart, then every batch between the best grid point's neighbours
EXACT_UP_TO = 4096
#: batches evaluated in one vectorized call
CHUNK = 4096
#: spacing of the grid above :data:`EXACT_UP_TO`
GRID_RATIO = 1.005


@dataclass(frozen=True)
class BatchesUnderSLA:
    """The batch searches under one latency target (``sla_s``, seconds) on one device.

    Attributes
    ----------
    sla_s : float
        The latency target, seconds.
    max_batch_under_sla : int
        The largest batch whose latency meets the target (0: not even batch 1 does).
    latency_at_max_batch_s, throughput_at_max_batch_per_s : float
        Its latency (s; NaN when none) and throughput (samples/s; 0 when none).
    best_batch_under_sla : int
        The batch with the most throughput among those that meet the target (the smallest such
        batch on a tie; 0 when none).
    latency_at_best_batch_s, throughput_at_best_batch_per_s : float
        Its latency (s) and throughput (samples/s).
    """

    sla_s: float
    max_batch_under_sla: int
    latency_at_max_batch_s: float
    throughput_at_max_batch_per_s: float
    best_batch_under_sla: int
    latency_at_best_batch_s: float
    throughput_at_best_batch_per_s: float

    def columns(self) -> dict[str, float | int | None]:
        """The fields as table columns, in :data:`SLA_COLUMNS` order; when no batch meets the
        target, every column but ``sla_s`` is None (``-`` in a table, null in JSON, empty in
        CSV), not a batch or a throughput of 0."""
        cols: dict[str, float | int | None] = dict(asdict(self))
        if self.max_batch_under_sla == 0:
            cols.update({k: None for k in cols if k != "sla_s"})
        return cols


#: the columns ``compare --sla`` adds (the fields of :class:`BatchesUnderSLA`)
SLA_COLUMNS = tuple(f.name for f in fields(BatchesUnderSLA))

Latencies = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


def meets(latency_s: np.ndarray, target_s: float, feasible: np.ndarray | None = None) -> np.ndarray:
    """Whether each point meets a latency target: its latency (seconds) at most ``target_s``,
    and, where ``feasible`` is given, the point fits the device (the rule of the SLA search and
    of the batch chart's mark)."""
    ok = latency_s <= target_s
    return ok if feasible is None else ok & feasible


def batches_under_sla(
    model: ModelLike,
    hw: HardwareLike,
    sla: float | str,
    dtype: str | Precision | None = None,
    policy: str | Policy | None = None,
    fuse: bool = True,
    feasible_only: bool = True,
) -> BatchesUnderSLA:
    """Return the largest batch and the best-throughput batch of ``model`` on device ``hw``
    whose latency meets ``sla`` (seconds, or text with its unit: ``"10 ms"``).

    Latency is non-decreasing in batch (counts grow with batch, spilling only adds traffic), so
    the largest batch is bracketed on powers of two and refined. Every batch up to it meets the
    target; the best throughput among them is found exactly up to :data:`EXACT_UP_TO` (every
    batch evaluated) and, above, on a grid :data:`GRID_RATIO` apart refined to every batch around
    its best point.

    Parameters
    ----------
    dtype : str or Precision, optional
        Default: the device's ``default_dtype``.
    feasible_only : bool
        Count only batches whose footprint fits the device (a batch that does not fit meets no
        target).
    """
    try:
        target = parse_quantity(sla, Dim.TIME)
    except SpecError as exc:
        raise exc.with_context(prefix="sla") from None
    m = load_model(model)
    dev = load_device(hw)
    dt = default_dtype(dev) if dtype is None else dtype

    def latencies(batches: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(meets the target, latency s) of each batch."""
        good, lat = [], []
        for s in range(0, batches.size, CHUNK):
            b = batches[s : s + CHUNK].astype(float)
            r = evaluate_costs(count_graph(m.graph, b, dt, fuse=fuse), dev, policy)
            good.append(meets(r.latency_s[0], target, r.feasible[0] if feasible_only else None))
            lat.append(r.latency_s[0])
        return np.concatenate(good), np.concatenate(lat)

    largest, lat_max = _largest(latencies)
    if largest == 0:
        nan = float("nan")
        return BatchesUnderSLA(target, 0, nan, 0.0, 0, nan, 0.0)
    best, lat_best = _best(latencies, largest)
    return BatchesUnderSLA(
        target, largest, lat_max, largest / lat_max, best, lat_best, best / lat_best
    )


def _largest(latencies: Latencies) -> tuple[int, float]:
    """(the largest batch meeting the target, its latency); (0, NaN) when batch 1 misses."""
    grid = 2 ** np.arange(0, int(np.log2(MAX_BATCH)) + 1)
    good, lat = latencies(grid)
    if not good[0]:
        return 0, float("nan")
    k = int(np.flatnonzero(good)[-1])  # the last good power of two; the next one bounds it
    lo, hi = int(grid[k]), int(grid[k + 1]) if k + 1 < grid.size else int(grid[k])
    best_lat = float(lat[k])
    while hi - lo > 1:
        cand = np.unique(np.linspace(lo, hi, num=min(64, hi - lo + 1)).astype(int))
        g, la = latencies(cand)
        j = int(np.flatnonzero(g)[-1])
        lo, best_lat = int(cand[j]), float(la[j])
        if j + 1 == cand.size:
            break
        hi = int(cand[j + 1])
    return lo, best_lat


def _best(latencies: Latencies, largest: int) -> tuple[int, float]:
    """(the batch of most throughput among 1..``largest``, its latency): every batch meets the
    target there (latency is non-decreasing in batch)."""
    exact = np.arange(1, min(largest, EXACT_UP_TO) + 1)
    if largest > EXACT_UP_TO:
        n = int(np.ceil(np.log(largest / EXACT_UP_TO) / np.log(GRID_RATIO)))
        above = np.unique(np.round(EXACT_UP_TO * GRID_RATIO ** np.arange(1, n + 1)).astype(int))
        exact = np.concatenate([exact, above[above < largest], [largest]])
    k, lat_k = _argmax_throughput(exact, *latencies(exact))
    if exact[k] > EXACT_UP_TO:  # refine between the grid neighbours of the best grid point
        near = np.arange(int(exact[k - 1]), int(exact[min(k + 1, exact.size - 1)]) + 1)
        j, lat_j = _argmax_throughput(near, *latencies(near))
        return int(near[j]), lat_j
    return int(exact[k]), lat_k


def _argmax_throughput(batches: np.ndarray, good: np.ndarray, lat: np.ndarray) -> tuple[int, float]:
    """(index of the most samples per second among the ``good`` batches, its latency)."""
    thr = np.where(good, throughput(batches, lat), -np.inf)
    k = int(np.argmax(thr))
    return k, float(lat[k])


class LargestBatch(NamedTuple):
    """What the deprecated :func:`max_batch_under` returns: the largest batch meeting the target
    (0 when none), its latency (s) and its throughput (samples/s)."""

    batch: int
    latency_s: float
    throughput_per_s: float


def max_batch_under(
    model: ModelLike,
    hw: HardwareLike,
    target_s: float | str,
    dtype: str | Precision | None = None,
    policy: str | Policy | None = None,
    fuse: bool = True,
    feasible_only: bool = True,
) -> LargestBatch:
    """Deprecated: the largest batch only. :func:`batches_under_sla` returns it beside the batch
    of most throughput, which is usually the one to run at."""
    warnings.warn(
        "max_batch_under is deprecated: batches_under_sla returns the largest batch beside the "
        "batch of most throughput (often a smaller one)",
        DeprecationWarning,
        stacklevel=2,
    )
    r = batches_under_sla(model, hw, target_s, dtype, policy, fuse, feasible_only)
    return LargestBatch(
        r.max_batch_under_sla, r.latency_at_max_batch_s, r.throughput_at_max_batch_per_s
    )
