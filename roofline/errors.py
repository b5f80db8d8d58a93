"""Typed errors. Every user-facing failure is a :class:`RooflineError` that renders as one line."""

from __future__ import annotations


class RooflineError(Exception):
    """Base class of every error the CLI turns into one line on stderr and exit status 2."""


class SpecError(RooflineError, ValueError):
    """A model or hardware spec (or a CLI argument standing for one) is invalid.

    Renders as ``FILE: FIELD: problem (fix)``; the parts that do not apply are left out.

    Attributes
    ----------
    file : str or None
        The spec file (or ``"<argument>"``) the problem is in.
    field : str or None
        Dotted path of the offending field, e.g. ``params.hidden_size``.
    problem : str
        What is wrong.
    fix : str or None
        How to fix it.
    """

    def __init__(
        self,
        problem: str,
        *,
        file: str | None = None,
        field: str | None = None,
        fix: str | None = None,
    ) -> None:
        self.file = file
        self.field = field
        self.problem = problem
        self.fix = fix
        super().__init__(self.render())

    def render(self) -> str:
        """Return the one-line message ``FILE: FIELD: problem (fix)``."""
        parts = [p for p in (self.file, self.field) if p]
        text = self.problem if not self.fix else f"{self.problem} ({self.fix})"
        return ": ".join([*parts, text]).replace("\n", " ")

    def with_context(self, *, file: str | None = None, prefix: str | None = None) -> SpecError:
        """Return a copy with ``file`` set (if unset) and ``prefix`` prepended to the field path."""
        field = self.field
        if prefix:
            field = f"{prefix}.{field}" if field else prefix
        return SpecError(self.problem, file=self.file or file, field=field, fix=self.fix)


class UnitError(SpecError):
    """A quantity string cannot be parsed or has the wrong dimension."""
