"""Knobs: paths into a device spec (``memory.hbm.bandwidth``, ``engines.matrix.peak.fp16``,
``overheads.per_op``, and the energy model's ``engines.matrix.energy.fp16``, ``memory.hbm.energy``,
``power.tdp``, ``power.idle``, ``power.interconnect``, ``cost.price``, ``cost.lifetime``,
``cost.electricity``, ``cost.pue``, ``cost.hourly``) with values as SI numbers or unit strings,
and :func:`vary`, which makes a :class:`~roofline.grid.HardwareGrid` of every combination."""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np

from roofline.arguments import knob_mapping, knob_values
from roofline.budget import check_budget
from roofline.dtypes import BITS, canonical
from roofline.energy import DeviceEnergy
from roofline.errors import SpecError, UnreadKnobWarning
from roofline.grid import HardwareGrid, to_grid
from roofline.hardware import Engine, Hardware
from roofline.kinds import EngineKind, LevelKind
from roofline.precision import Precision
from roofline.spec_ranges import check_ranges, knob_range
from roofline.suggest import did_you_mean
from roofline.units import Dim, parse_quantity

#: a knob's values: numbers in SI units or unit strings (``"2 TB/s"``), or an array of SI numbers
KnobValues = Sequence[Any] | np.ndarray


def _level_alias(hw: Hardware, name: str) -> str:
    """Resolve ``main`` (the device level) and ``onchip`` (the largest on-chip level)."""
    if name in hw.memory:
        return name
    if name == "main":
        return hw.main_level
    if name == "onchip":
        onchip = [n for n, lvl in hw.memory.items() if lvl.kind == LevelKind.ONCHIP]
        if onchip:
            return max(onchip, key=lambda n: hw.memory[n].capacity)
    if name == "host":
        host = [n for n, lvl in hw.memory.items() if lvl.kind == LevelKind.HOST]
        if host:
            return host[0]
    raise SpecError(
        f"device {hw.name!r} has no memory level {name!r}",
        field=f"memory.{name}",
        fix=did_you_mean(
            name, [*hw.memory, "main", "onchip"], "use one of " + ", ".join(hw.memory)
        ),
    )


_PATH_DIMS = {
    "capacity": Dim.BYTES,
    "bandwidth": Dim.BANDWIDTH,
    "granularity": Dim.BYTES,
    "energy": Dim.ENERGY_PER_BYTE,
}
#: knobs of the power envelope and the economics (``cost.pue`` is a plain ratio >= 1)
_ENERGY_KNOBS = {
    "power.tdp": Dim.POWER,
    "power.idle": Dim.POWER,
    "power.interconnect": Dim.ENERGY_PER_BYTE,
    "cost.price": Dim.MONEY,
    "cost.lifetime": Dim.TIME,
    "cost.electricity": Dim.MONEY_PER_ENERGY,
    "cost.pue": Dim.COUNT,
    "cost.hourly": Dim.MONEY_PER_TIME,
}
#: knobs that may be zero (an energy figure, idle power, a free electricity supply, no overhead)
_ZERO_OK = ("overheads.per_op", "power.idle", "power.interconnect", "cost.electricity")


def _is_energy(path: str) -> bool:
    """Whether knob ``path`` is an energy figure: it ends in ``.energy`` or runs through one."""
    return path.endswith(".energy") or ".energy." in path


def zero_ok(path: str) -> bool:
    """Whether knob ``path`` (canonical) may be zero (an overhead, an energy, idle power...)."""
    return path in _ZERO_OK or _is_energy(path)


#: knobs that a device improves by lowering (the rest: by raising, as a bandwidth or a peak)
_LOWER_IS_BETTER = (*_ZERO_OK, "cost.price", "cost.pue", "cost.hourly")


def lower_is_better(path: str) -> bool:
    """Whether knob ``path`` (canonical) improves a device by going down: an overhead, an
    energy, idle power, a price, a PUE, an access granularity (less waste per lookup). A
    bandwidth, capacity, peak, efficiency, TDP or lifetime improves by going up."""
    return path in _LOWER_IS_BETTER or _is_energy(path) or path.endswith(".granularity")


def _need_energy(hw: Hardware, path: str) -> None:
    if not hw.has_energy:
        raise SpecError(
            f"device {hw.name!r} has no energy model to vary",
            field=path,
            fix="add its power block and energy figures (hw_specs/README.md, Energy)",
        )
    if path.startswith("cost."):
        cost = hw.cost
        if cost is None:
            raise SpecError(
                f"device {hw.name!r} has no cost block", field=path, fix="add cost: to its spec"
            )
        hourly = path == "cost.hourly"
        if hourly != (cost.hourly is not None):
            raise SpecError(
                f"device {hw.name!r} is priced {'hourly' if cost.hourly else 'by purchase'}",
                field=path,
                fix="vary cost.hourly" if cost.hourly else "vary cost.price, lifetime, electricity",
            )


def knob_dim(hw: Hardware, path: str) -> tuple[str, Dim | None]:
    """Validate a knob path and return (canonical path, its dimension; None = dimensionless)."""
    parts = path.split(".")
    if parts[0] == "memory" and len(parts) == 3 and parts[2] in _PATH_DIMS:
        if parts[2] == "energy":
            _need_energy(hw, path)
        return f"memory.{_level_alias(hw, parts[1])}.{parts[2]}", _PATH_DIMS[parts[2]]
    if parts[0] == "engines" and len(parts) >= 3 and parts[1] in tuple(EngineKind):
        if parts[2] == "peak" and len(parts) == 4:
            dt = canonical(parts[3], field=path)
            return f"engines.{parts[1]}.peak.{dt}", Dim.RATE
        if parts[2] == "efficiency" and len(parts) == 3:
            return path, None
        if parts[2] == "energy" and len(parts) == 4:
            _need_energy(hw, path)
            dt = canonical(parts[3], field=path)
            eng = getattr(hw.engines, parts[1])
            if dt not in eng.peak:
                used = eng.resolve(dt)
                raise SpecError(
                    f"{hw.name} has no {parts[1]} peak for {dt}"
                    + (f" (it runs at {used}'s rate and energy)" if used else ""),
                    field=path,
                    fix=f"vary engines.{parts[1]}.energy.{used or next(iter(eng.peak))}",
                )
            return f"engines.{parts[1]}.energy.{dt}", Dim.ENERGY
    if path in ("overheads.per_op",):
        return path, Dim.TIME
    if path in _ENERGY_KNOBS:
        _need_energy(hw, path)
        return path, _ENERGY_KNOBS[path]
    raise SpecError(
        f"unknown knob {path!r}",
        field=path,
        fix=did_you_mean(
            path, knob_paths(hw), "e.g. memory.main.bandwidth, engines.matrix.peak.fp16"
        ),
    )


def knob_paths(hw: Hardware) -> list[str]:
    """Every knob path :func:`knob_dim` knows on ``hw`` (a peak and an energy of every dtype,
    though only those the device has can be read or varied, and the energy and cost knobs,
    though only a device with an energy model and that way of pricing has them)."""
    known = [f"memory.{n}.{k}" for n in hw.memory for k in _PATH_DIMS] + [
        f"engines.{e}.{what}.{d}" for e in EngineKind for d in BITS for what in ("peak", "energy")
    ]
    known += ["engines.matrix.efficiency", "engines.vector.efficiency", "overheads.per_op"]
    return known + list(_ENERGY_KNOBS)


def knob_base(hw: Hardware, path: str) -> tuple[str, float]:
    """(canonical path, the value ``hw`` has for knob ``path``, SI): read from the device's
    one-variant grid through the same slot :func:`vary` writes, so that ``vary(hw, {path:
    [value]})`` gives ``hw`` back. A SpecError for a knob the device does not have (a peak of a
    dtype its engine lacks, an energy without an energy model, a price of an hourly device)."""
    canon, _ = knob_dim(hw, path)
    parts = canon.split(".")
    target, key = _slot(to_grid(hw), parts, list(hw.memory))
    if isinstance(target, dict) and key not in target:
        eng = getattr(hw.engines, parts[1])
        raise SpecError(
            f"{hw.name} has no {parts[1]} {parts[2]} for {key}",
            field=path,
            fix=f"use one of {', '.join(eng.peak)}",
        )
    value = float(np.asarray(target[key]).reshape(-1)[0])
    if not math.isfinite(value):
        raise SpecError(
            f"{hw.name} gives no value for {canon}",
            field=path,
            fix="add it to the device spec (hw_specs/README.md)",
        )
    return canon, value


def parse_knob_values(hw: Hardware, path: str, values: KnobValues) -> tuple[str, np.ndarray]:
    """Return (canonical path, values as SI floats) for a knob."""
    values = knob_values(path, values)
    canon, dim = knob_dim(hw, path)
    si = _parse_values(path, canon, dim, values)
    key = knob_range(canon)
    if key is not None:
        try:
            check_ranges(si, key)
        except SpecError as exc:
            raise exc.with_context(prefix=path) from None
    return canon, si


def _parse_values(path: str, canon: str, dim: Dim | None, values: KnobValues) -> np.ndarray:
    """``values`` as SI floats (text parsed with its units), checked by :func:`_check_range`."""
    arr = np.asarray(values) if isinstance(values, np.ndarray) else None
    if arr is not None and arr.dtype.kind in "fiu" and arr.ndim == 1:
        shown: Sequence[Any] | np.ndarray = arr  # already SI numbers (sweep chunks)
        si = arr.astype(float)
    else:
        shown = list(values)
        si = np.array([_si_value(path, dim, v) for v in shown], dtype=float)
    _check_range(path, canon, dim, si, shown)
    return si


def _si_value(path: str, dim: Dim | None, value: Any) -> float:
    """One knob value as an SI float: a plain number for a dimensionless fraction, else a
    quantity with its units (its range is checked apart)."""
    if dim is None:
        if isinstance(value, bool):
            raise SpecError(f"{value!r} is not a number", field=path, fix=_range_fix(path, dim))
        try:
            return float(value)
        except (TypeError, ValueError):
            raise SpecError(f"{value!r} is not a number", field=path) from None
    try:
        return parse_quantity(value, dim, positive=False)
    except SpecError as exc:
        raise exc.with_context(prefix=path) from None


def _check_range(
    path: str, canon: str, dim: Dim | None, si: np.ndarray, shown: Sequence[Any] | np.ndarray
) -> None:
    """One SpecError for the first value out of its knob's range: finite and non-negative;
    positive unless the knob may be zero (an overhead, an idle power); a fraction in (0, 1]; a
    PUE of at least 1."""
    with np.errstate(invalid="ignore"):
        zero = zero_ok(canon)
        bad = ~np.isfinite(si) | (si < 0) | ((si == 0) & (not zero))
        if dim is None:
            bad |= (si <= 0) | (si > 1)
        if canon == "cost.pue":
            bad |= si < 1
    if not bad.any():
        return
    i = int(np.flatnonzero(bad)[0])
    x, v = float(si[i]), shown[i]
    if not math.isfinite(x):
        problem = "is not finite"
    elif dim is None:
        problem = "must be in (0, 1]"
    elif canon == "cost.pue" and x >= 0:
        problem = "is below 1"
    else:
        problem = "must be non-negative" if zero else "must be positive"
    raise SpecError(f"{_plain(v)!r} {problem}", field=path, fix=_range_fix(canon, dim))


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python value it holds (for messages)."""
    return value.item() if isinstance(value, np.generic) else value


def _range_fix(path: str, dim: Dim | None) -> str:
    if path == "cost.pue":
        return "a PUE is at least 1 (facility power over IT power)"
    if dim is None:
        return "use a value in (0, 1]"
    return "use a non-negative, finite value" if zero_ok(path) else "use a positive, finite value"


@dataclass(frozen=True, eq=False)
class KnobSpace:
    """The variants of a knob grid without their columns: each knob's values (SI floats) and how
    they combine, so that any slice of variants is made on demand (a sweep of 1e9 points never
    holds 1e9 knob values).

    Variant ``i`` of a ``product`` space takes the values at ``np.unravel_index(i, lengths)``: the
    first knob varies slowest, as ``np.meshgrid(..., indexing="ij")`` ravels; of a ``zip`` space,
    the ``i``-th value of every knob.
    """

    paths: tuple[str, ...]
    values: tuple[np.ndarray, ...]
    mode: str = "product"

    @property
    def size(self) -> int:
        """Number of variants (a Python int: a product of 1e6 x 1e6 values does not overflow)."""
        if not self.values:
            return 0
        lengths = [len(v) for v in self.values]
        return lengths[0] if self.mode == "zip" else math.prod(lengths)

    def columns(self, start: int = 0, stop: int | None = None) -> dict[str, np.ndarray]:
        """The knob values [stop - start] of variants ``start`` to ``stop`` (default: all)."""
        stop = self.size if stop is None else min(stop, self.size)
        if self.mode == "zip":
            return {p: v[start:stop] for p, v in zip(self.paths, self.values)}
        flat = np.arange(start, stop, dtype=np.int64)
        out: dict[str, np.ndarray] = {}
        for p, v in reversed(list(zip(self.paths, self.values))):
            flat, pos = np.divmod(flat, len(v))
            out[p] = v[pos]
        return {p: out[p] for p in self.paths}

    def groups(self, start: int, stop: int, knob: int) -> np.ndarray:
        """Group number [stop - start] of variants ``start`` to ``stop`` of a product space:
        equal for variants that differ only in knob ``knob`` (numbered 0, 1... in the slice)."""
        lengths = [len(v) for v in self.values]
        stride = math.prod(lengths[knob + 1 :])
        flat = np.arange(start, stop, dtype=np.int64)
        outer, inner = np.divmod(flat, stride * lengths[knob])
        key = outer * stride + inner % stride
        low = int(key.min()) if key.size else 0
        span = int(key.max()) - low + 1 if key.size else 0
        if span <= 4 * key.size:  # a lookup table beats a sort
            seen = np.zeros(span, dtype=bool)
            seen[key - low] = True
            return (np.cumsum(seen) - 1)[key - low]
        return np.ravel(np.unique(key, return_inverse=True)[1])


#: bytes a grid holds per variant and knob column beyond its levels and peaks (efficiencies,
#: overhead, tile, energy scalars): an upper estimate for the budget check
_GRID_BYTES_PER_VARIANT = 8 * 24


def knob_space(hw: Hardware, knobs: Mapping[str, KnobValues], mode: str = "product") -> KnobSpace:
    """The :class:`KnobSpace` of ``knobs`` on ``hw``: paths checked and canonicalized
    (:func:`knob_dim`), values parsed; nothing of the grid's size is allocated."""
    if mode not in ("product", "zip"):
        raise SpecError(f"unknown mode {mode!r}", field="mode", fix="use 'product' or 'zip'")
    parsed = dict(parse_knob_values(hw, p, v) for p, v in knob_mapping(knobs).items())
    if mode == "zip" and len({len(v) for v in parsed.values()}) > 1:
        raise SpecError(
            "zip mode needs value lists of equal length",
            field="vary",
            fix="use mode='product' or give equal lengths",
        )
    return KnobSpace(tuple(parsed), tuple(parsed.values()), mode)


def knob_columns(
    hw: Hardware, knobs: Mapping[str, KnobValues], mode: str = "product"
) -> dict[str, np.ndarray]:
    """Value columns (SI floats, one entry per variant) of a product or zip grid of knobs.

    Paths are checked and canonicalized (:func:`knob_dim`); an empty mapping gives no columns. The
    grid's size is checked against the memory budget (:mod:`roofline.budget`) before allocating.
    """
    space = knob_space(hw, knobs, mode)
    check_grid_size(hw, space)
    return space.columns() if space.paths else {}


def check_grid_size(hw: Hardware, space: KnobSpace) -> None:
    """Refuse a grid of ``space`` on ``hw`` that would not fit the memory budget."""
    levels = len(hw.memory)
    peaks = len(hw.engines.matrix.peak) + len(hw.engines.vector.peak)
    per_variant = 8 * (3 * levels + peaks + len(space.paths)) + _GRID_BYTES_PER_VARIANT
    if hw.has_energy:
        per_variant += 8 * (levels + peaks)
    check_budget(
        float(space.size) * per_variant,
        f"a grid of {space.size:,} device variants",
        field="vary",
        fix="vary fewer values, or sweep them: rl.sweep(..., out='sweep.parquet') holds a chunk "
        "at a time",
    )


def vary(
    hw: Hardware, knobs: Mapping[str, KnobValues], mode: Literal["product", "zip"] = "product"
) -> HardwareGrid:
    """Return a grid of ``hw`` with knobs set to each combination of values
    (:func:`roofline.api.vary` takes a preset name or a path too).

    The grid's size is checked against the memory budget (:mod:`roofline.budget`) first.

    Parameters
    ----------
    hw : Hardware
    knobs : mapping path -> values
        Paths such as ``memory.hbm.bandwidth`` (``memory.main.*`` and ``memory.onchip.*`` are
        aliases for the device level and the largest on-chip level), ``engines.matrix.peak.fp16``,
        ``engines.matrix.efficiency``, ``overheads.per_op``; for a device with an energy model
        ``engines.matrix.energy.fp16`` (J/FLOP), ``memory.hbm.energy`` (J/B), ``power.tdp``,
        ``power.idle`` (W), ``power.interconnect`` (J/B), ``cost.price`` ($), ``cost.lifetime``
        (s), ``cost.electricity`` ($/J), ``cost.pue``, ``cost.hourly`` ($/s). Values are numbers in
        SI units or unit strings (``"2 TB/s"``, ``"0.5 pJ"``, ``"500 W"``).
    mode : "product" or "zip"
        Cartesian product of the value lists, or element-wise (equal lengths).
    """
    if not isinstance(hw, Hardware):
        raise SpecError(
            f"vary takes a loaded device, not {type(hw).__name__}",
            field="hw",
            fix="rl.vary(rl.load_hardware('a100_sxm4_80gb'), {...})",
        )
    return grid_of(hw, knob_columns(hw, knobs, mode))


def grid_of(hw: Hardware, parsed: dict[str, np.ndarray]) -> HardwareGrid:
    """The grid of ``hw`` with each canonical knob path set to its column of SI values (one
    variant per entry): what :func:`vary` builds once the values are checked, and what a sweep
    builds for each chunk of its :class:`KnobSpace`."""
    if not parsed:
        return to_grid(hw)
    cols = list(parsed.values())
    h = cols[0].size
    grid = to_grid(hw).repeat(h)
    names = list(hw.memory)
    for path, col in zip(parsed, cols):
        target, key = _slot(grid, path.split("."), names)
        target[key] = col.copy() if isinstance(target, dict) else col
    energy = grid.energy
    if energy is not None:
        low = np.flatnonzero(energy.tdp <= energy.idle)
        if low.size:
            i = int(low[0])
            raise SpecError(
                f"variant {i}: tdp {energy.tdp[i]:g} W is not above idle {energy.idle[i]:g} W",
                field="power.tdp",
                fix="vary the power limit above the static power",
            )
    return replace(grid, knobs=dict(zip(parsed, cols)))


def _slot(grid: HardwareGrid, parts: list[str], names: list[str]) -> tuple[Any, Any]:
    """(container, key) of the canonical knob path split into ``parts`` in ``grid``: the knob's
    values are ``container[key]`` (a column of an [H, L] array, a dtype of a peak or energy
    table, or a whole [H] array). The one map from a knob path to where its value lives, for
    :func:`grid_of` to write and :func:`knob_base` to read."""
    matrix = len(parts) > 1 and parts[1] == EngineKind.MATRIX
    energy = grid.energy
    if parts[0] == "memory":
        col = (slice(None), names.index(parts[1]))
        if parts[2] == "energy":
            return _energy(energy).level, col
        levels = {"capacity": grid.capacity, "bandwidth": grid.bandwidth}
        return levels.get(parts[2], grid.granularity), col
    if parts[0] == "engines" and parts[2] == "peak":
        return (grid.matrix_peak if matrix else grid.vector_peak), parts[3]
    if parts[0] == "engines" and parts[2] == "energy":
        e = _energy(energy)
        return (e.matrix if matrix else e.vector), parts[3]
    if parts[0] == "engines":  # efficiency
        return (grid.matrix_eff if matrix else grid.vector_eff), slice(None)
    if parts[0] in ("power", "cost"):
        return getattr(_energy(energy), parts[1]), slice(None)
    return grid.overhead, slice(None)


def _energy(energy: DeviceEnergy | None) -> DeviceEnergy:
    """The grid's energy model (:func:`knob_dim` refuses an energy knob of a device without)."""
    if energy is None:  # pragma: no cover - knob_dim checked
        raise SpecError("the device has no energy model", fix="add its power block")
    return energy


def unread_knobs(
    hw: Hardware, paths: Iterable[str], dtype: str | Precision, on_system: bool = False
) -> dict[str, str]:
    """The knobs among ``paths`` that an evaluation of device ``hw`` at ``dtype`` does not read,
    each with why and the fix: a peak or an energy of a dtype other than the one the engine runs
    (the compute dtype, or its fallback), and ``power.interconnect`` unless ``hw`` is the device
    of a system (``on_system``: its collectives read it).

    Varying such a knob gives the same answer for every variant.
    """
    compute = Precision.of(dtype).compute
    out: dict[str, str] = {}
    for path in paths:
        canon, _ = knob_dim(hw, path)
        parts = canon.split(".")
        if parts[0] == "engines" and parts[2] in ("peak", "energy"):
            engine: Engine = getattr(hw.engines, parts[1])
            used = engine.resolve(compute)
            if parts[3] != used:
                runs = f"{used}'s" if used and used != compute else "its"
                out[canon] = (
                    f"{canon} is not read at {compute}: the {parts[1]} engine runs {compute} at "
                    f"{runs} {parts[2]}, so every variant gives the same answer (evaluate at "
                    f"dtype {parts[3]}, or vary engines.{parts[1]}.{parts[2]}.{used or compute})"
                )
        elif canon == "power.interconnect" and not on_system:
            out[canon] = (
                f"{canon} is not read on one device (only by a system's collectives), so every "
                "variant gives the same answer (vary it on a system such as dgx_h100)"
            )
    return out


def warn_unread(
    hw: Hardware, paths: Iterable[str], dtype: str | Precision, on_system: bool = False
) -> None:
    """Warn (:class:`~roofline.errors.UnreadKnobWarning`) of every knob among ``paths`` that an
    evaluation at ``dtype`` does not read (:func:`unread_knobs`)."""
    for message in unread_knobs(hw, paths, dtype, on_system).values():
        warnings.warn(UnreadKnobWarning(message), stacklevel=3)
