"""Scalar reference of the roofline evaluation: one device, one batch, plain Python loops.

:func:`evaluate_one` is written straight from the formulas of DESIGN.md ("The roofline model"), the
placement rules of :mod:`roofline.placement`'s docstring and the efficiency curves of
:mod:`roofline.efficiency`'s, with no numpy and nothing shared with :mod:`roofline.evaluation`,
:mod:`roofline.placement` or :mod:`roofline.efficiency`. It is slow and obviously right; the tests
hold the vectorized path to it (relative tolerance 1e-9).

For op i (counts from the :class:`~roofline.records.CostTable`, at batch index ``j``):

* ``t_compute = padded_matrix_flops / (peak_matrix[dtype] * eff_matrix)
  + vector_flops / (peak_vector[dtype] * eff_vector)``; each GEMM's M, N, K are rounded up to the
  engine's tile, so tile utilization = matrix FLOPs / padded matrix FLOPs (1 without a tile);
* ``t_L = bytes[L] / bandwidth[L]`` for each memory level, bytes placed by the policy;
* ``t = max(t_compute, max_L t_L) + per_op_overhead * launches``; the bound is the first argmax
  (compute, then the levels in order).

An efficiency curve divides the matrix term by ``curve_m(matrix FLOPs per launch)``, the vector
term by ``curve_v(vector FLOPs per launch)`` and ``t_L`` by ``curve_L(bytes[L] per launch)``; the
time without curves is the ideal time. A level's gather curve splits ``t_L``: the op's random row
reads there (``rows_L`` bytes, each row rounded up to the level's granularity) take
``rows_L / (bandwidth[L] * gather_L(rounded row bytes))`` and the rest
``(bytes[L] - rows_L) / (bandwidth[L] * curve_L(bytes[L] per launch))``.

:func:`energy_one` computes a run's energy from the same per-op numbers (DESIGN.md, "Energy and
power"), again with nothing shared with :mod:`roofline.energy`:

* dynamic joules of op i = matrix FLOPs x e_matrix + vector FLOPs x e_vector (the compute
  dtype's figures, or its fallback's) + sum over levels of bytes[L] x e_L (counted FLOPs,
  unpadded);
* the power floor ``T_min = E_dyn / (TDP - P_idle)``; the capped latency ``max(T, T_min)``;
* where the cap binds, the clock fraction f solves
  ``sum_i max(t_compute_i / f, max_L t_L_i) + overhead_i = T_min`` (by bisection on 1/f here);
  each op's capped time is ``max(t_compute_i / f, max_L t_L_i) + overhead_i``;
* energy = E_dyn + P_idle x capped latency; average power = energy / capped latency;
* cost per sample = hourly x capped latency / batch, or price / lifetime x capped latency / batch
  + energy / batch x PUE x electricity price.

A device without an energy model gives NaN energies and its uncapped times.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from roofline.curves import EfficiencyCurve
from roofline.errors import SpecError
from roofline.hardware import Hardware
from roofline.records import CostTable


@dataclass(frozen=True)
class OneResult:
    """Per-op predictions of one model on one device at one batch (all plain floats).

    Attributes
    ----------
    time_s, compute_time_s, tile_utilization, overhead_s : list of float [O]
        Seconds (utilization dimensionless).
    level_time_s, bytes_moved : list of list of float [O][L]
        Seconds and bytes per memory level.
    bound : list of int [O]
        0 = compute, 1 + l = memory level l.
    feasible : bool
    shortfall_bytes, footprint_bytes : float
        Bytes that fit nowhere; bytes the model needs (weights, tables, peak live activations,
        KV cache).
    devices_needed : float
        Devices of this kind whose device memory (on-chip + main) holds the footprint.
    ideal_time_s : list of float [O]
        Seconds without efficiency curves (= ``time_s`` when the device declares none).
    """

    time_s: list[float]
    compute_time_s: list[float]
    tile_utilization: list[float]
    overhead_s: list[float]
    level_time_s: list[list[float]]
    bytes_moved: list[list[float]]
    bound: list[int]
    feasible: bool
    shortfall_bytes: float
    footprint_bytes: float
    devices_needed: float
    ideal_time_s: list[float]

    @property
    def latency_s(self) -> float:
        """Model latency: the sum of op times in execution order (seconds)."""
        return math.fsum(self.time_s)


def curve_value(curve: EfficiencyCurve | None, size: float) -> float:
    """Efficiency of ``curve`` at ``size``: linear in log(size) between points, clamped outside."""
    if curve is None:
        return 1.0
    sizes, effs = curve.size, curve.efficiency
    if size <= sizes[0]:
        return effs[0]
    for s0, s1, e0, e1 in zip(sizes, sizes[1:], effs, effs[1:]):
        if size <= s1:
            return e0 + (e1 - e0) * math.log(size / s0) / math.log(s1 / s0)
    return effs[-1]


def _round_up(x: float, tile: float) -> float:
    return math.ceil(x / tile) * tile


def _gather(ct: CostTable, i: int, j: int, granularity: float) -> float:
    """Embedding bytes of op i: rows x row bytes rounded up to the level's access granularity."""
    row = float(ct.gather_row_bytes[i])
    if row <= 0:
        return 0.0
    return float(ct.gather_rows[i, j]) * _round_up(row, granularity)


def _compute(ct: CostTable, hw: Hardware, j: int) -> tuple[list[float], list[float], list[float]]:
    """Compute seconds (with and without efficiency curves) and tile utilization of every op."""
    dtype = ct.precision.compute
    mat, vec = hw.engines.matrix, hw.engines.vector
    mpeak = hw.peak("matrix", dtype) * mat.efficiency
    vpeak = hw.peak("vector", dtype) * vec.efficiency
    n = ct.n_ops
    padded = [float(ct.flops_matrix[i, j]) for i in range(n)]
    if mat.tile is not None:
        padded = [0.0] * n
        tm, tn, tk = (float(t) for t in mat.tile)
        for g in range(len(ct.gemm_op)):
            m, nn, k = float(ct.gemm_m[g, j]), float(ct.gemm_n[g, j]), float(ct.gemm_k[g, j])
            count = float(ct.gemm_count[g, j])
            op = int(ct.gemm_op[g])
            padded[op] += 2.0 * count * _round_up(m, tm) * _round_up(nn, tn) * _round_up(k, tk)
    times, ideal, util = [], [], []
    for i in range(n):
        flops, vflops = float(ct.flops_matrix[i, j]), float(ct.flops_vector[i, j])
        launches = max(float(ct.launches[i]), 1.0)
        fm = curve_value(mat.efficiency_curve, flops / launches)
        fv = curve_value(vec.efficiency_curve, vflops / launches)
        times.append(padded[i] / mpeak / fm + vflops / vpeak / fv)
        ideal.append(padded[i] / mpeak + vflops / vpeak)
        util.append(flops / padded[i] if padded[i] > 0 else 1.0)
    return times, ideal, util


def _footprint(ct: CostTable, j: int) -> tuple[float, float, float, float]:
    """Dense weight bytes, table bytes, peak live activation bytes, KV cache bytes."""
    dense = tables = kv = 0.0
    peak_act = 0.0
    for i in range(ct.n_ops):
        if bool(ct.is_table[i]):
            tables += float(ct.weight_bytes[i])
        else:
            dense += float(ct.weight_bytes[i])
        peak_act = max(peak_act, float(ct.live_act_bytes[i, j]))
        kv += float(ct.kv_footprint_bytes[i, j])
    return dense, tables, peak_act, kv


_Verdict = tuple[bool, float, float, float]  # feasible, shortfall bytes, need bytes, devices


def _device_memory(hw: Hardware) -> float:
    """On-chip levels plus main memory: what one device holds (host tiers are not devices)."""
    return sum(lvl.capacity for lvl in hw.memory.values() if lvl.kind in ("onchip", "device"))


def _verdict(need: float, shortfall: float, hw: Hardware) -> _Verdict:
    # devices of this kind whose device memory holds everything the model needs; a model that
    # does not fit one device needs at least two
    devices = max(1.0 if shortfall <= 0 else 2.0, math.ceil(need / _device_memory(hw)))
    return shortfall <= 0, shortfall, need, devices


_Bytes = list[list[float]]  # [op][level]


def place_single(ct: CostTable, hw: Hardware, j: int) -> tuple[_Bytes, _Bytes, _Verdict]:
    """SingleLevel: every byte streams from main memory (the level of kind ``device``).

    Returns (bytes per op and level, the random row reads among them, verdict)."""
    levels = list(hw.memory.values())
    main = [str(lvl.kind) for lvl in levels].index("device")
    out, rows = [], []
    for i in range(ct.n_ops):
        row = [0.0] * len(levels)
        looked_up = [0.0] * len(levels)
        looked_up[main] = _gather(ct, i, j, levels[main].granularity)
        row[main] = (
            float(ct.weight_read_bytes[i, j])
            + float(ct.act_in_bytes[i, j])
            + float(ct.act_out_bytes[i, j])
            + float(ct.kv_bytes[i, j])
            + looked_up[main]
        )
        out.append(row)
        rows.append(looked_up)
    dense, tables, peak_act, kv = _footprint(ct, j)
    need = dense + tables + peak_act + kv
    shortfall = max(0.0, need - levels[main].capacity)
    return out, rows, _verdict(need, shortfall, hw)


def place_capacity(ct: CostTable, hw: Hardware, j: int) -> tuple[_Bytes, _Bytes, _Verdict]:
    """CapacityAware, rule by rule as :mod:`roofline.placement` documents it.

    Returns (bytes per op and level, the random row reads among them, verdict)."""
    levels = list(hw.memory.values())
    nl, n = len(levels), ct.n_ops
    main = [str(lvl.kind) for lvl in levels].index("device")
    onchip = [k for k, lvl in enumerate(levels) if lvl.kind == "onchip"]
    dense, tables, peak_act, kv = _footprint(ct, j)
    live = [float(ct.live_act_bytes[i, j]) for i in range(n)]

    # 1. weights resident in the fastest on-chip level holding weights + peak live activations
    resident = next((k for k in onchip if dense + peak_act <= levels[k].capacity), None)
    w_lvl = main if resident is None else resident
    # 2. each op's activations in the fastest on-chip level holding its live set
    act_lvl = [next((k for k in onchip if live[i] <= levels[k].capacity), main) for i in range(n)]

    used = [0.0] * nl
    for k in range(nl):
        acts = [live[i] for i in range(n) if act_lvl[i] == k]
        used[k] = (max(acts) if acts else 0.0) + (dense if w_lvl == k else 0.0)
    used[main] += kv
    shortfall = max(0.0, used[main] - levels[main].capacity)

    # 3. tables one by one, densest first, in the fastest level with room left
    rem = [levels[k].capacity - used[k] for k in range(nl)]
    table_ops = [i for i in range(n) if bool(ct.is_table[i])]
    density = {
        i: float(ct.gather_rows[i, j]) / max(float(ct.weight_bytes[i]), 1.0) for i in table_ops
    }
    tbl_lvl: dict[int, int] = {}
    for i in sorted(table_ops, key=lambda t: -density[t]):  # sorted() is stable
        size = float(ct.weight_bytes[i])
        fit = next((k for k in range(nl) if rem[k] >= size), None)
        if fit is None:
            tbl_lvl[i] = nl - 1  # 4. fits nowhere: served by the slowest level, counted short
            shortfall += size
        else:
            tbl_lvl[i] = fit
            rem[fit] -= size

    out, rows = [], []
    for i in range(n):
        row = [0.0] * nl
        looked_up = [0.0] * nl
        row[w_lvl] += float(ct.weight_read_bytes[i, j])
        row[act_lvl[i]] += float(ct.act_in_bytes[i, j]) + float(ct.act_out_bytes[i, j])
        if i in tbl_lvl:
            looked_up[tbl_lvl[i]] = _gather(ct, i, j, levels[tbl_lvl[i]].granularity)
            row[tbl_lvl[i]] += looked_up[tbl_lvl[i]]
        row[main] += float(ct.kv_bytes[i, j])  # 4. the KV cache lives in main memory
        out.append(row)
        rows.append(looked_up)
    need = dense + tables + peak_act + kv
    return out, rows, _verdict(need, shortfall, hw)


@dataclass(frozen=True)
class OneEnergy:
    """Energy of one run (joules, seconds, watts, dollars; NaN without an energy model).

    Attributes
    ----------
    op_dynamic_j : list of list of float [O][1 + L]
        Each op's compute joules, then each level's.
    dynamic_j, floor_s, capped_latency_s, energy_j, avg_power_w, cost_per_sample : float
    capped : bool
    clock_fraction : float
        1 where the cap does not bind; NaN where no op computes and it binds.
    capped_time_s : list of float [O]
    """

    op_dynamic_j: list[list[float]]
    dynamic_j: float
    floor_s: float
    capped: bool
    capped_latency_s: float
    clock_fraction: float
    capped_time_s: list[float]
    energy_j: float
    avg_power_w: float
    cost_per_sample: float


def _solve_clock(c: list[float], m: list[float], over: list[float], target: float) -> float:
    """1/f with sum max(c u, m) + over = target, by bisection (the function rises with u)."""

    def run(u: float) -> float:
        return math.fsum(max(ci * u, mi) + oi for ci, mi, oi in zip(c, m, over))

    lo, hi = 1.0, 2.0
    while run(hi) < target:
        lo, hi = hi, hi * 2.0
    for _ in range(400):
        mid = 0.5 * (lo + hi)
        if mid in (lo, hi):
            break
        if run(mid) < target:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def energy_one(ct: CostTable, hw: Hardware, j: int, one: OneResult) -> OneEnergy:
    """The energy of run ``one`` (from :func:`evaluate_one`) of ``ct`` at batch index ``j``."""
    nan = float("nan")
    levels = list(hw.memory.values())
    dtype = ct.precision.compute
    latency = one.latency_s
    if hw.power is None:
        n = ct.n_ops
        return OneEnergy(
            [[nan] * (1 + len(levels)) for _ in range(n)],
            nan, nan, False, latency, 1.0, list(one.time_s), nan, nan, nan,
        )  # fmt: skip
    em, ev = hw.energy("matrix", dtype), hw.energy("vector", dtype)
    op_dyn = []
    for i in range(ct.n_ops):
        row = [float(ct.flops_matrix[i, j]) * em + float(ct.flops_vector[i, j]) * ev]
        row += [one.bytes_moved[i][k] * (lvl.energy or 0.0) for k, lvl in enumerate(levels)]
        op_dyn.append(row)
    dynamic = math.fsum(x for row in op_dyn for x in row)
    tdp, idle = hw.power.tdp, hw.power.idle
    floor = dynamic / (tdp - idle)
    capped = floor > latency
    c = list(one.compute_time_s)
    m = [max(t) for t in one.level_time_s]
    over = list(one.overhead_s)
    times = [max(ci, mi) + oi for ci, mi, oi in zip(c, m, over)]
    fraction = 1.0
    capped_latency = latency
    if capped:
        capped_latency = floor
        if any(ci > 0 for ci in c):
            u = _solve_clock(c, m, over, floor)
            fraction = 1.0 / u
            times = [max(ci * u, mi) + oi for ci, mi, oi in zip(c, m, over)]
        else:
            fraction = nan
            total = math.fsum(times)
            times = [t * floor / total for t in times]
    energy = dynamic + idle * capped_latency
    batch = float(ct.batch[j])
    cost = nan
    if hw.cost is not None:
        hold = capped_latency / batch
        if hw.cost.hourly is not None:
            cost = hw.cost.hourly * hold
        else:
            assert hw.cost.price and hw.cost.lifetime and hw.cost.electricity is not None
            cost = hw.cost.price / hw.cost.lifetime * hold
            cost += energy / batch * hw.cost.pue * hw.cost.electricity
    return OneEnergy(
        op_dyn,
        dynamic,
        floor,
        capped,
        capped_latency,
        fraction,
        times,
        energy,
        energy / capped_latency,
        cost,
    )


def evaluate_one(ct: CostTable, hw: Hardware, j: int = 0, policy: str = "capacity") -> OneResult:
    """Evaluate the counts of ``ct`` at batch index ``j`` on ``hw``, op by op.

    Parameters
    ----------
    ct : CostTable
        Counts (fused or not) from :func:`roofline.counting.count_graph`.
    hw : Hardware
        One device (``HardwareGrid.variant(h)`` for a variant of a grid).
    j : int
        Index into ``ct.batch``.
    policy : "capacity" or "single"
        Placement policy (:mod:`roofline.placement`).

    Returns
    -------
    OneResult
        Per-op seconds, bounds and bytes per level; feasibility of the whole model.
    """
    if policy == "single":
        moved, rows, verdict = place_single(ct, hw, j)
    elif policy == "capacity":
        moved, rows, verdict = place_capacity(ct, hw, j)
    else:
        raise SpecError(f"unknown policy {policy!r}", field="policy", fix="use single or capacity")
    levels = list(hw.memory.values())
    t_compute, t_compute_ideal, util = _compute(ct, hw, j)
    times, ideal, level_times, bounds, overheads = [], [], [], [], []
    for i in range(ct.n_ops):
        launches = max(float(ct.launches[i]), 1.0)
        t_ideal = [moved[i][k] / lvl.bandwidth for k, lvl in enumerate(levels)]
        t_levels = []
        for k, lvl in enumerate(levels):
            stream_eff = curve_value(lvl.efficiency_curve, moved[i][k] / launches)
            if lvl.gather_curve is None:
                t_levels.append(t_ideal[k] / stream_eff)
                continue
            row = float(ct.gather_row_bytes[i])
            gather_eff = curve_value(lvl.gather_curve, _round_up(row, lvl.granularity))
            streamed = moved[i][k] - rows[i][k]
            t_levels.append((streamed / stream_eff + rows[i][k] / gather_eff) / lvl.bandwidth)
        parts = [t_compute[i], *t_levels]
        bound = 0
        for k, t in enumerate(parts):
            if t > parts[bound]:
                bound = k
        overhead = hw.overheads.per_op * float(ct.launches[i])
        times.append(parts[bound] + overhead)
        ideal.append(max(t_compute_ideal[i], *t_ideal) + overhead)
        level_times.append(t_levels)
        bounds.append(bound)
        overheads.append(overhead)
    feasible, shortfall, need, devices = verdict
    return OneResult(
        times,
        t_compute,
        util,
        overheads,
        level_times,
        moved,
        bounds,
        feasible,
        shortfall,
        need,
        devices,
        ideal,
    )
