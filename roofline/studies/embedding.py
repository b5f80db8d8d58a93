"""Implication 1 of Park et al. (2018): embeddings need high memory bandwidth and capacity.

:func:`embedding_study` evaluates a recommendation model's latency against main-memory bandwidth,
against the memory tier serving its embedding tables (:class:`TablesIn`, a what-if placement),
and against table size: where the tables spill out of each level, and how many devices hold them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from roofline.counting import count_graph
from roofline.errors import SpecError
from roofline.evaluation import evaluate_costs
from roofline.formatting import fmt_bytes, fmt_time, si
from roofline.formulas import gather_bytes
from roofline.graph import Graph, Node
from roofline.hardware import Hardware
from roofline.knobs import vary
from roofline.placement import CapacityAware
from roofline.presets import load_device, load_model
from roofline.records import CostTable
from roofline.studies.base import PAPER_DEVICE, Options, Study, StudyEntry, given
from roofline.table import Table


class TablesIn:
    """Placement policy: :class:`~roofline.placement.CapacityAware`, then every embedding table is
    served from memory level ``level`` whether or not it fits (a what-if; ``fits`` tells)."""

    def __init__(self, level: int) -> None:
        self.level = level
        self.name = f"tables_in_{level}"

    def place(self, ct: CostTable, grid: Any) -> Any:
        verdict = CapacityAware().place(ct, grid)
        # tables are placed after everything else, so dropping their lookups leaves the rest as is
        out = CapacityAware().place(without_lookups(ct), grid).bytes.copy()
        rows = gather_bytes(ct, grid.granularity[:, self.level])
        out[..., self.level] += rows
        gathered = np.zeros_like(out)
        gathered[..., self.level] = rows
        return replace(verdict, bytes=out, gathered=gathered)


def embedding_study(
    model: Any = "rec_paper",
    device: Any = PAPER_DEVICE,
    batch: int = 100,
    dtype: str = "int8",
    bandwidth_scales: Sequence[float] = (0.125, 0.25, 0.5, 1, 2, 4, 8, 16, 32),
    table_scales: Sequence[float] | None = None,
) -> Study:
    """Embeddings need bandwidth and capacity: latency against main-memory bandwidth, against the
    tier holding the tables, and against table size (where tables spill; devices to hold them).

    Parameters
    ----------
    model, device, batch, dtype
        A recommendation model (embedding tables), the device, samples per run, precision.
    bandwidth_scales : sequence of float
        Main-memory bandwidths to try, as multiples of the device's.
    table_scales : sequence of float, optional
        Table sizes to try, as multiples of the model's rows (default 1e-5 to 100, log spaced).

    Returns
    -------
    Study
        ``table`` rows by ``sweep`` (``bandwidth``, ``tier``, ``table_size``); ``findings``:
        ``tables_bytes``, ``spill_bytes`` per level (table size beyond which they no longer fit
        there), ``devices_needed`` (device memory pooled over devices), latency per tier
        (``tier_latency_s``: a what-if where the tables do not fit the tier, which the answer
        gives no time for) and whether they fit each tier (``tier_fits``).
    """
    m = load_model(model)
    hw = load_device(device)
    ct = count_graph(m.graph, [batch], dtype, fuse=True)
    if not ct.is_table.any():
        raise SpecError(
            f"model {m.name!r} has no embedding tables",
            field="model",
            fix="use a recommendation model such as rec_paper or dlrm_rm2",
        )
    names = hw.level_names
    main = list(hw.memory).index(hw.main_level)
    cap = np.array([lv.capacity for lv in hw.memory.values()])
    emb = np.asarray(ct.is_table, dtype=bool)
    cols = [
        "sweep",
        "model",
        "device",
        "batch",
        "dtype",
        "x",
        "x_unit",
        "tables_level",
        "tables_bytes",
        "latency_s",
        "embedding_time_s",
        "embedding_share",
        "feasible",
        "fits",
        "devices_needed",
    ]
    rows = []

    def add(sweep: str, r: Any, xs: Sequence[Any], unit: str, tb: float, tier: str = "") -> None:
        lat = r.latency_s[:, 0]
        et = r.time_s[:, 0][:, emb].sum(axis=-1)
        for h, x in enumerate(xs):
            lvl = tier or _tables_level(r, h, names)
            fits = lvl in names and tb <= cap[list(names).index(lvl)]
            need = int(r.devices_needed[h, 0])
            rows.append(
                [
                    sweep,
                    m.name,
                    hw.name,
                    batch,
                    ct.precision.name,
                    x,
                    unit,
                    lvl,
                    tb,
                    float(lat[h]),
                    float(et[h]),
                    float(et[h] / lat[h]),
                    bool(r.feasible[h, 0]),
                    bool(fits),
                    need,
                ]
            )

    table_bytes = float(ct.weight_bytes[emb].sum())
    bws = hw.memory[names[main]].bandwidth * np.asarray(bandwidth_scales, dtype=float)
    add(
        "bandwidth",
        evaluate_costs(ct, vary(hw, {"memory.main.bandwidth": list(bws)})),
        list(bws),
        "B/s",
        table_bytes,
    )
    for lvl, name in enumerate(names):
        add("tier", evaluate_costs(ct, hw, TablesIn(lvl)), [name], "level", table_bytes, name)
    scales = (
        np.geomspace(1e-5, 100, 36)
        if table_scales is None
        else np.asarray(table_scales, dtype=float)
    )
    for sc in scales:
        cs = count_graph(_scale_tables(m.graph, float(sc)), [batch], dtype, fuse=True)
        tb = float(cs.weight_bytes[cs.is_table].sum())
        add("table_size", evaluate_costs(cs, hw), [tb], "B", tb)
    spill = _spill_points(m.graph, hw, batch, dtype, sorted(float(x) for x in scales))
    table = Table(
        cols, rows, title=f"embedding study: {m.name} on {hw.name}, {dtype}, batch {batch}"
    )
    base = evaluate_costs(ct, hw)
    findings = {
        "tables_bytes": table_bytes,
        "tables_level": _tables_level(base, 0, names),
        "latency_s": float(base.latency_s[0, 0]),
        "spill_bytes": spill,
        "devices_needed": int(base.devices_needed[0, 0]),
        "tier_latency_s": {x["x"]: x["latency_s"] for x in table if x["sweep"] == "tier"},
        "tier_fits": {x["x"]: x["fits"] for x in table if x["sweep"] == "tier"},
        "bandwidth_latency_s": {x["x"]: x["latency_s"] for x in table if x["sweep"] == "bandwidth"},
        "device_bandwidth_bytes_per_s": float(hw.memory[names[main]].bandwidth),
        "embedding_overhead_s": float(hw.overheads.per_op * ct.launches[emb].sum()),
    }
    return ENTRY.study(table, findings, _answer(m.name, hw.name, dtype, batch, findings))


def without_lookups(ct: CostTable) -> CostTable:
    """``ct`` with no embedding rows gathered (the lookups' bytes dropped, all else kept)."""
    return ct.with_columns(gather_rows=0.0 * ct.gather_rows)


def _answer(model: str, device: str, dtype: str, batch: int, f: dict) -> str:
    bw = f["bandwidth_latency_s"]
    lo, hi = min(bw), max(bw)
    # a tier the tables do not fit has a what-if time (the table's, with fits False), no answer
    tiers = ", ".join(
        f"{k} {fmt_time(v)}" if f["tier_fits"][k] else f"{k}: they do not fit"
        for k, v in f["tier_latency_s"].items()
    )
    spill = ", ".join(f"{k} at {fmt_bytes(v)}" for k, v in f["spill_bytes"].items())
    return (
        f"{model}'s tables hold {fmt_bytes(f['tables_bytes'])} at {dtype}; on {device} they live "
        f"in {f['tables_level']} and a batch of {batch} takes {fmt_time(f['latency_s'])}. "
        f"Latency follows main-memory bandwidth: {fmt_time(bw[lo])} at {si(lo, 'B/s')}, "
        f"{fmt_time(bw[hi])} at {si(hi, 'B/s')} (the lookups' per-op overhead, "
        f"{fmt_time(f['embedding_overhead_s'])}, is the floor). With the tables in each tier: "
        f"{tiers}. Tables spill past {spill}; {f['devices_needed']} device(s) hold the model in "
        "on-chip + device memory."
    )


def _tables_level(r: Any, h: int, names: Sequence[str]) -> str:
    """Name of the slowest level serving embedding traffic in variant ``h`` (batch 0)."""
    emb = np.array(r.costs.is_table)
    by_level = r.bytes_moved[h, 0][emb].sum(axis=0)
    tables_traffic = [i for i, b in enumerate(by_level) if b > 0]
    return names[max(tables_traffic)] if tables_traffic else "-"


def _scale_tables(graph: Any, s: float) -> Any:
    """``graph`` with every embedding table's rows scaled by ``s`` (at least one row)."""
    nodes = []
    for n in graph.nodes:
        op = n.op
        if op.category == "embedding" and hasattr(op, "num_embeddings"):
            rows = max(1, int(round(op.num_embeddings * s)))
            op = op.model_copy(update={"num_embeddings": rows})
        nodes.append(Node(op, n.inputs))
    return Graph(graph.name, dict(graph.inputs), tuple(nodes))


def _spill_points(
    graph: Any, hw: Hardware, batch: int, dtype: str, scales: Sequence[float]
) -> dict[str, float]:
    """Table bytes beyond which the tables no longer all sit in each level or a faster one
    (the last level: no longer fit the device), bracketed by ``scales`` and refined by bisection
    (tables grow together, so spilling is monotone in their size)."""
    names = hw.level_names

    def where(s: float) -> tuple[int, float]:
        cs = count_graph(_scale_tables(graph, s), [batch], dtype, fuse=True)
        r = evaluate_costs(cs, hw)
        lvl = names.index(_tables_level(r, 0, names))
        return (len(names) if not r.feasible[0, 0] else lvl), float(
            cs.weight_bytes[cs.is_table].sum()
        )

    at = [where(s)[0] for s in scales]
    out: dict[str, float] = {}
    for i, name in enumerate(names):
        k = next((k for k, lvl in enumerate(at) if lvl > i), None)
        if k is None:
            continue
        if k == 0:
            out[name] = where(scales[0])[1]
            continue
        lo, hi = scales[k - 1], scales[k]
        for _ in range(40):
            mid = (lo * hi) ** 0.5
            lo, hi = (mid, hi) if where(mid)[0] <= i else (lo, mid)
            if hi / lo < 1 + 1e-4:
                break
        out[name] = where(hi)[1]
    return out


def from_options(o: Options) -> Study:
    """``roofline plot embeddings [MODEL] [--hw DEVICE] [--batch B] [--dtype D]``."""
    return embedding_study(**given(model=o.model, device=o.device, batch=o.batch, dtype=o.dtype))


ENTRY = StudyEntry(
    name="embeddings",
    question="High memory bandwidth and capacity for embeddings",
    charts=("embedding_bandwidth", "embedding_tiers", "embedding_size"),
    function=embedding_study,
    from_options=from_options,
    reads={"models": "first", "--hw": "first", "--batch": "first"},
)
