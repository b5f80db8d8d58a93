"""Collectives priced by the alpha-beta model on a system's interconnect levels.

For a group of ``m`` devices on one level with bandwidth ``b`` (bytes/s per direction per device)
and step latency ``a`` (seconds), and ``S`` bytes (the full reduced, gathered or scattered buffer;
for an all-to-all, the bytes each device holds):

=================  =============================================  ==========================
collective         switch or ring                                 steps (latency)
=================  =============================================  ==========================
all-reduce         2 (m-1)/m x S / b   (ring: reduce-scatter +    2 (m-1) x a
                   all-gather); S / b with in-network reduction   (2 x a with reduction)
all-gather         (m-1)/m x S / b                                (m-1) x a
reduce-scatter     (m-1)/m x S / b                                (m-1) x a
all-to-all         (m-1)/m x S / b on a switch; x m/4 on a ring   (m-1) x a
                   (a bidirectional ring's mean distance)
point-to-point     S / b                                          a
=================  =============================================  ==========================

A ``torus`` with dims (d_1, ..., d_k) runs each collective dimension by dimension on
bidirectional rings, each dimension getting ``b / k`` of the device's bandwidth; an all-reduce is a
reduce-scatter along d_1, d_2, ... (the buffer shrinking by each d_i) and an all-gather back, phase
i moving ``2 (d_i-1)/d_i x S_i`` with ``S_i = S / (d_1 ... d_{i-1})``. An all-to-all is the ring's
on every dimension: phase i moves ``(d_i-1)/d_i x S x d_i/4`` (every byte a device holds is
routed along each dimension; ``d_i/4`` the ring's mean distance), so a 1-D torus is the ring.
A group larger than a level's domain is hierarchical: inside each domain on the faster level,
then across the domains on the next (all-reduce: reduce-scatter inside, all-reduce of S/m_1
across, all-gather inside; an all-to-all sends (m_1-1)/m of its bytes inside and (m-m_1)/m
across). Groups are packed in the layout's order (tp, cp, pp, dp; :mod:`~roofline.systems.layout`):
a group of ``m`` devices fills whole domains from the smallest level up.

Phases pipeline (NCCL and XLA split the buffer into chunks, so the dimensions and levels work at
once): a multi-phase collective takes the slowest phase's bandwidth time plus every phase's
latency. The estimate is that; the strict bound (what no system can beat) is the bandwidth time
alone. Measured NCCL bus bandwidths are held to it in the tests.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

from roofline.errors import SpecError
from roofline.systems.spec import Link, System

Collective = Literal["all_reduce", "all_gather", "reduce_scatter", "all_to_all", "p2p"]
COLLECTIVES: tuple[str, ...] = ("all_reduce", "all_gather", "reduce_scatter", "all_to_all", "p2p")


@dataclass(frozen=True)
class Cost:
    """Time of a collective [any shape]: ``bandwidth_s`` (its slowest phase's bytes over
    bandwidth: the strict bound), ``latency_s`` (every step's latency), and the bytes each
    device sends on each level (for energy). ``seconds`` is the estimate, their sum."""

    bandwidth_s: np.ndarray
    latency_s: np.ndarray
    level_bytes: dict[str, np.ndarray]

    @property
    def seconds(self) -> np.ndarray:
        """The estimate: bandwidth time plus latency (seconds)."""
        return self.bandwidth_s + self.latency_s

    @property
    def bound_seconds(self) -> np.ndarray:
        """The strict bound: bandwidth time alone (seconds)."""
        return self.bandwidth_s

    def then(self, other: Cost, times: float = 1.0) -> Cost:
        """This collective, then ``times`` runs of ``other`` one after another: times, latencies
        and the bytes sent on each level all add."""
        names = set(self.level_bytes) | set(other.level_bytes)
        zero = np.zeros_like(self.bandwidth_s)
        return Cost(
            self.bandwidth_s + times * other.bandwidth_s,
            self.latency_s + times * other.latency_s,
            {
                n: self.level_bytes.get(n, zero) + times * other.level_bytes.get(n, zero)
                for n in names
            },
        )

    def pipelined(self, other: Cost) -> Cost:
        """Two phases working at once on chunks: the slower bandwidth, both latencies."""
        names = set(self.level_bytes) | set(other.level_bytes)
        zero = np.zeros_like(self.bandwidth_s)
        return Cost(
            np.maximum(self.bandwidth_s, other.bandwidth_s),
            self.latency_s + other.latency_s,
            {n: self.level_bytes.get(n, zero) + other.level_bytes.get(n, zero) for n in names},
        )


def _steps(kind: str, m: int) -> float:
    return {"all_reduce": 2.0 * (m - 1), "p2p": 1.0}.get(kind, float(m - 1))


def _flat(kind: str, size: np.ndarray, m: int, name: str, link: Link) -> Cost:
    """One collective over ``m`` devices of one level (no hierarchy)."""
    zero = np.zeros_like(size)
    if m <= 1 and kind != "p2p":
        return Cost(zero, zero, {})
    b, a = link.bandwidth, link.latency
    if link.topology == "torus" and kind != "p2p":
        return _torus(kind, size, m, name, link)
    frac = (m - 1) / m
    steps = _steps(kind, m)
    if kind == "all_reduce":
        if link.in_network_reduction:
            sent, steps = size, 2.0
        else:
            sent = 2.0 * frac * size
    elif kind == "p2p":
        sent = size
    elif kind == "all_to_all" and link.topology == "ring":
        sent = _ring_all_to_all(size, m)
    else:
        sent = frac * size
    return Cost(sent / b, np.full_like(size, steps * a), {name: sent})


def _ring_all_to_all(size: np.ndarray, m: int) -> np.ndarray:
    """Bytes each device sends in an all-to-all of ``size`` over a bidirectional ring of ``m``:
    the (m - 1)/m it does not keep, over a mean distance of m/4 hops."""
    return (m - 1) / m * size * (m / 4.0)


def _torus(kind: str, size: np.ndarray, m: int, name: str, link: Link) -> Cost:
    """A collective on the leading dimensions of a torus holding ``m`` devices."""
    assert link.dims is not None
    dims: list[int] = []
    left = m
    for d in link.dims:
        if left <= 1:
            break
        dims.append(min(d, left))
        left = -(-left // d)
    per_dim_bw = link.bandwidth / len(link.dims)
    passes = 2.0 if kind == "all_reduce" else 1.0
    out = Cost(np.zeros_like(size), np.zeros_like(size), {})
    share = size
    for d in dims:
        # an all-to-all runs the ring's formula on each dimension
        ring = kind == "all_to_all"
        sent = _ring_all_to_all(share, d) if ring else passes * share * (d - 1) / d
        phase = Cost(sent / per_dim_bw, np.full_like(size, passes * (d - 1) * link.latency),
                     {name: sent})  # fmt: skip
        out = out.pipelined(phase)
        if kind != "all_to_all":
            share = share / d
    return out


def _group(system: System, m: int) -> list[tuple[str, Link, int]]:
    """The levels a packed group of ``m`` devices spans: (name, link, devices on that level)."""
    if m > system.count:
        raise SpecError(
            f"a group of {m} devices is larger than the system's {system.count}",
            field="parallel",
            fix=f"use at most {system.count} devices",
        )
    out: list[tuple[str, Link, int]] = []
    inner = 1
    for name, link in system.links:
        if inner >= m:
            break
        here = min(m, link.devices) // inner
        if min(m, link.devices) % inner:
            raise SpecError(
                f"a group of {m} devices does not fill whole domains of {inner}",
                field="parallel",
                fix=f"use a multiple of {inner} devices",
            )
        out.append((name, link, here))
        inner *= here
    if inner < m:
        raise SpecError(
            f"a group of {m} devices does not fit the system's domains",
            field="parallel",
            fix=f"use a divisor of {system.count}",
        )
    return out


def collective(
    kind: str,
    size_bytes: np.ndarray | float,
    m: int,
    system: System,
    stride: int = 1,
    run: int = 1,
) -> Cost:
    """The :class:`Cost` of collective ``kind`` of ``size_bytes`` over a packed group of ``m``
    devices of ``system`` (module docstring for the formulas), or over ``m`` devices ``stride``
    apart in a packed block of ``m x stride`` (a context-parallel group beside its tensor-parallel
    one: each level then holds the group's members of its domains), or, with ``run`` > 1 (dividing
    ``m``), over runs of ``run`` consecutive devices, one run in every ``stride`` (an
    expert-parallel group across the replicas of one pipeline stage: runs of ``tp x cp`` devices,
    ``tp x cp x pp`` apart)."""
    if kind not in COLLECTIVES:
        raise SpecError(f"unknown collective {kind!r}", field="collective", fix=str(COLLECTIVES))
    size = np.asarray(size_bytes, dtype=float)
    if m <= 1:
        zero = np.zeros_like(size)
        return Cost(zero, zero, {})
    block = _group(system, m * stride)
    levels = _strided(block, stride) if run == 1 else _runs(block, stride, run)
    if kind == "p2p":  # the two ends are in different domains of the outermost level spanned
        name, link, _ = levels[-1]
        return _flat(kind, size, 2, name, link)
    return _hierarchical(kind, size, levels)


def _strided(levels: list[tuple[str, Link, int]], stride: int) -> list[tuple[str, Link, int]]:
    """The levels of a packed block with every ``stride``-th device kept: the stride absorbs
    the innermost levels' devices first (a level left with one member drops out)."""
    if stride == 1:
        return levels
    out = []
    for name, link, here in levels:
        kept = here // math.gcd(here, stride)
        stride //= here // kept
        if kept > 1:
            out.append((name, link, kept))
    return out or levels[-1:]


def _runs(
    levels: list[tuple[str, Link, int]], stride: int, run: int
) -> list[tuple[str, Link, int]]:
    """The levels of a packed block with one run of ``run`` consecutive devices kept in every
    ``stride`` runs: each level holds the kept devices of its domain over those of the domain
    inside it (a level left with one member drops out)."""

    def kept(devices: int) -> int:  # the kept devices among the block's first ``devices``
        whole, rest = divmod(devices, run * stride)
        return whole * run + min(rest, run)

    out = []
    inner = members = 1
    for name, link, here in levels:
        inner *= here
        now = kept(inner)
        if now // members > 1:
            out.append((name, link, now // members))
        members = now
    return out or levels[-1:]


def point_to_point(size_bytes: np.ndarray | float, a: int, b: int, system: System) -> Cost:
    """The :class:`Cost` of sending ``size_bytes`` from device ``a`` to device ``b`` (indices in
    the system's packing): on the fastest level whose domain holds both."""
    size = np.asarray(size_bytes, dtype=float)
    for name, link in system.links:
        if a // link.devices == b // link.devices:
            return _flat("p2p", size, 2, name, link)
    name, link = system.links[-1]
    return _flat("p2p", size, 2, name, link)


def _hierarchical(kind: str, size: np.ndarray, levels: list[tuple[str, Link, int]]) -> Cost:
    """``kind`` over ``levels`` [(name, link, devices on that level)], the first the fastest."""
    (name, link, m1), rest = levels[0], levels[1:]
    if not rest:
        return _flat(kind, size, m1, name, link)
    if kind == "all_reduce":
        inside = _flat("reduce_scatter", size, m1, name, link)
        across = _hierarchical(kind, size / m1, rest)
        return inside.pipelined(across).pipelined(_flat("all_gather", size, m1, name, link))
    if kind == "all_gather":
        return _hierarchical(kind, size / m1, rest).pipelined(_flat(kind, size, m1, name, link))
    if kind == "reduce_scatter":
        return _flat(kind, size, m1, name, link).pipelined(_hierarchical(kind, size / m1, rest))
    # all-to-all: of the S bytes a device holds, (m1-1)/m go to its own domain and (m-m1)/m
    # across; sending a flat all-to-all of x bytes moves (k-1)/k x, so pass the matching sizes
    m = m1 * int(np.prod([mm for _, _, mm in rest]))
    outer_m = m // m1
    across = _hierarchical(kind, size * (m - m1) / m * outer_m / (outer_m - 1), rest)
    if m1 == 1:
        return across
    return _flat(kind, size * m1 / m, m1, name, link).pipelined(across)


def bus_bandwidth(kind: str, size_bytes: np.ndarray, seconds: np.ndarray, m: int) -> np.ndarray:
    """nccl-tests' bus bandwidth (bytes/s): algorithm bandwidth S / t times 2(m-1)/m for an
    all-reduce, (m-1)/m for all-gather, reduce-scatter and all-to-all."""
    factor = {"all_reduce": 2.0 * (m - 1) / m, "p2p": 1.0}.get(kind, (m - 1) / m)
    return np.asarray(size_bytes, dtype=float) / seconds * factor
