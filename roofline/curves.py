"""Size-dependent efficiency curves: the fraction of an engine's peak or a memory level's bandwidth
an op of a given size attains, as a small table interpolated linearly in log(size):

    eff(s) = efficiency[0]                                    s <= size[0]
    eff(s) = e_i + (e_{i+1} - e_i) * ln(s / s_i) / ln(s_{i+1} / s_i)   s_i <= s <= s_{i+1}
    eff(s) = efficiency[-1]                                   s >= size[-1]

How the evaluation applies them is :mod:`roofline.efficiency`'s job.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field, model_validator

from roofline.field_checks import SpecModel
from roofline.spec_ranges import RANGES


class EfficiencyCurve(SpecModel):
    """Efficiency (0, 1] at increasing op sizes; linear in log(size) between, clamped outside."""

    size: tuple[float, ...] = Field(
        min_length=1, description="op sizes, strictly increasing: FLOPs (engines) or bytes (levels)"
    )
    efficiency: tuple[float, ...] = Field(
        min_length=1, description="attained fraction of peak at each size, each in (0, 1]"
    )
    source: str | None = Field(None, description="how the curve was obtained")

    @model_validator(mode="after")
    def _check(self) -> EfficiencyCurve:
        s, e = self.size, self.efficiency
        if len(s) != len(e):
            raise ValueError(f"size has {len(s)} entries but efficiency has {len(e)}")
        lo, hi = RANGES["curve_size"]
        if not all(lo <= x <= hi for x in s):
            raise ValueError(f"sizes must be in [{lo:g}, {hi:g}], got {list(s)}")
        if any(b <= a for a, b in zip(s, s[1:])):
            raise ValueError(f"sizes must be strictly increasing, got {list(s)}")
        lo, hi = RANGES["efficiency"]
        if not all(lo <= x <= hi for x in e):
            raise ValueError(f"efficiencies must be in [{lo:g}, {hi:g}], got {list(e)}")
        return self

    def __call__(self, size: np.ndarray | float) -> np.ndarray:
        """Efficiency at ``size`` (any shape; sizes <= 0 take the first value)."""
        return interpolate(self, size)


def interpolate(curve: EfficiencyCurve, size: np.ndarray | float) -> np.ndarray:
    """Return the efficiency of ``curve`` at ``size`` (FLOPs or bytes; array in, array out)."""
    x = np.log(np.maximum(np.asarray(size, dtype=float), curve.size[0]))
    return np.interp(x, np.log(curve.size), curve.efficiency)
