"""Family registry: a family turns validated parameters into a :class:`~roofline.graph.Graph`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator

from roofline.field_checks import check_fields
from roofline.frozen import freeze_fields
from roofline.graph import Graph


class FamilyParams(BaseModel):
    """Base of every family's parameter schema: frozen, unknown fields rejected, plain values
    checked (:mod:`roofline.field_checks`), dicts and lists read-only."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    @model_validator(mode="before")
    @classmethod
    def _plain_values(cls, data: Any) -> Any:
        check_fields(cls, data, limit=True)
        return data

    @model_validator(mode="after")
    def _read_only(self) -> Any:
        freeze_fields(self)
        return self


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
