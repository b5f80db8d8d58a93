"""What every command shares: the argument parser that raises instead of exiting and shows
defaults in ``--help``, the interface of a command (:class:`Command`), the shared options, batch
parsing, and writing the output in the format the ``-o`` file's extension names.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path, PurePath
from typing import TYPE_CHECKING, Any, NamedTuple

from roofline.batch_sizes import batch_sizes
from roofline.dtypes import ALIASES, DTYPES
from roofline.errors import SpecError
from roofline.formatting import UNITS
from roofline.output_files import check_target, write_text
from roofline.suggest import did_you_mean

if TYPE_CHECKING:
    from roofline.table import Table

#: output formats of the commands that print tables
FORMATS = ("table", "markdown", "csv", "json")
#: the format ``-o FILE`` writes, by the file's extension (parquet needs pyarrow)
EXTENSIONS = {
    ".csv": "csv",
    ".json": "json",
    ".md": "markdown",
    ".txt": "table",
    ".parquet": "parquet",
}
#: placement policies a command may choose
POLICIES = ("single", "capacity")
#: the dtype help of every ``--dtype``
DTYPE_HELP = (
    f"precision of weights, activations and compute: {', '.join(DTYPES)} (also "
    f"{', '.join(ALIASES)}), or wNaM for N-bit weights with M-bit activations (w4a16, w8a16); "
    "default: each device's default_dtype, the dtype its datasheet headlines "
    "(roofline list devices)"
)


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Help that keeps the examples' line breaks and appends each option's default (when it has
    one worth saying: not None, False or empty)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if (
            "%(default)" in text
            or "default:" in text
            or default in (None, False, argparse.SUPPRESS)
            or default == []
            or not action.option_strings
        ):
            return text
        shown = " ".join(map(str, default)) if isinstance(default, (list, tuple)) else default
        return f"{text} (default: {shown})"


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
    mistyped choice) instead of printing usage and exiting, shows defaults in ``--help``, and
    never silently keeps the last of a repeated flag: a flag of several values adds a repeat's
    values, a flag of one value refuses a repeat."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)

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
    runs it and returns the exit status, ``examples`` are shown at the end of its ``--help``.
    Each command module maps names to these in ``COMMANDS``; :data:`roofline.cli.main.REGISTRY`
    names the module of each command."""

    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]
    examples: tuple[str, ...] = ()


def epilog(examples: Sequence[str]) -> str | None:
    """The ``--help`` epilog of a command's examples (None without any)."""
    if not examples:
        return None
    return "examples:\n" + "\n".join(f"  {e}" for e in examples)


def add_output_options(
    parser: argparse.ArgumentParser,
    formats: bool = True,
    flags: Sequence[str] = ("-o", "--output"),
    dest: str = "output",
) -> None:
    """Add ``--format``, ``--units`` and ``--columns`` (when the command prints tables), the
    output file (``flags``, stored as ``dest``) and a hidden ``--debug`` (so that it may follow
    the command)."""
    if formats:
        parser.add_argument(
            "--format",
            choices=FORMATS,
            default="table",
            action=_FormatGiven,
            help="table or markdown for people (human units), csv or json with raw SI numbers "
            "(default: from the -o file's extension, else table)",
        )
        parser.add_argument(
            "--units",
            choices=UNITS,
            default="kind",
            help="byte prefixes for people: kind = each kind of figure its convention, IEC (MiB) "
            "for capacities and footprints, SI (MB) for bytes moved and bandwidths; si or iec "
            "for every byte figure",
        )
        parser.add_argument(
            "--columns",
            metavar="A,B,C",
            help="print only these columns, in this order ('all': every column; an unknown "
            "name lists them)",
        )
        help_o = (
            "write to FILE instead of stdout, in the format its extension names: .csv, .json, "
            ".md (markdown), .txt (table), .parquet (needs pyarrow)"
        )
    else:
        help_o = "write to FILE instead of stdout"
    parser.add_argument(*flags, dest=dest, metavar="FILE", help=help_o)
    parser.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)
    parser.set_defaults(output_dest=dest)


class _FormatGiven(argparse.Action):
    """``--format``: stores the format and notes that it was given (``format_given``), so that
    without it the output file's extension picks the format (:func:`output_format`)."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        setattr(namespace, self.dest, values)
        namespace.format_given = True


def add_dtype_option(parser: argparse.ArgumentParser, many: bool = False) -> None:
    """Add ``--dtype`` (one, or with ``many`` one or more); default each device's own."""
    if many:
        parser.add_argument("--dtype", nargs="+", metavar="DTYPE", help=DTYPE_HELP)
    else:
        parser.add_argument("--dtype", metavar="DTYPE", help=DTYPE_HELP)


def add_batch_option(parser: argparse.ArgumentParser, default: str = "1") -> None:
    """Add ``--batch`` (one or more whole numbers, spaces or commas between them)."""
    parser.add_argument(
        "--batch",
        nargs="+",
        metavar="N",
        help=f"batch size(s), samples per run: 1 16 64 or 1,16,64 (default: {default})",
    )


def add_policy_option(parser: argparse.ArgumentParser) -> None:
    """Add ``--policy single|capacity`` (default capacity)."""
    parser.add_argument(
        "--policy",
        choices=POLICIES,
        default="capacity",
        help="placement: capacity keeps what fits on chip; single streams everything from "
        "device memory (the classic roofline)",
    )


def add_fuse_option(parser: argparse.ArgumentParser) -> None:
    """Add ``--no-fuse``."""
    parser.add_argument(
        "--no-fuse",
        action="store_true",
        help="run every op as its own kernel (default: fold batch norm and fuse epilogues, as "
        "inference engines do)",
    )


def add_layout_options(parser: argparse.ArgumentParser) -> None:
    """Add ``--tp --pp --cp --ep --dp`` (each one or more degrees): parallel layouts on a
    system."""
    for flag, what in (
        ("--tp", "tensor-parallel degree(s) (default: 1)"),
        ("--pp", "pipeline stages (default: 1)"),
        ("--cp", "context-parallel degree(s): a decoder's tokens split (default: 1)"),
        ("--ep", "expert-parallel degree(s) (default: 1)"),
        ("--dp", "data-parallel replicas (default: fill the system)"),
    ):
        parser.add_argument(flag, nargs="+", metavar="N", help=f"on a system: {what}")


def layout_args(args: argparse.Namespace) -> dict[str, Any]:
    """The ``tp``, ``pp``, ``ep``, ``dp``, ``cp`` keyword arguments from the layout flags (lists
    of degrees; ``dp`` None to fill the system)."""
    out: dict[str, Any] = {}
    for name in ("tp", "pp", "ep", "dp", "cp"):
        values = getattr(args, name, None)
        default = None if name == "dp" else [1]
        out[name] = parse_batches(values, field=f"--{name}") if values else default
    return out


def parse_batches(
    values: Sequence[str] | None, default: Sequence[int] = (1,), field: str = "--batch"
) -> list[int]:
    """Whole numbers >= 1 from a flag's values (``1 16 64`` or ``1,16,64``), batch sizes by
    default; ``default`` when none are given. The same check as the API's
    (:func:`roofline.batch_sizes.batch_sizes`)."""
    if not values:
        return list(default)
    numbers: list[float] = []
    texts: list[str] = []
    for v in values:
        for part in str(v).split(","):
            try:
                numbers.append(float(part))
            except ValueError:
                raise SpecError(
                    f"{part!r} is not a number", field=field, fix=f"e.g. {field} 1 16 64"
                ) from None
            texts.append(part)
    return batch_sizes(numbers, field=field, typed=texts)


#: the most digits a whole number on the command line may have: Python's int() refuses more
#: (its default ``sys.get_int_max_str_digits()``)
_MOST_DIGITS = 4300


def whole_number(
    text: str, field: str, fix: str, problem: str | None = None, spaces: bool = False
) -> int:
    """A flag's value ``text`` as a whole number >= 1 written in ASCII digits (``8``, ``08``, no
    upper bound): no sign, point, exponent, underscore, superscript or other script; with
    ``spaces``, whitespace around the digits too. A SpecError naming ``field``, with ``problem``
    (default ``'x' must be a whole number >= 1``) and ``fix``, otherwise: ``import --dim``,
    ``sweep --workers`` and ``sweep --vary count=...``."""
    digits = text.strip() if spaces else text
    if len(digits) > _MOST_DIGITS:  # int() would refuse it with a ValueError
        raise SpecError(
            f"{text[:20]!r}... has {len(digits)} characters, too many for a whole number",
            field=field,
            fix=fix,
        )
    # the stripped digits: str.strip takes \x1c to \x1f for spaces, which int() refuses
    n = int(digits) if digits.isascii() and digits.isdigit() else 0
    if n < 1:
        if problem is None:
            problem = f"{text!r} must be a whole number >= 1"
        raise SpecError(problem, field=field, fix=fix)
    return n


def output_format(args: argparse.Namespace) -> str:
    """The format to write: ``--format``, else the output file's extension
    (:data:`EXTENSIONS`), else ``table``. An unknown extension without ``--format``, or one
    that disagrees with it, is a :class:`~roofline.errors.SpecError`; so is a target that is
    not a new or regular file (:func:`~roofline.output_files.check_target`)."""
    path = getattr(args, getattr(args, "output_dest", "output"), None)
    given = args.format if getattr(args, "format_given", False) else None
    by_ext = None
    if path and path != "-":
        if not Path(path).is_dir():  # a directory: a sweep's dataset, else refused by the writer
            check_target(path)  # a device, a FIFO... is named as such before its extension
        ext = PurePath(path).suffix.lower()
        by_ext = EXTENSIONS.get(ext)
        if by_ext is None and not given:
            raise SpecError(
                f"cannot tell the format of {path!r} from its extension {ext or '(none)'}",
                field="--output",
                fix="name it " + ", ".join(EXTENSIONS),
            )
        if given and by_ext and given != by_ext:
            raise SpecError(
                f"--format {given} disagrees with {path!r} ({ext} is {by_ext})",
                field="--format",
                fix="drop --format (the extension picks it) or rename the file",
            )
    return given or by_ext or "table"


def chosen_columns(
    table: Table, args: argparse.Namespace, fmt: str, people: Sequence[str] | None = None
) -> Table:
    """``table`` with ``--columns`` applied (``all``: every column); without it, ``people``
    (a compact set) for table and markdown output and every column for files of data."""
    spec = getattr(args, "columns", None)
    if spec and spec.strip() != "all":
        names = [c.strip() for c in spec.split(",") if c.strip()]
        if not names:
            raise SpecError("no column named", field="--columns", fix="e.g. --columns model,batch")
        return table.select(names, field="--columns")
    if not spec and people and fmt in ("table", "markdown"):
        return table.select([c for c in people if c in table.columns])
    return table


def emit(table: Table, args: argparse.Namespace, people: Sequence[str] | None = None) -> None:
    """Print ``table`` or write it to the output file, in :func:`output_format`'s format, with
    :func:`chosen_columns` and ``--units`` applied."""
    fmt = output_format(args)
    table = chosen_columns(table, args, fmt, people)
    path = getattr(args, getattr(args, "output_dest", "output"), None)
    if fmt == "parquet" and path:
        table.to_parquet(path)
        return
    write_output(table.format(fmt, units=getattr(args, "units", "kind")), path)


def one_table_format(args: argparse.Namespace, what: str) -> str:
    """:func:`output_format` for a command that writes several tables: Parquet and CSV hold one
    (a second CSV header would read as data), so either is a SpecError naming the formats that
    hold them all."""
    fmt = output_format(args)
    if fmt in ("parquet", "csv"):
        name = {"parquet": "a Parquet file", "csv": "CSV"}[fmt]
        given = getattr(args, "format_given", False)
        raise SpecError(
            f"{name} holds one table; {what}",
            field="--format" if given else "--output",
            fix="use --format json or -o FILE.json (every table), or table/markdown text",
        )
    return fmt


def check_outputs(targets: Sequence[tuple[str, str]]) -> None:
    """Each output ``(path, flag)`` a new or regular file in an existing directory
    (:func:`~roofline.output_files.check_target`), and no file named by two flags: a SpecError
    naming the flag, before anything is computed or measured."""
    seen: dict[str, str] = {}
    for path, flag in targets:
        try:
            target = check_target(path)
        except SpecError as exc:
            raise SpecError(exc.problem, file=exc.file, field=flag, fix=exc.fix) from None
        key = os.path.realpath(target)
        if key in seen:
            raise SpecError(
                f"is written twice by this command ({seen[key]} and {flag})",
                file=path,
                field=flag,
                fix="give each output its own file",
            )
        seen[key] = flag


def yaml_output(path: str | None, fix: str, why: str | None = None) -> None:
    """``-o FILE``: stdout (none or ``-``) or a ``.yaml``/``.yml`` file, else a SpecError
    (``'FILE' is not a YAML file``, then ``: why`` if given) naming ``--output``."""
    if path and path != "-" and not path.endswith((".yaml", ".yml")):
        problem = f"{path!r} is not a YAML file"
        raise SpecError(f"{problem}: {why}" if why else problem, field="--output", fix=fix)


def write_output(text: str, path: str | None) -> None:
    """Print ``text`` (no path or ``-``) or write it atomically to ``path``; either way it ends
    with a newline."""
    text = text if text.endswith("\n") else text + "\n"
    if not path or path == "-":
        sys.stdout.write(text)
        return
    write_text(path, text)
