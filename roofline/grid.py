"""Device variants as arrays: :class:`HardwareGrid` (H variants sharing one memory structure),
built by :func:`to_grid` or :func:`stack` (and by :func:`roofline.knobs.vary` from knob values).
The energy model rides along as :class:`roofline.energy.DeviceEnergy` (None without one)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, overload

import numpy as np

from roofline.dtypes import canonical
from roofline.energy import DeviceEnergy, device_energy
from roofline.errors import SpecError
from roofline.formulas import device_memory, main_level
from roofline.hardware import Cost, Engine, Engines, Hardware, Power
from roofline.kinds import EngineKind, LevelKind


class VariantLabels(Sequence[str]):
    """The names ``base[i]`` of a grid's variants, made one at a time when asked for: a sweep of
    a million variants builds no million strings."""

    __slots__ = ("base", "positions")

    def __init__(self, base: str, positions: np.ndarray | range) -> None:
        self.base = base
        self.positions = positions

    def __len__(self) -> int:
        return len(self.positions)

    @overload
    def __getitem__(self, i: int) -> str: ...
    @overload
    def __getitem__(self, i: slice) -> VariantLabels: ...
    def __getitem__(self, i: int | slice) -> str | VariantLabels:
        if isinstance(i, slice):
            return self.take(i)
        return f"{self.base}[{int(self.positions[i])}]"

    def __iter__(self) -> Iterator[str]:
        return (f"{self.base}[{int(j)}]" for j in self.positions)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Sequence) and not isinstance(other, str):
            return len(other) == len(self) and all(a == b for a, b in zip(self, other))
        return NotImplemented

    def __hash__(self) -> int:
        return hash(tuple(self))

    def __repr__(self) -> str:
        return f"VariantLabels({self.base!r}, {len(self)} variants)"

    def take(self, idx: Any) -> VariantLabels:
        """The labels at ``idx`` (a slice or index array), still lazy."""
        positions = self.positions
        if isinstance(positions, range):
            if isinstance(idx, slice):
                return VariantLabels(self.base, positions[idx])
            picked = np.arange(len(positions))[idx]  # bounds and negative indices as numpy's
            return VariantLabels(self.base, positions.start + positions.step * picked)
        return VariantLabels(self.base, np.asarray(positions)[idx])


def take_labels(labels: Sequence[str], idx: Any) -> Sequence[str]:
    """``labels`` at ``idx``: lazy labels stay lazy, others become a tuple."""
    if isinstance(labels, VariantLabels):
        return labels.take(idx)
    return tuple(np.asarray(labels, dtype=object)[idx])


@dataclass(frozen=True, eq=False)
class HardwareGrid:
    """H device variants sharing one memory structure, as numpy arrays.

    Attributes
    ----------
    base : Hardware
        The device the variants derive from (structure, fallbacks, labels).
    labels : sequence of str
        A name per variant (:class:`VariantLabels` for the variants of a knob grid).
    capacity, bandwidth, granularity : ndarray [H, L]
        Bytes, bytes/s, bytes per memory level.
    matrix_peak, vector_peak : dict dtype -> ndarray [H]
        FLOP/s per dtype.
    matrix_eff, vector_eff, overhead : ndarray [H]
    tile : ndarray [H, 3] or None
    knobs : dict path -> ndarray [H]
        The values varied to make this grid (for tidy sweep tables).
    energy : DeviceEnergy or None
        Joules per FLOP and per byte, power envelope and economics per variant (NaN where a
        variant has none); None when no variant has an energy model.
    engines : tuple of Engines, or None
        Each variant's engines where the variants serve some dtype from different peaks (a
        stack of devices whose dtype fallbacks differ: int4 runs as int8 on one, natively on
        another); None where every variant serves every dtype as the base does.
    """

    base: Hardware
    labels: Sequence[str]
    capacity: np.ndarray
    bandwidth: np.ndarray
    granularity: np.ndarray
    matrix_peak: dict[str, np.ndarray]
    vector_peak: dict[str, np.ndarray]
    matrix_eff: np.ndarray
    vector_eff: np.ndarray
    overhead: np.ndarray
    tile: np.ndarray | None
    knobs: dict[str, np.ndarray] = field(default_factory=dict)
    energy: DeviceEnergy | None = None
    engines: tuple[Engines, ...] | None = None

    @property
    def size(self) -> int:
        return len(self.labels)

    @property
    def level_names(self) -> tuple[str, ...]:
        return self.base.level_names

    # the structure and rates below are read many times per evaluation: a grid is frozen, so
    # each is worked out once per grid

    @cached_property
    def level_kinds(self) -> tuple[str, ...]:
        return tuple(lvl.kind for lvl in self.base.memory.values())

    @cached_property
    def curved(self) -> bool:
        """Whether the base device declares any efficiency or gather curve."""
        return any(c is not None for c in self.base.curves)

    @cached_property
    def main(self) -> int:
        """Index of main memory (the level of kind ``device``)."""
        return main_level(self.level_kinds)

    @cached_property
    def onchip_levels(self) -> tuple[int, ...]:
        """Indices of the on-chip levels, fastest first."""
        return tuple(i for i, k in enumerate(self.level_kinds) if k == LevelKind.ONCHIP)

    @cached_property
    def device_memory(self) -> np.ndarray:
        """Device memory bytes [H] per variant: on-chip levels + main memory (read-only)."""
        return _read_only(device_memory(self.capacity, self.level_kinds))

    def effective_peak(self, engine: str, dtype: str) -> np.ndarray:
        """Attainable FLOP/s [H] of ``engine`` at ``dtype``: dense peak x engine efficiency
        (read-only)."""
        key = ("effective", engine, dtype)
        if key not in self._peaks:
            eff = self.matrix_eff if engine == EngineKind.MATRIX else self.vector_eff
            self._peaks[key] = _read_only(self.peak(engine, dtype) * eff)
        return self._peaks[key]

    def peak(self, engine: str, dtype: str) -> np.ndarray:
        """Peak [H] of ``engine`` for ``dtype`` (fallbacks honoured; SpecError if none)."""
        key = ("dense", engine, dtype)
        if key not in self._peaks:
            self.base.peak(engine, dtype)  # raises the clear error if the dtype is unsupported
            table = self.matrix_peak if engine == EngineKind.MATRIX else self.vector_peak
            self._peaks[key] = self._resolved(table, engine, dtype)
        return self._peaks[key]

    def _resolved(self, table: dict[str, np.ndarray], engine: str, dtype: str) -> np.ndarray:
        """The rate [H] of ``table`` (per dtype [H]) that serves ``dtype`` on ``engine`` in each
        variant: its own, or its fallback's (NaN where a variant has neither)."""
        dt = canonical(dtype)
        if self.engines is None:
            eng: Engine = getattr(self.base.engines, engine)
            return table.get(eng.resolve(dt), np.full(self.size, np.nan))
        nan = np.full(self.size, np.nan)
        served = [
            table.get(getattr(e, engine).resolve(dt), nan)[h] for h, e in enumerate(self.engines)
        ]
        return np.array(served, dtype=float)

    @cached_property
    def tile_groups(self) -> tuple[np.ndarray, tuple[int, ...]]:
        """(distinct tile shape of each variant [H], the first variant of each shape); all
        variants in one group without tiles."""
        if self.tile is None:
            return np.zeros(self.size, dtype=np.intp), (0,)
        idx = group_rows(self.tile)
        idx.flags.writeable = False
        return idx, tuple(int(np.flatnonzero(idx == g)[0]) for g in range(int(idx.max()) + 1))

    @cached_property
    def _peaks(self) -> dict[tuple[str, str, str], np.ndarray]:
        """Rates asked for so far, by (dense, effective or energy, engine, dtype)."""
        return {}

    def energy_per_flop(self, engine: str, dtype: str) -> np.ndarray:
        """Joules per FLOP [H] of ``engine`` at ``dtype`` (fallbacks honoured; NaN without an
        energy model)."""
        if self.energy is None:
            return np.full(self.size, np.nan)
        key = ("energy", engine, dtype)
        if key not in self._peaks:
            self.base.peak(engine, dtype)  # the clear error if the dtype is unsupported
            table = self.energy.matrix if engine == EngineKind.MATRIX else self.energy.vector
            self._peaks[key] = self._resolved(table, engine, dtype)
        return self._peaks[key]

    def energy_arrays(self) -> DeviceEnergy:
        """The grid's :class:`DeviceEnergy`, all NaN when it has none (so formulas need not ask)."""
        if self.energy is not None:
            return self.energy
        nan = np.full(self.size, np.nan)
        return DeviceEnergy(
            {}, {}, np.full(self.capacity.shape, np.nan), *([nan] * len(DeviceEnergy.SCALARS))
        )

    def take(self, idx: Any) -> HardwareGrid:
        """Return the variants at ``idx`` (a slice or index array)."""
        return self._each(lambda a: a[idx], take_labels(self.labels, idx), lambda e: e.take(idx))

    def repeat(self, h: int) -> HardwareGrid:
        """A one-variant grid's variant ``h`` times, labelled ``name[0]`` to ``name[h - 1]``
        (fresh copies: :func:`roofline.knobs.grid_of` writes knob values into them)."""
        return self._each(
            lambda a: np.repeat(a, h, axis=0),
            VariantLabels(self.labels[0], range(h)),
            lambda e: e.repeat(h),
        )

    def _each(
        self,
        each: Callable[[np.ndarray], np.ndarray],
        labels: Sequence[str],
        energy: Callable[[DeviceEnergy], DeviceEnergy],
    ) -> HardwareGrid:
        """A grid of ``each`` of this grid's per-variant arrays (first axis: the variants), named
        ``labels``, with ``energy`` of its energy model."""
        return HardwareGrid(
            self.base,
            labels,
            each(self.capacity),
            each(self.bandwidth),
            each(self.granularity),
            {k: each(v) for k, v in self.matrix_peak.items()},
            {k: each(v) for k, v in self.vector_peak.items()},
            each(self.matrix_eff),
            each(self.vector_eff),
            each(self.overhead),
            None if self.tile is None else each(self.tile),
            {k: each(v) for k, v in self.knobs.items()},
            None if self.energy is None else energy(self.energy),
            None if self.engines is None else tuple(self.engines[i] for i in each(self._index)),
        )

    @property
    def _index(self) -> np.ndarray:
        """The variants' positions [H] (what :meth:`_each` maps to each variant's engines)."""
        return np.arange(self.size)

    def variant(self, h: int) -> Hardware:
        """Return variant ``h`` as a :class:`Hardware` (for the scalar oracle and reports)."""
        base = self.base
        mem = {
            n: lvl.model_copy(
                update={
                    "capacity": float(self.capacity[h, i]),
                    "bandwidth": float(self.bandwidth[h, i]),
                    "granularity": float(self.granularity[h, i]),
                }
            )
            for i, (n, lvl) in enumerate(base.memory.items())
        }
        engines = base.engines if self.engines is None else self.engines[h]  # its fallbacks
        mat = engines.matrix.model_copy(
            update={
                "peak": _own(self.matrix_peak, h),
                "efficiency": float(self.matrix_eff[h]),
                "tile": None if self.tile is None else tuple(int(t) for t in self.tile[h]),
            }
        )
        vec = engines.vector.model_copy(
            update={
                "peak": _own(self.vector_peak, h),
                "efficiency": float(self.vector_eff[h]),
            }
        )
        hw = base.model_copy(
            update={
                "name": str(self.labels[h]),
                "memory": mem,
                "engines": engines.model_copy(update={"matrix": mat, "vector": vec}),
                "overheads": base.overheads.model_copy(update={"per_op": float(self.overhead[h])}),
            }
        )
        return _with_energy(hw, self.energy, h)


#: one-variant grids of the devices seen last, by identity (each holds its device, so an id is
#: never reused while cached); a device is frozen and so is its grid's every array
_GRIDS: OrderedDict[int, tuple[Hardware, HardwareGrid]] = OrderedDict()


def _read_only(arr: np.ndarray) -> np.ndarray:
    arr.flags.writeable = False
    return arr


_GRIDS_MAX = 64
_GRIDS_LOCK = threading.Lock()  # sweeps may evaluate from several threads


def to_grid(hw: Hardware) -> HardwareGrid:
    """A one-variant grid of ``hw`` (built once per device object; its arrays read-only)."""
    with _GRIDS_LOCK:
        hit = _GRIDS.get(id(hw))
        if hit is not None and hit[0] is hw:
            _GRIDS.move_to_end(id(hw))
            return hit[1]
    grid = stack([hw])
    arrays = [grid.capacity, grid.bandwidth, grid.granularity, grid.matrix_eff, grid.vector_eff]
    arrays += [grid.overhead, *grid.matrix_peak.values(), *grid.vector_peak.values()]
    for arr in arrays if grid.tile is None else [*arrays, grid.tile]:
        arr.flags.writeable = False
    with _GRIDS_LOCK:
        _GRIDS[id(hw)] = (hw, grid)
        while len(_GRIDS) > _GRIDS_MAX:
            _GRIDS.popitem(last=False)
    return grid


def stack(devices: Sequence[Hardware]) -> HardwareGrid:
    """Stack devices with the same memory level names and kinds into one grid."""
    if not devices:
        raise SpecError("no devices to stack", field="devices")
    base = devices[0]
    for d in devices[1:]:
        if d.level_names != base.level_names:
            raise SpecError(
                f"cannot stack {d.name!r} with {base.name!r}: memory levels "
                f"{d.level_names} differ from {base.level_names}",
                field="memory",
                fix="evaluate the devices separately (rl.compare does)",
            )
    if any(d.curves != base.curves for d in devices[1:]):
        raise SpecError(
            "cannot stack devices whose efficiency curves differ",
            field="devices",
            fix="evaluate them one by one (curves belong to the base)",
        )
    tiles = [d.engines.matrix.tile for d in devices]
    if any(t is None for t in tiles) and not all(t is None for t in tiles):
        tiles = [t or (1, 1, 1) for t in tiles]
    mdt = sorted(set().union(*(d.engines.matrix.peak for d in devices)))
    vdt = sorted(set().union(*(d.engines.vector.peak for d in devices)))
    served = [_serves(d) for d in devices]
    return HardwareGrid(
        base=base,
        labels=tuple(d.name for d in devices),
        capacity=np.array([[lvl.capacity for lvl in d.memory.values()] for d in devices]),
        bandwidth=np.array([[lvl.bandwidth for lvl in d.memory.values()] for d in devices]),
        granularity=np.array([[lvl.granularity for lvl in d.memory.values()] for d in devices]),
        matrix_peak={
            k: np.array([d.engines.matrix.peak.get(k, np.nan) for d in devices]) for k in mdt
        },
        vector_peak={
            k: np.array([d.engines.vector.peak.get(k, np.nan) for d in devices]) for k in vdt
        },
        matrix_eff=np.array([d.engines.matrix.efficiency for d in devices]),
        vector_eff=np.array([d.engines.vector.efficiency for d in devices]),
        overhead=np.array([d.overheads.per_op for d in devices]),
        tile=None if tiles[0] is None else np.array(tiles, dtype=float),
        energy=device_energy(devices),
        engines=None if all(v == served[0] for v in served) else tuple(d.engines for d in devices),
    )


def _own(peaks: dict[str, np.ndarray], h: int) -> dict[str, float]:
    """Variant ``h``'s peak per dtype, of the dtypes it has (a stack holds NaN for the others)."""
    return {k: float(v[h]) for k, v in peaks.items() if not np.isnan(v[h])}


def _serves(hw: Hardware) -> dict[tuple[str, str], str]:
    """Which dtype's peak serves each dtype ``hw`` runs or falls back from, per engine."""
    out = {}
    for kind in EngineKind:
        eng: Engine = getattr(hw.engines, kind)
        for dt in (*eng.peak, *eng.fallback):
            out[(str(kind), dt)] = eng.resolve(dt)
    return out


def _with_energy(hw: Hardware, energy: DeviceEnergy | None, h: int) -> Hardware:
    """``hw`` with variant ``h``'s energy figures (none where the variant has none)."""
    if energy is None or np.isnan(energy.tdp[h]):
        mem = {n: lvl.model_copy(update={"energy": None}) for n, lvl in hw.memory.items()}
        engines = hw.engines.model_copy(
            update={
                e: getattr(hw.engines, e).model_copy(update={"energy": None}) for e in EngineKind
            }
        )
        return hw.model_copy(
            update={"memory": mem, "engines": engines, "power": None, "cost": None}
        )

    def value(a: np.ndarray) -> float | None:
        return None if np.isnan(a[h]) else float(a[h])

    mem = {
        n: lvl.model_copy(update={"energy": float(energy.level[h, i])})
        for i, (n, lvl) in enumerate(hw.memory.items())
    }
    engines = hw.engines.model_copy(
        update={
            e: getattr(hw.engines, e).model_copy(
                update={
                    "energy": {
                        k: float(v[h])
                        for k, v in (
                            energy.matrix if e == EngineKind.MATRIX else energy.vector
                        ).items()
                        if not np.isnan(v[h])
                    }
                }
            )
            for e in EngineKind
        }
    )
    # the base may lack a block a stacked variant has: build it unvalidated (figures checked)
    power = Power.model_construct(
        tdp=float(energy.tdp[h]),
        idle=float(energy.idle[h]),
        interconnect=value(energy.interconnect),
        source=hw.power.source if hw.power else "stacked variant",
        note=hw.power.note if hw.power else None,
    )
    priced = not (np.isnan(energy.price[h]) and np.isnan(energy.hourly[h]))
    cost = None
    if priced:
        cost = (hw.cost or Cost.model_construct(source="stacked variant", note=None)).model_copy(
            update={k: value(getattr(energy, k)) for k in ("price", "lifetime", "electricity")}
            | {"hourly": value(energy.hourly), "pue": float(energy.pue[h])}
        )
    return hw.model_copy(update={"memory": mem, "engines": engines, "power": power, "cost": cost})


def group_rows(key: np.ndarray) -> np.ndarray:
    """Group index per row of ``key`` [n, k] (equal rows, same group; groups numbered in the
    order of their sorted rows, as ``np.unique(key, axis=0)`` numbers them).

    Column by column: each column's values become codes (a 1-D sort), merged into one code per
    row; constant columns cost one comparison. O(n) when all rows are equal.
    """
    n = key.shape[0]
    codes = np.zeros(n, dtype=np.int64)
    if n == 0:
        return codes.astype(np.intp)
    for col in key.T:
        if (col == col[0]).all():
            continue
        values, inverse = np.unique(col, return_inverse=True)
        codes = codes * values.size + inverse.ravel()
        codes = np.unique(codes, return_inverse=True)[1].ravel()  # renumber: never overflows
    return codes.astype(np.intp)
