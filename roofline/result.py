"""Result of an evaluation: named arrays over (hardware variant, batch, op, level) and exports.

Array names carry SI suffixes; shapes use H variants, B batches, O ops, L memory levels.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from roofline import energy as en
from roofline.arguments import real_number
from roofline.errors import SpecError
from roofline.formulas import dominant, throughput, time_by_bound, utilization
from roofline.grid import HardwareGrid
from roofline.kinds import Bound, EngineKind
from roofline.records import CostTable
from roofline.table import Table, html_table

#: the energy, power and cost columns of :meth:`Result.totals` (and of compare and sweep)
ENERGY_COLUMNS = (
    "energy_per_sample_j",
    "avg_power_w",
    "samples_per_j",
    "capped_throughput_per_s",
    "cost_per_1m_samples",
    "power_capped",
    "capped_bound",
)


@dataclass(frozen=True, eq=False)
class Result:
    """Per-op predictions and totals of one model at one precision.

    Attributes
    ----------
    costs : CostTable
    grid : HardwareGrid
    policy : str
    time_s, compute_time_s, overhead_s, tile_utilization : ndarray [H, B, O]
    level_time_s, bytes_moved : ndarray [H, B, O, L]
    bound : ndarray of int [H, B, O]
        0 = compute, 1 + l = memory level l (see :meth:`bound_labels`).
    feasible : ndarray of bool [H, B]
    shortfall_bytes, footprint_bytes, devices_needed : ndarray [H, B]
    matrix_peak : ndarray [H]
        Matrix-engine FLOP/s at the compute dtype (times efficiency), for utilization.
    ideal_time_s : ndarray [H, B, O] or None
        Op seconds of the ideal roofline, without the device's size-dependent efficiency curves
        (:mod:`roofline.efficiency`); None or ``time_s`` itself when the device has none.
    strict_time_s : ndarray [H, B, O] or None
        Op seconds of the strict roofline bound (:func:`roofline.formulas.strict_time`: no launch
        overhead, no efficiency derating, no tile padding): what no measured system can beat.
    launch : str
        How launch overhead was paid: ``kernel`` (one per kernel) or ``graph`` (one per run).

    Energy, power and cost (:mod:`roofline.energy`) are derived on demand: ``dynamic_energy_j``,
    ``energy_j``, ``energy_per_sample_j``, ``samples_per_j``, ``avg_power_w``,
    ``capped_latency_s``, ``capped_throughput_per_s``, ``power_capped``, ``clock_fraction``,
    ``cost_per_1m_samples`` [H, B]; ``op_energy_j`` [H, B, O, 2 + L] by ``energy_labels``. The
    times above are uncapped; the capped ones sit beside them.
    """

    costs: CostTable
    grid: HardwareGrid
    policy: str
    time_s: np.ndarray
    compute_time_s: np.ndarray
    level_time_s: np.ndarray
    bytes_moved: np.ndarray
    bound: np.ndarray
    tile_utilization: np.ndarray
    overhead_s: np.ndarray
    feasible: np.ndarray
    shortfall_bytes: np.ndarray
    footprint_bytes: np.ndarray
    devices_needed: np.ndarray
    matrix_peak: np.ndarray
    ideal_time_s: np.ndarray | None = None
    strict_time_s: np.ndarray | None = None
    launch: str = "kernel"

    # -- reductions ------------------------------------------------------------------------------
    @property
    def bound_labels(self) -> tuple[str, ...]:
        """Label of each bound code: ``compute`` then the memory level names."""
        return ("compute", *self.grid.level_names)

    @property
    def latency_s(self) -> np.ndarray:
        """Model latency [H, B]: the sum of op times in execution order (seconds)."""
        return self.time_s.sum(axis=-1)

    @property
    def ideal_latency_s(self) -> np.ndarray:
        """Latency [H, B] of the ideal roofline, without efficiency curves (seconds)."""
        return self.latency_s if self.ideal_time_s is None else self.ideal_time_s.sum(axis=-1)

    @property
    def latency_bound_s(self) -> np.ndarray:
        """Strict-bound latency [H, B]: the least time the model can take (seconds)."""
        strict = self.time_s - self.overhead_s if self.strict_time_s is None else self.strict_time_s
        return strict.sum(axis=-1)

    @property
    def throughput_bound_per_s(self) -> np.ndarray:
        """Strict-bound throughput [H, B]: samples per second no system can exceed."""
        return throughput(self.costs.batch[None, :], self.latency_bound_s)

    @property
    def throughput_per_s(self) -> np.ndarray:
        """Samples per second [H, B]."""
        return throughput(self.costs.batch[None, :], self.latency_s)

    @property
    def flops(self) -> np.ndarray:
        """Total FLOPs [B] (matrix + vector)."""
        return (self.costs.flops_matrix + self.costs.flops_vector).sum(axis=0)

    @property
    def flops_mac(self) -> np.ndarray:
        """2 x multiply-accumulates of every GEMM and convolution [B] (torch's FLOP counter)."""
        return self.costs.flops_mac.sum(axis=0)

    @property
    def utilization(self) -> np.ndarray:
        """Achieved FLOP/s over the matrix-engine peak at the compute dtype [H, B]."""
        return utilization(self.flops, self.latency_s, self.matrix_peak)

    @property
    def summary_labels(self) -> tuple[str, ...]:
        """Labels of :meth:`time_by_bound`'s last axis: the bounds, then ``overhead``."""
        return (*self.bound_labels, "overhead")

    def time_by_bound(self) -> np.ndarray:
        """Seconds [H, B, 2 + L]: each op's roofline time under its bound (compute, then the
        memory levels), and all per-op overhead in the last slot (``overhead``).

        Keeping launch overhead apart says when a model is launch-bound (many small kernels)
        rather than crediting that time to whatever bounds each kernel's work.
        """
        return time_by_bound(self.time_s, self.overhead_s, self.bound, len(self.bound_labels))

    def dominant_bound(self) -> np.ndarray:
        """Label array [H, B] of the largest share of time: a bound, or ``overhead``."""
        return dominant(self.summary_labels, self.time_by_bound())

    # -- energy and power (roofline.energy; NaN for a device without an energy model) ----------
    @property
    def energy_labels(self) -> tuple[str, ...]:
        """Labels of :attr:`op_energy_j`'s last axis: ``compute``, each level, ``static``."""
        return (en.COMPUTE, *self.grid.level_names, en.STATIC)

    @cached_property
    def dynamic_op_energy_j(self) -> np.ndarray:
        """Joules [H, B, O, 1 + L] of each op's arithmetic (``compute``) and of the bytes each
        memory level serves it."""
        ct, grid = self.costs, self.grid
        dtype = ct.precision.compute
        comp = en.compute_energy(
            ct.flops_matrix,
            ct.flops_vector,
            grid.energy_per_flop(EngineKind.MATRIX, dtype),
            grid.energy_per_flop(EngineKind.VECTOR, dtype),
        )
        levels = en.level_energy(self.bytes_moved, grid.energy_arrays().level)
        return np.concatenate([comp[..., None], levels], axis=-1)

    @cached_property
    def dynamic_energy_j(self) -> np.ndarray:
        """Dynamic joules [H, B] of a run: every op's FLOPs and bytes."""
        return self.dynamic_op_energy_j.sum(axis=(-2, -1))

    @cached_property
    def power_floor_s(self) -> np.ndarray:
        """The least seconds [H, B] a run can take at the power limit: dynamic energy over
        (TDP - idle power)."""
        e = self.grid.energy_arrays()
        return en.power_floor_s(self.dynamic_energy_j, e.tdp, e.idle)

    @property
    def power_capped(self) -> np.ndarray:
        """Where the power cap binds [H, B]: the run would draw more than the TDP."""
        return en.is_capped(self.latency_s, self.power_floor_s)

    @property
    def capped_latency_s(self) -> np.ndarray:
        """Latency [H, B] under the power cap: ``max(latency, power floor)`` (seconds)."""
        return en.capped_latency(self.latency_s, self.power_floor_s)

    @property
    def capped_throughput_per_s(self) -> np.ndarray:
        """Samples per second [H, B] under the power cap."""
        return throughput(self.costs.batch[None, :], self.capped_latency_s)

    @cached_property
    def _clock(self) -> tuple[np.ndarray, np.ndarray]:
        return en.clock_fraction(
            self.compute_time_s,
            self.level_time_s.max(axis=-1),
            self.overhead_s,
            self.capped_latency_s,
            self.power_capped,
        )

    @property
    def clock_fraction(self) -> np.ndarray:
        """Clock [H, B] as a fraction of the peaks' clock that holds a capped run at its TDP
        (1 where the cap does not bind; :func:`roofline.energy.clock_fraction`)."""
        return self._clock[0]

    @property
    def capped_time_s(self) -> np.ndarray:
        """Op seconds [H, B, O] at the capped clock (compute time / clock fraction)."""
        return self._clock[1]

    @cached_property
    def op_energy_j(self) -> np.ndarray:
        """Joules [H, B, O, 2 + L] of each op by :attr:`energy_labels`: compute, each level's
        bytes, and static power over the op's capped time."""
        idle = self.grid.energy_arrays().idle
        static = idle[:, None, None] * self.capped_time_s
        return np.concatenate([self.dynamic_op_energy_j, static[..., None]], axis=-1)

    @property
    def energy_j(self) -> np.ndarray:
        """Joules [H, B] of a run: dynamic + idle power x capped latency."""
        idle = self.grid.energy_arrays().idle
        return en.run_energy(self.dynamic_energy_j, idle, self.capped_latency_s)

    def energy_by_part(self) -> np.ndarray:
        """Joules [H, B, 2 + L] of a run by :attr:`energy_labels` (compute, levels, static)."""
        idle = self.grid.energy_arrays().idle
        static = idle[:, None] * self.capped_latency_s
        dyn = self.dynamic_op_energy_j.sum(axis=-2)
        return np.concatenate([dyn, static[..., None]], axis=-1)

    @property
    def energy_per_sample_j(self) -> np.ndarray:
        """Joules per sample [H, B]."""
        return en.per_sample(self.energy_j, self.costs.batch[None, :])

    @property
    def samples_per_j(self) -> np.ndarray:
        """Samples per joule [H, B]."""
        return en.samples_per_joule(self.energy_per_sample_j)

    @property
    def avg_power_w(self) -> np.ndarray:
        """Average watts [H, B] over the capped run (at most the TDP)."""
        return en.average_power(self.energy_j, self.capped_latency_s)

    @property
    def cost_per_1m_samples(self) -> np.ndarray:
        """Dollars [H, B] per million samples (NaN where the device has no price)."""
        hold = en.per_sample(self.capped_latency_s, self.costs.batch[None, :])
        e = self.grid.energy_arrays()
        return 1e6 * en.cost_per_sample(e, hold, self.energy_per_sample_j)

    def capped_bound(self) -> np.ndarray:
        """Label array [H, B]: ``power`` where the cap binds, else :meth:`dominant_bound`."""
        return np.where(self.power_capped, str(Bound.POWER), self.dominant_bound())

    def if_fits(self, a: Any) -> np.ndarray:
        """``a`` (an array [H, B], or one broadcasting to it) where the point fits its device,
        NaN where it does not: a point that does not fit has no time, energy or rate."""
        return np.where(self.feasible, a, np.nan)

    # -- tables ----------------------------------------------------------------------------------
    def totals(self) -> Table:
        """One row per (device variant, batch): latency, throughput, utilization, bound...

        A point where the model does not fit (``feasible`` false) carries no latency,
        throughput or utilization (NaN: ``-`` for people, null in JSON, empty in CSV); the
        arrays (``latency_s``...) keep the times it would take if it fit.
        """
        ct = self.costs
        params = float(ct.weight_elems.sum())
        wbytes = float(ct.weight_bytes.sum())
        live = ct.live_act_bytes.max(axis=0)
        lat, thr, util = self.latency_s, self.throughput_per_s, self.utilization
        ideal = self.ideal_latency_s
        dom = self.dominant_bound()
        moved = self.bytes_moved.sum(axis=-2)  # [H, B, L]
        tb = self.time_by_bound()
        cols = [
            "model",
            "device",
            "batch",
            "dtype",
            "policy",
            "params",
            "flops",
            "flops_mac",
            "weight_bytes",
            "max_live_activation_bytes",
            "kv_cache_bytes",
            "latency_s",
            "ideal_latency_s",
            "latency_bound_s",
            "throughput_per_s",
            "throughput_bound_per_s",
            "utilization",
            "bound",
            "feasible",
            "capacity_shortfall_bytes",
            "devices_needed",
            *ENERGY_COLUMNS,
        ]
        cols += [f"{n}_bytes" for n in self.grid.level_names]
        cols += [f"{b}_bound_time_s" for b in self.bound_labels] + ["overhead_time_s"]
        cols += list(self.grid.knobs)
        H, B = lat.shape
        batches = [_num(b) for b in ct.batch]

        def per_point(a: Any) -> Any:  # [H, B] -> H*B in row order (variant, then batch)
            return np.broadcast_to(a, (H, B)).ravel()

        def if_fits(a: np.ndarray) -> Any:  # an infeasible point has no time
            return per_point(self.if_fits(a))

        values = [
            [ct.model] * (H * B),
            np.repeat(np.asarray(self.grid.labels, dtype=object), B),
            batches * H,
            [ct.precision.name] * (H * B),
            [self.policy] * (H * B),
            per_point(params),
            per_point(self.flops[None, :]),
            per_point(self.flops_mac[None, :]),
            per_point(wbytes),
            per_point(live[None, :]),
            per_point(ct.kv_footprint_bytes.sum(axis=0)[None, :]),
            if_fits(lat),
            if_fits(ideal),
            if_fits(self.latency_bound_s),
            if_fits(thr),
            if_fits(self.throughput_bound_per_s),
            if_fits(util),
            per_point(dom.astype(str)),
            per_point(self.feasible.astype(bool)),
            per_point(self.shortfall_bytes.astype(float)),
            per_point(self.devices_needed.astype(int)),
            if_fits(self.energy_per_sample_j),
            if_fits(self.avg_power_w),
            if_fits(self.samples_per_j),
            if_fits(self.capped_throughput_per_s),
            if_fits(self.cost_per_1m_samples),
            per_point(self.power_capped.astype(bool)),
            per_point(self.capped_bound().astype(str)),
        ]
        values += [moved[..., k].ravel() for k in range(moved.shape[-1])]
        values += [if_fits(tb[..., k]) for k in range(tb.shape[-1])]
        values += [np.repeat(v, B) for v in self.grid.knobs.values()]
        title = f"{ct.model} ({ct.precision.name}, {self.policy})"
        return Table.from_columns(dict(zip(cols, values)), title=title)

    def per_op(self, device: int | str = 0, batch: Any = None) -> Table:
        """One row per op (and per batch unless ``batch`` picks one) on one device variant
        (``device``: its index or label). A device or a batch this result did not evaluate is a
        :class:`~roofline.errors.SpecError` naming those it did."""
        ct = self.costs
        h = self._device_index(device)
        js = range(ct.batch.size) if batch is None else [self.batch_index(batch)]
        labels = self.bound_labels
        cols = [
            "model",
            "device",
            "batch",
            "op",
            "kind",
            "category",
            "flops",
            "flops_matrix",
            "flops_vector",
            "flops_mac",
            "params",
            "weight_bytes",
            "weight_read_bytes",
            "act_in_bytes",
            "act_out_bytes",
            "kv_bytes",
            "bytes_moved",
            "intensity_flops_per_byte",
            "compute_time_s",
            "time_s",
            "bound",
            "tile_utilization",
        ]
        cols += [f"{n}_bytes" for n in self.grid.level_names]
        rows = []
        for j in js:
            for i, name in enumerate(ct.names):
                fl = float(ct.flops_matrix[i, j] + ct.flops_vector[i, j])
                moved = float(self.bytes_moved[h, j, i].sum())
                rows.append(
                    [
                        ct.model,
                        self.grid.labels[h],
                        _num(ct.batch[j]),
                        name,
                        ct.kinds[i],
                        ct.categories[i],
                        fl,
                        float(ct.flops_matrix[i, j]),
                        float(ct.flops_vector[i, j]),
                        float(ct.flops_mac[i, j]),
                        float(ct.weight_elems[i]),
                        float(ct.weight_bytes[i]),
                        float(ct.weight_read_bytes[i, j]),
                        float(ct.act_in_bytes[i, j]),
                        float(ct.act_out_bytes[i, j]),
                        float(ct.kv_bytes[i, j]),
                        moved,
                        fl / moved if moved else float("inf"),
                        float(self.compute_time_s[h, j, i]),
                        float(self.time_s[h, j, i]),
                        labels[int(self.bound[h, j, i])],
                        float(self.tile_utilization[h, j, i]),
                    ]
                    + [float(x) for x in self.bytes_moved[h, j, i]]
                )
        return Table(cols, rows, title=f"{ct.model} on {self.grid.labels[h]} per op")

    def batch_index(self, batch: Any) -> int:
        """The index of batch size ``batch`` on the batch axis; a SpecError naming the evaluated
        batches when it is not one of them."""
        hits = (
            np.flatnonzero(self.costs.batch == batch)
            if real_number(batch) is not None
            else np.array([])
        )
        if len(hits) == 0:
            evaluated = ", ".join(f"{_num(b)}" for b in self.costs.batch)
            raise SpecError(
                f"batch {batch!r} was not evaluated (this result has batch {evaluated})",
                field="batch",
                fix=f"use one of {evaluated}, or evaluate with batch=[..., {batch!r}]",
            )
        return int(hits[0])

    def _device_index(self, device: int | str) -> int:
        """The index of ``device`` (an index or a label); a SpecError naming the variants."""
        labels = self.grid.labels
        if isinstance(device, str) and device in labels:
            return labels.index(device)
        whole = real_number(device) is not None and float(device).is_integer()
        if whole and -len(labels) <= int(device) < len(labels):
            return int(device) % len(labels)
        raise SpecError(
            f"no device {device!r} in this result",
            field="device",
            fix=f"use an index below {len(labels)} or a label: " + ", ".join(labels[:8]),
        )

    def to_records(self) -> list[dict[str, Any]]:
        """Totals as a list of dicts."""
        return self.totals().to_records()

    def to_csv(self) -> str:
        """Totals as CSV (raw SI numbers)."""
        return self.totals().to_csv()

    def to_json(self) -> str:
        """Totals as a JSON list of objects (raw SI numbers)."""
        return self.totals().to_json()

    def to_markdown(self) -> str:
        """Totals as a markdown table (human units)."""
        return self.totals().to_markdown()

    def to_pandas(self):
        """Totals as a pandas DataFrame."""
        return self.totals().to_pandas()

    def __repr__(self) -> str:
        n = len(self.grid.labels)
        batches = [_num(b) for b in self.costs.batch]
        return f"Result({self.costs.model}, {n} devices, batch {batches})"

    def _repr_html_(self) -> str:
        """The totals in human units, under a line naming model, dtype, devices and batches."""
        ct = self.costs
        devices = ", ".join(self.grid.labels[:6]) + (" ..." if len(self.grid.labels) > 6 else "")
        head = (
            f"{ct.model} at {ct.precision.name} on {devices}, batch "
            f"{', '.join(f'{b:g}' for b in ct.batch)} ({self.policy} placement)"
        )
        return f"<p><b>{html.escape(head)}</b></p>\n{html_table(self.totals())}"


def _num(x: float) -> int | float:
    """An integral float as int (batch sizes)."""
    return int(x) if float(x).is_integer() else float(x)
