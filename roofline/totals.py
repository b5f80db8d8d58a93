"""Totals-only evaluation for sweeps: same numbers as :func:`~roofline.evaluation.evaluate_costs`,
without per-op arrays.

Two paths, both proven equal to the full evaluation in the tests:

* :func:`totals_direct` (any policy): placement depends only on capacities and granularities, so it
  runs once per distinct (capacity, granularity) row, and the time of each op is reduced level by
  level into a running max and argmax; memory is O(chunk x B x ops), never x levels.
* :func:`totals_ridge` (``SingleLevel`` only): every op has one compute term and one memory term,
  so an op is compute-bound exactly when its bytes-per-FLOP is below the ridge ratio
  (bandwidth / peak). With ops sorted by bytes-per-FLOP and prefix sums of FLOPs, bytes and
  launches, a variant's latency costs one binary search: O(log ops) instead of O(ops). Ops that
  use both engines (recurrent layers) are evaluated directly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from roofline import energy as en
from roofline.evaluation import evaluate_costs, padded_by_tile
from roofline.formulas import paid_launches
from roofline.grid import HardwareGrid, group_rows
from roofline.kinds import EngineKind
from roofline.placement import Policy, SingleLevel, get_policy
from roofline.records import CostTable


@dataclass(frozen=True, eq=False)
class RunEnergy:
    """Energy, power and cost of each (variant, batch) run [H, B] (:mod:`roofline.energy`; NaN
    without an energy model): the same numbers as the :class:`~roofline.result.Result`'s."""

    dynamic_j: np.ndarray
    energy_j: np.ndarray
    capped_latency_s: np.ndarray
    power_capped: np.ndarray
    avg_power_w: np.ndarray
    cost_per_sample: np.ndarray


def run_energy(
    ct: CostTable, grid: HardwareGrid, level_bytes: np.ndarray, latency_s: np.ndarray
) -> RunEnergy:
    """:class:`RunEnergy` from totals only: FLOPs per batch, ``level_bytes`` [H, B, L] (bytes
    each level serves in a run) and the uncapped ``latency_s`` [H, B]."""
    e = grid.energy_arrays()
    dtype = ct.precision.compute
    fm = ct.flops_matrix.sum(axis=0)[None, :]
    fv = ct.flops_vector.sum(axis=0)[None, :]
    dyn = fm * grid.energy_per_flop(EngineKind.MATRIX, dtype)[:, None]
    dyn = dyn + fv * grid.energy_per_flop(EngineKind.VECTOR, dtype)[:, None]
    dyn = dyn + en.level_energy(level_bytes, e.level).sum(axis=-1)
    floor = en.power_floor_s(dyn, e.tdp, e.idle)
    capped = en.capped_latency(latency_s, floor)
    energy = en.run_energy(dyn, e.idle, capped)
    per = en.per_sample(energy, ct.batch[None, :])
    cost = en.cost_per_sample(e, en.per_sample(capped, ct.batch[None, :]), per)
    return RunEnergy(
        dyn,
        energy,
        capped,
        en.is_capped(latency_s, floor),
        en.average_power(energy, capped),
        cost,
    )


@dataclass(frozen=True, eq=False)
class Totals:
    """Per (variant, batch) totals; ``bound_time_s`` is [H, B, 2 + L]: compute, the levels, and
    the per-op overhead (as :meth:`roofline.result.Result.time_by_bound`); ``energy`` the
    run's energy, power and cost."""

    latency_s: np.ndarray
    bound_time_s: np.ndarray
    feasible: np.ndarray
    shortfall_bytes: np.ndarray
    devices_needed: np.ndarray
    matrix_peak: np.ndarray
    energy: RunEnergy | None = None


def _rates(ct: CostTable, grid: HardwareGrid) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(effective matrix peak, its inverse, the vector peak's inverse) [H] at the compute dtype."""
    mpeak = grid.effective_peak(EngineKind.MATRIX, ct.precision.compute)
    vpeak = grid.effective_peak(EngineKind.VECTOR, ct.precision.compute)
    return mpeak, 1.0 / mpeak, 1.0 / vpeak


def totals_direct(
    ct: CostTable,
    grid: HardwareGrid,
    policy: str | Policy | None = None,
    launch: str = "kernel",
) -> Totals:
    """Latency and time per bound for every variant and batch (any placement policy)."""
    pol = get_policy(policy)
    H, L = grid.capacity.shape
    B = ct.batch.size
    mpeak, inv_m, inv_v = _rates(ct, grid)
    padded, tile_idx = padded_by_tile(ct, grid)
    fv = ct.flops_vector.T  # [B, O]
    launches = ct.launches
    inv_bw = 1.0 / grid.bandwidth
    latency = np.empty((H, B))
    bound_time = np.zeros((H, B, 2 + L))
    feasible = np.empty((H, B), dtype=bool)
    shortfall = np.empty((H, B))
    devices = np.empty((H, B))
    level_bytes = np.zeros((H, B, L))
    group = group_rows(np.concatenate([grid.capacity, grid.granularity], axis=1))
    n_groups = int(group.max()) + 1 if H else 0
    # few capacity configurations: place once per configuration (no H axis on the bytes);
    # many: place the whole chunk at once, vectorized over variants
    batches = [np.flatnonzero(group == u) for u in range(n_groups)] if n_groups <= 8 else [None]
    for hs in batches:
        pick: slice | int
        if hs is None:
            hs = np.arange(H)
            place = pol.place(ct, grid)
            moved = place.bytes  # [H, B, O, L]
            pick = slice(None)
        else:
            place = pol.place(ct, grid.take(hs[:1]))
            moved = place.bytes[0][None]  # [1, B, O, L]
            pick = 0
        best = padded[tile_idx[hs]] * inv_m[hs, None, None]
        best += fv[None] * inv_v[hs, None, None]
        arg = np.zeros(best.shape, dtype=np.int8)
        slower = np.empty(best.shape, dtype=bool)
        t = np.empty_like(best)
        for lvl in range(L):
            col = moved[..., lvl]
            if not col.any():
                continue
            np.multiply(col, inv_bw[hs, lvl][:, None, None], out=t)
            np.greater(t, best, out=slower)
            np.copyto(best, t, where=slower)
            np.copyto(arg, lvl + 1, where=slower)
        kinds = np.unique(arg)
        if kinds.size == 1:
            bound_time[hs, :, kinds[0]] = best.sum(axis=-1)
        else:
            for k in kinds:
                np.multiply(best, arg == k, out=t)
                bound_time[hs, :, k] = t.sum(axis=-1)
        over = grid.overhead[hs, None] * paid_launches(launches, launch)
        bound_time[hs, :, 1 + L] = over
        latency[hs] = bound_time[hs, :, : 1 + L].sum(axis=-1) + over
        feasible[hs] = place.feasible[pick]
        shortfall[hs] = place.shortfall_bytes[pick]
        devices[hs] = place.devices_needed[pick]
        if grid.energy is not None:
            level_bytes[hs] = moved.sum(axis=-2)
    energy = run_energy(ct, grid, level_bytes, latency) if grid.energy is not None else None
    return Totals(latency, bound_time, feasible, shortfall, devices, mpeak, energy)


def totals_full(
    ct: CostTable,
    grid: HardwareGrid,
    policy: str | Policy | None = None,
    launch: str = "kernel",
) -> Totals:
    """Totals through the full evaluation (devices with size-dependent efficiency curves)."""
    r = evaluate_costs(ct, grid, policy, launch=launch)
    energy = None
    if grid.energy is not None:
        energy = run_energy(ct, grid, r.bytes_moved.sum(axis=-2), r.latency_s)
    return Totals(
        r.latency_s,
        r.time_by_bound(),
        r.feasible,
        r.shortfall_bytes,
        r.devices_needed,
        r.matrix_peak,
        energy,
    )


def totals_ridge(ct: CostTable, grid: HardwareGrid, launch: str = "kernel") -> Totals:
    """:func:`totals_direct` for the ``SingleLevel`` policy in O(log ops) per variant."""

    pol = SingleLevel()
    H, L = grid.capacity.shape
    B = ct.batch.size
    main = grid.main
    mpeak, inv_m, inv_v = _rates(ct, grid)
    padded, tile_idx = padded_by_tile(ct, grid)
    fv = ct.flops_vector.T
    inv_bw = 1.0 / grid.bandwidth[:, main]
    over = grid.overhead
    latency = np.zeros((H, B))
    bound_time = np.zeros((H, B, 2 + L))
    level_bytes = np.zeros((H, B, L))
    # under SingleLevel the bytes depend only on main memory's granularity, and feasibility is
    # a comparison with its capacity: both vectorize without grouping by capacity
    v = pol.verdict(ct, grid)
    feasible, shortfall, devices = v.feasible, v.shortfall_bytes, v.devices_needed
    group = group_rows(grid.granularity[:, main : main + 1])
    for u in np.unique(group):
        hs = np.flatnonzero(group == u)
        moved = pol.place(ct, grid.take(hs[:1])).bytes[0, :, :, main]  # [B, O]
        level_bytes[hs, :, main] = moved.sum(axis=-1)[None, :]
        for t in np.unique(tile_idx[hs]):
            ht = hs[tile_idx[hs] == t]
            fm = padded[t]  # [B, O]
            for j in range(B):
                comp, mem = _ridge_one(fm[j], fv[j], moved[j], inv_m[ht], inv_v[ht], inv_bw[ht])
                overhead = over[ht] * paid_launches(ct.launches, launch)
                latency[ht, j] = comp + mem + overhead
                bound_time[ht, j, 0] = comp
                bound_time[ht, j, 1 + main] = mem
                bound_time[ht, j, 1 + L] = overhead
    energy = run_energy(ct, grid, level_bytes, latency) if grid.energy is not None else None
    return Totals(latency, bound_time, feasible, shortfall, devices, mpeak, energy)


def _ridge_one(fm, fv, moved, inv_m, inv_v, inv_bw):
    """Compute-bound and memory-bound roofline time [h] of one batch (launch overhead apart).

    Ops on one engine only are summed by prefix sums over ops sorted by bytes per FLOP (one
    binary search per variant); ops on both engines (or neither) are evaluated directly.
    """
    h = inv_m.size
    comp = np.zeros(h)
    mem = np.zeros(h)
    only_m = (fv == 0) & (fm > 0)
    only_v = (fm == 0) & (fv > 0)
    mixed = (fm > 0) & (fv > 0)
    none = (fm == 0) & (fv == 0) & (moved > 0)
    for mask, work, inv_p in ((only_m, fm, inv_m), (only_v, fv, inv_v)):
        if not mask.any():
            continue
        w, by = work[mask], moved[mask]
        order = np.argsort(by / w, kind="stable")
        key = (by / w)[order]
        cw = np.concatenate([[0.0], np.cumsum(w[order])])
        cb = np.concatenate([[0.0], np.cumsum(by[order])])
        # compute-bound iff w * inv_p >= by * inv_bw  <=>  by / w <= inv_p / inv_bw
        idx = np.searchsorted(key, inv_p / inv_bw, side="right")
        comp += cw[idx] * inv_p
        mem += (cb[-1] - cb[idx]) * inv_bw
    if mixed.any():
        tc = np.multiply.outer(inv_m, fm[mixed])
        tc += np.multiply.outer(inv_v, fv[mixed])
        tm = np.multiply.outer(inv_bw, moved[mixed])
        slower = tm > tc  # ties go to compute, as argmax does in the full evaluation
        total = np.maximum(tc, tm, out=tc).sum(axis=1)
        m = np.where(slower, tm, 0.0).sum(axis=1)
        mem += m
        comp += total - m
    if none.any():
        mem += moved[none].sum() * inv_bw
    return comp, mem
