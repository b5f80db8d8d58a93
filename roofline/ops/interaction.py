"""DLRM feature interaction.

``dot``: the F feature vectors of length d (pooled embeddings and the bottom-MLP output) are
multiplied pairwise with one batched GEMM Z = X X^T per sample (M = F, N = F, K = d, count = B;
matrix FLOPs = 2 * B * F^2 * d, as DLRM computes the full product with ``torch.bmm``); the strictly
lower triangle (F(F-1)/2 values, or F(F+1)/2 with ``self_interaction``) is gathered and
concatenated with the d-long dense vector. Activations in = F * d, out = d + pairs.

``cat``: the features are concatenated (0 FLOPs): in = out = F * d.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from roofline.kinds import OpCategory
from roofline.ops.base import Counts, Gemm, Op, Shape, register


@register
class Interaction(Op):
    """DLRM's feature interaction over ``num_features`` vectors of ``dim`` elements."""

    category = OpCategory.INTERACTION
    kind: Literal["interaction"] = "interaction"
    num_features: int = Field(ge=1, description="F: embedding tables + 1 dense vector")
    dim: int = Field(ge=1)
    mode: Literal["dot", "cat"] = "dot"
    self_interaction: bool = False

    @property
    def pairs(self) -> int:
        f = self.num_features
        return f * (f + 1) // 2 if self.self_interaction else f * (f - 1) // 2

    def counts(self, batch: Any) -> Counts:
        f, d = self.num_features, self.dim
        if self.mode == "cat":
            return Counts(act_in=batch * f * d, act_out=batch * f * d)
        return Counts(
            act_in=batch * f * d,
            act_out=batch * (d + self.pairs),
            gemms=(Gemm(f, f, d, batch, "count"),),
        )

    @property
    def out_shape(self) -> Shape:
        if self.mode == "cat":
            return (self.num_features * self.dim,)
        return (self.dim + self.pairs,)
