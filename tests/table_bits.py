"""A check shared by the tests of count tables: two tables the same to the bit."""

from __future__ import annotations

from dataclasses import fields

import numpy as np

from roofline.records import CostTable


def assert_same_bits(got: CostTable | None, want: CostTable | None) -> None:
    """Every field of ``got`` is ``want``'s: arrays of the same dtype, shape and bytes (so -0.0
    is not 0.0) and read-only; labels equal."""
    assert got is not None and want is not None
    for f in fields(want):
        a, b = getattr(got, f.name), getattr(want, f.name)
        if isinstance(b, np.ndarray):
            assert a.dtype == b.dtype and a.shape == b.shape, f.name
            assert a.tobytes() == b.tobytes() and not a.flags.writeable, f.name
        else:
            assert a == b, f.name
