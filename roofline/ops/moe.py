"""Mixture of experts: a router picks ``top_k`` of ``num_experts`` gated feed-forward experts per
token; optional shared experts run on every token (Mixtral, Qwen-MoE, DeepSeek-V2/V3).

Legend: T = B * tokens (token rows of a batch of B samples), d hidden_size, f intermediate_size
(one routed expert), E num_experts, k top_k, f_s shared_intermediate_size (all shared experts
as one gated MLP of that width: DeepSeek's ``n_shared_experts`` x ``moe_intermediate_size``,
Qwen-MoE's ``shared_expert_intermediate_size``). Every expert is gated (SwiGLU): gate and up
projections d -> f, SiLU(gate) * up, down projection f -> d, no biases.

* Experts touched: a batch of T tokens reads the weights of the distinct experts it routes to.
  Under uniform routing a token picks each expert with probability k/E, so T tokens touch
  ``n(T) = E (1 - (1 - k/E)^T)`` experts on average. ``routing_skew`` s >= 0 makes routing
  uneven: the expert of popularity rank r is picked with probability p_r proportional to
  r^-s, scaled so the p_r sum to k and capped at 1 (a Zipf law; s = 0 is uniform), and
  ``n(T) = sum_r 1 - (1 - p_r)^T``. n(T) is concave in T: the op is not affine in batch and is
  counted exactly at every batch.
* Params (footprint) = E * 3 d f (routed) + E d (router) + 3 d f_s (shared) + d (the shared
  expert's sigmoid gate, Qwen-MoE). Weight traffic per run = n(T) * 3 d f + E d + 3 d f_s (+ d):
  the router and the shared experts are always read, routed experts only when touched.
  :attr:`MoE.active_params` = the parameters one token uses (k routed experts).
* GEMMs (2 FLOPs per MAC; torch's FLOP counter counts the same for any routing, since every
  token runs exactly k experts): router (M = T, N = E, K = d); per touched expert gate+up
  (M = T k / n(T), N = 2f, K = d) and down (M = T k / n(T), N = d, K = f), count = n(T), so
  routed FLOPs = 2 T k * 3 d f; shared (M = T, N = 2 f_s, K = d) and (M = T, N = d, K = f_s);
  shared gate (M = T, N = 1, K = d). M is the mean tokens per touched expert (tile padding).
* Vector FLOPs: router scores T E ``SOFTMAX_FLOPS`` (top-k selection not counted); gating
  ``GLU_FLOPS`` = SiLU 5 + multiply 1 per intermediate element (T k f + T f_s); combine
  ``COMBINE_FLOPS`` = 2 per routed output element (scale by the routing weight and add,
  T k d), plus T d for adding the shared output and, with the shared gate, T (4 + d) (sigmoid
  and scale).
* Activations: the op reads its input (T d) and writes its output (T d); its intermediates
  (router scores T E, per routed pair and shared token the gate/up output 2f, the gated
  product f and the expert output d) are written and read once each:
  ``I = T E + T k (3 f + d) + T (3 f_s + d)`` (the f_s term only with shared experts) is added
  to both activations in and out.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any, Literal

import numpy as np
from pydantic import Field, model_validator

from roofline.kinds import OpCategory
from roofline.ops.base import Counts, Gemm, Op, Shape, register
from roofline.ops.vector import ACTIVATION_FLOPS, SOFTMAX_FLOPS

GLU_FLOPS = ACTIVATION_FLOPS["silu"] + 1
COMBINE_FLOPS = 2
SIGMOID_FLOPS = ACTIVATION_FLOPS["sigmoid"]


def expert_probabilities(num_experts: int, top_k: int, skew: float) -> np.ndarray:
    """Per-token pick probability of each expert [E], summing to ``top_k``, each at most 1.

    Weights r^-``skew`` by popularity rank r; the largest are capped at 1 and the rest scaled
    to make up ``top_k`` (water filling). ``skew`` = 0 gives k/E for every expert.
    """
    w = np.arange(1, num_experts + 1, dtype=float) ** -float(skew)
    p = np.ones(num_experts)
    for capped in range(top_k + 1):
        rest = w[capped:]
        scale = (top_k - capped) / rest.sum() if rest.size else 0.0
        if rest.size == 0 or scale * rest[0] <= 1.0:
            p[capped:] = scale * rest
            break
    return p


def experts_touched(probabilities: np.ndarray, tokens: Any) -> Any:
    """Expected distinct experts a batch of ``tokens`` (scalar or array) routes to."""
    t = np.asarray(tokens, dtype=float)
    miss = (1.0 - probabilities)[:, None] ** t.reshape(1, -1)
    out = (1.0 - miss).sum(axis=0).reshape(t.shape)
    return out if isinstance(tokens, np.ndarray) else float(out)


@register
class MoE(Op):
    """Mixture-of-experts feed-forward layer (router, top-k gated experts, shared experts)."""

    category = OpCategory.FC
    affine_in_batch = False  # experts touched are concave in the batch
    kind: Literal["moe"] = "moe"
    hidden_size: int = Field(ge=1, description="d: input and output features per token")
    intermediate_size: int = Field(ge=1, description="f: hidden width of one routed expert")
    num_experts: int = Field(ge=1, description="E: routed experts")
    top_k: int = Field(ge=1, description="k: routed experts per token")
    shared_intermediate_size: int = Field(
        0, ge=0, description="f_s: total hidden width of the shared experts (0: none)"
    )
    shared_expert_gate: bool = Field(
        False, description="a sigmoid gate Linear(d, 1) scales the shared output (Qwen-MoE)"
    )
    tokens: int = Field(1, ge=1, description="token rows per sample")
    routing_skew: float = Field(
        0.0,
        ge=0.0,
        description="Zipf exponent of expert popularity (0: uniform routing); sets the "
        "experts a batch touches, hence the expert weight traffic",
    )

    @model_validator(mode="after")
    def _check(self) -> MoE:
        if self.top_k > self.num_experts:
            raise ValueError(
                f"top_k={self.top_k} exceeds num_experts={self.num_experts} "
                f"(route each token to at most {self.num_experts} experts)"
            )
        if self.shared_expert_gate and not self.shared_intermediate_size:
            raise ValueError(
                "shared_expert_gate needs shared experts (set shared_intermediate_size)"
            )
        return self

    @cached_property
    def _probabilities(self) -> np.ndarray:
        return expert_probabilities(self.num_experts, self.top_k, self.routing_skew)

    @property
    def expert_params(self) -> int:
        """Parameters of one routed expert (gate, up and down projections)."""
        return 3 * self.hidden_size * self.intermediate_size

    @property
    def always_params(self) -> int:
        d = self.hidden_size
        gate = d if self.shared_expert_gate else 0
        return self.num_experts * d + 3 * d * self.shared_intermediate_size + gate

    @property
    def active_params(self) -> int:
        """Parameters one token uses: router, shared experts and ``top_k`` routed experts."""
        return self.always_params + self.top_k * self.expert_params

    def experts_touched(self, batch: Any) -> Any:
        """Expected distinct routed experts a batch of ``batch`` samples reads."""
        return experts_touched(self._probabilities, batch * self.tokens)

    def counts(self, batch: Any) -> Counts:
        d, f, fs, k, e = (
            self.hidden_size,
            self.intermediate_size,
            self.shared_intermediate_size,
            self.top_k,
            self.num_experts,
        )
        t = batch * self.tokens
        n = self.experts_touched(batch)
        per_expert: Any = np.where(np.asarray(n) > 0, t * k / np.maximum(n, 1e-300), 0.0)
        if not isinstance(n, np.ndarray):
            per_expert = float(per_expert)
        gemms = [
            Gemm(t, e, d),
            Gemm(per_expert, 2 * f, d, n),
            Gemm(per_expert, d, f, n),
        ]
        vector = t * e * SOFTMAX_FLOPS + t * k * (f * GLU_FLOPS + d * COMBINE_FLOPS)
        inner = t * e + t * k * (3 * f + d)
        if fs:
            gemms += [Gemm(t, 2 * fs, d), Gemm(t, d, fs)]
            vector = vector + t * fs * GLU_FLOPS + t * d
            inner = inner + t * (3 * fs + d)
        if self.shared_expert_gate:
            gemms.append(Gemm(t, 1, d))
            vector = vector + t * (SIGMOID_FLOPS + d)
        return Counts(
            weight=float(self.num_experts * self.expert_params + self.always_params),
            weight_read=n * self.expert_params + self.always_params,
            act_in=t * d + inner,
            act_out=t * d + inner,
            vector_flops=vector,
            gemms=tuple(gemms),
        )

    @property
    def out_shape(self) -> Shape:
        d = self.hidden_size
        return (self.tokens, d) if self.tokens > 1 else (d,)
