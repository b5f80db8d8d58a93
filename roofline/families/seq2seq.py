"""Recurrent encoder-decoder translation models with global attention (GNMT-style sizes).

Structure (Luong et al. 2015, https://arxiv.org/abs/1508.04025, as OpenNMT-py's
``RNNEncoder`` + ``InputFeedRNNDecoder`` + ``GlobalAttention`` build it; layer sizes as GNMT,
Wu et al. 2016, https://arxiv.org/abs/1609.08144):

* encoder: source token embedding; ``encoder_bidirectional_layers`` bottom layers bidirectional
  (``hidden_size`` per direction, as GNMT's first layer), the rest unidirectional; its output
  (the memory bank) has ``H_enc`` = 2H features when the top layer is bidirectional, else H
* decoder step, for the ``beam_size`` hypotheses of each sentence: target token embedding,
  concatenated with the previous attentional vector (input feeding); a ``decoder_layers`` stack
  run for one step with its state carried between steps; global attention over the
  ``source_len`` encoder states: ``general`` scores q = W_in h_t (bias-free H -> H_enc linear,
  ``decoder.attn.linear_in``) against the memory bank, ``dot`` scores h_t directly; context and
  h_t concatenated, ``linear_out`` (bias-free, H_enc + H -> H) and tanh give the attentional
  vector; the generator projects it to the target vocabulary (with bias) and a log-softmax
  scores it

Views (``view``): ``encode`` = the encoder over one source sentence; ``decode_step`` = ONE decoder
step for a sentence's ``beam_size`` hypotheses, reading the memory bank as a graph input (the
matrix-vector regime: every FC and recurrent GEMM has M = batch * beam_size rows);
``translate`` = encode + ``target_len`` decoder steps (each decoder op ``repeat`` = target_len).
A sample is one sentence. Not modeled: beam-search bookkeeping (top-k over beam x vocabulary,
state reordering), GNMT's residual adds and the first step's single hypothesis.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from roofline.families.base import FamilyParams, family
from roofline.graph import Graph
from roofline.graph_builder import GraphBuilder


class Seq2SeqParams(FamilyParams):
    """Parameters of a recurrent encoder-decoder with global (Luong) attention."""

    cell: Literal["lstm", "gru"] = Field(
        "lstm", description="recurrent cell of encoder and decoder (torch.nn.LSTM or GRU)"
    )
    src_vocab_size: int = Field(ge=1, description="source vocabulary (embedding rows), tokens")
    tgt_vocab_size: int = Field(
        ge=1, description="target vocabulary: embedding rows and generator outputs, tokens"
    )
    embedding_dim: int = Field(ge=1, description="source and target token embedding width")
    hidden_size: int = Field(
        ge=1, description="recurrent state width H (per direction in bidirectional layers)"
    )
    encoder_layers: int = Field(ge=1, description="encoder recurrent layers")
    decoder_layers: int = Field(ge=1, description="decoder recurrent layers")
    encoder_bidirectional_layers: int = Field(
        1, ge=0, description="bottom encoder layers that are bidirectional (GNMT: 1)"
    )
    attention: Literal["general", "dot"] = Field(
        "general",
        description="Luong score: `general` = h_t^T W h_s (a bias-free H -> H_enc linear on the "
        "query), `dot` = h_t^T h_s (needs H_enc = H)",
    )
    input_feeding: bool = Field(
        True,
        description="feed the previous attentional vector (H) into the first decoder layer "
        "next to the token embedding",
    )
    source_len: int = Field(32, ge=1, description="source sentence length, tokens")
    target_len: int = Field(
        32, ge=1, description="decoder steps of the `translate` view (target tokens)"
    )
    beam_size: int = Field(
        4, ge=1, description="hypotheses decoded per sentence (rows of every decoder GEMM)"
    )
    view: Literal["encode", "decode_step", "translate"] = Field(
        "decode_step",
        description="what one run computes: `encode` (encoder over the source), `decode_step` "
        "(one decoder step for batch x beam hypotheses) or `translate` (both, target_len steps)",
    )

    @property
    def memory_dim(self) -> int:
        """Width of the encoder output states (H_enc)."""
        top_bidirectional = self.encoder_bidirectional_layers == self.encoder_layers
        return self.hidden_size * (2 if top_bidirectional else 1)

    @model_validator(mode="after")
    def _check(self) -> Seq2SeqParams:
        if self.encoder_bidirectional_layers > self.encoder_layers:
            raise ValueError(
                f"encoder_bidirectional_layers={self.encoder_bidirectional_layers} exceeds "
                f"encoder_layers={self.encoder_layers} (use at most encoder_layers)"
            )
        if self.attention == "dot" and self.memory_dim != self.hidden_size:
            raise ValueError(
                f"attention='dot' needs encoder states of hidden_size={self.hidden_size}, but "
                f"the bidirectional top encoder layer gives {self.memory_dim} (use "
                "attention='general' or a unidirectional top layer)"
            )
        return self


def _rows(n: int, width: int) -> tuple[int, ...]:
    """Per-sample shape of ``n`` vectors of ``width`` (a plain vector when n = 1)."""
    return (n, width) if n > 1 else (width,)


def _encoder(b: GraphBuilder, p: Seq2SeqParams) -> str:
    x = b.add(
        "embedding",
        [],
        name="encoder.embeddings",
        num_embeddings=p.src_vocab_size,
        embedding_dim=p.embedding_dim,
        lookups=p.source_len,
    )
    n_bi = p.encoder_bidirectional_layers
    for tag, layers, bidirectional in (
        ("encoder.brnn", n_bi, True),
        ("encoder.rnn", p.encoder_layers - n_bi, False),
    ):
        if layers:
            x = b.add(
                p.cell,
                [x],
                name=tag,
                input_size=b.shape(x)[-1],
                hidden_size=p.hidden_size,
                seq_len=p.source_len,
                num_layers=layers,
                bidirectional=bidirectional,
            )
    return x


def _decoder_step(b: GraphBuilder, p: Seq2SeqParams, memory: str, repeat: int) -> str:
    """One decoder step for ``beam_size`` hypotheses (``repeat`` identical steps)."""
    k, h, hm = p.beam_size, p.hidden_size, p.memory_dim
    # every step reuses the decoder's weights: footprint once, weight traffic every step
    rep = {"repeat": repeat, "shared_weights": True}
    y = b.add(
        "embedding",
        [],
        name="decoder.embeddings",
        num_embeddings=p.tgt_vocab_size,
        embedding_dim=p.embedding_dim,
        lookups=k,
        **rep,
    )
    if p.input_feeding:
        feed = b.input("decoder.input_feed", _rows(k, h))
        y = b.add(
            "concat",
            [y, feed],
            name="decoder.input_cat",
            dim=-1,
            **rep,
            input_shapes=(b.shape(y), b.shape(feed)),
        )
    state = b.add(
        p.cell,
        [y],
        name="decoder.rnn",
        input_size=b.shape(y)[-1],
        hidden_size=h,
        seq_len=1,
        num_layers=p.decoder_layers,
        sequences=k,
        carry_state=True,
        **rep,
    )
    query = state
    if p.attention == "general":
        query = b.add(
            "linear",
            [state],
            name="decoder.attn.linear_in",
            in_features=h,
            out_features=hm,
            bias=False,
            rows=k,
            **rep,
        )
    context = b.add(
        "attention",
        [query, memory],
        name="decoder.attn",
        num_heads=1,
        head_dim=hm,
        q_len=k,
        kv_len=p.source_len,
        **rep,
    )
    cat = b.add(
        "concat",
        [context, state],
        name="decoder.attn.cat",
        dim=-1,
        **rep,
        input_shapes=((k, hm), (k, h)),
    )
    out = b.add(
        "linear",
        [cat],
        name="decoder.attn.linear_out",
        in_features=hm + h,
        out_features=h,
        bias=False,
        rows=k,
        **rep,
    )
    out = b.add(
        "activation",
        [out],
        name="decoder.attn.tanh",
        shape=b.shape(out),
        function="tanh",
        **rep,
    )
    logits = b.add(
        "linear",
        [out],
        name="generator.0",
        in_features=h,
        out_features=p.tgt_vocab_size,
        bias=True,
        rows=k,
        **rep,
    )
    return b.add("softmax", [logits], name="generator.1", shape=b.shape(logits), **rep)


@family("seq2seq", Seq2SeqParams, sample="sentence")
def build_seq2seq(p: Seq2SeqParams, name: str) -> Graph:
    """Recurrent (LSTM/GRU) encoder-decoder translation with global attention."""
    b = GraphBuilder(name)
    if p.view == "decode_step":
        memory = b.input("memory_bank", (p.source_len, p.memory_dim))
        _decoder_step(b, p, memory, repeat=1)
        return b.build()
    memory = _encoder(b, p)
    if p.view == "translate":
        _decoder_step(b, p, memory, repeat=p.target_len)
    return b.build()
