"""Columns kept on disk: a sweep table larger than the memory budget, as files the OS pages in.

A table that would take more than the memory budget (:mod:`roofline.budget`) is not refused: its
columns go to files in a private directory under ``ROOFLINE_SPILL_DIR`` (default: the temporary
directory, ``TMPDIR``), one file per column at its compact type (categorical codes, float64
numbers, booleans). :class:`ColumnFiles` fills them chunk by chunk with positional writes (nothing
is mapped while the sweep runs, so its memory is the chunks in flight), then maps them read-only
and unlinks them: the files leave the directory at once and their space returns when the table is
freed or the process ends. :class:`CodedColumns` hands the table its columns, decoding a
categorical one to its labels each time it is read.

Before anything is written the disk is checked: a table the directory has no room for is one
:class:`~roofline.errors.SpecError` naming the size, the directory and the ways out (stream to
Parquet, another ``ROOFLINE_SPILL_DIR``).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping
from types import TracebackType

import numpy as np

from roofline.errors import SpecError
from roofline.formatting import fmt_bytes

#: the environment variable naming the directory spilled tables go to
SPILL_ENV = "ROOFLINE_SPILL_DIR"


def spill_directory() -> str:
    """Where spilled tables go: ``ROOFLINE_SPILL_DIR``, else the temporary directory."""
    return os.environ.get(SPILL_ENV, "").strip() or tempfile.gettempdir()


def check_disk(nbytes: float, directory: str, what: str, fix: str) -> None:
    """Refuse (:class:`SpecError` naming ``out``) when ``directory`` has fewer than ``nbytes``
    free; ``fix`` says how to need less (the message adds how to choose another directory)."""
    try:
        free = shutil.disk_usage(directory).free
    except OSError as exc:
        raise SpecError(
            f"cannot use {directory!r} for a table on disk: {exc.strerror}",
            field=SPILL_ENV,
            fix="set ROOFLINE_SPILL_DIR to a writable directory",
        ) from None
    if nbytes <= free:
        return
    raise SpecError(
        f"{what} would take {fmt_bytes(nbytes)} on disk in {directory}, which has "
        f"{fmt_bytes(free)} free",
        field="out",
        fix=f"{fix}; or set {SPILL_ENV} to a disk with room",
    )


def _cannot_write(path: str, exc: OSError) -> SpecError:
    return SpecError(
        f"cannot write a table on disk: {exc.strerror}",
        file=path,
        field="out",
        fix=f"set {SPILL_ENV} to a writable disk with room, or stream with out='sweep.parquet'",
    )


class ColumnFiles:
    """Columns of ``rows`` values each, one file per column in a new private directory under
    ``directory``, filled by :meth:`write` in any order and opened by :meth:`mapped`. Used as a
    context manager, it removes its files when the block fails or is interrupted."""

    def __init__(self, dtypes: Mapping[str, np.dtype], rows: int, directory: str) -> None:
        self.rows = rows
        self.dtypes = {name: np.dtype(t) for name, t in dtypes.items()}
        self._fds: dict[str, int] = {}
        try:
            self.root = tempfile.mkdtemp(prefix="roofline-table-", dir=directory)
        except OSError as exc:
            raise _cannot_write(directory, exc) from None
        try:
            for i, (name, dtype) in enumerate(self.dtypes.items()):
                fd = os.open(self._path(i), os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
                self._fds[name] = fd
                os.ftruncate(fd, rows * dtype.itemsize)
        except OSError as exc:
            self.discard()
            raise _cannot_write(self.root, exc) from None

    def _path(self, i: int) -> str:
        return os.path.join(self.root, f"column-{i:04d}.bin")

    def write(self, row: int, columns: Mapping[str, np.ndarray]) -> None:
        """Write ``columns`` (equal lengths) at rows ``row``, ``row + 1``, ..."""
        for name, values in columns.items():
            dtype = self.dtypes[name]
            data = np.ascontiguousarray(values, dtype=dtype).view(np.uint8).data
            offset = row * dtype.itemsize
            try:
                while data:
                    done = os.pwrite(self._fds[name], data, offset)
                    data, offset = data[done:], offset + done
            except OSError as exc:
                raise _cannot_write(self.root, exc) from None

    def mapped(self) -> dict[str, np.ndarray]:
        """The columns, memory-mapped read-only; the files are unlinked (their space returns when
        the arrays are freed)."""
        try:
            columns: dict[str, np.ndarray] = {
                name: np.memmap(self._path(i), dtype=dtype, mode="r", shape=(self.rows,))
                for i, (name, dtype) in enumerate(self.dtypes.items())
            }
        finally:
            self.discard()
        return columns

    def discard(self) -> None:
        """Close and remove the files (a mapped column stays readable)."""
        for fd in self._fds.values():
            os.close(fd)
        self._fds.clear()
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> ColumnFiles:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if kind is not None:
            self.discard()


class CodedColumns(Mapping[str, np.ndarray]):
    """Read-only columns of ``rows`` values whose categorical ones stay integer codes:
    ``decode(name, codes)`` turns one into its labels each time it is read (so a table on disk
    never holds them all decoded). A :class:`roofline.table.SizedColumns`."""

    def __init__(
        self,
        columns: Mapping[str, np.ndarray],
        rows: int,
        decode: Callable[[str, np.ndarray], np.ndarray],
    ) -> None:
        self._columns = dict(columns)
        self.rows = rows
        self._decode = decode

    def __getitem__(self, name: str) -> np.ndarray:
        return self._decode(name, self._columns[name])

    def take(self, name: str, rows: np.ndarray) -> np.ndarray:
        """Column ``name`` at ``rows`` only (read and decoded: a preview of a long table)."""
        return self._decode(name, self._columns[name][rows])

    def __iter__(self) -> Iterator[str]:
        return iter(self._columns)

    def __len__(self) -> int:
        return len(self._columns)

    def nbytes(self) -> int:
        """Bytes of the stored columns (codes, not labels)."""
        return sum(v.nbytes for v in self._columns.values())
