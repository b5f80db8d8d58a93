"""The probes ``roofline calibrate`` measures this machine with: each times one kind of work (a
one-element op, a GEMM, a streaming read, a matrix-vector product, random row reads) and returns
its best time or rate. :mod:`roofline.fidelity.calibrate` runs them and writes the spec.

Every probe warms up first and takes the best of its timed calls
(:func:`~roofline.fidelity.timing.time_calls`), with buffers allocated and touched before timing.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from roofline.fidelity.machine import GATHER_CHUNK, index_sets
from roofline.fidelity.timing import time_calls


def measure_overhead(torch: Any | None) -> dict[str, float]:
    """Median seconds of a one-element op per library (``numpy``, ``torch``)."""
    x, y, z = np.ones(1, np.float32), np.ones(1, np.float32), np.empty(1, np.float32)
    out = {"numpy": float(np.median(time_calls(lambda: np.add(x, y, out=z), 200, 0.05)))}
    if torch is not None:
        a, b, c = torch.ones(1), torch.ones(1), torch.empty(1)
        out["torch"] = float(np.median(time_calls(lambda: torch.add(a, b, out=c), 200, 0.05)))
    return out


#: the numpy / torch names of the dtypes GEMMs are measured in
_LIB_DTYPES = {"fp64": "float64", "fp32": "float32", "bf16": "bfloat16", "fp16": "float16"}


def measure_gemm(lib: str, dtype: str, n: int, torch: Any | None, min_time: float) -> float:
    """Best seconds of one n x n x n GEMM in ``dtype`` (``fp32``...) through ``lib`` (numpy or
    torch)."""
    if lib == "numpy":
        rng = np.random.default_rng(0)
        a, b = (rng.standard_normal((n, n)).astype(_LIB_DTYPES[dtype]) for _ in range(2))
        c = np.empty((n, n), _LIB_DTYPES[dtype])
        return float(time_calls(lambda: np.matmul(a, b, out=c), 3, min_time).min())
    assert torch is not None, "a torch GEMM probe needs torch"
    dt = getattr(torch, _LIB_DTYPES[dtype])
    a, b = (torch.randn(n, n).to(dt) for _ in range(2))
    c = torch.empty(n, n, dtype=dt)
    with torch.inference_mode():
        return float(time_calls(lambda: torch.matmul(a, b, out=c), 3, min_time).min())


def stream_rate(
    nbytes: float,
    threads: int,
    pool: ThreadPoolExecutor,
    dtype: str = "float32",
    target: float = 64e6,
    min_time: float = 0.05,
) -> float:
    """Best bytes/s of ``np.max`` reading ``nbytes`` split over ``threads`` buffers.

    Each buffer is read ``passes`` times in one call (a stride-0 broadcast), so one call reads
    about ``target`` bytes and the call overhead does not count. numpy releases the GIL inside the
    reduction, so the threads run in parallel.
    """
    item = np.dtype(dtype).itemsize
    n = max(64, int(nbytes / item / threads))
    passes = max(1, int(target / (n * item * threads)))
    bufs = [np.ones(n, dtype) for _ in range(threads)]
    views = [np.broadcast_to(b, (passes, n)) for b in bufs]
    if threads == 1:
        t = time_calls(lambda: np.max(views[0]), 3, min_time).min()
    else:
        t = time_calls(lambda: list(pool.map(np.max, views)), 3, min_time).min()
    return passes * n * item * threads / float(t)


def gemv_rate(nbytes: float, min_time: float = 0.05) -> float:
    """Best bytes/s of a BLAS matrix-vector product (``A @ x``) whose matrix is ``nbytes``.

    The BLAS kernels prefetch in software and use every thread, so they often read a large cache
    or DRAM faster than a numpy reduction does.
    """
    a = np.ones((max(1, int(nbytes / 4 / 1024)), 1024), np.float32)
    x, y = np.ones(1024, np.float32), np.empty(a.shape[0], np.float32)
    return a.nbytes / float(time_calls(lambda: np.matmul(a, x, out=y), 3, min_time).min())


def best_stream(nbytes: float, pool: ThreadPoolExecutor, threads: int, **kw: Any) -> float:
    """The best read rate of one thread, ``threads`` threads (a busy machine may favour either)
    and, for float32 working sets of 64 KiB or more, a BLAS matrix-vector product."""
    rates = [stream_rate(nbytes, 1, pool, **kw)]
    if threads > 1:
        rates.append(stream_rate(nbytes, threads, pool, **kw))
    if kw.get("dtype", "float32") == "float32" and nbytes >= 65536:
        rates.append(gemv_rate(nbytes, kw.get("min_time", 0.05)))
    return max(rates)


#: bytes of one random row read by the gather probe (64 B: one cache line; 4 KiB: a page)
GATHER_ROWS = (64, 256, 1024, 4096)


def gather_rate(
    flat: np.ndarray, row_bytes: int, target: float, min_time: float, torch: Any | None = None
) -> dict[str, float]:
    """Best bytes/s of reading random rows of ``row_bytes`` from the fp32 table ``flat`` (1-D,
    viewed as rows of that length), per library (``numpy``, and ``torch`` when given).

    numpy: ``np.take`` copies rows picked uniformly at random into a buffer that stays in L2,
    chunk by chunk, about ``target`` bytes per timed call (``mode="wrap"`` skips numpy's buffered
    bounds check). torch: one ``embedding_bag`` sum over the same number of rows in bags of 64,
    which keeps the gathered rows in registers (its output is 1/64 of the rows). Each call reads
    fresh rows (:func:`~roofline.fidelity.machine.index_sets`), as a new request would.
    """
    d = max(1, row_bytes // 4)
    rows = flat.size // d
    table = flat[: rows * d].reshape(rows, d)
    chunk = max(1, GATHER_CHUNK // (4 * d))
    calls = max(1, int(target // (chunk * 4 * d)))
    fresh = index_sets(rows, calls * chunk, table.nbytes)
    buf = np.empty((chunk, d), np.float32)

    def run() -> None:
        for i in fresh().reshape(calls, chunk):
            np.take(table, i, axis=0, out=buf, mode="wrap")

    nbytes = calls * chunk * 4 * d
    out = {"numpy": nbytes / float(time_calls(run, 3, min_time).min())}
    if torch is not None:
        t_table = torch.from_numpy(table)
        offsets = torch.arange(0, calls * chunk, 64)
        bag = torch.nn.functional.embedding_bag

        def run_torch() -> None:
            with torch.inference_mode():
                bag(torch.from_numpy(fresh()), t_table, offsets, mode="sum")

        out["torch"] = nbytes / float(time_calls(run_torch, 3, min_time).min())
    return out
