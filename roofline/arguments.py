"""Checks of the public API's arguments that are not specs: observers, executors, knob values,
real numbers, booleans (``fuse``), non-empty lists.

Each turns a misuse into one :class:`~roofline.errors.SpecError` (a ``ValueError``) naming the
argument and the fix, before any work, instead of a ``TypeError`` or ``AttributeError`` from
deep inside (``observers=[1]``, ``executor=object()``, ``vary(hw, {knob: None})``).
"""

from __future__ import annotations

import math
import numbers
import os
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from roofline.errors import SpecError

#: the methods an observer implements (:class:`roofline.observers.Observer`)
OBSERVER_METHODS = ("on_run_start", "on_op", "on_run_end")


def _is_observer(obj: Any) -> bool:
    return all(callable(getattr(obj, m, None)) for m in OBSERVER_METHODS)


def observer_list(observers: Any) -> list[Any]:
    """``observers`` as a list of observers: None is none, one observer is a list of one;
    anything else that is not an iterable of observers is a SpecError."""
    if observers is None:
        return []
    if _is_observer(observers):
        return [observers]
    if isinstance(observers, (str, bytes)) or not isinstance(observers, Iterable):
        raise SpecError(
            f"{type(observers).__name__} is not a list of observers",
            field="observers",
            fix="e.g. observers=[rl.ByKind(), rl.Trace()]",
        )
    out = list(observers)
    for i, o in enumerate(out):
        if not _is_observer(o):
            raise SpecError(
                f"{o!r} is not an observer (it needs {', '.join(OBSERVER_METHODS)})",
                field=f"observers[{i}]",
                fix="use rl.ByKind(), rl.ByCategory(), rl.ByBound(), rl.Trace(), "
                "rl.EnergyBreakdown() or a subclass of rl.Observer",
            )
    return out


def one_or_many(value: Any) -> list[Any]:
    """A list of the models, devices or dtypes in ``value``: one given bare (a name, a path, a
    mapping, a loaded object: anything but a list or tuple of them) becomes a list of one."""
    if isinstance(value, (str, bytes, dict, os.PathLike)) or not isinstance(value, Sequence):
        return [value]
    return list(value)


def non_empty(values: list[Any], name: str, what: str, example: str) -> list[Any]:
    """``values`` (the list :func:`one_or_many` made of argument ``name``), or a SpecError for an
    empty one, worded as :func:`roofline.batch_sizes.batch_sizes` words ``batch=[]``: ``what``
    says what the argument takes (``a model or a list of models``)."""
    if not values:
        raise SpecError(f"an empty list: {name} must be {what}", field=name, fix=example)
    return values


def check_bool(name: str, value: Any) -> bool:
    """``value`` if it is a boolean (Python's or numpy's), as a bool; a SpecError naming ``name``
    otherwise (``fuse="no"``, ``fuse=0``, ``fuse=None``), as spec files refuse anything but
    ``true``/``false`` in a boolean field (:mod:`roofline.field_checks`)."""
    if not isinstance(value, (bool, np.bool_)):
        raise SpecError(
            f"{value!r} is not a boolean", field=name, fix=f"{name}=True or {name}=False"
        )
    return bool(value)


def check_count(name: str, value: Any, example: int = 2) -> None:
    """SpecError naming ``name`` unless ``value`` is a whole number >= 1 (an int or numpy integer;
    never a bool or a float such as 2.0): parallel degrees, chunk sizes, windows, workers."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral) or value < 1:
        raise SpecError(
            f"{name}={value!r} must be a whole number >= 1",
            field=name,
            fix=f"e.g. {name}={example}",
        )


def real_number(value: Any) -> float | None:
    """``value`` as a float if it is a real number (an int, a float, a numpy number: any
    ``numbers.Real`` but a bool or numpy bool), else None (text, None, a bool, a complex).

    An integer too large for a float is infinite, of its sign. NaN and inf are returned as they
    are: the caller refuses what is not finite, or out of its range, in its own words
    (:func:`roofline.whatif.check_factor`, :func:`roofline.studies.fleet.mix_weights`)."""
    if not isinstance(value, numbers.Real) or isinstance(value, (bool, np.bool_)):
        return None
    try:
        return float(value)
    except OverflowError:  # an integer beyond the floats
        return -math.inf if value < 0 else math.inf


def check_executor(executor: Any) -> None:
    """None, or an object with ``map`` and ``submit`` (a ``concurrent.futures.Executor``, a Dask
    client's ``get_executor()``); a SpecError otherwise."""
    if executor is None:
        return
    if not all(callable(getattr(executor, m, None)) for m in ("map", "submit")):
        raise SpecError(
            f"{type(executor).__name__} is not an executor (it needs map and submit)",
            field="executor",
            fix="pass a concurrent.futures.ProcessPoolExecutor(), a Dask client's "
            "get_executor(), or None",
        )


def knob_values(path: str, values: Any) -> Sequence[Any] | np.ndarray:
    """The values of knob ``path``: a non-empty list, tuple or 1-D array (a SpecError for None,
    a bare string or number, an empty list)."""
    example = f"e.g. {{'{path}': ['1 TB/s', '2 TB/s']}}"
    if isinstance(values, np.ndarray):
        if values.ndim != 1 or values.size == 0:
            raise SpecError(
                f"{values.size} values in a {values.ndim}-D array",
                field=str(path),
                fix="give a non-empty 1-D array",
            )
        return values
    if isinstance(values, (str, bytes)) or not isinstance(values, (Sequence, range)):
        raise SpecError(
            f"{values!r} is not a list of values", field=str(path), fix=f"give a list, {example}"
        )
    if len(values) == 0:
        raise SpecError("no values to vary", field=str(path), fix=f"give at least one, {example}")
    return values


def knob_mapping(knobs: Any) -> dict[str, Any]:
    """``knobs`` as a dict of knob path -> values (a SpecError for anything but a mapping of
    string paths)."""
    if knobs is None or not hasattr(knobs, "items"):
        raise SpecError(
            f"{type(knobs).__name__} is not a mapping of knob paths to values",
            field="vary",
            fix="e.g. {'memory.main.bandwidth': ['1 TB/s', '2 TB/s']}",
        )
    out = dict(knobs.items())
    for path in out:
        if not isinstance(path, str):
            raise SpecError(
                f"knob {path!r} is not a path",
                field="vary",
                fix="name knobs by their paths, e.g. 'memory.main.bandwidth'",
            )
    return out
