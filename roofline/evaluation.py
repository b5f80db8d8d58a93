"""Vectorized roofline evaluation over (H device variants) x (B batches) x (O ops) x (L levels).

For op i at batch b on variant h (DESIGN.md, "The roofline model"):

* ``t_compute = padded_matrix_flops / (peak_matrix[dtype] * efficiency)
  + vector_flops / (peak_vector[dtype] * efficiency)``, where padding each GEMM's M, N, K up to the
  engine's tile shape gives tile utilization = flops / padded flops;
* ``t_L = bytes[L] / bandwidth[L]`` for each memory level, bytes placed by the policy;
* ``t = max(t_compute, max_L t_L) + per_op_overhead * launches``; the bound is the argmax.

Counts carry no H axis and hardware no op axis; broadcasting joins them, with no Python loop over H
or B. :func:`roofline.oracle.evaluate_one` is the scalar reference this must equal.
"""

from __future__ import annotations

import numpy as np

from roofline.budget import check_evaluation_size
from roofline.efficiency import derate
from roofline.errors import SpecError
from roofline.formulas import (
    check_launch,
    launch_overhead,
    op_time,
    padded_matrix_flops,
    strict_time,
)
from roofline.grid import HardwareGrid, to_grid
from roofline.hardware import Hardware
from roofline.kinds import EngineKind
from roofline.placement import Policy, get_policy
from roofline.records import CostTable
from roofline.result import Result


def padded_by_tile(ct: CostTable, grid: HardwareGrid) -> tuple[np.ndarray, np.ndarray]:
    """(padded matrix FLOPs per distinct tile shape [T, B, O], tile index per variant [H])."""
    if grid.tile is None:
        return ct.flops_matrix.T[None], np.zeros(grid.size, dtype=np.intp)
    idx, first = grid.tile_groups
    return np.stack([padded_matrix_flops(ct, grid.tile[i]).T for i in first]), idx


def matrix_work(ct: CostTable, grid: HardwareGrid) -> tuple[np.ndarray, np.ndarray]:
    """Return (padded matrix FLOPs [H or 1, B, O], tile utilization [H or 1, B, O])."""
    flops = ct.flops_matrix.T[None]
    if grid.tile is None:
        return flops, np.ones_like(flops)
    per_tile, idx = padded_by_tile(ct, grid)
    padded = per_tile[idx]
    util = np.divide(flops, padded, out=np.ones_like(padded), where=padded > 0)
    return padded, util


def evaluate_costs(
    ct: CostTable,
    hw: Hardware | HardwareGrid,
    policy: str | Policy | None = None,
    launch: str = "kernel",
) -> Result:
    """Evaluate a :class:`CostTable` on one device or a grid of variants; return a Result.

    ``launch`` is how launch overhead is paid: ``kernel`` (one per kernel, eager) or ``graph``
    (one per run, a captured CUDA graph). The Result carries the estimate (overheads, engine
    efficiency, tile padding, efficiency curves) and the strict roofline bound beside it.
    """
    check_launch(launch)
    grid = hw if isinstance(hw, HardwareGrid) else to_grid(hw)
    check_evaluation_size(grid.size, ct.batch.size, ct.n_ops, len(grid.level_names))
    pol = get_policy(policy)
    with np.errstate(all="ignore"):  # checked below: a non-finite time names its op
        result = _evaluate(ct, grid, pol, launch)
    check_finite(result)
    return result


def _evaluate(ct: CostTable, grid: HardwareGrid, pol: Policy, launch: str) -> Result:
    dtype = ct.precision.compute
    mpeak = grid.effective_peak(EngineKind.MATRIX, dtype)
    vpeak = grid.effective_peak(EngineKind.VECTOR, dtype)
    padded, util = matrix_work(ct, grid)
    t_matrix = padded / mpeak[:, None, None]
    t_vector = ct.flops_vector.T[None] / vpeak[:, None, None]
    place = pol.place(ct, grid)
    t_ideal = place.bytes / grid.bandwidth[:, None, None, :]
    t_compute, t_level, ideal = derate(
        ct, grid, t_matrix, t_vector, t_ideal, place.bytes, place.gathered
    )
    overhead = launch_overhead(grid.overhead, ct.launches, launch)
    time, bound = op_time(t_compute, t_level, overhead)
    strict = strict_time(
        ct.flops_matrix,
        ct.flops_vector,
        grid.peak(EngineKind.MATRIX, dtype),
        grid.peak(EngineKind.VECTOR, dtype),
        t_ideal,
    )
    return Result(
        costs=ct,
        grid=grid,
        policy=pol.name,
        time_s=time,
        compute_time_s=t_compute,
        level_time_s=t_level,
        bytes_moved=place.bytes,
        bound=bound,
        tile_utilization=np.broadcast_to(util, time.shape),
        overhead_s=np.broadcast_to(overhead, time.shape),
        feasible=place.feasible,
        shortfall_bytes=place.shortfall_bytes,
        footprint_bytes=place.footprint_bytes,
        devices_needed=place.devices_needed,
        matrix_peak=mpeak,
        ideal_time_s=time if ideal is None else ideal + overhead,
        strict_time_s=strict,
        launch=launch,
    )


def check_finite(result: Result) -> None:
    """A :class:`SpecError` naming the first op whose time or bytes are not finite and
    non-negative (numbers no result may carry: a null latency, a NaN bound)."""
    arrays = (
        result.time_s,
        result.compute_time_s,
        result.strict_time_s,
        result.level_time_s,
        result.bytes_moved,
    )
    if all(arr is None or finite_non_negative(arr) for arr in arrays):
        return
    ok = np.ones(result.time_s.shape, dtype=bool)  # [H, B, O]
    for arr in (result.time_s, result.compute_time_s, result.strict_time_s):
        if arr is not None:
            ok &= np.broadcast_to(np.isfinite(arr) & (arr >= 0), ok.shape)
    for arr in (result.level_time_s, result.bytes_moved):
        ok &= np.broadcast_to((np.isfinite(arr) & (arr >= 0)).all(axis=-1), ok.shape)
    if ok.all():
        return
    h, j, i = (int(x[0]) for x in np.nonzero(~ok))
    name = result.costs.names[i]
    raise SpecError(
        f"op {name!r} has no finite time at batch {result.costs.batch[j]:.6g} on "
        f"{result.grid.labels[h]} (sizes or rates beyond what can be evaluated)",
        field=f"ops.{name}",
        fix="check the op's sizes and the device's peaks, bandwidths and efficiencies",
    )


def finite_non_negative(arr: np.ndarray) -> bool:
    """Whether every value of ``arr`` is finite and >= 0: two reductions (NaN fails both
    comparisons), the common case of :func:`check_finite` without a mask per element."""
    return arr.size == 0 or bool(arr.min() >= 0.0 and arr.max() < np.inf)
