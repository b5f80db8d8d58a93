"""The result of a model on a system: latency, its bound, the interconnect, capacity and energy
per parallel layout and batch (:func:`roofline.systems.evaluate.evaluate_system` makes it)."""

from __future__ import annotations

import html
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from roofline import energy as en
from roofline.formulas import dominant, throughput
from roofline.grid import to_grid
from roofline.kinds import Bound
from roofline.result import ENERGY_COLUMNS
from roofline.systems.layout import Layout
from roofline.systems.spec import System
from roofline.table import Table, html_table


@dataclass(frozen=True, eq=False)
class SystemResult:
    """Predictions of one model on one system: arrays over (layout, batch).

    Attributes
    ----------
    model, dtype, policy : str
    system : System
    layouts : tuple of Layout
    batch : ndarray [B]
        The whole system's batch (samples per run, over all replicas).
    micro_batches : ndarray [N, B]
    latency_s, latency_bound_s : ndarray [N, B]
        Estimate and strict bound (seconds).
    interconnect_s : ndarray [N, B]
        Collective and transfer time on the critical path (estimate), as the pipeline's latency
        takes it: every stage's collectives and hop once, plus ``m - 1`` times those of the
        slowest stage (the one whose compute, collectives and hop set the step).
    by_bound_s : ndarray [N, B, K]
        Seconds by what bounds them (``bound_labels``) on the same critical path: each stage's
        op time under its bound and launch overhead (every stage once, the slowest ``m - 1``
        more times), and the interconnect; they add up to ``latency_s``.
    feasible : ndarray of bool [N, B]
    device_footprint_bytes : ndarray [N, B]
        The largest footprint of one device (weights, tables, activations, KV cache).
    devices_needed : ndarray [N, B]
        The layout's devices where it fits; where not, its devices times the most devices whose
        device memory one device's share needs (the definition of every face).
    shortfall_bytes : ndarray [N, B]
        The most bytes one device lacks (0 where the layout fits).
    kv_cache_bytes : ndarray [N, B]
        The KV cache of the whole system.
    """

    model: str
    system: System
    dtype: str
    policy: str
    layouts: tuple[Layout, ...]
    batch: np.ndarray
    micro_batches: np.ndarray
    latency_s: np.ndarray
    latency_bound_s: np.ndarray
    interconnect_s: np.ndarray
    by_bound_s: np.ndarray
    bound_labels: tuple[str, ...]
    feasible: np.ndarray
    device_footprint_bytes: np.ndarray
    devices_needed: np.ndarray
    shortfall_bytes: np.ndarray
    kv_cache_bytes: np.ndarray
    dynamic_energy_j: np.ndarray
    busiest_energy_j: np.ndarray

    # -- energy (roofline.energy; NaN for a device without an energy model) ------------------
    @property
    def _energy(self) -> en.DeviceEnergy:
        return to_grid(self.system.device).energy_arrays()

    @property
    def _devices(self) -> np.ndarray:
        return np.array([lay.devices for lay in self.layouts], dtype=float)[:, None]

    @property
    def _power_floor_s(self) -> np.ndarray:
        """The least seconds [N, B] a run takes under the cap: until the busiest device draws no
        more than its TDP (its dynamic joules over TDP - idle watts)."""
        e = self._energy
        return en.power_floor_s(self.busiest_energy_j, e.tdp[:1], e.idle[:1])

    @property
    def capped_latency_s(self) -> np.ndarray:
        """Latency [N, B] under the power cap (:attr:`_power_floor_s`)."""
        return en.capped_latency(self.latency_s, self._power_floor_s)

    @property
    def power_capped(self) -> np.ndarray:
        """Where the cap binds [N, B]."""
        return en.is_capped(self.latency_s, self._power_floor_s)

    @property
    def energy_j(self) -> np.ndarray:
        """Joules [N, B] of a run: every device's and link's dynamic energy, and every device's
        idle power over the capped latency."""
        idle = self._energy.idle[0] * self._devices
        return self.dynamic_energy_j + idle * self.capped_latency_s

    @property
    def energy_per_sample_j(self) -> np.ndarray:
        """Joules per sample [N, B]."""
        return en.per_sample(self.energy_j, self.batch[None, :])

    @property
    def avg_power_w(self) -> np.ndarray:
        """The whole system's average watts [N, B] over the capped run."""
        return en.average_power(self.energy_j, self.capped_latency_s)

    @property
    def cost_per_1m_samples(self) -> np.ndarray:
        """Dollars [N, B] per million samples: every device held for a sample's time."""
        hold = en.per_sample(self.capped_latency_s, self.batch[None, :]) * self._devices
        return 1e6 * en.cost_per_sample(self._energy, hold, self.energy_per_sample_j)

    def if_fits(self, a: Any) -> np.ndarray:
        """``a`` (an array [N, B], or one broadcasting to it) where the point fits its devices,
        NaN where it does not (:meth:`roofline.result.Result.if_fits`)."""
        return np.where(self.feasible, a, np.nan)

    @cached_property
    def _energy_arrays(self) -> tuple[np.ndarray, ...]:
        """The :data:`roofline.result.ENERGY_COLUMNS` as arrays [N, B], in that order (worked
        out once: :meth:`energy_columns` reads one point of them at a time). A point that does
        not fit has no energy, power, throughput or cost (NaN), as it has no time; the arrays
        (:attr:`energy_j`...) keep what it would take if it fit."""
        eps = self.energy_per_sample_j
        capped = self.power_capped
        bound = dominant(self.bound_labels, self.by_bound_s)
        with np.errstate(divide="ignore", invalid="ignore"):
            per_j = np.where(eps != 0, 1.0 / eps, np.nan)
            capped_thr = self.batch[None, :] / self.capped_latency_s
        return (
            self.if_fits(eps),
            self.if_fits(self.avg_power_w),
            self.if_fits(per_j),
            self.if_fits(capped_thr),
            self.if_fits(self.cost_per_1m_samples),
            capped,
            np.where(capped, str(Bound.POWER), bound),
        )

    def energy_columns(self, i: int, j: int) -> list[Any]:
        """The :data:`roofline.result.ENERGY_COLUMNS` of layout ``i`` at batch ``j``."""
        return _energy_row(self._energy_arrays, i, j)

    @property
    def throughput_per_s(self) -> np.ndarray:
        """Samples per second of the whole system [N, B]."""
        return throughput(self.batch[None, :], self.latency_s)

    @property
    def throughput_bound_per_s(self) -> np.ndarray:
        """Strict-bound samples per second [N, B]: no system of these devices can exceed it."""
        return throughput(self.batch[None, :], self.latency_bound_s)

    def _repr_html_(self) -> str:
        """The totals in human units, under a line naming model, system, dtype and batches."""
        head = (
            f"{self.model} at {self.dtype} on {self.system.name} "
            f"({len(self.layouts)} layouts), batch {', '.join(f'{b:g}' for b in self.batch)}"
        )
        return f"<p><b>{html.escape(head)}</b></p>\n{html_table(self.totals())}"

    def totals(self) -> Table:
        """One row per (layout, batch); infeasible points carry no time (None), energy, power
        or cost (NaN)."""
        rows = []
        bound = dominant(self.bound_labels, self.by_bound_s)
        throughput, throughput_bound = self.throughput_per_s, self.throughput_bound_per_s
        energy = self._energy_arrays
        for i, lay in enumerate(self.layouts):
            for j, b in enumerate(self.batch):
                ok = bool(self.feasible[i, j])

                def t(x: np.ndarray, ok: bool = ok, i: int = i, j: int = j) -> float | None:
                    return float(x[i, j]) if ok else None

                thr = t(throughput)
                rows.append(
                    [
                        self.model,
                        self.system.name,
                        self.system.device.name,
                        lay.devices,
                        lay.tp,
                        lay.pp,
                        lay.cp,
                        lay.ep,
                        lay.dp,
                        int(self.micro_batches[i, j]),
                        int(b) if float(b).is_integer() else float(b),
                        self.dtype,
                        t(self.latency_s),
                        t(self.latency_bound_s),
                        thr,
                        t(throughput_bound),
                        None if thr is None else thr / lay.devices,
                        t(self.interconnect_s),
                        str(bound[i, j]),
                        ok,
                        float(self.device_footprint_bytes[i, j]),
                        float(self.kv_cache_bytes[i, j]),
                        self.policy,
                        *_energy_row(energy, i, j),
                    ]
                )
        return Table(SYSTEM_COLUMNS, rows, title=f"{self.model} on {self.system.name}")


def _energy_row(arrays: tuple[np.ndarray, ...], i: int, j: int) -> list[Any]:
    """Point (i, j) of :meth:`SystemResult._energy_arrays` as Python scalars."""
    eps, power, per_j, capped_thr, cost, capped, bound = (a[i, j] for a in arrays)
    return [
        float(eps),
        float(power),
        float(per_j),
        float(capped_thr),
        float(cost),
        bool(capped),
        str(bound),
    ]


SYSTEM_COLUMNS = (
    "model",
    "system",
    "device",
    "devices",
    "tp",
    "pp",
    "cp",
    "ep",
    "dp",
    "micro_batches",
    "batch",
    "dtype",
    "latency_s",
    "latency_bound_s",
    "throughput_per_s",
    "throughput_bound_per_s",
    "throughput_per_device_per_s",
    "interconnect_time_s",
    "bound",
    "feasible",
    "device_footprint_bytes",
    "kv_cache_bytes",
    "policy",
    *ENERGY_COLUMNS,
)
