"""Model families, loaded on first use.

A family is declared in one place: a module in this package whose builder carries
``@family("name", Params, sample=...)``. The registry finds which module declares which name by
scanning the sources (no import), and imports a module only when one of its families is asked for,
so loading one model does not pay for every family's schema.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterator, Mapping
from pathlib import Path

from roofline.families.base import FAMILIES as _LOADED
from roofline.families.base import Family, FamilyParams, family

_DECL = re.compile(r"""@family\(\s*["']([A-Za-z0-9_]+)["']""")


def _scan() -> dict[str, str]:
    found: dict[str, str] = {}
    for path in sorted(Path(__file__).parent.glob("*.py")):
        if path.stem in ("__init__", "base"):
            continue
        for name in _DECL.findall(path.read_text(encoding="utf-8")):
            found[name] = path.stem
    return found


class _Registry(Mapping):
    """name -> :class:`Family`, importing the declaring module on first access."""

    def __init__(self) -> None:
        self._where: dict[str, str] | None = None

    @property
    def where(self) -> dict[str, str]:
        if self._where is None:
            self._where = _scan()
        return self._where

    def __getitem__(self, name: str) -> Family:
        if name not in _LOADED and name in self.where:
            importlib.import_module(f"{__name__}.{self.where[name]}")
        return _LOADED[name]

    def __contains__(self, name: object) -> bool:
        return name in _LOADED or name in self.where

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(set(self.where) | set(_LOADED)))

    def __len__(self) -> int:
        return len(set(self.where) | set(_LOADED))

    def load_all(self) -> dict[str, Family]:
        """Import every family module; return the loaded families."""
        return {name: self[name] for name in self}


FAMILIES = _Registry()

__all__ = ["FAMILIES", "Family", "FamilyParams", "family"]
