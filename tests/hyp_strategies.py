"""Hypothesis strategies shared by the invariant and fuzz tests: small `layers` models and devices.

Models are kept small (a handful of ops on inputs of a few hundred elements) so that hundreds of
examples run in seconds; devices span 1 KiB to 1 TB per level so that every placement branch
(weights resident or not, activations on or off chip, tables in any tier or nowhere) is drawn.
"""

from __future__ import annotations

import math
from typing import Any

from hypothesis import strategies as st

from roofline.ops.conv import conv_out_size

KiB = 2.0**10


def _divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


@st.composite
def layer_models(draw: st.DrawFn, max_ops: int = 6, tables: bool = True) -> dict[str, Any]:
    """A valid `layers` model spec (a mapping): a conv trunk, a head, optional side branches.

    The trunk is convolutions, batch norms, activations, pools and residual adds on (C, H, W);
    an adaptive pool may flatten it into a linear head. Side ops read the graph input directly:
    embedding bags (tables up to 1e6 rows), attention with or without a KV cache, a GRU.
    """
    c, h, w = draw(st.integers(1, 6)), draw(st.integers(1, 8)), draw(st.integers(1, 8))
    ops: list[dict[str, Any]] = []
    shape: tuple[int, ...] = (c, h, w)
    prev = "x"
    n = draw(st.integers(1, max_ops))
    for i in range(n):
        name = f"n{i}"
        repeat = draw(st.sampled_from([1, 1, 1, 2, 3]))
        if len(shape) == 3:
            kind = draw(
                st.sampled_from(
                    ["conv", "conv", "batchnorm", "activation", "pool", "residual", "flatten"]
                )
            )
        else:
            kind = draw(
                st.sampled_from(
                    ["linear", "linear", "activation", "layernorm", "softmax", "residual"]
                )
            )
        if kind == "conv":
            cin, hh, ww = shape
            groups = draw(st.sampled_from(_divisors(cin)))
            out = groups * draw(st.integers(1, 4))
            k = draw(st.integers(1, min(3, hh + 2, ww + 2)))
            pad = draw(st.integers(0, k // 2))
            k = min(k, hh + 2 * pad, ww + 2 * pad)
            stride = draw(st.integers(1, 2))
            op = {
                "kind": "conv",
                "out_channels": out,
                "kernel_size": k,
                "stride": stride,
                "padding": pad,
                "groups": groups,
                "bias": draw(st.booleans()),
            }
            shape = (
                out,
                conv_out_size(hh, k, stride, pad, 1),
                conv_out_size(ww, k, stride, pad, 1),
            )
            repeat = 1
        elif kind == "pool":
            k = draw(st.integers(1, min(shape[1:])))
            op = {"kind": "pool", "mode": draw(st.sampled_from(["max", "avg"])), "kernel_size": k}
            shape = (shape[0], (shape[1] - k) // k + 1, (shape[2] - k) // k + 1)
            repeat = 1
        elif kind == "flatten":
            op = {"kind": "adaptive_pool", "mode": "avg"}
            shape = (shape[0],)
            repeat = 1
        elif kind == "linear":
            out = shape[0] if repeat > 1 else draw(st.integers(1, 16))
            op = {"kind": "linear", "out_features": out, "bias": draw(st.booleans())}
            shape = (out,)
        elif kind == "residual":
            act = f"a{i}"
            ops.append({"kind": "activation", "name": act, "function": "relu", "inputs": [prev]})
            op = {"kind": "elementwise", "op": "add", "num_inputs": 2, "inputs": [prev, act]}
            repeat = 1
        elif kind == "activation":
            fn = draw(st.sampled_from(["relu", "relu6", "sigmoid", "tanh", "silu", "gelu"]))
            op = {"kind": "activation", "function": fn}
        else:  # batchnorm, layernorm, softmax
            op = {"kind": kind}
        op.setdefault("inputs", [prev])
        op.update(name=name, repeat=repeat)
        ops.append(op)
        prev = name
    for t in range(draw(st.integers(0, 2)) if tables else 0):
        ops.append(
            {
                "kind": "embedding_bag",
                "name": f"table{t}",
                "inputs": ["x"],
                "num_embeddings": draw(st.integers(1, 10**6)),
                "embedding_dim": draw(st.integers(1, 64)),
                "pooling_factor": draw(st.floats(0.5, 40.0)),
                "mode": draw(st.sampled_from(["sum", "mean", "max", "weighted_sum"])),
                "repeat": draw(st.integers(1, 3)),
            }
        )
    if draw(st.booleans()):
        heads = draw(st.integers(1, 4))
        q = draw(st.integers(1, 8))
        ops.append(
            {
                "kind": "attention",
                "name": "attn",
                "inputs": ["x"],
                "num_heads": heads,
                "num_kv_heads": draw(st.sampled_from(_divisors(heads))),
                "head_dim": draw(st.integers(1, 16)),
                "q_len": q,
                "kv_len": q + draw(st.integers(0, 32)),
                "kv_cache": draw(st.booleans()),
            }
        )
    if draw(st.integers(0, 3)) == 0:
        ops.append(
            {
                "kind": "gru",
                "name": "rnn",
                "inputs": ["x"],
                "input_size": draw(st.integers(1, 8)),
                "hidden_size": draw(st.integers(1, 8)),
                "seq_len": draw(st.integers(1, 4)),
            }
        )
    return {
        "name": "hyp",
        "family": "layers",
        "source": "generated by hypothesis",
        "params": {"inputs": {"x": [c, h, w]}, "ops": ops},
    }


def _rate(lo: float, hi: float) -> st.SearchStrategy[float]:
    """Log-uniform in [lo, hi], so that 1 KiB and 1 TB levels are both common."""
    return st.floats(math.log10(lo), math.log10(hi)).map(lambda e: float(10.0**e))


@st.composite
def efficiency_curves(draw: st.DrawFn) -> dict[str, Any]:
    """An efficiency curve: 1-4 increasing sizes (FLOPs or bytes) and efficiencies in (0, 1]."""
    n = draw(st.integers(1, 4))
    sizes = sorted(draw(st.lists(_rate(1e2, 1e12), min_size=n, max_size=n, unique=True)))
    effs = draw(st.lists(st.floats(0.05, 1.0), min_size=n, max_size=n))
    return {"size": sizes, "efficiency": effs}


def _joules(lo: float, hi: float) -> st.SearchStrategy[str]:
    """An energy with its unit (energy fields refuse bare numbers), log-uniform or exactly 0."""
    return st.one_of(st.just(0.0), _rate(lo, hi)).map(lambda x: f"{x!r} J")


@st.composite
def energy_model(draw: st.DrawFn, levels: list[str], peaks: dict[str, list[str]]) -> dict:
    """Energy fields for a device: J/FLOP per engine and peak dtype, J/B per level, a power
    block (TDP above idle) and sometimes a cost block (hourly, or price with lifetime)."""
    out: dict[str, Any] = {
        "engines": {e: {dt: draw(_joules(1e-14, 1e-10)) for dt in dts} for e, dts in peaks.items()},
        "levels": {lvl: draw(_joules(1e-13, 1e-9)).replace(" J", " J/B") for lvl in levels},
    }
    idle = draw(st.one_of(st.just(0.0), _rate(1e-3, 1e3)))
    power = {"tdp": f"{idle + draw(_rate(1e-2, 1e4))!r} W", "idle": f"{idle!r} W"}
    power["source"] = "hypothesis"
    out["power"] = power
    kind = draw(st.sampled_from(["none", "hourly", "price"]))
    if kind == "hourly":
        out["cost"] = {"hourly": f"{draw(_rate(1e-6, 1e-2))!r} $/s", "source": "hypothesis"}
    elif kind == "price":
        out["cost"] = {
            "price": f"{draw(_rate(1e2, 1e5))!r} $",
            "lifetime": draw(_rate(1e6, 1e9)),
            "electricity": f"{draw(_rate(1e-9, 1e-7))!r} $/J",
            "pue": draw(st.floats(1.0, 2.0)),
            "source": "hypothesis",
        }
    return out


def with_energy(spec: dict[str, Any], model: dict[str, Any]) -> dict[str, Any]:
    """``spec`` with the :func:`energy_model` fields written in."""
    for e, table in model["engines"].items():
        spec["engines"][e]["energy"] = table
        spec["engines"][e]["energy_source"] = "hypothesis"
    for lvl, joules in model["levels"].items():
        spec["memory"][lvl]["energy"] = joules
        spec["memory"][lvl]["energy_source"] = "hypothesis"
    spec["power"] = model["power"]
    if "cost" in model:
        spec["cost"] = model["cost"]
    return spec


@st.composite
def devices(
    draw: st.DrawFn,
    max_onchip: int = 2,
    ordered: bool = False,
    same_granularity: bool = False,
    curves: bool = True,
    energy: bool = False,
) -> dict[str, Any]:
    """A valid device spec mapping (bare SI numbers; energy, power and money with units).

    ``ordered``: bandwidths never increase from the fastest level to the slowest (a real
    hierarchy); otherwise any order. ``same_granularity``: every level moves 64 B per access.
    ``curves``: engines and levels may carry size-dependent efficiency curves, levels gather
    curves. ``energy``: the device carries an energy model (:func:`energy_model`). Off by
    default, so that the other properties draw exactly the examples they drew before it existed.
    """
    n_on = draw(st.integers(0, max_onchip))
    host = draw(st.booleans())
    kinds = ["onchip"] * n_on + ["device"] + (["host"] if host else [])
    bws = [draw(_rate(1e9, 1e14)) for _ in kinds]
    if ordered:
        bws.sort(reverse=True)
    memory = {}
    grains = st.sampled_from([1.0, 32.0, 64.0, 512.0])
    for i, (kind, bw) in enumerate(zip(kinds, bws)):
        memory[f"l{i}_{kind}"] = {
            "kind": kind,
            "capacity": draw(_rate(KiB, 1e12)),
            "bandwidth": bw,
            "granularity": 64.0 if same_granularity else draw(grains),
            "source": "hypothesis",
        }
        if curves and draw(st.integers(0, 3)) == 0:
            memory[f"l{i}_{kind}"]["efficiency_curve"] = draw(efficiency_curves())
        if curves and draw(st.integers(0, 3)) == 0:
            memory[f"l{i}_{kind}"]["gather_curve"] = draw(efficiency_curves())
    tile = draw(st.one_of(st.none(), st.tuples(*[st.sampled_from([1, 8, 16, 64, 128])] * 3)))

    def engine(tiled: bool) -> dict[str, Any]:
        eng = {
            "peak": {"fp32": draw(_rate(1e9, 1e15)), "fp16": draw(_rate(1e9, 1e15))},
            "fallback": {"int8": "fp16", "bf16": "fp32"},
            "efficiency": draw(st.floats(0.05, 1.0)),
            "source": "hypothesis",
        }
        if tiled and tile is not None:
            eng["tile"] = list(tile)
        if curves and draw(st.integers(0, 3)) == 0:
            eng["efficiency_curve"] = draw(efficiency_curves())
        return eng

    spec = {
        "name": "hypdev",
        "source": "generated by hypothesis",
        "engines": {"matrix": engine(True), "vector": engine(False)},
        "memory": memory,
        "overheads": {"per_op": draw(st.sampled_from([0.0, 1e-6, 5e-6])), "source": "hypothesis"},
    }
    if energy:
        peaks = {e: list(spec["engines"][e]["peak"]) for e in ("matrix", "vector")}
        spec = with_energy(spec, draw(energy_model(list(memory), peaks)))
    return spec


batches = st.lists(st.integers(1, 4096), min_size=1, max_size=3, unique=True)
dtypes = st.sampled_from(["fp32", "fp16", "int8", "w4a16"])
