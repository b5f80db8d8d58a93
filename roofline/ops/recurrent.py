"""LSTM and GRU layers, counted as their gate GEMMs plus vector work per hidden unit and step.

Legend: G gates (LSTM 4, GRU 3), H hidden_size, I_l input size of layer l (input_size for l = 0,
H * directions after), T seq_len, D directions (2 if bidirectional), L num_layers, N = B * S
sequences run at batch B (S = ``sequences`` per sample: the beam hypotheses of a decoder step).

* params per layer and direction = G*H*(I_l + H) + 2*G*H (two bias vectors, as PyTorch)
* weights read per run: the input weights and biases once, the recurrent weights G*H*H once per
  step (T times), because each step's GEMM needs all of them after the previous step's result:
  a recurrent weight is reused only 2 x batch times per read, as Park et al. note for LSTMs
* GEMMs per layer and direction: the input projection over all steps at once
  (M = N*T, N = G*H, K = I_l) and the recurrent projection step by step
  (M = N, N = G*H, K = H, count = T); matrix FLOPs = 2*N*T*G*H*(I_l + H)
* vector FLOPs = N*T*H*D*L x the cell FLOPs per hidden unit and step: ``LSTM_CELL_FLOPS`` = 36
  (gate pre-activations 4 x 3 adds, 3 sigmoids x 4, tanh 4, cell update 3, output tanh 4 +
  multiply 1) and ``GRU_CELL_FLOPS`` = 26 (r, z pre-activations 2 x 3 adds, candidate 3 adds +
  reset multiply, 2 sigmoids x 4, tanh 4, interpolation 4)
* activations per sequence: in = T * input_size, out = T * H * D, plus each layer's intermediate
  sequence (written and read back between layers); with ``carry_state`` (a decoder run one step
  at a time, its state kept between calls) also the initial state read and the final state
  written, C*H*D*L elements each way (C = 2 for LSTM: h and c; 1 for GRU: h)
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field

from roofline.kinds import OpCategory
from roofline.ops.base import Counts, Gemm, Op, Shape, register

LSTM_CELL_FLOPS = 36
GRU_CELL_FLOPS = 26


class _Recurrent(Op):
    category = OpCategory.RECURRENT
    gates: ClassVar[int] = 4
    state_tensors: ClassVar[int] = 2
    cell_flops: ClassVar[int] = LSTM_CELL_FLOPS
    input_size: int = Field(ge=1)
    hidden_size: int = Field(ge=1)
    seq_len: int = Field(1, ge=1, description="time steps per sequence")
    num_layers: int = Field(1, ge=1)
    bidirectional: bool = False
    bias: bool = True
    sequences: int = Field(
        1, ge=1, description="independent sequences per sample (beam hypotheses of a decoder step)"
    )
    carry_state: bool = Field(
        False, description="read the initial and write the final state (a decoder step by step)"
    )

    def counts(self, batch: Any) -> Counts:
        g, h, t = self.gates, self.hidden_size, self.seq_len
        dirs = 2 if self.bidirectional else 1
        n = batch * self.sequences
        weight = 0.0
        weight_read = 0.0
        gemms: list[Gemm] = []
        for layer in range(self.num_layers):
            i = self.input_size if layer == 0 else h * dirs
            bias = 2 * g * h if self.bias else 0
            weight += dirs * (g * h * (i + h) + bias)
            weight_read += dirs * (g * h * i + bias + t * g * h * h)
            gemms.append(Gemm(n * t, g * h, i, dirs, "m"))
            gemms.append(Gemm(n, g * h, h, dirs * t, "m"))
        inter = n * t * h * dirs * (self.num_layers - 1)
        state = n * self.state_tensors * h * dirs * self.num_layers if self.carry_state else 0 * n
        return Counts(
            weight=weight,
            weight_read=weight_read,
            act_in=n * t * self.input_size + inter + state,
            act_out=n * t * h * dirs + inter + state,
            vector_flops=n * t * h * dirs * self.num_layers * self.cell_flops,
            gemms=tuple(gemms),
        )

    @property
    def out_shape(self) -> Shape:
        dirs = 2 if self.bidirectional else 1
        if self.sequences > 1:
            return (self.sequences, self.seq_len, self.hidden_size * dirs)
        return (self.seq_len, self.hidden_size * dirs)


@register
class LSTM(_Recurrent):
    """``torch.nn.LSTM`` (no projection)."""

    kind: Literal["lstm"] = "lstm"


@register
class GRU(_Recurrent):
    """``torch.nn.GRU``."""

    kind: Literal["gru"] = "gru"
    gates: ClassVar[int] = 3
    state_tensors: ClassVar[int] = 1
    cell_flops: ClassVar[int] = GRU_CELL_FLOPS
