"""One pipeline stage on one device over the columns of its count table: what a system's totals
and a generation table read of it.

A stage's :class:`StageCosts` holds, per column (a batch, or a (batch, length) point): its
latency (estimate and strict bound), its seconds by bound, its capacity verdict, its footprint
and its dynamic joules; and it gives a decode's mean step over a range of contexts
(:meth:`StageCosts.step_means`). :func:`stage_costs` makes it one of two ways:

* **lean** (:func:`op_seconds`): the estimate's compute seconds, the strict bound's and each
  level's seconds per op and column, component-major ([O, C] and [L, O, C], the columns
  contiguous), with the placement of the built-in policies written for one device. It is
  :func:`roofline.evaluation.evaluate_costs` without the per-op arrays of a
  :class:`~roofline.result.Result` no stage reads: its totals are the full evaluation's to the
  bit (each sum runs over the ops in a Result's order and grouping), a decode's mean within the
  last bits (the envelopes are summed in another order); ``tests/test_stage_costs.py`` holds
  both.
* **full**: a :class:`~roofline.result.Result` (a device with efficiency curves, a policy of the
  user's own; counts whose times are not finite, so that the evaluation names the op).

Each op's decode time is the upper envelope of its components (compute, each level), each affine
in the context; where one component is on top at both ends of a range it is on top throughout,
and the sum over the steps is their count times the mean of its end values. The other
(op, point) pairs go to :func:`~roofline.serving.envelope.envelope_sum`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Protocol

import numpy as np

from roofline import energy as en
from roofline.budget import check_evaluation_size
from roofline.efficiency import has_curves
from roofline.evaluation import evaluate_costs, finite_non_negative
from roofline.formulas import footprint, gather_bytes, launch_overhead, padded_matrix_flops
from roofline.grid import HardwareGrid, to_grid
from roofline.hardware import Hardware
from roofline.kinds import EngineKind
from roofline.placement import CapacityAware, Policy, SingleLevel, first_fit, get_policy, verdict
from roofline.records import CostTable
from roofline.result import Result
from roofline.serving.envelope import chord_lines, envelope_sum

#: (mean step seconds [P], its strict bound [P], mean seconds by bound [P, K + 1])
StepMeans = tuple[np.ndarray, np.ndarray, np.ndarray]
#: (latency [C], strict-bound latency [C], seconds by bound [C, K + 1]) of one run per column
Totals = tuple[np.ndarray, np.ndarray, np.ndarray]


class StageCosts(Protocol):
    """One stage on one device over C columns (K = 1 + L bounds: compute, then each level).

    Attributes
    ----------
    latency_s, latency_bound_s : ndarray [C]
        A run's seconds: the estimate, and the strict roofline bound.
    by_bound_s : ndarray [C, K + 1]
        Each op's roofline seconds summed under its bound, the launch overhead last (as
        :meth:`roofline.result.Result.time_by_bound`).
    feasible, devices_needed, footprint_bytes, shortfall_bytes : ndarray [C]
        The placement's capacity verdict.
    dynamic_j : ndarray [C]
        Joules of every op's FLOPs and bytes (NaN without an energy model).
    policy, dtype : str
        The placement policy's name and the precision's.
    """

    @property
    def latency_s(self) -> np.ndarray: ...
    @property
    def latency_bound_s(self) -> np.ndarray: ...
    @property
    def by_bound_s(self) -> np.ndarray: ...
    @property
    def feasible(self) -> np.ndarray: ...
    @property
    def devices_needed(self) -> np.ndarray: ...
    @property
    def footprint_bytes(self) -> np.ndarray: ...
    @property
    def shortfall_bytes(self) -> np.ndarray: ...
    @property
    def dynamic_j(self) -> np.ndarray: ...
    @property
    def policy(self) -> str: ...
    @property
    def dtype(self) -> str: ...

    def totals(self, upto: int | None = None) -> Totals:
        """(``latency_s``, ``latency_bound_s``, ``by_bound_s``) of the first ``upto`` columns
        (None: all), each column's as in the whole arrays."""
        ...

    def step_means(
        self, lo_col: np.ndarray, hi_col: np.ndarray, lo: np.ndarray, hi: np.ndarray
    ) -> StepMeans:
        """(mean step seconds [P], its strict bound [P], mean seconds by bound [P, K + 1]) of
        the decode steps over contexts ``lo``..``hi`` [P] whose ends are columns ``lo_col``,
        ``hi_col`` [P] (module docstring)."""
        ...


def stage_costs(
    ct: CostTable, device: Hardware, policy: str | Policy | None, launch: str
) -> StageCosts:
    """:class:`StageCosts` of a fused or unfused count table on one device: lean where it
    applies (module docstring), else from the full evaluation."""
    grid = to_grid(device)
    pol = get_policy(policy)
    seconds = op_seconds(ct, grid, pol, launch)
    if seconds is None:
        return FullStage(evaluate_costs(ct, grid, pol, launch))
    return LeanStage(seconds, pol.name, ct.precision.name)


@dataclass(frozen=True, eq=False)
class OpSeconds:
    """One device's roofline over the C columns of a count table (O ops, L levels).

    Attributes
    ----------
    compute : ndarray [O, C]
        The estimate's compute seconds: padded matrix FLOPs over the effective matrix peak plus
        vector FLOPs over the effective vector peak.
    strict_compute : ndarray [O, C]
        The strict bound's: FLOPs over the dense peaks, no padding.
    levels : ndarray [L, O, C]
        Seconds of the bytes each level serves (bytes / bandwidth).
    level_max, level_top : ndarray [O, C]
        The largest of them and its level (the first, on ties).
    overhead : ndarray [O]
        Launch overhead seconds of each op (the same in every column).
    feasible, devices_needed, footprint_bytes, shortfall_bytes : ndarray [C]
        The placement's capacity verdict.
    dynamic_j : ndarray [C]
        Joules of every op's FLOPs and bytes (NaN without an energy model).
    """

    compute: np.ndarray
    strict_compute: np.ndarray
    levels: np.ndarray
    level_max: np.ndarray
    level_top: np.ndarray
    overhead: np.ndarray
    feasible: np.ndarray
    devices_needed: np.ndarray
    footprint_bytes: np.ndarray
    shortfall_bytes: np.ndarray
    dynamic_j: np.ndarray

    def upto(self, n: int | None) -> OpSeconds:
        """The first ``n`` columns (views; None: all of them)."""
        if n is None or n >= self.compute.shape[1]:
            return self
        return self.columns(slice(n))

    def columns(self, cols: slice) -> OpSeconds:
        """The columns ``cols`` (views)."""
        return OpSeconds(
            compute=self.compute[:, cols],
            strict_compute=self.strict_compute[:, cols],
            levels=self.levels[:, :, cols],
            level_max=self.level_max[:, cols],
            level_top=self.level_top[:, cols],
            overhead=self.overhead,
            feasible=self.feasible[cols],
            devices_needed=self.devices_needed[cols],
            footprint_bytes=self.footprint_bytes[cols],
            shortfall_bytes=self.shortfall_bytes[cols],
            dynamic_j=self.dynamic_j[cols],
        )


def op_seconds(ct: CostTable, grid: HardwareGrid, policy: Policy, launch: str) -> OpSeconds | None:
    """:class:`OpSeconds` of ``ct`` on ``grid``'s one device under ``policy`` and ``launch``;
    None where the full evaluation must run instead (a policy other than the built-in two, whose
    rules this one writes for one device; a device with efficiency curves; counts whose times
    are not finite, which it names)."""
    if grid.size != 1 or has_curves(grid) or type(policy) not in (CapacityAware, SingleLevel):
        return None
    check_evaluation_size(1, ct.batch.size, ct.n_ops, len(grid.level_names))
    dtype = ct.precision.compute
    with np.errstate(all="ignore"):
        if isinstance(policy, CapacityAware):
            moved, feasible, devices, held, short = _capacity_bytes(ct, grid)
        else:
            moved, feasible, devices, held, short = _single_bytes(ct, grid)
        padded = ct.flops_matrix if grid.tile is None else padded_matrix_flops(ct, grid.tile[0])
        compute = padded / grid.effective_peak(EngineKind.MATRIX, dtype)[0]
        compute = compute + ct.flops_vector / grid.effective_peak(EngineKind.VECTOR, dtype)[0]
        strict = ct.flops_matrix / grid.peak(EngineKind.MATRIX, dtype)[0]
        strict = strict + ct.flops_vector / grid.peak(EngineKind.VECTOR, dtype)[0]
        # per column, op and part [C, O, 1 + L], summed as a Result sums them (the same bits)
        parts = np.empty((moved.shape[2], moved.shape[1], 1 + moved.shape[0]))
        parts[..., 0] = en.compute_energy(
            ct.flops_matrix,
            ct.flops_vector,
            grid.energy_per_flop(EngineKind.MATRIX, dtype),
            grid.energy_per_flop(EngineKind.VECTOR, dtype),
        )[0]
        e_level = grid.energy_arrays().level
        parts[..., 1:] = en.level_energy(moved.transpose(2, 1, 0)[None], e_level)[0]
        joules = parts.sum(axis=(-2, -1))
        levels = np.divide(moved, grid.bandwidth[0][:, None, None], out=moved)  # moved is ours
        if not all(finite_non_negative(a) for a in (compute, strict, levels)):
            return None  # the full evaluation names the op
    overhead = launch_overhead(grid.overhead, ct.launches, launch)[0, 0]
    level_max, level_top = _levels_top(levels)
    return OpSeconds(
        compute=compute,
        strict_compute=strict,
        levels=levels,
        level_max=level_max,
        level_top=level_top,
        overhead=overhead,
        feasible=feasible,
        devices_needed=devices,
        footprint_bytes=held,
        shortfall_bytes=short,
        dynamic_j=joules,
    )


def _capacity_bytes(ct: CostTable, grid: HardwareGrid) -> tuple[np.ndarray, ...]:
    """(bytes [L, O, C], feasible [C], devices needed [C], footprint [C], shortfall [C]) under
    :class:`~roofline.placement.CapacityAware` on one device (its rules, in this layout)."""
    L, (O, C) = len(grid.level_names), ct.live_act_bytes.shape
    main, cap = grid.main, grid.capacity[0]
    fp = footprint(ct)
    live = ct.live_act_bytes
    resident = np.full(C, -1)
    act_lvl = np.full((O, C), main)
    whole = fp.dense_weight_bytes + fp.peak_activation_bytes  # [C]
    for lvl in reversed(grid.onchip_levels):
        resident[whole <= cap[lvl]] = lvl
        act_lvl[live <= cap[lvl]] = lvl
    is_res = resident >= 0
    w_lvl = None  # main memory in every column, the common case (weights that do not fit on chip)
    if is_res.any():
        w_lvl = np.where(is_res, resident, main)
    act = ct.act_in_bytes + ct.act_out_bytes
    used = np.zeros((L, C))
    moved = np.zeros((L, O, C))
    # activations and dense weights sit on chip or in main memory, never in a host tier
    for lvl in (*grid.onchip_levels, main):
        act_at = act_lvl == lvl
        used[lvl] = np.where(act_at, live, 0.0).max(axis=0)
        acts = np.where(act_at, act, 0.0)
        if w_lvl is None:  # no mask: adding 0.0 where the weights are not is the identity
            if lvl == main:
                used[lvl] += fp.dense_weight_bytes
                np.add(ct.weight_read_bytes, acts, out=moved[lvl])
            else:
                np.add(acts, 0.0, out=moved[lvl])
            continue
        w_at = w_lvl == lvl
        used[lvl] += np.where(w_at, fp.dense_weight_bytes, 0.0)
        moved[lvl] = np.where(w_at, ct.weight_read_bytes, 0.0) + acts
    used[main] += fp.kv_cache_bytes
    shortfall = np.maximum(0.0, used[main] - cap[main])
    tables = np.flatnonzero(ct.is_table)
    if tables.size:
        density = ct.gather_rows[tables, 0] / np.maximum(ct.weight_bytes[tables], 1.0)
        order = tables[np.argsort(-density, kind="stable")]
        placed_at, short = first_fit(ct.weight_bytes[order], (cap[:, None] - used).T)  # [C, T]
        shortfall = shortfall + short
        table_lvl = placed_at.T  # [T, C]
        for lvl in range(L):
            at = table_lvl == lvl
            if at.any():
                rows = gather_bytes(ct, grid.granularity[:, lvl])[0].T[order]  # [T, C]
                moved[lvl, order] += np.where(at, rows, 0.0)
    moved[main] += ct.kv_bytes
    v = verdict(fp, shortfall[None], grid, C)
    return moved, v.feasible[0], v.devices_needed[0], v.footprint_bytes[0], v.shortfall_bytes[0]


def _single_bytes(ct: CostTable, grid: HardwareGrid) -> tuple[np.ndarray, ...]:
    """(bytes [L, O, C], feasible [C], devices needed [C], footprint [C], shortfall [C]) under
    :class:`~roofline.placement.SingleLevel`: everything from main memory."""
    main = grid.main
    moved = np.zeros((len(grid.level_names), *ct.flops_matrix.shape))
    stream = ct.weight_read_bytes + ct.act_in_bytes + ct.act_out_bytes + ct.kv_bytes
    moved[main] = stream + gather_bytes(ct, grid.granularity[:, main])[0].T
    v = SingleLevel.verdict(ct, grid)
    return moved, v.feasible[0], v.devices_needed[0], v.footprint_bytes[0], v.shortfall_bytes[0]


def _top(
    compute: np.ndarray, level_max: np.ndarray, level_top: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(each op's largest component, its index: 0 compute, 1 + l level l; ties to the lower
    index, as ``argmax``) from compute seconds, the levels' largest seconds and its level."""
    on_top = compute >= level_max
    return np.where(on_top, compute, level_max), np.where(on_top, 0, level_top + 1)


def _levels_top(levels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(the largest seconds over the levels [...], the first level that has them) of
    ``levels`` [L, ...] (elementwise, level after level: far faster than a reduction over a
    short first axis)."""
    most = levels[0]
    top = np.zeros(most.shape, dtype=np.intp)
    for lvl in range(1, levels.shape[0]):
        np.copyto(top, lvl, where=levels[lvl] > most)
        most = np.maximum(most, levels[lvl])
    return most, top


def _by_code(seconds: np.ndarray, code: np.ndarray, codes: int) -> np.ndarray:
    """Seconds [P, codes]: ``seconds`` [O, P] summed over the ops under each ``code`` [O, P]."""
    points = seconds.shape[1]
    key = code * points + np.arange(points)
    return np.bincount(key.ravel(), seconds.ravel(), codes * points).reshape(codes, points).T


def phase_totals(s: OpSeconds) -> Totals:
    """(latency [C], strict-bound latency [C], seconds by bound [C, K + 1]) of one run at each
    column: each op's largest component plus its overhead, summed; by bound as
    :meth:`roofline.result.Result.time_by_bound` (K = 1 + L: compute, the levels; the overhead
    in the last slot). Each sum runs over the ops in the order and grouping of a
    :class:`~roofline.result.Result`'s, so the totals are its totals to the bit."""
    work, code = _top(s.compute, s.level_max, s.level_top)
    time = work + s.overhead[:, None]
    strict = np.maximum(s.strict_compute, s.level_max)
    k = 1 + s.levels.shape[0]
    by = np.empty((work.shape[1], k + 1))
    by[:, :k] = _by_code(time - s.overhead[:, None], code, k)
    by[:, k] = s.overhead.sum()
    return _op_sum(time), _op_sum(strict), by


def _op_sum(seconds: np.ndarray) -> np.ndarray:
    """Sum over the ops of ``seconds`` [O, P] as numpy sums a contiguous row of a Result's
    [P, O] (pairwise: the same bits)."""
    return np.ascontiguousarray(seconds.T).sum(axis=-1)


def lean_step_means(
    s: OpSeconds, lo_col: np.ndarray, hi_col: np.ndarray, lo: np.ndarray, hi: np.ndarray
) -> StepMeans:
    """(mean step seconds [P], its strict bound [P], mean seconds by bound [P, K + 1]) of the
    decode steps over contexts ``lo``..``hi`` [P] whose ends are columns ``lo_col``, ``hi_col``.

    Each op's time is the upper envelope of its affine components; where one component is on top
    at both ends it is on top throughout, and the sum is the step count times the mean of its end
    values. The other (op, point) pairs go to :func:`~roofline.serving.envelope.envelope_sum`.
    """
    p = lo.size
    cols = np.concatenate([lo_col, hi_col])
    level_max, level_top = np.take(s.level_max, cols, axis=1), np.take(s.level_top, cols, axis=1)
    steps = hi - lo + 1.0
    # the estimate's compute seconds and the bound's
    computes = (np.take(s.compute, cols, axis=1), np.take(s.strict_compute, cols, axis=1))
    sums, tops, bent = [], [], []
    for compute in computes:
        most, top = _top(compute, level_max, level_top)
        sums.append(steps * (most[:, :p] + most[:, p:]) / 2.0)  # [O, P]
        tops.append(top[:, :p])
        bent.append(np.nonzero(top[:, :p] != top[:, p:]))
    k = 1 + s.levels.shape[0]
    est_o, est_q = bent[0]
    sums[0][est_o, est_q] = 0.0  # summed by line below
    by = _by_code(sums[0], tops[0], k)
    if est_o.size or bent[1][0].size:
        # the envelopes whose top changes in their range, the estimate's and the bound's at once
        at_lo: list[np.ndarray] = []
        at_hi: list[np.ndarray] = []
        q = []
        for compute, (o, pt) in zip(computes, bent):
            for ends, col in ((at_lo, pt), (at_hi, pt + p)):
                ends.append(np.concatenate([compute[None, o, col], s.levels[:, o, cols[col]]]))
            q.append(pt)
        a_lo, a_hi = np.concatenate(at_lo, axis=1), np.concatenate(at_hi, axis=1)
        at = np.concatenate(q)
        alpha, beta = chord_lines(a_lo, a_hi, lo[at], hi[at])
        total, by_line = envelope_sum(alpha.T, beta.T, lo[at], hi[at])
        n = est_o.size
        sums[0][est_o, est_q] = total[:n]
        sums[1][bent[1]] = total[n:]
        np.add.at(by, est_q, by_line[:n])
    est, strict = sums[0].sum(axis=0), sums[1].sum(axis=0)
    over = s.overhead.sum() * steps
    by = np.concatenate([by, over[:, None]], axis=-1) / steps[:, None]
    return (est + over) / steps, strict / steps, by


@dataclass(frozen=True, eq=False)
class LeanStage:
    """:class:`StageCosts` from :class:`OpSeconds` (the totals worked out when first read)."""

    seconds: OpSeconds
    policy: str
    dtype: str

    @cached_property
    def _all(self) -> Totals:
        return phase_totals(self.seconds)

    @property
    def latency_s(self) -> np.ndarray:
        return self._all[0]

    @property
    def latency_bound_s(self) -> np.ndarray:
        return self._all[1]

    @property
    def by_bound_s(self) -> np.ndarray:
        return self._all[2]

    def totals(self, upto: int | None = None) -> Totals:
        return self._all if upto is None else phase_totals(self.seconds.upto(upto))

    @property
    def feasible(self) -> np.ndarray:
        return self.seconds.feasible

    @property
    def devices_needed(self) -> np.ndarray:
        return self.seconds.devices_needed

    @property
    def footprint_bytes(self) -> np.ndarray:
        return self.seconds.footprint_bytes

    @property
    def shortfall_bytes(self) -> np.ndarray:
        return self.seconds.shortfall_bytes

    @property
    def dynamic_j(self) -> np.ndarray:
        return self.seconds.dynamic_j

    def step_means(
        self, lo_col: np.ndarray, hi_col: np.ndarray, lo: np.ndarray, hi: np.ndarray
    ) -> StepMeans:
        return lean_step_means(self.seconds, lo_col, hi_col, lo, hi)


@dataclass(frozen=True, eq=False)
class FullStage:
    """:class:`StageCosts` of a :class:`~roofline.result.Result` of one variant."""

    result: Result

    @property
    def feasible(self) -> np.ndarray:
        return self.result.feasible[0]

    @property
    def devices_needed(self) -> np.ndarray:
        return self.result.devices_needed[0]

    @property
    def footprint_bytes(self) -> np.ndarray:
        return self.result.footprint_bytes[0]

    @property
    def shortfall_bytes(self) -> np.ndarray:
        return self.result.shortfall_bytes[0]

    @property
    def policy(self) -> str:
        return self.result.policy

    @property
    def dtype(self) -> str:
        return self.result.costs.precision.name

    @cached_property
    def latency_s(self) -> np.ndarray:
        return self.result.latency_s[0]

    @cached_property
    def latency_bound_s(self) -> np.ndarray:
        return self.result.latency_bound_s[0]

    @cached_property
    def by_bound_s(self) -> np.ndarray:
        return self.result.time_by_bound()[0]

    @cached_property
    def dynamic_j(self) -> np.ndarray:
        return self.result.dynamic_energy_j[0]

    def totals(self, upto: int | None = None) -> Totals:
        cols = slice(upto)
        return self.latency_s[cols], self.latency_bound_s[cols], self.by_bound_s[cols]

    def step_means(
        self, lo_col: np.ndarray, hi_col: np.ndarray, lo: np.ndarray, hi: np.ndarray
    ) -> StepMeans:
        r = self.result
        shape = (2, lo.size, r.costs.n_ops, 1 + len(r.grid.level_names))
        t_lo, t_hi = np.empty(shape), np.empty(shape)
        _components(r, lo_col, t_lo)
        _components(r, hi_col, t_hi)
        alpha, beta = chord_lines(t_lo, t_hi, lo[:, None, None], hi[:, None, None])
        steps = hi - lo + 1.0
        total, by_line = envelope_sum(alpha, beta, lo[:, None], hi[:, None])  # [2, P, O], [.., K]
        over = r.overhead_s[0][lo_col].sum(axis=-1) * steps
        by_bound = np.concatenate([by_line[0].sum(axis=1), over[:, None]], axis=-1)
        return (
            (total[0].sum(axis=-1) + over) / steps,
            total[1].sum(axis=-1) / steps,
            by_bound / steps[:, None],
        )


def _components(r: Result, cols: np.ndarray, out: np.ndarray) -> None:
    """Fill ``out`` [2, P, O, 1 + L] with the seconds per op and component (compute, then each
    level) at columns ``cols`` [P]: the estimate's in ``out[0]``, the strict bound's in
    ``out[1]``."""
    ct, grid = r.costs, r.grid
    out[0, ..., 0] = r.compute_time_s[0][cols]
    out[0, ..., 1:] = r.level_time_s[0][cols]
    dtype = ct.precision.compute
    compute = ct.flops_matrix.T[cols] / grid.peak(EngineKind.MATRIX, dtype)[0]
    out[1, ..., 0] = compute + ct.flops_vector.T[cols] / grid.peak(EngineKind.VECTOR, dtype)[0]
    out[1, ..., 1:] = r.bytes_moved[0][cols] / grid.bandwidth[0]
