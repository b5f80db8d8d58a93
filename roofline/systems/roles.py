"""What each op does under tensor parallelism, read from the graph's structure (not op names).

* A graph with attention (plain or latent) is a transformer, split Megatron-style over a group
  of ``t`` devices: attention by heads (``heads``); a linear whose output feeds a residual add,
  directly or through norms (Gemma 2's post-norms), is row-parallel (``row``: its input and K dim
  split, an all-reduce of its output); a linear whose output feeds a norm otherwise (a low-rank
  down projection: MLA's ``q_a_proj`` and ``kv_a_proj_with_mqa``, whose norm needs the whole
  vector) is replicated, as vLLM and SGLang run DeepSeek's; every other linear of a repeated
  block, or whose output reaches attention or a row-parallel linear through pointwise ops (an
  unrepeated first block, as DeepSeek's dense layers), is column-parallel (``column``: N dim
  split, no communication); the largest token
  embedding (its own table, or the LM head's when they are tied) is vocabulary-parallel
  (``vocab``: rows split, an all-reduce of the looked-up vectors);
  a final linear onto that vocabulary is column-parallel with its logits gathered
  (``column_gather``); everything else (norms, activations, other embeddings, a pooler) is
  replicated, but a pointwise op all of whose inputs are split (SwiGLU's activation and product
  between the column-parallel up/gate and the row-parallel down projection) runs on its shard
  (``sharded``: no communication). A mixture-of-experts layer is ``experts``.
* A graph with pooled embedding tables is a recommendation model, run hybrid-parallel: its tables
  are sharded over the group (``table``: an all-to-all of the pooled vectors), its dense layers run
  data parallel inside the group (``data``: each device takes ``batch / t`` samples).
* Any other graph splits each convolution's and linear's output channels and all-gathers them
  (``column_gather``); its other ops are replicated. No serving stack runs a CNN this way: data
  parallelism (``dp``) is the sensible layout for such models, and a study will show it.
"""

from __future__ import annotations

from collections import defaultdict

from roofline.graph import Graph
from roofline.kinds import OpCategory, StrEnum


class Role(StrEnum):
    """How an op is split over a tensor-parallel group (module docstring)."""

    REPLICATED = "replicated"
    COLUMN = "column"
    ROW = "row"
    COLUMN_GATHER = "column_gather"
    SHARDED = "sharded"
    HEADS = "heads"
    VOCAB = "vocab"
    TABLE = "table"
    DATA = "data"
    EXPERTS = "experts"


def roles(graph: Graph) -> tuple[Role, ...]:
    """The :class:`Role` of every op of ``graph`` (computed once per graph)."""
    return graph.derived("parallel_roles", _roles)


def _consumers(graph: Graph) -> dict[str, list[int]]:
    out: dict[str, list[int]] = defaultdict(list)
    for i, node in enumerate(graph.nodes):
        for t in node.inputs:
            out[t].append(i)
    return out


def _feeds_residual_add(graph: Graph, i: int, consumers: dict[str, list[int]]) -> bool:
    """Whether op i's output is added to another tensor (a residual connection), directly or
    through norms."""
    for j in consumers[graph.nodes[i].output]:
        op = graph.nodes[j].op
        if op.kind == "elementwise" and getattr(op, "op", "") == "add":
            return True
        if op.category == OpCategory.NORMALIZATION and _feeds_residual_add(graph, j, consumers):
            return True
    return False


def _feeds_split_input(graph: Graph, i: int, consumers: dict[str, list[int]]) -> bool:
    """Whether op i's output reaches attention or a row-parallel linear (which take split
    inputs) directly or through pointwise ops."""
    for j in consumers[graph.nodes[i].output]:
        op = graph.nodes[j].op
        if op.category == OpCategory.ATTENTION:
            return True
        if op.kind == "linear" and _feeds_residual_add(graph, j, consumers):
            return True
        if op.category in _POINTWISE and _feeds_split_input(graph, j, consumers):
            return True
    return False


def _feeds_norm(graph: Graph, i: int, consumers: dict[str, list[int]]) -> bool:
    """Whether op i's output is normalized by some op (which needs the whole vector)."""
    nodes = graph.nodes
    return any(nodes[j].op.category == OpCategory.NORMALIZATION for j in consumers[nodes[i].output])


#: ops that look tokens up in a table: their own (``embedding``), or the LM head's when the
#: embeddings are tied (``tied_embedding``: GPT-2, Falcon, Gemma); the largest is the vocabulary
_TOKEN_TABLES = ("embedding", "tied_embedding")
#: op categories that work element by element on their inputs (a split input stays split)
_POINTWISE = (OpCategory.ELEMENTWISE,)
#: roles whose output each device holds only its share of
_SPLIT_OUTPUT = (Role.COLUMN, Role.HEADS, Role.SHARDED)


def _spread_shards(graph: Graph, out: list[Role]) -> None:
    """Mark ``sharded`` the replicated pointwise ops whose every input comes split (in op order,
    so chains of them follow)."""
    producer = {node.output: i for i, node in enumerate(graph.nodes)}
    for i, node in enumerate(graph.nodes):
        if out[i] != Role.REPLICATED or node.op.category not in _POINTWISE or not node.inputs:
            continue
        if all(t in producer and out[producer[t]] in _SPLIT_OUTPUT for t in node.inputs):
            out[i] = Role.SHARDED


def _roles(graph: Graph) -> tuple[Role, ...]:
    ops = graph.ops
    kinds = {op.kind for op in ops}
    out = [Role.REPLICATED] * len(ops)
    if any(op.category == OpCategory.ATTENTION for op in ops):
        consumers = _consumers(graph)
        tokens = [
            (getattr(op, "num_embeddings", 0), i)
            for i, op in enumerate(ops)
            if op.kind in _TOKEN_TABLES
        ]
        vocab = max(tokens)[0] if tokens else 0
        for i, op in enumerate(ops):
            if op.category == OpCategory.ATTENTION:
                out[i] = Role.HEADS
            elif op.kind in _TOKEN_TABLES:
                out[i] = Role.VOCAB if getattr(op, "num_embeddings", 0) == vocab else out[i]
            elif op.kind == "moe":
                out[i] = Role.EXPERTS
            elif op.kind == "linear":
                if _feeds_residual_add(graph, i, consumers):
                    out[i] = Role.ROW
                elif _feeds_norm(graph, i, consumers):
                    pass  # replicated
                elif op.repeat > 1 or _feeds_split_input(graph, i, consumers):
                    out[i] = Role.COLUMN
                elif vocab and getattr(op, "out_features", 0) == vocab:
                    out[i] = Role.COLUMN_GATHER
        _spread_shards(graph, out)
        return tuple(out)
    if "embedding_bag" in kinds:
        return tuple(Role.TABLE if op.kind == "embedding_bag" else Role.DATA for op in ops)
    return tuple(
        Role.COLUMN_GATHER if op.category in (OpCategory.CONV, OpCategory.FC) else Role.REPLICATED
        for op in ops
    )
