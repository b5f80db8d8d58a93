"""Parallel layouts: how a model's work is spread over a system's devices.

A :class:`Layout` has five degrees, each at least 1:

* ``tp`` tensor parallel: the devices of a group split every layer (Megatron-style: column- and
  row-parallel GEMMs, attention by heads, the vocabulary of embeddings and head); a recommendation
  model's embedding tables are sharded over the group instead and its dense layers run data
  parallel inside it;
* ``pp`` pipeline parallel: consecutive stages of layers on different groups, micro-batches
  flowing through them;
* ``cp`` context parallel: a decoder's sequence split over ``cp`` devices, each holding the whole
  (tensor-parallel shard of the) weights, its share of the tokens and of the KV cache, attention
  completed by a ring (:mod:`roofline.systems.context`);
* ``ep`` expert parallel: a mixture-of-experts layer's experts spread over ``ep`` devices of the
  tensor-, context- and data-parallel groups (tokens dispatched and combined by all-to-all);
* ``dp`` data parallel: replicas, each taking ``batch / dp`` of the batch.

A layout uses ``tp x pp x cp x dp`` devices, which must be the system's count: a layout that
leaves devices idle is an error naming the degrees that fill the system. Devices are packed in
the order tp, cp, pp, dp (innermost first), as an inference deployment places its replicas: a
tensor-parallel group fills the fastest interconnect domain first (Megatron places TP inside a
node); a context-parallel group is ``cp`` devices ``tp`` apart within the next ``tp x cp``;
neighbouring pipeline stages of a replica are ``tp x cp`` devices apart, so a replica's
``tp x cp x pp`` devices are contiguous and its hops stay inside a domain where it fits one;
data-parallel replicas, independent copies of the model that exchange nothing, are outermost
(``tp x cp x pp`` devices apart). An expert-parallel group is ``ep`` consecutive devices of one
stage's ``tp x cp x dp`` holders: inside a replica's stage when ``ep <= tp x cp``, else runs of
``tp x cp`` devices from consecutive replicas, one run in every ``pp``. (Training frameworks
such as Megatron-LM order tp, cp, dp, pp instead, keeping the data-parallel gradient all-reduce
inside a node; inference has no such all-reduce.)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from roofline.arguments import check_count
from roofline.errors import SpecError


@dataclass(frozen=True)
class Layout:
    """Degrees of tensor, pipeline, expert, data and context parallelism (module docstring)."""

    tp: int = 1
    pp: int = 1
    ep: int = 1
    dp: int = 1
    cp: int = 1

    def __post_init__(self) -> None:
        for name in ("tp", "pp", "ep", "dp", "cp"):
            check_count(name, getattr(self, name))
        holders = self.tp * self.cp * self.dp
        if holders % self.ep:
            what = "tp x cp x dp" if self.cp > 1 else "tp x dp"
            raise SpecError(
                f"ep={self.ep} does not divide the {what} = {holders} devices that hold the "
                "experts",
                field="ep",
                fix=f"use an ep that divides {holders}",
            )

    @property
    def devices(self) -> int:
        """Devices the layout uses: tp x pp x cp x dp."""
        return self.tp * self.pp * self.cp * self.dp

    @property
    def model_parallel(self) -> int:
        """Devices of one replica's pipeline stage: tp x cp (the distance between neighbouring
        stages in the packing tp, cp, pp, dp)."""
        return self.tp * self.cp

    @property
    def label(self) -> str:
        """``tp2 pp1 ep1 dp4`` (``cp2`` after ``pp`` when context parallel)."""
        cp = f" cp{self.cp}" if self.cp > 1 else ""
        return f"tp{self.tp} pp{self.pp}{cp} ep{self.ep} dp{self.dp}"


#: what a degree argument may be besides one number: its values
_DEGREE_LISTS = (list, tuple, range, np.ndarray)


def layouts(
    tp: Any = 1,
    pp: Any = 1,
    ep: Any = 1,
    dp: Any = None,
    devices: int | None = None,
    cp: Any = 1,
) -> list[Layout]:
    """Every combination of the given degrees (each an int or a list). ``dp`` None fills the
    system: ``devices / (tp x pp x cp)`` (an error when that is not whole)."""
    key = tuple(_plain(v) for v in (tp, pp, ep, dp, cp))
    plain = devices is None or type(devices) is int
    if plain and all(k is not _NOT_PLAIN for k in key):  # plain numbers, lists of them: made once
        return list(_cached_layouts(devices, *key))
    return _layouts(tp, pp, ep, dp, devices, cp)


#: a degree argument :func:`layouts` does not cache (anything but plain ints and lists of them)
_NOT_PLAIN = object()


def _plain(v: Any) -> Any:
    """``v`` as a hashable key: an int or None as it is, a list (or tuple, range) of ints as a
    tuple; :data:`_NOT_PLAIN` for anything else (bools, floats, arrays: checked every time)."""
    if v is None or type(v) is int:
        return v
    if isinstance(v, (list, tuple, range)) and all(type(x) is int for x in v):
        return ("list", *v)
    return _NOT_PLAIN


@lru_cache(maxsize=256)
def _cached_layouts(devices: int | None, *key: Any) -> tuple[Layout, ...]:
    """:func:`layouts` of ``devices`` and the :func:`_plain` keys of the degrees (errors are
    raised, never kept)."""
    tp, pp, ep, dp, cp = (list(k[1:]) if isinstance(k, tuple) else k for k in key)
    return tuple(_layouts(tp, pp, ep, dp, devices, cp))


def degree_values(v: Any, name: str) -> list[Any]:
    """The values of degree ``name`` (an int or a list of them; ``dp`` may be None), each a whole
    number >= 1: a bad degree is a SpecError, never a combination skipped."""
    values = list(v) if isinstance(v, _DEGREE_LISTS) else [v]
    if not values:
        raise SpecError(f"{name} is empty", field=name, fix=f"e.g. {name}=[1, 2]")
    for value in values:
        if not (name == "dp" and value is None):
            check_count(name, value)
    return [None if value is None else int(value) for value in values]


def check_degrees(**degrees: Any) -> None:
    """Check each degree (``tp=[1, 2]``, ``dp=None``...) in the order given, as
    :func:`degree_values` does: the first bad one is the SpecError."""
    for name, value in degrees.items():
        degree_values(value, name)


def _layouts(tp: Any, pp: Any, ep: Any, dp: Any, devices: int | None, cp: Any) -> list[Layout]:
    """:func:`layouts` (its docstring)."""
    out: list[Layout] = []
    first: SpecError | None = None
    for t in degree_values(tp, "tp"):
        for p in degree_values(pp, "pp"):
            for c in degree_values(cp, "cp"):
                for e in degree_values(ep, "ep"):
                    for d in degree_values(dp, "dp"):
                        try:
                            out.append(_filled(t, p, c, e, d, devices or 1))
                        except SpecError as exc:
                            first = first or exc
    # a grid of degrees keeps the combinations that fill the system; none is an error
    if not out and first is not None:
        raise first
    return out


def _filled(t: Any, p: Any, c: Any, e: Any, d: Any, total: int) -> Layout:
    """The layout of the degrees, ``d`` None filling ``total`` devices."""
    Layout(t, p, cp=c)  # the degrees themselves, before any arithmetic
    if d is None:
        used = t * p * c
        if total % used:
            what = f"tp={t} x pp={p}" + (f" x cp={c}" if c != 1 else "")
            raise SpecError(
                f"{what} does not divide the system's {total} devices",
                field="tp",
                fix=f"use degrees whose product divides {total}",
            )
        d = total // used
    return Layout(t, p, e, d, c)


def one_device(tp: Any = 1, pp: Any = 1, ep: Any = 1, dp: Any = None, cp: Any = 1) -> bool:
    """Whether the degrees (numbers or lists) ask for nothing but one device."""
    if all(type(v) is int for v in (tp, pp, ep, cp)) and (dp is None or type(dp) is int):
        return tp == pp == ep == cp == 1 and dp in (None, 1)

    def ones(v: Any, none_ok: bool = False) -> bool:
        values = list(v) if isinstance(v, _DEGREE_LISTS) else [v]
        return all(x == 1 or (none_ok and x is None) for x in values)

    return ones(tp) and ones(pp) and ones(ep) and ones(dp, none_ok=True) and ones(cp)


def check_devices(layout: Layout, count: int, system: str) -> None:
    """SpecError unless ``layout`` uses exactly the system's ``count`` devices."""
    if layout.devices != count:
        used = layout.tp * layout.pp * layout.cp
        names = "tp x pp x cp" if layout.cp > 1 else "tp x pp"
        fill = count // math.gcd(count, used)
        fix = (
            f"set dp={count // used} to fill it"
            if count % used == 0
            else f"use {names} dividing {count}; dp then fills it (e.g. dp={fill})"
        )
        raise SpecError(
            f"{layout.label} uses {layout.devices} devices but {system} has {count}",
            field="dp",
            fix=fix,
        )
