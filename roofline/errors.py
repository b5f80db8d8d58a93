"""Typed errors and warnings. Every user-facing failure is a :class:`RooflineError` that renders
as one line (a :class:`SpecErrors` as one line per invalid field); every user-facing warning is a
:class:`RooflineWarning`."""

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


class SpecErrors(SpecError):
    """Several invalid fields of one spec, reported together: ``file``, ``field``, ``problem``
    and ``fix`` are the first one's; :attr:`errors` holds them all.

    Renders as ``FILE: N problems:`` followed by one indented ``FIELD: problem (fix)`` line each.
    """

    def __init__(self, errors: list[SpecError]) -> None:
        if len(errors) < 2:
            raise ValueError("SpecErrors holds two or more errors; raise the one SpecError")
        self.errors = tuple(errors)
        first = errors[0]
        super().__init__(first.problem, file=first.file, field=first.field, fix=first.fix)

    def render(self) -> str:
        """``FILE: N problems:`` and one indented line per error (each without the file)."""
        head = f"{self.file}: " if self.file else ""
        lines = [f"{head}{len(self.errors)} problems:"]
        for e in self.errors:
            line = SpecError(e.problem, field=e.field, fix=e.fix).render()
            lines.append(f"  {line}" if e.file in (None, self.file) else f"  {e.render()}")
        return "\n".join(lines)

    def with_context(self, *, file: str | None = None, prefix: str | None = None) -> SpecError:
        """A copy with ``file`` set (if unset) and ``prefix`` prepended to every field path."""
        return SpecErrors([e.with_context(file=file, prefix=prefix) for e in self.errors])


class UnitError(SpecError):
    """A quantity string cannot be parsed or has the wrong dimension."""


class RooflineWarning(UserWarning):
    """Something a user asked for that the tool did, but that is probably not what they meant.
    The CLI prints each as ``roofline: warning: ...`` on stderr."""


class UnreadKnobWarning(RooflineWarning):
    """A knob was varied or given that the evaluation does not read (a peak or energy of a dtype
    other than the one evaluated), so every variant gives the same answer."""


def short_repr(value: object, limit: int = 40) -> str:
    """``repr(value)`` cut to ``limit`` characters for a one-line message (a 400-digit integer,
    a whole mapping, is noise there)."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
