"""Closest-name suggestions for error messages."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence

from roofline.errors import SpecError


def did_you_mean(word: str, choices: Iterable[str], otherwise: str | None = None) -> str | None:
    """Return ``"did you mean 'x'?"`` for the closest choice, else ``otherwise``."""
    matches = difflib.get_close_matches(str(word), list(choices), n=3, cutoff=0.6)
    if matches:
        return "did you mean " + " or ".join(repr(m) for m in matches) + "?"
    return otherwise


def unknown_column(name: str, columns: Sequence[str], field: str) -> SpecError:
    """The error for a column ``name`` not among ``columns``, naming ``field``: a did-you-mean
    and the columns there are."""
    return SpecError(
        f"no column {name!r}",
        field=field,
        fix=" ".join(filter(None, [did_you_mean(name, columns), "columns:"]))
        + " "
        + ", ".join(columns),
    )
