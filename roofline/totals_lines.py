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
) -> Totals:
    """Latency and time per bound of every variant and batch, one group of variants at a time
    (module docstring); ``varying`` is the rate expected to differ within groups."""
    pol = get_policy(policy)
    H, L = grid.capacity.shape
    B = ct.batch.size
    mpeak = grid.effective_peak(EngineKind.MATRIX, ct.precision.compute)
    vpeak = grid.effective_peak(EngineKind.VECTOR, ct.precision.compute)
    rates = np.column_stack([1.0 / mpeak, 1.0 / vpeak, 1.0 / grid.bandwidth])  # [H, 2 + L]
    col = _column(varying)
    padded, tile_idx = padded_by_tile(ct, grid)
    key = np.concatenate(
        [grid.capacity, grid.granularity, np.delete(rates, col, axis=1), tile_idx[:, None]], axis=1
    )
    group = group_rows(key)
    members = np.argsort(group, kind="stable")
    starts = np.searchsorted(group[members], np.arange(group.max() + 2 if H else 1))
    reps = members[starts[:-1]]
    place = pol.place(ct, grid.take(reps))  # one placement per group
    fv = ct.flops_vector.T  # [B, O]
    bound_time = np.zeros((H, B, 2 + L))
    for g, r in enumerate(reps):
        hs = members[starts[g] : starts[g + 1]]
        x = rates[hs, col]
        for j in range(B):
            lines = _build(padded[tile_idx[r], j], fv[j], place.bytes[g, j], rates[r], col, L)
            bound_time[hs, j, : 1 + L] = lines.at(x)
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
    """Ops whose line wins from their breakpoint on (``right``: at it too), sorted by it: prefix
    sums of the lines' intercepts and slopes, suffix sums of the constants by bound."""

    breaks: np.ndarray
    right: bool
    a: np.ndarray
    s: np.ndarray
    c: np.ndarray  # [1 + L, n + 1]

    def add(self, x: np.ndarray, out: np.ndarray, line_bound: int) -> None:
        k = np.searchsorted(self.breaks, x, side="right" if self.right else "left")
        out[:, line_bound] += self.a[k] + self.s[k] * x
        out += self.c[:, k].T


@dataclass(frozen=True, eq=False)
class _Lines:
    """One group's ops at one batch (module docstring)."""

    sides: tuple[_Side, ...]
    fixed: np.ndarray  # [1 + L] time of ops that do not depend on x, by bound
    line_bound: int

    def at(self, x: np.ndarray) -> np.ndarray:
        """Time by bound [h, 1 + L] (compute, then each level) at inverse rates ``x`` [h]."""
        out = np.broadcast_to(self.fixed, (x.size, self.fixed.size)).copy()
        for side in self.sides:
            side.add(x, out, self.line_bound)
        return out


def _build(
    padded: np.ndarray,
    fv: np.ndarray,
    moved: np.ndarray,
    rates: np.ndarray,
    col: int,
    L: int,
) -> _Lines:
    """The lines of one group at one batch: ``padded`` and ``fv`` [O] matrix and vector FLOPs,
    ``moved`` [O, L] bytes per level, ``rates`` [2 + L] inverse rates (``col`` varies)."""
    t_mem = moved * rates[2:][None, :]  # [O, L]: the same products as the direct path
    if col < 2:
        slope = padded if col == 0 else fv
        a = fv * rates[1] if col == 0 else padded * rates[0]
        others = t_mem
        others_bound = np.arange(1, 1 + L)
        line_bound = 0
    else:
        lvl = col - 2
        slope = moved[:, lvl]
        a = np.zeros_like(slope)
        compute = padded * rates[0] + fv * rates[1]
        others = np.column_stack([compute, np.delete(t_mem, lvl, axis=1)])
        others_bound = np.array([0, *(1 + k for k in range(L) if k != lvl)])
        line_bound = 1 + lvl
    # the constant: the largest other term, the first of equals (as the full evaluation's argmax)
    pick = np.argmax(others, axis=1)
    c = others[np.arange(others.shape[0]), pick]
    bound = others_bound[pick]
    line_first = line_bound < bound  # the line wins ties
    fixed = np.zeros(1 + L)
    flat = slope <= 0
    if flat.any():
        line_wins = np.where(line_first[flat], a[flat] >= c[flat], a[flat] > c[flat])
        np.add.at(fixed, np.where(line_wins, line_bound, bound[flat]),
                  np.where(line_wins, a[flat], c[flat]))  # fmt: skip
    sides = []
    for right in (True, False):
        sel = ~flat & (line_first == right)
        if not sel.any():
            continue
        brk = (c[sel] - a[sel]) / slope[sel]
        order = np.argsort(brk, kind="stable")
        cs = np.zeros((1 + L, order.size + 1))
        vals = c[sel][order]
        bs = bound[sel][order]
        for b in np.unique(bs):
            part = np.where(bs == b, vals, 0.0)
            cs[b, :-1] = np.cumsum(part[::-1])[::-1]
        sides.append(
            _Side(
                brk[order],
                right,
                np.concatenate([[0.0], np.cumsum(a[sel][order])]),
                np.concatenate([[0.0], np.cumsum(slope[sel][order])]),
                cs,
            )
        )
    return _Lines(tuple(sides), fixed, line_bound)
