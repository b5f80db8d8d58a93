"""Operators: one module per family; importing this package registers every op kind."""

from roofline.ops import (  # noqa: F401  (imported for registration)
    attention,
    conv,
    conv_transpose,
    decoder,
    detection,
    embedding,
    generic,
    interaction,
    linear,
    moe,
    parameter,
    pooling,
    recurrent,
    reduce,
    shared_conv,
    tensor,
    vector,
    views,
)
from roofline.ops.base import REGISTRY, Counts, Gemm, Op, derive_cost, numel

__all__ = ["REGISTRY", "Counts", "Gemm", "Op", "derive_cost", "numel"]
