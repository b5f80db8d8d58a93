"""Family registry: a family turns validated parameters into a :class:`~roofline.graph.Graph`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import ConfigDict, Field

from roofline.field_checks import SpecModel
from roofline.graph import Graph


class FamilyParams(SpecModel):
    """Base of every family's parameter schema: frozen, unknown fields rejected, plain values
    checked (any number beyond 2**53 refused: sizes become counts), dicts and lists read-only."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)
    LIMIT_NUMBERS = True


#: a whole number at least 1: a size, a width, a count of layers or blocks
PositiveInt = Annotated[int, Field(ge=1)]
#: an image side in pixels: at least 1 (a family whose layers need more checks it too)
Pixels = PositiveInt


@dataclass(frozen=True)
class Family:
    """A model family: its parameter schema, its builder and what one sample is."""

    name: str
    params: type[FamilyParams]
    build: Callable[[Any, str], Graph]
    sample: str
    doc: str


FAMILIES: dict[str, Family] = {}


Builder = Callable[[Any, str], Graph]


def family(name: str, params: type[FamilyParams], sample: str) -> Callable[[Builder], Builder]:
    """Decorator registering ``build(params, model_name) -> Graph`` as family ``name``.

    ``sample`` names what the batch counts (``image``, ``clip``, ``request``, ``sequence``).
    """

    def wrap(build: Builder) -> Builder:
        if name in FAMILIES:
            raise TypeError(f"family {name!r} registered twice")
        FAMILIES[name] = Family(name, params, build, sample, (build.__doc__ or "").strip())
        return build

    return wrap
