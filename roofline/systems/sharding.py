"""One device's counts under tensor parallelism, and the collectives the split adds.

Given a model's unfused counts at the batch one replica runs, each op's count columns are scaled by
its :class:`~roofline.systems.roles.Role` over a tensor-parallel group of ``t`` devices:

=================  ==========================================  ===============================
role               divided by t                                collective after the op
=================  ==========================================  ===============================
column             FLOPs, weights, output (GEMM N)             -
column_gather      as column                                   all-gather of the full output
sharded            FLOPs, input, output (pointwise on a split  -
                   tensor)
row                FLOPs, weights, input (GEMM K)              all-reduce of the output
heads              FLOPs, weights, input, output (GEMM         -
                   count); the KV cache by max(t, KV heads)
                   (KV heads are replicated when t exceeds
                   them; latent attention's one latent per
                   token is replicated)
vocab              weights, rows looked up                     all-reduce of the output
table (table-wise) weights, rows, FLOPs, input, output         all-to-all of the pooled vectors
table (row-wise)   weights, rows, FLOPs (each device holds     reduce-scatter of the partial
                   1/t of every table's rows and serves the    pooled vectors (every sample's,
                   lookups that fall in them)                  every table's)
data               the batch: counts at batch / t              -
experts (ep = 1)   FLOPs, weights (each expert's FFN split)    all-reduce of the output
experts (ep > 1)   routed experts' weights by ep: a device     two all-to-alls (dispatch and
                   holds E/ep experts and reads those the      combine) of its tokens x k x
                   EP group's tokens touch                     hidden over the ep devices
replicated         nothing                                     -
=================  ==========================================  ===============================

An op of ``c`` side-by-side embedding tables is sharded table-wise when ``t`` divides ``c``
(each device holds c/t whole tables), else row-wise (every table split by rows), as a sharding
planner balances a group: whole tables when they spread evenly, rows when they do not.

Under expert parallelism the ``ep`` devices each bring their own tokens, so the group routes ``ep``
times a device's tokens; balanced routing gives each device the same routed FLOPs as without
expert parallelism, and the experts touched are those of the whole group's tokens
(``group`` counts, at ``ep`` times the batch), spread over the ep devices.

Live activations are each device's share: the liveness of the graph with every tensor at the
size one device holds (split outputs divided by t, the residual stream whole).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from roofline.errors import SpecError
from roofline.graph import Graph
from roofline.liveness import live_elements, live_elements_of
from roofline.ops.base import Op
from roofline.records import CostTable
from roofline.systems.roles import Role, roles

#: count columns grouped by what a split divides
_FLOPS = ("flops_matrix", "flops_vector", "flops_mac")
_WEIGHTS = ("weight_elems", "weight_bytes", "weight_read_bytes")
_IN = ("act_in_elems", "act_in_bytes")
_OUT = ("act_out_elems", "act_out_bytes")
_KV = ("kv_bytes", "kv_footprint_bytes")

#: per role: the column groups divided by t, the GEMM dim split, and the collective after it
_SPLITS: dict[Role, tuple[tuple[str, ...], str | None, str | None]] = {
    Role.COLUMN: (_FLOPS + _WEIGHTS + _OUT, "n", None),
    Role.COLUMN_GATHER: (_FLOPS + _WEIGHTS + _OUT, "n", "all_gather"),
    Role.ROW: (_FLOPS + _WEIGHTS + _IN, "k", "all_reduce"),
    Role.SHARDED: (_FLOPS + _WEIGHTS + _IN + _OUT, None, None),
    Role.HEADS: (_FLOPS + _WEIGHTS + _IN + _OUT, "count", None),
    Role.VOCAB: (_WEIGHTS + ("gather_rows",), None, "all_reduce"),
    Role.TABLE: (_FLOPS + _WEIGHTS + _IN + _OUT + ("gather_rows",), None, "all_to_all"),
}


#: row-wise tables: the divided columns and the collective (see the module docstring)
_ROW_WISE = (_FLOPS + _WEIGHTS + ("gather_rows",), "reduce_scatter")


@dataclass(frozen=True)
class Comm:
    """A collective after each of the ``copies`` runs of op ``op``: ``kind`` over the
    tensor-parallel group, ``size_bytes`` [B] per run (the full buffer; for an all-to-all, what one
    device holds)."""

    op: int
    kind: str
    size_bytes: np.ndarray
    copies: int


def kv_heads(op: Op) -> int:
    """Key/value heads of an attention op (its query heads when it declares none; one for latent
    attention, whose cached latent every head reads)."""
    if op.kind == "latent_attention":
        return 1
    declared = getattr(op, "num_kv_heads", None)
    return int(declared if declared is not None else getattr(op, "num_heads", 1))


def check_tensor_parallel(graph: Graph, tp: int) -> None:
    """SpecError when ``tp`` cannot split the model: its heads and KV heads first, then the
    vocabulary."""
    if tp > 1:  # a split that holds is remembered with the graph (one that fails raises anew)
        graph.derived(f"tp_checked.{tp}", lambda g: _check_split(g, tp))


def _check_split(graph: Graph, tp: int) -> bool:
    """:func:`check_tensor_parallel`'s checks (True, or the SpecError)."""
    pairs = list(zip(graph.ops, roles(graph)))
    for op, role in pairs:
        if role != Role.HEADS:
            continue
        heads, kv = int(getattr(op, "num_heads", 1)), kv_heads(op)
        if heads % tp:
            raise SpecError(
                f"tp={tp} does not divide the {heads} attention heads of {op.name}",
                field="tp",
                fix=f"use a tp that divides {heads}",
            )
        if kv % tp and tp % kv:
            raise SpecError(
                f"tp={tp} neither divides nor is a multiple of the {kv} KV heads of {op.name}",
                field="tp",
                fix=f"use a divisor or a multiple of {kv}",
            )
    for op, role in pairs:
        vocab = int(getattr(op, "num_embeddings", 0))
        if role == Role.VOCAB and vocab % tp:
            raise SpecError(
                f"tp={tp} does not divide the vocabulary of {vocab} rows of {op.name}",
                field="tp",
                fix=f"use a tp that divides {vocab}, or pad the vocabulary (Megatron pads to a "
                "multiple of 128 x tp: set vocab_size)",
            )
    return True


def shard(
    full: CostTable,
    local: CostTable,
    group: CostTable,
    graph: Graph,
    tp: int,
    ep: int = 1,
) -> tuple[CostTable, list[Comm], list[Comm]]:
    """One device's unfused counts in a tensor-parallel group of ``tp`` (and an expert-parallel
    group of ``ep``), the tensor-parallel collectives and the expert-parallel ones.

    ``full`` holds the counts at the replica's batch, ``local`` at ``batch / tp`` (for the rows of
    ``data`` ops), ``group`` at ``batch x ep`` (the experts an EP group's tokens touch); all
    unfused, from the same graph.
    """
    if tp == 1 and ep == 1:
        return full, [], []
    rs = roles(graph)
    comms: list[Comm] = []
    expert_comms: list[Comm] = []
    expert_read: dict[int, np.ndarray] = {}
    if Role.EXPERTS in rs:
        factor, gemm_factor, after = _split(graph, tp)
        for i in np.flatnonzero([r == Role.EXPERTS for r in rs]).tolist():
            _experts(
                full,
                group,
                graph.ops[i],
                i,
                tp,
                ep,
                factor,
                gemm_factor,
                comms,
                expert_comms,
                expert_read,
            )
        live_share = _live_share(graph, factor["act_out_elems"])
    else:  # the split depends on the graph and tp alone: worked out once
        factor, gemm_factor, after, live_share = graph.derived(f"tp_split.{tp}", _static_split(tp))
    for i, coll, copies in after:
        size = full.act_out_bytes[i] / copies / (tp if coll == "all_to_all" else 1.0)
        comms.append(Comm(i, coll, size, copies))
    comms.sort(key=lambda c: c.op)  # in op order, the experts' among the rest
    data = np.array([r == Role.DATA for r in rs])
    changes: dict[str, np.ndarray] = {}
    for name, f in factor.items():
        col = getattr(full, name)
        scaled = col * (f[:, None] if col.ndim == 2 else f)
        if data.any() and col.ndim == 2 and name not in ("weight_read_bytes",):
            scaled = np.where(data[:, None], getattr(local, name), scaled)
        changes[name] = scaled
    for i, read in expert_read.items():
        changes["weight_read_bytes"][i] = read
    changes["live_act_bytes"] = full.live_act_bytes * live_share
    if data.any():
        changes["live_act_bytes"] = np.where(
            data[:, None], local.live_act_bytes, full.live_act_bytes
        )
        changes["gather_rows"] = np.where(data[:, None], local.gather_rows, changes["gather_rows"])
    g = full.gemm_op
    gemm = {
        "gemm_n": full.gemm_n * gemm_factor["n"][g][:, None],
        "gemm_k": full.gemm_k * gemm_factor["k"][g][:, None],
        "gemm_count": full.gemm_count * gemm_factor["count"][g][:, None],
    }
    if data.any():  # a data-parallel op's GEMMs have the local batch's dims
        rows = data[g]
        for dim in ("gemm_m", "gemm_n", "gemm_k", "gemm_count"):
            base = gemm.get(dim, getattr(full, dim))
            gemm[dim] = np.where(rows[:, None], getattr(local, dim), base)
    return replace(full, **changes, **gemm), comms, expert_comms  # type: ignore[arg-type]


#: per count column and per GEMM dim, the factor [O] one device's share scales each op by
_Factors = dict[str, np.ndarray]
#: the collectives after ops: (op, kind, copies)
_After = list[tuple[int, str, int]]


def _split(graph: Graph, tp: int) -> tuple[_Factors, _Factors, _After]:
    """The factors and collectives of every op's role over ``tp`` devices (experts' left at 1:
    they depend on the counts, :func:`_experts` sets them)."""
    n = len(graph.ops)
    factor = {name: np.ones(n) for name in (*_FLOPS, *_WEIGHTS, *_IN, *_OUT, *_KV, "gather_rows")}
    gemm_factor = {d: np.ones(n) for d in ("n", "k", "count")}
    after: _After = []
    for i, (op, role) in enumerate(zip(graph.ops, roles(graph))):
        columns, dim, coll = _SPLITS.get(role, ((), None, None))
        if role == Role.TABLE and op.concurrent_copies % tp:
            columns, coll = _ROW_WISE
        for c in columns:
            factor[c][i] = 1.0 / tp
        if dim:
            gemm_factor[dim][i] = 1.0 / tp
        if role == Role.HEADS:
            kv = kv_heads(op)
            for c in _KV:
                factor[c][i] = max(1.0 / tp, 1.0 / kv)
        if coll:
            after.append((i, coll, op.sequential_copies))
    return factor, gemm_factor, after


def _static_split(
    tp: int,
) -> Callable[[Graph], tuple[_Factors, _Factors, _After, np.ndarray]]:
    """:func:`_split` of a graph without experts, with its live share (read-only)."""

    def split(graph: Graph) -> tuple[_Factors, _Factors, _After, np.ndarray]:
        factor, gemm_factor, after = _split(graph, tp)
        live = _live_share(graph, factor["act_out_elems"])
        for arr in (*factor.values(), *gemm_factor.values(), live):
            arr.flags.writeable = False
        return factor, gemm_factor, after, live

    return split


def _live_share(graph: Graph, out_factor: np.ndarray) -> np.ndarray:
    """Per op [O, 1]: the share of its live activations one device holds when each op's output
    is divided by ``out_factor`` [O]."""
    sizes = graph.tensor_sizes()
    split: dict[str, float] = dict(sizes)
    for i, node in enumerate(graph.nodes):
        split[node.output] = sizes[node.output] * out_factor[i]
    whole = live_elements(graph)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(whole > 0, live_elements_of(graph, split) / whole, 1.0)
    return share[:, None]


def _experts(
    full: CostTable,
    group: CostTable,
    op: Op,
    i: int,
    tp: int,
    ep: int,
    factor: dict[str, np.ndarray],
    gemm_factor: dict[str, np.ndarray],
    comms: list[Comm],
    expert_comms: list[Comm],
    expert_read: dict[int, np.ndarray],
) -> None:
    """Fill the split of a mixture-of-experts op ``i`` (the table's module docstring)."""
    copies = op.repeat
    if ep == 1:
        for c in (*_FLOPS, *_WEIGHTS):
            factor[c][i] = 1.0 / tp
        gemm_factor["n"][i] = 1.0 / tp
        comms.append(Comm(i, "all_reduce", full.act_out_bytes[i] / copies, copies))
        return
    routed = float(getattr(op, "num_experts", 1) * getattr(op, "expert_params", 0))
    always = float(getattr(op, "always_params", 0))
    held = (routed / ep + always) / max(routed + always, 1.0)
    for c in ("weight_elems", "weight_bytes"):
        factor[c][i] = held
    per_param = float(full.weight_bytes[i]) / max(float(full.weight_elems[i]), 1.0)
    always_b = always * per_param * op.weight_copies
    expert_read[i] = (group.weight_read_bytes[i] - always_b) / ep + always_b
    act = float(full.act_in_bytes[i].sum()) / max(float(full.act_in_elems[i].sum()), 1.0)
    # the tokens of each column [C]: its router GEMM's M (the op's first GEMM, M = batch x
    # tokens), read from the counts and not from ``op``, whose ``tokens`` is the graph's length
    # (a phase's template graph is one token long whatever each column's length is)
    tokens = full.gemm_m[np.searchsorted(full.gemm_op, i)]
    dispatch = tokens * float(getattr(op, "top_k", 1)) * float(getattr(op, "hidden_size", 0)) * act
    expert_comms.append(Comm(i, "all_to_all", dispatch, 2 * copies))  # dispatch and combine
