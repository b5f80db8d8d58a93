"""Hypothesis strategies that draw a valid op of every registered kind (random shapes and options).

:data:`OP_STRATEGIES` maps each op kind to a strategy of its field mapping; a test checks it covers
every kind in :data:`roofline.ops.REGISTRY`, so a new op kind comes with its strategy here.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

small = st.integers(1, 12)
medium = st.integers(1, 96)
repeat = st.integers(1, 4)


def _shape(max_dims: int = 3) -> st.SearchStrategy[tuple[int, ...]]:
    return st.lists(small, min_size=1, max_size=max_dims).map(tuple)


@st.composite
def _conv(draw: st.DrawFn) -> dict[str, Any]:
    nd = draw(st.integers(1, 3))
    groups = draw(st.integers(1, 4))
    k = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    size = tuple(draw(st.integers(k[i], k[i] + 9)) for i in range(nd))
    return {
        "in_channels": groups * draw(st.integers(1, 8)),
        "out_channels": groups * draw(st.integers(1, 8)),
        "kernel_size": k,
        "input_size": size,
        "stride": tuple(draw(st.integers(1, 2)) for _ in range(nd)),
        "padding": tuple(draw(st.integers(0, 1)) for _ in range(nd)),
        "groups": groups,
        "bias": draw(st.booleans()),
    }


@st.composite
def _conv_transpose(draw: st.DrawFn) -> dict[str, Any]:
    nd = draw(st.integers(1, 3))
    groups = draw(st.integers(1, 4))
    k = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    stride = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    return {
        "in_channels": groups * draw(st.integers(1, 8)),
        "out_channels": groups * draw(st.integers(1, 8)),
        "kernel_size": k,
        "input_size": tuple(draw(st.integers(1, 10)) for _ in range(nd)),
        "stride": stride,
        "padding": tuple(draw(st.integers(0, (k[i] - 1) // 2)) for i in range(nd)),
        "output_padding": tuple(draw(st.integers(0, stride[i] - 1)) for i in range(nd)),
        "groups": groups,
        "bias": draw(st.booleans()),
    }


@st.composite
def _pool(draw: st.DrawFn) -> dict[str, Any]:
    nd = draw(st.integers(1, 3))
    k = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    return {
        "mode": draw(st.sampled_from(["max", "avg"])),
        "channels": draw(medium),
        "input_size": tuple(draw(st.integers(k[i], k[i] + 9)) for i in range(nd)),
        "kernel_size": k,
        "stride": tuple(draw(st.integers(1, 3)) for _ in range(nd)),
        "ceil_mode": draw(st.booleans()),
    }


@st.composite
def _adaptive_pool(draw: st.DrawFn) -> dict[str, Any]:
    nd = draw(st.integers(1, 3))
    size = tuple(draw(small) for _ in range(nd))
    return {
        "mode": draw(st.sampled_from(["max", "avg"])),
        "channels": draw(medium),
        "input_size": size,
        "output_size": tuple(draw(st.integers(1, s)) for s in size),
    }


@st.composite
def _attention(draw: st.DrawFn) -> dict[str, Any]:
    kv_heads = draw(st.integers(1, 4))
    q = draw(small)
    cache = draw(st.booleans())
    return {
        "num_heads": kv_heads * draw(st.integers(1, 4)),
        "num_kv_heads": kv_heads,
        "head_dim": draw(st.integers(1, 64)),
        "q_len": q,
        "kv_len": q + draw(st.integers(0, 40)) if cache else draw(st.integers(1, 40)),
        "kv_cache": cache,
        "causal": draw(st.booleans()),
    }


@st.composite
def _recurrent(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "input_size": draw(medium),
        "hidden_size": draw(medium),
        "seq_len": draw(small),
        "num_layers": draw(st.integers(1, 3)),
        "bidirectional": draw(st.booleans()),
        "bias": draw(st.booleans()),
        "sequences": draw(st.integers(1, 4)),
        "carry_state": draw(st.booleans()),
    }


@st.composite
def _concat(draw: st.DrawFn) -> dict[str, Any]:
    base = list(draw(_shape()))
    dim = draw(st.integers(0, len(base) - 1))
    shapes = []
    for _ in range(draw(st.integers(1, 4))):
        s = list(base)
        s[dim] = draw(small)
        shapes.append(tuple(s))
    return {"input_shapes": tuple(shapes), "dim": dim}


@st.composite
def _shared_conv(draw: st.DrawFn) -> dict[str, Any]:
    k = draw(st.integers(1, 3))
    sizes = tuple(
        (draw(st.integers(k, k + 9)), draw(st.integers(k, k + 9)))
        for _ in range(draw(st.integers(1, 4)))
    )
    return {
        "in_channels": draw(st.integers(1, 16)),
        "out_channels": draw(st.integers(1, 16)),
        "kernel_size": (k, k),
        "input_sizes": sizes,
        "stride": draw(st.integers(1, 2)),
        "padding": draw(st.integers(0, 1)),
        "bias": draw(st.booleans()),
    }


@st.composite
def _proposal(draw: st.DrawFn) -> dict[str, Any]:
    candidates = draw(st.integers(1, 5000))
    pre = draw(st.integers(1, candidates))
    return {
        "candidates": candidates,
        "scores_per_candidate": draw(st.integers(1, 4)),
        "pre_nms_top_n": pre,
        "post_nms_top_n": draw(st.integers(1, pre)),
    }


@st.composite
def _channel_shuffle(draw: st.DrawFn) -> dict[str, Any]:
    groups = draw(st.integers(1, 4))
    rest = draw(st.lists(small, min_size=0, max_size=2))
    return {"shape": (groups * draw(small), *rest), "groups": groups}


@st.composite
def _split(draw: st.DrawFn) -> dict[str, Any]:
    sections = draw(st.integers(1, 4))
    rest = draw(st.lists(small, min_size=0, max_size=2))
    return {"shape": (sections * draw(small), *rest), "sections": sections}


@st.composite
def _moe(draw: st.DrawFn) -> dict[str, Any]:
    experts = draw(st.integers(1, 64))
    shared = draw(st.sampled_from([0, 0, 8, 24]))
    return {
        "hidden_size": draw(medium),
        "intermediate_size": draw(medium),
        "num_experts": experts,
        "top_k": draw(st.integers(1, experts)),
        "shared_intermediate_size": shared,
        "shared_expert_gate": bool(shared) and draw(st.booleans()),
        "tokens": draw(small),
        "routing_skew": draw(st.sampled_from([0.0, 0.0, 0.5, 1.0, 2.5])),
    }


@st.composite
def _latent_attention(draw: st.DrawFn) -> dict[str, Any]:
    q = draw(small)
    return {
        "num_heads": draw(st.integers(1, 8)),
        "qk_nope_head_dim": draw(st.integers(1, 32)),
        "qk_rope_head_dim": draw(st.integers(0, 16)),
        "v_head_dim": draw(st.integers(1, 32)),
        "kv_lora_rank": draw(st.integers(1, 64)),
        "q_len": q,
        "kv_len": q + draw(st.integers(0, 40)),
        "absorb": draw(st.booleans()),
    }


@st.composite
def _reshape(draw: st.DrawFn) -> dict[str, Any]:
    shape = draw(_shape())
    n = 1
    for d in shape:
        n *= d
    return {"shape": shape, "target": draw(st.sampled_from([(n,), (-1,), (1, n), (n, -1)]))}


@st.composite
def _flatten(draw: st.DrawFn) -> dict[str, Any]:
    shape = draw(_shape(4))
    start = draw(st.integers(0, len(shape) - 1))
    return {"shape": shape, "start_dim": start, "end_dim": draw(st.integers(start, len(shape) - 1))}


@st.composite
def _permute(draw: st.DrawFn) -> dict[str, Any]:
    shape = draw(_shape(4))
    return {"shape": shape, "dims": tuple(draw(st.permutations(range(len(shape)))))}


@st.composite
def _slice(draw: st.DrawFn) -> dict[str, Any]:
    shape = draw(_shape())
    dim = draw(st.integers(0, len(shape) - 1))
    start = draw(st.integers(0, shape[dim] - 1))
    return {
        "shape": shape,
        "dim": dim,
        "start": start,
        "stop": draw(st.integers(start + 1, shape[dim])),
        "step": draw(st.integers(1, 3)),
    }


@st.composite
def _expand(draw: st.DrawFn) -> dict[str, Any]:
    shape = draw(_shape())
    target = tuple(draw(small) if d == 1 else d for d in shape)
    return {"shape": shape, "target": (draw(small), *target)}


@st.composite
def _pad(draw: st.DrawFn) -> dict[str, Any]:
    shape = draw(_shape())
    pads = draw(st.integers(1, len(shape)))
    return {"shape": shape, "padding": tuple(draw(st.integers(0, 3)) for _ in range(2 * pads))}


@st.composite
def _gather(draw: st.DrawFn) -> dict[str, Any]:
    table = draw(st.tuples(st.integers(1, 500), small))
    rows = draw(st.integers(1, 300))
    return {"shape": table, "output_shape": (rows, table[1]), "index_elements": rows}


@st.composite
def _reduce(draw: st.DrawFn) -> dict[str, Any]:
    shape = draw(_shape())
    dims = draw(st.sets(st.integers(0, len(shape) - 1), min_size=1))
    return {
        "shape": shape,
        "dims": tuple(sorted(dims)),
        "keepdim": draw(st.booleans()),
        "op": draw(st.sampled_from(["sum", "mean", "max", "var", "std", "norm", "logsumexp"])),
    }


@st.composite
def _groupnorm(draw: st.DrawFn) -> dict[str, Any]:
    groups = draw(st.integers(1, 4))
    rest = draw(_shape(2))
    return {
        "shape": (groups * draw(st.integers(1, 4)), *rest),
        "num_groups": groups,
        "affine": draw(st.booleans()),
    }


@st.composite
def _generic(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "operation": "aten.cumsum.default",
        "input_shapes": tuple(draw(st.lists(_shape(), min_size=1, max_size=3))),
        "output_shape": draw(_shape()),
        "flops_per_element": draw(st.sampled_from([0.0, 1.0, 2.5])),
    }


def _fixed(**options: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(options)


OP_STRATEGIES: dict[str, st.SearchStrategy[dict[str, Any]]] = {
    "activation": _fixed(
        shape=_shape(),
        function=st.sampled_from(["relu", "relu6", "sigmoid", "tanh", "silu", "hardswish", "gelu"]),
    ),
    "adaptive_pool": _adaptive_pool(),
    "attention": _attention(),
    "batchnorm": _fixed(shape=_shape()),
    "channel_shuffle": _channel_shuffle(),
    "concat": _concat(),
    "conv": _conv(),
    "conv_transpose": _conv_transpose(),
    "elementwise": _fixed(
        shape=_shape(),
        op=st.sampled_from(["add", "sub", "mul", "div"]),
        num_inputs=st.integers(1, 4),
    ),
    "embedding": _fixed(num_embeddings=st.integers(1, 10**6), embedding_dim=medium, lookups=small),
    "embedding_bag": _fixed(
        num_embeddings=st.integers(1, 10**6),
        embedding_dim=medium,
        pooling_factor=st.floats(0.5, 80.0),
        mode=st.sampled_from(["sum", "mean", "max", "weighted_sum"]),
    ),
    "gru": _recurrent(),
    "interaction": _fixed(
        num_features=st.integers(1, 30),
        dim=medium,
        mode=st.sampled_from(["dot", "cat"]),
        self_interaction=st.booleans(),
    ),
    "interpolate": _fixed(
        shape=st.tuples(small, small, small),
        scale_factor=st.integers(1, 4),
        mode=st.sampled_from(["nearest", "bilinear"]),
    ),
    "latent_attention": _latent_attention(),
    "layernorm": _fixed(shape=_shape(), rms=st.booleans()),
    "linear": _fixed(in_features=medium, out_features=medium, bias=st.booleans(), rows=small),
    "lstm": _recurrent(),
    "matmul": _fixed(m=medium, n=medium, k=medium, count=small),
    "moe": _moe(),
    "pool": _pool(),
    "proposal": _proposal(),
    "roi_align": _fixed(
        num_rois=st.integers(1, 1000),
        channels=medium,
        output_size=st.integers(1, 14),
        sampling_ratio=st.integers(1, 4),
        feature_elems=st.integers(1, 10**6),
    ),
    "shared_conv": _shared_conv(),
    "softmax": _fixed(shape=_shape()),
    "split": _split(),
    "tied_embedding": _fixed(
        num_embeddings=st.integers(1, 10**6), embedding_dim=medium, lookups=small
    ),
    "transpose": _fixed(shape=_shape()),
    # ops for imported models (views move nothing; parameters and constants are per-run)
    "constant": _fixed(shape=_shape()),
    "copy": _fixed(shape=_shape()),
    "expand": _expand(),
    "flatten": _flatten(),
    "gather": _gather(),
    "generic": _generic(),
    "groupnorm": _groupnorm(),
    "pad": _pad(),
    "parameter": _fixed(shape=_shape(), used=st.booleans()),
    "permute": _permute(),
    "reduce": _reduce(),
    "reshape": _reshape(),
    "slice": _slice(),
    "view": _fixed(shape=_shape(), target=_shape()),
}
