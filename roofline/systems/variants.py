"""Variants of a system for sweeps: its interconnect, its size and its device as knobs.

Knob paths: ``interconnect.<level>.bandwidth`` (bytes/s per direction per device, or a unit
string), ``interconnect.<level>.latency`` (seconds), ``count`` (devices: the slowest level spans
the system, faster levels keep their domain up to the count), and any device knob of
:func:`roofline.knobs.vary` behind a ``device.`` prefix (``device.memory.hbm.bandwidth``).
Each knob is one axis; the variants are their Cartesian product, or their element-wise zip.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from roofline.errors import SpecError
from roofline.knobs import knob_dim, parse_knob_values, vary
from roofline.suggest import did_you_mean
from roofline.systems.spec import Link, System
from roofline.units import Dim, parse_quantity

_LINK_DIMS = {"bandwidth": Dim.BANDWIDTH, "latency": Dim.TIME}


def system_knob_dim(system: System, path: str) -> tuple[str, Dim | None]:
    """(canonical path, dimension) of a system knob; ``count`` has none (whole devices)."""
    if path.startswith("device."):
        canon, dim = knob_dim(system.device, path[len("device.") :])
        return "device." + canon, dim
    if path == "count":
        return path, None
    knob_values(system, path, [])  # checks the path
    return path, _LINK_DIMS[path.rsplit(".", 1)[1]]


def knob_values(system: System, path: str, values: Sequence[Any]) -> np.ndarray:
    """A system knob's values as SI floats (SpecError naming the path and the fix)."""
    if path.startswith("device."):
        return parse_knob_values(system.device, path[len("device.") :], values)[1]
    if path == "count":
        out = []
        for v in values:
            if isinstance(v, bool) or not float(v).is_integer() or float(v) < 1:
                raise SpecError(f"{v!r} is not a device count", field=path, fix="e.g. count=8")
            out.append(float(v))
        return np.array(out)
    parts = path.split(".")
    if len(parts) == 3 and parts[0] == "interconnect" and parts[2] in _LINK_DIMS:
        if parts[1] not in system.interconnect:
            names = list(system.interconnect)
            raise SpecError(
                f"{system.name} has no interconnect level {parts[1]!r}",
                field=path,
                fix=did_you_mean(parts[1], names, "use one of " + ", ".join(names)),
            )
        dim = _LINK_DIMS[parts[2]]
        try:
            return np.array([parse_quantity(v, dim, allow_zero=dim == Dim.TIME) for v in values])
        except SpecError as exc:
            raise exc.with_context(prefix=path) from None
    raise SpecError(
        f"unknown system knob {path!r}",
        field=path,
        fix="use count, interconnect.<level>.bandwidth or .latency, or device.<device knob>",
    )


def resized(system: System, count: int) -> System:
    """``system`` with ``count`` devices (module docstring); a torus becomes a ring when it can
    no longer be cut into whole dimensions."""
    if count == system.count:
        return system
    if count == 1:
        return system.model_copy(update={"count": 1, "interconnect": {}})
    links = list(system.interconnect.items())
    new: dict[str, Link] = {}
    for i, (name, link) in enumerate(links):
        devices = count if i == len(links) - 1 else min(link.devices, count)
        if new and devices <= max(lk.devices for lk in new.values()):
            continue  # no larger than the level before it: it adds nothing
        update: dict[str, Any] = {"devices": devices}
        if link.topology == "torus" and link.dims:
            dims = _torus_dims(link.dims, devices)
            update.update({"dims": dims} if dims else {"dims": None, "topology": "ring"})
        new[name] = link.model_copy(update=update)
    return System.model_validate({**system.model_dump(), "count": count, "interconnect": new})


def _torus_dims(dims: tuple[int, ...], devices: int) -> tuple[int, ...] | None:
    """Halve the largest dimension until the torus holds ``devices`` chips (None: it cannot)."""
    out = list(dims)
    while int(np.prod(out)) > devices and max(out) >= 2:
        out[int(np.argmax(out))] //= 2
    out = [d for d in out if d >= 2]
    return tuple(out) if len(out) > 1 and int(np.prod(out)) == devices else None


def _variant(system: System, point: dict[str, float]) -> System:
    s = system
    device = {k[len("device.") :]: [v] for k, v in point.items() if k.startswith("device.")}
    if device:
        s = s.model_copy(update={"device": vary(s.device, device, mode="zip").variant(0)})
    if "count" in point:
        s = resized(s, int(point["count"]))
    for k, v in point.items():
        if k.startswith("interconnect."):
            _, level, field = k.split(".")
            if level in s.interconnect:
                link = s.interconnect[level].model_copy(update={field: float(v)})
                s = s.model_copy(update={"interconnect": {**s.interconnect, level: link}})
    return System.model_validate(s.model_dump())


def system_variants(
    system: System, knobs: Mapping[str, Sequence[Any]], mode: str = "product"
) -> tuple[dict[str, np.ndarray], list[System]]:
    """(knob value columns, one validated System per variant)."""
    values = {path: knob_values(system, path, v) for path, v in knobs.items()}
    if mode == "zip":
        if len({v.size for v in values.values()}) > 1:
            raise SpecError("zip needs equal lengths", field="vary", fix="or use mode='product'")
        points = [dict(zip(values, row)) for row in zip(*values.values())]
    elif mode == "product":
        points = [dict(zip(values, row)) for row in itertools.product(*values.values())]
    else:
        raise SpecError(f"unknown mode {mode!r}", field="mode", fix="use 'product' or 'zip'")
    cols = {k: np.array([p[k] for p in points]) for k in values}
    return cols, [_variant(system, p) for p in points]
