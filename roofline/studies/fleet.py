"""The operator time breakdown of a fleet, through observers (Park et al. 2018, Section 2.2).

The paper ranks operator groups by their share of data-center inference time: FC first, then
embedding lookups, then tensor manipulation, then convolution (docs/paper_notes.md Section 4.4; the
percentages were not retrieved). Here a fleet *mix* (each model's share of the fleet's inference
time, stated and editable) is evaluated on one device with a
:class:`~roofline.observers.ByCategory` observer attached to every op, as Caffe2's per-operator
observers sampled production nets; the fleet share of a group is the mix-weighted mean of each
model's share.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from roofline.api import evaluate_device as evaluate
from roofline.arguments import real_number
from roofline.errors import SpecError
from roofline.observers import ByCategory
from roofline.presets import load_device
from roofline.studies.base import (
    PAPER_MODELS,
    Options,
    Study,
    StudyEntry,
    fits,
    given,
    not_fit,
)
from roofline.table import Table

#: assumed share of fleet inference time per model (recommendation dominates the paper's
#: Figure 1 demand; the split is ours: edit it)
FLEET_MIX: dict[str, float] = {
    "rec_paper": 0.60,
    "seq2seq_gru": 0.15,
    "resnext101_32x4d": 0.10,
    "faster_rcnn_shufflenet": 0.10,
    "ir_csn_152": 0.05,
}
#: the paper's ranking of operator groups by fleet time (docs/paper_notes.md Section 4.4, H)
PAPER_RANKING = ("fc", "embedding", "tensor_manipulation", "conv")
#: our op categories -> the paper's groups (Caffe2 runs RNN gate GEMMs as FC operators)
PAPER_GROUP = {"recurrent": "fc"}


def fleet_breakdown(
    mix: Mapping[str, float] | None = None,
    device: Any = "xeon_gold_6138_2s",
    dtype: str = "fp32",
    batches: Mapping[str, int] | None = None,
) -> Study:
    """Time share by operator group of a fleet mix of models on one device.

    Parameters
    ----------
    mix : mapping model -> weight
        Each model's share of the fleet's inference time (normalized to sum to 1). Default
        :data:`FLEET_MIX`.
    device : str or Hardware
        Default the paper-era two-socket Xeon server (production inference ran on CPUs).
    dtype : str
    batches : mapping model -> batch, optional
        Default the Table 1 conventions (:data:`~roofline.studies.PAPER_MODELS`; 1 otherwise).

    Returns
    -------
    Study
        ``table``: one row per (model or ``fleet``, group): weight, feasible (the model fits
        the device), time_s (per run), time_share, fleet_rank. ``findings``: ``shares`` (fleet
        share per group, largest first), ``ranking``, ``paper_ranking``, ``order_agrees`` (the
        paper's four groups appear in the paper's order in ours) and ``mix`` (the normalized
        weights). A model that does not fit the device has no time or share (NaN) and is left
        out of the fleet, whose shares are those of the models that fit, weighted by their
        weights over the sum of theirs (none fits: no shares, and the answer says so).
    """
    weights = mix_weights(FLEET_MIX if mix is None else mix)
    hw = load_device(device)
    obs = ByCategory()
    names, fit = {}, {}
    for name in weights:
        b = (batches or {}).get(name, PAPER_MODELS.get(name, 1))
        r = evaluate(name, hw, batch=b, dtype=dtype, observers=[obs])
        names[name] = r.costs.model
        fit[name] = fits(r)
    per_model: dict[str, dict[str, float]] = {}
    times: dict[str, dict[str, float]] = {}
    for rec in obs.table():
        g = PAPER_GROUP.get(rec["category"], rec["category"])
        sh = per_model.setdefault(rec["model"], {})
        sh[g] = sh.get(g, 0.0) + rec["time_share"]
        tm = times.setdefault(rec["model"], {})
        tm[g] = tm.get(g, 0.0) + rec["time_s"]
    # a model that does not fit the device has no time: the fleet is the models that fit, their
    # weights taken over the weight of those
    held = sum(w for name, w in weights.items() if fit[name])
    norm = 1.0 if all(fit.values()) else held  # the mix's weights as they are when all fit
    fleet: dict[str, float] = {}
    for name, w in weights.items():
        if not fit[name]:
            continue
        for g, s in per_model[names[name]].items():
            fleet[g] = fleet.get(g, 0.0) + w / norm * s
    fleet = dict(sorted(fleet.items(), key=lambda kv: -kv[1]))
    ranking = list(fleet)
    nan = float("nan")
    rank = lambda g: ranking.index(g) + 1 if g in ranking else nan  # noqa: E731
    rows = []
    for name, w in weights.items():
        model = names[name]
        for g, s in sorted(per_model[model].items(), key=lambda kv: -kv[1]):
            if fit[name]:
                rows.append([model, w, True, g, times[model][g], s, rank(g)])
            else:
                rows.append([model, w, False, g, nan, nan, rank(g)])
    for g, s in fleet.items():
        rows.append(["fleet", 1.0, True, g, nan, s, rank(g)])
    table = Table(
        ["model", "weight", "feasible", "group", "time_s", "time_share", "fleet_rank"],
        rows,
        title=f"fleet time by operator group on {hw.name}, {dtype}",
    )
    ours = [g for g in ranking if g in PAPER_RANKING]
    agrees = ours == list(PAPER_RANKING)
    findings = {
        "shares": fleet,
        "ranking": ranking,
        "paper_ranking": list(PAPER_RANKING),
        "order_agrees": agrees,
        "mix": weights,
    }
    left = [names[n] for n in weights if not fit[n]]
    out = not_fit(left, hw.name)
    if not fleet:
        answer = f"No result: {out} ({dtype}), so the fleet has no time to break down."
        return ENTRY.study(table, findings, answer)
    top = ", ".join(f"{g} {100 * s:.0f}%" for g, s in list(fleet.items())[:5])
    answer = (
        f"Fleet time on {hw.name} ({dtype}): {top}. The paper's groups rank "
        f"{' > '.join(ours)}; the paper has {' > '.join(PAPER_RANKING)} "
        f"({'same order' if agrees else 'a different order'})."
    )
    if not agrees and "tensor_manipulation" in fleet:
        answer += (
            " Tensor manipulation takes "
            f"{100 * fleet['tensor_manipulation']:.1f}% here: the presets carry only the concats, "
            "splits and shuffles their architectures need, not the feature-processing tensor "
            "ops of production nets."
        )
    if left:
        answer += (
            f" Left out: {out} ({100 * (1 - held):.0f}% of the mix); the shares are those of the "
            "models that fit, their weights taken over theirs."
        )
    return ENTRY.study(table, findings, answer)


#: the fix of every mix error, by the field it is given as (the API's mix, the CLI's models)
_MIX_FIX = {
    "mix": "weights are finite numbers >= 0 with a positive sum, e.g. "
    "{'rec_paper': 0.6, 'resnet50': 0.4}",
    "models": "write MODEL=WEIGHT, each weight a finite number >= 0, e.g. rec_paper=0.6",
}


def mix_weights(mix: Any, field: str = "mix") -> dict[str, float]:
    """A fleet mix normalized to sum to 1: a non-empty mapping model -> weight, each weight a
    finite real number >= 0 (no bool, no text, no NaN or inf), their sum positive; a SpecError
    naming the model's weight (``mix.MODEL``) otherwise."""
    fix = _MIX_FIX.get(field, _MIX_FIX["mix"])
    if not isinstance(mix, Mapping) or not mix:
        raise SpecError(
            f"{type(mix).__name__ if not isinstance(mix, Mapping) else 'an empty mapping'} is "
            "not a fleet mix of model -> weight",
            field=field,
            fix=fix,
        )
    values: dict[Any, float] = {}
    for name, w in mix.items():
        x = real_number(w)
        if x is None:
            problem = f"weight {w!r} of {name!r} in the fleet mix is not a number"
        else:
            values[name] = x
            if math.isfinite(x) and x >= 0:
                continue
            problem = f"weight {x:g} of {name!r} in the fleet mix is not a finite number >= 0"
        raise SpecError(problem, field=f"{field}.{name}", fix=fix)
    top = max(values.values())
    if top <= 0:
        raise SpecError("the weights of the fleet mix sum to 0", field=field, fix=fix)
    scaled = {m: w / top for m, w in values.items()}  # no overflow summing 1e308s
    total = sum(scaled.values())
    return {m: w / total for m, w in scaled.items()}


def parse_mix(items: Sequence[str]) -> dict[str, float] | None:
    """``["rec_paper=0.6", "resnet50"]`` -> {model: weight} (a bare name weighs 1); None when
    empty."""
    if not items:
        return None
    mix: dict[str, Any] = {}
    for it in items:
        name, _, w = it.partition("=")
        try:
            mix[name] = float(w) if w else 1.0
        except ValueError:
            mix[name] = w  # mix_weights says it is not a number
    mix_weights(mix, field="models")
    return mix


def from_options(o: Options) -> Study:
    """``roofline plot fleet [MODEL=WEIGHT...] [--hw DEVICE] [--batch B] [--dtype D]``."""
    mix = parse_mix(o.models)
    batches = None if o.batch is None else {m: o.batch for m in (mix or FLEET_MIX)}
    return fleet_breakdown(**given(mix=mix, device=o.device, dtype=o.dtype, batches=batches))


ENTRY = StudyEntry(
    name="fleet",
    question="Operator time breakdown of the fleet",
    charts=("fleet_shares", "fleet_ranking"),
    function=fleet_breakdown,
    from_options=from_options,
    reads={"--hw": "first", "--batch": "first"},
)
