"""A tidy table: rows of raw SI values with ordered columns, and its exports.

CSV and JSON carry raw numbers (SI units, named by their column suffix: ``_s``, ``_bytes``,
``_per_s``); ``to_markdown`` and ``to_text`` are for people and format through
:mod:`roofline.report`.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np


def _plain(v: Any) -> Any:
    """Python scalar for numpy values; NaN/inf become None in JSON."""
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


class Table:
    """Ordered columns and rows of plain values (one row per point)."""

    def __init__(self, columns: Sequence[str], rows: Sequence[Sequence[Any]], title: str = "") -> None:
        self.columns = tuple(columns)
        self.rows = [tuple(_plain(v) for v in r) for r in rows]
        self.title = title
        for r in self.rows:
            if len(r) != len(self.columns):
                raise ValueError(f"row has {len(r)} values for {len(self.columns)} columns")

    @classmethod
    def from_records(cls, records: Sequence[dict[str, Any]], title: str = "") -> Table:
        """Build from dicts sharing keys (column order of the first record)."""
        if not records:
            return cls((), [], title)
        cols = list(records[0])
        return cls(cols, [[r.get(c) for c in cols] for r in records], title)

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.to_records())

    def __getitem__(self, key: str | int) -> Any:
        if isinstance(key, int):
            return dict(zip(self.columns, self.rows[key]))
        i = self.columns.index(key)
        return [r[i] for r in self.rows]

    def column(self, name: str) -> np.ndarray:
        """A column as a numpy array."""
        return np.asarray(self[name])

    def to_records(self) -> list[dict[str, Any]]:
        """Rows as a list of dicts."""
        return [dict(zip(self.columns, r)) for r in self.rows]

    def to_json(self, indent: int | None = 1) -> str:
        """JSON list of row objects, raw SI numbers (NaN and inf as null); deterministic."""
        return json.dumps(self.to_records(), indent=indent, allow_nan=False)

    def to_csv(self) -> str:
        """CSV with a header row, raw SI numbers (``repr`` precision)."""
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(self.columns)
        for r in self.rows:
            w.writerow(["" if v is None else repr(v) if isinstance(v, float) else v for v in r])
        return buf.getvalue()

    def to_markdown(self) -> str:
        """A GitHub markdown table with human units."""
        from .report import format_table

        return format_table(self, markdown=True)

    def to_text(self) -> str:
        """An aligned plain-text table with human units."""
        from .report import format_table

        return format_table(self, markdown=False)

    def to_pandas(self):
        """A pandas DataFrame (pandas is imported here, only when asked for)."""
        try:
            import pandas as pd
        except ImportError as exc:  # pragma: no cover - depends on the environment
            from .errors import RooflineError

            raise RooflineError("to_pandas needs pandas: pip install pandas") from exc
        return pd.DataFrame(self.rows, columns=list(self.columns))

    def format(self, fmt: str) -> str:
        """Render as ``table``, ``markdown``, ``csv`` or ``json``."""
        renderers = {"table": self.to_text, "markdown": self.to_markdown, "csv": self.to_csv,
                     "json": self.to_json}  # fmt: skip
        if fmt not in renderers:
            from .errors import SpecError

            raise SpecError(f"unknown format {fmt!r}", field="format",
                            fix="use table, markdown, csv or json")  # fmt: skip
        return renderers[fmt]()

    def __repr__(self) -> str:
        return self.to_text()

    def _repr_markdown_(self) -> str:
        return self.to_markdown()
