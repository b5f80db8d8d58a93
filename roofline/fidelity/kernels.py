"""The kernels ``roofline validate`` runs: each a real computation on this machine and the tiny
``layers``-family model that predicts it (:mod:`roofline.families.layers`).

numpy kernels (always): GEMMs over a range of M, N, K including skinny (matrix-vector-like)
shapes, embedding gather-and-sum over tables from cache-sized to larger than the last-level cache
at several pooling factors (``np.take`` then ``np.sum``, chunk by chunk), and elementwise add and
ReLU. torch kernels
(when torch is installed): conv2d (plain, grouped, depthwise), linear (fp32 and bf16),
embedding_bag and LSTM. Every kernel is
fp32 unless its name says otherwise; torch kernels run under ``torch.inference_mode`` with one
thread per usable CPU. The torch kernels are device-agnostic in form (module + input tensors), so
the same definitions carry over to a GPU run; only the allocation device and the synchronisation
before reading the clock would change.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from roofline.fidelity.machine import GATHER_CHUNK, index_sets

Run = Callable[[], Any]


@dataclass(frozen=True)
class Kernel:
    """One validation kernel.

    Attributes
    ----------
    name, group, library : str
        Unique name; kind of work (``gemm``, ``embedding``...); ``numpy`` or ``torch``.
    inputs, ops : dict, list
        The ``layers``-family parameters of the model that predicts it (per-sample shapes).
    batch : int
        Samples per run (GEMM rows M, bags, images, sequences).
    dtype : str
        Precision of the prediction (``fp32`` or ``bf16``).
    make : callable
        Allocates and touches the data, returns the call to time (no arguments).
    """

    name: str
    group: str
    library: str
    inputs: dict[str, list[int]]
    ops: list[dict[str, Any]]
    batch: int
    dtype: str
    make: Callable[[], Run] = field(repr=False)


_RNG = np.random.default_rng(0)
_TABLES: dict[tuple[int, int], np.ndarray] = {}


def _table(rows: int, dim: int) -> np.ndarray:
    """An fp32 table of ``rows`` x ``dim``, written once (no page faults later); one kept alive."""
    key = (rows, dim)
    if key not in _TABLES:
        _TABLES.clear()
        _TABLES[key] = np.full((rows, dim), 0.5, np.float32)
    return _TABLES[key]


def release() -> None:
    """Drop the cached embedding table."""
    _TABLES.clear()


# -- numpy ----------------------------------------------------------------------------------------


def gemm(m: int, n: int, k: int) -> Kernel:
    """``X (m x k) @ W (k x n)`` through numpy's BLAS, predicted as a bias-free linear layer."""

    def make() -> Run:
        x = _RNG.standard_normal((m, k), dtype=np.float32)
        w = _RNG.standard_normal((k, n), dtype=np.float32)
        out = np.empty((m, n), np.float32)
        return lambda: np.matmul(x, w, out=out)

    group = "gemv" if m <= 64 and min(n, k) >= 16 * m else "gemm"
    ops = [{"kind": "linear", "name": "gemm", "out_features": n, "bias": False}]
    return Kernel(f"np_gemm_{m}x{n}x{k}", group, "numpy", {"x": [k]}, ops, m, "fp32", make)


def gather_sum(rows: int, dim: int, pooling: int, bags: int) -> Kernel:
    """Sum ``pooling`` random rows of a ``rows x dim`` table per bag, for ``bags`` bags.

    numpy has no fused gather-and-sum, so the bags go in chunks whose gathered rows fit in
    256 KiB: ``np.take`` copies a chunk's rows into a buffer (``mode="wrap"``: no buffered bounds
    check) and a row of ones times the buffer pools them (``np.matmul``: BLAS sums a bag 4x
    faster than ``np.sum`` over the middle axis). The buffer stays in L2, so the table is read
    once, as Caffe2's SparseLengthsSum reads it. Each call looks up fresh random rows
    (:func:`~roofline.fidelity.machine.index_sets`): repeating the same ones would find them in the
    caches. (The previous suite used a scipy CSR product, a scalar loop that
    multiplies every element by its 1.0 and ran 4x to 8x slower than its roofline.)
    """

    def make() -> Run:
        table = _table(rows, dim)
        fresh = index_sets(rows, bags * pooling, table.nbytes)
        per = max(1, GATHER_CHUNK // (pooling * dim * 4))
        buf = np.empty((per, pooling, dim), np.float32)
        ones = np.ones((1, pooling), np.float32)
        out = np.empty((bags, 1, dim), np.float32)

        if pooling == 1:  # nothing to pool: the rows are the output
            return lambda: np.take(table, fresh(), axis=0, out=out[:, 0], mode="wrap")

        def run() -> None:
            idx = fresh().reshape(bags, pooling)
            for s in range(0, bags, per):
                e = min(bags, s + per)
                np.take(table, idx[s:e], axis=0, out=buf[: e - s], mode="wrap")
                np.matmul(ones, buf[: e - s], out=out[s:e])

        return run

    name = f"np_embsum_{rows}x{dim}_pf{pooling}"
    return Kernel(name, "embedding", "numpy", *_bag_model(rows, dim, pooling), bags, "fp32", make)


def _bag_model(rows: int, dim: int, pooling: int) -> tuple[dict[str, list[int]], list[dict]]:
    """The ``layers`` inputs and ops of a sum-pooled bag of ``pooling`` lookups per sample."""
    op = {
        "kind": "embedding_bag",
        "name": "bag",
        "inputs": ["idx"],
        "num_embeddings": rows,
        "embedding_dim": dim,
        "pooling_factor": pooling,
        "mode": "sum",
    }
    return {"idx": [pooling]}, [op]


def elementwise(op: str, n: int) -> Kernel:
    """``np.add(a, b, out=c)`` or ``np.maximum(a, 0, out=c)`` (ReLU) over ``n`` fp32 elements."""

    def make() -> Run:
        a, b, c = (np.full(n, 0.5, np.float32) for _ in range(3))
        if op == "add":
            return lambda: np.add(a, b, out=c)
        return lambda: np.maximum(a, 0.0, out=c)

    if op == "add":
        inputs = {"a": [n], "b": [n]}
        ops = [{"kind": "elementwise", "name": "add", "op": "add", "inputs": ["a", "b"]}]
    else:
        inputs = {"a": [n]}
        ops = [{"kind": "activation", "name": "relu", "function": "relu"}]
    return Kernel(f"np_{op}_{n}", "elementwise", "numpy", inputs, ops, 1, "fp32", make)


def numpy_suite(quick: bool) -> list[Kernel]:
    """The numpy kernels (a small, fast subset with ``quick``)."""
    if quick:
        shapes = [(256, 256, 256), (1, 1024, 1024), (64, 512, 512)]
        tables: list[tuple[int, int, tuple[int, ...], int]] = [(4096, 64, (1, 16), 256)]
        sizes = [1 << 14, 1 << 20]
    else:
        shapes = [(n, n, n) for n in (128, 256, 512, 1024, 2048)]
        shapes += [(1024, 4096, 512), (4096, 1024, 1024), (256, 2048, 4096), (2048, 64, 2048)]
        shapes += [
            (1, 1024, 1024),
            (1, 4096, 4096),
            (8, 4096, 4096),
            (32, 4096, 1024),
            (1, 8192, 8192),
            (16, 8192, 8192),
        ]
        tables = [(rows, 64, (1, 16, 64), 1024) for rows in (4096, 1 << 16, 1 << 20, 1 << 22)]
        sizes = [1 << 14, 1 << 18, 1 << 22, 1 << 25]
    out = [gemm(*s) for s in shapes]
    out += [gather_sum(r, d, pf, b) for r, d, pfs, b in tables for pf in pfs]
    out += [elementwise(op, n) for op in ("add", "relu") for n in sizes]
    return out


# -- torch ----------------------------------------------------------------------------------------


def _module_kernel(
    name: str,
    group: str,
    inputs: dict,
    ops: list,
    batch: int,
    dtype: str,
    build: Callable[[Any], tuple[Any, tuple]],
) -> Kernel:
    """A torch kernel: ``build(torch)`` returns (module, args); the call is ``module(*args)``."""

    def make() -> Run:
        import torch

        module, args = build(torch)
        module.eval()

        def run() -> None:
            with torch.inference_mode():
                module(*args)

        return run

    return Kernel(name, group, "torch", inputs, ops, batch, dtype, make)


def conv2d(n: int, c: int, k: int, hw: int, ks: int, stride: int = 1, groups: int = 1) -> Kernel:
    """``nn.Conv2d`` (no bias) on an ``n x c x hw x hw`` input, padding ``ks // 2``."""
    pad = ks // 2
    group = "conv2d" if groups == 1 else "conv2d_depthwise" if groups == c else "conv2d_grouped"
    op = {
        "kind": "conv",
        "name": "conv",
        "out_channels": k,
        "kernel_size": ks,
        "stride": stride,
        "padding": pad,
        "groups": groups,
        "bias": False,
    }

    def build(torch: Any) -> tuple[Any, tuple]:
        mod = torch.nn.Conv2d(c, k, ks, stride=stride, padding=pad, groups=groups, bias=False)
        return mod, (torch.randn(n, c, hw, hw),)

    name = f"torch_conv_{n}x{c}x{hw}x{hw}_k{k}_{ks}x{ks}_s{stride}_g{groups}"
    return _module_kernel(name, group, {"x": [c, hw, hw]}, [op], n, "fp32", build)


def linear(b: int, fin: int, fout: int, dtype: str = "fp32") -> Kernel:
    """``nn.Linear`` with bias on ``b`` rows, in fp32 or bf16."""

    def build(torch: Any) -> tuple[Any, tuple]:
        dt = torch.bfloat16 if dtype == "bf16" else torch.float32
        return torch.nn.Linear(fin, fout).to(dt), (torch.randn(b, fin).to(dt),)

    ops = [{"kind": "linear", "name": "fc", "out_features": fout, "bias": True}]
    return _module_kernel(
        f"torch_linear_{b}x{fin}x{fout}_{dtype}", "linear", {"x": [fin]}, ops, b, dtype, build
    )


def embedding_bag(rows: int, dim: int, pooling: int, bags: int) -> Kernel:
    """``nn.EmbeddingBag(mode="sum")`` over the shared numpy table (no copy), fresh random rows
    each call (:func:`~roofline.fidelity.machine.index_sets`)."""

    def make() -> Run:
        import torch

        table = _table(rows, dim)
        mod = torch.nn.EmbeddingBag(rows, dim, mode="sum", _weight=torch.from_numpy(table))
        fresh = index_sets(rows, bags * pooling, table.nbytes)
        offsets = torch.arange(0, bags * pooling, pooling)

        def run() -> None:
            with torch.inference_mode():
                mod(torch.from_numpy(fresh()), offsets)

        return run

    name = f"torch_embbag_{rows}x{dim}_pf{pooling}"
    inputs, ops = _bag_model(rows, dim, pooling)
    return Kernel(name, "embedding_bag", "torch", inputs, ops, bags, "fp32", make)


def lstm(n: int, t: int, i: int, h: int, layers: int = 1) -> Kernel:
    """``nn.LSTM(batch_first=True)`` over ``n`` sequences of ``t`` steps."""

    def build(torch: Any) -> tuple[Any, tuple]:
        mod = torch.nn.LSTM(i, h, num_layers=layers, batch_first=True)
        return mod, (torch.randn(n, t, i),)

    ops = [
        {
            "kind": "lstm",
            "name": "lstm",
            "input_size": i,
            "hidden_size": h,
            "seq_len": t,
            "num_layers": layers,
        }
    ]
    return _module_kernel(
        f"torch_lstm_{n}x{t}x{i}_h{h}_l{layers}", "lstm", {"x": [t, i]}, ops, n, "fp32", build
    )


def torch_suite(quick: bool) -> list[Kernel]:
    """The torch kernels (a handful with ``quick``)."""
    if quick:
        return [conv2d(1, 32, 32, 28, 3), linear(16, 512, 512), lstm(4, 8, 64, 128)]
    out = [
        conv2d(1, 3, 64, 224, 7, stride=2),
        conv2d(8, 64, 64, 56, 3),
        conv2d(8, 256, 256, 14, 3),
        conv2d(8, 256, 64, 56, 1),
        conv2d(1, 512, 512, 7, 3),
    ]
    out += [conv2d(8, 128, 128, 28, 3, groups=32), conv2d(8, 256, 256, 14, 3, groups=8)]
    out += [
        conv2d(8, 144, 144, 56, 3, groups=144),
        conv2d(8, 384, 384, 14, 3, groups=384),
        conv2d(1, 32, 32, 112, 3, groups=32),
    ]
    out += [
        linear(1, 4096, 4096),
        linear(64, 1024, 4096),
        linear(512, 2048, 2048),
        linear(1, 1024, 1024),
        linear(512, 2048, 2048, "bf16"),
        linear(1, 4096, 4096, "bf16"),
    ]
    out += [
        embedding_bag(rows, 64, pf, 1024)
        for rows in (1 << 16, 1 << 20, 1 << 22)
        for pf in (1, 20, 80)
    ]
    out += [lstm(8, 32, 256, 512), lstm(1, 16, 512, 1024), lstm(64, 8, 1024, 1024, layers=2)]
    return out


def suite(quick: bool, with_torch: bool) -> list[Kernel]:
    """All kernels to run, numpy first; kernels that share a table run one after another."""
    kernels = numpy_suite(quick) + (torch_suite(quick) if with_torch else [])
    first: dict[int, int] = {}  # table rows -> position of the first kernel using that table
    key = {}
    for i, k in enumerate(kernels):
        rows = _rows(k)
        key[id(k)] = (first.setdefault(rows, i) if rows else i, i)
    return sorted(kernels, key=lambda k: key[id(k)])


def _rows(k: Kernel) -> int | None:
    """Rows of the kernel's embedding table (None without one)."""
    return next((o["num_embeddings"] for o in k.ops if o["kind"] == "embedding_bag"), None)
