"""Accelerator specs: engines (dense peak per dtype), a memory hierarchy, overheads.

The same as numpy arrays over H device variants is :class:`roofline.grid.HardwareGrid`.

All quantities are SI floats after validation: FLOP/s, bytes, bytes/s, seconds. YAML may give unit
strings (``"2.039 TB/s"``), parsed by :mod:`roofline.units`.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from roofline.curves import EfficiencyCurve
from roofline.dtypes import canonical
from roofline.errors import SpecError
from roofline.kinds import LEVEL_ORDER, RESERVED_LEVEL_NAMES, LevelKind
from roofline.units import Dim, parse_quantity


def _q(dim: Dim, allow_zero: bool = False) -> BeforeValidator:
    return BeforeValidator(lambda v: parse_quantity(v, dim, allow_zero=allow_zero))


Rate = Annotated[float, _q(Dim.RATE)]
Bytes = Annotated[float, _q(Dim.BYTES)]
Bandwidth = Annotated[float, _q(Dim.BANDWIDTH)]
Seconds = Annotated[float, _q(Dim.TIME, allow_zero=True)]


class _Spec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Engine(_Spec):
    """A compute engine: dense peak per dtype (FLOP/s or OP/s), optional tile shape."""

    peak: dict[str, Rate] = Field(min_length=1, description="dense peak per dtype, FLOP/s")
    fallback: dict[str, str] = Field(default_factory=dict, description="dtype -> dtype used")
    tile: tuple[int, int, int] | None = Field(None, description="(M, N, K) work granularity")
    efficiency: float = Field(1.0, gt=0, le=1, description="attainable fraction of peak")
    efficiency_curve: EfficiencyCurve | None = Field(None, description="x efficiency by op FLOPs")
    source: str = Field(min_length=1)
    note: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _dtypes(cls, data: Any) -> Any:
        if isinstance(data, dict):
            data = dict(data)
            for key in ("peak", "fallback"):
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
        return self

    def resolve(self, dtype: str) -> str:
        """Return the dtype whose peak serves ``dtype`` (itself or its declared fallback)."""
        if dtype in self.peak:
            return dtype
        if dtype in self.fallback:
            return self.fallback[dtype]
        return ""


class Engines(_Spec):
    """The matrix engine (GEMMs, convolutions) and the vector engine (everything else)."""

    matrix: Engine
    vector: Engine


class MemoryLevel(_Spec):
    """One memory level: capacity (bytes), bandwidth (bytes/s), access granularity (bytes).

    ``efficiency_curve`` derates the bandwidth by the bytes an op moves at the level;
    ``gather_curve`` derates it for the op's random row reads (embedding lookups) by the length of
    one row, rounded up to ``granularity``: few, short, scattered reads get a fraction of the
    streaming rate (latency-bound, :mod:`roofline.efficiency`).
    """

    kind: LevelKind
    capacity: Bytes
    bandwidth: Bandwidth
    granularity: Bytes = 64.0
    efficiency_curve: EfficiencyCurve | None = Field(None, description="x bandwidth by op bytes")
    gather_curve: EfficiencyCurve | None = Field(
        None, description="x bandwidth for random row reads, by row bytes (granularity rounded)"
    )
    source: str = Field(min_length=1)
    note: str | None = None


class Overheads(_Spec):
    """Fixed costs: ``per_op`` seconds added to every op launch (kernel launch, dispatch)."""

    per_op: Seconds = 0.0
    source: str = Field(min_length=1)
    note: str | None = None


class Hardware(_Spec):
    """An accelerator: engines, memory levels ordered fastest to slowest, overheads."""

    name: str = Field(min_length=1)
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
    assumptions: list[str] = Field(default_factory=list)
    note: str | None = None

    @field_validator("default_dtype")
    @classmethod
    def _dtype(cls, v: str | None) -> str | None:
        return None if v is None else canonical(v, field="default_dtype")

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
        return self

    @property
    def level_names(self) -> tuple[str, ...]:
        return tuple(self.memory)

    @property
    def dtype(self) -> str:
        """The dtype to use when none is given: ``default_dtype``, else the first of bf16, fp16,
        int8, fp32 the matrix engine runs natively."""
        if self.default_dtype:
            return self.default_dtype
        peaks = self.engines.matrix.peak
        return next((d for d in ("bf16", "fp16", "int8", "fp32") if d in peaks), next(iter(peaks)))

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


__all__ = ["Engine", "Engines", "Hardware", "MemoryLevel", "Overheads"]
