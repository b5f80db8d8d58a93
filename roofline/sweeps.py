"""Design-space sweeps: models x device variants x batches x dtypes -> a tidy table.

A sweep varies knobs of one base device (``memory.hbm.bandwidth``, ``memory.sram.capacity``,
``engines.matrix.peak.fp16``..., see :func:`roofline.knobs.vary`), as a Cartesian product or
zipped lists, and evaluates every point with the totals-only fast paths of
:mod:`roofline.fastpath` in chunks of variants, so memory stays bounded by the chunk. With an
executor (a process pool, a Dask client's executor) the chunks run remotely and the results are
identical: each variant is computed independently by the same code.
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

import numpy as np

from roofline.api import HardwareLike, ModelLike, default_dtype
from roofline.arguments import check_executor
from roofline.batch_sizes import batch_sizes
from roofline.counting import as_batches, count_graph
from roofline.efficiency import has_curves
from roofline.errors import SpecError
from roofline.evaluation import evaluate_costs
from roofline.formulas import dominant, throughput, utilization
from roofline.hardware import Hardware
from roofline.knobs import knob_columns, warn_unread
from roofline.knobs import vary as variant_grid
from roofline.model import Model, build_model
from roofline.placement import get_policy
from roofline.presets import load_hardware, load_model
from roofline.records import CostTable
from roofline.systems.spec import System
from roofline.systems.sweep import sweep_system_columns
from roofline.table import Table
from roofline.totals import Totals, totals_direct, totals_full, totals_ridge

DEFAULT_CHUNK = 4096
RIDGE_CHUNK = 65536


def sweep_dtypes(
    target: Hardware | System, vary: Mapping[str, Any], dtype: Sequence[str] | str | None
) -> list[str]:
    """The dtypes of a sweep (default: the device's ``default_dtype``), warning of every varied
    knob that is not read at one of them (:func:`roofline.knobs.warn_unread`)."""
    dtypes = (
        [default_dtype(target)]
        if dtype is None
        else [dtype]
        if isinstance(dtype, str)
        else list(dtype)
    )
    if isinstance(target, System):
        device, paths = target.device, [p[7:] for p in vary if p.startswith("device.")]
    else:
        device, paths = target, list(vary)
    for dt in dtypes:
        warn_unread(device, paths, dt)
    return dtypes


def knob_grid(hw: Hardware, knobs: Mapping[str, Sequence[Any]], mode: str) -> dict[str, np.ndarray]:
    """Value columns of the sweep's grid (:func:`roofline.grid.knob_columns`); at least one knob."""
    if not knobs:
        raise SpecError(
            "no knob to vary", field="vary", fix="e.g. {'memory.main.bandwidth': [...]}"
        )
    return knob_columns(hw, knobs, mode)


class SweepTable(Table):
    """A sweep's tidy table, with the knob paths it varied and, on request, per-op detail."""

    knobs: tuple[str, ...] = ()
    per_op: Table | None = None


_COUNTS: dict[tuple[Any, ...], CostTable] = {}


def _counts(spec: dict[str, Any], batches: np.ndarray, dtype: str, fuse: bool) -> CostTable:
    """Counts of a spec, cached per process (workers count each model once, not per chunk)."""
    key = (json.dumps(spec, sort_keys=True, default=str), tuple(batches), dtype, fuse)
    if key not in _COUNTS:
        if len(_COUNTS) > 32:
            _COUNTS.clear()
        model = build_model(spec, file="<sweep>")
        _COUNTS[key] = count_graph(model.graph, batches, dtype, fuse=fuse)
    return _COUNTS[key]


def _evaluate_chunk(
    spec: Any,
    hw: Hardware,
    cols: dict[str, np.ndarray],
    batches: np.ndarray,
    dtype: str,
    policy: str,
    fuse: bool,
) -> Totals:
    """Evaluate one chunk of variants (runs in workers: arguments are plain, picklable data).

    ``spec`` is a model spec mapping, or (in-process) an already counted CostTable.
    """
    ct = spec if isinstance(spec, CostTable) else _counts(spec, batches, dtype, fuse)
    grid = variant_grid(hw, cols, mode="zip")
    if has_curves(grid):
        return totals_full(ct, grid, policy)  # the fast paths assume the ideal roofline
    if policy == "single":
        return totals_ridge(ct, grid)
    return totals_direct(ct, grid, policy)


@dataclass
class Progress:
    """A progress line on stderr, shown only once a run has taken longer than ``delay`` s."""

    total: int
    label: str = "sweep"
    delay: float = 1.0
    stream: Any = None

    def __post_init__(self) -> None:
        self.start = time.perf_counter()
        self.done = 0
        self.shown = False
        self.last = 0.0
        self.stream = self.stream or sys.stderr
        isatty = getattr(self.stream, "isatty", lambda: False)
        self.tty = bool(isatty())
        self.every = 0.1 if self.tty else 5.0

    def update(self, n: int) -> None:
        self.done += n
        now = time.perf_counter()
        elapsed = now - self.start
        finished = self.done >= self.total
        if elapsed < self.delay and not (finished and self.shown):
            return
        if not finished and now - self.last < self.every:
            return
        self.last = now
        self.shown = True
        frac = self.done / self.total if self.total else 1.0
        bar = "#" * int(30 * frac)
        end = "" if self.tty and not finished else "\n"
        start = "\r" if self.tty else ""
        self.stream.write(
            f"{start}{self.label}: [{bar:<30}] {100 * frac:5.1f}% "
            f"({self.done}/{self.total} points, {elapsed:.1f} s){end}"
        )
        if self.tty and finished:
            self.stream.write("\n")
        self.stream.flush()


def sweep(
    models: ModelLike | Sequence[ModelLike],
    base_device: HardwareLike,
    vary: Mapping[str, Sequence[Any]],
    batch: Any = 1,
    dtype: Sequence[str] | str | None = None,
    mode: str = "product",
    policy: str | None = None,
    fuse: bool = True,
    chunk: int | None = None,
    executor: Executor | None = None,
    progress: Callable[[int], None] | None = None,
    per_op: bool = False,
    tp: Any = 1,
    pp: Any = 1,
    ep: Any = 1,
    all_layouts: bool = False,
) -> SweepTable:
    """Evaluate models on every variant of ``base_device``; return one row per point.

    Parameters
    ----------
    models : model-like or sequence of them
        Preset names, YAML paths, mappings or Models.
    base_device : device-like or system
        The device whose knobs vary, or a system (:mod:`roofline.systems.sweep`): its knobs are
        ``count``, ``interconnect.<level>.bandwidth`` / ``.latency`` and ``device.<knob>``.
    vary : mapping knob path -> values
        Values are SI numbers or unit strings (``"2 TB/s"``, ``"32 MiB"``).
    batch, dtype : one or several
        Batch sizes (whole numbers >= 1); dtypes (default: the device's ``default_dtype``). A
        varied knob the evaluation does not read at a dtype (``engines.matrix.peak.fp16`` at
        fp32) warns (:class:`~roofline.errors.UnreadKnobWarning`): its variants are identical.
    mode : ``"product"`` (every combination) or ``"zip"`` (element-wise)
    policy : ``"capacity"`` (default) or ``"single"`` (the O(log ops) ridge path)
    fuse : as in :func:`roofline.evaluate`
    chunk : variants evaluated at once (bounds memory: ~chunk x batches x ops floats); default
        4096, or 65536 on the ridge path of ``policy="single"`` (memory O(chunk) there)
    executor : a ``concurrent.futures.Executor`` to run chunks on (results identical)
    progress : called with the number of points finished after each chunk
    per_op : also attach ``table.per_op``, a Table with one row per point and op (knobs, model,
        batch, dtype, op, kind, time_s, bound): for small sweeps, up to :data:`MAX_PER_OP_ROWS`
    tp, pp, ep, all_layouts : on a system, the layouts of each variant: the degrees given (each an
        int or a list; ``dp`` fills the variant, combinations that cannot are skipped), or with
        ``all_layouts`` every layout that fills it

    Returns
    -------
    Table
        Columns: the knob paths (SI values), ``model``, ``batch``, ``dtype``, ``latency_s``,
        ``throughput_per_s``, ``utilization``, ``bound``, ``feasible``,
        ``capacity_shortfall_bytes``, ``devices_needed``, and the energy columns
        (:data:`SWEEP_ENERGY_COLUMNS`: ``energy_per_sample_j``, ``avg_power_w``,
        ``samples_per_j``, ``capped_throughput_per_s``, ``cost_per_1m_samples``,
        ``power_capped``; NaN for a device without an energy model); rows ordered by model,
        dtype, variant, batch. On a system: the knob paths and
        :data:`~roofline.systems.result.SYSTEM_COLUMNS`, ordered by model, dtype, variant,
        layout, batch.
    """
    model_list = (
        [models]
        if isinstance(models, (str, dict)) or not isinstance(models, Sequence)
        else list(models)
    )
    check_executor(executor)
    pol = get_policy(policy).name
    batches = as_batches(batch_sizes(batch))
    target = load_hardware(base_device)
    dtypes = sweep_dtypes(target, vary, dtype)
    if isinstance(target, System):
        sys_cols, knobs = sweep_system_columns(
            [load_model(m) for m in model_list],
            target,
            vary,
            batches,
            dtypes,
            mode,
            pol,
            fuse,
            tp,
            pp,
            ep,
            all_layouts,
        )
        table = SweepTable.from_columns(sys_cols, title=f"sweep of {target.name}")
        table.knobs = knobs
        return table
    hw = target
    if chunk is None:
        chunk = RIDGE_CHUNK if pol == "single" else DEFAULT_CHUNK
    if not isinstance(chunk, int) or chunk < 1:
        raise SpecError(f"chunk={chunk!r} must be a positive integer", field="chunk")
    cols = knob_grid(hw, vary, mode)
    n = len(next(iter(cols.values())))
    loaded = [load_model(m) for m in model_list]
    levels = ("compute", *hw.level_names, "overhead")
    out: dict[str, list] = {
        k: []
        for k in (
            *cols,
            "model",
            "batch",
            "dtype",
            "latency_s",
            "throughput_per_s",
            "utilization",
            "bound",
            "feasible",
            "capacity_shortfall_bytes",
            "devices_needed",
            *SWEEP_ENERGY_COLUMNS,
        )
    }
    starts = list(range(0, n, chunk))
    for m in loaded:
        spec = m.spec.model_dump()
        flops_cache: dict[str, np.ndarray] = {}
        for dt in dtypes:
            ct = count_graph(m.graph, batches, dt, fuse=fuse)
            flops_cache[dt] = (ct.flops_matrix + ct.flops_vector).sum(axis=0)
            src = spec if executor is not None else ct
            jobs = [
                (src, hw, {k: v[s : s + chunk] for k, v in cols.items()}, batches, dt, pol, fuse)
                for s in starts
            ]
            results: Iterator[Totals]
            if executor is None:
                results = (_evaluate_chunk(*job) for job in jobs)
            else:
                results = executor.map(_evaluate_chunk, *zip(*jobs))
            for s, tot in zip(starts, results):
                h = tot.latency_s.shape[0]
                nb = batches.size
                for k, v in cols.items():
                    out[k].append(np.repeat(v[s : s + h], nb))
                out["model"].append(np.full(h * nb, m.name, dtype=object))
                out["dtype"].append(np.full(h * nb, dt, dtype=object))
                out["batch"].append(np.tile(batches, h))
                lat = tot.latency_s
                out["latency_s"].append(lat.ravel())
                out["throughput_per_s"].append(throughput(batches[None, :], lat).ravel())
                util = utilization(flops_cache[dt], lat, tot.matrix_peak)
                out["utilization"].append(util.ravel())
                out["bound"].append(dominant(levels, tot.bound_time_s).ravel())
                out["feasible"].append(tot.feasible.ravel())
                out["capacity_shortfall_bytes"].append(tot.shortfall_bytes.ravel())
                out["devices_needed"].append(tot.devices_needed.ravel().astype(int))
                for k, v in _energy_columns(tot, batches).items():
                    out[k].append(v.ravel())
                if progress:
                    progress(h)
    table = SweepTable.from_columns(
        {k: np.concatenate(v) if v else np.array([]) for k, v in out.items()},
        title=f"sweep of {hw.name}",
    )
    table.knobs = tuple(cols)
    table.per_op = _per_op_table(loaded, hw, cols, batches, dtypes, pol, fuse) if per_op else None
    return table


#: the energy, power and cost columns of a sweep (NaN for a device without an energy model)
SWEEP_ENERGY_COLUMNS = (
    "energy_per_sample_j",
    "avg_power_w",
    "samples_per_j",
    "capped_throughput_per_s",
    "cost_per_1m_samples",
    "power_capped",
)


def _energy_columns(tot: Totals, batches: np.ndarray) -> dict[str, np.ndarray]:
    """The :data:`SWEEP_ENERGY_COLUMNS` of a chunk [h, B] (infeasible points carry none)."""
    h = tot.latency_s.shape[0]
    e = tot.energy
    if e is None:
        nan = np.full((h, batches.size), np.nan)
        cols = {k: nan for k in SWEEP_ENERGY_COLUMNS}
        cols["power_capped"] = np.zeros((h, batches.size), dtype=bool)
        return cols
    per = e.energy_j / batches[None, :]
    with np.errstate(divide="ignore"):
        values = {
            "energy_per_sample_j": per,
            "avg_power_w": e.avg_power_w,
            "samples_per_j": 1.0 / per,
            "capped_throughput_per_s": throughput(batches[None, :], e.capped_latency_s),
            "cost_per_1m_samples": 1e6 * e.cost_per_sample,
        }
    cols = {k: np.where(tot.feasible, v, np.nan) for k, v in values.items()}
    cols["power_capped"] = e.power_capped
    return cols


#: the largest per-op detail a sweep builds (rows = points x batches x ops)
MAX_PER_OP_ROWS = 2_000_000


def _per_op_table(
    models: Sequence[Model],
    hw: Hardware,
    cols: dict[str, np.ndarray],
    batches: np.ndarray,
    dtypes: Sequence[str],
    policy: str,
    fuse: bool,
) -> Table:
    """One row per (model, dtype, variant, batch, op), through the full evaluation."""
    grid = variant_grid(hw, cols, mode="zip")
    rows = 0
    for m in models:
        rows += grid.size * batches.size * len(count_graph(m.graph, 1, dtypes[0], fuse=fuse).names)
    if rows * len(dtypes) > MAX_PER_OP_ROWS:
        raise SpecError(
            f"per-op detail would have {rows * len(dtypes)} rows",
            field="per_op",
            fix=f"sweep fewer points (at most {MAX_PER_OP_ROWS} rows) or drop per_op",
        )
    out: dict[str, list] = {k: [] for k in (*cols, "model", "batch", "dtype", "op", "kind",
                                            "time_s", "bound")}  # fmt: skip
    for m in models:
        for dt in dtypes:
            r = evaluate_costs(count_graph(m.graph, batches, dt, fuse=fuse), grid, policy)
            h, b, o = r.time_s.shape
            for k, v in cols.items():
                out[k].append(np.repeat(v, b * o))
            out["model"].append(np.full(h * b * o, m.name, dtype=object))
            out["dtype"].append(np.full(h * b * o, dt, dtype=object))
            out["batch"].append(np.tile(np.repeat(batches, o), h))
            out["op"].append(np.tile(np.asarray(r.costs.names, dtype=object), h * b))
            out["kind"].append(np.tile(np.asarray(r.costs.kinds, dtype=object), h * b))
            out["time_s"].append(r.time_s.ravel())
            labels = np.asarray(r.bound_labels, dtype=object)
            out["bound"].append(labels[r.bound.ravel()])
    return Table.from_columns({k: np.concatenate(v) for k, v in out.items()}, title="per op")


def n_points(vary: Mapping[str, Sequence[Any]], mode: str) -> int:
    """Number of variants a knob spec makes."""
    sizes = [len(v) for v in vary.values()]
    return (sizes[0] if sizes else 0) if mode == "zip" else math.prod(sizes)
