"""Writing output files safely: only a new file or over a regular file, never over an input, to a
temporary name beside the target renamed onto it, and all the files of one command together or
none; and the image formats the charts are written in.

Refused targets (each one :class:`~roofline.errors.SpecError` naming the path, before anything is
written): a directory, a character or block device (``-o /dev/null`` run as root would replace
the system's ``/dev/null`` with a regular file), a FIFO (its reader would get nothing), a socket,
a symbolic link to any of those or to nothing, a link loop, and a file that is (same device and
inode, hard links included) an input the same command read (``analyze my.yaml -o my.yaml``
would replace the spec with CSV). To print, leave out ``-o``.

While a command runs (:func:`command_outputs`, opened by :func:`roofline.cli.main.main`), every
write is staged under a temporary name and renamed onto its target only when the command
succeeds, all at once: ``sweep -o t.csv --per-op p.csv --plot c.png`` leaves no ``p.csv`` when
the chart fails. Outside a command (the API: ``plot.save``, ``Model.to_yaml(path)``) each write
is its own batch. Temporary names are short (a 250-character file name still fits ``NAME_MAX``)
and removed on any failure, including SIGTERM, SIGHUP and SIGINT, which the CLI turns into
exceptions. Concurrent writers of one path leave one complete file (the rename is atomic).
"""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import NamedTuple

from roofline.errors import SpecError
from roofline.input_files import file_kind, recording_reads

#: image formats the charts are written in, by file suffix
IMAGE_FORMATS = ("png", "svg", "pdf")
#: characters of the target's name kept in its temporary name (NAME_MAX is 255 bytes)
_TMP_STEM = 40


class Staged(NamedTuple):
    """One output written under a temporary name, waiting for its rename."""

    tmp: str
    target: str
    shown: str


class OutputBatch:
    """The output files of one command: staged beside their targets, renamed together by
    :meth:`commit`, removed by :meth:`discard`.

    ``inputs`` holds (device, inode) of the files the command read: none may be a target.
    """

    def __init__(self, inputs: set[tuple[int, int]] | None = None) -> None:
        self.inputs: set[tuple[int, int]] = inputs if inputs is not None else set()
        self.staged: list[Staged] = []

    def stage(self, path: str | os.PathLike[str], writer: Callable[[str], None]) -> None:
        """Check ``path``, then call ``writer(tmp)`` on a new temporary file beside it."""
        shown = str(path)
        target = check_target(shown, self.inputs)
        if any(s.target == target for s in self.staged):
            raise SpecError(
                "is written twice by this command",
                file=shown,
                field="output",
                fix="give each output its own file",
            )
        parent = os.path.dirname(target) or "."
        try:
            fd, tmp = tempfile.mkstemp(
                prefix=f".{os.path.basename(target)[:_TMP_STEM]}.", suffix=".tmp", dir=parent
            )
        except OSError as exc:
            raise unwritable(shown, exc) from None
        try:
            os.close(fd)
            self.staged.append(Staged(tmp, target, shown))
            writer(tmp)
            os.chmod(tmp, 0o666 & ~umask())  # mkstemp makes 0600; give the file the usual mode
        except BaseException as exc:
            self.discard()
            if isinstance(exc, OSError):
                raise unwritable(shown, exc) from None
            raise

    def commit(self) -> None:
        """Rename every staged file onto its target (each target checked again first); on a
        failure the files not yet renamed are removed."""
        try:
            for s in self.staged:
                check_target(s.shown, self.inputs)
            for i, s in enumerate(self.staged):
                try:
                    os.replace(s.tmp, s.target)
                except OSError as exc:
                    self.staged = self.staged[i:]
                    raise unwritable(s.shown, exc) from None
            self.staged = []
        finally:
            self.discard()

    def discard(self) -> None:
        """Remove every staged temporary file (nothing is written)."""
        for s in self.staged:
            Path(s.tmp).unlink(missing_ok=True)
        self.staged = []


_BATCH: ContextVar[OutputBatch | None] = ContextVar("roofline_outputs", default=None)


@contextmanager
def command_outputs() -> Iterator[OutputBatch]:
    """The output batch of one command: files it reads are its inputs, files it writes are
    staged; the caller commits them (:meth:`OutputBatch.commit`) when the command succeeds, and
    whatever is left uncommitted is removed on the way out (an error, an interrupt)."""
    with recording_reads() as reads:
        batch = OutputBatch(reads)
        token = _BATCH.set(batch)
        try:
            yield batch
        finally:
            _BATCH.reset(token)
            batch.discard()


def atomic_write(path: str | os.PathLike[str], writer: Callable[[str], None]) -> None:
    """Call ``writer(tmp_path)`` on a temporary file, then rename it onto ``path``: at once, or
    with the other outputs of the running command (:func:`command_outputs`). A refused target
    (:func:`check_target`), a missing directory or an unwritable place is a
    :class:`~roofline.errors.SpecError` naming ``path``; on any failure nothing is left."""
    batch = _BATCH.get()
    if batch is not None:
        batch.stage(path, writer)
        return
    single = OutputBatch()
    single.stage(path, writer)
    single.commit()


def check_target(path: str, inputs: Collection[tuple[int, int]] = ()) -> str:
    """The file to rename onto for output ``path`` (a symlink's regular target, else the path),
    or a :class:`SpecError`: only a new file or a regular file that is not an input is written.
    """
    if not path or "\0" in path:
        raise SpecError("not a file name", file=repr(path), field="output", fix="name a file")
    try:
        st = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        st = None
        if os.path.islink(path):
            raise SpecError(
                "is a symbolic link to nothing",
                file=path,
                field="output",
                fix="remove the link or name another file",
            ) from None
    except OSError as exc:
        raise unwritable(path, exc) from None
    if st is not None:
        if stat.S_ISDIR(st.st_mode):
            raise SpecError("is a directory", file=path, field="output", fix="name a file")
        if not stat.S_ISREG(st.st_mode):
            raise SpecError(
                f"is {file_kind(st.st_mode)}: only a new or a regular file is written",
                file=path,
                field="output",
                fix="name a regular file (to print, leave out -o)",
            )
        if (st.st_dev, st.st_ino) in inputs:
            raise SpecError(
                "is an input of this command: writing would replace it",
                file=path,
                field="output",
                fix="write to another file",
            )
    target = os.path.realpath(path) if os.path.islink(path) else path
    parent = os.path.dirname(target) or "."
    if not os.path.isdir(parent):
        raise SpecError(
            f"directory {parent!r} does not exist",
            file=path,
            field="output",
            fix="create it or choose another path",
        )
    return target


def write_text(path: str | os.PathLike[str], text: str) -> None:
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


def unwritable(path: str, exc: OSError, field: str = "output") -> SpecError:
    """The one-line error for an output ``path`` the OS would not let us write (``exc``)."""
    why = {errno.ELOOP: "a symbolic link loop"}.get(exc.errno or 0, f"cannot write: {exc.strerror}")
    return SpecError(why, file=path, field=field, fix="choose a writable location")


def umask() -> int:
    """This process's file-creation mask (read by setting it and putting it back)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask
