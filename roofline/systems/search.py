"""The best parallel layout of a model on a system, under a service-level target.

Every layout that fills the system (``tp x pp x cp x dp`` = its devices; ``ep`` among the divisors
of ``tp x cp x dp`` for a mixture-of-experts model; ``cp`` > 1 only for a decoder language model
whose prompt, or prefill sequence, leaves every context-parallel rank at least
:data:`~roofline.systems.context.CP_MIN_TOKENS` tokens) is tried at every batch; a layout the
model cannot run (heads or vocabulary that do not split, more stages than layers) is listed
with the reason. Each point is scored by throughput per device (the cost of serving: samples, or
output tokens, per second per device) and kept when it fits every device and meets the target:

* a decoder language model with ``prompt`` and ``output`` (one of them given, the other is
  :func:`roofline.generate`'s default: 512 prompt, 128 output tokens) runs
  :func:`roofline.generate`: ``sla`` bounds the time per output token (and ``ttft``, the time to
  first token), ``per_user`` asks for at least that many output tokens per second per user;
* any other model runs :func:`roofline.evaluate`: ``sla`` bounds the latency of a batch (``ttft``
  and ``per_user``, targets of generation, need a prompt or an output: an error without).

The arguments are checked once, as :func:`roofline.generate` and :func:`roofline.evaluate` check
them (the same errors): a bad batch, prompt, output, target, dtype or policy is a
:class:`~roofline.errors.SpecError`, never a reason listed on every layout.

The table is sorted best first: points that meet the target by throughput per device, then the
rest; ``rank`` is 1 for the best.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from roofline.api import ModelLike, device_file
from roofline.batch_sizes import batch_sizes
from roofline.errors import SpecError
from roofline.presets import load_hardware, load_model
from roofline.serving.context_counts import is_decoder
from roofline.serving.generation import DEFAULT_OUTPUT, DEFAULT_PROMPT, generate, whole_numbers
from roofline.systems.context import CP_MIN_TOKENS
from roofline.systems.evaluate import evaluate_system
from roofline.systems.layout import Layout
from roofline.systems.roles import Role, roles
from roofline.systems.spec import System
from roofline.table import Table
from roofline.units import Dim, parse_quantity

SEARCH_COLUMNS = (
    "rank",
    "layout",
    "tp",
    "pp",
    "cp",
    "ep",
    "dp",
    "batch",
    "throughput_per_device_per_s",
    "latency_s",
    "tpot_s",
    "ttft_s",
    "tokens_per_s_per_user",
    "feasible",
    "meets_sla",
    "reason",
)


#: the fields of the errors a layout itself causes (degrees that do not split the model or
#: fill the system): such a layout is listed with the reason, any other error is raised
LAYOUT_FIELDS = ("tp", "pp", "cp", "ep", "dp", "parallel")


def _divisors(n: int) -> list[int]:
    """The divisors of ``n`` >= 1, ascending (trial division up to its square root)."""
    small = [d for d in range(1, math.isqrt(n) + 1) if n % d == 0]
    return small + [n // d for d in reversed(small) if d * d != n]


def candidates(model: Any, system: System, tokens: int | None = None) -> list[Layout]:
    """Every layout filling ``system``: tp, pp and cp dividing its count, dp filling it, and ep
    over the divisors of tp x cp x dp for a model with experts (else 1). ``cp`` > 1 only for a
    decoder with ``tokens`` (its prompt) of at least ``cp x`` :data:`CP_MIN_TOKENS`."""
    experts = Role.EXPERTS in roles(model.graph)
    most_cp = max(tokens // CP_MIN_TOKENS, 1) if tokens is not None and is_decoder(model) else 1
    out = []
    for tp in _divisors(system.count):
        for pp in _divisors(system.count // tp):
            for cp in _divisors(system.count // (tp * pp)):
                if cp > most_cp:
                    continue
                dp = system.count // (tp * pp * cp)
                for ep in _divisors(tp * cp * dp) if experts else [1]:
                    out.append(Layout(tp, pp, ep, dp, cp))
    return out


def best_layout(
    model: ModelLike,
    system: Any,
    batch: int | Sequence[int] = 1,
    dtype: str | None = None,
    sla: str | float | None = None,
    ttft: str | float | None = None,
    per_user: float | None = None,
    prompt: int | None = None,
    output: int | None = None,
    policy: str | None = None,
) -> Table:
    """Every layout of ``model`` on ``system`` scored and ranked (module docstring)."""
    m = load_model(model)
    target = load_hardware(system)
    if not isinstance(target, System):
        raise SpecError(
            f"{target.name!r} is one device: a layout search needs a system",
            field="hw",
            fix="name a system such as dgx_h100, or build one with rl.system(device, count, ...)",
        )
    dt = dtype or target.device.dtype
    llm = prompt is not None or output is not None
    if llm and not is_decoder(m):
        raise SpecError(
            f"{m.name} is not a decoder language model",
            field="prompt",
            fix="drop --prompt/--output to search by batch latency",
        )
    for name, value in (("ttft", ttft), ("per_user", per_user)):
        if value is not None and not llm:  # a generation target: without one, no row meets it
            raise SpecError(
                f"{name} is a target of generation, searched with a prompt or an output only",
                field=name,
                fix="give them, e.g. --prompt 512 --output 128, or drop the target",
            )
    limit, first, least = (
        _target(sla, "sla", Dim.TIME),
        _target(ttft, "ttft", Dim.TIME),
        _target(per_user, "per_user", Dim.COUNT),
    )
    # the checks generate and evaluate make, once: a bad argument is an error, not a reason
    tokens: int | None  # what a context-parallel layout splits (candidates)
    if llm:
        batches = [int(b) for b in whole_numbers(batch, "batch", 1)]
        asked = _one_length(DEFAULT_PROMPT if prompt is None else prompt, "prompt")
        generated = _one_length(DEFAULT_OUTPUT if output is None else output, "output")
        tokens = asked
    else:
        batches, asked, generated = batch_sizes(batch), 0, 0
        tokens = prefill_tokens(m)
    rows: list[dict[str, Any]] = []
    for lay in candidates(m, target, tokens):
        try:
            with device_file(system):
                rows += (
                    _llm_rows(m, target, lay, batches, dt, asked, generated, policy)
                    if llm
                    else _plain_rows(m, target, lay, batches, dt, policy)
                )
        except SpecError as exc:
            if exc.field not in LAYOUT_FIELDS:  # the arguments' fault: every layout would fail
                raise
            rows.append({"layout": lay, "batch": None, "feasible": False, "reason": exc.problem})
    for r in rows:
        ok = bool(r.get("feasible")) and not r.get("reason")
        tpot, ft, user = r.get("tpot_s"), r.get("ttft_s"), r.get("tokens_per_s_per_user")
        lat = tpot if llm else r.get("latency_s")
        ok = ok and (lat is None or lat <= limit) and (ft is None or ft <= first)
        r["meets_sla"] = ok and (per_user is None or (user is not None and user >= least))
    rows.sort(key=lambda r: (not r["meets_sla"], -(r.get("throughput_per_device_per_s") or 0.0)))
    table_rows = []
    for i, r in enumerate(rows):
        lay = r["layout"]
        table_rows.append(
            [
                i + 1 if r["meets_sla"] else None,
                lay.label,
                lay.tp,
                lay.pp,
                lay.cp,
                lay.ep,
                lay.dp,
                r.get("batch"),
                r.get("throughput_per_device_per_s"),
                r.get("latency_s"),
                r.get("tpot_s"),
                r.get("ttft_s"),
                r.get("tokens_per_s_per_user"),
                bool(r.get("feasible")),
                bool(r["meets_sla"]),
                r.get("reason") or "",
            ]
        )
    return Table(SEARCH_COLUMNS, table_rows, title=f"layouts of {m.name} on {target.name}")


def _target(value: Any, field: str, dim: Dim) -> float:
    """A service-level target as a positive finite number in SI units (None: no target, inf for
    a limit and 0 for a floor alike never bind); a SpecError naming ``field`` otherwise."""
    if value is None:
        return np.inf if dim == Dim.TIME else 0.0
    try:
        return parse_quantity(value, dim)
    except SpecError as exc:
        raise exc.with_context(prefix=field) from None


def _one_length(value: Any, field: str) -> int:
    """One prompt or output length, checked as :func:`roofline.generate` checks it."""
    lengths = whole_numbers(value, field, 1)
    if lengths.size != 1:
        raise SpecError(
            f"{lengths.size} values of {field} given; a layout search takes one",
            field=field,
            fix=f"search one {field} at a time, e.g. {field}={int(lengths[0])}",
        )
    return int(lengths[0])


def prefill_tokens(model: Any) -> int | None:
    """The sequence a decoder evaluated in its prefill phase splits over cp (else None)."""
    if is_decoder(model) and model.params.phase == "prefill":
        return int(model.params.seq_len)
    return None


def _plain_rows(
    model: Any, system: System, lay: Layout, batches: list[int], dtype: str, policy: Any
) -> list[dict[str, Any]]:
    res = evaluate_system(
        model, system, np.array(batches, dtype=float), dtype, [lay], policy=policy
    )
    out = []
    for j, b in enumerate(batches):
        ok = bool(res.feasible[0, j])
        lat = float(res.latency_s[0, j])
        out.append(
            {
                "layout": lay,
                "batch": b,
                "latency_s": lat if ok else None,
                "throughput_per_device_per_s": b / lat / lay.devices if ok else None,
                "feasible": ok,
            }
        )
    return out


def _llm_rows(
    model: Any,
    system: System,
    lay: Layout,
    batches: list[int],
    dtype: str,
    prompt: int,
    output: int,
    policy: Any,
) -> list[dict[str, Any]]:
    t = generate(
        model,
        system,
        prompt=prompt,
        output=output,
        batch=batches,
        dtype=dtype,
        policy=policy,
        tp=lay.tp,
        pp=lay.pp,
        ep=lay.ep,
        dp=lay.dp,
        cp=lay.cp,
    )
    out = []
    for r in t:
        thr = r["tokens_per_s"]
        out.append(
            {
                "layout": lay,
                "batch": r["batch"],
                "latency_s": r["e2e_s"],
                "tpot_s": r["tpot_s"],
                "ttft_s": r["ttft_s"],
                "tokens_per_s_per_user": r["tokens_per_s_per_user"],
                "throughput_per_device_per_s": None if thr is None else thr / lay.devices,
                "feasible": bool(r["feasible"]),
            }
        )
    return out
