"""The memory budget: how many bytes one sweep table, device grid or evaluation may allocate,
checked from its size *before* anything is allocated.

The budget is 4 GiB unless ``memory_budget=`` is given (``rl.sweep``, ``rl.read_sweep``) or the
environment variable ``ROOFLINE_MEMORY_BUDGET`` sets it (a number of bytes such as ``2e10``, or a
size such as ``"16 GiB"``). Within :func:`budget_in_effect` (a sweep's per-op detail and system
sweeps), checks that get no budget of their own use the sweep's ``memory_budget=``.
A request beyond it is one :class:`~roofline.errors.SpecError` that names the size, the budget,
how to stream instead (``out="sweep.parquet"``, ``-o sweep.parquet``) and how to raise it, never a
``MemoryError`` halfway through. A sweep's own table is the exception: beyond the budget it goes
to disk (:mod:`roofline.disk_columns`) instead of being refused.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from roofline.errors import SpecError
from roofline.formatting import fmt_bytes
from roofline.units import Dim, parse_quantity

#: the environment variable that sets the budget
BUDGET_ENV = "ROOFLINE_MEMORY_BUDGET"
#: the budget when neither an argument nor the environment sets one (bytes)
DEFAULT_BUDGET = 4 * 2**30
#: what a refusal suggests when streaming is the way out
STREAM_FIX = (
    "stream it to disk with rl.sweep(..., out='sweep.parquet') or roofline sweep ... -o "
    "sweep.parquet"
)


#: what a refusal of the budget itself suggests
BUDGET_FIX = "a size such as '16 GiB', or a number of bytes such as 2e10"
#: the budget of the :func:`budget_in_effect` block running now (bytes), if any
_IN_EFFECT: ContextVar[float | None] = ContextVar("roofline_memory_budget", default=None)


def memory_budget(budget: float | str | None = None) -> float:
    """The budget in bytes: ``budget`` if given, else that of the :func:`budget_in_effect` block
    running, else ``ROOFLINE_MEMORY_BUDGET``, else 4 GiB. A budget is a size with its unit
    (``"16 GiB"``) or a number of bytes (``2e10``, ``"17179869184"``), finite and > 0."""
    if budget is not None:
        return _budget_bytes(budget, "memory_budget")
    now = _IN_EFFECT.get()
    if now is not None:
        return now
    value = os.environ.get(BUDGET_ENV)
    if value is None or not value.strip():
        return float(DEFAULT_BUDGET)
    return _budget_bytes(value, BUDGET_ENV)


def _budget_bytes(value: object, field: str) -> float:
    """``value`` (a size, or a plain number of bytes, as text or a number) in bytes, or the
    SpecError naming ``field``."""
    if isinstance(value, str):
        text = value.strip()
        try:
            plain = float(text)  # a number of bytes needs no unit
        except ValueError:
            pass
        else:
            if math.isfinite(plain) and plain > 0:
                return plain
            raise SpecError(
                f"{text!r} is not a budget: a number of bytes is finite and > 0",
                field=field,
                fix=BUDGET_FIX,
            )
        value = text
    try:
        return parse_quantity(value, Dim.BYTES)
    except SpecError as exc:
        raise SpecError(exc.problem, field=field, fix=BUDGET_FIX) from None


@contextmanager
def budget_in_effect(budget: float | str | None) -> Iterator[None]:
    """Within the block, every check given no budget of its own uses ``budget`` (checked now)
    instead of the environment's; None changes nothing. For work that calls checks which take no
    budget (a full evaluation, a device grid) on behalf of a call given ``memory_budget=``."""
    if budget is None:
        yield
        return
    token = _IN_EFFECT.set(memory_budget(budget))
    try:
        yield
    finally:
        _IN_EFFECT.reset(token)


def check_budget(
    nbytes: float,
    what: str,
    field: str,
    fix: str | None = None,
    budget: float | str | None = None,
) -> None:
    """Refuse (:class:`SpecError` naming ``field``) when ``what`` would take more than the budget.

    ``nbytes`` is the estimate of what would be allocated; ``fix`` says how to need less (the
    message always adds how to raise the budget).
    """
    limit = memory_budget(budget)
    if nbytes <= limit:
        return
    raise_it = f"raise the budget with memory_budget= or {BUDGET_ENV} (now {fmt_bytes(limit)})"
    raise SpecError(
        f"{what} would take {fmt_bytes(nbytes)} of memory, over the budget of {fmt_bytes(limit)}",
        field=field,
        fix=f"{fix}; or {raise_it}" if fix else raise_it,
    )


#: arrays of [variants, batches, ops] an evaluation holds at its peak, per memory level and
#: besides (placement, per-level times, derating, the result's own arrays): an upper estimate
EVALUATION_ARRAYS_PER_LEVEL, EVALUATION_ARRAYS = 4, 10


def evaluation_bytes(variants: int, batches: int, ops: int, levels: int) -> float:
    """The bytes a full evaluation (per-op arrays of [variants, batches, ops, levels]) holds at
    its peak: :data:`EVALUATION_ARRAYS_PER_LEVEL` per memory level and :data:`EVALUATION_ARRAYS`
    besides, of 8 bytes a value (an upper estimate)."""
    arrays = EVALUATION_ARRAYS_PER_LEVEL * levels + EVALUATION_ARRAYS
    return 8.0 * variants * batches * ops * arrays


def check_evaluation_size(
    variants: int, batches: int, ops: int, levels: int, budget: float | str | None = None
) -> None:
    """Refuse a full evaluation (per-op arrays of [variants, batches, ops, levels]) beyond the
    budget."""
    check_budget(
        evaluation_bytes(variants, batches, ops, levels),
        f"evaluating {variants:,} device variants x {batches:,} batches x {ops:,} ops per op",
        field="hw",
        fix="sweep the variants instead (rl.sweep keeps totals only, chunk by chunk)",
        budget=budget,
    )
