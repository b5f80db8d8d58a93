"""Table 1 of Park et al. (2018), recomputed from the model presets and set beside the paper's.

For each paper row (:data:`roofline.paper.data.ROWS`) the preset(s) standing for it are counted
unfused at the row's batch convention, and per *layer* (ops holding weights in the row's op
categories) the Table 1 metrics are computed as :mod:`roofline.characterize` defines them, in
elements (= bytes at int8) with 2 FLOPs per multiply-add:

* ``params``: weight elements (whole model for CV and seq2seq; the row's layers for the
  recommendation FC and embedding rows, which split one model);
* ``max_live_activations``: the model's peak of activation elements alive at once in execution
  order (:meth:`roofline.graph.Graph.live_elements`);
* ``intensity_w_avg`` / ``_min``: FLOPs per weight element read (average = total FLOPs / total
  weights, minimum over layers);
* ``intensity_aw_avg`` / ``_min``: FLOPs per (weight + input + output activation) element.

A row with several models or batches gives a range (lowest, highest over its points). Each figure
is compared with the paper's under :mod:`roofline.paper.data`'s rules and flagged ``agree``,
``DISAGREE`` (with the reason where one is known) or ``n/a``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from roofline.characterize import layer_mask, mean_intensities, weight_read_elems
from roofline.counting import count_graph
from roofline.errors import SpecError
from roofline.formatting import format_table, si
from roofline.paper.data import METRICS, ROWS, PaperCell, PaperRow
from roofline.presets import load_model
from roofline.table import Table

COLUMNS = (
    "row",
    "category",
    "model_type",
    "models",
    "batch",
    "batch_convention",
    "metric",
    "unit",
    "computed_low",
    "computed_high",
    "layer_mean",
    "paper",
    "confidence",
    "tolerance",
    "verdict",
    "note",
)

TITLE = "Table 1 of Park et al. 2018, recomputed (elements = bytes at int8; 2 FLOPs per MAC)"


@dataclass(frozen=True)
class RowResult:
    """Computed figures of one paper row: metric -> (low, high) over the row's points."""

    row: PaperRow
    batches: tuple[float, ...]
    values: dict[str, tuple[float, float]]
    layer_mean: float
    missing: str = ""


def _point(model: Any, batches: Sequence[float], row: PaperRow) -> list[dict[str, float]]:
    """Table 1 metrics of one model at each batch, over the row's layers."""
    ct = count_graph(model.graph, list(batches), "fp32", fuse=False)
    in_rows = np.array([c in row.categories for c in ct.categories], dtype=bool)
    layers = layer_mask(ct) & in_rows
    if not layers.any():
        raise SpecError(
            f"model {model.name!r} has no {'/'.join(sorted(row.categories))} layers",
            field="table1",
            fix="choose a preset with such layers",
        )
    ops = model.graph.ops
    classifier = np.array([op.kind == "linear" and getattr(op, "rows", 0) == 1 for op in ops])
    for_min = layers & ~classifier if row.exclude_classifier else layers
    flops = ct.flops_matrix + ct.flops_vector
    w = weight_read_elems(ct)
    aw = w + ct.act_in_elems + ct.act_out_elems
    params = ct.weight_elems.sum() if row.all_params else ct.weight_elems[in_rows].sum()
    live = _live(ct)
    out = []
    for j in range(len(batches)):
        f, wj, awj = flops[:, j], w[:, j], aw[:, j]
        iw = f[for_min] / wj[for_min]
        w_avg, aw_avg = mean_intensities(f[layers], wj[layers], awj[layers])
        out.append(
            {
                "params": float(params),
                "max_live_activations": float(live[j]),
                "intensity_w_avg": w_avg,
                "intensity_w_min": float(iw.min()),
                "intensity_aw_avg": aw_avg,
                "intensity_aw_min": float((f[for_min] / awj[for_min]).min()),
                "layer_mean": float(iw.mean()),
            }
        )
    return out


def _live(ct: Any) -> np.ndarray:
    """Max live activation elements of a counted model at each batch [B]."""
    return ct.live_act_bytes.max(axis=0) / ct.precision.bytes_per("act_in")


def compute_row(row: PaperRow, batch: Sequence[float] | None = None) -> RowResult:
    """Compute one paper row at its batch convention (or at ``batch``)."""
    batches = tuple(float(b) for b in (batch if batch is not None else row.batches))

    def load(name: str, changes: dict) -> Any:
        m = load_model(name)
        return m.with_params(**changes) if changes else m

    try:
        models = [load(name, ch) for name, ch in row.models]
        fp = load(*row.footprint_model) if row.footprint_model else None
    except SpecError as exc:
        return RowResult(row, batches, {}, math.nan, missing=str(exc))
    points = [p for m in models for p in _point(m, batches, row)]
    values = {k: (min(p[k] for p in points), max(p[k] for p in points)) for k, _ in METRICS}
    if fp is not None:
        ct = count_graph(fp.graph, list(batches), "fp32", fuse=False)
        n = float(ct.weight_elems.sum())
        live = _live(ct)
        values["params"] = (n, n)
        values["max_live_activations"] = (float(live.min()), float(live.max()))
    return RowResult(row, batches, values, float(np.mean([p["layer_mean"] for p in points])))


def _close(a: float, b: float, tol: float) -> bool:
    if a == b:
        return True
    if a <= 0 or b <= 0 or math.isinf(a) or math.isinf(b):
        return False
    return max(a / b, b / a) <= 1.0 + tol


def judge(cell: PaperCell, low: float, high: float) -> tuple[bool, int]:
    """Return (agrees, index of the matching option, or -1) under the cell's mode."""
    t = cell.tolerance
    for i, (plo, phi) in enumerate(cell.options):
        if cell.mode == "span":
            ok = _close(low, plo, t) and _close(high, phi, t)
        elif cell.mode == "bound":
            ok = low >= plo / (1 + t) and high <= phi * (1 + t)
        else:
            ok = low / (1 + t) <= plo <= high * (1 + t)
        if ok:
            return True, i
    return False, -1


def table1(batch: Any = None, rows: Sequence[str] | None = None) -> Table:
    """Return Table 1 recomputed beside the paper's figures, one line per (row, metric).

    Parameters
    ----------
    batch : int or sequence of int, optional
        Compute every row at these batches instead of its convention (the paper's figures are
        then still shown, and usually disagree for batch-dependent columns).
    rows : sequence of str, optional
        Row keys to include (``rec_fc``, ``rec_emb``, ``resnext``, ``faster_rcnn``,
        ``resnext3d``, ``seq2seq``); default all.

    Returns
    -------
    Table
        Columns :data:`COLUMNS`: computed figures in elements or FLOPs per element, the paper's
        figure, its confidence tag and relative tolerance, the verdict and a note (the batch
        convention, and the reason for a known disagreement). ``layer_mean`` is the unweighted
        mean of per-layer FLOPs per weight (a diagnostic).
    """
    keys = [r.key for r in ROWS]
    if rows is not None:
        for k in rows:
            if k not in keys:
                raise SpecError(
                    f"unknown Table 1 row {k!r}", field="rows", fix="use one of " + ", ".join(keys)
                )
    if batch is not None:
        batch = [batch] if np.isscalar(batch) else list(batch)
    out = []
    for row in ROWS:
        if rows is not None and row.key not in rows:
            continue
        res = compute_row(row, batch)
        conv = row.batch_convention if batch is None else "batch override"
        models = ", ".join(n + (f" {ch}" if ch else "") for n, ch in row.models)
        bstr = ", ".join(f"{b:g}" for b in res.batches)
        head = [row.key, row.category, row.model_type, models, bstr, conv]
        for metric, unit in METRICS:
            pc = row.cells.get(metric)
            lo, hi = res.values.get(metric, (math.nan, math.nan))
            if res.missing:
                verdict, note = "n/a", f"cannot compute: {res.missing}"
            elif pc is None:
                verdict, note = "n/a", "no paper figure"
            else:
                ok, _ = judge(pc, lo, hi)
                verdict = "agree" if ok else "DISAGREE"
                note = (
                    ""
                    if ok
                    else row.notes.get(metric, "").format(
                        low=si(lo), high=si(hi), layer_mean=si(res.layer_mean)
                    )
                )
            out.append(
                [
                    *head,
                    metric,
                    unit,
                    lo,
                    hi,
                    res.layer_mean if metric == "intensity_w_avg" else math.nan,
                    pc.text if pc else "",
                    pc.confidence if pc else "",
                    pc.tolerance if pc else math.nan,
                    verdict,
                    note,
                ]
            )
        out.append(
            [
                *head,
                "latency",
                "s",
                math.nan,
                math.nan,
                math.nan,
                row.latency,
                "",
                math.nan,
                "n/a",
                "a latency requirement the paper states, not a property of the model's "
                "counts (see the batch and latency charts)",
            ]
        )
    return Table(COLUMNS, out, title=TITLE)


# -- rendering ----------------------------------------------------------------------------------

_HEAD = {
    "params": "Model size (#params)",
    "max_live_activations": "Max. live activations",
    "intensity_w_avg": "AI w.r.t. weights, avg",
    "intensity_w_min": "AI w.r.t. weights, min",
    "intensity_aw_avg": "AI w.r.t. acts + weights, avg",
    "intensity_aw_min": "AI w.r.t. acts + weights, min",
    "latency": "Latency",
}


def _range(lo: float | None, hi: float | None) -> str:
    """``low-high`` with SI prefixes; ``-`` where the table holds no figure (NaN is stored as
    None)."""
    if lo is None or hi is None:
        return "-"
    a, b = si(lo).replace(" ", ""), si(hi).replace(" ", "")
    return a if a == b else f"{a}-{b}"


def _cell(r: dict[str, Any], mark: tuple[str, str]) -> str:
    if r["metric"] == "latency":
        return r["paper"]
    got = _range(r["computed_low"], r["computed_high"])
    if not r["paper"]:
        return got
    flag = mark[0] if r["verdict"] == "agree" else mark[1]
    return f"{got} {flag} (paper {r['paper']}, {r['confidence']})"


def _footnotes(table: Table) -> list[str]:
    seen, lines = set(), []
    for r in table:
        if r["row"] not in seen:
            seen.add(r["row"])
            lines.append(
                f"- {r['model_type']}: {r['models']} at batch {r['batch']} "
                f"({r['batch_convention']})"
            )
    for r in table:
        if r["verdict"] == "DISAGREE":
            why = r["note"] or "no known reason"
            lines.append(f"- DISAGREE {r['model_type']}, {_HEAD[r['metric']]}: {why}")
        elif r["verdict"] == "n/a" and r["note"].startswith("cannot"):
            lines.append(f"- n/a {r['model_type']}: {r['note']}")
    return lines


RULE = (
    "Match: within the paper's range (span: each end; bound: every value inside; single "
    "figure: inside our range), with a relative tolerance of 10% (H), 25% (M), 50% (L)."
)


def to_markdown(table: Table) -> str:
    """Render :func:`table1` as the paper's layout: one line per row, a cell per metric."""
    metrics = [m for m, _ in METRICS] + ["latency"]
    cols = ["Category", "Model type"] + [_HEAD[m] for m in metrics]
    by_row: dict[str, dict[str, dict]] = {}
    for r in table:
        by_row.setdefault(r["row"], {})[r["metric"]] = r
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for cells in by_row.values():
        first = next(iter(cells.values()))
        vals = [first["category"], first["model_type"]]
        vals += [_cell(cells[m], ("✓", "✗")) if m in cells else "-" for m in metrics]
        lines.append("| " + " | ".join(vals) + " |")
    notes = _footnotes(table)
    return "\n".join(lines + ["", RULE, ""] + notes) + "\n"


def to_text(table: Table) -> str:
    """Render :func:`table1` for a terminal: a block of metrics per paper row."""
    out = [TITLE, RULE, ""]
    rows: dict[str, list[dict]] = {}
    for r in table:
        rows.setdefault(r["row"], []).append(r)
    for recs in rows.values():
        f = recs[0]
        out.append(
            f"{f['category']} / {f['model_type']}: {f['models']}, batch {f['batch']} "
            f"({f['batch_convention']})"
        )
        body = [
            [
                _HEAD[r["metric"]],
                _range(r["computed_low"], r["computed_high"]),
                r["paper"],
                r["confidence"],
                r["verdict"],
            ]
            for r in recs
        ]
        sub = Table(["metric", "computed", "paper", "conf", "verdict"], body)
        out.append(format_table(sub).rstrip("\n"))
        for r in recs:
            if r["verdict"] != "agree" and r["note"] and r["metric"] != "latency":
                out.append(f"  * {_HEAD[r['metric']]}: {r['note']}")
        out.append("")
    return "\n".join(out)


def render(table: Table, fmt: str) -> str:
    """``table`` (people), ``markdown`` (the paper's layout), ``csv`` or ``json`` (raw)."""
    if fmt == "table":
        return to_text(table)
    if fmt == "markdown":
        return to_markdown(table)
    return table.format(fmt)
