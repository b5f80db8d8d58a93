"""Exact sums over integer ranges of the upper envelope of affine functions.

A decode step's time per op is ``max_k(alpha_k + beta_k * c)`` over its components k (compute,
each memory level), each affine in the context length ``c``. Time per output token is the mean of
that over the steps ``c = lo .. hi``. The envelope of K lines is piecewise linear with at most
K - 1 breaks, so the sum is a few arithmetic series: :func:`envelope_sum` finds the breaks (the
pairwise crossings inside the range), takes the top line on each integer segment and sums it in
closed form. Everything is vectorized over any leading shape.
"""

from __future__ import annotations

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
    lo = np.broadcast_to(np.asarray(lo, dtype=float), alpha.shape[:-1])
    hi = np.broadcast_to(np.asarray(hi, dtype=float), alpha.shape[:-1])
    k = alpha.shape[-1]
    i, j = np.triu_indices(k, 1)
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
