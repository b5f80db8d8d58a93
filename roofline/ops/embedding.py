"""Embedding lookups: pooled (``EmbeddingBag``, the recommendation models' SparseLengthsSum) and
plain (``Embedding``, token embeddings).

EmbeddingBag with pooling factor ``pf`` (average lookups per sample) and row length ``D``:

* rows touched = B * pf, each a random read of D elements; the evaluator rounds each read up to
  the serving memory level's access granularity (traffic), while the footprint is the whole table
  (num_embeddings * D weights)
* vector FLOPs = B * pf * D * c, c = 1 for sum, mean and max (one add or compare per fetched
  element), c = 2 for weighted_sum (multiply-add); the final divide of ``mean`` is negligible
* activations: in = B * pf indices (``index`` dtype, plus pf per-sample weights for weighted_sum),
  out = B * D

Embedding (plain): rows touched = B * lookups, out = lookups * D, no FLOPs.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from roofline.kinds import OpCategory
from roofline.ops.base import Counts, Op, Shape, register

POOL_FLOPS = {"sum": 1, "mean": 1, "max": 1, "weighted_sum": 2}


@register
class EmbeddingBag(Op):
    """Pooled lookup in one table (``torch.nn.EmbeddingBag``); ``repeat`` = identical tables."""

    category = OpCategory.EMBEDDING
    side_by_side = True  # repeat = identical tables looked up together
    kind: Literal["embedding_bag"] = "embedding_bag"
    num_embeddings: int = Field(ge=1, description="rows in the table")
    embedding_dim: int = Field(ge=1, description="elements per row")
    pooling_factor: float = Field(gt=0, description="average lookups per sample")
    mode: Literal["sum", "mean", "max", "weighted_sum"] = "sum"

    def counts(self, batch: Any) -> Counts:
        rows = batch * self.pooling_factor
        weighted = self.mode == "weighted_sum"
        return Counts(
            weight=float(self.num_embeddings) * self.embedding_dim,
            weight_read=0.0,
            gather_rows=rows,
            gather_row_elems=self.embedding_dim,
            index=rows,
            act_in=rows if weighted else 0.0 * rows,
            act_out=batch * self.embedding_dim,
            vector_flops=rows * self.embedding_dim * POOL_FLOPS[self.mode],
        )

    @property
    def out_shape(self) -> Shape:
        return (self.embedding_dim,)


@register
class Embedding(Op):
    """Plain lookup (``torch.nn.Embedding``): ``lookups`` rows per sample, not pooled."""

    category = OpCategory.EMBEDDING
    side_by_side = True  # repeat = identical tables looked up together
    kind: Literal["embedding"] = "embedding"
    num_embeddings: int = Field(ge=1)
    embedding_dim: int = Field(ge=1)
    lookups: int = Field(1, ge=1, description="rows read per sample (tokens)")

    def counts(self, batch: Any) -> Counts:
        rows = batch * self.lookups
        return Counts(
            weight=float(self.num_embeddings) * self.embedding_dim,
            weight_read=0.0,
            gather_rows=rows,
            gather_row_elems=self.embedding_dim,
            index=rows,
            act_out=rows * self.embedding_dim,
        )

    @property
    def out_shape(self) -> Shape:
        return (self.lookups, self.embedding_dim) if self.lookups > 1 else (self.embedding_dim,)
