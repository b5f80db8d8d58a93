"""The paper's four hardware implications as studies, plus the fleet operator-time breakdown.

Park et al. (2018) end their characterization with four requirements for inference hardware
(docs/paper_notes.md Section 1, "Intro list"). Each function here asks one of them of the roofline
model and returns a :class:`Study`: a tidy :class:`~roofline.table.Table` of raw SI numbers,
``findings`` (the answer as numbers), a one-paragraph ``answer``, and charts (``plot``, ``figure``).

* :func:`embedding_study`: high memory bandwidth and capacity for embeddings;
* :func:`engine_balance_study`: powerful matrix *and* vector engines (Amdahl's limit);
* :func:`onchip_memory_study`: large on-chip memory for small-batch inference;
* :func:`precision_study`: half-precision floating point;
* :func:`fleet_breakdown` (:mod:`roofline.fleet`): the operator time breakdown of a fleet mix.

Defaults follow the paper: its hypothetical 100 TOP/s accelerator at int8 and the Table 1 models
at their batch conventions (:data:`PAPER_MODELS`). Everything is an argument.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from roofline.counting import count_graph
from roofline.errors import SpecError
from roofline.evaluation import evaluate_costs
from roofline.formatting import fmt_bytes, fmt_time, si
from roofline.hardware import Hardware
from roofline.knobs import vary
from roofline.presets import load_hardware, load_model
from roofline.table import Table

#: the Table 1 models and their batch conventions (samples per run)
PAPER_MODELS: dict[str, int] = {
    "rec_paper": 100,
    "resnext101_32x4d": 1,
    "faster_rcnn_shufflenet": 1,
    "ir_csn_152": 1,
    "seq2seq_gru": 1,
}
PAPER_DEVICE = "hypothetical_100tops"


@dataclass(frozen=True, eq=False)
class Study:
    """A study's result: a table, its answer, and its charts.

    Attributes
    ----------
    name : str
    question : str
        The paper's implication in its words.
    table : Table
        Raw SI numbers, one row per evaluated point.
    findings : dict
        The answer as numbers (units in the key suffixes).
    answer : str
        The answer in a paragraph.
    panels : tuple of callables
        ``panel(study, ax)`` draws one chart; the first is the main one.
    """

    name: str
    question: str
    table: Table
    findings: dict[str, Any]
    answer: str
    panels: tuple[Callable[[Study, Any], None], ...] = field(default=())

    def plot(self, ax: Any = None, panel: int = 0) -> Any:
        """Draw chart ``panel`` (default the main one) on ``ax``; return the Axes."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(8, 5.5), layout="constrained")
        self.panels[panel](self, ax)
        return ax

    def figure(self) -> Any:
        """All panels side by side in one figure; return the Figure."""
        import matplotlib.pyplot as plt

        n = len(self.panels)
        cols = n if n <= 3 else 2
        rows = -(-n // cols)
        fig, axes = plt.subplots(
            rows, cols, figsize=(7.0 * cols, 5.0 * rows), layout="constrained", squeeze=False
        )
        for p, ax in zip(self.panels, axes.flat):
            p(self, ax)
        for ax in list(axes.flat)[n:]:
            ax.set_visible(False)
        fig.suptitle(self.question, fontsize=13, weight="bold")
        return fig

    def _repr_markdown_(self) -> str:
        return f"**{self.question}**\n\n{self.answer}\n"

    def __repr__(self) -> str:
        return f"Study({self.name!r}: {self.answer})"


def _models(models: Mapping[str, int] | Sequence[str] | None) -> dict[str, int]:
    if models is None:
        return dict(PAPER_MODELS)
    if isinstance(models, Mapping):
        return {str(k): int(v) for k, v in models.items()}
    return {m: PAPER_MODELS.get(m, 1) for m in models}


# -- 1. embeddings: bandwidth and capacity --------------------------------------------------------


class TablesIn:
    """Placement policy: :class:`~roofline.placement.CapacityAware`, then every embedding table is
    served from memory level ``level`` whether or not it fits (a what-if; ``fits`` tells)."""

    def __init__(self, level: int) -> None:
        self.level = level
        self.name = f"tables_in_{level}"

    def place(self, ct: Any, grid: Any) -> Any:
        from dataclasses import replace

        from roofline.placement import CapacityAware, gather_bytes

        verdict = CapacityAware().place(ct, grid)
        # tables are placed after everything else, so dropping their lookups leaves the rest as is
        no_lookups = ct.with_columns(gather_rows=0.0 * ct.gather_rows)
        out = CapacityAware().place(no_lookups, grid).bytes.copy()
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
        there), ``devices_needed`` (device memory pooled over devices) and latency per tier.
    """
    from roofline.plot import studies as sp

    m = load_model(model)
    hw = load_hardware(device)
    ct = count_graph(m.graph, [batch], dtype, fuse=True)
    if not ct.is_table.any():
        raise SpecError(
            f"model {m.name!r} has no embedding tables",
            field="model",
            fix="use a recommendation model such as rec_paper or dlrm_rm2",
        )
    names = hw.level_names
    main = [lv.kind for lv in hw.memory.values()].index("device")
    cap = np.array([lv.capacity for lv in hw.memory.values()])
    per_device = float(cap[: main + 1].sum())  # on-chip + device memory of one device
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
            need = _devices_needed(float(r.footprint_bytes[h, 0]), per_device)
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
        "devices_needed": _devices_needed(float(base.footprint_bytes[0, 0]), per_device),
        "tier_latency_s": {x["x"]: x["latency_s"] for x in table if x["sweep"] == "tier"},
        "bandwidth_latency_s": {x["x"]: x["latency_s"] for x in table if x["sweep"] == "bandwidth"},
        "device_bandwidth_bytes_per_s": float(hw.memory[names[main]].bandwidth),
        "embedding_overhead_s": float(hw.overheads.per_op * ct.launches[emb].sum()),
    }
    return Study(
        "embeddings",
        "High memory bandwidth and capacity for embeddings",
        table,
        findings,
        _embedding_answer(m.name, hw.name, dtype, batch, findings),
        (sp.embedding_bandwidth, sp.embedding_tiers, sp.embedding_size),
    )


def _devices_needed(footprint_bytes: float, per_device_bytes: float) -> int:
    """Devices whose pooled on-chip + device memory hold ``footprint_bytes`` (at least one)."""
    return int(max(1, np.ceil(footprint_bytes / per_device_bytes)))


def _embedding_answer(model: str, device: str, dtype: str, batch: int, f: dict) -> str:
    bw = f["bandwidth_latency_s"]
    lo, hi = min(bw), max(bw)
    tiers = ", ".join(f"{k} {fmt_time(v)}" for k, v in f["tier_latency_s"].items())
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
    from roofline.graph import Graph, Node

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


from roofline.studies.implications import engine_balance_study, onchip_memory_study, precision_study  # noqa: E402

__all__ = [
    "PAPER_MODELS",
    "Study",
    "TablesIn",
    "embedding_study",
    "engine_balance_study",
    "onchip_memory_study",
    "precision_study",
]
