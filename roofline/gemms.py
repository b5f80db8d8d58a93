"""GEMM arithmetic over a cost table's GEMM rows: the FLOPs of each GEMM and their sums per op,
added in one fixed order (each op's first GEMM written, each later one added, as ``np.add.at``
into zeros) so that every counter that sums them gets the same bits."""

from __future__ import annotations

from functools import lru_cache

import numpy as np


def gemm_flops(
    m: np.ndarray, n: np.ndarray, k: np.ndarray, count: np.ndarray | float
) -> np.ndarray:
    """FLOPs of ``count`` GEMMs of ``m x n x k`` each: 2 per multiply-accumulate."""
    return 2.0 * m * n * k * count


def sum_gemms(owner: np.ndarray, per_gemm: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``out`` [O, ...] with ``per_gemm`` [G, ...] summed over each op's GEMMs (``owner`` [G]) in
    GEMM order, the first written and each later one added (``np.add.at`` into zeros, to the
    bit); an op without a GEMM keeps its value. Returns ``out``."""
    for k, (ops, gemms) in enumerate(gemm_passes(owner)):
        if k:
            out[ops] += per_gemm[gemms]
        else:
            out[ops] = per_gemm[gemms]
    return out


def gemm_passes(owner: np.ndarray) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    """Per position of a GEMM within its op: (the ops that have one, their GEMMs), in order (the
    first GEMM of an op is written, each later one added: the order of ``np.add.at``). Worked
    out once per distinct ``owner`` [G] (a model's GEMMs)."""
    return _passes(np.asarray(owner, dtype=np.intp).tobytes())


@lru_cache(maxsize=256)
def _passes(owner_bytes: bytes) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    owner = np.frombuffer(owner_bytes, dtype=np.intp)
    position = np.zeros(owner.size, dtype=np.intp)
    seen: dict[int, int] = {}
    for g, op in enumerate(owner.tolist()):
        position[g] = seen.get(op, 0)
        seen[op] = position[g] + 1
    out = []
    for k in range(int(position.max(initial=-1)) + 1):
        ops, gemms = owner[position == k], np.flatnonzero(position == k)
        ops.flags.writeable = gemms.flags.writeable = False
        out.append((ops, gemms))
    return tuple(out)
