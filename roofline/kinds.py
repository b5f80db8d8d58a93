"""The tool's closed vocabularies as enums: tensor classes, op categories, engines, memory level
kinds and the bound labels that are not memory levels.

Each is a ``str`` enum: a member equals its value (``OpCategory.FC == "fc"``), prints as its
value, and serializes as a plain string, so tables and files carry the words, while code names
the member and a typo is an AttributeError instead of a silent mismatch.
"""

from __future__ import annotations

from enum import Enum


class StrEnum(str, Enum):
    """A ``str`` enum whose ``str()`` and format are the value (as Python 3.11's StrEnum)."""

    def __str__(self) -> str:
        return str(self.value)

    def __format__(self, spec: str) -> str:
        return format(str(self.value), spec)


class TensorClass(StrEnum):
    """What a byte is: a weight, an activation read or written, KV cache, or a lookup index."""

    WEIGHT = "weight"
    ACT_IN = "act_in"
    ACT_OUT = "act_out"
    KV = "kv"
    INDEX = "index"


class OpCategory(StrEnum):
    """The breakdown group of an op (the paper's operator-time figure groups ops like this)."""

    FC = "fc"
    CONV = "conv"
    EMBEDDING = "embedding"
    RECURRENT = "recurrent"
    ATTENTION = "attention"
    TENSOR_MANIPULATION = "tensor_manipulation"
    ELEMENTWISE = "elementwise"
    NORMALIZATION = "normalization"
    POOLING = "pooling"
    INTERACTION = "interaction"
    DETECTION = "detection"
    OTHER = "other"


class EngineKind(StrEnum):
    """A compute engine: ``matrix`` (GEMMs, convolutions) or ``vector`` (everything else)."""

    MATRIX = "matrix"
    VECTOR = "vector"


class LevelKind(StrEnum):
    """Where a memory level sits: on chip, the device's main memory, or a host tier."""

    ONCHIP = "onchip"
    DEVICE = "device"
    HOST = "host"


#: order of level kinds from fastest to slowest (a device's memory must follow it)
LEVEL_ORDER = {LevelKind.ONCHIP: 0, LevelKind.DEVICE: 1, LevelKind.HOST: 2}


class Bound(StrEnum):
    """Bound labels that are not memory levels (a memory level's bound is its own name)."""

    COMPUTE = "compute"
    OVERHEAD = "overhead"
    INTERCONNECT = "interconnect"
    POWER = "power"


#: names a memory level may not take: they would collide with these bound labels
RESERVED_LEVEL_NAMES = frozenset(b.value for b in Bound)
