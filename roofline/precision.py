"""Precision: the dtype of each tensor class and of the compute engines."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from types import MappingProxyType
from typing import Any

from roofline.dtypes import canonical, nbytes
from roofline.kinds import TensorClass


@dataclass(frozen=True)
class Precision:
    """Dtypes used when counting bytes and choosing engine peaks.

    Parameters
    ----------
    weights, activations, kv_cache, index : str
        Storage dtype of each tensor class (``index`` = embedding lookup indices).
    compute : str
        Dtype whose peak the matrix and vector engines run at.
    name : str
        Label shown in results (``"fp16"``, ``"w4a16"``...).
    """

    weights: str = "fp32"
    activations: str = "fp32"
    kv_cache: str = "fp32"
    index: str = "int64"
    compute: str = "fp32"
    name: str = "fp32"

    @classmethod
    def of(cls, spec: str | Precision) -> Precision:
        """Build a Precision from a dtype (every tensor that dtype) or ``wNaM`` (N-bit weights).

        ``"fp16"`` -> everything fp16; ``"int8"`` -> int8 weights, activations and compute;
        ``"w4a16"`` -> int4 weights, fp16 activations and compute; ``"w8a16"`` likewise with int8.
        """
        if isinstance(spec, Precision):
            return spec
        text = str(spec).strip().lower()
        if text.startswith("w") and "a" in text[1:]:
            wbits, abits = text[1:].split("a", 1)
            weights = {"4": "int4", "8": "int8", "16": "fp16"}.get(wbits)
            acts = {"8": "int8", "16": "fp16", "32": "fp32"}.get(abits)
            if weights and acts:
                return cls(weights, acts, acts, "int64", acts, text)
        dt = canonical(text)
        return cls(dt, dt, dt, "int64", dt, dt)

    def bytes_per(self, tensor_class: TensorClass | str) -> float:
        """Bytes per element of a :class:`~roofline.kinds.TensorClass` (or its string value)."""
        return _bytes_per(self, TensorClass(tensor_class))


@lru_cache(maxsize=1024)
def _bytes_per(precision: Precision, tensor_class: TensorClass) -> float:
    """:meth:`Precision.bytes_per`, worked out once per (precision, class)."""
    dtype = {
        TensorClass.WEIGHT: precision.weights,
        TensorClass.ACT_IN: precision.activations,
        TensorClass.ACT_OUT: precision.activations,
        TensorClass.KV: precision.kv_cache,
        TensorClass.INDEX: precision.index,
    }[tensor_class]
    return nbytes(dtype)


#: element-count keys :func:`byte_columns` converts, and the tensor class whose dtype each takes
#: (``row``: one embedding row; ``live``: live activations; ``index`` adds to ``act_in``)
BYTE_CLASSES: dict[str, TensorClass] = {
    "weight": TensorClass.WEIGHT,
    "weight_read": TensorClass.WEIGHT,
    "row": TensorClass.WEIGHT,
    "act_in": TensorClass.ACT_IN,
    "act_out": TensorClass.ACT_OUT,
    "live": TensorClass.ACT_IN,
    "kv": TensorClass.KV,
    "kv_footprint": TensorClass.KV,
}


def byte_columns(elements: Mapping[str, Any], precision: Precision) -> dict[str, Any]:
    """Bytes of each given element count: elements x bytes per element of its tensor class.

    The one place elements become bytes (numbers or arrays, any shape). Keys are those of
    :data:`BYTE_CLASSES`; an ``index`` entry (lookup indices, in the ``index`` dtype) is added to
    ``act_in``'s bytes, as lookup indices are read with the op's inputs.
    """
    per = per_element(precision)
    out = {k: v * per[k] for k, v in elements.items() if k != "index"}
    if "index" in elements:
        out["act_in"] = out.get("act_in", 0.0) + elements["index"] * per["index"]
    return out


@lru_cache(maxsize=256)
def per_element(precision: Precision) -> Mapping[str, float]:
    """Bytes per element of every :data:`BYTE_CLASSES` key and ``index``, once per precision
    (read-only: every caller shares it)."""
    out = {k: precision.bytes_per(c) for k, c in BYTE_CLASSES.items()}
    out["index"] = precision.bytes_per(TensorClass.INDEX)
    return MappingProxyType(out)
