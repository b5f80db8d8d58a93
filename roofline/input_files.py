"""Reading input files: regular files only, never more than a hard byte cap, every failure one
line naming the file.

``stat`` says 0 bytes for a device or a pipe, so a size check before reading protects nothing:
:func:`read_bounded` opens without blocking (a FIFO with no writer does not hang), refuses what
``fstat`` says is not a regular file (``/dev/zero``, ``/dev/urandom``, a FIFO, a socket, a
directory), then reads at most ``limit + 1`` bytes (a ``/proc`` file reports 0 bytes too, and is
read within the cap). A symlink loop, a missing or unreadable file is a
:class:`~roofline.errors.SpecError` with its fix.

While a command runs (:func:`recording_reads`), every file read here is noted by device and
inode, so that :mod:`roofline.output_files` refuses to write over an input of the same command.

:class:`FileCache` keeps what was built from a file (a validated spec) for as long as the file is
unchanged: a repeated load costs one ``stat`` and a dict lookup.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import stat
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from roofline.errors import SpecError

#: the byte cap of a spec file (YAML) or a JSON document read by a command
MAX_SPEC_BYTES = 16 * 2**20

#: (device, inode) of every file read while a command runs; None outside a command
_READS: ContextVar[set[tuple[int, int]] | None] = ContextVar("roofline_reads", default=None)


@contextmanager
def recording_reads() -> Iterator[set[tuple[int, int]]]:
    """Note (device, inode) of every file :func:`read_bounded` reads inside the block; yields
    the set, filled as files are read."""
    reads: set[tuple[int, int]] = set()
    token = _READS.set(reads)
    try:
        yield reads
    finally:
        _READS.reset(token)


def note_input(path: str | os.PathLike[str]) -> None:
    """Note ``path`` as an input of the running command (for a file read by another library,
    such as an ONNX model); nothing outside :func:`recording_reads` or for a missing path."""
    if _READS.get() is None:
        return
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return
    _note(st)


def _note(st: os.stat_result) -> None:
    """Note the file of ``st`` as an input of the running command (nothing outside one)."""
    reads = _READS.get()
    if reads is not None:
        reads.add((st.st_dev, st.st_ino))


def file_kind(mode: int) -> str:
    """What a ``st_mode`` is, in words (``a FIFO``, ``a character device``...)."""
    for test, words in (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISLNK, "a symbolic link"),
    ):
        if test(mode):
            return words
    return "not a regular file"


def open_error(exc: OSError | ValueError, name: str, field: str | None = None) -> SpecError:
    """The one-line error for a path that cannot be opened (missing, loop, permission...)."""
    if isinstance(exc, ValueError):  # a NUL byte in the name
        return SpecError("the path contains a NUL byte", file=name, field=field, fix="fix the path")
    code = exc.errno
    problem, fix = {
        errno.ENOENT: ("file does not exist", "check the path or use a preset name"),
        errno.ELOOP: ("a symbolic link loop", "point the link at a real file"),
        errno.EACCES: ("permission denied", "check the file's permissions"),
        errno.EPERM: ("permission denied", "check the file's permissions"),
        errno.ENAMETOOLONG: ("the path is too long", "use a shorter path"),
        errno.ENOTDIR: ("a part of the path is not a directory", "check the path"),
        errno.EISDIR: ("is a directory, not a spec file", "name a file"),
    }.get(code or 0, (f"cannot read: {exc.strerror}", "check the path and its permissions"))
    return SpecError(problem, file=name, field=field, fix=fix)


def read_bounded(
    path: str | os.PathLike[str],
    limit: int = MAX_SPEC_BYTES,
    *,
    field: str | None = None,
    what: str = "a spec file",
) -> bytes:
    """The bytes of the regular file ``path``, at most ``limit`` of them.

    Raises
    ------
    SpecError
        The path is missing, a loop, unreadable, not a regular file (a device, FIFO, socket or
        directory), or holds more than ``limit`` bytes (nothing beyond ``limit + 1`` is read).
    """
    name = str(path)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(path, flags | getattr(os, "O_CLOEXEC", 0))
    except (OSError, ValueError) as exc:
        kind = _kind_of(path)
        if kind is not None:  # a socket cannot even be opened (ENXIO): say what it is
            raise _not_regular(kind, name, field, what) from None
        raise open_error(exc, name, field) from None
    try:
        st = os.fstat(fd)
        _check_regular(st, name, field, what)
        _note(st)
        got = st.st_size  # a regular file's size is true (a /proc file's 0 is read below)
        chunks: list[bytes] = []
        if got <= limit:
            got = 0
            while got <= limit:
                chunk = os.read(fd, min(limit + 1 - got, 1 << 20))
                if not chunk:
                    break
                chunks.append(chunk)
                got += len(chunk)
    except OSError as exc:
        raise open_error(exc, name, field) from None
    finally:
        os.close(fd)
    if got > limit:
        raise SpecError(
            f"file is over the {limit}-byte limit",
            file=name,
            field=field,
            fix="specs are small; is this the right file? (roofline.input_files.MAX_SPEC_BYTES)",
        )
    return b"".join(chunks)


def require_file(
    path: str | os.PathLike[str], *, field: str | None = None, what: str = "a spec file"
) -> None:
    """A SpecError unless ``path`` is an existing regular file, saying what it is instead:
    missing, a directory, a device, a FIFO... (the same words :func:`read_bounded` uses), for a
    command that hands the path to another reader."""
    name = str(path)
    try:
        st = os.stat(path)
    except (OSError, ValueError) as exc:
        raise open_error(exc, name, field) from None
    _check_regular(st, name, field, what)


def _check_regular(st: os.stat_result, name: str, field: str | None, what: str) -> None:
    """Refuse a path whose ``stat`` is not a regular file: a directory, or a device, FIFO,
    socket... by its kind (:func:`read_bounded` also refuses, with :func:`_not_regular`, a path
    it cannot open that :func:`_kind_of` finds is not a regular file, such as a socket)."""
    if stat.S_ISDIR(st.st_mode):
        fix = "name a .yaml file" if what == "a spec file" else f"give {what}"
        raise SpecError(f"is a directory, not {what}", file=name, field=field, fix=fix)
    if not stat.S_ISREG(st.st_mode):
        raise _not_regular(file_kind(st.st_mode), name, field, what)


def _kind_of(path: str | os.PathLike[str]) -> str | None:
    """What ``path`` is when it exists and is neither a regular file nor a directory."""
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError):
        return None
    return None if stat.S_ISREG(mode) or stat.S_ISDIR(mode) else file_kind(mode)


def _not_regular(kind: str, name: str, field: str | None, what: str) -> SpecError:
    return SpecError(
        f"is {kind}, not a regular file",
        file=name,
        field=field,
        fix=f"give {what} (devices, pipes and sockets are never read)",
    )


def decode_text(raw: bytes, name: str, field: str | None = None) -> str:
    """``raw`` as UTF-8 text (a leading byte-order mark dropped); one line naming the byte
    otherwise (UTF-16, Latin-1, binary)."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        start = exc.start + (3 if raw.startswith(b"\xef\xbb\xbf") else 0)
        raise SpecError(
            f"not UTF-8 text (byte {start})", file=name, field=field, fix="save the file as UTF-8"
        ) from None


def read_json(
    path: str | os.PathLike[str],
    limit: int = MAX_SPEC_BYTES,
    *,
    field: str | None = None,
    what: str = "a JSON file",
) -> Any:
    """The JSON document in ``path``, read with :func:`read_bounded`.

    NaN and Infinity (which Python's ``json`` accepts) are refused, and so is nesting past the
    interpreter's recursion limit; every problem is one :class:`SpecError` naming the file.
    """
    name = str(path)
    text = decode_text(read_bounded(path, limit, field=field, what=what), name, field)

    def constant(word: str) -> Any:
        raise SpecError(
            f"{word} is not a JSON number", file=name, field=field, fix="write a finite number"
        )

    try:
        return json.loads(text, parse_constant=constant)
    except SpecError:
        raise
    except json.JSONDecodeError as exc:
        raise SpecError(
            f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}",
            file=name,
            field=field,
            fix=f"give {what}",
        ) from None
    except RecursionError:
        raise SpecError(
            "the JSON nests too deeply", file=name, field=field, fix=f"give {what}"
        ) from None
    except ValueError as exc:  # an integer of more than 4300 digits
        raise SpecError(
            f"invalid JSON: {exc}".split(";")[0], file=name, field=field, fix=f"give {what}"
        ) from None


def content_key(raw: bytes) -> str:
    """A digest of a file's bytes: what the caches of loaded specs and parses are keyed by."""
    return hashlib.blake2b(raw, digest_size=16).hexdigest()


#: seconds a file must have stood unchanged before it was read for its ``stat`` to vouch for its
#: bytes: a rewrite within one tick of the file system's clock (or with its mtime set back) keeps
#: size and times, so a file younger than this is re-read and compared by content (git's "racy
#: clean" rule; 2 s covers the coarsest timestamps and some clock skew on a network share)
SETTLED_S = 2.0

T = TypeVar("T")


def stat_stamp(path: str | os.PathLike[str]) -> tuple[int, ...] | None:
    """(device, inode, mode, size, mtime ns, ctime ns) of the regular file ``path``, noted as an
    input of the running command; None when it cannot be looked up or is not a regular file (the
    caller then reads it, which says why in one line)."""
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    if not stat.S_ISREG(st.st_mode):
        return None
    _note(st)
    return (st.st_dev, st.st_ino, st.st_mode, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


@dataclass(frozen=True)
class _Entry(Generic[T]):
    stamp: tuple[int, ...] | None
    digest: str
    settled: bool
    value: T


class FileCache(Generic[T]):
    """What was built from each file's bytes, by (path, label), the most recent last.

    A hit needs the file's :func:`stat_stamp` unchanged since it was read and the file then older
    than :data:`SETTLED_S`; otherwise the file is read again and its value rebuilt unless its
    bytes are the same (by digest). Values must be immutable: every caller shares them.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: OrderedDict[tuple[str, str], _Entry[T]] = OrderedDict()
        self._lock = threading.Lock()  # sweeps may load from several threads

    def load(
        self,
        path: str | os.PathLike[str],
        label: str,
        read: Callable[[str | os.PathLike[str]], bytes],
        build: Callable[[bytes], T],
    ) -> T:
        """The value built from ``path``'s bytes (``read`` reads them, ``build`` makes the value
        and raises on bad input, which is never cached); ``label`` is part of the key (the name
        errors give the file)."""
        key = (str(path), label)
        stamp = stat_stamp(path)
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry.settled and stamp is not None and entry.stamp == stamp:
                self._entries.move_to_end(key)
                return entry.value
        now_ns = time.time_ns()
        raw = read(path)
        digest = content_key(raw)
        value = entry.value if entry is not None and entry.digest == digest else build(raw)
        settled = stamp is not None and max(stamp[4], stamp[5]) < now_ns - SETTLED_S * 1e9
        with self._lock:
            self._entries[key] = _Entry(stamp, digest, settled, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
        return value

    def __len__(self) -> int:
        return len(self._entries)

    def drop(self, path: str | os.PathLike[str], label: str) -> None:
        """Forget the value of ``path`` (it depends on something that changed)."""
        with self._lock:
            self._entries.pop((str(path), label), None)

    def clear(self) -> None:
        """Forget every value."""
        with self._lock:
            self._entries.clear()
