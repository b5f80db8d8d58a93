"""Device variants as arrays: :class:`HardwareGrid` (H variants sharing one memory structure),
built by :func:`to_grid`, :func:`stack` or :func:`vary` (knob paths such as
``memory.hbm.bandwidth`` with values as SI numbers or unit strings)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from roofline.dtypes import BITS, canonical
from roofline.efficiency import EfficiencyCurve
from roofline.errors import SpecError
from roofline.hardware import Engine, Hardware
from roofline.suggest import did_you_mean
from roofline.units import Dim, parse_quantity

# grids


def _level_alias(hw: Hardware, name: str) -> str:
    """Resolve ``main`` (the device level) and ``onchip`` (the largest on-chip level)."""
    if name in hw.memory:
        return name
    if name == "main":
        return hw.main_level
    if name == "onchip":
        onchip = [n for n, lvl in hw.memory.items() if lvl.kind == "onchip"]
        if onchip:
            return max(onchip, key=lambda n: hw.memory[n].capacity)
    if name == "host":
        host = [n for n, lvl in hw.memory.items() if lvl.kind == "host"]
        if host:
            return host[0]
    raise SpecError(
        f"device {hw.name!r} has no memory level {name!r}",
        field=f"memory.{name}",
        fix=did_you_mean(
            name, [*hw.memory, "main", "onchip"], "use one of " + ", ".join(hw.memory)
        ),
    )


_PATH_DIMS = {"capacity": Dim.BYTES, "bandwidth": Dim.BANDWIDTH, "granularity": Dim.BYTES}


def knob_dim(hw: Hardware, path: str) -> tuple[str, Dim | None]:
    """Validate a knob path and return (canonical path, its dimension; None = dimensionless)."""
    parts = path.split(".")
    if parts[0] == "memory" and len(parts) == 3 and parts[2] in _PATH_DIMS:
        return f"memory.{_level_alias(hw, parts[1])}.{parts[2]}", _PATH_DIMS[parts[2]]
    if parts[0] == "engines" and len(parts) >= 3 and parts[1] in ("matrix", "vector"):
        if parts[2] == "peak" and len(parts) == 4:
            dt = canonical(parts[3], field=path)
            return f"engines.{parts[1]}.peak.{dt}", Dim.RATE
        if parts[2] == "efficiency" and len(parts) == 3:
            return path, None
    if path in ("overheads.per_op",):
        return path, Dim.TIME
    known = [f"memory.{n}.{k}" for n in hw.memory for k in _PATH_DIMS] + [
        f"engines.{e}.peak.{d}" for e in ("matrix", "vector") for d in BITS
    ]
    known += ["engines.matrix.efficiency", "engines.vector.efficiency", "overheads.per_op"]
    raise SpecError(
        f"unknown knob {path!r}",
        field=path,
        fix=did_you_mean(path, known, "e.g. memory.main.bandwidth, engines.matrix.peak.fp16"),
    )


def parse_knob_values(hw: Hardware, path: str, values: Sequence[Any]) -> tuple[str, np.ndarray]:
    """Return (canonical path, values as SI floats) for a knob."""
    canon, dim = knob_dim(hw, path)
    arr = np.asarray(values) if isinstance(values, np.ndarray) else None
    if arr is not None and arr.dtype.kind in "fiu" and arr.ndim == 1:
        # already SI numbers (sweep chunks): validate in bulk instead of one by one
        x = arr.astype(float)
        zero_ok = path == "overheads.per_op"
        bad = ~np.isfinite(x) | (x < 0) | ((x == 0) & (not zero_ok))
        if dim is None:
            bad |= (x <= 0) | (x > 1)
        if bad.any():
            v = x[np.flatnonzero(bad)[0]]
            raise SpecError(
                f"{v!r} is not a valid value",
                field=path,
                fix="use a positive, finite value" if dim else "use a value in (0, 1]",
            )
        return canon, x
    out = []
    for v in values:
        if dim is None:
            try:
                x = float(v)
            except (TypeError, ValueError):
                raise SpecError(f"{v!r} is not a number", field=path) from None
            if not (0 < x <= 1):
                raise SpecError(f"{v!r} must be in (0, 1]", field=path)
            out.append(x)
        else:
            try:
                out.append(parse_quantity(v, dim, allow_zero=path == "overheads.per_op"))
            except SpecError as exc:
                raise exc.with_context(prefix=path) from None
    return canon, np.asarray(out, dtype=float)


@dataclass(frozen=True, eq=False)
class HardwareGrid:
    """H device variants sharing one memory structure, as numpy arrays.

    Attributes
    ----------
    base : Hardware
        The device the variants derive from (structure, fallbacks, labels).
    labels : tuple of str
        A name per variant.
    capacity, bandwidth, granularity : ndarray [H, L]
        Bytes, bytes/s, bytes per memory level.
    matrix_peak, vector_peak : dict dtype -> ndarray [H]
        FLOP/s per dtype.
    matrix_eff, vector_eff, overhead : ndarray [H]
    tile : ndarray [H, 3] or None
    knobs : dict path -> ndarray [H]
        The values varied to make this grid (for tidy sweep tables).
    """

    base: Hardware
    labels: tuple[str, ...]
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

    @property
    def size(self) -> int:
        return len(self.labels)

    @property
    def level_names(self) -> tuple[str, ...]:
        return self.base.level_names

    @property
    def level_kinds(self) -> tuple[str, ...]:
        return tuple(lvl.kind for lvl in self.base.memory.values())

    def peak(self, engine: str, dtype: str) -> np.ndarray:
        """Peak [H] of ``engine`` for ``dtype`` (fallbacks honoured; SpecError if none)."""
        self.base.peak(engine, dtype)  # raises the clear error if the dtype is unsupported
        eng: Engine = getattr(self.base.engines, engine)
        table = self.matrix_peak if engine == "matrix" else self.vector_peak
        return table[eng.resolve(canonical(dtype))]

    def take(self, idx: Any) -> HardwareGrid:
        """Return the variants at ``idx`` (a slice or index array)."""
        return HardwareGrid(
            self.base,
            tuple(np.asarray(self.labels, dtype=object)[idx]),
            self.capacity[idx],
            self.bandwidth[idx],
            self.granularity[idx],
            {k: v[idx] for k, v in self.matrix_peak.items()},
            {k: v[idx] for k, v in self.vector_peak.items()},
            self.matrix_eff[idx],
            self.vector_eff[idx],
            self.overhead[idx],
            None if self.tile is None else self.tile[idx],
            {k: v[idx] for k, v in self.knobs.items()},
        )

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
        mat = base.engines.matrix.model_copy(
            update={
                "peak": {k: float(v[h]) for k, v in self.matrix_peak.items()},
                "efficiency": float(self.matrix_eff[h]),
                "tile": None if self.tile is None else tuple(int(t) for t in self.tile[h]),
            }
        )
        vec = base.engines.vector.model_copy(
            update={
                "peak": {k: float(v[h]) for k, v in self.vector_peak.items()},
                "efficiency": float(self.vector_eff[h]),
            }
        )
        return base.model_copy(
            update={
                "name": str(self.labels[h]),
                "memory": mem,
                "engines": base.engines.model_copy(update={"matrix": mat, "vector": vec}),
                "overheads": base.overheads.model_copy(update={"per_op": float(self.overhead[h])}),
            }
        )


def _curves(hw: Hardware) -> list[EfficiencyCurve | None]:
    eng = hw.engines
    levels = hw.memory.values()
    return [x.efficiency_curve for x in (eng.matrix, eng.vector, *levels)] + [
        lvl.gather_curve for lvl in levels
    ]


def to_grid(hw: Hardware) -> HardwareGrid:
    """A one-variant grid of ``hw``."""
    return stack([hw])


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
    if any(_curves(d) != _curves(base) for d in devices[1:]):
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
    )


def knob_columns(
    hw: Hardware, knobs: Mapping[str, Sequence[Any]], mode: str = "product"
) -> dict[str, np.ndarray]:
    """Value columns (SI floats, one entry per variant) of a product or zip grid of knobs.

    Paths are checked and canonicalized (:func:`knob_dim`); an empty mapping gives no columns.
    """
    parsed = dict(parse_knob_values(hw, p, v) for p, v in knobs.items())
    lists = list(parsed.values())
    if mode == "zip":
        if len({len(v) for v in lists}) > 1:
            raise SpecError(
                "zip mode needs value lists of equal length",
                field="vary",
                fix="use mode='product' or give equal lengths",
            )
        return parsed
    if mode != "product":
        raise SpecError(f"unknown mode {mode!r}", field="mode", fix="use 'product' or 'zip'")
    if not parsed:
        return {}
    mesh = np.meshgrid(*lists, indexing="ij")
    return {k: m.ravel() for k, m in zip(parsed, mesh)}


def group_rows(key: np.ndarray) -> np.ndarray:
    """Group index per row of ``key`` (equal rows, same group); O(n) when all rows are equal."""
    if key.shape[0] == 0 or (key == key[0]).all():
        return np.zeros(key.shape[0], dtype=np.intp)
    return np.ravel(np.unique(key, axis=0, return_inverse=True)[1])


def vary(
    hw: Hardware, knobs: Mapping[str, Sequence[Any]], mode: Literal["product", "zip"] = "product"
) -> HardwareGrid:
    """Return a grid of ``hw`` with knobs set to each combination of values.

    Parameters
    ----------
    hw : Hardware
    knobs : mapping path -> values
        Paths such as ``memory.hbm.bandwidth`` (``memory.main.*`` and ``memory.onchip.*`` are
        aliases for the device level and the largest on-chip level), ``engines.matrix.peak.fp16``,
        ``engines.matrix.efficiency``, ``overheads.per_op``. Values are numbers in SI units or unit
        strings (``"2 TB/s"``).
    mode : "product" or "zip"
        Cartesian product of the value lists, or element-wise (equal lengths).
    """
    parsed = knob_columns(hw, knobs, mode)
    if not parsed:
        return to_grid(hw)
    cols = list(parsed.values())
    g = to_grid(hw)
    h = cols[0].size
    rep = {k: np.repeat(v, h, axis=0) for k, v in (("cap", g.capacity), ("bw", g.bandwidth))}
    capacity, bandwidth = rep["cap"], rep["bw"]
    granularity = np.repeat(g.granularity, h, axis=0)
    mp = {k: np.repeat(v, h) for k, v in g.matrix_peak.items()}
    vp = {k: np.repeat(v, h) for k, v in g.vector_peak.items()}
    meff, veff = np.repeat(g.matrix_eff, h), np.repeat(g.vector_eff, h)
    overhead = np.repeat(g.overhead, h)
    names = list(hw.memory)
    for path, col in zip(parsed, cols):
        parts = path.split(".")
        if parts[0] == "memory":
            arr = {"capacity": capacity, "bandwidth": bandwidth, "granularity": granularity}[
                parts[2]
            ]
            arr[:, names.index(parts[1])] = col
        elif parts[0] == "engines" and parts[2] == "peak":
            table = mp if parts[1] == "matrix" else vp
            table[parts[3]] = col.copy()
        elif parts[0] == "engines" and parts[2] == "efficiency":
            (meff if parts[1] == "matrix" else veff)[:] = col
        else:
            overhead[:] = col
    labels = tuple(f"{hw.name}[{i}]" for i in range(h))
    tile = None if g.tile is None else np.repeat(g.tile, h, axis=0)
    return HardwareGrid(
        hw,
        labels,
        capacity,
        bandwidth,
        granularity,
        mp,
        vp,
        meff,
        veff,
        overhead,
        tile,
        knobs=dict(zip(parsed, cols)),
    )
