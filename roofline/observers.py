"""Observers: the per-operator observer pattern of Park et al. (2018) / Caffe2, over predictions.

Caffe2 attaches an observer to every operator of a net and calls ``Start()`` / ``Stop()`` around
each run; concrete observers time operators, count runs or log tensor shapes. Here an evaluation is
replayed op by op in execution order and each attached observer sees, for every run (model, device
variant, batch), ``on_run_start``, one ``on_op`` per op with its predicted metrics, and
``on_run_end``. Built-ins break time, FLOPs and bytes down by op kind, by category (the paper's
operator groups), by bound, and record a per-op trace; :class:`EnergyBreakdown` breaks the
energy down by op kind (or category, or bound) and by where it goes: compute, each memory level,
static power.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

from roofline.result import Result
from roofline.table import Table


@dataclass(frozen=True)
class Run:
    """One replayed run: a model on one device variant at one batch and dtype."""

    model: str
    device: str
    batch: float
    dtype: str
    latency_s: float


@dataclass(frozen=True)
class OpEvent:
    """Predicted metrics of one op in a run (seconds, FLOPs, bytes)."""

    index: int
    name: str
    kind: str
    category: str
    start_s: float
    time_s: float
    flops: float
    bytes_moved: float
    bytes_by_level: dict[str, float]
    bound: str
    energy_j: float = float("nan")
    energy_by_part: dict[str, float] = field(default_factory=dict)


class Observer(Protocol):
    """Receives runs and their ops in execution order."""

    def on_run_start(self, run: Run) -> None: ...

    def on_op(self, run: Run, event: OpEvent) -> None: ...

    def on_run_end(self, run: Run) -> None: ...


class _Base:
    def on_run_start(self, run: Run) -> None:
        pass

    def on_op(self, run: Run, event: OpEvent) -> None:
        pass

    def on_run_end(self, run: Run) -> None:
        pass


@dataclass
class _GroupBy(_Base):
    """Accumulate time, FLOPs and bytes per (run, group key)."""

    key: str = "kind"
    weights: dict[str, float] = field(default_factory=dict)
    _acc: dict = field(default_factory=lambda: defaultdict(lambda: [0.0, 0.0, 0.0, 0]))
    _runs: dict = field(default_factory=dict)

    def on_run_start(self, run: Run) -> None:
        self._runs[(run.model, run.device, run.batch, run.dtype)] = run

    def on_op(self, run: Run, event: OpEvent) -> None:
        acc = self._acc[(run.model, run.device, run.batch, run.dtype, getattr(event, self.key))]
        acc[0] += event.time_s
        acc[1] += event.flops
        acc[2] += event.bytes_moved
        acc[3] += 1

    def table(self) -> Table:
        """Rows per (model, device, batch, dtype, group): time, share of the run, FLOPs, bytes."""
        cols = [
            "model",
            "device",
            "batch",
            "dtype",
            self.key,
            "ops",
            "time_s",
            "time_share",
            "flops",
            "bytes_moved",
        ]
        rows = []
        for (m, d, b, dt, g), (t, f, by, n) in self._acc.items():
            lat = self._runs[(m, d, b, dt)].latency_s
            rows.append([m, d, b, dt, g, n, t, t / lat if lat else 0.0, f, by])
        return Table(cols, rows, title=f"time by {self.key}")

    def shares(self, weights: dict[str, float] | None = None) -> dict[str, float]:
        """Time share per group over all runs, each model's runs weighted by ``weights``.

        Models missing from ``weights`` get weight 1. Shares sum to 1.
        """
        w = weights or self.weights
        tot: dict[str, float] = defaultdict(float)
        for (m, _d, _b, _dt, g), (t, *_rest) in self._acc.items():
            tot[g] += t * w.get(m, 1.0)
        s = sum(tot.values())
        return {g: v / s for g, v in sorted(tot.items(), key=lambda kv: -kv[1])} if s else {}


class ByKind(_GroupBy):
    """Time, FLOPs and bytes per op kind (``conv``, ``linear``, ``embedding_bag``...)."""

    def __init__(self) -> None:
        super().__init__(key="kind")


class ByCategory(_GroupBy):
    """Per op category: the paper's groups (fc, embedding, tensor_manipulation, conv...)."""

    def __init__(self, weights: dict[str, float] | None = None) -> None:
        super().__init__(key="category", weights=dict(weights or {}))


class ByBound(_GroupBy):
    """Per bound: compute or the memory level that limits each op."""

    def __init__(self) -> None:
        super().__init__(key="bound")


class Trace(_Base):
    """A per-op timeline of every run (start and duration in seconds)."""

    def __init__(self) -> None:
        self.events: list[tuple[Run, OpEvent]] = []

    def on_op(self, run: Run, event: OpEvent) -> None:
        self.events.append((run, event))

    def table(self) -> Table:
        """One row per op per run."""
        cols = [
            "model",
            "device",
            "batch",
            "dtype",
            "index",
            "op",
            "kind",
            "category",
            "start_s",
            "time_s",
            "flops",
            "bytes_moved",
            "bound",
        ]
        rows = [
            [
                r.model,
                r.device,
                r.batch,
                r.dtype,
                e.index,
                e.name,
                e.kind,
                e.category,
                e.start_s,
                e.time_s,
                e.flops,
                e.bytes_moved,
                e.bound,
            ]
            for r, e in self.events
        ]
        return Table(cols, rows, title="trace")


class EnergyBreakdown(_Base):
    """Joules per (run, group) by where they go: ``compute``, each memory level, ``static``
    (idle power over the op's power-capped time). ``key`` groups ops: ``kind`` (default),
    ``category`` or ``bound``. A device without an energy model gives NaN."""

    def __init__(self, key: str = "kind") -> None:
        self.key = key
        self._acc: dict = defaultdict(lambda: defaultdict(float))
        self._ops: dict = defaultdict(int)
        self._parts: dict[str, None] = {}
        self._runs: dict = {}

    def on_run_start(self, run: Run) -> None:
        self._runs[(run.model, run.device, run.batch, run.dtype)] = run

    def on_op(self, run: Run, event: OpEvent) -> None:
        key = (run.model, run.device, run.batch, run.dtype, getattr(event, self.key))
        acc = self._acc[key]
        for part, joules in event.energy_by_part.items():
            self._parts.setdefault(part, None)
            acc[part] += joules
        self._ops[key] += 1

    def table(self) -> Table:
        """Rows per (model, device, batch, dtype, group): ops, joules, share of the run's
        joules, and joules per part (``compute_j``, ``<level>_j``..., ``static_j``)."""
        parts = list(self._parts)
        cols = ["model", "device", "batch", "dtype", self.key, "ops", "energy_j", "energy_share"]
        cols += [f"{p}_j" for p in parts]
        run_total: dict = defaultdict(float)
        for (m, d, b, dt, _g), acc in self._acc.items():
            run_total[(m, d, b, dt)] += sum(acc.values())
        rows = []
        for (m, d, b, dt, g), acc in self._acc.items():
            total = sum(acc.values())
            whole = run_total[(m, d, b, dt)]
            share = total / whole if whole else float("nan")
            rows.append(
                [m, d, b, dt, g, self._ops[(m, d, b, dt, g)], total, share]
                + [acc.get(p, 0.0) for p in parts]
            )
        return Table(cols, rows, title=f"energy by {self.key}")

    def by_part(self) -> dict[str, float]:
        """Joules per part over every run and group (where the energy goes)."""
        out: dict[str, float] = defaultdict(float)
        for acc in self._acc.values():
            for part, joules in acc.items():
                out[part] += joules
        return dict(out)


def replay(result: Result, observers: Iterable[Observer]) -> None:
    """Replay every run of ``result`` op by op to ``observers``."""
    obs = list(observers)
    if not obs:
        return
    ct = result.costs
    labels = result.bound_labels
    levels = result.grid.level_names
    flops = ct.flops_matrix + ct.flops_vector
    lat = result.latency_s
    parts = result.energy_labels
    op_energy = result.op_energy_j  # [H, B, O, 2 + L]
    for h, dev in enumerate(result.grid.labels):
        for j, b in enumerate(ct.batch):
            run = Run(ct.model, dev, float(b), ct.precision.name, float(lat[h, j]))
            for o in obs:
                o.on_run_start(run)
            t0 = 0.0
            times = result.time_s[h, j]
            moved = result.bytes_moved[h, j]
            for i, name in enumerate(ct.names):
                ev = OpEvent(
                    i,
                    name,
                    ct.kinds[i],
                    ct.categories[i],
                    t0,
                    float(times[i]),
                    float(flops[i, j]),
                    float(moved[i].sum()),
                    dict(zip(levels, (float(x) for x in moved[i]))),
                    labels[int(result.bound[h, j, i])],
                    float(op_energy[h, j, i].sum()),
                    dict(zip(parts, (float(x) for x in op_energy[h, j, i]))),
                )
                t0 += float(times[i])
                for o in obs:
                    o.on_op(run, ev)
            for o in obs:
                o.on_run_end(run)
