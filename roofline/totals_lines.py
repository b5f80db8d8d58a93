"""Totals of variants that differ in one rate at a time: O(log ops) per variant, any policy.

Variants sharing every rate but one (a bandwidth, the matrix or the vector peak) and their
capacities and granularities form a group: one placement, and for each op a time
``t_i(x) = max(a_i + s_i x, c_i)`` in the varying inverse rate ``x``, a line (the varying term
plus what adds to it: the vector time beside the matrix time) against a constant (the largest
other term). Each op has one breakpoint ``(c_i - a_i) / s_i``; with ops sorted by it and prefix
sums of ``a`` and ``s`` and suffix sums of ``c`` per bound, a variant's latency and time per bound
cost one binary search. The same numbers as :func:`~roofline.totals.totals_direct` (equal per-op
times, summed in another order), proven in the tests.

Ties follow the full evaluation: of equal times, the bound listed first (compute, then the levels
fastest first) is the op's bound.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from roofline.evaluation import padded_by_tile
from roofline.formulas import paid_launches
from roofline.grid import HardwareGrid, group_rows
from roofline.kinds import EngineKind
from roofline.placement import Policy, get_policy
from roofline.records import CostTable
from roofline.totals import Totals, run_energy

#: the rate that varies within a group: ``"matrix"``, ``"vector"`` or a memory level's index
Varying = str | int


def varying_rate(path: str, level_names: tuple[str, ...]) -> Varying | None:
    """The rate a knob path changes (None for a capacity, granularity, overhead or energy
    knob): a level's bandwidth, or the matrix or vector engine's peak or efficiency."""
    parts = path.split(".")
    if parts[0] == "memory" and parts[-1] == "bandwidth" and parts[1] in level_names:
        return level_names.index(parts[1])
    if parts[0] == "engines" and len(parts) >= 3 and parts[2] in ("peak", "efficiency"):
        return str(parts[1])
    return None


def totals_lines(
    ct: CostTable,
    grid: HardwareGrid,
    policy: str | Policy | None,
    varying: Varying,
    launch: str = "kernel",
    group: np.ndarray | None = None,
) -> Totals:
    """Latency and time per bound of every variant and batch, all groups of variants at once
    (module docstring); ``varying`` is the rate expected to differ within groups.

    ``group`` [H] numbers the groups 0..G-1 where the caller knows them (variants of equal number
    must differ in ``varying`` only: a sweep knows which knob values they share); by default
    variants are grouped by their capacities, granularities and other rates.
    """
    pol = get_policy(policy)
    H, L = grid.capacity.shape
    B = ct.batch.size
    mpeak = grid.effective_peak(EngineKind.MATRIX, ct.precision.compute)
    vpeak = grid.effective_peak(EngineKind.VECTOR, ct.precision.compute)
    rates = np.column_stack([1.0 / mpeak, 1.0 / vpeak, 1.0 / grid.bandwidth])  # [H, 2 + L]
    col = _column(varying)
    padded, tile_idx = padded_by_tile(ct, grid)
    if group is None:
        others = np.delete(rates, col, axis=1)
        key = np.concatenate([grid.capacity, grid.granularity, others, tile_idx[:, None]], axis=1)
        group = group_rows(key)
    G = int(group.max()) + 1 if H else 0
    reps = np.zeros(G, dtype=np.intp)
    reps[group[::-1]] = np.arange(H)[::-1]  # the first variant of each group
    place = pol.place(ct, grid.take(reps))  # one placement per group: bytes [G, B, O, L]
    lines = _lines(padded[tile_idx[reps]], ct.flops_vector.T, place.bytes, rates[reps], col)
    rows = (group[:, None] * B + np.arange(B)[None, :]).ravel()  # [H * B]: a (group, batch) row
    x = np.repeat(rates[:, col], B)
    bound_time = np.zeros((H, B, 2 + L))
    bound_time[..., : 1 + L] = lines.at(rows, x).reshape(H, B, 1 + L)
    over = grid.overhead[:, None] * paid_launches(ct.launches, launch)
    bound_time[..., 1 + L] = over
    latency = bound_time[..., : 1 + L].sum(axis=-1) + over
    energy = None
    if grid.energy is not None:
        energy = run_energy(ct, grid, place.bytes.sum(axis=-2)[group], latency)
    return Totals(
        latency,
        bound_time,
        place.feasible[group],
        place.shortfall_bytes[group],
        place.devices_needed[group],
        mpeak,
        energy,
    )


def _column(varying: Varying) -> int:
    """Column of ``varying`` in the rates [matrix, vector, levels...]."""
    if varying == EngineKind.MATRIX:
        return 0
    if varying == EngineKind.VECTOR:
        return 1
    return 2 + int(varying)


@dataclass(frozen=True, eq=False)
class _Side:
    """Ops whose line wins from their breakpoint on (``right``: at it too), each row's sorted by
    it (ops of the other side last, at +inf). ``sums`` [R * (O + 1), 2 + (1 + L)]: for the first
    k ops of row r (at r * (O + 1) + k), the sums of the lines' intercepts and slopes, then of the
    constants of the other ops by bound."""

    breaks: np.ndarray
    right: bool
    sums: np.ndarray

    def add(self, rows: np.ndarray, x: np.ndarray, out: np.ndarray, line_bound: int) -> None:
        k = _searchsorted_rows(self.breaks, rows, x, "right" if self.right else "left")
        got = self.sums[rows * (self.breaks.shape[1] + 1) + k]
        out[:, line_bound] += got[:, 0] + got[:, 1] * x
        out += got[:, 2:]


@dataclass(frozen=True, eq=False)
class _Lines:
    """Every (group, batch) row's ops (module docstring)."""

    sides: tuple[_Side, ...]
    fixed: np.ndarray  # [R, 1 + L] time of the ops that do not depend on x, by bound
    line_bound: int

    def at(self, rows: np.ndarray, x: np.ndarray) -> np.ndarray:
        """Time by bound [n, 1 + L] (compute, then each level) of the queries: row ``rows`` [n]
        at inverse rate ``x`` [n]."""
        out = self.fixed[rows]
        for side in self.sides:
            side.add(rows, x, out, self.line_bound)
        return out


def _lines(
    padded: np.ndarray, fv: np.ndarray, moved: np.ndarray, rates: np.ndarray, col: int
) -> _Lines:
    """The lines of every group and batch: ``padded`` [G, B, O] and ``fv`` [B, O] matrix and
    vector FLOPs, ``moved`` [G, B, O, L] bytes per level, ``rates`` [G, 2 + L] inverse rates
    (``col`` varies)."""
    G, B, O, L = moved.shape
    fv = np.broadcast_to(fv, padded.shape)
    inv_m, inv_v = rates[:, 0, None, None], rates[:, 1, None, None]
    t_mem = moved * rates[:, None, None, 2:]  # the same products as the direct path
    if col < 2:
        slope = padded if col == 0 else fv
        a = fv * inv_v if col == 0 else padded * inv_m
        others = t_mem
        others_bound = np.arange(1, 1 + L)
        line_bound = 0
    else:
        lvl = col - 2
        slope = moved[..., lvl]
        a = np.zeros(slope.shape)
        compute = padded * inv_m + fv * inv_v
        others = np.concatenate([compute[..., None], np.delete(t_mem, lvl, axis=-1)], axis=-1)
        others_bound = np.array([0, *(1 + k for k in range(L) if k != lvl)])
        line_bound = 1 + lvl
    # the constant: the largest other term, the first of equals (as the full evaluation's argmax)
    pick = np.argmax(others, axis=-1)
    c = np.take_along_axis(others, pick[..., None], axis=-1)[..., 0].reshape(G * B, O)
    bound = others_bound[pick].reshape(G * B, O)
    slope = np.ascontiguousarray(slope).reshape(G * B, O)
    a = np.ascontiguousarray(a).reshape(G * B, O)
    line_first = line_bound < bound  # of equal times, the line's bound comes first
    flat = slope <= 0
    wins = np.where(line_first, a >= c, a > c)
    flat_time = np.where(wins, a, c)
    flat_bound = np.where(wins, line_bound, bound)
    fixed = np.zeros((G * B, 1 + L))
    for b in range(1 + L):
        fixed[:, b] = np.where(flat & (flat_bound == b), flat_time, 0.0).sum(axis=1)
    sides = []
    for right in (True, False):
        sel = ~flat & (line_first == right)
        if not sel.any():
            continue
        with np.errstate(divide="ignore", invalid="ignore"):
            brk = np.where(sel, (c - a) / np.where(sel, slope, 1.0), np.inf)
        order = np.argsort(brk, axis=1, kind="stable")

        def sort(v: np.ndarray, order: np.ndarray = order, sel: np.ndarray = sel) -> np.ndarray:
            return np.take_along_axis(np.where(sel, v, 0.0), order, axis=1)

        cs = sort(c)
        bs = np.take_along_axis(bound, order, axis=1)
        sums = np.zeros((G * B, O + 1, 3 + L))
        sums[:, 1:, 0] = np.cumsum(sort(a), axis=1)
        sums[:, 1:, 1] = np.cumsum(sort(slope), axis=1)
        for b in range(1 + L):
            part = np.where(bs == b, cs, 0.0)
            sums[:, :-1, 2 + b] = np.cumsum(part[:, ::-1], axis=1)[:, ::-1]
        sides.append(_Side(np.take_along_axis(brk, order, axis=1), right, sums.reshape(-1, 3 + L)))
    return _Lines(tuple(sides), fixed, line_bound)


def _searchsorted_rows(
    sorted_rows: np.ndarray, rows: np.ndarray, x: np.ndarray, side: str
) -> np.ndarray:
    """``np.searchsorted(sorted_rows[r], x, side)`` for each query (row ``r``, value ``x``), in
    one search: every value becomes its rank among the distinct values of ``sorted_rows`` (a
    query: the rank of the last value it passes), so ``row * ranks + rank`` is sorted over the
    whole array and keeps every tie."""
    R, n = sorted_rows.shape
    values, rank = np.unique(sorted_rows, return_inverse=True)
    span = values.size + 1
    rows = rows.astype(np.int64)
    keys = np.arange(R, dtype=np.int64)[:, None] * span + np.ravel(rank).reshape(R, n)
    passed = np.searchsorted(values, x, side=side) - 1  # type: ignore[call-overload]
    found = np.searchsorted(keys.ravel(), rows * span + passed, side="right")
    return found - rows * n
