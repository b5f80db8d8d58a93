"""Numeric data types: name -> bits per element (sub-byte types are fractional: int4 = 0.5 B)."""

from __future__ import annotations

from roofline.errors import SpecError
from roofline.suggest import did_you_mean

#: bits per stored element of each dtype the tool knows
BITS: dict[str, float] = {
    "fp64": 64,
    "fp32": 32,
    "tf32": 32,  # stored as fp32; only the matrix engine computes at 19 bits
    "bf16": 16,
    "fp16": 16,
    "fp8_e4m3": 8,
    "fp8_e5m2": 8,
    "int32": 32,
    "int64": 64,
    "int8": 8,
    "int4": 4,
}

ALIASES: dict[str, str] = {
    "fp8": "fp8_e4m3",
    "half": "fp16",
    "float16": "fp16",
    "float32": "fp32",
    "float": "fp32",
    "bfloat16": "bf16",
    "double": "fp64",
    "float64": "fp64",
}

DTYPES: tuple[str, ...] = tuple(BITS)


def canonical(name: str, *, field: str = "dtype") -> str:
    """Return the canonical dtype name for ``name`` (aliases resolved) or raise SpecError."""
    key = str(name).strip().lower()
    key = ALIASES.get(key, key)
    if key not in BITS:
        raise SpecError(
            f"unknown dtype {name!r}",
            field=field,
            fix=did_you_mean(key, [*BITS, *ALIASES], "use one of " + ", ".join(BITS)),
        )
    return key


def nbytes(name: str) -> float:
    """Return bytes per element of dtype ``name`` (0.5 for int4)."""
    return BITS[canonical(name)] / 8.0


def work_unit(name: str) -> str:
    """The unit of one arithmetic operation at dtype ``name``: ``OP`` for integer dtypes (an int8
    engine's 100 TOP/s), ``FLOP`` for floating-point ones."""
    return "OP" if canonical(name).startswith("int") else "FLOP"
