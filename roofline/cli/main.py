"""The command line: ``roofline COMMAND ...``, a thin face over the Python API.

:data:`REGISTRY` names every command, the module that defines it and its one-line help. A
command's module is imported only when that command runs or its ``--help`` is asked for, so
``roofline --help`` stays fast. Each module maps its command names to a
:class:`~roofline.cli.common.Command` in ``COMMANDS``. Adding a command: its module (or an entry
in a module of its group), its test, and its line in :data:`REGISTRY`.

Every :class:`~roofline.errors.RooflineError` (and argparse misuse) becomes one line
``roofline: error: ...`` on stderr (a spec with several invalid fields: one line each) and exit
status 2; ``--debug`` re-raises. Every :class:`~roofline.errors.RooflineWarning` becomes one line
``roofline: warning: ...`` on stderr. Output files are written to a temporary name and renamed
(:mod:`roofline.output_files`), so an error leaves none.
"""

from __future__ import annotations

import argparse
import importlib
import signal
import sys
import threading
import warnings
from collections.abc import Sequence
from typing import Any, NamedTuple, TextIO

from roofline import __version__
from roofline.cli.common import Command, Parser, epilog
from roofline.errors import RooflineError, RooflineWarning
from roofline.output_files import command_outputs


class Entry(NamedTuple):
    """Where a command is defined (a module with ``COMMANDS``) and its one-line help."""

    module: str
    help: str


#: command -> its module and one-line help, in the order ``roofline --help`` lists them
REGISTRY: dict[str, Entry] = {
    "list": Entry("roofline.cli.listing", "list the model, device or system presets"),
    "analyze": Entry("roofline.cli.models", "per-op prediction of one model on one device"),
    "compare": Entry("roofline.cli.models", "models x devices x batches x dtypes"),
    "table1": Entry(
        "roofline.cli.paper", "Table 1 of Park et al. 2018 recomputed beside the paper's"
    ),
    "generate": Entry(
        "roofline.cli.generate", "LLM generation: TTFT, time per token, tokens/s over grids"
    ),
    "import": Entry(
        "roofline.cli.importing", "import a model from ONNX or PyTorch as a layers spec (YAML)"
    ),
    "layouts": Entry("roofline.cli.systems", "rank parallel layouts on a system under an SLA"),
    "plot": Entry("roofline.cli.plot", "roofline, breakdown, batch and study charts to PNG/SVG"),
    "sweep": Entry("roofline.cli.sweep", "evaluate models over device variants"),
    "sensitivity": Entry("roofline.cli.sweep", "rank what doubling each device knob buys"),
    "diff": Entry(
        "roofline.cli.sweep", "one model on two devices: speedup by op kind, bound changes"
    ),
    "calibrate": Entry(
        "roofline.cli.fidelity", "measure this machine and write a device spec (YAML)"
    ),
    "validate": Entry(
        "roofline.cli.fidelity", "time real kernels here and compare with predictions"
    ),
    "new": Entry("roofline.cli.spec_files", "write a commented device spec template to fill in"),
    "check": Entry(
        "roofline.cli.spec_files", "check a model, device or system spec file; print a summary"
    ),
    "completion": Entry(
        "roofline.cli.completion", "print a shell completion script (bash, zsh or tcsh)"
    ),
}


def command(name: str) -> Command:
    """The :class:`~roofline.cli.common.Command` ``name`` (imports its module)."""
    return importlib.import_module(REGISTRY[name].module).COMMANDS[name]


def build_parser(name: str | None = None) -> argparse.ArgumentParser:
    """The argument parser: every command with its help; the options of command ``name`` only
    (so that no other command's module is imported)."""
    p = Parser(
        prog="roofline",
        description="Analytical roofline modeling of DL inference.",
        epilog="Run 'roofline COMMAND --help' for a command's options and examples.",
    )
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    p.add_argument("--version", action="version", version=f"roofline {__version__}")
    sub = p.add_subparsers(dest="command", parser_class=Parser, metavar="COMMAND")
    for cmd, entry in REGISTRY.items():
        sp = sub.add_parser(cmd, help=entry.help, description=entry.help)
        if cmd == name or name == "*":
            add_arguments, run, examples = command(cmd)
            add_arguments(sp)
            sp.epilog = epilog(examples)
            sp.set_defaults(run=run)
    return p


class Terminated(BaseException):
    """SIGTERM or SIGHUP arrived: unwinds the command like Ctrl-C, so that its temporary files
    are removed (:func:`roofline.output_files.command_outputs`)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _terminate(signum: int, _frame: object) -> None:
    raise Terminated(signum)


#: signals that end a command cleanly (SIGINT is Python's KeyboardInterrupt)
_SIGNALS = tuple(getattr(signal, n) for n in ("SIGTERM", "SIGHUP") if hasattr(signal, n))


def _show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    """A :class:`RooflineWarning` as one stderr line; any other warning as Python shows it."""
    if issubclass(category, RooflineWarning):
        print(f"roofline: warning: {message}", file=sys.stderr)
    else:
        sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))


def _run(args: Any) -> int:
    """Run the command, every roofline warning printed once as a line on stderr."""
    with warnings.catch_warnings():
        warnings.simplefilter("default", RooflineWarning)
        warnings.showwarning = _show_warning
        return int(args.run(args) or 0)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the exit status (0 ok, 2 error; interrupted: 130 for SIGINT, 143 for
    SIGTERM, 129 for SIGHUP, with no output written).

    A command's output files appear together when it succeeds, or not at all
    (:func:`roofline.output_files.command_outputs`).
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    handlers = _install(_SIGNALS)
    try:
        # the first word that is not an option names the command (the only top-level option,
        # --debug, takes no value)
        name = next((a for a in argv if not a.startswith("-")), None)
        parser = build_parser(name if name in REGISTRY else None)
        args = parser.parse_args(argv)
        if not args.command:
            parser.print_help()
            return 2
        with command_outputs() as outputs:
            status = _run(args)
            if status == 0:
                outputs.commit()
        return status
    except RooflineError as exc:
        if debug:
            raise
        print(f"roofline: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("roofline: error: interrupted (no output written)", file=sys.stderr)
        return 128 + signal.SIGINT
    except Terminated as exc:
        what = signal.Signals(exc.signum).name
        print(f"roofline: error: {what} received (no output written)", file=sys.stderr)
        return 128 + exc.signum
    except BrokenPipeError:
        return 0
    finally:
        _restore(handlers)


def _install(signums: tuple[int, ...]) -> dict[int, object]:
    """Make ``signums`` raise :class:`Terminated` (main thread only); the old handlers."""
    if threading.current_thread() is not threading.main_thread():
        return {}
    return {s: signal.signal(s, _terminate) for s in signums}


def _restore(handlers: dict[int, object]) -> None:
    for s, handler in handlers.items():
        signal.signal(s, handler)  # type: ignore[arg-type]
