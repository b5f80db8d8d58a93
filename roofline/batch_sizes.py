"""Batch sizes as a user gives them, to the API and on the command line alike: whole numbers of at
least 1 (``1.5`` is refused in both, with the same message).

Plain Python, no numpy: the command line checks its flags with it before anything heavy loads.
Inside the package a batch may be fractional (a system's replica share of a batch, a mean count
of tokens); :func:`roofline.counting.as_batches` takes those.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from numbers import Real
from typing import Any

from roofline.errors import SpecError


def batch_sizes(batch: Any, field: str = "batch", typed: Sequence[str] | None = None) -> list[int]:
    """``batch`` (a number or a sequence of them) as a list of whole numbers >= 1.

    ``typed``: the text each value was parsed from (the command line), shown in the message.

    Raises
    ------
    SpecError
        Naming ``field``, for a boolean, a non-number, an empty list, or a value that is not
        finite, not positive, or not a whole number (``1.5``).
    """
    example = f"e.g. {field} 1 16 64" if field.startswith("--") else "e.g. batch=1 or [1, 64]"
    values = list(batch) if _is_sequence(batch) else [batch]
    if not values:
        raise SpecError(
            "an empty list: batch must be a number or a list of numbers", field=field, fix=example
        )
    out = []
    for i, v in enumerate(values):
        shown = repr(typed[i]) if typed is not None else repr(v)
        if isinstance(v, bool) or not isinstance(v, Real):
            raise SpecError(f"{shown} is not a number", field=field, fix=example)
        x = float(v)
        if not math.isfinite(x):
            raise SpecError(f"{shown} is not finite", field=field, fix=example)
        if x <= 0:
            raise SpecError(f"{shown} must be positive", field=field, fix=example)
        if not x.is_integer():
            raise SpecError(f"{shown} must be a whole number >= 1", field=field, fix=example)
        out.append(int(x))
    return out


def _is_sequence(value: Any) -> bool:
    """A list, tuple, range or array (not a string, which is one bad value)."""
    return hasattr(value, "__iter__") and not isinstance(value, (str, bytes, dict))
