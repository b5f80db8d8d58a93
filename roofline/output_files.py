"""Writing output files: to a temporary name beside the target, then renamed onto it, so that an
error or an interrupt leaves no partial file; and the image formats the charts are written in.

The command line (text, CSV, JSON, YAML) and the charts (:func:`roofline.plot.save`) both write
through :func:`atomic_write`.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from roofline.errors import SpecError

#: image formats the charts are written in, by file suffix
IMAGE_FORMATS = ("png", "svg", "pdf")


def atomic_write(path: str, writer: Callable[[str], None]) -> None:
    """Call ``writer(tmp_path)`` then rename the temporary file to ``path``; on any failure remove
    it. A missing directory, a directory in the way or an unwritable place is a
    :class:`~roofline.errors.SpecError` naming ``path``."""
    target = Path(path)
    parent = target.parent if str(target.parent) else Path(".")
    if not parent.is_dir():
        raise SpecError(
            f"directory {str(parent)!r} does not exist",
            file=path,
            field="output",
            fix="create it or choose another path",
        )
    if target.is_dir():
        raise SpecError("is a directory", file=path, field="output", fix="name a file")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=target.suffix, dir=parent)
    except OSError as exc:
        raise _unwritable(path, exc) from None
    os.close(fd)
    try:
        writer(tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the file the usual mode
        os.replace(tmp, target)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise _unwritable(path, exc) from None
        raise


def write_text(path: str, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""

    def writer(tmp: str) -> None:
        Path(tmp).write_text(text, encoding="utf-8")

    atomic_write(path, writer)


def image_format(path: str, field: str = "output") -> str:
    """The image format of ``path`` by its suffix (``png``, ``svg`` or ``pdf``); a
    :class:`~roofline.errors.SpecError` naming ``field`` for any other name."""
    _, dot, fmt = str(path).lower().rpartition(".")
    if not dot or fmt not in IMAGE_FORMATS:
        raise SpecError(
            f"cannot tell the image format of {path!r}",
            field=field,
            fix="name the file .png, .svg or .pdf",
        )
    return fmt


def _unwritable(path: str, exc: OSError) -> SpecError:
    return SpecError(
        f"cannot write: {exc.strerror}", file=path, field="output", fix="choose a writable location"
    )
