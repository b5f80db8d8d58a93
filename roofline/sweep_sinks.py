"""Where a sweep's chunks go: a table in memory (:class:`MemorySink`), a partitioned Parquet
dataset (:class:`ParquetSink`), CSV or JSON text (:class:`TextSink`) or a function
(:class:`CallbackSink`), and :func:`read_sweep`, which reads a dataset back.

A sink runs the sweep it receives: ``sink.run(schema, rows, drive)`` prepares, calls
``drive(write)`` (the sweep calls ``write(task, columns)`` for every chunk, in table order) and
finishes, or removes what it began when anything fails or is interrupted. Only the memory sink
holds more than one chunk.

A Parquet dataset is a directory: ``part-000000.parquet``, ``part-000001.parquet``... in table
order (one per chunk), and ``_roofline_sweep.json`` (columns, categories, knobs, rows). It is
written into a hidden temporary directory beside the target and renamed into place at the end, so
a failed or interrupted sweep leaves nothing behind and readers never see half a dataset. Columns
are compact: ``model``, ``dtype`` and ``bound`` are dictionary-encoded (pandas reads them as
categoricals), knobs and numbers float64, ``feasible`` and ``power_capped`` booleans. pandas
(``pd.read_parquet(path)``), Dask (``dd.read_parquet(path)``) and DuckDB
(``SELECT * FROM read_parquet('path/*.parquet')``) read it as it is.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol

import numpy as np

from roofline.budget import STREAM_FIX, check_budget, memory_budget
from roofline.disk_columns import CodedColumns, ColumnFiles, check_disk, spill_directory
from roofline.errors import SpecError
from roofline.formatting import fmt_bytes
from roofline.output_files import atomic_write, umask, unwritable
from roofline.suggest import unknown_column
from roofline.sweep_plan import SweepSchema, Task
from roofline.table import Table

#: the dataset's description, beside its parts (a leading underscore: readers skip it)
META_FILE = "_roofline_sweep.json"
#: what ``META_FILE`` says it is
META_KIND = "roofline sweep"
#: Parquet compression of each part
COMPRESSION = "snappy"

#: one chunk's compact columns
Columns = dict[str, np.ndarray]
#: ``write(task, chunks)``: one task's chunks (or, from a worker that wrote its part, its row
#: count), in table order
Write = Callable[[Task, Iterable[Columns]], None]
#: ``drive(write)``: runs the sweep, calling ``write`` for every chunk
Drive = Callable[[Write], None]


class SweepTable(Table):
    """A sweep's tidy table, with the knob paths it varied and, on request, per-op detail."""

    knobs: tuple[str, ...] = ()
    per_op: Table | None = None


@dataclass(frozen=True)
class SweepOutput:
    """What a streamed sweep wrote: where (``path``; None for a callback or a stream), how many
    rows and chunks, its columns, per-op detail when asked for, and a dataset's part files."""

    path: str | None
    rows: int
    chunks: int
    columns: tuple[str, ...]
    per_op: Table | None = None
    parts: int = 0


@dataclass(frozen=True, eq=False)
class SweepChunk:
    """One chunk handed to a callback: compact ``columns`` (categorical codes), the ``schema``
    that decodes them, its ``index`` in table order and its first ``row``."""

    index: int
    row: int
    columns: dict[str, np.ndarray]
    schema: SweepSchema

    def __len__(self) -> int:
        return len(next(iter(self.columns.values()))) if self.columns else 0

    def to_table(self) -> SweepTable:
        """The chunk as a table (categories decoded to strings)."""
        return _sweep_table(self.schema.decode(self.columns), self.schema)


class Sink(Protocol):
    """Receives a sweep's chunks (module docstring)."""

    def run(self, schema: SweepSchema, rows: int, drive: Drive) -> Any: ...


class MemorySink:
    """Keeps the whole table: in memory when it fits the memory budget (columns preallocated at
    their final size, filled chunk by chunk, categories decoded at the end), else on disk
    (:mod:`roofline.disk_columns`: compact columns in files the OS pages in, categories decoded
    when a column is read), so a sweep's memory is bounded whatever its size."""

    def __init__(self, budget: float | str | None = None) -> None:
        self.budget = budget

    def run(self, schema: SweepSchema, rows: int, drive: Drive) -> SweepTable:
        # codes are decoded into object arrays (8 B a cell) once the table is complete
        in_memory = float(rows) * (schema.row_bytes() + 8 * len(schema.categories))
        if in_memory > memory_budget(self.budget):
            return self._on_disk(schema, rows, drive)
        cols = {c: np.empty(rows, dtype=schema.dtype(c)) for c in schema.columns}

        def write(task: Task, chunks: Iterable[Columns]) -> None:
            row = task.row
            for chunk in chunks:
                n = len(chunk[schema.columns[0]])
                for c, v in chunk.items():
                    cols[c][row : row + n] = v
                row += n

        drive(write)
        return _sweep_table(schema.decode(cols), schema)

    def _on_disk(self, schema: SweepSchema, rows: int, drive: Drive) -> SweepTable:
        what = f"a sweep table of {rows:,} rows (over the memory budget of "
        what += f"{fmt_bytes(memory_budget(self.budget))})"
        loose = [c for c in schema.columns if schema.dtype(c).hasobject]
        if loose:  # a file holds fixed-width values only
            raise SpecError(
                f"{what} cannot go to disk: column {loose[0]!r} holds Python objects",
                field="out",
                fix=STREAM_FIX,
            )
        directory = spill_directory()
        check_disk(float(rows) * schema.row_bytes(), directory, what, STREAM_FIX)
        with ColumnFiles({c: schema.dtype(c) for c in schema.columns}, rows, directory) as files:

            def write(task: Task, chunks: Iterable[Columns]) -> None:
                row = task.row
                for chunk in chunks:
                    files.write(row, chunk)
                    row += len(chunk[schema.columns[0]])

            drive(write)
            columns = files.mapped()
        return _sweep_table(CodedColumns(columns, rows, schema.decode_column), schema)


def _sweep_table(columns: Any, schema: SweepSchema) -> SweepTable:
    table = SweepTable.from_columns(columns, title=schema.title)
    table.knobs = schema.knobs
    return table


class CallbackSink:
    """Calls ``fn(chunk)`` with each :class:`SweepChunk`, in table order."""

    def __init__(self, fn: Callable[[SweepChunk], Any]) -> None:
        self.fn = fn

    def run(self, schema: SweepSchema, rows: int, drive: Drive) -> SweepOutput:
        count = [0, 0]

        def write(task: Task, chunks: Iterable[Columns]) -> None:
            for chunk in chunks:
                self.fn(SweepChunk(count[1], count[0], chunk, schema))
                count[0] += len(chunk[schema.columns[0]])
                count[1] += 1

        drive(write)
        return SweepOutput(None, count[0], count[1], schema.columns)


class TextSink:
    """CSV or JSON text, chunk by chunk, exactly as :meth:`Table.to_csv` / :meth:`Table.to_json`
    would print the whole table: to a file (written atomically) or to a stream (stdout)."""

    def __init__(self, fmt: str, path: str | os.PathLike | None = None, stream: IO | None = None):
        if fmt not in ("csv", "json"):
            raise SpecError(
                f"cannot stream format {fmt!r}",
                field="format",
                fix="use csv or json, or write Parquet (-o sweep.parquet)",
            )
        self.fmt, self.path, self.stream = fmt, path, stream

    def run(self, schema: SweepSchema, rows: int, drive: Drive) -> SweepOutput:
        count = [0, 0]

        def into(f: IO) -> None:
            def write(task: Task, chunks: Iterable[Columns]) -> None:
                for chunk in chunks:
                    table = Table.from_columns(schema.decode(chunk))
                    first = count[1] == 0
                    if self.fmt == "csv":
                        text = table.to_csv()
                        f.write(text if first else text.split("\n", 1)[1])
                    else:
                        body = table.to_json()[2:-2]  # the rows between "[\n" and "\n]"
                        f.write(("[\n" if first else ",\n") + body)
                    count[0] += len(table)
                    count[1] += 1

            drive(write)
            if count[1] == 0:
                f.write(Table(schema.columns, []).format(self.fmt))
            elif self.fmt == "json":
                f.write("\n]")
            if self.fmt == "json":
                f.write("\n")

        if self.path is None:
            into(self.stream or sys.stdout)
        else:

            def writer(tmp: str) -> None:
                with open(tmp, "w", encoding="utf-8", newline="") as f:
                    into(f)

            atomic_write(os.fspath(self.path), writer)
        where = None if self.path is None else os.fspath(self.path)
        return SweepOutput(where, count[0], count[1], schema.columns)


@dataclass(frozen=True, eq=False)
class PartitionWriter:
    """Writes one chunk as ``part-NNNNNN.parquet`` in ``directory`` (picklable: Dask workers
    write their own chunks). Each part is written under a temporary name and renamed, so a retried
    chunk (a lost worker) replaces it whole."""

    directory: str
    schema: SweepSchema

    def __call__(self, task: Task, chunks: Iterable[Columns]) -> int:
        import pyarrow.parquet as pq

        name = part_name(task.index)
        tmp = os.path.join(self.directory, f".{name}.{os.getpid()}.tmp")
        rows = 0
        writer = None
        try:
            for chunk in chunks:
                table = self.arrow(chunk)
                if writer is None:
                    writer = pq.ParquetWriter(
                        tmp,
                        table.schema,
                        compression=COMPRESSION,
                        use_dictionary=[*self.schema.knobs, *self.schema.categories],
                    )
                writer.write_table(table)  # a row group per chunk
                rows += table.num_rows
        finally:
            if writer is not None:
                writer.close()
        if writer is not None:
            os.replace(tmp, os.path.join(self.directory, name))
        return rows

    def arrow(self, chunk: Columns) -> Any:
        """One chunk as a pyarrow Table: categorical codes dictionary-encoded with every label
        (the same dictionary in every part)."""
        import pyarrow as pa

        arrays = []
        for c in self.schema.columns:
            if c in self.schema.categories:
                labels = pa.array(self.schema.categories[c], type=pa.string())
                arrays.append(pa.DictionaryArray.from_arrays(pa.array(chunk[c]), labels))
            else:
                arrays.append(pa.array(chunk[c]))
        return pa.Table.from_arrays(arrays, names=list(self.schema.columns))


def need_pyarrow(field: str) -> None:
    """Import pyarrow's Parquet writer and write one row to memory now (its first write sets up
    what the next ones reuse: a few hundred ms), or say how to install it."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise SpecError(
            "Parquet needs pyarrow", field=field, fix="pip install 'roofline[parquet]'"
        ) from None
    pq.write_table(pa.table({"x": [0.0]}), pa.BufferOutputStream(), compression=COMPRESSION)


def part_name(index: int) -> str:
    """File name of chunk ``index``: zero-padded, so names sort in table order."""
    return f"part-{index:06d}.parquet"


class ParquetSink:
    """A partitioned Parquet dataset at ``path`` (module docstring). ``remote`` tells the sweep
    that workers may write their parts themselves (they must see ``path``: a shared filesystem)."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = os.fspath(path)
        self.remote: PartitionWriter | None = None

    def run(self, schema: SweepSchema, rows: int, drive: Drive) -> SweepOutput:
        target = Path(self.path)
        _check_dataset_target(target)
        need_pyarrow("out")
        try:
            tmp = tempfile.mkdtemp(prefix=f".{target.name[:200]}.", dir=target.parent)
        except OSError as exc:
            raise unwritable(self.path, exc, field="out") from None
        try:
            writer = PartitionWriter(os.path.abspath(tmp), schema)
            self.remote = writer
            written: dict[int, int] = {}
            n_chunks = [0]

            def write(task: Task, chunks: Iterable[Columns] | int) -> None:
                # an int: the worker wrote the part itself and says how many rows
                written[task.index] = chunks if isinstance(chunks, int) else writer(task, chunks)
                n_chunks[0] += len(range(task.start, task.stop, task.chunk))

            drive(write)
            for name in os.listdir(tmp):  # a part a lost worker began, written again elsewhere
                if name.startswith(".part-") and name.endswith(".tmp"):
                    os.unlink(os.path.join(tmp, name))
            missing = [i for i in written if not os.path.exists(os.path.join(tmp, part_name(i)))]
            if missing:
                raise SpecError(
                    f"{len(missing)} parts written by workers are missing from {tmp}",
                    file=self.path,
                    field="out",
                    fix="write to a filesystem every worker and this machine share",
                )
            meta = {
                "kind": META_KIND,
                "columns": list(schema.columns),
                "categories": {k: list(v) for k, v in schema.categories.items()},
                "knobs": list(schema.knobs),
                "title": schema.title,
                "rows": int(sum(written.values())),
                "parts": [part_name(i) for i in sorted(written)],
            }
            with open(os.path.join(tmp, META_FILE), "w", encoding="utf-8") as f:
                json.dump(meta, f, indent=1)
            os.chmod(tmp, 0o777 & ~umask())
            _swap_in(Path(tmp), target)
        except BaseException as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            if isinstance(exc, OSError):
                raise unwritable(self.path, exc, field="out") from None
            raise
        finally:
            self.remote = None
        rows_written = int(sum(written.values()))
        return SweepOutput(self.path, rows_written, n_chunks[0], schema.columns, parts=len(written))


def is_dataset(path: Path) -> bool:
    """Whether ``path`` is a sweep dataset this module wrote (a directory with its META_FILE)."""
    meta = path / META_FILE
    if path.is_symlink() or not path.is_dir() or not meta.is_file():
        return False
    try:
        return json.loads(meta.read_text(encoding="utf-8")).get("kind") == META_KIND
    except (OSError, ValueError, AttributeError):
        return False


def _check_dataset_target(target: Path) -> None:
    """A dataset may be written where nothing is, or over an earlier sweep dataset: never over a
    file, a link or another directory."""
    parent = target.parent if str(target.parent) else Path(".")
    if not parent.is_dir():
        raise SpecError(
            f"directory {str(parent)!r} does not exist",
            file=str(target),
            field="out",
            fix="create it or choose another path",
        )
    if (target.exists() or target.is_symlink()) and not is_dataset(target):
        raise SpecError(
            "exists and is not a sweep dataset",
            file=str(target),
            field="out",
            fix="remove it or choose another path (a dataset is a directory of parts)",
        )


def _swap_in(tmp: Path, target: Path) -> None:
    """Rename the finished ``tmp`` to ``target``; an earlier dataset there is renamed aside first
    and removed after."""
    old = None
    if target.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{target.name[:200]}.old.", dir=tmp.parent))
        os.replace(target, old / "dataset")
    try:
        os.replace(tmp, target)
    except BaseException:
        if old is not None:
            os.replace(old / "dataset", target)
            shutil.rmtree(old, ignore_errors=True)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def sink_for(out: Any, fmt: str | None = None, budget: float | str | None = None) -> Sink:
    """The sink of ``out``: None keeps the table in memory; a sink is itself; a callable is called
    with each chunk; a path ending ``.parquet`` (or an existing dataset, or ``fmt="parquet"``) is
    a Parquet dataset; ``.csv`` / ``.json`` (or ``fmt``) a text file."""
    if out is None:
        return MemorySink(budget)
    if callable(getattr(out, "run", None)) and not callable(out):
        return out  # a sink already
    if callable(out):
        return CallbackSink(out)
    if not isinstance(out, (str, os.PathLike)):
        raise SpecError(
            f"out={out!r} is neither a path nor a function",
            field="out",
            fix="give 'sweep.parquet', 'sweep.csv' or a function taking each chunk",
        )
    path = os.fspath(out)
    suffix = Path(path).suffix.lower()
    if suffix == ".parquet" or is_dataset(Path(path)) or fmt == "parquet":
        return ParquetSink(path)
    if suffix in (".csv", ".json") or fmt in ("csv", "json"):
        return TextSink(fmt if fmt in ("csv", "json") else suffix[1:], path)
    raise SpecError(
        f"cannot tell the format of {path!r}",
        field="out",
        fix="name it .parquet (a dataset), .csv or .json",
    )


def _decode(col: Any, labels: list[str], root: Path, name: str) -> np.ndarray:
    """A categorical column read back (chunks of Arrow dictionary arrays) as its labels: the
    codes of every chunk mapped to the dataset's categories, then decoded through the labels."""
    import pyarrow as pa

    index = {label: i for i, label in enumerate(labels)}
    codes = np.empty(len(col), dtype=np.int32)
    row = 0
    for chunk in col.chunks:
        if not pa.types.is_dictionary(chunk.type):
            chunk = chunk.dictionary_encode()
        lookup = np.array([index.get(x, -1) for x in chunk.dictionary.to_pylist()], np.int64)
        if chunk.null_count or (lookup.size and lookup.min() < 0):
            raise SpecError(
                f"column {name!r} holds a value not among its categories",
                file=str(root),
                field="path",
                fix="write the dataset again with rl.sweep(..., out=...)",
            )
        codes[row : row + len(chunk)] = lookup[chunk.indices.to_numpy(zero_copy_only=False)]
        row += len(chunk)
    return np.asarray(labels, dtype=object)[codes]


def read_sweep(
    path: str | os.PathLike,
    columns: list[str] | str | None = None,
    memory_budget: float | str | None = None,
) -> SweepTable:
    """Read a sweep dataset written with ``out="...parquet"`` back as a :class:`SweepTable` (the
    table ``rl.sweep`` returns without ``out``, categories as strings).

    Columns are read one at a time; a categorical one's codes are decoded through its labels
    (each cell refers to its label's one string), as :meth:`SweepSchema.decode` decodes a chunk.

    Parameters
    ----------
    path : the dataset directory
    columns : only these columns (default: all); a string is one column
    memory_budget : bytes or a size (``"16 GiB"``); default :mod:`roofline.budget`'s
    """
    need_pyarrow("path")
    import pyarrow.parquet as pq

    root = Path(path)
    if not is_dataset(root):
        raise SpecError(
            "is not a sweep dataset",
            file=str(root),
            field="path",
            fix="give the directory rl.sweep(..., out='x.parquet') wrote",
        )
    meta = json.loads((root / META_FILE).read_text(encoding="utf-8"))
    names = (
        list(meta["columns"])
        if columns is None
        else [columns]
        if isinstance(columns, str)
        else list(columns)
    )
    unknown = [c for c in names if c not in meta["columns"]]
    if unknown:
        raise unknown_column(unknown[0], meta["columns"], "columns").with_context(file=str(root))
    check_budget(
        float(meta["rows"]) * 8 * max(len(names), 1),
        f"reading {meta['rows']:,} rows",
        field="path",
        fix="read fewer columns, or read it with pandas, DuckDB or Dask in pieces",
        budget=memory_budget,
    )
    parts = [str(root / p) for p in meta["parts"]]
    cols: dict[str, Any] = {}
    if parts:
        dataset = pq.ParquetDataset(parts)
        for c in names:  # one column's Arrow data at a time
            col = dataset.read(columns=[c]).column(c)
            labels = meta["categories"].get(c)
            cols[c] = col.to_numpy() if labels is None else _decode(col, labels, root, c)
            del col
    else:
        cols = {c: np.array([]) for c in names}
    table = SweepTable.from_columns(cols, title=meta.get("title", ""))
    table.knobs = tuple(k for k in meta["knobs"] if k in names)
    return table
