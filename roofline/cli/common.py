"""What every command shares: the argument parser that raises instead of exiting, the interface
of a command (:class:`Command`), the shared options, batch parsing and writing the output.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

from roofline.errors import SpecError
from roofline.output_files import write_text
from roofline.suggest import did_you_mean
from roofline.units import MAX_EXACT

#: output formats of the commands that print tables
FORMATS = ("table", "markdown", "csv", "json")
#: placement policies a command may choose
POLICIES = ("single", "capacity")


class _Extend(argparse.Action):
    """A flag of one or more values: a repeat adds its values (``--hw t4 --hw l4`` is
    ``--hw t4 l4``), replacing the default on first use."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        given = _given(namespace)
        before = list(getattr(namespace, self.dest) or []) if self.dest in given else []
        given.add(self.dest)
        setattr(namespace, self.dest, before + list(values))


class _Once(argparse._StoreAction):
    """A flag of one value: given twice is an error (argparse would silently keep the last)."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        given = _given(namespace)
        if self.dest in given:
            raise SpecError(
                "given twice, but it takes one value",
                field=option_string,
                fix=f"give {option_string} once",
            )
        given.add(self.dest)
        setattr(namespace, self.dest, values)


_GIVEN = "_roofline_flags_given"


def _given(namespace: argparse.Namespace) -> set[str]:
    given: set[str] = namespace.__dict__.setdefault(_GIVEN, set())
    return given


class Parser(argparse.ArgumentParser):
    """argparse that raises :class:`~roofline.errors.SpecError` (with a did-you-mean for a
    mistyped choice) instead of printing usage and exiting, and never silently keeps the last of
    a repeated flag: a flag of several values adds a repeat's values, a flag of one value
    refuses a repeat."""

    def add_argument(self, *args: Any, **kwargs: Any) -> argparse.Action:
        optional = bool(args) and str(args[0]).startswith("-")
        if optional and kwargs.get("action") in (None, "store"):
            if kwargs.get("nargs") in ("+", "*"):
                kwargs["action"] = _Extend
            elif kwargs.get("nargs") is None:
                kwargs["action"] = _Once
        return super().add_argument(*args, **kwargs)

    def parse_known_args(self, args: Any = None, namespace: Any = None) -> Any:
        parsed, rest = super().parse_known_args(args, namespace)
        parsed.__dict__.pop(_GIVEN, None)
        return parsed, rest

    def error(self, message: str) -> None:  # type: ignore[override]
        fix: str | None = f"see '{self.prog} --help'"
        bad = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)", message)
        if bad:
            choices = re.findall(r"'?([A-Za-z0-9_.-]+)'?", bad.group(2))
            fix = did_you_mean(bad.group(1), choices, fix)
        raise SpecError(message.replace("\n", " "), fix=fix)


class Command(NamedTuple):
    """A command as its module defines it: ``add_arguments(parser)`` adds its options, ``run(args)``
    runs it and returns the exit status. Each command module maps names to these in ``COMMANDS``;
    :data:`roofline.cli.main.REGISTRY` names the module of each command."""

    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


def add_output_options(parser: argparse.ArgumentParser, formats: bool = True) -> None:
    """Add ``--format`` (when the command prints tables), ``-o/--output`` and a hidden
    ``--debug`` (so that it may follow the command)."""
    if formats:
        parser.add_argument("--format", choices=FORMATS, default="table")
    parser.add_argument("-o", "--output", help="write to FILE instead of stdout")
    parser.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)


def add_policy_option(parser: argparse.ArgumentParser) -> None:
    """Add ``--policy single|capacity`` (default capacity)."""
    parser.add_argument("--policy", choices=POLICIES, default="capacity")


def add_layout_options(parser: argparse.ArgumentParser) -> None:
    """Add ``--tp --pp --ep --dp`` (each one or more degrees): parallel layouts on a system."""
    for flag, what in (
        ("--tp", "tensor-parallel degree(s)"),
        ("--pp", "pipeline stages"),
        ("--ep", "expert-parallel degree(s)"),
        ("--dp", "data-parallel replicas (default: fill the system)"),
    ):
        parser.add_argument(flag, nargs="+", metavar="N", help=f"on a system: {what}")


def layout_args(args: argparse.Namespace) -> dict[str, Any]:
    """The ``tp``, ``pp``, ``ep``, ``dp`` keyword arguments from the layout flags (lists of
    degrees; ``dp`` None to fill the system)."""
    out: dict[str, Any] = {}
    for name in ("tp", "pp", "ep", "dp"):
        values = getattr(args, name, None)
        default = None if name == "dp" else [1]
        out[name] = parse_batches(values, field=f"--{name}") if values else default
    return out


def parse_batches(
    values: Sequence[str] | None, default: Sequence[int] = (1,), field: str = "--batch"
) -> list[int]:
    """Whole numbers >= 1 from a flag's values (``1 16 64`` or ``1,16,64``), batch sizes by
    default; ``default`` when none are given."""
    if not values:
        return list(default)
    out = []
    for v in values:
        for part in str(v).split(","):
            try:
                x = float(part)
            except ValueError:
                raise SpecError(
                    f"{part!r} is not a number", field=field, fix=f"e.g. {field} 1 16 64"
                ) from None
            if not (x >= 1 and x.is_integer()):
                raise SpecError(
                    f"{part!r} must be a whole number >= 1",
                    field=field,
                    fix=f"e.g. {field} 1 16 64",
                )
            if x > MAX_EXACT:
                raise SpecError(
                    f"{part!r} is beyond 2**53 = {MAX_EXACT:.4g}",
                    field=field,
                    fix=f"e.g. {field} 1 16 64",
                )
            out.append(int(x))
    return out


def write_output(text: str, path: str | None) -> None:
    """Print ``text`` (no path or ``-``) or write it atomically to ``path``."""
    if not path or path == "-":
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        return
    write_text(path, text)
