"""Exact sums over integer ranges of the upper envelope of affine functions.

A decode step's time per op is ``max_k(alpha_k + beta_k * c)`` over its components k (compute,
each memory level), each affine in the context length ``c``. Time per output token is the mean of
that over the steps ``c = lo .. hi``. The envelope of K lines is piecewise linear with at most
K - 1 breaks, so the sum is a few arithmetic series: :func:`envelope_sum` finds the breaks (the
pairwise crossings inside the range), takes the top line on each integer segment and sums it in
closed form. Everything is vectorized over any leading shape.

Most envelopes have one top line over the whole range: a line that is the top at both ends is the
top everywhere between (every other line is below it at both ends, and lines are straight), so
its sum is the count times the mean of its end values. Only the rest need the breaks.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np


def envelope_sum(
    alpha: np.ndarray, beta: np.ndarray, lo: np.ndarray, hi: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Sum over integers ``c`` in ``[lo, hi]`` of ``max_k(alpha_k + beta_k * c)``.

    Parameters
    ----------
    alpha, beta : ndarray [..., K]
        Intercepts and slopes of the K lines.
    lo, hi : ndarray, broadcastable to [...]
        Inclusive integer bounds (``hi < lo``: an empty range, sum 0).

    Returns
    -------
    (total [...], by_line [..., K])
        The sum, and the part of it where each line is the top one (ties to the lower index).
    """
    lead, k = alpha.shape[:-1], alpha.shape[-1]
    lo, hi = _flat(lo, lead), _flat(hi, lead)
    a, b = alpha.reshape(-1, k), beta.reshape(-1, k)
    # the bounds repeated along the lines: arrays of one shape take numpy's fast loops
    at_lo = a + b * np.repeat(lo, k).reshape(-1, k)
    at_hi = a + b * np.repeat(hi, k).reshape(-1, k)
    top_lo, top_hi = np.argmax(at_lo, axis=-1), np.argmax(at_hi, axis=-1)
    count = np.maximum(hi - lo + 1.0, 0.0)
    rows = np.arange(lo.size)
    total = count * (at_lo[rows, top_lo] + at_hi[rows, top_lo]) / 2.0
    by_line = np.zeros_like(a)
    by_line[rows, top_lo] = total
    bent = np.flatnonzero(top_lo != top_hi)
    if bent.size:
        total[bent], by_line[bent] = _broken(a[bent], b[bent], lo[bent], hi[bent])
    return total.reshape(lead), by_line.reshape(alpha.shape)


def _flat(bound: np.ndarray, lead: tuple[int, ...]) -> np.ndarray:
    """``bound`` as floats of shape ``lead``, flattened (broadcast where it is not that shape)."""
    arr = np.asarray(bound, dtype=float)
    return (arr if arr.shape == lead else np.broadcast_to(arr, lead)).reshape(-1)


def _broken(
    alpha: np.ndarray, beta: np.ndarray, lo: np.ndarray, hi: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`envelope_sum` of envelopes whose top line changes in the range [N, K]: segments
    between the lines' crossings, the top line of each summed in closed form."""
    k = alpha.shape[-1]
    i, j = _pairs(k)
    with np.errstate(divide="ignore", invalid="ignore"):
        cross = (alpha[..., j] - alpha[..., i]) / (beta[..., i] - beta[..., j])
    cross = np.where(np.isfinite(cross), cross, lo[..., None])
    cross = np.clip(cross, lo[..., None], hi[..., None] + 1.0)
    # integer starts of the segments: lo, then the first integer at or after each crossing
    starts = np.sort(np.concatenate([lo[..., None], np.ceil(cross)], axis=-1), axis=-1)
    ends = np.concatenate([starts[..., 1:] - 1.0, hi[..., None]], axis=-1)
    count = np.maximum(ends - starts + 1.0, 0.0)
    mid = (starts + ends) / 2.0  # mean of the integers in the segment
    values = alpha[..., None, :] + beta[..., None, :] * mid[..., :, None]  # [..., S, K]
    top = np.argmax(values, axis=-1)  # [..., S]
    seg = count * np.take_along_axis(values, top[..., None], axis=-1)[..., 0]
    by_line = np.zeros(alpha.shape)
    onehot = top[..., None] == np.arange(k)
    by_line = (seg[..., None] * onehot).sum(axis=-2)
    return seg.sum(axis=-1), by_line


def chord_lines(
    at_lo: np.ndarray, at_hi: np.ndarray, lo: np.ndarray, hi: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(intercepts, slopes) of the lines through ``at_lo`` at ``lo`` and ``at_hi`` at ``hi``
    (all broadcastable; a range of one point, ``hi == lo``, takes a slope over 1)."""
    beta = (at_hi - at_lo) / np.maximum(hi - lo, 1.0)
    return at_lo - beta * lo, beta


@lru_cache(maxsize=16)
def _pairs(k: int) -> tuple[np.ndarray, np.ndarray]:
    """Every pair (i < j) of ``k`` lines: ``np.triu_indices(k, 1)``, made once per ``k``."""
    i, j = np.triu_indices(k, 1)
    i.flags.writeable = False
    j.flags.writeable = False
    return i, j
