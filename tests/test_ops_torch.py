"""Cross-check the op reference cases of ``test_ops.py`` against PyTorch itself.

For each case with a torch counterpart the module is built on the ``meta`` device (no memory, no
compute) and compared: parameters = ``sum(p.numel())``; FLOPs = what
``torch.utils.flop_counter.FlopCounterMode`` counts (2 per MAC over mm/addmm/bmm/convolution/
attention), which is our ``flops_mac``; the output's per-sample shape. Skipped when torch is not
installed (CI does not install it); the formula tests in ``test_ops.py`` do not need it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from test_ops import CASES, Case

from roofline.ops import derive_cost

B = 3


def _conv(t: Any, c: dict[str, Any]) -> tuple[Any, Any]:
    nd = len(c["kernel_size"])
    conv = getattr(t.nn, f"Conv{nd}d")(
        c["in_channels"],
        c["out_channels"],
        c["kernel_size"],
        stride=c.get("stride", 1),
        padding=c.get("padding", 0),
        dilation=c.get("dilation", 1),
        groups=c.get("groups", 1),
        bias=c.get("bias", False),
        device="meta",
    )
    return conv, t.empty(B, c["in_channels"], *c["input_size"], device="meta")


def _shared_conv(t: Any, c: dict[str, Any]) -> tuple[Any, Any]:
    conv = t.nn.Conv2d(
        c["in_channels"],
        c["out_channels"],
        c["kernel_size"],
        padding=c.get("padding", 0),
        bias=c.get("bias", False),
        device="meta",
    )
    xs = [t.empty(B, c["in_channels"], *s, device="meta") for s in c["input_sizes"]]
    return conv, lambda: t.cat([conv(x).flatten(2) for x in xs], dim=2)


def _linear(t: Any, c: dict[str, Any]) -> tuple[Any, Any]:
    fc = t.nn.Linear(c["in_features"], c["out_features"], bias=c.get("bias", True), device="meta")
    rows = c.get("rows", 1)
    shape = (B, rows, c["in_features"]) if rows > 1 else (B, c["in_features"])
    return fc, t.empty(*shape, device="meta")


def _matmul(t: Any, c: dict[str, Any]) -> tuple[Any, Any]:
    n = c.get("count", 1)
    a = t.empty(B * n, c["m"], c["k"], device="meta")
    b = t.empty(B * n, c["k"], c["n"], device="meta")
    return None, lambda: t.bmm(a, b).reshape(B, n, c["m"], c["n"])


def _attention(t: Any, c: dict[str, Any]) -> tuple[Any, Any]:
    h, d = c["num_heads"], c["head_dim"]
    hk = c.get("num_kv_heads") or h
    q = t.empty(B, h, c["q_len"], d, device="meta")
    # GQA as HF models run it: K/V heads repeated to h before the kernel
    k = t.empty(B, hk, c["kv_len"], d, device="meta").repeat_interleave(h // hk, dim=1)
    f = t.nn.functional.scaled_dot_product_attention
    return None, lambda: f(q, k, k).transpose(1, 2).reshape(B, c["q_len"], h * d)


def _recurrent(t: Any, c: dict[str, Any], cls: str) -> tuple[Any, Any]:
    rnn = getattr(t.nn, cls)(
        c["input_size"],
        c["hidden_size"],
        num_layers=c.get("num_layers", 1),
        bias=c.get("bias", True),
        bidirectional=c.get("bidirectional", False),
        device="meta",
    )
    s = c.get("sequences", 1)
    x = t.empty(c.get("seq_len", 1), B * s, c["input_size"], device="meta")
    out_dim = c["hidden_size"] * (2 if c.get("bidirectional") else 1)

    def run() -> Any:
        y = rnn(x)[0]  # (T, N, H*D) -> per sample (sequences, T, H*D) or (T, H*D)
        y = y.reshape(c.get("seq_len", 1), B, s, out_dim).permute(1, 2, 0, 3)
        return y if s > 1 else y[:, 0]

    return rnn, run


def _pool(t: Any, c: dict[str, Any]) -> tuple[Any, Any]:
    nd = len(c["input_size"])
    cls = getattr(t.nn, f"{'Max' if c.get('mode', 'max') == 'max' else 'Avg'}Pool{nd}d")
    pool = cls(
        c["kernel_size"],
        stride=c.get("stride"),
        padding=c.get("padding", 0),
        ceil_mode=c.get("ceil_mode", False),
    )
    return pool, t.empty(B, c["channels"], *c["input_size"], device="meta")


def _adaptive(t: Any, c: dict[str, Any]) -> tuple[Any, Any]:
    nd = len(c["input_size"])
    cls = getattr(t.nn, f"Adaptive{'Max' if c.get('mode') == 'max' else 'Avg'}Pool{nd}d")
    pool = cls(c.get("output_size") or (1,) * nd)
    return pool, t.empty(B, c["channels"], *c["input_size"], device="meta")


def _interaction(t: Any, c: dict[str, Any]) -> tuple[Any, Any]:
    f, d = c["num_features"], c["dim"]
    x = t.empty(B, f, d, device="meta")

    def run() -> Any:  # DLRM interact_features, arch_interaction_op == "dot"
        z = t.bmm(x, x.transpose(1, 2))
        off = 0 if c.get("self_interaction") else -1
        li, lj = t.tril_indices(f, f, offset=off)
        return t.cat([x[:, 0], z[:, li, lj]], dim=1)

    return None, run


def _module(make: Callable[[Any, dict[str, Any]], Any]) -> Callable[[Any, dict[str, Any]], Any]:
    """Wrap a builder of a module of its fields alone (no input) for a params-only check."""
    return lambda t, c: (make(t, c), None)


BUILDERS: dict[str, Callable[[Any, dict[str, Any]], tuple[Any, Any]]] = {
    "conv": _conv,
    "shared_conv": _shared_conv,
    "linear": _linear,
    "matmul": _matmul,
    "attention": _attention,
    "lstm": lambda t, c: _recurrent(t, c, "LSTM"),
    "gru": lambda t, c: _recurrent(t, c, "GRU"),
    "pool": _pool,
    "adaptive_pool": _adaptive,
    "interaction": _interaction,
    "batchnorm": _module(
        lambda t, c: t.nn.BatchNorm2d(c["shape"][0], affine=c.get("affine", True), device="meta")
    ),
    "layernorm": _module(
        lambda t, c: (t.nn.RMSNorm if c.get("rms") else t.nn.LayerNorm)(
            c["shape"][-c.get("normalized_ndim", 1) :], device="meta"
        )
    ),
    "groupnorm": _module(
        lambda t, c: t.nn.GroupNorm(c["num_groups"], c["shape"][0], device="meta")
    ),
    "embedding_bag": _module(
        lambda t, c: t.nn.EmbeddingBag(c["num_embeddings"], c["embedding_dim"], device="meta")
    ),
    "embedding": _module(
        lambda t, c: t.nn.Embedding(c["num_embeddings"], c["embedding_dim"], device="meta")
    ),
}
TORCH_CASES = [c for c in CASES if c.kind in BUILDERS and c.fields.get("mode") != "cat"]


@pytest.mark.parametrize("case", TORCH_CASES, ids=lambda c: c.id)
def test_matches_torch(case: Case) -> None:
    torch = pytest.importorskip("torch")
    from torch.utils.flop_counter import FlopCounterMode

    module, inp = BUILDERS[case.kind](torch, case.fields)
    op = case.op()
    if module is not None and isinstance(module, torch.nn.Module):
        assert sum(p.numel() for p in module.parameters()) == op.params
    if inp is None:
        return
    run = inp if callable(inp) else (lambda: module(inp))
    with FlopCounterMode(display=False) as counter:
        out = run()
    assert tuple(out.shape) == (B, *case.out_shape)
    assert counter.get_total_flops() == pytest.approx(float(derive_cost(op, B, "fp32").flops_mac))
