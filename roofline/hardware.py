"""Accelerator specs: engines (dense peak per dtype), a memory hierarchy, overheads, and the
optional energy model (joules per FLOP and per byte, idle power, TDP) and economics.

The same as numpy arrays over H device variants is :class:`roofline.grid.HardwareGrid`.

All quantities are SI floats after validation: FLOP/s, bytes, bytes/s, seconds, joules per FLOP,
joules per byte, watts, dollars. A spec file writes every quantity with its unit
(``"2.039 TB/s"``, ``"0.56 pJ"``, ``"700 W"``, ``"$25000"``), parsed by :mod:`roofline.units`; a
bare number there (``per_op: 5``) is refused with the fix (only zero needs no unit). A mapping
built in Python may give numbers in base SI units, as everywhere in the Python API; text needs its
unit there too. A dumped spec (``model_dump``) writes every quantity with its base unit, so it
loads again from a file.

The energy model is all or nothing: a device with a ``power`` block gives every engine an
``energy`` table (one figure per dtype it has a peak for) and every memory level an ``energy``;
a device without one has no energy figures at all (its energy columns are empty).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    Field,
    PlainSerializer,
    ValidationInfo,
    field_validator,
    model_validator,
)

from roofline.curves import EfficiencyCurve
from roofline.dtypes import canonical
from roofline.errors import SpecError, short_repr
from roofline.field_checks import Name, SpecModel, numeral
from roofline.kinds import LEVEL_ORDER, RESERVED_LEVEL_NAMES, EngineKind, LevelKind
from roofline.spec_ranges import check_range
from roofline.units import BASE_UNIT, Dim, parse_quantity, units_required


def quantity(dim: Dim, key: str, allow_zero: bool = False) -> BeforeValidator:
    """A quantity field: text with its unit; a number is refused with the fix in a spec file
    (:func:`roofline.spec_errors.units_required`) and read in base SI units from Python; then
    held to the physical range of ``key`` (:mod:`roofline.spec_ranges`)."""

    def parse(value: Any, info: ValidationInfo) -> float:
        need = units_required(info.context)
        si = parse_quantity(value, dim, allow_zero=allow_zero, require_unit=need)
        return check_range(si, key, dim.value)

    return BeforeValidator(parse)


def as_text(dim: Dim) -> PlainSerializer:
    """Dump the SI float with its base unit, so a dumped spec loads again (``"5.6e-13 J"``)."""
    unit = BASE_UNIT[dim]
    if dim == Dim.MONEY:
        return PlainSerializer(lambda v: f"${v!r}", return_type=str)
    return PlainSerializer(lambda v: f"{v!r} {unit}", return_type=str)


#: FLOP (or OP) per second: ``"312 TFLOP/s"``
Rate = Annotated[float, quantity(Dim.RATE, "peak"), as_text(Dim.RATE)]
#: bytes: ``"40 MiB"``
Bytes = Annotated[float, quantity(Dim.BYTES, "capacity"), as_text(Dim.BYTES)]
Granularity = Annotated[float, quantity(Dim.BYTES, "granularity"), as_text(Dim.BYTES)]
#: bytes per second: ``"2.039 TB/s"``
Bandwidth = Annotated[float, quantity(Dim.BANDWIDTH, "bandwidth"), as_text(Dim.BANDWIDTH)]
#: seconds, zero allowed: ``"5 us"``
Seconds = Annotated[float, quantity(Dim.TIME, "per_op", allow_zero=True), as_text(Dim.TIME)]
Efficiency = Annotated[float, AfterValidator(lambda v: check_range(v, "efficiency"))]
TileDim = Annotated[int, AfterValidator(lambda v: int(check_range(v, "tile")))]
#: joules per FLOP (or OP): ``"0.56 pJ"``
EnergyPerFlop = Annotated[
    float, quantity(Dim.ENERGY, "energy_per_flop", allow_zero=True), as_text(Dim.ENERGY)
]
#: joules per byte: ``"28 pJ/B"`` or ``"3.5 pJ/bit"``
EnergyPerByte = Annotated[
    float,
    quantity(Dim.ENERGY_PER_BYTE, "energy_per_byte", allow_zero=True),
    as_text(Dim.ENERGY_PER_BYTE),
]
Watts = Annotated[float, quantity(Dim.POWER, "idle", allow_zero=True), as_text(Dim.POWER)]
PositiveWatts = Annotated[float, quantity(Dim.POWER, "tdp"), as_text(Dim.POWER)]
Dollars = Annotated[float, quantity(Dim.MONEY, "price"), as_text(Dim.MONEY)]
DollarsPerJoule = Annotated[
    float,
    quantity(Dim.MONEY_PER_ENERGY, "electricity", allow_zero=True),
    as_text(Dim.MONEY_PER_ENERGY),
]
DollarsPerSecond = Annotated[
    float, quantity(Dim.MONEY_PER_TIME, "hourly"), as_text(Dim.MONEY_PER_TIME)
]
Lifetime = Annotated[float, quantity(Dim.TIME, "lifetime"), as_text(Dim.TIME)]

#: the fix for a PUE that is not a number
_PUE_FIX = "write a plain number from 1 to 10, e.g. pue: 1.2; leave it out for 1"


def _plain_ratio(value: Any) -> float:
    """A PUE as a float: a number, or text that reads as one (``"1.2"``, as pydantic's lax mode
    took it); anything else (``high``, ``120%``, null, a list) a SpecError with the fix. Booleans
    and NaN are refused before (:func:`roofline.field_checks.check_fields`), the range after."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            return float(value)
        except OverflowError:  # an integer beyond floats: out of range, said so by the range
            return float("inf")
    fix = _PUE_FIX
    if isinstance(value, str):
        text = value.strip()  # numeral reads as float() does, which strips less than str.strip
        x = numeral(text)
        if x is not None:
            return x
        pct = numeral(text.removesuffix("%").strip()) if text.endswith("%") else None
        if pct is not None:
            fix = f"write a percentage as a ratio, e.g. pue: {pct / 100:g}"
    raise SpecError(f"{short_repr(value)} is not a number", fix=fix)


#: a facility power usage effectiveness: a plain ratio from 1 to 10 (no unit)
Pue = Annotated[
    float, BeforeValidator(_plain_ratio), AfterValidator(lambda v: check_range(v, "pue"))
]

#: the fix for a ``power`` or ``cost`` block given as something else than a block of fields
_BLOCK_FIXES = {
    "power": "give power as a block of fields: tdp, idle (and interconnect) with their source; "
    "see hw_specs/README.md, Energy",
    "cost": "give cost as a block of fields: hourly, or price, lifetime and electricity (and "
    "pue), with their source; see hw_specs/README.md, Field reference",
}


class Engine(SpecModel):
    """A compute engine: dense peak per dtype (FLOP/s or OP/s), optional tile shape."""

    peak: dict[str, Rate] = Field(min_length=1, description="dense peak per dtype, FLOP/s")
    fallback: dict[str, str] = Field(default_factory=dict, description="dtype -> dtype used")
    tile: tuple[TileDim, TileDim, TileDim] | None = Field(
        None, description="(M, N, K) work granularity"
    )
    efficiency: Efficiency = Field(1.0, description="attainable fraction of peak")
    efficiency_curve: EfficiencyCurve | None = Field(None, description="x efficiency by op FLOPs")
    source: str = Field(min_length=1)
    note: str | None = None
    energy: dict[str, EnergyPerFlop] | None = Field(
        None, description="dynamic energy per FLOP (or OP) per dtype with a peak, joules"
    )
    energy_source: str | None = Field(None, min_length=1)
    energy_note: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _dtypes(cls, data: Any) -> Any:
        if isinstance(data, dict):
            data = dict(data)
            for key in ("peak", "fallback", "energy"):
                if isinstance(data.get(key), dict):
                    data[key] = {
                        canonical(k, field=f"{key}.{k}"): (
                            canonical(v, field=f"{key}.{k}") if key == "fallback" else v
                        )
                        for k, v in data[key].items()
                    }
        return data

    @model_validator(mode="after")
    def _check(self) -> Engine:
        for src, dst in self.fallback.items():
            if dst not in self.peak:
                raise SpecError(
                    f"fallback {src} -> {dst}: {dst} has no peak",
                    field=f"fallback.{src}",
                    fix=f"fall back to one of {', '.join(self.peak)}",
                )
        if self.tile is not None and min(self.tile) < 1:
            raise SpecError(f"tile {list(self.tile)} has a dimension < 1", field="tile")
        if self.energy is not None:
            _need_source(self.energy_source, "energy")
            for dt in self.energy:
                if dt not in self.peak:
                    used = self.fallback.get(dt)
                    raise SpecError(
                        f"{dt} has no peak"
                        + (f" (it runs at {used}'s rate and energy)" if used else ""),
                        field=f"energy.{dt}",
                        fix=f"give energy only for dtypes with a peak: {', '.join(self.peak)}",
                    )
            missing = [dt for dt in self.peak if dt not in self.energy]
            if missing:
                raise SpecError(
                    f"no energy figure for {', '.join(missing)}",
                    field=f"energy.{missing[0]}",
                    fix="give one per dtype with a peak; see hw_specs/README.md, Energy",
                )
        elif self.energy_source or self.energy_note:
            raise SpecError(
                "energy_source without energy", field="energy", fix="add energy: {dtype: pJ}"
            )
        return self

    def resolve(self, dtype: str) -> str:
        """Return the dtype whose peak (and energy) serves ``dtype`` (itself or its fallback)."""
        if dtype in self.peak:
            return dtype
        if dtype in self.fallback:
            return self.fallback[dtype]
        return ""


class Engines(SpecModel):
    """The matrix engine (GEMMs, convolutions) and the vector engine (everything else)."""

    matrix: Engine
    vector: Engine


class MemoryLevel(SpecModel):
    """One memory level: capacity (bytes), bandwidth (bytes/s), access granularity (bytes).

    ``efficiency_curve`` derates the bandwidth by the bytes an op moves at the level;
    ``gather_curve`` derates it for the op's random row reads (embedding lookups) by the length of
    one row, rounded up to ``granularity``: few, short, scattered reads get a fraction of the
    streaming rate (latency-bound, :mod:`roofline.efficiency`).
    """

    kind: LevelKind
    capacity: Bytes
    bandwidth: Bandwidth
    granularity: Granularity = 64.0
    efficiency_curve: EfficiencyCurve | None = Field(None, description="x bandwidth by op bytes")
    gather_curve: EfficiencyCurve | None = Field(
        None, description="x bandwidth for random row reads, by row bytes (granularity rounded)"
    )
    source: str = Field(min_length=1)
    note: str | None = None
    energy: EnergyPerByte | None = Field(
        None, description="energy per byte served from this level to the engines, joules"
    )
    energy_source: str | None = Field(None, min_length=1)
    energy_note: str | None = None

    @model_validator(mode="after")
    def _check(self) -> MemoryLevel:
        if self.energy is not None:
            _need_source(self.energy_source, "energy")
        elif self.energy_source or self.energy_note:
            raise SpecError(
                "energy_source without energy", field="energy", fix="add energy: '<x> pJ/B'"
            )
        return self


def _need_source(source: str | None, field: str) -> None:
    if not source:
        raise SpecError(
            f"{field} has no {field}_source",
            field=f"{field}_source",
            fix="cite where the figure comes from; say in energy_note how it was derived",
        )


class Overheads(SpecModel):
    """Fixed costs: ``per_op`` seconds added to every op launch (kernel launch, dispatch)."""

    per_op: Seconds = 0.0
    source: str = Field(min_length=1)
    note: str | None = None


class Power(SpecModel):
    """The device's power envelope: board power limit (TDP), static (idle) power drawn whenever
    it runs, and optionally the energy per byte sent over its scale-up links (NVLink, ICI...)."""

    tdp: PositiveWatts = Field(description="board power limit, watts")
    idle: Watts = Field(description="static power drawn while a run lasts, watts")
    interconnect: EnergyPerByte | None = Field(
        None, description="energy per byte sent over the device-to-device links, joules"
    )
    source: str = Field(min_length=1)
    note: str | None = None

    @model_validator(mode="after")
    def _check(self) -> Power:
        if self.tdp <= self.idle:
            raise SpecError(
                f"tdp {self.tdp:g} W is not above idle power {self.idle:g} W",
                field="tdp",
                fix="the power limit must exceed the static power; check both figures' units",
            )
        return self


class Cost(SpecModel):
    """Economics of one device: a purchase price amortized over a lifetime plus electricity at a
    PUE, or an all-in hourly price (a cloud rate, which already includes energy)."""

    price: Dollars | None = Field(None, description="purchase price of one device, dollars")
    lifetime: Lifetime | None = Field(None, description="amortization period, seconds")
    electricity: DollarsPerJoule | None = Field(None, description="dollars per joule")
    pue: Pue = Field(1.0, description="facility power usage effectiveness")
    hourly: DollarsPerSecond | None = Field(
        None, description="all-in rental price of one device, dollars per second"
    )
    source: str = Field(min_length=1)
    note: str | None = None

    @model_validator(mode="after")
    def _check(self) -> Cost:
        if (self.price is None) == (self.hourly is None):
            raise SpecError(
                "give either price (with lifetime and electricity) or hourly",
                field="price" if self.price is None else "hourly",
                fix="e.g. price: $25000, lifetime: 5 y, electricity: $0.1/kWh; or hourly: $2.5/h",
            )
        if self.price is not None:
            for name in ("lifetime", "electricity"):
                if getattr(self, name) is None:
                    raise SpecError(
                        f"a purchase price needs {name}",
                        field=name,
                        fix="e.g. lifetime: 5 y" if name == "lifetime" else "e.g. $0.1/kWh",
                    )
        elif self.lifetime is not None or self.electricity is not None or self.pue != 1.0:
            # a PUE of 1 is the default, which a dumped and reloaded spec carries too
            given = [n for n in ("lifetime", "electricity") if getattr(self, n) is not None]
            raise SpecError(
                "an hourly price already includes energy and amortization",
                field=given[0] if given else "pue",
                fix="drop lifetime, electricity and pue, or give price instead of hourly",
            )
        return self


class Hardware(SpecModel):
    """An accelerator: engines, memory levels ordered fastest to slowest, overheads, and
    optionally its power envelope (``power``, with energy figures on every engine and level)
    and economics (``cost``)."""

    name: Name
    description: str = ""
    source: str = Field(min_length=1)
    engines: Engines
    memory: dict[str, MemoryLevel] = Field(min_length=1)
    overheads: Overheads
    default_dtype: str | None = Field(
        None,
        description="the dtype the device's datasheet headlines (fp16/bf16 on GPUs, int8 on "
        "inference accelerators): what every command uses when no dtype is given",
    )
    default_dtype_source: str | None = Field(
        None, min_length=1, description="where the datasheet headlines default_dtype"
    )
    assumptions: list[str] = Field(default_factory=list)
    note: str | None = None
    power: Power | None = None
    cost: Cost | None = None

    @field_validator("default_dtype")
    @classmethod
    def _dtype(cls, v: str | None) -> str | None:
        return None if v is None else canonical(v, field="default_dtype")

    @field_validator("power", "cost", mode="before")
    @classmethod
    def _block(cls, v: Any, info: ValidationInfo) -> Any:
        """``power`` and ``cost`` are blocks of fields (or absent): text, a number or a list
        there is refused with what the block holds."""
        if v is None or isinstance(v, (Mapping, BaseModel)):
            return v
        name = str(info.field_name)
        raise SpecError(f"{short_repr(v, 60)} is not a block of fields", fix=_BLOCK_FIXES[name])

    @model_validator(mode="after")
    def _check(self) -> Hardware:
        kinds = [lvl.kind for lvl in self.memory.values()]
        if kinds.count(LevelKind.DEVICE) != 1:
            raise SpecError(
                "memory needs exactly one level of kind 'device' (main memory), got "
                f"{[str(k) for k in kinds]}",
                field="memory",
            )
        for name in self.memory:
            if not name.strip() or name in RESERVED_LEVEL_NAMES:
                raise SpecError(
                    f"a memory level cannot be named {name!r}"
                    + (" (a bound label)" if name.strip() else ""),
                    field=f"memory.{name}",
                    fix="rename the level, e.g. sram, hbm, dram, host",
                )
        if [LEVEL_ORDER[k] for k in kinds] != sorted(LEVEL_ORDER[k] for k in kinds):
            raise SpecError(
                "memory levels must be ordered onchip..., device, host...",
                field="memory",
                fix=f"reorder {list(self.memory)}",
            )
        self._check_energy()
        self._check_default_dtype()
        return self

    def _check_default_dtype(self) -> None:
        """``default_dtype`` cites its source and runs on both engines (natively or by a
        declared fallback)."""
        if self.default_dtype is None:
            if self.default_dtype_source:
                raise SpecError(
                    "default_dtype_source without default_dtype",
                    field="default_dtype",
                    fix="add default_dtype: the dtype the datasheet headlines, e.g. fp16",
                )
            return
        if not self.default_dtype_source:
            raise SpecError(
                "default_dtype has no default_dtype_source",
                field="default_dtype_source",
                fix="cite the datasheet that headlines it",
            )
        for eng in EngineKind:
            engine: Engine = getattr(self.engines, eng)
            if not engine.resolve(self.default_dtype):
                raise SpecError(
                    f"default_dtype {self.default_dtype} has no {eng} peak",
                    field="default_dtype",
                    fix=f"use one of {', '.join(engine.peak)} or declare "
                    f"engines.{eng}.fallback.{self.default_dtype}",
                )

    def _check_energy(self) -> None:
        """The energy model is all or nothing: ``power`` and an energy on every engine and
        level, or none of them; ``cost`` needs the energy model."""
        parts = {
            **{f"engines.{e}.energy": getattr(self.engines, e).energy for e in EngineKind},
            **{f"memory.{n}.energy": lvl.energy for n, lvl in self.memory.items()},
        }
        given = [k for k, v in parts.items() if v is not None]
        if self.power is not None:
            missing = [k for k, v in parts.items() if v is None]
            if missing:
                raise SpecError(
                    "a device with a power block needs energy figures everywhere",
                    field=missing[0],
                    fix="add it with its energy_source; see hw_specs/README.md, Energy",
                )
        elif given:
            raise SpecError(
                f"energy figures ({given[0]}) without a power block",
                field="power",
                fix="add power: {tdp: ..., idle: ..., source: ...}",
            )
        if self.cost is not None and self.power is None:
            raise SpecError(
                "cost needs the energy model", field="power", fix="add the power block first"
            )

    @property
    def has_energy(self) -> bool:
        """Whether the device carries the energy model (power block and energy figures)."""
        return self.power is not None

    @property
    def level_names(self) -> tuple[str, ...]:
        return tuple(self.memory)

    @property
    def dtype(self) -> str:
        """The dtype to use when none is given: ``default_dtype``, else the first of bf16, fp16,
        int8, fp32 both engines run (the matrix engine natively), else the matrix engine's
        first dtype."""
        if self.default_dtype:
            return self.default_dtype
        peaks, vector = self.engines.matrix.peak, self.engines.vector
        both = [d for d in ("bf16", "fp16", "int8", "fp32") if d in peaks and vector.resolve(d)]
        return both[0] if both else next(iter(peaks))

    @property
    def curves(self) -> tuple[EfficiencyCurve | None, ...]:
        """Every efficiency curve of the device: the matrix and vector engines', then each
        level's streaming curve, then each level's gather curve (None where absent)."""
        eng, levels = self.engines, list(self.memory.values())
        return (
            eng.matrix.efficiency_curve,
            eng.vector.efficiency_curve,
            *(lvl.efficiency_curve for lvl in levels),
            *(lvl.gather_curve for lvl in levels),
        )

    @property
    def main_level(self) -> str:
        """Name of the device (main) memory level."""
        return next(n for n, lvl in self.memory.items() if lvl.kind == LevelKind.DEVICE)

    def energy(self, engine: str, dtype: str) -> float:
        """Joules per FLOP of ``engine`` at ``dtype`` (fallbacks honoured); NaN without an
        energy model."""
        eng: Engine = getattr(self.engines, engine)
        if eng.energy is None:
            return float("nan")
        self.peak(engine, dtype)  # the clear error for an unsupported dtype
        return eng.energy[eng.resolve(canonical(dtype))]

    def peak(self, engine: str, dtype: str) -> float:
        """Return the dense peak (FLOP/s) of ``engine`` for ``dtype``, honouring fallbacks."""
        eng: Engine = getattr(self.engines, engine)
        dt = canonical(dtype)
        used = eng.resolve(dt)
        if not used:
            raise SpecError(
                f"device {self.name!r} has no {engine} peak for {dt}",
                field=f"engines.{engine}.peak.{dt}",
                fix=f"use one of {', '.join(eng.peak)} or declare engines.{engine}.fallback",
            )
        return eng.peak[used]


__all__ = ["Cost", "Engine", "Engines", "Hardware", "MemoryLevel", "Overheads", "Power"]
