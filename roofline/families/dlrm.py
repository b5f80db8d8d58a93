"""DLRM recommendation models (Naumov et al. 2019, https://arxiv.org/abs/1906.00091), optionally
with a DCN-v2 cross network (Wang et al. 2021, https://arxiv.org/abs/2008.13535).

Structure as ``dlrm_s_pytorch.py`` (facebookresearch/dlrm) builds it, with its module names:

* bottom MLP ``bot_l``: ``dense_features`` -> ``bottom_mlp`` sizes, Linear + ReLU each
* one ``EmbeddingBag`` per sparse feature ``emb_l.k`` (sum pooling of ``pooling_factor`` rows);
  identical tables form one op with ``repeat`` = their count (named ``emb_l.i-j``)
* interaction over F = tables + 1 vectors of the embedding width d: ``dot`` (pairwise dot
  products, F(F-1)/2 of them, concatenated with the dense vector: d + F(F-1)/2 features) or
  ``cat`` (concatenation, F*d features)
* optional cross network (torchrec ``LowRankCrossNet`` as MLPerf DLRMv2 uses it, over the F*d
  concatenated features N): per layer x_{l+1} = x_0 * (W (V x_l) + b) + x_l with V (rank x N,
  no bias) and W (N x rank) plus bias b (N), or a full-rank N x N W with bias when
  ``cross_rank`` is null
* top MLP ``top_l``: Linear + ReLU each, the last Linear followed by a sigmoid (click probability)

A sample is one candidate: one (user, item) pair scored. A ranking request that scores n
candidates is batch n (the user's features are replicated per candidate, as DLRM runs it).
"""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field, model_validator

from roofline.errors import SpecError
from roofline.families.base import FamilyParams, PositiveInt, family
from roofline.field_checks import SpecModel
from roofline.graph import Graph
from roofline.graph_builder import GraphBuilder


class TableGroup(SpecModel):
    """``count`` identical embedding tables (one ``EmbeddingBag`` op with ``repeat`` = count)."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)
    # a spec block like the family parameters: no booleans as numbers, nothing beyond 2**53
    LIMIT_NUMBERS = True

    rows: int = Field(ge=1, description="rows (num_embeddings) of each table")
    dim: int = Field(ge=1, description="elements per row (embedding_dim)")
    pooling_factor: float = Field(
        1.0, gt=0, description="average rows looked up and pooled per sample (1 = one-hot)"
    )
    count: int = Field(1, ge=1, description="number of identical tables in this group")
    mode: Literal["sum", "mean", "max", "weighted_sum"] = Field(
        "sum", description="pooling of the looked-up rows (EmbeddingBag mode)"
    )


class DLRMParams(FamilyParams):
    """Parameters of a DLRM (``dlrm_s_pytorch``'s ``--arch-*`` options) and DCN-v2 crossing."""

    dense_features: int = Field(ge=1, description="dense (continuous) input features")
    bottom_mlp: tuple[PositiveInt, ...] = Field(
        min_length=1,
        description="bottom MLP output sizes, input excluded (`--arch-mlp-bot` without its "
        "first entry); the last equals the embedding dim",
    )
    tables: tuple[TableGroup, ...] = Field(
        min_length=1, description="embedding tables, in groups of identical tables"
    )
    top_mlp: tuple[PositiveInt, ...] = Field(
        min_length=1,
        description="top MLP output sizes, input excluded (`--arch-mlp-top`); the last (1) "
        "is followed by a sigmoid",
    )
    interaction: Literal["dot", "cat"] = Field(
        "dot", description="feature interaction: pairwise dot products or concatenation"
    )
    cross_layers: int = Field(
        0, ge=0, description="DCN-v2 cross layers after a `cat` interaction (0: none)"
    )
    cross_rank: int | None = Field(
        None,
        ge=1,
        description="rank of each low-rank cross layer (null: full-rank N x N); needs "
        "cross_layers >= 1",
    )

    @property
    def num_tables(self) -> int:
        """Embedding tables in all groups."""
        return sum(g.count for g in self.tables)

    @model_validator(mode="after")
    def _check(self) -> DLRMParams:
        d = self.bottom_mlp[-1]
        dims = sorted({g.dim for g in self.tables})
        if dims != [d]:
            raise ValueError(
                f"table dims {dims} must all equal the bottom MLP output {d} (the interaction "
                "combines vectors of one width; set every table's dim to it)"
            )
        if self.cross_layers and self.interaction != "cat":
            raise ValueError(
                f"cross_layers={self.cross_layers} needs interaction='cat' (DCN crosses the "
                f"concatenated features), got interaction={self.interaction!r}"
            )
        if self.cross_rank is not None and not self.cross_layers:
            raise SpecError(
                f"cross_rank={self.cross_rank} sets the rank of the DCN cross layers, but "
                "cross_layers=0 adds none",
                field="cross_rank",
                fix="set cross_layers >= 1 with interaction: cat, or remove cross_rank",
            )
        return self


def _mlp(b: GraphBuilder, x: str, sizes: tuple[int, ...], tag: str, last: str) -> str:
    """Linear + activation per size (ReLU; ``last`` after the final Linear), Sequential names."""
    for i, n in enumerate(sizes):
        x = b.linear(x, n, name=f"{tag}.{2 * i}")
        x = b.act(x, last if i == len(sizes) - 1 else "relu", name=f"{tag}.{2 * i + 1}")
    return x


def _cross(b: GraphBuilder, x0: str, p: DLRMParams) -> str:
    n = b.shape(x0)[-1]
    x = x0
    for layer in range(p.cross_layers):
        tag = f"inter_arch.crossnet.{layer}"
        if p.cross_rank:
            v = b.linear(x, p.cross_rank, bias=False, name=f"{tag}.V")
            w = b.linear(v, n, name=f"{tag}.W")
        else:
            w = b.linear(x, n, name=f"{tag}.W")
        x = b.eltwise([b.eltwise([x0, w], "mul", name=f"{tag}.mul"), x], "add", name=f"{tag}.add")
    return x


@family("dlrm", DLRMParams, sample="candidate")
def build_dlrm(p: DLRMParams, name: str) -> Graph:
    """DLRM: bottom MLP, pooled embeddings, interaction (optional DCN-v2 crossing), top MLP."""
    b = GraphBuilder(name)
    x = _mlp(b, b.input("dense", (p.dense_features,)), p.bottom_mlp, "bot_l", "relu")
    pooled = []
    k = 0
    for g in p.tables:
        tag = f"emb_l.{k}" if g.count == 1 else f"emb_l.{k}-{k + g.count - 1}"
        # the lookup indices are counted by the op (index dtype), not as a graph tensor
        pooled.append(
            b.add(
                "embedding_bag",
                [],
                name=tag,
                num_embeddings=g.rows,
                embedding_dim=g.dim,
                pooling_factor=g.pooling_factor,
                mode=g.mode,
                repeat=g.count,
            )
        )
        k += g.count
    z = b.add(
        "interaction",
        [x, *pooled],
        name="interact",
        num_features=p.num_tables + 1,
        dim=p.bottom_mlp[-1],
        mode=p.interaction,
    )
    if p.cross_layers:
        z = _cross(b, z, p)
    _mlp(b, z, p.top_mlp, "top_l", "sigmoid")
    return b.build()
