"""The report ``roofline validate --json`` writes, as a schema, and reading one back.

``validate --from-json FILE`` re-renders a saved report: the file is read within the byte cap of
:func:`roofline.input_files.read_json` (regular files only; NaN, Infinity and deep nesting
refused), then held to :class:`Report`: every field the tables and the chart read is there with
its type (strict: no string for a number, no number for a string), every time positive and
finite; each row of ``skipped`` (the "not run" table) is a name and a reason, and each summary
row has the fields of the first (the summary table's columns). Anything else is one
:class:`~roofline.errors.SpecError` naming the file and the field (``kernels[3].measured_s``,
``summary[2].p90_ratio``), never a ``KeyError`` or ``TypeError`` halfway through a table.
"""

from __future__ import annotations

import os
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from roofline.errors import SpecError
from roofline.input_files import read_json
from roofline.spec_errors import SPEC_FOLDER_FIXES, validate

#: a time in seconds: positive and finite
Seconds = Annotated[float, Field(gt=0)]
#: a ratio or share: finite, not negative
Share = Annotated[float, Field(ge=0)]


class _Part(BaseModel):
    """A block of the report: strict types, finite numbers, further fields kept as they are."""

    model_config = ConfigDict(strict=True, allow_inf_nan=False, extra="allow", frozen=True)


class Kernel(_Part):
    """One timed kernel: what it was, measured and predicted seconds, their ratios."""

    name: str
    group: str
    library: str
    dtype: str
    batch: int = Field(ge=1)
    flops: Share
    bytes: Share
    bound: str
    measured_s: Seconds
    measured_min_s: Seconds
    predicted_s: Seconds
    ideal_s: Seconds
    ratio: Share
    ratio_ideal: Share


class WholeModel(_Part):
    """One whole model measured end to end."""

    model: str
    batch: int = Field(ge=1)
    measured_s: Seconds
    predicted_s: Seconds
    ideal_s: Seconds
    bound: str
    ratio: Share


class Summary(_Part):
    """One summary row (a subset of the kernels)."""

    subset: str
    kernels: int = Field(ge=1)
    median_ratio: Share


class Threads(_Part):
    """The thread counts the run pinned (``blas``: None where the BLAS could not be reached)."""

    blas: int | None = None


class Machine(_Part):
    """What the run ran on (the chart's title reads these)."""

    cpu: str
    cpus: int = Field(ge=1)
    date: str
    threads: Threads


class Device(_Part):
    """The device the predictions used: its name and the spec file it came from (if any)."""

    name: str
    file: str | None = None


class Skipped(_Part):
    """One kernel or model the run left out, and why (a row of the "not run" table)."""

    name: str
    reason: str


class Report(_Part):
    """A whole report of ``roofline validate``."""

    roofline_validate: int
    machine: Machine
    device: Device
    summary: list[Summary]
    kernels: list[Kernel] = Field(min_length=1)
    models: list[WholeModel]
    skipped: list[Skipped] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _summary_columns(cls, data: Any) -> Any:
        """Every summary row has the fields of the first: the summary table's columns."""
        rows = data.get("summary") if isinstance(data, dict) else None
        if isinstance(rows, list) and rows and isinstance(rows[0], dict):
            for i, row in enumerate(rows[1:], 1):
                if not isinstance(row, dict):
                    continue  # not an object: the row's own validation says so
                missing = [k for k in rows[0] if k not in row]
                if missing:
                    raise SpecError(
                        f"lacks {', '.join(map(repr, missing))}, which summary[0] has (the "
                        "summary table's columns)",
                        field=f"summary[{i}].{missing[0]}",
                        fix="give every summary row the same fields, as validate --json writes",
                    )
        return data


def load_report(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The report saved in ``path`` (the document as written), checked against :class:`Report`.

    Raises
    ------
    SpecError
        Not a readable regular file within the cap, not JSON, or not a report (the first field
        that does not fit, with the fix).
    """
    name = str(path)
    doc = read_json(path, field="--from-json", what="a file written by validate --json")
    if not isinstance(doc, dict):
        raise SpecError(
            f"top level is {type(doc).__name__}, not a report",
            file=name,
            field="--from-json",
            fix="give a file written by validate --json",
        )
    try:
        validate(Report, doc, file=name)
    except SpecError as exc:
        fix = exc.fix if exc.fix not in SPEC_FOLDER_FIXES else None  # not a spec folder's
        fix = fix or "give a file written by validate --json"
        raise SpecError(exc.problem, file=name, field=exc.field, fix=fix) from None
    return doc
