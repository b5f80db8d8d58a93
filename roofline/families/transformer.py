"""Transformers: bidirectional encoders (BERT) and decoder-only language models with a KV cache.

Encoder (Devlin et al. 2018, https://arxiv.org/abs/1810.04805; Hugging Face ``BertModel``
names): word + learned position + token-type embeddings, added and layer-normed; per layer
(post-norm) query/key/value projections, attention, output projection, residual add and
LayerNorm, then intermediate (GELU) and output projections, residual add and LayerNorm; optional
pooler (dense + tanh on the first token).

Decoder (Llama: Touvron et al. 2023, https://arxiv.org/abs/2307.09288; Hugging Face
``LlamaForCausalLM`` names): token embedding; per layer (pre-norm) RMSNorm, q/k/v projections
(``num_kv_heads`` K/V heads: grouped-query attention), causal attention with a KV cache, output
projection and residual add; RMSNorm, SwiGLU MLP (gate and up projections, SiLU(gate) * up,
down projection) and residual add; final norm and an ``lm_head``. The variants of the other
decoders (``roofline.importers.hf_config`` maps their Hugging Face configs here): parallel
residual (GPT-J, GPT-NeoX, Falcon: attention and MLP read the same input, one residual add of
both), sandwich norms (Gemma 2), GeGLU, per-projection biases, a head size other than
hidden/heads (Gemma), a token table tied to the ``lm_head`` (its weights count once), sliding-
window attention (the decode KV cache and attention span hold at most ``sliding_window``
tokens, in the layers ``layer_types`` marks), multi-head latent attention (DeepSeek: a latent
of ``kv_lora_rank + qk_rope_head_dim`` elements per token and layer in the KV cache, absorbed
projections in decode; :mod:`roofline.ops.decoder`) and mixture-of-experts feed-forward layers
(router, ``num_experts_per_tok`` of ``num_experts`` experts, shared experts, dense layers first
or interleaved; :mod:`roofline.ops.moe`).

Phases: ``prefill`` runs ``seq_len`` tokens (the prompt, or the encoder's sequence) and writes
their K/V to the cache; the ``lm_head`` projects the last token only, as serving engines do.
Prefill attention is counted dense over the whole prompt (a causal mask or a sliding window
does not shrink the score matrix a dense kernel computes, nor torch's FLOP count).
``decode`` runs one new token per sequence against a cache of ``context_len`` tokens (the new
one included). Ops of alike layers are one op with ``repeat`` = their count (named
``<prefix>.<layers>.<module>``, e.g. ``model.layers.0-31.self_attn``). Rotary position
embeddings (about 3 vector FLOPs per rotated query and key element, so partial rotary changes
nothing), Gemma's embedding scaling and logit soft-capping are not modeled. A sample is one
sequence.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from roofline.counting import weight_copies
from roofline.families.base import family
from roofline.families.transformer_blocks import Block, layer_groups
from roofline.families.transformer_params import TransformerParams
from roofline.graph import Graph
from roofline.graph_builder import GraphBuilder
from roofline.ops.moe import MoE

if TYPE_CHECKING:
    from roofline.model import Model


def _norm(b: GraphBuilder, p: TransformerParams, x: str, name: str) -> str:
    """LayerNorm or RMSNorm (``p.norm``) over the last dim of ``x``."""
    return b.add("layernorm", [x], name=name, shape=b.shape(x), rms=p.norm == "rmsnorm")


def _embeddings(b: GraphBuilder, p: TransformerParams, tokens: int) -> str:
    enc = p.architecture == "encoder"
    tag = "embeddings." if enc else "model."
    word = "word_embeddings" if enc else "embed_tokens"
    tables = [(word, p.vocab_size)]
    if p.position_embedding == "learned":
        tables.append(("position_embeddings", p.max_position_embeddings))
    if p.type_vocab_size:
        tables.append(("token_type_embeddings", p.type_vocab_size))
    parts = [
        b.add(
            "tied_embedding" if p.tie_word_embeddings and t == word else "embedding",
            [],
            name=tag + t,
            num_embeddings=rows,
            embedding_dim=p.hidden_size,
            lookups=tokens,
        )
        for t, rows in tables
    ]
    x = b.eltwise(parts, "add", name=tag + "add") if len(parts) > 1 else parts[0]
    if p.norm_position == "post":
        x = _norm(b, p, x, tag + "LayerNorm")
    return x


@family("transformer", TransformerParams, sample="sequence")
def build_transformer(p: TransformerParams, name: str) -> Graph:
    """Transformer encoder (BERT) or decoder-only LM (Llama) in the prefill or decode phase."""
    b = GraphBuilder(name)
    q_len = 1 if p.phase == "decode" else p.seq_len
    kv_len = p.context_len if p.phase == "decode" else p.seq_len
    x = _embeddings(b, p, q_len)
    for layers, sliding, moe in layer_groups(p):
        x = Block(b, p, layers, sliding, moe).build(x, q_len, kv_len)
    if p.norm_position == "pre":
        x = _norm(b, p, x, "model.norm")
    h = p.hidden_size
    if p.pooler:  # the first token only
        y = b.add("linear", [x], name="pooler.dense", in_features=h, out_features=h, bias=True)
        b.act(y, "tanh", name="pooler.activation")
    if p.lm_head:  # the last token only: the next-token logits
        b.add(
            "linear",
            [x],
            name="lm_head",
            in_features=h,
            out_features=p.vocab_size,
            bias=p.lm_head_bias,
        )
    return b.build()


def active_params(model: Model | Graph) -> float:
    """Parameters one token uses (elements): every weight, with each mixture-of-experts op
    counting its router, shared experts and ``top_k`` routed experts only (embedding tables and
    the lm_head count whole, as published active-parameter figures count them). For a dense
    model this is the parameter count."""
    graph = model if isinstance(model, Graph) else model.graph
    per_copy = (op.active_params if isinstance(op, MoE) else op.params for op in graph.ops)
    return float(sum(c * n for c, n in zip(weight_copies(graph), per_copy, strict=True)))
