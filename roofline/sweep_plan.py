"""A sweep as independent tasks: what every task shares (:class:`SweepPlan`: the counts of each
model and dtype, the device, the knob space, the batches, the policy, the table's schema) and what
one task computes (:func:`chunk_columns`: the compact columns of a slice of variants).

A plan is plain, picklable data, shipped once to each worker (a Dask cluster scatters it); a task
is six integers. Each variant is computed independently by the same code whatever the chunking or
the machine, so the results of a sweep do not depend on where its chunks ran.

Columns are compact: ``model``, ``dtype`` and ``bound`` are integer codes into
:attr:`SweepSchema.categories`; knobs and batches are SI floats.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from roofline import energy as en
from roofline.counting import count_graph
from roofline.efficiency import has_curves
from roofline.formulas import throughput, utilization
from roofline.hardware import Hardware
from roofline.knobs import KnobSpace, grid_of
from roofline.model import Model
from roofline.records import CostTable
from roofline.result import ENERGY_COLUMNS
from roofline.totals import Totals, totals_direct, totals_full, totals_ridge
from roofline.totals_lines import Varying, totals_lines, varying_rate

#: the energy, power and cost columns of a sweep (NaN for a device without an energy model):
#: :data:`~roofline.result.ENERGY_COLUMNS` but the capped bound (the ``bound`` column has the
#: uncapped one)
SWEEP_ENERGY_COLUMNS = tuple(c for c in ENERGY_COLUMNS if c != "capped_bound")
#: the columns after the knobs, in order
RESULT_COLUMNS = (
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
#: numpy type of each result column in a chunk (codes for the categorical ones)
COLUMN_TYPES = {
    "model": np.int32,
    "batch": np.float64,
    "dtype": np.int32,
    "bound": np.int8,
    "feasible": np.bool_,
    "devices_needed": np.int64,
    "power_capped": np.bool_,
}
#: elements of temporaries a chunk of the direct path may hold per array (4 MB of float64):
#: chunks are sized by ops x batches x levels so that big models take fewer variants at once
CHUNK_ELEMENTS = 1 << 19
#: the most variants in one chunk: bigger chunks allocate arrays that malloc maps and unmaps
#: afresh each time (page faults cost more than the chunk overhead they save)
MAX_CHUNK = 8192
#: the most variants in one chunk of the line path (its temporaries are per variant, not per op)
LINE_MAX_CHUNK = 65536
#: the fewest variants in one chunk whatever the model
MIN_CHUNK = 16
#: the most variants in a sweep's first chunk (its first result comes early)
FIRST_CHUNK = 1024
#: rows of a task (a Parquet part, a worker's unit of work): several chunks, so that a task
#: outweighs its scheduling and a dataset of 1e9 rows has thousands of parts, not millions.
#: 2**19 rather than 2**17: on 2 workers of 2 cores a resnet50 sweep of 1e8 points ran 1.77x
#: serial against 1.52-1.56x (the client and the scheduler share the cores with the workers)
PART_ROWS = 1 << 19
#: estimated microseconds the line path spends per group, and per group and op (sorting), and
#: the direct paths per variant and op: the line path is taken where it costs less per variant
LINE_GROUP_US, LINE_OP_US, DIRECT_OP_US = 45.0, 0.05, 0.04


@dataclass(frozen=True, eq=False)
class SweepSchema:
    """The columns of a sweep table, its categorical columns' labels, its knob columns."""

    columns: tuple[str, ...]
    categories: dict[str, tuple[str, ...]]
    knobs: tuple[str, ...]
    title: str
    types: dict[str, Any] = field(default_factory=lambda: dict(COLUMN_TYPES))

    def dtype(self, column: str) -> np.dtype:
        """The numpy type of ``column`` in a chunk (integer codes for categorical columns;
        float64 unless :attr:`types` says otherwise)."""
        return np.dtype(self.types.get(column, np.float64))

    def row_bytes(self) -> int:
        """Bytes of one row in a chunk."""
        return sum(self.dtype(c).itemsize for c in self.columns)

    def decode(self, columns: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """``columns`` with categorical codes replaced by their labels (object arrays)."""
        return {name: self.decode_column(name, values) for name, values in columns.items()}

    def decode_column(self, name: str, values: np.ndarray) -> np.ndarray:
        """Column ``name``'s labels (an object array) if it is categorical, else ``values``."""
        labels = self.categories.get(name)
        return values if labels is None else np.asarray(labels, dtype=object)[values]


@dataclass(frozen=True, eq=False)
class SweepJob:
    """One model at one dtype: its counts, total FLOPs per batch, codes, chunk size and the rate
    its chunks group variants by (:mod:`roofline.totals_lines`; None: the direct paths)."""

    model: int
    dtype: int
    costs: CostTable
    flops: np.ndarray
    chunk: int
    varying: Varying | None = None
    varying_knob: int = -1


@dataclass(frozen=True)
class Task:
    """Variants ``start`` to ``stop`` of job ``job``, computed ``chunk`` variants at a time (a
    worker's unit of work, one Parquet part); ``index`` orders the tasks, ``row`` is the table
    row of the first point."""

    index: int
    job: int
    start: int
    stop: int
    row: int
    chunk: int

    def chunks(self, batches: int) -> Iterator[Task]:
        """The task's chunks, each as a one-chunk task (same index)."""
        for start in range(self.start, self.stop, self.chunk):
            stop = min(start + self.chunk, self.stop)
            row = self.row + (start - self.start) * batches
            yield Task(self.index, self.job, start, stop, row, self.chunk)


@dataclass(frozen=True, eq=False)
class SweepPlan:
    """Everything a worker needs to compute any chunk of a sweep (picklable, shipped once)."""

    hw: Hardware
    space: KnobSpace
    batches: np.ndarray
    policy: str
    jobs: tuple[SweepJob, ...]
    schema: SweepSchema

    @property
    def n_variants(self) -> int:
        return self.space.size

    @property
    def n_rows(self) -> int:
        """Rows of the whole table: jobs x variants x batches."""
        return len(self.jobs) * self.n_variants * self.batches.size

    def tasks(self) -> Iterator[Task]:
        """The tasks in table order (job by job, variants ascending): about :data:`PART_ROWS`
        rows each, but the very first, one chunk of at most :data:`FIRST_CHUNK` variants, so that
        the first result comes early."""
        index = 0
        nb = self.batches.size
        for j, job in enumerate(self.jobs):
            per_task = job.chunk * max(1, PART_ROWS // (job.chunk * nb))
            start = 0
            while start < self.n_variants:
                size = min(job.chunk, FIRST_CHUNK) if index == 0 else per_task
                stop = min(start + size, self.n_variants)
                yield Task(index, j, start, stop, (j * self.n_variants + start) * nb, job.chunk)
                index += 1
                start = stop


def _direct_ops(ct: CostTable, hw: Hardware, policy: str) -> int:
    """Ops the direct paths evaluate one by one per variant (the ridge path of ``single`` only
    those on both engines)."""
    if policy == "single" and not any(c is not None for c in hw.curves):
        return int(((ct.flops_matrix > 0) & (ct.flops_vector > 0)).any(axis=1).sum())
    return max(ct.n_ops, 1)


def line_rate(
    ct: CostTable, hw: Hardware, space: KnobSpace, policy: str
) -> tuple[Varying | None, int, int]:
    """(the rate to group variants by, the knob that varies it, variants per group), or
    (None, -1, 1) where the direct paths cost less per variant: in a product of knobs, the rate
    knob with the most values varies within groups of that many variants. Decided per sweep,
    never per chunk, so a variant's numbers do not depend on the chunking."""
    if space.mode != "product" or any(c is not None for c in hw.curves):
        return None, -1, 1
    best: tuple[Varying | None, int, int] = (None, -1, 1)
    for i, (path, values) in enumerate(zip(space.paths, space.values)):
        rate = varying_rate(path, hw.level_names)
        if rate is not None and len(values) > best[2]:
            best = (rate, i, len(values))
    per_group = LINE_GROUP_US + LINE_OP_US * ct.n_ops * ct.batch.size
    direct = DIRECT_OP_US * (_direct_ops(ct, hw, policy) + 25) * ct.batch.size
    if best[0] is None or per_group / best[2] >= direct:
        return None, -1, 1
    return best


def chunk_size(ct: CostTable, hw: Hardware, policy: str, per_group: int = 1) -> int:
    """Variants per chunk: temporaries of about :data:`CHUNK_ELEMENTS` elements per array.

    The direct path holds arrays of [chunk, batches, ops] (and [.., levels] while placing by
    capacity); the ridge path of ``single`` [chunk, batches] plus [chunk, ops on both engines];
    the line path places one variant per group (``per_group`` variants) [groups, batches, ops,
    levels].
    """
    batches, levels = ct.batch.size, len(hw.memory)
    if per_group > 1:
        groups = CHUNK_ELEMENTS // (batches * max(ct.n_ops, 1) * (levels + 1))
        return int(np.clip(max(groups, 1) * per_group, MIN_CHUNK, LINE_MAX_CHUNK // batches))
    if policy == "single" and not any(c is not None for c in hw.curves):
        per_variant = batches * (_direct_ops(ct, hw, policy) + 8)
    else:
        per_variant = batches * max(ct.n_ops, 1) * (levels + 1)
    return int(np.clip(CHUNK_ELEMENTS // per_variant, MIN_CHUNK, MAX_CHUNK))


def plan_sweep(
    models: Sequence[Model],
    hw: Hardware,
    space: KnobSpace,
    batches: np.ndarray,
    dtypes: Sequence[str],
    policy: str,
    fuse: bool,
    chunk: int | None = None,
) -> SweepPlan:
    """Count every model at every dtype once and lay out the sweep's table."""
    names = tuple(dict.fromkeys(m.name for m in models))
    dts = tuple(dict.fromkeys(dtypes))
    jobs = []
    for m in models:
        for dt in dtypes:
            ct = count_graph(m.graph, batches, dt, fuse=fuse)
            flops = (ct.flops_matrix + ct.flops_vector).sum(axis=0)
            rate, knob, per_group = line_rate(ct, hw, space, policy)
            size = chunk if chunk is not None else chunk_size(ct, hw, policy, per_group)
            code = (names.index(m.name), dts.index(dt))
            jobs.append(SweepJob(*code, ct, flops, size, rate, knob))
    levels = ("compute", *hw.level_names, "overhead")
    schema = SweepSchema(
        columns=(*space.paths, *RESULT_COLUMNS),
        categories={"model": names, "dtype": dts, "bound": levels},
        knobs=space.paths,
        title=f"sweep of {hw.name}",
    )
    return SweepPlan(hw, space, batches, policy, tuple(jobs), schema)


def chunk_totals(plan: SweepPlan, job: SweepJob, task: Task) -> Totals:
    """Totals [variants, batches] of one job on the variants of a one-chunk task."""
    grid = grid_of(plan.hw, plan.space.columns(task.start, task.stop))
    if has_curves(grid):
        return totals_full(job.costs, grid, plan.policy)  # the fast paths assume ideal rooflines
    if job.varying is not None:
        group = plan.space.groups(task.start, task.stop, job.varying_knob)
        return totals_lines(job.costs, grid, plan.policy, job.varying, group=group)
    if plan.policy == "single":
        return totals_ridge(job.costs, grid)
    return totals_direct(job.costs, grid, plan.policy)


def task_columns(plan: SweepPlan, task: Task) -> Iterator[dict[str, np.ndarray]]:
    """The compact columns of each chunk of a task, computed one at a time."""
    for part in task.chunks(plan.batches.size):
        yield chunk_columns(plan, part)


def task_list(plan: SweepPlan, task: Task) -> list[dict[str, np.ndarray]]:
    """:func:`task_columns` as a list (what a remote task sends back)."""
    return list(task_columns(plan, task))


def chunk_columns(plan: SweepPlan, task: Task) -> dict[str, np.ndarray]:
    """The compact columns of one chunk (a one-chunk task), in table order (variant, then
    batch)."""
    job = plan.jobs[task.job]
    knobs = plan.space.columns(task.start, task.stop)
    tot = chunk_totals(plan, job, task)
    batches = plan.batches
    h, nb = tot.latency_s.shape
    lat = np.where(tot.feasible, tot.latency_s, np.nan)  # an infeasible point has no time
    cols: dict[str, np.ndarray] = {k: np.repeat(v, nb) for k, v in knobs.items()}
    cols["model"] = np.full(h * nb, job.model, dtype=COLUMN_TYPES["model"])
    cols["batch"] = np.tile(batches, h)
    cols["dtype"] = np.full(h * nb, job.dtype, dtype=COLUMN_TYPES["dtype"])
    cols["latency_s"] = lat.ravel()
    cols["throughput_per_s"] = throughput(batches[None, :], lat).ravel()
    cols["utilization"] = utilization(job.flops, lat, tot.matrix_peak).ravel()
    cols["bound"] = np.argmax(tot.bound_time_s, axis=-1).astype(np.int8).ravel()
    cols["feasible"] = tot.feasible.ravel()
    cols["capacity_shortfall_bytes"] = tot.shortfall_bytes.ravel()
    cols["devices_needed"] = tot.devices_needed.ravel().astype(np.int64)
    for k, v in energy_columns(tot, batches).items():
        cols[k] = v.ravel()
    return {c: cols[c] for c in plan.schema.columns}


def energy_columns(tot: Totals, batches: np.ndarray) -> dict[str, np.ndarray]:
    """The :data:`SWEEP_ENERGY_COLUMNS` of a chunk [h, B] (infeasible points carry none)."""
    h = tot.latency_s.shape[0]
    e = tot.energy
    if e is None:
        nan = np.full((h, batches.size), np.nan)
        cols = {k: nan for k in SWEEP_ENERGY_COLUMNS}
        cols["power_capped"] = np.zeros((h, batches.size), dtype=bool)
        return cols
    per = en.per_sample(e.energy_j, batches[None, :])
    values = {
        "energy_per_sample_j": per,
        "avg_power_w": e.avg_power_w,
        "samples_per_j": en.samples_per_joule(per),
        "capped_throughput_per_s": throughput(batches[None, :], e.capped_latency_s),
        "cost_per_1m_samples": 1e6 * e.cost_per_sample,
    }
    cols = {k: np.where(tot.feasible, v, np.nan) for k, v in values.items()}
    cols["power_capped"] = e.power_capped
    return cols
