"""The roofline's formulas, one place each.

Everything the evaluation, the sweep fast paths, the studies and the reports compute from counts
and hardware arrays is written here once (the scalar oracle in :mod:`roofline.testing.oracle`
writes them again on purpose: that is its job). All functions are pure and array-transparent.

Shapes: H device variants, B batches, O ops, L memory levels. Units: seconds, bytes, FLOP, FLOP/s.

* **Main memory** is the one level of kind ``device``; **device memory** is every on-chip level
  plus main memory (not host tiers).
* **Op time** ``t = max(t_compute, max_L t_L) + overhead``; the **bound** is the first argmax
  (0 = compute, 1 + l = memory level l); overhead is kept apart in **time by bound**.
* **Effective peak** = dense peak at the compute dtype x the engine's efficiency.
* **Tile padding**: each GEMM's M, N, K rounded up to the engine's tile.
* **Row bytes**: one looked-up embedding row rounded up to a level's access granularity.
* **Footprint** = dense weights + embedding tables + peak live activations + KV cache.
* **Devices needed** = the smallest number of devices of this kind whose device memory holds the
  footprint (at least 1; at least 2 when the placement finds that one device cannot hold it);
  host memory is a placement tier, never extra devices.
* **Throughput** = batch / latency; **utilization** = FLOPs / (latency x effective matrix peak).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from roofline.errors import SpecError
from roofline.gemms import sum_gemms
from roofline.kinds import LevelKind
from roofline.records import CostTable
from roofline.units import MAX_EXACT


def main_level(kinds: Sequence[str]) -> int:
    """Index of main memory (the level of kind ``device``) in a device's level kinds."""
    return list(kinds).index(LevelKind.DEVICE)


def device_memory_levels(kinds: Sequence[str]) -> list[int]:
    """Indices of the levels that are device memory: on-chip levels and main memory."""
    return [i for i, k in enumerate(kinds) if k in (LevelKind.ONCHIP, LevelKind.DEVICE)]


def device_memory(capacity: np.ndarray, kinds: Sequence[str]) -> np.ndarray:
    """Device memory bytes [H] of each variant: on-chip + main memory (``capacity`` [H, L])."""
    return capacity[:, device_memory_levels(kinds)].sum(axis=1)


def devices_needed(
    footprint_bytes: np.ndarray, device_bytes: np.ndarray, feasible: np.ndarray
) -> np.ndarray:
    """Devices of this kind whose device memory holds the footprint: ``ceil(F / M)``, at least 1,
    and at least 2 where one device cannot hold the model (``feasible`` False).

    ``footprint_bytes`` and ``feasible`` [H, B] (or broadcastable), ``device_bytes`` [H] device
    memory (on-chip + main) of one device.
    """
    per = np.asarray(device_bytes, dtype=float)[:, None]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        pooled = np.ceil(footprint_bytes / per)
    if not (pooled <= MAX_EXACT).all():  # NaN and inf included
        worst = np.nanmax(np.where(np.isfinite(footprint_bytes), footprint_bytes, np.inf))
        raise SpecError(
            f"a footprint of {worst:.4g} bytes needs more than 2**53 devices",
            field="devices_needed",
            fix="check the model's sizes (table rows, dims) and the batch",
        )
    return np.maximum(pooled, np.where(feasible, 1.0, 2.0))


@dataclass(frozen=True)
class Footprint:
    """Bytes a model holds on a device.

    Attributes
    ----------
    dense_weight_bytes, table_bytes : float
        Parameters outside embedding tables, and the tables.
    peak_activation_bytes, kv_cache_bytes : ndarray [B]
        The largest live activation set and the KV cache, per batch.
    """

    dense_weight_bytes: float
    table_bytes: float
    peak_activation_bytes: np.ndarray
    kv_cache_bytes: np.ndarray

    @property
    def total_bytes(self) -> np.ndarray:
        """Everything the model holds [B]."""
        return (
            self.dense_weight_bytes
            + self.table_bytes
            + self.peak_activation_bytes
            + self.kv_cache_bytes
        )


def footprint(ct: CostTable) -> Footprint:
    """The :class:`Footprint` of counted model ``ct``."""
    is_table = ct.is_table
    return Footprint(
        dense_weight_bytes=float(ct.weight_bytes[~is_table].sum()),
        table_bytes=float(ct.weight_bytes[is_table].sum()),
        peak_activation_bytes=ct.live_act_bytes.max(axis=0),
        kv_cache_bytes=ct.kv_footprint_bytes.sum(axis=0),
    )


def op_time(
    t_compute: np.ndarray, t_levels: np.ndarray, overhead: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(op seconds [..., O], bound code [..., O]) from compute seconds [..., O], seconds per level
    [..., O, L] and launch overhead seconds (broadcastable to [..., O]).

    The bound is the first argmax of (compute, level 0, level 1, ...): ties go to compute.
    """
    parts = np.concatenate([t_compute[..., None], t_levels], axis=-1)
    bound = np.argmax(parts, axis=-1)
    # the largest part is the one at the bound (a gather: a reduction over a few parts is slow)
    return np.take_along_axis(parts, bound[..., None], axis=-1)[..., 0] + overhead, bound


#: how kernel launches are paid: one per kernel (eager), or one per run (a captured CUDA graph)
LAUNCH_MODES = ("kernel", "graph")


def check_launch(launch: object) -> None:
    """A SpecError naming ``launch`` unless it is one of :data:`LAUNCH_MODES`."""
    if launch not in LAUNCH_MODES:
        raise SpecError(
            f"unknown launch mode {launch!r}",
            field="launch",
            fix="use 'kernel' (one launch per kernel) or 'graph' (one per run, CUDA graphs)",
        )


def paid_launches(launches: np.ndarray, mode: str) -> float:
    """Launches paid per run: every kernel's (``kernel``) or one for the whole run (``graph``)."""
    total = float(launches.sum())
    return total if mode == "kernel" else min(total, 1.0)


def launch_overhead(per_launch: np.ndarray, launches: np.ndarray, mode: str) -> np.ndarray:
    """Launch overhead seconds [H, 1, O] of each op: ``per_launch`` [H] x its ``launches`` [O]
    (``kernel``), or one launch per run spread over the ops by their launches (``graph``)."""
    total = float(launches.sum())
    share = launches
    if mode != "kernel" and total > 0:
        share = launches * (paid_launches(launches, mode) / total)
    return per_launch[:, None, None] * share[None, None, :]


def strict_time(
    flops_matrix: np.ndarray,
    flops_vector: np.ndarray,
    peak_matrix: np.ndarray,
    peak_vector: np.ndarray,
    t_levels: np.ndarray,
) -> np.ndarray:
    """The strict roofline bound of each op [H, B, O]: ``max(FLOPs / dense peaks, max_L bytes_L /
    bandwidth_L)`` with no launch overhead, no efficiency derating and no tile padding; no
    measured system can take less. ``flops_*`` [O, B], ``peak_*`` [H], ``t_levels`` [H, B, O, L]
    (bytes over raw bandwidth)."""
    compute = flops_matrix.T[None] / peak_matrix[:, None, None]
    compute = compute + flops_vector.T[None] / peak_vector[:, None, None]
    return np.maximum(compute, last_axis_max(t_levels))


def last_axis_max(a: np.ndarray) -> np.ndarray:
    """``a.max(axis=-1)`` for a short last axis (memory levels): the same values, taken as
    elementwise maxima of its slices, which numpy runs far faster than a reduction over
    a few elements per row."""
    out = a[..., 0]
    for i in range(1, a.shape[-1]):
        out = np.maximum(out, a[..., i])
    return out


def time_by_bound(
    time_s: np.ndarray, overhead_s: np.ndarray, bound: np.ndarray, n_bounds: int
) -> np.ndarray:
    """Seconds [..., n_bounds + 1]: each op's roofline time (its time less its overhead) summed
    under its bound code, and all launch overhead in the last slot."""
    work = time_s - overhead_s
    onehot = bound[..., None] == np.arange(n_bounds)
    out = np.empty((*time_s.shape[:-1], n_bounds + 1))
    out[..., :n_bounds] = (work[..., None] * onehot).sum(axis=-2)
    out[..., n_bounds] = overhead_s.sum(axis=-1)
    return out


def padded_matrix_flops(ct: CostTable, tile: np.ndarray | None) -> np.ndarray:
    """Matrix FLOPs [O, B] with each GEMM's M, N, K rounded up to ``tile`` (None: unpadded)."""
    if tile is None or ct.gemm_op.size == 0:
        return ct.flops_matrix
    tm, tn, tk = (float(t) for t in tile)
    m, n, k = ct.gemm_m, ct.gemm_n, ct.gemm_k
    padded = (
        2.0
        * ct.gemm_count
        * (np.ceil(m / tm) * tm)
        * (np.ceil(n / tn) * tn)
        * (np.ceil(k / tk) * tk)
    )
    return sum_gemms(ct.gemm_op, padded, np.zeros_like(ct.flops_matrix))


def row_bytes(ct: CostTable, granularity: np.ndarray) -> np.ndarray:
    """Bytes one lookup reads [H, O]: each op's row rounded up to ``granularity`` [H] (0: none)."""
    row = ct.gather_row_bytes[None, :]
    g = granularity[:, None]
    return np.where(row > 0, np.ceil(row / g) * g, 0.0)


def gather_bytes(ct: CostTable, granularity: np.ndarray) -> np.ndarray:
    """Embedding traffic [H, B, O]: rows x row bytes rounded up to ``granularity`` [H]."""
    return row_bytes(ct, granularity)[:, None, :] * ct.gather_rows.T[None, :, :]


def throughput(batch: np.ndarray, latency_s: np.ndarray) -> np.ndarray:
    """Samples per second: ``batch`` [B] over ``latency_s`` [..., B]."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return batch / latency_s


def utilization(flops: np.ndarray, latency_s: np.ndarray, peak: np.ndarray) -> np.ndarray:
    """Achieved FLOP/s over the effective matrix peak: ``flops`` [B], ``latency_s`` [H, B],
    ``peak`` [H] FLOP/s."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return flops[None, :] / (latency_s * peak[:, None])


def dominant(labels: Sequence[str], seconds_by_bound: np.ndarray) -> np.ndarray:
    """Label array [...] of the largest share of ``seconds_by_bound`` [..., len(labels)]."""
    return np.asarray(labels, dtype=object)[np.argmax(seconds_by_bound, axis=-1)]
