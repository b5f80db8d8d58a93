"""Parallel layouts: how a model's work is spread over a system's devices.

A :class:`Layout` has four degrees, each at least 1:

* ``tp`` tensor parallel: the devices of a group split every layer (Megatron-style: column- and
  row-parallel GEMMs, attention by heads, the vocabulary of embeddings and head); a recommendation
  model's embedding tables are sharded over the group instead and its dense layers run data
  parallel inside it;
* ``pp`` pipeline parallel: consecutive stages of layers on different groups, micro-batches
  flowing through them;
* ``ep`` expert parallel: a mixture-of-experts layer's experts spread over ``ep`` devices of the
  tensor- and data-parallel groups (tokens dispatched and combined by all-to-all);
* ``dp`` data parallel: replicas, each taking ``batch / dp`` of the batch.

A layout uses ``tp x pp x dp`` devices, which must be the system's count: a layout that leaves
devices idle is an error naming the degrees that fill the system. Groups are packed: a tensor-
parallel group fills the fastest interconnect domain first (Megatron places TP inside a node).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from roofline.errors import SpecError


@dataclass(frozen=True)
class Layout:
    """Degrees of tensor, pipeline, expert and data parallelism (module docstring)."""

    tp: int = 1
    pp: int = 1
    ep: int = 1
    dp: int = 1

    def __post_init__(self) -> None:
        for name in ("tp", "pp", "ep", "dp"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise SpecError(
                    f"{name}={value!r} must be a whole number >= 1",
                    field=name,
                    fix=f"e.g. {name}=2",
                )
        if (self.tp * self.dp) % self.ep:
            raise SpecError(
                f"ep={self.ep} does not divide the tp x dp = {self.tp * self.dp} devices that "
                "hold the experts",
                field="ep",
                fix=f"use an ep that divides {self.tp * self.dp}",
            )

    @property
    def devices(self) -> int:
        """Devices the layout uses: tp x pp x dp."""
        return self.tp * self.pp * self.dp

    @property
    def label(self) -> str:
        """``tp2 pp1 ep1 dp4``."""
        return f"tp{self.tp} pp{self.pp} ep{self.ep} dp{self.dp}"


def layouts(
    tp: Any = 1, pp: Any = 1, ep: Any = 1, dp: Any = None, devices: int | None = None
) -> list[Layout]:
    """Every combination of the given degrees (each an int or a list). ``dp`` None fills the
    system: ``devices / (tp x pp)`` (an error when that is not whole)."""

    def many(v: Any, name: str) -> list[Any]:
        values = list(v) if isinstance(v, (list, tuple, range)) else [v]
        if not values:
            raise SpecError(f"{name} is empty", field=name, fix=f"e.g. {name}=[1, 2]")
        return values

    out: list[Layout] = []
    first: SpecError | None = None
    for t in many(tp, "tp"):
        for p in many(pp, "pp"):
            for e in many(ep, "ep"):
                for d in many(dp, "dp"):
                    try:
                        Layout(t, p)  # the degrees themselves, before any arithmetic
                        if d is None:
                            total = devices or 1
                            whole = isinstance(t, int) and isinstance(p, int)
                            if whole and total % (t * p):
                                raise SpecError(
                                    f"tp={t} x pp={p} does not divide the system's {total} devices",
                                    field="tp",
                                    fix=f"use degrees whose product divides {total}",
                                )
                            d = total // (t * p) if whole else d
                        out.append(Layout(t, p, e, d))
                    except SpecError as exc:
                        first = first or exc
    # a grid of degrees keeps the combinations that fill the system; none is an error
    if not out and first is not None:
        raise first
    return out


def one_device(tp: Any = 1, pp: Any = 1, ep: Any = 1, dp: Any = None) -> bool:
    """Whether the degrees (numbers or lists) ask for nothing but one device."""

    def ones(v: Any, none_ok: bool = False) -> bool:
        values = list(v) if isinstance(v, (list, tuple, range)) else [v]
        return all(x == 1 or (none_ok and x is None) for x in values)

    return ones(tp) and ones(pp) and ones(ep) and ones(dp, none_ok=True)


def check_devices(layout: Layout, count: int, system: str) -> None:
    """SpecError unless ``layout`` uses exactly the system's ``count`` devices."""
    if layout.devices != count:
        fill = count // math.gcd(count, layout.tp * layout.pp)
        fix = (
            f"set dp={count // (layout.tp * layout.pp)} to fill it"
            if count % (layout.tp * layout.pp) == 0
            else f"use tp x pp dividing {count}; dp then fills it (e.g. dp={fill})"
        )
        raise SpecError(
            f"{layout.label} uses {layout.devices} devices but {system} has {count}",
            field="dp",
            fix=fix,
        )
