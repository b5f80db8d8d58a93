"""Energy, power and cost: the formulas, one place each (DESIGN.md, "Energy and power").

Shapes: H device variants, B batches, O ops, L memory levels. Units: joules, watts, seconds,
dollars. All functions are pure and array-transparent; a device without an energy model has NaN
figures, and NaN flows through to empty energy columns (its capped time is its time).

* **Dynamic energy** of op i = matrix FLOPs x e_matrix[dtype] + vector FLOPs x e_vector[dtype]
  + sum over levels of bytes_L x e_L. FLOPs are the counted ones (tile padding costs time, not
  energy); each byte is charged once, at the level that serves it (e_L is the whole path from
  that level to the engines); the compute dtype's figure follows the engine's fallback, as its
  peak does.
* **Static energy** = idle power x the run's (capped) latency.
* **Average power** = (dynamic + static energy) / latency.
* **Power cap.** Lowering the clock to f (0 < f <= 1) stretches each op's compute time to
  ``t_compute / f`` and leaves its memory and overhead times alone, while every FLOP and byte
  costs the same joules (dynamic power scales with the clock at a fixed voltage). The run's
  power is ``E_dyn / T(f) + P_idle``, so it meets the TDP exactly when
  ``T(f) = T_min = E_dyn / (TDP - P_idle)``. The capped latency is therefore
  ``max(T, E_dyn / (TDP - P_idle))``: a power roof beside the compute and memory roofs, whatever
  the mechanism. :func:`clock_fraction` finds the f that reaches it exactly (a piecewise-linear
  equation, solved by sorting the ops' breakpoints), which gives each op's capped time. With
  voltage scaling a real chip spends fewer joules per FLOP at lower clocks, so this capped time
  is an upper bound on the throttled time. The bound label is ``power`` where the cap binds.
* **Cost per sample** = (price / lifetime) x capped latency / batch + energy per sample x PUE x
  electricity price; or, for an hourly (all-in, cloud) price, hourly x capped latency / batch.
  The device is assumed busy all the time it is paid for.
* **Systems** (:func:`system_energy`): every device's energy plus the bytes sent over the
  interconnect x its energy per byte.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from roofline.hardware import Hardware
from roofline.kinds import EngineKind, LevelKind

#: the part of an op's energy spent computing, and the part spent while the run lasts
COMPUTE, STATIC = "compute", "static"
#: where a run's joules go, by memory level kind: on chip, the device's main memory (DRAM), host
WHERE = {"onchip": LevelKind.ONCHIP, "dram": LevelKind.DEVICE, "host": LevelKind.HOST}


@dataclass(frozen=True, eq=False)
class DeviceEnergy:
    """The energy model of H device variants as arrays (NaN where a variant has none).

    Attributes
    ----------
    matrix, vector : dict dtype -> ndarray [H]
        Joules per FLOP of each engine per dtype with a peak (fallbacks resolved by the grid).
    level : ndarray [H, L]
        Joules per byte served by each memory level.
    tdp, idle, interconnect : ndarray [H]
        Watts, watts, joules per byte over the device-to-device links.
    price, lifetime, electricity, pue, hourly : ndarray [H]
        Dollars, seconds, dollars per joule, ratio, dollars per second (NaN where not given).
    """

    matrix: dict[str, np.ndarray]
    vector: dict[str, np.ndarray]
    level: np.ndarray
    tdp: np.ndarray
    idle: np.ndarray
    interconnect: np.ndarray
    price: np.ndarray
    lifetime: np.ndarray
    electricity: np.ndarray
    pue: np.ndarray
    hourly: np.ndarray

    #: the per-variant [H] fields (``level`` is [H, L]; ``matrix``/``vector`` map dtypes)
    SCALARS = (
        "tdp",
        "idle",
        "interconnect",
        "price",
        "lifetime",
        "electricity",
        "pue",
        "hourly",
    )

    def take(self, idx: Any) -> DeviceEnergy:
        """The variants at ``idx`` (a slice or index array)."""
        return DeviceEnergy(
            {k: v[idx] for k, v in self.matrix.items()},
            {k: v[idx] for k, v in self.vector.items()},
            self.level[idx],
            *(getattr(self, f)[idx] for f in self.SCALARS),
        )

    def repeat(self, h: int) -> DeviceEnergy:
        """A one-variant model repeated ``h`` times (copies: the knobs overwrite them)."""
        return DeviceEnergy(
            {k: np.repeat(v, h) for k, v in self.matrix.items()},
            {k: np.repeat(v, h) for k, v in self.vector.items()},
            np.repeat(self.level, h, axis=0),
            *(np.repeat(getattr(self, f), h) for f in self.SCALARS),
        )


def device_energy(devices: Sequence[Hardware]) -> DeviceEnergy | None:
    """The :class:`DeviceEnergy` of ``devices`` (NaN rows for those without an energy model);
    None when none has one."""
    if not any(d.has_energy for d in devices):
        return None
    nan = float("nan")

    def engine(kind: str) -> dict[str, np.ndarray]:
        tables = [getattr(d.engines, kind).energy or {} for d in devices]
        dts = sorted(set().union(*(getattr(d.engines, kind).peak for d in devices)))
        return {k: np.array([t.get(k, nan) for t in tables]) for k in dts}

    def scalar(block: str, name: str, default: float = nan) -> np.ndarray:
        out = []
        for d in devices:
            obj = getattr(d, block)
            value = getattr(obj, name) if obj is not None else None
            out.append(default if value is None else value)
        return np.array(out, dtype=float)

    return DeviceEnergy(
        matrix=engine(EngineKind.MATRIX),
        vector=engine(EngineKind.VECTOR),
        level=np.array(
            [
                [nan if lvl.energy is None else lvl.energy for lvl in d.memory.values()]
                for d in devices
            ]
        ),
        tdp=scalar("power", "tdp"),
        idle=scalar("power", "idle"),
        interconnect=scalar("power", "interconnect"),
        price=scalar("cost", "price"),
        lifetime=scalar("cost", "lifetime"),
        electricity=scalar("cost", "electricity"),
        pue=scalar("cost", "pue"),
        hourly=scalar("cost", "hourly"),
    )


def compute_energy(
    flops_matrix: np.ndarray, flops_vector: np.ndarray, e_matrix: np.ndarray, e_vector: np.ndarray
) -> np.ndarray:
    """Joules [H, B, O] of each op's arithmetic: ``flops_*`` [O, B] x ``e_*`` [H] J/FLOP."""
    out = flops_matrix.T[None] * e_matrix[:, None, None]
    return out + flops_vector.T[None] * e_vector[:, None, None]


def level_energy(bytes_moved: np.ndarray, e_level: np.ndarray) -> np.ndarray:
    """Joules [..., L] of the bytes each level serves: ``bytes_moved`` [H, ..., L] x ``e_level``
    [H, L] J/B."""
    shape = (e_level.shape[0],) + (1,) * (bytes_moved.ndim - 2) + (e_level.shape[1],)
    return bytes_moved * e_level.reshape(shape)


def power_floor_s(dynamic_j: np.ndarray, tdp: np.ndarray, idle: np.ndarray) -> np.ndarray:
    """The least seconds [H, B] a run of ``dynamic_j`` [H, B] joules can take under the cap:
    ``E_dyn / (TDP - P_idle)`` (``tdp``, ``idle`` [H]; NaN without a power model)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return dynamic_j / (tdp - idle)[:, None]


def capped_latency(latency_s: np.ndarray, floor_s: np.ndarray) -> np.ndarray:
    """Latency [H, B] under the power cap: ``max(T, T_min)`` (the latency where NaN)."""
    return np.fmax(latency_s, floor_s)


def is_capped(latency_s: np.ndarray, floor_s: np.ndarray) -> np.ndarray:
    """Where the power cap binds [H, B]: the power floor exceeds the uncapped latency."""
    with np.errstate(invalid="ignore"):
        return floor_s > latency_s


def run_energy(dynamic_j: np.ndarray, idle: np.ndarray, latency_s: np.ndarray) -> np.ndarray:
    """Joules [H, B] of a run: dynamic + ``idle`` [H] watts x its (capped) ``latency_s``."""
    return dynamic_j + idle[:, None] * latency_s


def average_power(energy_j: np.ndarray, latency_s: np.ndarray) -> np.ndarray:
    """Watts [H, B]: a run's energy over its (capped) latency."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return energy_j / latency_s


def per_sample(value: np.ndarray, batch: np.ndarray) -> np.ndarray:
    """``value`` [..., B] per sample of ``batch`` [B]."""
    return value / batch


def samples_per_joule(energy_per_sample_j: np.ndarray) -> np.ndarray:
    """Samples per joule: the inverse of the energy per sample."""
    with np.errstate(divide="ignore"):
        return 1.0 / energy_per_sample_j


def cost_per_sample(
    energy: DeviceEnergy, seconds_per_sample: np.ndarray, joules_per_sample: np.ndarray
) -> np.ndarray:
    """Dollars [H, B] per sample: capex amortized over the lifetime for the time a sample holds
    the device plus its energy x PUE x electricity price; or the hourly price x that time.
    NaN where the device has no price."""
    hold = seconds_per_sample
    with np.errstate(invalid="ignore", divide="ignore"):
        capex = (energy.price / energy.lifetime)[:, None] * hold
        power = (energy.pue * energy.electricity)[:, None] * joules_per_sample
        bought = capex + power
        rented = energy.hourly[:, None] * hold
    return np.where(np.isnan(energy.hourly)[:, None], bought, rented)


def clock_fraction(
    compute_s: np.ndarray,
    memory_s: np.ndarray,
    overhead_s: np.ndarray,
    target_s: np.ndarray,
    binds: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """(clock fraction f [H, B], capped op seconds [H, B, O]) that make the run take
    ``target_s`` [H, B] where the cap ``binds`` [H, B], when each op takes
    ``max(compute_s / f, memory_s) + overhead_s`` (each [H, B, O]; ``memory_s`` the op's
    slowest level).

    Exact: with u = 1/f, the run time ``g(u) = sum_i max(c_i u, m_i)`` is piecewise linear and
    increasing, with a breakpoint at u_i = m_i / c_i for each op that computes. Sorting the
    breakpoints gives g at each of them by prefix sums of c and suffix sums of m; the target lies
    on one segment, where g is linear. Where the target is at or below the uncapped time, f = 1
    and the times are unchanged; where no op computes (g is constant), the clock cannot meet
    the target and every op is stretched in proportion (f = NaN).
    """
    c = np.asarray(compute_s, dtype=float)
    m = np.asarray(memory_s, dtype=float)
    plain = np.maximum(c, m) + overhead_s
    if c.shape[-1] == 0 or not binds.any():
        return np.ones(target_s.shape), plain
    want = target_s - overhead_s.sum(axis=-1)  # the work time g must reach
    with np.errstate(divide="ignore", invalid="ignore"):
        brk = np.where(c > 0, m / c, np.inf)  # [H, B, O]
    order = np.argsort(brk, axis=-1, kind="stable")
    b_s = np.take_along_axis(brk, order, axis=-1)
    c_s = np.take_along_axis(c, order, axis=-1)
    m_s = np.take_along_axis(m, order, axis=-1)
    cum_c = np.cumsum(c_s, axis=-1)  # compute-bound ops up to and including k
    suf_m = m_s.sum(axis=-1, keepdims=True) - np.cumsum(m_s, axis=-1)  # memory-bound after k
    with np.errstate(invalid="ignore"):
        g_at = np.where(np.isfinite(b_s), cum_c * b_s + suf_m, np.inf)  # g at each breakpoint
        k = (g_at <= want[..., None]).sum(axis=-1) - 1  # last breakpoint at or below the target
    k = np.clip(k, 0, c.shape[-1] - 1)
    cc = np.take_along_axis(cum_c, k[..., None], axis=-1)[..., 0]
    mm = np.take_along_axis(suf_m, k[..., None], axis=-1)[..., 0]
    with np.errstate(divide="ignore", invalid="ignore"):
        u = (want - mm) / cc
    computes = (c > 0).any(axis=-1)
    u = np.where(binds, np.maximum(u, 1.0), 1.0)
    u = np.where(binds & ~computes, np.nan, u)
    times = np.maximum(c * np.nan_to_num(u, nan=1.0)[..., None], m) + overhead_s
    # no compute to slow down: stretch every op in proportion to reach the target
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = (target_s / plain.sum(axis=-1))[..., None]
    times = np.where((binds & ~computes)[..., None], plain * scale, times)
    with np.errstate(divide="ignore"):
        return 1.0 / u, times


def energy_parts(by_part: np.ndarray, level_kinds: Sequence[str]) -> dict[str, np.ndarray]:
    """Joules [...] by where they go: ``compute``, ``onchip``, ``dram``, ``host``, ``static``
    (the levels of each kind summed, :data:`WHERE`), from ``by_part`` [..., 1 + L + 1]
    (compute, each level, static: :meth:`roofline.result.Result.energy_by_part`)."""
    out = {COMPUTE: by_part[..., 0]}
    for part, kind in WHERE.items():
        idx = [1 + i for i, k in enumerate(level_kinds) if k == kind]
        out[part] = by_part[..., idx].sum(axis=-1)
    out[STATIC] = by_part[..., -1]
    return out


def system_energy(
    device_energy_j: Sequence[np.ndarray] | np.ndarray,
    interconnect_bytes: np.ndarray,
    interconnect_j_per_byte: np.ndarray | float,
) -> np.ndarray:
    """Joules of a multi-device system: every device's energy (each run's dynamic + static, as
    :attr:`roofline.result.Result.energy_j` gives it) plus the bytes its devices send over the
    interconnect x the interconnect's joules per byte (``power.interconnect`` of the device spec).

    Parameters
    ----------
    device_energy_j : sequence of arrays, or an array whose first axis is the device
        Each device's joules for the run (broadcastable to one another).
    interconnect_bytes : array
        Bytes sent over the links in the run (all devices' sends together; a byte sent by one
        device and received by another is counted once).
    interconnect_j_per_byte : array or float
        Joules per byte sent (NaN: no energy model, and the result is NaN).
    """
    devices = np.asarray(device_energy_j, dtype=float)
    return devices.sum(axis=0) + np.asarray(interconnect_bytes) * interconnect_j_per_byte


__all__ = [
    "COMPUTE",
    "STATIC",
    "WHERE",
    "DeviceEnergy",
    "average_power",
    "capped_latency",
    "clock_fraction",
    "compute_energy",
    "cost_per_sample",
    "device_energy",
    "energy_parts",
    "is_capped",
    "level_energy",
    "per_sample",
    "power_floor_s",
    "run_energy",
    "samples_per_joule",
    "system_energy",
]
