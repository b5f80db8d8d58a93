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
  ends: exact where a step's FLOPs and bytes are affine in the context), plus idle power x the
  capped e2e time. Each phase is capped at the power limit: the prefill exactly, the decode steps
  at their mean (``max(tpot, mean step energy / (TDP - idle))``, a lower bound on the mean of the
  capped steps). ``energy_per_token_j`` = that energy / (B x o); ``tokens_per_j`` its inverse;
  ``avg_power_w`` = energy / capped e2e; ``capped_tokens_per_s`` = B x o / capped e2e.

Each time comes as the estimate (launch overhead, engine efficiency, tile padding, efficiency
curves) and as the strict roofline bound (``*_bound_s``, ``tokens_per_s_bound``: no overhead, no
derating, no padding), which no measured system can beat.

The whole grid is evaluated at once: prefill counts at every (B, p) and decode counts at both ends
of every point's context range come from :class:`~roofline.serving.context_counts.PhaseCounts`
without rebuilding graphs, and the mean over the decode steps is exact for the strict bound (each
op's components are affine in the context: :func:`~roofline.serving.envelope.envelope_sum`). For
the estimate, tile padding and efficiency curves make a component piecewise in the context; it is
taken on the chord between the range's ends (exact at both ends).
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from roofline.api import HardwareLike, ModelLike, device_file
from roofline.errors import SpecError
from roofline.evaluation import evaluate_costs
from roofline.formulas import dominant
from roofline.grid import HardwareGrid, to_grid
from roofline.hardware import Hardware
from roofline.kinds import Bound, EngineKind
from roofline.model import Model
from roofline.placement import Policy
from roofline.presets import load_hardware, load_model
from roofline.result import Result
from roofline.serving.context_counts import Phase, PhaseCounts
from roofline.serving.envelope import envelope_sum
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
    "energy_per_token_j",
    "tokens_per_j",
    "avg_power_w",
    "capped_tokens_per_s",
    "policy",
    "launch",
)

_PHASES: weakref.WeakKeyDictionary[Model, dict[str, PhaseCounts]] = weakref.WeakKeyDictionary()


def phase_counts(model: Model, phase: Phase) -> PhaseCounts:
    """The :class:`PhaseCounts` of ``model``'s phase (built once per model)."""
    per_model = _PHASES.setdefault(model, {})
    if phase not in per_model:
        per_model[phase] = PhaseCounts(model, phase)
    return per_model[phase]


def _lengths(values: Any, field: str, minimum: int) -> np.ndarray:
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
    """The points: batch, prompt and output per point [P] (their Cartesian product)."""

    batch: np.ndarray
    prompt: np.ndarray
    output: np.ndarray

    @classmethod
    def product(cls, batch: np.ndarray, prompt: np.ndarray, output: np.ndarray) -> _Grid:
        b, p, o = np.meshgrid(batch, prompt, output, indexing="ij")
        return cls(b.ravel(), p.ravel(), o.ravel())


def _columns(*keys: np.ndarray) -> tuple[np.ndarray, ...]:
    """Unique rows of the stacked keys and, per key position, the row each point maps to."""
    stacked = np.stack(keys, axis=1)
    uniq, inverse = np.unique(stacked, axis=0, return_inverse=True)
    return (*uniq.T, inverse.ravel())


def _components(r: Result, strict: bool) -> tuple[np.ndarray, np.ndarray]:
    """(seconds per op and component [C, O, 1 + L]: compute then each level; overhead [C, O])."""
    if strict:
        ct, grid = r.costs, r.grid
        dtype = ct.precision.compute
        compute = ct.flops_matrix.T / grid.peak(EngineKind.MATRIX, dtype)[0]
        compute = compute + ct.flops_vector.T / grid.peak(EngineKind.VECTOR, dtype)[0]
        levels = r.bytes_moved[0] / grid.bandwidth[0]
        return np.concatenate([compute[..., None], levels], axis=-1), np.zeros_like(compute)
    comps = np.concatenate([r.compute_time_s[0][..., None], r.level_time_s[0]], axis=-1)
    return comps, r.overhead_s[0]


def _decode_means(
    r: Result, lo_col: np.ndarray, hi_col: np.ndarray, lo: np.ndarray, hi: np.ndarray, strict: bool
) -> tuple[np.ndarray, np.ndarray]:
    """(mean step seconds [P], seconds by bound label [P, 2 + L]) over contexts lo..hi."""
    comps, overhead = _components(r, strict)
    t_lo, t_hi = comps[lo_col], comps[hi_col]  # [P, O, K]
    span = np.maximum(hi - lo, 1.0)[:, None, None]
    beta = (t_hi - t_lo) / span
    alpha = t_lo - beta * lo[:, None, None]
    steps = hi - lo + 1.0
    total, by_line = envelope_sum(alpha, beta, lo[:, None], hi[:, None])  # [P, O], [P, O, K]
    over = overhead[lo_col].sum(axis=-1) * steps
    by_bound = np.concatenate([by_line.sum(axis=1), over[:, None]], axis=-1)
    return (total.sum(axis=-1) + over) / steps, by_bound


def _one(
    model: Model,
    hw: Hardware,
    dtype: str,
    grid: _Grid,
    policy: str | Policy | None,
    launch: str,
    fuse: bool,
) -> dict[str, np.ndarray]:
    """Columns of the generation table for one model, device and dtype."""
    hgrid = to_grid(hw)
    b, p, o = grid.batch, grid.prompt, grid.output
    pb, pp, pcol = _columns(b, p)
    prefill = evaluate_costs(
        phase_counts(model, "prefill").table(pb, pp, dtype, fuse), hgrid, policy, launch
    )
    ttft = prefill.latency_s[0][pcol]
    ttft_bound = prefill.latency_bound_s[0][pcol]
    feasible = prefill.feasible[0][pcol].copy()
    devices = prefill.devices_needed[0][pcol].copy()
    kv = prefill.costs.kv_footprint_bytes.sum(axis=0)[pcol].copy()
    labels = ("compute", *hgrid.level_names, str(Bound.OVERHEAD))
    prefill_bound = dominant(labels, prefill.time_by_bound()[0])[pcol]
    ttft_capped = prefill.capped_latency_s[0][pcol]
    prefill_j = prefill.dynamic_energy_j[0][pcol]
    step_j = np.zeros(b.size)
    tpot = np.full(b.size, np.nan)
    tpot_bound = np.full(b.size, np.nan)
    decode_bound = np.full(b.size, "", dtype=object)
    dec = np.flatnonzero(o >= 2)
    if dec.size:
        lo, hi = p[dec] + 1.0, p[dec] + o[dec] - 1.0
        db, dc, dcol = _columns(np.concatenate([b[dec], b[dec]]), np.concatenate([lo, hi]))
        lo_col, hi_col = dcol[: dec.size], dcol[dec.size :]
        decode = evaluate_costs(
            phase_counts(model, "decode").table(db, dc, dtype, fuse), hgrid, policy, launch
        )
        tpot[dec], by_bound = _decode_means(decode, lo_col, hi_col, lo, hi, strict=False)
        tpot_bound[dec], _ = _decode_means(decode, lo_col, hi_col, lo, hi, strict=True)
        dyn = decode.dynamic_energy_j[0]
        step_j[dec] = 0.5 * (dyn[lo_col] + dyn[hi_col])
        decode_bound[dec] = dominant(labels, by_bound)
        feasible[dec] &= decode.feasible[0][hi_col]
        devices[dec] = np.maximum(devices[dec], decode.devices_needed[0][hi_col])
        kv[dec] = decode.costs.kv_footprint_bytes.sum(axis=0)[hi_col]
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
    times |= _energy(hgrid, b * o, steps, prefill_j, step_j, ttft_capped, tpot)
    # an infeasible point has no time: it says so instead
    times = {k: np.where(feasible, v, np.nan) for k, v in times.items()}
    n = b.size
    return {
        "model": np.full(n, model.name, dtype=object),
        "device": np.full(n, hw.name, dtype=object),
        "dtype": np.full(n, prefill.costs.precision.name, dtype=object),
        "batch": b.astype(int),
        "prompt": p.astype(int),
        "output": o.astype(int),
        **times,
        "kv_cache_bytes": kv,
        "feasible": feasible,
        "devices_needed": devices.astype(int),
        "prefill_bound": prefill_bound,
        "decode_bound": np.array([x or None for x in decode_bound], dtype=object),
        "policy": np.full(n, prefill.policy, dtype=object),
        "launch": np.full(n, launch, dtype=object),
    }


def _energy(
    grid: HardwareGrid,
    tokens: np.ndarray,
    steps: np.ndarray,
    prefill_j: np.ndarray,
    step_j: np.ndarray,
    ttft_capped: np.ndarray,
    tpot: np.ndarray,
) -> dict[str, np.ndarray]:
    """Energy columns of every point [P] (module docstring): ``tokens`` = B x o generated,
    ``steps`` = o - 1 decode steps, dynamic joules of the prefill and of a mean step."""
    e = grid.energy_arrays()
    with np.errstate(divide="ignore", invalid="ignore"):
        floor = step_j / (e.tdp[0] - e.idle[0])
        tpot_capped = np.fmax(tpot, floor)
        e2e = ttft_capped + np.where(steps > 0, steps * tpot_capped, 0.0)
        joules = prefill_j + steps * step_j + e.idle[0] * e2e
        per_token = joules / tokens
        return {
            "energy_per_token_j": per_token,
            "tokens_per_j": 1.0 / per_token,
            "avg_power_w": joules / e2e,
            "capped_tokens_per_s": tokens / e2e,
        }


def _as_list(value: Any) -> list[Any]:
    if isinstance(value, (str, dict, Model)) or not isinstance(value, Sequence):
        return [value]
    return list(value)


def generate(
    model: ModelLike | Sequence[ModelLike],
    hw: HardwareLike | Sequence[HardwareLike],
    prompt: int | Sequence[int] = 512,
    output: int | Sequence[int] = 128,
    batch: int | Sequence[int] = 1,
    dtype: str | Sequence[str] | None = None,
    policy: str | Policy | None = None,
    launch: str = "kernel",
    fuse: bool = True,
) -> Table:
    """Generation metrics of decoder models: one row per (model, device, dtype, batch, prompt,
    output), with the columns of :data:`GENERATION_COLUMNS` (module docstring).

    Parameters
    ----------
    model : model-like or a list of them
        Decoder language models (a preset such as ``llama2_7b``, an HF ``config.json``...).
    hw : device-like or a list of them
    prompt, output : int or list of int
        Prompt tokens per request (>= 1) and output tokens generated per request (>= 1).
    batch : int or list of int
        Requests run together.
    dtype : str or list of str, optional
        Default: each device's ``dtype`` (its datasheet's headline dtype).
    policy : placement policy (``capacity`` default, or ``single``)
    launch : ``kernel`` (a launch per kernel) or ``graph`` (one per step: CUDA graphs)
    fuse : fuse pointwise epilogues (as :func:`roofline.evaluate`)

    Every list is a grid axis; the batch x prompt x output grid of one model, device and dtype is
    evaluated in one vectorized pass.
    """
    grid = _Grid.product(
        _lengths(batch, "batch", 1), _lengths(prompt, "prompt", 1), _lengths(output, "output", 1)
    )
    parts: list[dict[str, np.ndarray]] = []
    for m in (load_model(x) for x in _as_list(model)):
        for arg in _as_list(hw):
            dev = load_hardware(arg)
            for dt in _as_list(dtype) if dtype is not None else [dev.dtype]:
                with device_file(arg):
                    parts.append(_one(m, dev, dt, grid, policy, launch, fuse))
    columns = {c: np.concatenate([part[c] for part in parts]) for c in GENERATION_COLUMNS}
    return Table.from_columns(columns, title="generate")
