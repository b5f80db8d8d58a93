"""What a refused command prints: one ``roofline: error: ...`` line on stderr, no traceback
(imported by the tests as ``from cli_errors import ...``)."""

from __future__ import annotations

import re
from typing import Any

from roofline import cli

#: how every error line of the command line begins
ERR = "roofline: error: "


def one_line(err: str) -> str:
    """The one line of ``err``, a ``roofline: error: ...`` line without a traceback."""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(ERR), err
    assert "Traceback" not in err
    return lines[0]


def fails(argv: list[Any], capsys, pattern: str, status: int = 2) -> str:
    """``roofline ARGV`` exits ``status`` with one stderr line matching ``pattern`` and prints
    nothing."""
    assert cli.main([str(a) for a in argv]) == status
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith(ERR) and "Traceback" not in captured.err
    assert re.search(pattern, lines[0]), lines[0]
    assert captured.out == ""
    return lines[0]
