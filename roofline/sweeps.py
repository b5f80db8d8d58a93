"""Design-space sweeps: models x device variants x batches x dtypes -> a tidy table, in memory or
streamed.

A sweep varies knobs of one base device (``memory.hbm.bandwidth``, ``memory.sram.capacity``,
``engines.matrix.peak.fp16``..., see :func:`roofline.knobs.vary`), as a Cartesian product or
zipped lists, and evaluates every point with the totals-only fast paths of :mod:`roofline.totals`
in chunks of variants (:mod:`roofline.sweep_plan`), so memory stays bounded by the chunk.

Chunks go to a sink (:mod:`roofline.sweep_sinks`): a table (the default: in memory within the memory
budget of :mod:`roofline.budget`, beyond it in files the OS pages in, :mod:`roofline.disk_columns`),
a partitioned Parquet dataset, CSV or JSON text, or a function, chunk by chunk, so a sweep of any
size holds a few chunks at a time. They run in this process, on a ``concurrent.futures`` executor or
on a Dask cluster (:mod:`roofline.distributed`); the results are identical wherever they ran.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from roofline import budget, distributed, sweep_plan
from roofline.api import HardwareLike, ModelLike, default_dtype
from roofline.arguments import check_bool, check_count, check_executor
from roofline.batch_sizes import batch_sizes
from roofline.counting import as_batches, count_graph
from roofline.errors import SpecError
from roofline.evaluation import evaluate_costs
from roofline.fusion import fusion_groups
from roofline.hardware import Hardware
from roofline.knobs import KnobSpace, check_grid_size, knob_space, warn_unread
from roofline.knobs import vary as variant_grid
from roofline.model import Model
from roofline.placement import get_policy
from roofline.presets import load_hardware, load_model
from roofline.sweep_plan import SWEEP_ENERGY_COLUMNS, SweepPlan, SweepSchema, plan_sweep
from roofline.sweep_sinks import SweepOutput, SweepTable, sink_for
from roofline.systems.spec import System
from roofline.systems.sweep import sweep_system_columns
from roofline.table import Table

__all__ = ["SWEEP_ENERGY_COLUMNS", "Progress", "SweepOutput", "SweepTable", "n_points", "sweep"]


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
    if not dtypes:
        raise SpecError(
            "an empty list of dtypes",
            field="dtype",
            fix="give one or several, e.g. 'fp16' or ['fp16', 'int8'], or leave dtype out",
        )
    if isinstance(target, System):
        device, paths = target.device, [p[7:] for p in vary if p.startswith("device.")]
    else:
        device, paths = target, list(vary)
    for dt in dtypes:
        warn_unread(device, paths, dt, on_system=isinstance(target, System))
    return dtypes


def knob_grid(hw: Hardware, knobs: Mapping[str, Sequence[Any]], mode: str) -> KnobSpace:
    """The sweep's :class:`~roofline.knobs.KnobSpace` (nothing allocated); at least one knob."""
    if not knobs:
        raise SpecError(
            "no knob to vary", field="vary", fix="e.g. {'memory.main.bandwidth': [...]}"
        )
    return knob_space(hw, knobs, mode)


@dataclass
class Progress:
    """A progress line on stderr with the rate and the time left, shown only once a run has
    taken longer than ``delay`` s; :attr:`first` is the time the first result arrived."""

    total: int
    label: str = "sweep"
    delay: float = 1.0
    stream: Any = None

    def __post_init__(self) -> None:
        self.start = time.perf_counter()
        self.done = 0
        self.first: float | None = None
        self.shown = False
        self.last = 0.0
        self.stream = sys.stderr if self.stream is None else self.stream
        isatty = getattr(self.stream, "isatty", lambda: False)
        self.tty = bool(isatty())
        self.every = 0.1 if self.tty else 5.0

    def restart(self) -> None:
        """Count time from now (after a cluster started)."""
        self.start = time.perf_counter()

    def update(self, n: int) -> None:
        self.done += n
        now = time.perf_counter()
        elapsed = now - self.start
        if self.first is None:
            self.first = elapsed
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
        rate = self.done / elapsed if elapsed > 0 else 0.0
        left = (self.total - self.done) / rate if rate > 0 else float("inf")
        eta = "done" if finished else f"ETA {_duration(left)}"
        self.stream.write(
            f"{start}{self.label}: [{bar:<30}] {100 * frac:5.1f}% "
            f"({self.done}/{self.total} points, {elapsed:.1f} s, {rate:.3g} points/s, {eta}){end}"
        )
        if self.tty and finished:
            self.stream.write("\n")
        self.stream.flush()


def _duration(s: float) -> str:
    """``75`` -> ``1m15s``: the time left, to the second."""
    if not math.isfinite(s):
        return "?"
    s = int(round(s))
    h, rest = divmod(s, 3600)
    m, sec = divmod(rest, 60)
    return f"{h}h{m:02d}m" if h else f"{m}m{sec:02d}s" if m else f"{sec}s"


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
    progress: Callable[[int], None] | Progress | None = None,
    per_op: bool = False,
    tp: Any = 1,
    pp: Any = 1,
    ep: Any = 1,
    all_layouts: bool = False,
    cp: Any = 1,
    out: str | os.PathLike | Callable[[Any], Any] | None = None,
    scheduler: str | None = None,
    workers: int | None = None,
    window: int | None = None,
    memory_budget: float | str | None = None,
) -> SweepTable | SweepOutput:
    """Evaluate models on every variant of ``base_device``; one row per point, in memory or
    streamed to ``out``.

    A sweep run in this process sets glibc's malloc to keep freed memory for reuse
    (:func:`roofline.distributed.keep_freed_memory`: chunks allocate and free the same arrays
    over and over, and the default returns them to the system each time, which costs up to half
    of a sweep's time in page faults); the process keeps up to 256 MB of freed heap afterwards.

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
    chunk : variants evaluated at once; default: sized by ops x batches x levels so that each
        temporary array holds about :data:`~roofline.sweep_plan.CHUNK_ELEMENTS` elements
    executor : a ``concurrent.futures.Executor`` to run chunks on (results identical)
    progress : called with the number of points finished after each chunk, or a
        :class:`Progress` (its clock restarts once a Dask cluster is up)
    per_op : also attach ``table.per_op``, a Table with one row per point and op (knobs, model,
        batch, dtype, op, kind, time_s, bound): for small sweeps, up to :data:`MAX_PER_OP_ROWS`
        and within the memory budget, both checked and the detail computed before any row is
        written
    tp, pp, ep, cp, all_layouts : on a system, the layouts of each variant: the degrees given
        (each an int or a list; ``dp`` fills the variant, combinations that cannot are skipped),
        or with ``all_layouts`` every layout that fills it
    out : where the rows go: None (default) returns the table, held in memory within the memory
        budget and on disk beyond it (:mod:`roofline.disk_columns`); a path streams them chunk by
        chunk: ``"x.parquet"`` a partitioned Parquet dataset (a directory;
        :func:`roofline.sweep_sinks.read_sweep` reads it back), ``"x.csv"`` or ``"x.json"`` text as
        the table's ``to_csv``/``to_json``; a function is called with each
        :class:`~roofline.sweep_sinks.SweepChunk` in table order
    scheduler : ``"tcp://host:port"``: run the chunks on that Dask cluster (workers write their
        Parquet parts themselves: the path must be on a filesystem they share)
    workers : run the chunks on a Dask ``LocalCluster`` of this many single-threaded worker
        processes, started and closed by the call (a script doing this needs the
        ``if __name__ == "__main__":`` guard)
    window : most tasks (about 524,288 rows each) submitted but not yet written (default 4 per
        worker): bounds the memory of results waiting for an earlier one
    memory_budget : bytes or a size (``"16 GiB"``) the table may take in memory before it goes to
        disk, and the budget of the per-op detail and of a system's variants (default
        :mod:`roofline.budget`: 4 GiB or ``ROOFLINE_MEMORY_BUDGET``; checked first, either way).
        A system sweep is computed in this process as one chunk: ``per_op``, ``executor``,
        ``scheduler``, ``workers``, ``chunk`` and ``window`` are refused there, and ``progress``
        is told its points once they are done

    Returns
    -------
    SweepTable, or SweepOutput when ``out`` is given
        Columns: the knob paths (SI values), ``model``, ``batch``, ``dtype``, ``latency_s``,
        ``throughput_per_s``, ``utilization``, ``bound``, ``feasible``,
        ``capacity_shortfall_bytes``, ``devices_needed``, and the energy columns
        (:data:`SWEEP_ENERGY_COLUMNS`: ``energy_per_sample_j``, ``avg_power_w``,
        ``samples_per_j``, ``capped_throughput_per_s``, ``cost_per_1m_samples``,
        ``power_capped``; NaN for a device without an energy model; an infeasible point has no
        latency, throughput, utilization or energy: NaN); rows ordered by model,
        dtype, variant, batch. On a system: the knob paths and
        :data:`~roofline.systems.result.SYSTEM_COLUMNS`, ordered by model, dtype, variant,
        layout, batch. A :class:`~roofline.sweep_sinks.SweepOutput` says where the rows went.
    """
    budget.memory_budget(memory_budget)  # the budget is valid, whether or not a sink reads it
    model_list = (
        [models]
        if isinstance(models, (str, dict)) or not isinstance(models, Sequence)
        else list(models)
    )
    if not model_list:
        raise SpecError(
            "an empty list of models",
            field="models",
            fix="give one or several, e.g. 'resnet50' or ['resnet50', 'bert_base']",
        )
    check_executor(executor)
    fuse = check_bool("fuse", fuse)
    pol = get_policy(policy).name
    batches = as_batches(batch_sizes(batch))
    target = load_hardware(base_device)
    dtypes = sweep_dtypes(target, vary, dtype)
    sink = sink_for(out, budget=memory_budget)
    for name, count in (("chunk", chunk), ("window", window)):
        if count is not None:
            check_count(name, count, example=65536 if name == "chunk" else 8)
    if executor is not None and (scheduler is not None or workers is not None):
        raise SpecError(
            "give an executor or a Dask cluster, not both",
            field="executor",
            fix="drop executor= to use scheduler= or workers=",
        )
    if isinstance(target, System):
        _system_options(
            per_op=per_op, executor=executor, scheduler=scheduler, workers=workers, chunk=chunk,
            window=window,
        )  # fmt: skip
        with budget.budget_in_effect(memory_budget):
            return _system_sweep(
                model_list, target, vary, batches, dtypes, mode, pol, fuse,
                (tp, pp, ep, all_layouts, cp), sink, progress,
            )  # fmt: skip
    hw = target
    space = knob_grid(hw, vary, mode)
    loaded = [load_model(m) for m in model_list]
    plan = plan_sweep(loaded, hw, space, batches, dtypes, pol, fuse, chunk)
    detail = None
    if per_op:  # checked and computed before a row is written: a refusal leaves nothing
        with budget.budget_in_effect(memory_budget):  # every check below uses memory_budget=
            _check_per_op(loaded, hw, space, batches, dtypes, fuse)
            detail = _per_op_table(loaded, hw, space.columns(), batches, dtypes, pol, fuse)

    def drive(write: Callable[[Any, Any], None]) -> None:
        _run(plan, write, executor, scheduler, workers, window, progress, sink)

    result = sink.run(plan.schema, plan.n_rows, drive)
    if detail is not None:
        if isinstance(result, SweepTable):
            result.per_op = detail
        else:
            result = replace(result, per_op=detail)
    return result


#: why a system sweep refuses each option it cannot honour
_SYSTEM_REFUSALS = {
    "per_op": "a system sweep has totals per layout only",
    "executor": "a system sweep runs in this process",
    "scheduler": "a system sweep runs in this process",
    "workers": "a system sweep runs in this process",
    "chunk": "a system sweep is computed as one chunk",
    "window": "a system sweep is computed as one chunk",
}
#: how a message spells an option: as the API's argument, and as the command line's flag (None:
#: the command line has none)
_SPELLINGS: dict[str, tuple[str, str | None]] = {
    "per_op": ("per_op", "--per-op"),
    "executor": ("executor=", None),
    "scheduler": ("scheduler=", "--scheduler"),
    "workers": ("workers=", "--workers"),
    "chunk": ("chunk=", None),
    "window": ("window=", None),
    "out": ("out='sweep.parquet'", "-o sweep.parquet"),
}


def system_refusal(name: str, cli: bool = False) -> SpecError:
    """The refusal of option ``name`` (a key of :data:`_SYSTEM_REFUSALS`) by a system sweep,
    spelled as the API's argument or (``cli``) as the command line's flag."""
    api, flag = _SPELLINGS[name]
    option, drop = (flag, flag) if cli and flag else (name, api)
    return SpecError(
        f"a system sweep does not take {option}",
        field=option,
        fix=f"drop {drop}: {_SYSTEM_REFUSALS[name]}",
    )


def per_op_for_cli(exc: SpecError) -> SpecError:
    """A per-op refusal of :func:`sweep` (field ``per_op``) as the command line spells it:
    ``--per-op`` and ``-o sweep.parquet`` for ``per_op`` and ``out='sweep.parquet'``."""
    fix = exc.fix or ""
    for name, prefix in (("per_op", "drop "), ("out", "")):
        api, flag = _SPELLINGS[name]
        fix = fix.replace(prefix + api, f"{prefix}{flag}")
    return SpecError(exc.problem, file=exc.file, field="--per-op", fix=fix)


def _system_options(**given: Any) -> None:
    """Refuse the options a system sweep cannot honour (:data:`_SYSTEM_REFUSALS`), rather than
    ignore them."""
    for name, value in given.items():
        if value is not None and value is not False:
            raise system_refusal(name)


def _run(
    plan: SweepPlan,
    write: Callable[[Any, Any], None],
    executor: Executor | None,
    scheduler: str | None,
    workers: int | None,
    window: int | None,
    progress: Callable[[int], None] | Progress | None,
    sink: Any,
) -> None:
    """Run the plan's chunks where asked, handing each to ``write`` in table order."""
    bar = progress if isinstance(progress, Progress) else None
    report = progress.update if isinstance(progress, Progress) else progress
    if scheduler is None and workers is None:
        distributed.keep_freed_memory()  # this process computes or writes every chunk
        if executor is None:
            distributed.run_serial(plan, plan.tasks(), sweep_plan.task_columns, write, report)
            return
        per = getattr(executor, "_max_workers", 2) or 2
        distributed.run_executor(
            executor, plan, plan.tasks(), sweep_plan.task_list, write, report,
            window or distributed.WINDOW_PER_WORKER * per,
        )  # fmt: skip
        return
    with distributed.dask_client(scheduler, workers) as client:
        if bar is not None:
            bar.restart()
        writer = getattr(sink, "remote", None)
        distributed.run_dask(
            client, plan, plan.tasks(),
            sweep_plan.task_list if writer is None else sweep_plan.task_columns,
            write, report,
            window or distributed.WINDOW_PER_WORKER * distributed.n_workers(client),
            writer,
        )  # fmt: skip


def _system_sweep(
    models: list[Any],
    system: System,
    vary: Mapping[str, Sequence[Any]],
    batches: np.ndarray,
    dtypes: list[str],
    mode: str,
    policy: str,
    fuse: bool,
    layout: tuple[Any, Any, Any, bool, Any],
    sink: Any,
    progress: Callable[[int], None] | Progress | None = None,
) -> SweepTable | SweepOutput:
    """A sweep over a system's variants, as one chunk handed to the sink; ``progress`` is told
    its points (variants x models x dtypes, as a device sweep's) once the chunk is written. The
    variants are checked against the budget in effect (:func:`roofline.budget.budget_in_effect`)."""
    tp, pp, ep, all_layouts, cp = layout
    cols, knobs = sweep_system_columns(
        [load_model(m) for m in models], system, vary, batches, dtypes, mode, policy, fuse,
        tp, pp, ep, all_layouts, cp,
    )  # fmt: skip
    points = n_points(vary, mode) * len(models) * len(dtypes)
    report = progress.update if isinstance(progress, Progress) else progress
    n = len(next(iter(cols.values()))) if cols else 0
    categories: dict[str, tuple[str, ...]] = {}
    for name, values in cols.items():  # text columns as codes, as a device sweep's
        if values.dtype == object and all(isinstance(x, str) for x in values):
            labels, codes = np.unique(values.astype(str), return_inverse=True)
            categories[name] = tuple(str(x) for x in labels)
            cols[name] = codes.astype(np.int32)
    schema = SweepSchema(
        columns=tuple(cols),
        categories=categories,
        knobs=knobs,
        title=f"sweep of {system.name}",
        types={k: v.dtype for k, v in cols.items()},
    )
    task = sweep_plan.Task(0, 0, 0, n, 0, max(n, 1))

    def drive(write: Callable[[Any, Any], None]) -> None:
        if n:
            write(task, [cols])
        if report is not None:
            report(points)

    return sink.run(schema, n, drive)


def _check_per_op(
    models: Sequence[Model],
    hw: Hardware,
    space: KnobSpace,
    batches: np.ndarray,
    dtypes: Sequence[str],
    fuse: bool,
) -> None:
    """Refuse per-op detail beyond :data:`MAX_PER_OP_ROWS` rows or beyond the memory budget
    (that of the :func:`roofline.budget.budget_in_effect` block it runs in, else
    :mod:`roofline.budget`'s), before sweeping (a row per kernel: a
    fused group, or an op unfused). The variants' grid is checked as :func:`roofline.vary`
    checks it; then the full evaluation of the biggest model (as
    :func:`roofline.budget.check_evaluation_size` counts it) and the detail's columns, as pieces
    and joined, together."""
    points = space.size
    kernels = [len(fusion_groups(m.graph)) if fuse else len(m.graph.ops) for m in models]
    rows = points * batches.size * sum(kernels) * len(dtypes)
    if rows > MAX_PER_OP_ROWS:
        raise SpecError(
            f"per-op detail would have {rows} rows",
            field="per_op",
            fix=f"sweep fewer points (at most {MAX_PER_OP_ROWS} rows) or drop per_op",
        )
    check_grid_size(hw, space)
    evaluation = budget.evaluation_bytes(points, batches.size, max(kernels), len(hw.memory))
    table = 2 * 8.0 * rows * (len(space.paths) + len(PER_OP_COLUMNS))
    budget.check_budget(
        evaluation + table,
        f"per-op detail of {rows:,} rows ({points:,} variants)",
        field="per_op",
        fix="sweep fewer points, or drop per_op (the totals stream at any size: out="
        "'sweep.parquet')",
    )


#: the largest per-op detail a sweep builds (rows = points x batches x ops)
MAX_PER_OP_ROWS = 2_000_000
#: the per-op detail's columns after the knobs
PER_OP_COLUMNS = ("model", "batch", "dtype", "op", "kind", "time_s", "bound")


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
    out: dict[str, list] = {k: [] for k in (*cols, *PER_OP_COLUMNS)}
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
