"""Closest-name suggestions for error messages."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def did_you_mean(word: str, choices: Iterable[str], otherwise: str | None = None) -> str | None:
    """Return ``"did you mean 'x'?"`` for the closest choice, else ``otherwise``."""
    matches = difflib.get_close_matches(str(word), list(choices), n=3, cutoff=0.6)
    if matches:
        return "did you mean " + " or ".join(repr(m) for m in matches) + "?"
    return otherwise
