"""Read-only containers for loaded specs, so that nothing shared can be changed in place.

A loaded model, device or graph is shared (the load caches hand the same object to every
caller): a ``dict`` or ``list`` inside it would let ``m.spec.params["ops"].append(...)`` or
``hw.engines.matrix.peak["fp16"] = -1`` corrupt every later load. :func:`freeze` turns plain data
into :class:`FrozenDict` and :class:`FrozenList`, which are still a ``dict`` and a ``list`` (JSON,
YAML, pydantic and pickle treat them as such) but raise ``TypeError`` on every change.
"""

from __future__ import annotations

from typing import Any, NoReturn


def _refuse(self: Any, *args: Any, **kwargs: Any) -> NoReturn:
    raise TypeError(
        f"a loaded spec is read-only ({type(self).__name__}); change a copy: "
        "model.with_params(...), roofline.vary(...) or the spec file"
    )


class FrozenDict(dict[Any, Any]):
    """A ``dict`` that cannot be changed after it is made."""

    __slots__ = ()
    __setitem__ = __delitem__ = __ior__ = _refuse
    clear = pop = popitem = setdefault = update = _refuse

    def __reduce__(self) -> tuple[Any, ...]:
        return (FrozenDict, (dict(self),))

    def __copy__(self) -> FrozenDict:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> FrozenDict:
        return self


class FrozenList(list[Any]):
    """A ``list`` that cannot be changed after it is made."""

    __slots__ = ()
    __setitem__ = __delitem__ = __iadd__ = __imul__ = _refuse
    append = clear = extend = insert = pop = remove = reverse = sort = _refuse

    def __reduce__(self) -> tuple[Any, ...]:
        return (FrozenList, (list(self),))

    def __copy__(self) -> FrozenList:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> FrozenList:
        return self


def freeze(value: Any) -> Any:
    """``value`` with every ``dict`` and ``list`` inside it made read-only (a new container;
    scalars, tuples and other objects as they are)."""
    if isinstance(value, (FrozenDict, FrozenList)):
        return value
    if isinstance(value, dict):
        return FrozenDict({k: freeze(v) for k, v in value.items()})
    if isinstance(value, list):
        return FrozenList(freeze(v) for v in value)
    if isinstance(value, tuple) and any(isinstance(v, (dict, list)) for v in value):
        return tuple(freeze(v) for v in value)
    return value


def freeze_fields(obj: Any) -> None:
    """Freeze, in place, every ``dict`` or ``list`` attribute of a frozen record (a pydantic
    model's fields, a frozen dataclass's attributes): called once, when it is made."""
    for name, value in vars(obj).items():
        if isinstance(value, (dict, list)) and not isinstance(value, (FrozenDict, FrozenList)):
            object.__setattr__(obj, name, freeze(value))
