"""Generation metrics of decoder language models over whole grids of batch x prompt x output.

A request of ``p`` prompt tokens that generates ``o`` output tokens runs one prefill over the
prompt (it yields the first token) and then ``o - 1`` decode steps, step ``i`` attending to a KV
cache of ``p + i`` tokens (the new one included). For a batch of ``B`` such requests run together:

* ``ttft_s`` (time to first token) = the prefill's latency at (B, p);
* ``tpot_s`` (time per output token) = the mean decode step latency over contexts p+1 .. p+o-1;
* ``e2e_s`` = ttft + (o - 1) x tpot;
* ``tokens_per_s`` = B x o / e2e (output tokens per second of the whole system, as MLPerf and
  TensorRT-LLM report), ``tokens_per_s_per_user`` = o / e2e;
* ``kv_cache_bytes``: the cache at the last step (p + o - 1 tokens per sequence);
* ``feasible`` / ``devices_needed``: the prefill at (B, p) and the last decode step must fit;
  infeasible points carry no times (NaN: null in JSON, empty in CSV);
* ``prefill_bound`` / ``decode_bound``: what bounds most of each phase's time.
* energy (:mod:`roofline.energy`; NaN for a device without an energy model): the prefill's
  dynamic energy plus ``o - 1`` decode steps at their mean dynamic energy (the mean of the range's
  ends, or of its pieces' below: exact where a step's FLOPs and bytes are affine in the context),
  plus idle power x the capped e2e time. Each phase is capped at the power limit: the prefill
  exactly, the decode steps at their mean (``max(tpot, mean step energy / (TDP - idle))``, a
  lower bound on the mean of the capped steps). ``energy_per_token_j`` = that energy / (B x o);
  ``tokens_per_j`` its inverse; ``avg_power_w`` = energy / capped e2e; ``capped_tokens_per_s`` =
  B x o / capped e2e.

Each time comes as the estimate (launch overhead, engine efficiency, tile padding, efficiency
curves) and as the strict roofline bound (``*_bound_s``, ``tokens_per_s_bound``: no overhead, no
derating, no padding), which no measured system can beat.

The whole grid is evaluated at once: prefill counts at every (B, p) and decode counts at both ends
of every point's context range come from :class:`~roofline.serving.context_counts.PhaseCounts`
without rebuilding graphs, and the mean over the decode steps is exact for the strict bound (each
op's components are affine in the context: :func:`~roofline.serving.envelope.envelope_sum`). For
the estimate, tile padding and efficiency curves make a component piecewise in the context; it is
taken on the chord between the range's ends (exact at both ends).

A sliding-window layer attends to min(c, window) tokens: its counts grow with the context up to
the window and stay put past it (on a context-parallel rank, up to cp x the window). A range
across that point is cut there, [lo, window] and [window + 1, hi], each piece affine in the
context and taken as above, and its means are the pieces' weighted by their steps
(:class:`_Split`), so the bound stays exact. Other models' ranges are never cut.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from roofline.api import HardwareLike, ModelLike, device_file
from roofline.arguments import one_or_many
from roofline.energy import DeviceEnergy, power_floor_s
from roofline.errors import SpecError
from roofline.formulas import check_launch, dominant
from roofline.graph import Graph
from roofline.grid import to_grid
from roofline.model import Model
from roofline.placement import Policy
from roofline.presets import load_hardware, load_model
from roofline.records import CostTable, join_columns
from roofline.serving.context_counts import Phase, phase_counts
from roofline.systems.context import rank_counts
from roofline.systems.evaluate import NotJoinable, Stages, check_layout, stages
from roofline.systems.layout import Layout, layouts, one_device
from roofline.systems.pipeline import pipeline_latency
from roofline.systems.spec import System, single
from roofline.systems.stage_costs import StepMeans
from roofline.table import Table

GENERATION_COLUMNS = (
    "model",
    "device",
    "dtype",
    "batch",
    "prompt",
    "output",
    "ttft_s",
    "tpot_s",
    "e2e_s",
    "tokens_per_s",
    "tokens_per_s_per_user",
    "ttft_bound_s",
    "tpot_bound_s",
    "e2e_bound_s",
    "tokens_per_s_bound",
    "kv_cache_bytes",
    "feasible",
    "devices_needed",
    "prefill_bound",
    "decode_bound",
    "tp",
    "pp",
    "cp",
    "ep",
    "dp",
    "energy_per_token_j",
    "tokens_per_j",
    "avg_power_w",
    "capped_tokens_per_s",
    "policy",
    "launch",
)

#: :func:`generate`'s default prompt and output tokens per request (the layout search's too)
DEFAULT_PROMPT = 512
DEFAULT_OUTPUT = 128

#: whether each model's prefill and decode templates are one graph (:func:`_same_graph`)
_SAME: weakref.WeakKeyDictionary[Model, bool] = weakref.WeakKeyDictionary()


def whole_numbers(values: Any, field: str, minimum: int) -> np.ndarray:
    """A whole-number axis as floats [n] (SpecError naming ``field`` otherwise): the check of
    :func:`generate`'s batch, prompt and output (and the layout search's,
    :func:`roofline.systems.search.best_layout`)."""
    if type(values) is int and values >= minimum:  # one plain number, the common case
        return np.array([float(values)])
    arr = np.atleast_1d(np.asarray(values, dtype=object))
    out = []
    for v in arr.ravel():
        if isinstance(v, (bool, np.bool_)) or not isinstance(
            v, (int, float, np.integer, np.floating)
        ):
            raise SpecError(
                f"{field} {v!r} is not a whole number", field=field, fix=f"e.g. {field}=128"
            )
        if not float(v).is_integer() or v < minimum:
            raise SpecError(
                f"{field} {v!r} must be a whole number >= {minimum}",
                field=field,
                fix=f"e.g. {field}=128",
            )
        out.append(float(v))
    if not out:
        raise SpecError(f"{field} is empty", field=field, fix=f"e.g. {field}=[128, 1024]")
    return np.array(out)


@dataclass(frozen=True)
class _Grid:
    """The points: batch, prompt and output per point [P], the Cartesian product of the axes
    (``axes``: the batches, prompts and outputs asked for, in order)."""

    batch: np.ndarray
    prompt: np.ndarray
    output: np.ndarray
    axes: tuple[np.ndarray, np.ndarray, np.ndarray]

    @classmethod
    def product(cls, batch: np.ndarray, prompt: np.ndarray, output: np.ndarray) -> _Grid:
        nb, npr, no = batch.size, prompt.size, output.size  # meshgrid(indexing="ij"), raveled
        b, p = batch.repeat(npr * no), _tiled(prompt.repeat(no), nb)
        return cls(b, p, _tiled(output, nb * npr), (batch, prompt, output))


def _product(first: np.ndarray, second: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The columns of the product of two axes of distinct sorted values, ``first`` x ``second``
    (the first sorting first, as ``np.unique(axis=0)`` of the pairs): (first key [C], second key
    [C])."""
    return first.repeat(second.size), _tiled(second, first.size)


def _tiled(a: np.ndarray, times: int) -> np.ndarray:
    """``np.tile`` of a 1-D array, by array methods (numpy's ``tile`` is a Python function)."""
    return a[None, :].repeat(times, axis=0).ravel()


def _column(
    first: np.ndarray, second: np.ndarray, at_first: np.ndarray, at_second: np.ndarray
) -> np.ndarray:
    """The column of each pair (``at_first``, ``at_second``) in :func:`_product` of ``first``
    and ``second``."""
    return first.searchsorted(at_first) * second.size + second.searchsorted(at_second)


def _decode_columns(
    batches: np.ndarray, contexts: np.ndarray, at: np.ndarray, lo: np.ndarray, hi: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The decode's (batch, context) columns, the product of the distinct ``batches`` and
    ``contexts`` (batch key [C], context key [C]), and the columns of the ends ``lo``, ``hi`` [D]
    of each decode range at batch ``at`` [D]."""
    db, dc = _product(batches, contexts)
    return db, dc, _column(batches, contexts, at, lo), _column(batches, contexts, at, hi)


def _decode(
    st: Stages, lo_col: np.ndarray, hi_col: np.ndarray, lo: np.ndarray, hi: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mean step seconds, its strict bound, seconds by bound [P, K]) of a decode over lo..hi:
    each stage's mean (collectives and transfers do not depend on the context), then the pipeline
    over those means (exact with one stage; with several, it assumes the slowest stage stays the
    slowest over the range)."""
    if st.alone:  # the pipeline of one device is its stage (Stages.alone)
        mean, strict, by_dev = st.results[0].step_means(lo_col, hi_col, lo, hi)
        return mean, strict, np.concatenate([by_dev, np.zeros((lo.size, 1))], axis=-1)
    return _pipelined_decode(st, lo_col, hi_col, lo, hi)


def _pipelined_decode(
    st: Stages, lo_col: np.ndarray, hi_col: np.ndarray, lo: np.ndarray, hi: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`_decode` by the pipeline's formulas (what it reduces to on one device)."""
    stage, stage_bound, hop, hop_bound, by = [], [], [], [], []
    means: dict[int, StepMeans] = {}  # equal stages: one result
    for r, comm, xfer in zip(st.results, st.comms, st.transfers):
        if id(r) not in means:
            means[id(r)] = r.step_means(lo_col, hi_col, lo, hi)
        mean, strict, by_dev = means[id(r)]
        stage.append(mean + comm.seconds[lo_col])
        stage_bound.append(np.maximum(strict, comm.bound_seconds[lo_col]))
        hop.append(xfer.seconds[lo_col])
        hop_bound.append(xfer.bound_seconds[lo_col])
        by.append(np.concatenate([by_dev, (comm.seconds + xfer.seconds)[lo_col, None]], axis=-1))
    m = st.micro_batches[lo_col]
    latency = pipeline_latency(np.array(stage), np.array(hop), m)
    bound = pipeline_latency(np.array(stage_bound), np.array(hop_bound), m)
    return latency, bound, np.sum(by, axis=0)


@dataclass(frozen=True)
class _Run:
    """What a table of points runs on: the system and its layout, the dtype, the placement
    policy, epilogue fusion and the launch mode."""

    system: System
    layout: Layout
    dtype: str
    policy: str | Policy | None
    fuse: bool
    launch: str

    def stages(
        self,
        graph: Graph,
        counts: Callable[[np.ndarray], CostTable],
        batch: np.ndarray,
        context: Phase | None = None,
    ) -> Stages:
        """:func:`roofline.systems.evaluate.stages` of ``counts`` on this run."""
        s, lay, policy, fuse = self.system, self.layout, self.policy, self.fuse
        return stages(graph, counts, s, lay, batch, policy, fuse, self.launch, context=context)


def _phase_stages(
    model: Model, phase: Phase, batch: np.ndarray, length: np.ndarray, run: _Run
) -> Stages:
    """``model``'s ``phase`` under ``run.layout`` at each (batch, length) point [C] (one
    context-parallel rank's counts when ``layout.cp`` > 1)."""
    ph = phase_counts(model, phase)
    counts = rank_counts(ph, length, run.layout.cp, run.dtype)
    return run.stages(ph.template, counts, batch, context=phase)


def _same_graph(model: Model) -> bool:
    """Whether the prefill and decode templates are one graph (ops, wiring, tensor sizes)."""
    if model not in _SAME:
        a = phase_counts(model, "prefill").template
        b = phase_counts(model, "decode").template
        try:
            _SAME[model] = a.nodes == b.nodes and a.tensor_sizes() == b.tensor_sizes()
        except ValueError:  # an op holding arrays does not compare: take them as different
            _SAME[model] = False
    return _SAME[model]


def _both_stages(
    model: Model,
    prefill: tuple[np.ndarray, np.ndarray],
    decode: tuple[np.ndarray, np.ndarray],
    run: _Run,
) -> Stages | None:
    """The prefill's (batch, prompt) points [C1] and the decode's (batch, context) points [C2]
    as the columns of one evaluation [C1 + C2], prefill first; None where that does not apply.

    Every step of an evaluation works column by column, so the phases must only be one graph
    with one set of per-op counts (weights, GEMMs); context parallelism counts and communicates
    each phase its own way, and expert parallelism sizes its dispatch from all the columns.
    (numpy sums the ops of a one-column table pairwise and of a wider one row after row, so a
    point can differ in its last bit from the same point evaluated alone.)
    """
    if run.layout.cp > 1 or run.layout.ep > 1 or not _same_graph(model):
        return None
    pre, dec = phase_counts(model, "prefill"), phase_counts(model, "decode")
    n = prefill[0].size
    # one stage on one device (replicas aside): the counts come fused, and are evaluated as
    # they are (as unfused counts are with fuse=False)
    fuse = run.fuse and run.layout.tp == 1 and run.layout.pp == 1

    def counts(micro: np.ndarray) -> CostTable:
        a, b = (micro[:n], prefill[1]), (micro[n:], decode[1])
        joined = pre.table_beside(dec, a, b, run.dtype, fuse)
        if joined is None:  # the phases' own tables, fused as the map's would have been
            joined = join_columns(
                pre.table(*a, run.dtype, fuse=fuse), dec.table(*b, run.dtype, fuse=fuse)
            )
        if joined is None:
            raise NotJoinable
        return joined

    batch = np.concatenate([prefill[0], decode[0]])
    try:
        return replace(run, fuse=run.fuse and not fuse).stages(pre.template, counts, batch)
    except NotJoinable:
        return None


def _distinct(values: np.ndarray) -> np.ndarray:
    """The distinct values of a short axis, sorted (``np.unique``, without its per-call cost)."""
    return np.array(sorted(set(values.tolist())), dtype=float)


@dataclass(frozen=True, eq=False)
class _Points:
    """The grid's points and the count columns they need: the prefill's (batch, prompt) columns
    ``pb``, ``pp`` [C1] and each point's column ``pcol`` [P]; the points with decode steps
    ``dec`` [D], their context ranges ``lo``..``hi`` [D], the decode's (batch, context) columns
    ``db``, ``dc`` [C2] and the columns of each range's ends ``lo_col``, ``hi_col`` [D]."""

    grid: _Grid
    pb: np.ndarray
    pp: np.ndarray
    pcol: np.ndarray
    dec: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    db: np.ndarray
    dc: np.ndarray
    lo_col: np.ndarray
    hi_col: np.ndarray

    @classmethod
    def of(cls, grid: _Grid) -> _Points:
        """Every batch meets every prompt and output, so the prefill's columns are the product
        of the distinct batches and prompts, and the decode's of the distinct batches and the
        contexts at which some range starts or ends."""
        b, p, o = grid.batch, grid.prompt, grid.output
        batches, prompts, outputs = (_distinct(a) for a in grid.axes)
        pb, pp = _product(batches, prompts)
        pcol = _column(batches, prompts, b, p)
        dec = np.flatnonzero(o >= 2)
        lo, hi = p[dec] + 1.0, p[dec] + o[dec] - 1.0
        steps = outputs[outputs >= 2]
        ends = {*(prompts + 1.0).tolist()}
        ends.update((prompts[:, None] + steps[None, :] - 1.0).ravel().tolist())
        contexts = np.array(sorted(ends)) if steps.size else np.empty(0)
        db, dc, lo_col, hi_col = _decode_columns(batches, contexts, b[dec], lo, hi)
        return cls(grid, pb, pp, pcol, dec, lo, hi, db, dc, lo_col, hi_col)


@dataclass(frozen=True, eq=False)
class _Split:
    """The decode ranges of :class:`_Points` cut at a breakpoint context ``k``, where a step's
    counts change slope (:func:`_breakpoint`): a range with lo < k < hi is taken as its pieces
    [lo, k] and [k + 1, hi], each affine in the context, and its step means as theirs weighted
    by their steps (``n1`` = k - lo + 1, ``n2`` = hi - k). ``pts``: the points, with contexts k
    and k + 1 among the decode's columns; ``lo``, ``hi`` and ``lo_col``, ``hi_col`` [D + X]: the
    pieces' ends and their columns (the D ranges, those crossing k cut there, then the X second
    pieces); ``cross`` [X]: which of the D ranges cross k."""

    pts: _Points
    lo: np.ndarray
    hi: np.ndarray
    lo_col: np.ndarray
    hi_col: np.ndarray
    cross: np.ndarray
    n1: np.ndarray
    n2: np.ndarray

    @classmethod
    def of(cls, pts: _Points, k: float) -> _Split | None:
        """The cut of ``pts`` at ``k``; None where no range crosses it."""
        cross = np.flatnonzero((pts.lo < k) & (pts.hi > k))
        if not cross.size:
            return None
        batches = _distinct(pts.grid.axes[0])
        contexts = _distinct(np.concatenate([pts.dc, [k, k + 1.0]]))
        at = pts.grid.batch[pts.dec]
        db, dc, lo_col, hi_col = _decode_columns(batches, contexts, at, pts.lo, pts.hi)
        cut = replace(pts, db=db, dc=dc, lo_col=lo_col, hi_col=hi_col)
        k_col = _column(batches, contexts, at[cross], np.full(cross.size, k))
        after = _column(batches, contexts, at[cross], np.full(cross.size, k + 1.0))
        hi, first_hi = pts.hi.copy(), hi_col.copy()
        hi[cross], first_hi[cross] = k, k_col
        return cls(
            pts=cut,
            lo=np.concatenate([pts.lo, np.full(cross.size, k + 1.0)]),
            hi=np.concatenate([hi, pts.hi[cross]]),
            lo_col=np.concatenate([lo_col, after]),
            hi_col=np.concatenate([first_hi, hi_col[cross]]),
            cross=cross,
            n1=k - pts.lo[cross] + 1.0,
            n2=pts.hi[cross] - k,
        )

    def mean(self, pieces: np.ndarray) -> np.ndarray:
        """Each range's step-weighted mean [D, ...] of its pieces' means ``pieces`` [D + X, ...]."""
        d, cross = self.pts.dec.size, self.cross
        n1 = self.n1.reshape(-1, *(1,) * (pieces.ndim - 1))
        n2 = self.n2.reshape(n1.shape)
        out = pieces[:d].copy()
        out[cross] = (n1 * pieces[cross] + n2 * pieces[d:]) / (n1 + n2)
        return out


def _breakpoint(model: Model, window: int, cp: int) -> float | None:
    """The context past which a decode step's counts change slope, or None: a sliding-window
    layer attends to min(c, ``window``) of the c tokens of the context (on a context-parallel
    rank, to min(ceil(c / cp), ``window``)), so its counts grow with c up to ``window`` x ``cp``
    and stay put past it."""
    p: Any = model.params
    if not any(p.is_sliding(i) for i in range(p.num_layers)):
        return None
    return float(window * cp)


@dataclass(frozen=True, eq=False)
class _Phases:
    """What the generation table takes from its two phases, per point [P]: the prefill's
    latency, strict bound and dominant bound, whether the point fits, the devices it needs, its
    KV cache at the last step, the decode's mean step (NaN without decode steps), and the
    dynamic joules of the prefill and of a mean step, each as (the whole system's, the busiest
    device's)."""

    ttft: np.ndarray
    ttft_bound: np.ndarray
    prefill_bound: np.ndarray
    feasible: np.ndarray
    devices: np.ndarray
    kv: np.ndarray
    tpot: np.ndarray
    tpot_bound: np.ndarray
    decode_bound: np.ndarray
    prefill_j: tuple[np.ndarray, np.ndarray]
    step_j: tuple[np.ndarray, np.ndarray]
    dtype: str
    policy: str


def _as_is(x: np.ndarray) -> np.ndarray:
    """``x``: the means of ranges no window cuts (:meth:`_Split.mean` of those it does)."""
    return x


def _phases(model: Model, run: _Run, pts: _Points) -> _Phases:
    """:class:`_Phases` from the stages of the layout (:func:`roofline.systems.evaluate.stages`)."""
    # a sliding window: the decode ranges cut where its span stops growing (_Split); reading it
    # makes no call, so a model without one (or a family without them) runs as it always did
    window = getattr(model.params, "sliding_window", None)
    split = None
    if window is not None and pts.dec.size:
        k = _breakpoint(model, window, run.layout.cp)
        split = None if k is None else _Split.of(pts, k)
        pts = pts if split is None else split.pts
    n_points, dec, lo, hi = pts.grid.batch.size, pts.dec, pts.lo, pts.hi
    lo_col, hi_col, pcol = pts.lo_col, pts.hi_col, pts.pcol
    both = _both_stages(model, (pts.pb, pts.pp), (pts.db, pts.dc), run) if dec.size else None
    prefill = both or _phase_stages(model, "prefill", pts.pb, pts.pp, run)
    pre_totals = prefill.combine(pts.pb.size)  # the prefill's columns come first
    feasible = pre_totals["feasible"][pcol].copy()
    devices = pre_totals["devices_needed"][pcol].copy()
    kv = pre_totals["kv_cache_bytes"][pcol].copy()
    labels = prefill.labels if run.layout.devices > 1 else prefill.labels[:-1]
    prefill_bound = dominant(labels, pre_totals["by_bound_s"][pcol][:, : len(labels)])
    link_j = to_grid(run.system.device).energy_arrays().interconnect[0]
    pre_j, pre_busiest_j = prefill.dynamic_energy_j(link_j)
    step_j, step_busiest_j = np.zeros(n_points), np.zeros(n_points)
    tpot, tpot_bound = np.full(n_points, np.nan), np.full(n_points, np.nan)
    decode_bound = np.full(n_points, None, dtype=object)
    if dec.size:
        offset = 0
        if both is not None:  # the decode's columns follow the prefill's
            decode = both
            offset = pts.pb.size
            lo_col, hi_col = lo_col + offset, hi_col + offset
        else:
            decode = _phase_stages(model, "decode", pts.db, pts.dc, run)
        # the pieces the steps are averaged over: the ranges, or their cuts at the window (each
        # piece's means, then each range's)
        ends = (lo_col, hi_col, lo, hi)
        mean: Callable[[np.ndarray], np.ndarray] = _as_is
        if split is not None:
            ends = (split.lo_col + offset, split.hi_col + offset, split.lo, split.hi)
            mean = split.mean
        tpot[dec], tpot_bound[dec], by_bound = (mean(x) for x in _decode(decode, *ends))
        decode_bound[dec] = dominant(labels, by_bound[:, : len(labels)])
        feasible[dec] &= decode.feasible[hi_col]
        devices[dec] = np.maximum(devices[dec], decode.devices_needed[hi_col])
        kv[dec] = decode.kv_cache_bytes[hi_col]
        same = decode is prefill
        dyn, busiest = (pre_j, pre_busiest_j) if same else decode.dynamic_energy_j(link_j)
        # exact: affine in the context on each piece
        step_j[dec] = mean(0.5 * (dyn[ends[0]] + dyn[ends[1]]))
        step_busiest_j[dec] = mean(0.5 * (busiest[ends[0]] + busiest[ends[1]]))
    first = prefill.results[0]
    return _Phases(
        ttft=pre_totals["latency_s"][pcol],
        ttft_bound=pre_totals["latency_bound_s"][pcol],
        prefill_bound=prefill_bound,
        feasible=feasible,
        devices=devices,
        kv=kv,
        tpot=tpot,
        tpot_bound=tpot_bound,
        decode_bound=decode_bound,
        prefill_j=(pre_j[pcol], pre_busiest_j[pcol]),
        step_j=(step_j, step_busiest_j),
        dtype=first.dtype,
        policy=first.policy,
    )


def _one(
    model: Model,
    system: System,
    layout: Layout,
    dtype: str,
    pts: _Points,
    policy: str | Policy | None,
    launch: str,
    fuse: bool,
) -> dict[str, np.ndarray]:
    """Columns of the generation table for one model, system (or device), layout and dtype at
    the grid's points ``pts``."""
    b, p, o = pts.grid.batch, pts.grid.prompt, pts.grid.output
    check_layout(model, system, layout)
    run = _Run(system, layout, dtype, policy, fuse, launch)
    ph = _phases(model, run, pts)
    ttft, ttft_bound, tpot, tpot_bound = ph.ttft, ph.ttft_bound, ph.tpot, ph.tpot_bound
    steps = o - 1.0
    with np.errstate(invalid="ignore"):
        e2e = ttft + np.where(steps > 0, steps * tpot, 0.0)
        e2e_bound = ttft_bound + np.where(steps > 0, steps * tpot_bound, 0.0)
    times = {
        "ttft_s": ttft,
        "tpot_s": tpot,
        "e2e_s": e2e,
        "tokens_per_s": b * o / e2e,
        "tokens_per_s_per_user": o / e2e,
        "ttft_bound_s": ttft_bound,
        "tpot_bound_s": tpot_bound,
        "e2e_bound_s": e2e_bound,
        "tokens_per_s_bound": b * o / e2e_bound,
    }
    energy = to_grid(system.device).energy_arrays()
    times |= _energy(energy, layout.devices, b * o, steps, ph.prefill_j, ph.step_j, ttft, tpot)
    # an infeasible point has no time: it says so instead
    times = dict(zip(times, np.where(ph.feasible, np.array(list(times.values())), np.nan)))
    n = b.size
    return {
        "model": np.full(n, model.name, dtype=object),
        "device": np.full(n, system.name, dtype=object),
        "dtype": np.full(n, ph.dtype, dtype=object),
        "batch": b.astype(int),
        "prompt": p.astype(int),
        "output": o.astype(int),
        **times,
        "kv_cache_bytes": ph.kv,
        "feasible": ph.feasible,
        "devices_needed": ph.devices.astype(int),
        "prefill_bound": ph.prefill_bound,
        "decode_bound": ph.decode_bound,
        **{k: np.full(n, getattr(layout, k)) for k in ("tp", "pp", "cp", "ep", "dp")},
        "policy": np.full(n, ph.policy, dtype=object),
        "launch": np.full(n, launch, dtype=object),
    }


def _energy(
    e: DeviceEnergy,
    devices: int,
    tokens: np.ndarray,
    steps: np.ndarray,
    prefill_j: tuple[np.ndarray, np.ndarray],
    step_j: tuple[np.ndarray, np.ndarray],
    ttft: np.ndarray,
    tpot: np.ndarray,
) -> dict[str, np.ndarray]:
    """Energy columns of every point [P] (module docstring): ``tokens`` = B x o generated,
    ``steps`` = o - 1 decode steps; the prefill's and a mean step's dynamic joules, each as
    (the whole system's, the busiest device's). Each phase is throttled until its busiest device
    draws no more than its TDP (:func:`roofline.energy.power_floor_s`); every device idles
    through the whole run."""
    with np.errstate(divide="ignore", invalid="ignore"):
        ttft_capped = np.fmax(ttft, power_floor_s(prefill_j[1][None], e.tdp[:1], e.idle[:1])[0])
        tpot_capped = np.fmax(tpot, power_floor_s(step_j[1][None], e.tdp[:1], e.idle[:1])[0])
        e2e = ttft_capped + np.where(steps > 0, steps * tpot_capped, 0.0)
        joules = prefill_j[0] + steps * step_j[0] + devices * e.idle[0] * e2e
        per_token = joules / tokens
        return {
            "energy_per_token_j": per_token,
            "tokens_per_j": 1.0 / per_token,
            "avg_power_w": joules / e2e,
            "capped_tokens_per_s": tokens / e2e,
        }


def generate(
    model: ModelLike | Sequence[ModelLike],
    hw: HardwareLike | Sequence[HardwareLike],
    prompt: int | Sequence[int] = DEFAULT_PROMPT,
    output: int | Sequence[int] = DEFAULT_OUTPUT,
    batch: int | Sequence[int] = 1,
    dtype: str | Sequence[str] | None = None,
    policy: str | Policy | None = None,
    launch: str = "kernel",
    fuse: bool = True,
    tp: int | Sequence[int] = 1,
    pp: int | Sequence[int] = 1,
    ep: int | Sequence[int] = 1,
    dp: int | Sequence[int] | None = None,
    cp: int | Sequence[int] = 1,
) -> Table:
    """Generation metrics of decoder models: one row per (model, device or system, layout,
    dtype, batch, prompt, output), with the columns of :data:`GENERATION_COLUMNS` (module
    docstring).

    Parameters
    ----------
    model : model-like or a list of them
        Decoder language models (a preset such as ``llama2_7b``, an HF ``config.json``...).
    hw : device- or system-like, or a list of them
        A device (``h100_sxm5``) or a system of devices (``dgx_h100``).
    prompt, output : int or list of int
        Prompt tokens per request (>= 1) and output tokens generated per request (>= 1).
    batch : int or list of int
        Requests run together (on a system: over all its replicas).
    dtype : str or list of str, optional
        Default: each device's ``dtype`` (its datasheet's headline dtype).
    policy : placement policy (``capacity`` default, or ``single``)
    launch : ``kernel`` (a launch per kernel) or ``graph`` (one per step: CUDA graphs)
    fuse : fuse pointwise epilogues (as :func:`roofline.evaluate`)
    tp, pp, ep, dp, cp : int or list of int
        Parallel degrees on a system (:mod:`roofline.systems.layout`); ``dp`` None fills it;
        ``cp`` splits each sequence over that many devices (:mod:`roofline.systems.context`).
        Every combination that fills the system is evaluated.

    Notes
    -----
    Every list is a grid axis; the batch x prompt x output grid of one model, system, layout and
    dtype is evaluated in one vectorized pass.
    """
    grid = _Grid.product(
        whole_numbers(batch, "batch", 1),
        whole_numbers(prompt, "prompt", 1),
        whole_numbers(output, "output", 1),
    )
    models, targets = one_or_many(model), one_or_many(hw)
    dtypes = None if dtype is None else one_or_many(dtype)
    if not models or not targets or dtypes == []:
        _nothing_given(models, targets)
    check_launch(launch)  # as evaluate_costs does (the lean stages read it only)
    pts = _Points.of(grid)  # the count columns every layout and dtype needs
    parts: list[dict[str, np.ndarray]] = []
    for m in (load_model(x) for x in models):
        for arg in targets:
            target = load_hardware(arg)
            system = target if isinstance(target, System) else single(target)
            device = system.device
            if system.count == 1 and not one_device(tp, pp, ep, dp, cp):
                raise SpecError(
                    f"{device.name} is one device: tp, pp, cp and ep need a system",
                    field="tp",
                    fix="use a system such as dgx_h100, or rl.system(device, count, ...)",
                )
            for lay in layouts(tp, pp, ep, dp, devices=system.count, cp=cp):
                for dt in dtypes or [device.dtype]:
                    with device_file(arg):
                        parts.append(_one(m, system, lay, dt, pts, policy, launch, fuse))
    if len(parts) == 1:  # one model, device, layout and dtype: its columns as they are
        columns = {c: parts[0][c] for c in GENERATION_COLUMNS}
    else:
        columns = {c: np.concatenate([part[c] for part in parts]) for c in GENERATION_COLUMNS}
    return Table.from_columns(columns, title="generate")


def _nothing_given(models: list[Any], targets: list[Any]) -> None:
    """The SpecError of :func:`generate` given an empty list of models, devices or dtypes (a
    table of no rows would say nothing)."""
    if not models:
        raise SpecError("no model given", field="model", fix="give one or more, e.g. ['llama3_8b']")
    if not targets:
        raise SpecError(
            "no device or system given", field="hw", fix="give one or more, e.g. ['h100_sxm5']"
        )
    raise SpecError(
        "no dtype given", field="dtype", fix="give one or more, or None for each device's default"
    )
