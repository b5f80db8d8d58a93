"""Systems: N devices of one kind joined by interconnect levels.

A system spec (YAML in ``hw_specs/`` with a ``device:`` and a ``count:``) names its device (a
device preset or a device file, a relative path being the system file's neighbour, resolved by
:func:`roofline.presets.load_hardware`, or an inline device mapping),
how many there are, and its interconnect levels,
fastest first: a scale-up domain (NVLink through NVSwitch, Infinity Fabric, TPU ICI) and optionally
a scale-out network joining the domains (InfiniBand, Ethernet). Each level gives:

* ``topology``: ``switch`` (every device reaches every other at full bandwidth), ``ring``, or
  ``torus`` with its ``dims`` (a 2D or 3D torus of chips);
* ``devices``: devices per domain of this level (the product of ``dims`` for a torus); the last
  level's domain spans the system;
* ``bandwidth``: bytes per second per direction per device into this level (all its links);
* ``latency``: seconds per step of a collective (the alpha of the alpha-beta model);
* ``in_network_reduction``: a switch that reduces in the fabric (NVLink SHARP): an all-reduce
  sends each device's data once instead of twice.

Every figure carries a ``source:`` like a device's. :mod:`roofline.systems.collectives` prices the
collectives on these levels.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from typing import Annotated, Literal

from pydantic import Field, model_validator

from roofline.errors import SpecError
from roofline.field_checks import Name, SpecModel
from roofline.hardware import Bandwidth, Hardware, as_text, quantity
from roofline.kinds import RESERVED_LEVEL_NAMES
from roofline.spec_ranges import RANGES
from roofline.units import Dim

#: seconds per collective step, zero allowed: ``"12 us"``
Seconds = Annotated[float, quantity(Dim.TIME, "latency", allow_zero=True), as_text(Dim.TIME)]


#: the most devices a system or a level may join (roofline.spec_ranges holds the range)
MAX_DEVICES = int(RANGES["devices"][1])


class Link(SpecModel):
    """One interconnect level (module docstring)."""

    scope: Literal["scale_up", "scale_out"]
    topology: Literal["switch", "ring", "torus"]
    devices: int = Field(ge=2, le=MAX_DEVICES, description="devices per domain of this level")
    dims: tuple[int, ...] | None = Field(
        None, description="torus dimensions (their product is `devices`)"
    )
    bandwidth: Bandwidth = Field(description="bytes/s per direction per device")
    latency: Seconds = Field(description="seconds per collective step")
    in_network_reduction: bool = False
    source: str = Field(min_length=1)
    note: str | None = None

    @model_validator(mode="after")
    def _check(self) -> Link:
        if self.topology == "torus":
            if not self.dims or min(self.dims) < 2:
                raise ValueError("a torus needs dims, each at least 2 (e.g. dims: [4, 4, 4])")
            if math.prod(self.dims) != self.devices:
                raise ValueError(
                    f"dims={list(self.dims)} hold {math.prod(self.dims)} devices, not "
                    f"devices={self.devices} (make them agree)"
                )
        elif self.dims is not None:
            raise ValueError(f"dims only apply to a torus, not a {self.topology}")
        if self.in_network_reduction and self.topology != "switch":
            raise ValueError("in_network_reduction needs topology: switch")
        return self


class System(SpecModel):
    """``count`` devices of one kind and the interconnect levels joining them."""

    name: Name
    description: str = ""
    source: str = Field(min_length=1)
    device: Hardware
    count: int = Field(ge=1, le=MAX_DEVICES, description="devices in the system")
    interconnect: dict[str, Link] = Field(default_factory=dict)
    note: str | None = None

    @model_validator(mode="after")
    def _check(self) -> System:
        levels = list(self.interconnect.items())
        if self.count > 1 and not levels:
            raise SpecError(
                f"{self.count} devices need an interconnect",
                field="interconnect",
                fix="add a level, e.g. nvlink: {scope: scale_up, topology: switch, ...}",
            )
        for name, _ in levels:
            taken = name in self.device.memory
            if not name.strip() or name in RESERVED_LEVEL_NAMES or taken:
                what = "a memory level of the device" if taken else "a bound label"
                raise SpecError(
                    f"an interconnect level cannot be named {name!r}"
                    + (f" ({what})" if name.strip() else ""),
                    field=f"interconnect.{name}",
                    fix="rename the level, e.g. nvlink, infiniband, ici",
                )
        prev = 1
        for name, link in levels:
            if link.devices % prev or link.devices <= prev:
                raise SpecError(
                    f"a domain of {link.devices} devices cannot be made of domains of {prev}",
                    field=f"interconnect.{name}.devices",
                    fix="list levels from the smallest domain to the whole system",
                )
            prev = link.devices
        if levels and prev != self.count:
            name = levels[-1][0]
            raise SpecError(
                f"the last level joins {prev} devices but the system has count={self.count}",
                field=f"interconnect.{name}.devices",
                fix=f"set devices: {self.count} or add a level that spans the system",
            )
        return self

    @property
    def links(self) -> tuple[tuple[str, Link], ...]:
        """The interconnect levels, smallest domain first."""
        return tuple(self.interconnect.items())


#: the one-device system of recent device objects (by identity: a device spec is frozen, so its
#: system is built and validated once); bounded, as :func:`roofline.grid.to_grid`'s grids
_SINGLES: OrderedDict[int, System] = OrderedDict()
_SINGLES_MAX = 64
_SINGLES_LOCK = threading.Lock()


def single(device: Hardware) -> System:
    """A system of one device and no interconnect: a device where a system is evaluated."""
    with _SINGLES_LOCK:
        hit = _SINGLES.get(id(device))
        if hit is not None and hit.device is device:
            _SINGLES.move_to_end(id(device))
            return hit
    system = System(
        name=device.name,
        description=device.description,
        source=device.source,
        device=device,
        count=1,
    )
    with _SINGLES_LOCK:
        _SINGLES[id(device)] = system
        while len(_SINGLES) > _SINGLES_MAX:
            _SINGLES.popitem(last=False)
    return system
