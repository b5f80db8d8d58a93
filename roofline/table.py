"""A tidy table: rows of raw SI values with ordered columns, and its exports.

CSV, JSON and Parquet carry raw numbers (SI units, named by their column suffix: ``_s``,
``_bytes``, ``_per_s``), floats at their shortest round-trip text (``repr``: ``2039000000000.0``,
never ``2.039e+12`` rounded nor ``2039000000000.0002`` from a unit conversion, which
:mod:`roofline.units` parses exactly); ``to_markdown`` and ``to_text`` are for people and format
through :mod:`roofline.formatting` (human units, ``units`` choosing the byte prefixes).
"""

from __future__ import annotations

import csv
import html
import io
import json
import math
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Protocol, TypeVar

import numpy as np

from roofline.errors import RooflineError, SpecError
from roofline.formatting import UNITS, column_kind, format_table, format_value
from roofline.output_files import atomic_write
from roofline.suggest import unknown_column

T = TypeVar("T", bound="Table")


class SizedColumns(Protocol):
    """Read-only columns that know their row count without reading a column (columns on disk,
    :class:`roofline.disk_columns.CodedColumns`): a table keeps them as they are."""

    rows: int

    def __getitem__(self, name: str) -> Any: ...
    def __iter__(self) -> Iterator[str]: ...
    def __len__(self) -> int: ...
    def keys(self) -> Any: ...
    def values(self) -> Any: ...
    def items(self) -> Any: ...


def _plain(v: Any) -> Any:
    """Python scalar for numpy values; NaN/inf become None in JSON."""
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def _units(units: str) -> str:
    """``units`` checked against :data:`~roofline.formatting.UNITS`."""
    if units not in UNITS:
        raise SpecError(f"unknown units {units!r}", field="units", fix="use " + ", ".join(UNITS))
    return units


def _numeric(column: str, values: Any) -> np.ndarray | None:
    """``values`` as float64 (None as NaN) where the column holds a quantity by its name
    (:func:`~roofline.formatting.column_kind` other than ``plain``) and every value is None or a
    number, so that a column of no values (every point infeasible, a device without a price)
    keeps its numeric type; None where the values are typed already or are not all numbers."""
    arr = values if isinstance(values, np.ndarray) else np.asarray(values, dtype=object)
    if arr.dtype.kind != "O" or column_kind(column) == "plain":
        return None
    items = arr.tolist()
    if any(isinstance(x, bool) or not isinstance(x, (int, float, type(None))) for x in items):
        return None
    return np.array([np.nan if x is None else x for x in items], dtype=np.float64)


def _arrow_column(values: Any) -> Any:
    """A column for pyarrow: numbers as they are, anything else (text, mixed) as text or null."""
    arr = np.asarray(values) if not isinstance(values, np.ndarray) else values
    if arr.dtype.kind in "biuf":
        return arr
    items = arr.tolist()
    if all(isinstance(x, (bool, type(None))) for x in items):
        return items
    if all(isinstance(x, (int, float, type(None))) and not isinstance(x, bool) for x in items):
        return [None if x is None else float(x) for x in items]
    return [None if x is None else str(x) for x in items]


def _csv_cell(x: Any) -> str:
    """One CSV cell as the csv module writes it (quoted only when needed)."""
    if x is None:
        return ""
    if isinstance(x, float):
        return repr(x) if math.isfinite(x) else ""
    text = str(x)
    if any(c in text for c in ',"\n\r'):
        return '"' + text.replace('"', '""') + '"'
    return text


class Table:
    """Ordered columns and rows of plain values (one row per point).

    Built from rows, or from columns (:meth:`from_columns`, numpy arrays kept as they are, rows made
    only when asked for), so a million-point sweep stays a few arrays.
    """

    def __init__(
        self, columns: Sequence[str], rows: Sequence[Sequence[Any]], title: str = ""
    ) -> None:
        self.columns = tuple(columns)
        self._rows: list[tuple] | None = [tuple(_plain(v) for v in r) for r in rows]
        self._cols: Mapping[str, Any] | None = None
        self._length = len(self._rows)
        self.title = title
        for r in self._rows:
            if len(r) != len(self.columns):
                raise ValueError(f"row has {len(r)} values for {len(self.columns)} columns")

    @classmethod
    def from_columns(cls: type[T], columns: Mapping[str, Any] | SizedColumns, title: str = "") -> T:
        """Build from equal-length columns (numpy arrays or lists; copied into a new dict), or from
        :class:`SizedColumns` (kept as they are: nothing is read until asked for)."""
        t = cls((), [], title)
        t.columns = tuple(columns)
        if isinstance(columns, dict) or not hasattr(columns, "rows"):
            lengths = {len(v) for v in columns.values()}
            if len(lengths) > 1:
                raise ValueError(f"columns differ in length: {sorted(lengths)}")
            t._cols = dict(columns)
            t._length = lengths.pop() if lengths else 0
        else:
            t._cols = columns  # type: ignore[assignment]
            t._length = int(columns.rows)
        t._rows = None
        return t

    @property
    def rows(self) -> list[tuple]:
        """Rows as tuples of plain Python values (made on first use for column tables)."""
        if self._rows is None:
            cols = [
                v.tolist() if isinstance(v, np.ndarray) else list(v)
                for v in (self._cols or {}).values()
            ]
            self._rows = [tuple(_plain(x) for x in r) for r in zip(*cols)] if cols else []
        return self._rows

    @classmethod
    def from_records(cls, records: Sequence[dict[str, Any]], title: str = "") -> Table:
        """Build from dicts sharing keys (column order of the first record)."""
        if not records:
            return cls((), [], title)
        cols = list(records[0])
        return cls(cols, [[r.get(c) for c in cols] for r in records], title)

    def __len__(self) -> int:
        return self._length

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.to_records())

    def __getitem__(self, key: str | int) -> Any:
        if isinstance(key, int):
            return dict(zip(self.columns, self.rows[key]))
        if self._cols is not None:
            v = self._cols[key]
            return v.tolist() if isinstance(v, np.ndarray) else list(v)
        i = self.columns.index(key)
        return [r[i] for r in self.rows]

    def column(self, name: str) -> np.ndarray:
        """A column as a numpy array."""
        if self._cols is not None:
            return np.asarray(self._cols[name])
        return np.asarray(self[name])

    def select(self, columns: Sequence[str], field: str = "columns") -> Table:
        """A table of only ``columns`` (in that order); an unknown column is a SpecError naming
        ``field`` (with a did-you-mean and the columns there are)."""
        missing = [c for c in columns if c not in self.columns]
        if missing:
            raise unknown_column(missing[0], self.columns, field)
        if self._cols is not None:
            return Table.from_columns({c: self._cols[c] for c in columns}, title=self.title)
        idx = [self.columns.index(c) for c in columns]
        return Table(columns, [[r[i] for i in idx] for r in self.rows], title=self.title)

    def to_records(self) -> list[dict[str, Any]]:
        """Rows as a list of dicts."""
        return [dict(zip(self.columns, r)) for r in self.rows]

    def to_json(self, indent: int | None = 1) -> str:
        """JSON list of row objects, raw SI numbers (NaN and inf as null); deterministic."""
        return json.dumps(self.to_records(), indent=indent, allow_nan=False)

    def to_csv(self) -> str:
        """CSV with a header row, raw SI numbers (``repr`` precision)."""
        if self._cols is not None:
            return self._columns_csv()
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(self.columns)
        for r in self.rows:
            w.writerow(["" if v is None else repr(v) if isinstance(v, float) else v for v in r])
        return buf.getvalue()

    def _columns_csv(self) -> str:
        """Column-wise CSV rendering (fast for large sweep tables), same text as the row path."""
        out = []
        for v in (self._cols or {}).values():
            arr = np.asarray(v)
            if arr.dtype.kind == "f":
                out.append(["" if not math.isfinite(x) else repr(x) for x in arr.tolist()])
            elif arr.dtype.kind in "biu":
                out.append([str(x) for x in arr.tolist()])
            else:
                cache: dict[Any, str] = {}
                out.append(
                    [
                        cache[x] if x in cache else cache.setdefault(x, _csv_cell(x))
                        for x in arr.tolist()
                    ]
                )
        header = ",".join(_csv_cell(c) for c in self.columns)
        body = "\n".join(",".join(r) for r in zip(*out))
        return header + "\n" + (body + "\n" if body else "")

    def to_markdown(self, units: str = "kind") -> str:
        """A GitHub markdown table with human units (``units``: :data:`~roofline.formatting.UNITS`;
        one row prints vertically)."""
        return format_table(self, markdown=True, units=_units(units))

    def to_text(self, units: str = "kind") -> str:
        """An aligned plain-text table with human units (``units``:
        :data:`~roofline.formatting.UNITS`; one row prints vertically)."""
        return format_table(self, markdown=False, units=_units(units))

    def to_parquet(self, path: str) -> None:
        """Write the table to ``path`` as Parquet (raw SI numbers; needs pyarrow, imported here),
        atomically (:func:`roofline.output_files.atomic_write`)."""
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError as exc:
            raise SpecError(
                "writing Parquet needs pyarrow",
                file=path,
                field="output",
                fix="pip install pyarrow (or write .csv)",
            ) from exc
        data = {}
        for c in self.columns:
            values = self._cols[c] if self._cols is not None else self[c]
            number = _numeric(c, values)  # a quantity with no value is float64 nulls, not null
            data[c] = (
                _arrow_column(values) if number is None else pa.array(number, from_pandas=True)
            )
        arrow = pa.table(data)
        atomic_write(path, lambda tmp: pq.write_table(arrow, tmp))

    def to_pandas(self):
        """A pandas DataFrame (pandas is imported here, only when asked for). A column holding a
        quantity (:func:`~roofline.formatting.column_kind` other than ``plain``) whose values
        are None or numbers is float64, None as NaN, even when every value is None."""
        try:
            import pandas as pd
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise RooflineError("to_pandas needs pandas: pip install pandas") from exc
        if self._cols is not None:
            frame = pd.DataFrame({k: np.asarray(v) for k, v in self._cols.items()})
        else:
            frame = pd.DataFrame(self.rows, columns=list(self.columns))
        for i, c in enumerate(self.columns):
            if frame.iloc[:, i].dtype == object:
                number = _numeric(c, frame.iloc[:, i].to_numpy(dtype=object))
                if number is not None:
                    frame.isetitem(i, number)
        return frame

    def format(self, fmt: str, units: str = "kind") -> str:
        """Render as ``table``, ``markdown`` (human units in the convention ``units``), ``csv``
        or ``json`` (raw SI numbers)."""
        if fmt == "table":
            return self.to_text(units)
        if fmt == "markdown":
            return self.to_markdown(units)
        if fmt == "csv":
            return self.to_csv()
        if fmt == "json":
            return self.to_json()
        raise SpecError(
            f"unknown format {fmt!r}", field="format", fix="use table, markdown, csv or json"
        )

    def preview(self) -> tuple[Table, int]:
        """(the rows a display shows: all of a short table, the first :data:`HTML_HEAD` and the
        last :data:`HTML_TAIL` of a long one; how many rows it leaves out between them). Only
        the shown rows are read (a table on disk decodes no more)."""
        n = len(self)
        if n <= HTML_HEAD + HTML_TAIL + 1:
            return self, 0
        idx = np.r_[0:HTML_HEAD, n - HTML_TAIL : n]
        if self._cols is None:
            return Table(self.columns, [self.rows[i] for i in idx], self.title), n - idx.size
        take = getattr(self._cols, "take", None)
        cols = {
            c: take(c, idx) if take is not None else np.asarray(self._cols[c])[idx]
            for c in self.columns
        }
        return Table.from_columns(cols, title=self.title), n - idx.size

    def __repr__(self) -> str:
        return _display(self, markdown=False)

    def _repr_markdown_(self) -> str:
        return _display(self, markdown=True)

    def _repr_html_(self) -> str:
        """The table as HTML in human units, for Jupyter (a long table shows its first
        :data:`HTML_HEAD` and last :data:`HTML_TAIL` rows)."""
        return html_table(self)


#: rows a long table shows at its top and bottom when displayed (repr, a notebook)
HTML_HEAD, HTML_TAIL = 20, 5


def _display(table: Table, markdown: bool) -> str:
    """``table`` as text or markdown for a display: a long one as its :meth:`Table.preview`,
    with a line saying how many rows it leaves out (``to_text`` and ``to_markdown`` print all)."""
    shown, hidden = table.preview()
    text = shown.to_markdown() if markdown else shown.to_text()
    if not hidden:
        return text
    lines = text.split("\n")
    gap = f"... {hidden:,} more rows ..."
    if markdown:
        at, gap = 2, "| " + gap + " |" + " |" * (len(table.columns) - 1)
    else:
        at = 3 if table.title else 2
    lines.insert(at + HTML_HEAD, gap)
    return "\n".join(lines)


def html_table(table: Table) -> str:
    """An HTML ``<table>`` of ``table``: its title as the caption, cells formatted by their
    column's unit (:func:`roofline.formatting.format_value`), numbers right-aligned."""
    preview, hidden = table.preview()
    shown: list[int] = list(range(len(preview)))
    if hidden:
        shown = [*range(HTML_HEAD), -1, *range(HTML_HEAD, len(preview))]
    cols = {c: preview.column(c) for c in table.columns}
    out = ['<table class="roofline-table">']
    if table.title:
        out.append(f"<caption>{html.escape(table.title)}</caption>")
    out.append(
        "<thead><tr>" + "".join(f"<th>{html.escape(c)}</th>" for c in cols) + "</tr></thead>"
    )
    out.append("<tbody>")
    for i in shown:
        if i < 0:
            out.append(f'<tr><td colspan="{len(cols)}">... {hidden} more rows ...</td></tr>')
            continue
        cells = []
        for c, v in cols.items():
            value = _plain(v[i])
            align = ' style="text-align:right"' if isinstance(value, (int, float)) else ""
            cells.append(f"<td{align}>{html.escape(format_value(c, value))}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</tbody></table>")
    return "\n".join(out)
