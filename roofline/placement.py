"""Placement policies: which memory level serves each op's bytes, and whether the model fits.

Both policies return a :class:`Placement` of arrays over (H variants, B batches, ops, L levels).

``SingleLevel`` is the classic roofline: every byte (weights, activations, KV cache, embedding rows
rounded to the level's access granularity) streams from main memory, the one level of kind
``device``. (DESIGN.md said "the last level"; with a host tier last that would stream a ResNet's
weights over PCIe, so the device level is used.) The model fits when weights + embedding tables +
KV cache + the peak live activation set fit in main memory.

``CapacityAware`` (the default):

1. Dense weights stay resident on chip when weights + the peak live activation set fit in an
   on-chip level (the fastest that holds them), which then serves their bytes. Otherwise each op
   streams its weights from main memory once per run.
2. Each op's activations stay in the fastest on-chip level that holds the live set at that op,
   else they go to main memory (written and read back). With weights resident, that is their
   level or a faster one (the live set is part of what it holds), never a slower one. (With one
   on-chip level, 1 and 2 keep everything in it.)
3. Embedding tables are placed one by one, densest first (lookups per byte of table), in the
   fastest level with room left after 1-2 (on-chip levels, main memory, then host tiers); each
   lookup reads whole rows rounded up to that level's access granularity.
4. The KV cache lives in main memory. A table that fits nowhere, or main memory overfull, makes the
   model infeasible: ``shortfall_bytes`` says by how much. Infeasible is a result: times are
   still computed, with unplaced tables served by the slowest level.

Under both policies ``devices_needed`` is :func:`roofline.formulas.devices_needed`: the devices of
this kind whose device memory (on-chip + main, never host tiers) holds the footprint (at least
2 when the model does not fit one device).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from roofline.errors import SpecError
from roofline.formulas import Footprint, devices_needed, footprint, gather_bytes
from roofline.grid import HardwareGrid
from roofline.records import CostTable


@dataclass(frozen=True, eq=False)
class Placement:
    """Bytes served by each level and capacity verdicts.

    Attributes
    ----------
    bytes : ndarray [H, B, O, L]
        Bytes each op reads or writes at each level per run.
    feasible : ndarray of bool [H, B]
    shortfall_bytes, footprint_bytes, devices_needed : ndarray [H, B]
    weights_level : ndarray of int [H, B]
        Level index serving dense weights (main memory unless resident on chip).
    gathered : ndarray [H, B, O, L] or None
        The part of ``bytes`` that is random row reads (embedding lookups, rounded up to each
        level's granularity); None when the model has no lookups.
    """

    bytes: np.ndarray
    feasible: np.ndarray
    shortfall_bytes: np.ndarray
    footprint_bytes: np.ndarray
    devices_needed: np.ndarray
    weights_level: np.ndarray
    gathered: np.ndarray | None = None


class Policy(Protocol):
    """Decides where bytes come from."""

    name: str

    def place(self, ct: CostTable, grid: HardwareGrid) -> Placement: ...


@dataclass(frozen=True, eq=False)
class Verdict:
    """Capacity verdict [H, B]: fits, bytes short, footprint, devices needed."""

    feasible: np.ndarray
    shortfall_bytes: np.ndarray
    footprint_bytes: np.ndarray
    devices_needed: np.ndarray


def verdict(fp: Footprint, shortfall: np.ndarray, grid: HardwareGrid, batches: int) -> Verdict:
    """The :class:`Verdict` of a footprint given the bytes that did not fit [H, B]."""
    need = _as_grid(fp.total_bytes, (grid.size, batches))
    shortfall = _as_grid(shortfall, need.shape)
    feasible = shortfall <= 0
    return Verdict(feasible, shortfall, need, devices_needed(need, grid.device_memory, feasible))


def _as_grid(values: np.ndarray | float, shape: tuple[int, ...]) -> np.ndarray:
    """A new float array of ``shape`` from ``values`` (broadcast where it is not that shape)."""
    arr = np.asarray(values)
    if arr.shape != shape:
        # [B] as [1, B]: the same elements, a reshape; else numpy's broadcast
        same = arr.ndim and arr.size == math.prod(shape) and arr.shape == shape[-arr.ndim :]
        arr = arr.reshape(shape) if same else np.broadcast_to(arr, shape)
    return arr.astype(float)


class SingleLevel:
    """Classic roofline: everything streams from main memory."""

    name = "single"

    def place(self, ct: CostTable, grid: HardwareGrid) -> Placement:
        H, L = grid.capacity.shape
        B, O = ct.batch.size, ct.n_ops
        main = grid.main
        out = np.zeros((H, B, O, L))
        stream = ct.weight_read_bytes + ct.act_in_bytes + ct.act_out_bytes + ct.kv_bytes
        rows = gather_bytes(ct, grid.granularity[:, main])
        out[..., main] = stream.T[None] + rows
        gathered = None
        if ct.is_table.any():
            gathered = np.zeros_like(out)
            gathered[..., main] = rows
        v = self.verdict(ct, grid)
        return Placement(
            out,
            v.feasible,
            v.shortfall_bytes,
            v.footprint_bytes,
            v.devices_needed,
            np.full((H, B), main),
            gathered,
        )

    @staticmethod
    def verdict(ct: CostTable, grid: HardwareGrid) -> Verdict:
        """Everything lives in main memory: the capacity :class:`Verdict` [H, B]."""
        fp = footprint(ct)
        shortfall = np.maximum(0.0, fp.total_bytes[None, :] - grid.capacity[:, grid.main, None])
        return verdict(fp, shortfall, grid, ct.batch.size)


class CapacityAware:
    """Weights, activations and tables in the fastest level that holds them (module docstring)."""

    name = "capacity"

    def place(self, ct: CostTable, grid: HardwareGrid) -> Placement:
        H, L = grid.capacity.shape
        B, O = ct.batch.size, ct.n_ops
        main = grid.main
        onchip = grid.onchip_levels
        cap = grid.capacity
        fp = footprint(ct)
        dense_w, peak_act = fp.dense_weight_bytes, fp.peak_activation_bytes
        live = np.ascontiguousarray(ct.live_act_bytes.T)  # [B, O], rows read many times

        resident = np.full((H, B), -1)
        act_lvl = np.full((H, B, O), main)
        for lvl in reversed(onchip):
            fits = (dense_w + peak_act)[None, :] <= cap[:, lvl, None]
            resident = np.where(fits, lvl, resident)
            act_lvl = np.where(live[None] <= cap[:, lvl, None, None], lvl, act_lvl)
        w_lvl = np.where(resident >= 0, resident, main)

        # every level at once, level-major [H, L, B, O] (long inner rows), as one-hot level masks
        levels = np.arange(L)[:, None, None]
        act_at = act_lvl[:, None] == levels
        w_at = w_lvl[:, None] == levels[..., 0]  # [H, L, B]
        used_at = np.where(act_at, live[None, None], 0.0).max(axis=-1)
        used = np.ascontiguousarray((used_at + np.where(w_at, dense_w, 0.0)).transpose(0, 2, 1))
        used[..., main] += fp.kv_cache_bytes[None, :]

        shortfall = np.maximum(0.0, used[..., main] - cap[:, main, None])
        tbl_lvl = np.full((H, B, O), -1)
        tables = np.flatnonzero(ct.is_table)
        if tables.size:
            rem = cap[:, None, :] - used
            density = ct.gather_rows[tables, 0] / np.maximum(ct.weight_bytes[tables], 1.0)
            order = tables[np.argsort(-density, kind="stable")]
            placed_at, short = first_fit(ct.weight_bytes[order], rem.reshape(H * B, L))
            tbl_lvl[..., order] = placed_at.reshape(H, B, order.size)
            shortfall = shortfall + short.reshape(H, B)

        wr = np.ascontiguousarray(ct.weight_read_bytes.T)
        act = (ct.act_in_bytes.T + ct.act_out_bytes.T).copy()  # [B, O] in row order
        at = np.where(w_at[..., None], wr, 0.0) + np.where(act_at, act, 0.0)  # [H, L, B, O]
        gathered = None
        if tables.size:
            # every level's granularity as one [L x H] vector of variants: [L, H, B, O] rows
            per_level = gather_bytes(ct, grid.granularity.T.reshape(-1)).reshape(L, H, B, O)
            gathered_at = np.where(tbl_lvl[:, None] == levels, per_level.transpose(1, 0, 2, 3), 0.0)
            at = at + gathered_at
            gathered = np.ascontiguousarray(gathered_at.transpose(0, 2, 3, 1))
        at[:, main] = at[:, main] + ct.kv_bytes.T[None]
        out = np.ascontiguousarray(at.transpose(0, 2, 3, 1))  # [H, B, O, L]
        v = verdict(fp, shortfall, grid, B)
        return Placement(
            out, v.feasible, v.shortfall_bytes, v.footprint_bytes, v.devices_needed, w_lvl, gathered
        )


#: runs of consecutive tables one level takes before :func:`first_fit` goes table by table
MAX_RUNS = 32
#: tables :func:`first_fit` places one by one across all cases at once (more: case by case)
FEW_TABLES = 8


def first_fit(sizes: np.ndarray, room: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Place tables of ``sizes`` [T] bytes, in that order, each in the first level with room
    left, for each of V cases of ``room`` [V, L] (bytes free per level).

    Returns (level [V, T], L - 1 for a table that fits nowhere; bytes that fit nowhere [V]).
    Equal rows of ``room`` are placed once. Level by level this is the same as table by table: a
    level takes, in order, each table it still has room for among those the faster levels left;
    runs of tables that fit one after the other are taken at once (prefix sums), so a case costs
    a few vector operations per level rather than a Python step per table.
    """
    V, L = room.shape
    if sizes.size <= FEW_TABLES:
        return _table_by_table(sizes, room)
    if V > 1:
        rows, inverse = np.unique(room, axis=0, return_inverse=True)
    else:
        rows, inverse = room, np.zeros(1, dtype=np.intp)
    levels = np.empty((rows.shape[0], sizes.size), dtype=np.intp)
    short = np.empty(rows.shape[0])
    for u, free in enumerate(rows):
        left = np.arange(sizes.size)
        levels[u] = L - 1
        for lvl in range(L):
            if not left.size:
                break
            take = _fill(sizes[left], float(free[lvl]))
            levels[u, left[take]] = lvl
            left = left[~take]
        short[u] = sizes[left].sum()
    inverse = np.ravel(inverse)
    return levels[inverse], short[inverse]


def _table_by_table(sizes: np.ndarray, room: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`first_fit` as its rule reads, every case at once: a few vector operations per
    table (a language model's one or two tables over thousands of (batch, length) cases)."""
    V, L = room.shape
    rem = room.copy()
    levels = np.empty((V, sizes.size), dtype=np.intp)
    short = np.zeros(V)
    cases = np.arange(V)
    for t, size in enumerate(sizes.tolist()):
        fits = rem >= size
        placed = fits.any(axis=1)
        lvl = np.where(placed, np.argmax(fits, axis=1), L - 1)
        rem[cases, lvl] -= np.where(placed, size, 0.0)
        short += np.where(placed, 0.0, size)
        levels[:, t] = lvl
    return levels, short


def _fill(sizes: np.ndarray, room: float) -> np.ndarray:
    """Which of ``sizes`` (in order) one level of ``room`` bytes takes, each if it still fits."""
    n = sizes.size
    take = np.zeros(n, dtype=bool)
    ends = np.concatenate([[0.0], np.cumsum(sizes)])
    pos = runs = 0
    while pos < n:
        # the longest run from pos that fits: tables pos..stop-1 together need ends[stop]-ends[pos]
        stop = int(np.searchsorted(ends, ends[pos] + room, side="right")) - 1
        if stop > pos:
            take[pos:stop] = True
            room -= ends[stop] - ends[pos]
            pos = stop
        if pos >= n:
            break
        fits = np.flatnonzero(sizes[pos:] <= room)
        if not fits.size:
            break
        pos += int(fits[0])
        runs += 1
        if runs > MAX_RUNS:  # many small gaps: finish table by table
            for i, size in enumerate(sizes[pos:].tolist(), start=pos):
                if room >= size:
                    take[i] = True
                    room -= size
            break
    return take


POLICIES: dict[str, type[SingleLevel] | type[CapacityAware]] = {
    "single": SingleLevel,
    "capacity": CapacityAware,
}


def get_policy(policy: str | Policy | None) -> Policy:
    """Return a policy instance from a name (``single``, ``capacity``) or an instance."""
    if policy is None:
        return CapacityAware()
    if isinstance(policy, str):
        if policy not in POLICIES:
            raise SpecError(
                f"unknown policy {policy!r}", field="policy", fix="use 'single' or 'capacity'"
            )
        return POLICIES[policy]()
    if not callable(getattr(policy, "place", None)):
        raise SpecError(
            f"{policy!r} is not a placement policy",
            field="policy",
            fix="use 'single', 'capacity' or an object with a place() method",
        )
    return policy
