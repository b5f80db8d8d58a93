"""A model on a system under parallel layouts: per-device counts, stages, collectives, totals.

For each :class:`~roofline.systems.layout.Layout` and batch, the busiest replica runs
``ceil(batch / dp)`` samples as ``m`` micro-batches (by default ``min(pp, its samples)``, one
without pipelining; ``m`` given is a whole number no larger than those samples at every batch, a
micro-batch being at least one sample). Its counts at the micro-batch are split over the
tensor-parallel group (:mod:`~roofline.systems.sharding`), cut into stages
(:mod:`~roofline.systems.pipeline`), and each stage is evaluated on one device like any
single-device model (placement, fusion, launch overhead, efficiency); the stage's collectives run
after their ops on the interconnect (:mod:`~roofline.systems.collectives`) and are added to its
time, and the boundary activations cross to the next stage. A point is feasible when every stage
fits its device. Under context parallelism (``cp`` > 1, decoders only) the counts are one
context-parallel rank's and the ring that completes its attention joins the stage's collectives
(:mod:`~roofline.systems.context`).

The estimate adds collectives to compute time (Megatron's all-reduces sit on the critical path).
The strict bound lets them overlap: a stage takes at least the larger of its strict roofline time
and its collectives' bandwidth time, and the pipeline at least the same formula over those.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from roofline import energy as en
from roofline.arguments import check_count
from roofline.counting import count_graph
from roofline.errors import SpecError
from roofline.fusion import fuse_table, fusion_plan, group_reduce, inner_share
from roofline.graph import Graph
from roofline.grid import to_grid
from roofline.kinds import Bound, TensorClass
from roofline.model import Model
from roofline.placement import Policy
from roofline.records import BATCHED, CostTable, join_columns
from roofline.serving.context_counts import LENGTH_PARAM, Phase, PhaseCounts, phase_counts
from roofline.systems.collectives import Cost, collective, point_to_point
from roofline.systems.context import check_context_parallel, context_comms, rank_counts
from roofline.systems.layout import Layout, check_devices
from roofline.systems.pipeline import (
    Cut,
    along_critical_path,
    critical_path,
    crossing,
    pipeline_latency,
    stage_shares,
)
from roofline.systems.result import SystemResult
from roofline.systems.roles import Role, roles
from roofline.systems.sharding import Comm, check_tensor_parallel, shard
from roofline.systems.spec import System
from roofline.systems.stage_costs import LeanStage, StageCosts, stage_costs

#: count columns scaled by a stage's share of an op (``live_act_bytes`` only kept or dropped)
_SHARED = (*BATCHED, "weight_elems", "weight_bytes", "launches")


def check_micro_batches(micro_batches: Any, batch: np.ndarray, layouts: Sequence[Layout]) -> None:
    """SpecError naming ``micro_batches`` unless it is a whole number >= 1 and at most the samples
    of the busiest replica (``ceil(batch / dp)``) at every batch and layout: a micro-batch is at
    least one sample (more micro-batches than samples would run fractions of one)."""
    check_count("micro_batches", micro_batches, example=4)
    fewest = float(np.min(batch))
    for lay in layouts:
        samples = math.ceil(fewest / lay.dp)
        if micro_batches > samples:
            raise SpecError(
                f"micro_batches={micro_batches} but a replica of {lay.label} runs {samples} "
                f"samples at batch {fewest:g}, and a micro-batch is at least one sample",
                field="micro_batches",
                fix=f"use at most {samples}, or None for min(pp, samples per replica)",
            )


def default_micro_batches(replica_batch: np.ndarray, pp: int) -> np.ndarray:
    """``min(pp, replica batch)`` micro-batches (whole, at least 1); 1 without pipelining."""
    if pp == 1:
        return np.ones_like(replica_batch)
    return np.maximum(1.0, np.minimum(float(pp), np.floor(replica_batch)))


def _stage_table(ct: CostTable, share: np.ndarray) -> CostTable:
    """The rows of ``ct`` scaled by one stage's share of each op."""
    changes = {}
    for name in _SHARED:
        col = getattr(ct, name)
        changes[name] = col * (share[:, None] if col.ndim == 2 else share)
    changes["live_act_bytes"] = np.where(share[:, None] > 0, ct.live_act_bytes, 0.0)
    g = ct.gemm_op
    changes["gemm_count"] = ct.gemm_count * share[g][:, None]
    return replace(ct, **changes)


def fuse_counts(ct: CostTable, graph: Graph) -> CostTable:
    """Fuse an already scaled table: inner elements from its own (scaled) outputs, the output
    tensors only (an op's own intermediates are not read by the next member)."""
    if fusion_plan(graph).first.size == ct.n_ops:  # nothing to fuse
        return ct
    inner = group_reduce(graph, ct.act_out_elems * inner_share(graph)[:, None], np.add)
    return fuse_table(ct, graph, inner)


def _comm_cost(
    comms: Sequence[Comm],
    share: np.ndarray,
    tp: int,
    system: System,
    columns: int,
    stride: int = 1,
    run: int = 1,
) -> Cost:
    """The stage's collectives over groups of ``tp`` devices ``stride`` apart (with ``run`` > 1:
    runs of ``run`` consecutive devices, one in every ``stride``;
    :func:`~roofline.systems.collectives.collective`), one after another, per column [C]."""
    zero = np.zeros(columns)
    total = Cost(zero, zero, {})
    for c in comms:
        runs = c.copies * share[c.op]  # the stage's share of the op's runs
        if runs > 0:
            one = collective(c.kind, c.size_bytes, tp, system, stride, run)
            # collectives after different ops (and runs) come one after another
            total = total.then(one, runs)
    return total


@dataclass(frozen=True, eq=False)
class Stages:
    """One layout's pipeline stages evaluated over columns (batches or points).

    ``results[s]`` is stage s on one device (:class:`~roofline.systems.stage_costs.StageCosts`);
    ``comms[s]`` its collectives and ``transfers[s]`` the hop to the next stage of every tensor
    that crosses the cut (:func:`~roofline.systems.pipeline.crossing`; zero after the last), from
    a device to its peer ``tp x cp`` devices on; ``micro_batches`` [C]; ``kv_cache_bytes`` [C]
    the system's; ``replicas`` [C] the replicas that run the busiest one's samples,
    ``ceil(batch / dp)`` (:func:`replica_split`); ``fewer``: where some replicas run one sample
    less, (how many [C], their stages), else None.
    """

    layout: Layout
    results: tuple[StageCosts, ...]
    comms: tuple[Cost, ...]
    transfers: tuple[Cost, ...]
    micro_batches: np.ndarray
    kv_cache_bytes: np.ndarray
    labels: tuple[str, ...]
    replicas: np.ndarray
    fewer: tuple[np.ndarray, Stages] | None = None

    def columns(self, cols: slice) -> Stages | None:
        """These stages at columns ``cols`` (views); None where a stage took the full
        evaluation (a :class:`~roofline.result.Result` is not cut by columns). Equal stages that
        share one result (and one collectives' cost) still do (:func:`_replica_stages`)."""
        lean: dict[int, LeanStage] = {}
        for r in self.results:
            if not isinstance(r, LeanStage):
                return None
            if id(r) not in lean:
                lean[id(r)] = LeanStage(r.seconds.columns(cols), r.policy, r.dtype)
        costs: dict[int, Cost] = {}

        def cut(x: Cost) -> Cost:
            if id(x) not in costs:
                level = {k: v[cols] for k, v in x.level_bytes.items()}
                costs[id(x)] = Cost(x.bandwidth_s[cols], x.latency_s[cols], level)
            return costs[id(x)]

        return Stages(
            layout=self.layout,
            results=tuple(lean[id(r)] for r in self.results),
            comms=tuple(cut(x) for x in self.comms),
            transfers=tuple(cut(x) for x in self.transfers),
            micro_batches=self.micro_batches[cols],
            kv_cache_bytes=self.kv_cache_bytes[cols],
            labels=self.labels,
            replicas=self.replicas[cols],
        )

    @property
    def feasible(self) -> np.ndarray:
        """Every stage fits its device [C]."""
        return np.logical_and.reduce([r.feasible for r in self.results])

    @property
    def devices_needed(self) -> np.ndarray:
        """The layout's devices, times the most devices whose device memory one stage's share
        needs [C] (the layout's devices where every stage fits)."""
        return self.layout.devices * np.max([r.devices_needed for r in self.results], axis=0)

    @property
    def shortfall_bytes(self) -> np.ndarray:
        """The most bytes one device lacks [C] (0 where every stage fits)."""
        return np.max([r.shortfall_bytes for r in self.results], axis=0)

    def dynamic_energy_j(self, link_j_per_byte: float) -> tuple[np.ndarray, np.ndarray]:
        """Dynamic joules of one run [C]: (the whole system's, the busiest device's).

        Each stage runs its micro-batches on each of its ``tp x cp`` devices in each replica that
        has samples, each replica its own: ``ceil(batch / dp)`` samples (the busiest's, as the
        latency takes it) or one less (``fewer``), a replica without a sample nothing
        (:func:`replica_split`). The bytes each device sends over the links (its stage's
        collectives and its hop to the next stage) cost ``link_j_per_byte`` (NaN without an
        energy model: the result is NaN). The busiest device is the one of the busiest replica's
        stage with the most joules, its own sends included.
        """
        if self.alone:  # one run on one device that sends nothing: its own joules
            return self.results[0].dynamic_j, self.results[0].dynamic_j
        return self.pipelined_energy_j(link_j_per_byte)

    def pipelined_energy_j(self, link_j_per_byte: float) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`dynamic_energy_j` by the general formulas (what it reduces to on one device)."""
        system, busiest = self._replicas_energy_j(link_j_per_byte, self.replicas)
        if self.fewer is not None:
            count, fewer = self.fewer
            system = system + fewer._replicas_energy_j(link_j_per_byte, count)[0]
        return system, busiest

    def _replicas_energy_j(
        self, link_j_per_byte: float, replicas: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """(dynamic joules of ``replicas`` [C] replicas running these stages, those of the
        busiest device of one) [C]."""
        m, lay = self.micro_batches, self.layout
        per_device = np.array([r.dynamic_j for r in self.results]) * m  # [pp, C]
        zero = np.zeros_like(m)
        # the sends of one device of each stage: its collectives and its hop to the next stage;
        # a single device sends nothing (and costs no NaN without a model)
        sent = np.array(
            [
                sum(c.level_bytes.values(), zero) + sum(x.level_bytes.values(), zero)
                for c, x in zip(self.comms, self.transfers)
            ]
        )
        j_per_byte = link_j_per_byte if lay.devices > 1 else 0.0
        sent_bytes = m * sent if lay.devices > 1 else np.zeros_like(per_device)
        copies = lay.model_parallel * replicas  # the devices that run each stage's share
        system = en.system_energy(per_device * copies, sent_bytes.sum(axis=0) * copies, j_per_byte)
        busiest = (per_device + sent_bytes * j_per_byte).max(axis=0)
        return system, busiest

    @property
    def alone(self) -> bool:
        """One device: one stage, one micro-batch, no collectives and no transfers, where the
        pipeline's formulas reduce to the stage's own figures (adding zeros; the same bits)."""
        return self.layout.devices == 1

    def combine(self, upto: int | None = None) -> dict[str, np.ndarray]:
        """Arrays [C] (the first ``upto`` columns; None: all): latency (estimate and bound),
        interconnect, time by bound..."""
        if self.alone:
            r, cols = self.results[0], slice(upto)
            latency, bound, by_bound = r.totals(upto)
            zero = np.zeros_like(latency)
            return {
                "micro_batches": self.micro_batches[cols],
                "latency_s": latency,
                "latency_bound_s": bound,
                "interconnect_s": zero,
                "by_bound_s": np.concatenate([by_bound, zero[:, None]], axis=-1),
                "feasible": r.feasible[cols],
                "device_footprint_bytes": r.footprint_bytes[cols],
                "devices_needed": r.devices_needed[cols],
                "shortfall_bytes": r.shortfall_bytes[cols],
                "kv_cache_bytes": self.kv_cache_bytes[cols],
            }
        return self.pipelined(upto)

    def pipelined(self, upto: int | None = None) -> dict[str, np.ndarray]:
        """:meth:`combine` by the pipeline's formulas (what it reduces to on one device)."""
        cols = slice(upto)
        # equal stages share one result: reduce each distinct result once
        sums: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        for r in self.results:
            if id(r) not in sums:
                sums[id(r)] = r.totals(upto)
        per_stage = [sums[id(r)] for r in self.results]
        comm = np.array([c.seconds[cols] for c in self.comms])  # [pp, C]
        stage = np.array([t[0] for t in per_stage]) + comm
        stage_bound = np.array(
            [np.maximum(t[1], c.bound_seconds[cols]) for t, c in zip(per_stage, self.comms)]
        )
        hop = np.array([x.seconds[cols] for x in self.transfers])
        hop_bound = np.array([x.bound_seconds[cols] for x in self.transfers])
        m = self.micro_batches[cols]
        # the critical path as the latency takes it: every stage once, then m - 1 more steps of
        # the slowest stage (its compute, its collectives and its hop)
        latency, slowest = critical_path(stage, hop, m)
        once = comm.sum(axis=0) + hop.sum(axis=0)
        wire = along_critical_path(comm + hop, slowest, m, once)
        by_bound = along_critical_path(np.array([t[2] for t in per_stage]), slowest, m)
        return {
            "micro_batches": m,
            "latency_s": latency,
            "latency_bound_s": pipeline_latency(stage_bound, hop_bound, m),
            "interconnect_s": wire,
            "by_bound_s": np.concatenate([by_bound, wire[:, None]], axis=-1),
            "feasible": self.feasible[cols],
            "device_footprint_bytes": np.max(
                [r.footprint_bytes[cols] for r in self.results], axis=0
            ),
            "devices_needed": self.devices_needed[cols],
            "shortfall_bytes": self.shortfall_bytes[cols],
            "kv_cache_bytes": self.kv_cache_bytes[cols],
        }


def _stage_split(pp: int) -> Callable[[Graph], tuple[np.ndarray, tuple[Cut, ...]]]:
    """A graph's (share of each op in each of ``pp`` stages [pp, O], what crosses each of the
    ``pp - 1`` cuts), worked out once per graph and ``pp``."""

    def split(graph: Graph) -> tuple[np.ndarray, tuple[Cut, ...]]:
        shares = stage_shares(graph, pp)
        cuts = crossing(graph, shares)
        shares.flags.writeable = False
        return shares, cuts

    return split


def _hop_bytes(cut: Cut, ct: CostTable, micro: np.ndarray) -> np.ndarray:
    """Bytes [C] one device sends across ``cut`` per micro-batch: each crossing op's output per
    copy, as the (sharded) table has it, and the graph inputs read after the cut."""
    size = (ct.act_out_bytes[cut.ops] / cut.divisors[:, None]).sum(axis=0)
    if cut.input_elems:
        size = size + cut.input_elems * micro * ct.precision.bytes_per(TensorClass.ACT_IN)
    return size


def check_layout(model: Model, system: System, layout: Layout) -> None:
    """SpecError when ``layout`` cannot run ``model`` on ``system``."""
    check_devices(layout, system.count, system.name)
    check_tensor_parallel(model.graph, layout.tp)
    check_context_parallel(model, layout.cp)
    if layout.ep > 1 and Role.EXPERTS not in roles(model.graph):
        raise SpecError(
            f"ep={layout.ep} but {model.name} has no mixture-of-experts layer",
            field="ep",
            fix="use ep=1 (expert parallelism needs experts)",
        )


def stages(
    graph: Graph,
    counts: Callable[[np.ndarray], CostTable],
    system: System,
    layout: Layout,
    batch: np.ndarray,
    policy: str | Policy | None = None,
    fuse: bool = True,
    launch: str = "kernel",
    micro_batches: int | None = None,
    context: Phase | None = None,
) -> Stages:
    """Evaluate one layout's stages at each column of ``batch`` (the whole system's samples).

    ``counts(micro_batch)`` returns the model's unfused counts with one column per micro-batch
    size [C] (a preset's :func:`~roofline.counting.count_graph`, or a decoder phase's counts at
    (batch, length) points), all from ``graph``'s structure (with ``fuse`` False, counts are
    evaluated as they are: fused ones too, where the layout has one stage and no tensor, expert
    or context parallelism, and so splits no op); with ``layout.cp`` > 1, one
    context-parallel rank's counts of the decoder phase ``context`` (None: prefill)
    (:func:`~roofline.systems.context.rank_counts`).
    """
    busiest, replicas, fewer, fewer_count = replica_split(batch, layout.dp)
    run = (graph, counts, system, layout, batch, policy, fuse, launch, micro_batches, context)
    if not fewer_count.any():
        return _replica_stages(*run, busiest, replicas)
    # the replicas one sample short (fewer = busiest where none is): the joules of their work,
    # as more columns of the same evaluation where its columns are independent
    joined = None if layout.ep > 1 else _joined(run, busiest, replicas, fewer, fewer_count)
    if joined is not None:
        return joined
    st = _replica_stages(*run, busiest, replicas)
    return replace(st, fewer=(fewer_count, _replica_stages(*run, fewer, fewer_count)))


class NotJoinable(Exception):
    """Two count tables to evaluate as the columns of one (two replicas', two phases') are not
    the same ops: evaluate them one at a time."""


def _joined(
    run: tuple[Any, ...],
    busiest: np.ndarray,
    replicas: np.ndarray,
    fewer: np.ndarray,
    fewer_count: np.ndarray,
) -> Stages | None:
    """The busiest replicas' stages [C] with those one sample short (``Stages.fewer``), both
    from one evaluation of 2C columns (every step works column by column; an expert-parallel
    dispatch is sized from all the columns, so its layouts are not joined); None where the
    counts are not the same ops or a stage took the full evaluation."""
    graph, counts, system, layout, batch, policy, fuse, launch, micro_batches, context = run
    c = batch.size

    def both(micro: np.ndarray) -> CostTable:
        table = join_columns(counts(micro[:c]), counts(micro[c:]))
        if table is None:
            raise NotJoinable
        return table

    try:
        st = _replica_stages(
            graph, both, system, layout, np.concatenate([batch, batch]), policy, fuse, launch,
            micro_batches, context, np.concatenate([busiest, fewer]),
            np.concatenate([replicas, fewer_count]),
        )  # fmt: skip
    except NotJoinable:
        return None
    first, second = st.columns(slice(c)), st.columns(slice(c, None))
    if first is None or second is None:
        return None
    return replace(first, fewer=(fewer_count, second))


def replica_split(batch: np.ndarray, dp: int) -> tuple[np.ndarray, ...]:
    """How ``batch`` [C] samples spread over ``dp`` replicas, as evenly as whole samples go:
    (the busiest replica's samples ``ceil(batch / dp)``, the replicas running them: ``batch`` up
    to ``dp``, else ``dp`` where it divides the batch and ``batch mod dp`` where not; the other
    replicas' samples, one fewer (the busiest's where there are none), how many run them) [C].
    Those left have no sample and run nothing."""
    busiest = np.ceil(batch / dp)
    short = batch % dp
    spread = (batch > dp) & (short > 0)  # every replica runs, some one sample short
    replicas = np.where(batch <= dp, batch, np.where(spread, short, float(dp)))
    fewer_count = np.where(spread, dp - short, 0.0)
    return busiest, replicas, np.where(spread, busiest - 1.0, busiest), fewer_count


def _replica_stages(
    graph: Graph,
    counts: Callable[[np.ndarray], CostTable],
    system: System,
    layout: Layout,
    batch: np.ndarray,
    policy: str | Policy | None,
    fuse: bool,
    launch: str,
    micro_batches: int | None,
    context: Phase | None,
    replica: np.ndarray,
    replicas: np.ndarray,
) -> Stages:
    """:func:`stages` of ``replicas`` [C] replicas running ``replica`` [C] samples each (at
    most ``micro_batches`` micro-batches of at least one sample each)."""
    m = (
        np.minimum(float(micro_batches), replica)
        if micro_batches
        else default_micro_batches(replica, layout.pp)
    )
    micro = replica / m
    full = counts(micro)
    local = counts(micro / layout.tp) if layout.tp > 1 and Role.DATA in roles(graph) else full
    group = counts(micro * layout.ep) if layout.ep > 1 else full
    sharded, comms, expert_comms = shard(full, local, group, graph, layout.tp, layout.ep)
    ring = context_comms(sharded, graph, layout.cp, context or "prefill")
    shares, cuts = graph.derived(f"stage_split.{layout.pp}", _stage_split(layout.pp))
    dev = system.device
    # devices are packed tp, cp, pp, dp (layout module): an expert-parallel group wider than a
    # stage's tp x cp devices takes that stage's devices of consecutive replicas, runs of
    # tp x cp devices, one in every pp
    mp = layout.model_parallel
    spread = (layout.pp, mp) if layout.pp > 1 and layout.ep > mp and layout.ep % mp == 0 else ()
    results, comm_costs, hops = [], [], []
    zero = np.zeros(batch.size)
    # middle stages of equal layer counts are equal: their costs and collectives, made once
    done: dict[bytes, tuple[StageCosts, Cost]] = {}
    for s in range(layout.pp):
        key = shares[s].tobytes()
        if key not in done:
            whole = bool((shares[s] == 1.0).all())  # one stage: the table as it is
            ct = sharded if whole else _stage_table(sharded, shares[s])
            cost = stage_costs(fuse_counts(ct, graph) if fuse else ct, dev, policy, launch)
            comm = _comm_cost(comms, shares[s], layout.tp, system, batch.size)
            if expert_comms:
                moe = _comm_cost(expert_comms, shares[s], layout.ep, system, batch.size, *spread)
                comm = comm.then(moe)
            if ring:
                ctx = _comm_cost(ring, shares[s], layout.cp, system, batch.size, stride=layout.tp)
                comm = comm.then(ctx)
            done[key] = (cost, comm)
        results.append(done[key][0])
        comm_costs.append(done[key][1])
        if s < layout.pp - 1:
            # a device of stage s sends to its peer of stage s + 1, tp x cp devices on
            size = _hop_bytes(cuts[s], sharded, micro)
            hops.append(point_to_point(size, s * mp, (s + 1) * mp, system))
        else:
            hops.append(Cost(zero, zero, {}))
    labels = ("compute", *dev.level_names, str(Bound.OVERHEAD), str(Bound.INTERCONNECT))
    return Stages(
        layout=layout,
        results=tuple(results),
        comms=tuple(comm_costs),
        transfers=tuple(hops),
        micro_batches=m,
        # the system's cache: each sample's (its micro-batch's over its size, on each of the cp
        # ranks that share its sequence) times the samples
        kv_cache_bytes=full.kv_footprint_bytes.sum(axis=0) / micro * batch * layout.cp,
        labels=labels,
        replicas=replicas,
    )


def evaluate_system(
    model: Model,
    system: System,
    batch: np.ndarray,
    dtype: str,
    layouts: Sequence[Layout],
    policy: str | Policy | None = None,
    fuse: bool = True,
    launch: str = "kernel",
    micro_batches: int | None = None,
    counts: Callable[[np.ndarray], CostTable] | None = None,
) -> SystemResult:
    """Evaluate ``model`` on ``system`` under each layout at each batch (module docstring).

    ``counts(batch)`` gives the model's unfused counts (default: counted here; a sweep passes
    counts it shares between its variants). ``micro_batches`` None is the default (module
    docstring); else a whole number >= 1 and at most the busiest replica's samples at every
    batch (:func:`check_micro_batches`)."""
    if micro_batches is not None:
        check_micro_batches(micro_batches, batch, layouts)
    parts = []
    labels: tuple[str, ...] = ()
    phase: PhaseCounts | None = None
    for lay in layouts:
        check_layout(model, system, lay)
        graph, context = model.graph, None
        lay_counts = counts or (lambda b: count_graph(model.graph, b, dtype))
        if lay.cp > 1:
            # one rank's counts: the model's phase at its own length, split over the ranks
            phase = phase or phase_counts(model, model.params.phase)  # type: ignore[attr-defined]
            length = getattr(model.params, LENGTH_PARAM[phase.phase])
            lay_counts = rank_counts(phase, np.full(batch.size, length), lay.cp, dtype)
            graph, context = phase.template, phase.phase
        st = stages(
            graph, lay_counts, system, lay, batch, policy, fuse, launch, micro_batches, context
        )
        parts.append(st.combine())
        link_j = to_grid(system.device).energy_arrays().interconnect[0]
        parts[-1]["dynamic_energy_j"], parts[-1]["busiest_energy_j"] = st.dynamic_energy_j(link_j)
        labels = st.labels

    def stack(key: str) -> np.ndarray:
        return np.stack([p[key] for p in parts])

    return SystemResult(
        model=model.name,
        system=system,
        dtype=dtype,
        policy=str(getattr(policy, "name", policy) or "capacity"),
        layouts=tuple(layouts),
        batch=batch,
        micro_batches=stack("micro_batches"),
        latency_s=stack("latency_s"),
        latency_bound_s=stack("latency_bound_s"),
        interconnect_s=stack("interconnect_s"),
        by_bound_s=stack("by_bound_s"),
        bound_labels=labels,
        feasible=stack("feasible"),
        device_footprint_bytes=stack("device_footprint_bytes"),
        devices_needed=stack("devices_needed"),
        shortfall_bytes=stack("shortfall_bytes"),
        kv_cache_bytes=stack("kv_cache_bytes"),
        dynamic_energy_j=stack("dynamic_energy_j"),
        busiest_energy_j=stack("busiest_energy_j"),
    )
