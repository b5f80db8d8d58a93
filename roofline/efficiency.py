"""Size-dependent efficiency: the fraction of an engine's peak or a memory level's bandwidth that an
op of a given size attains.

A device may give an engine or a memory level an ``efficiency_curve``: a small table of op sizes
(FLOPs per launch for an engine, bytes per launch at that level for a memory level) and the
efficiency measured at each, interpolated linearly in log(size) and clamped at the ends:

    eff(s) = efficiency[0]                                    s <= size[0]
    eff(s) = e_i + (e_{i+1} - e_i) * ln(s / s_i) / ln(s_{i+1} / s_i)   s_i <= s <= s_{i+1}
    eff(s) = efficiency[-1]                                   s >= size[-1]

The curve multiplies the engine's scalar ``efficiency`` (and the level's bandwidth): with curves
the roofline of DESIGN.md becomes

    t_compute = padded_matrix_flops / (peak_m * eff_m * curve_m(s_m))
              + vector_flops / (peak_v * eff_v * curve_v(s_v))
    t_L = (bytes[L] - rows[L]) / (bandwidth[L] * curve_L(bytes[L] / launches))
        + rows[L] / (bandwidth[L] * gather_L(row_bytes rounded up to granularity[L]))

with s = the op's (unpadded) FLOPs on that engine per launch and ``rows[L]`` the bytes of random
row reads (embedding lookups) served by level L. A level's ``gather_curve`` keys on the length of
one row: a core or an SM keeps only so many misses in flight, so short scattered reads reach a
fraction of the streaming bandwidth (no curve: they stream at ``curve_L`` like any other byte).
The time without the curves is the ideal roofline (``Result.ideal_time_s``). Curves belong to
the base device of a :class:`~roofline.grid.HardwareGrid`: varying a peak or a bandwidth keeps
the curve, as a
fraction of the new value. :func:`roofline.evaluation.evaluate_costs` applies them, and so does the
scalar oracle (:mod:`roofline.testing.oracle`, on its own); the totals-only fast paths of
:mod:`roofline.totals` do not, so sweeps of a device with curves take the full evaluation.
"""

from __future__ import annotations

import numpy as np

from roofline.curves import interpolate
from roofline.formulas import row_bytes
from roofline.grid import HardwareGrid
from roofline.records import CostTable


def has_curves(grid: HardwareGrid) -> bool:
    """Whether the grid's base device declares any efficiency or gather curve."""
    return grid.curved


def efficiency_factors(
    ct: CostTable,
    grid: HardwareGrid,
    bytes_moved: np.ndarray,
    gathered: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-op curve factors: (matrix [1, B, O], vector [1, B, O], levels [H, B, O, L]).

    A level's factor is its effective fraction of bandwidth over all the op's bytes there,
    ``bytes / (streamed / curve_L + gathered / gather_L)`` (1 where nothing moves).

    Parameters
    ----------
    ct : CostTable
        Op FLOPs per engine ([O, B]), launches per op ([O]) and row bytes of lookups ([O]).
    grid : HardwareGrid
        Its base device's curves are used (1 where a curve is absent); granularities per variant.
    bytes_moved : ndarray [H, B, O, L]
        Bytes each op moves at each level (the placement's).
    gathered : ndarray [H, B, O, L] or None
        The part of ``bytes_moved`` that is random row reads (None: none).
    """
    launches = np.maximum(ct.launches, 1.0)
    eng = grid.base.engines
    out = []
    for curve, flops in (
        (eng.matrix.efficiency_curve, ct.flops_matrix),
        (eng.vector.efficiency_curve, ct.flops_vector),
    ):
        per_launch = (flops / launches[:, None]).T[None]
        out.append(np.ones_like(per_launch) if curve is None else interpolate(curve, per_launch))
    levels = np.ones_like(bytes_moved)
    for i, lvl in enumerate(grid.base.memory.values()):
        moved = bytes_moved[..., i]
        stream_eff: np.ndarray | float = 1.0
        if lvl.efficiency_curve is not None:
            stream_eff = interpolate(lvl.efficiency_curve, moved / launches)
        if lvl.gather_curve is None or gathered is None:
            levels[..., i] = stream_eff
            continue
        rounded = row_bytes(ct, grid.granularity[:, i])  # [H, O]
        gather_eff = interpolate(lvl.gather_curve, rounded)[:, None, :]  # [H, 1, O]
        rows = gathered[..., i]
        seconds_x_bw = (moved - rows) / stream_eff + rows / gather_eff
        levels[..., i] = np.divide(
            moved, seconds_x_bw, out=np.ones_like(moved), where=seconds_x_bw > 0
        )
    return out[0], out[1], levels


def derate(
    ct: CostTable,
    grid: HardwareGrid,
    t_matrix: np.ndarray,
    t_vector: np.ndarray,
    t_level: np.ndarray,
    bytes_moved: np.ndarray,
    gathered: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Return (compute s [H, B, O], level s [H, B, O, L], ideal s [H, B, O] or None).

    ``t_matrix``, ``t_vector`` and ``t_level`` are the ideal roofline times (seconds); each is
    divided by its factor from :func:`efficiency_factors` (``gathered``: the placement's random
    row reads, [H, B, O, L] or None). The third value is the ideal op time
    without overhead, ``max(t_matrix + t_vector, max_L t_level)``. Without curves the inputs come
    back unchanged (the compute time as ``t_matrix + t_vector``) and the ideal time is None: it
    equals the derated one.
    """
    if not has_curves(grid):
        return t_matrix + t_vector, t_level, None
    ideal = np.maximum(t_matrix + t_vector, t_level.max(axis=-1))
    fm, fv, fl = efficiency_factors(ct, grid, bytes_moved, gathered)
    return t_matrix / fm + t_vector / fv, t_level / fl, ideal


__all__ = ["derate", "efficiency_factors", "has_curves"]
