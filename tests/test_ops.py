"""Reference counts for every registered op kind, written as independent formulas.

Each case states an op and, as a function of the batch ``B``, the elements and FLOPs PyTorch
semantics imply, derived in a comment from the op module's docstring formula (``roofline/ops``) and
from the PyTorch module it stands for. Each case is checked at two batch sizes and three dtypes;
bytes follow DESIGN.md: elements x bytes per element of the tensor's dtype (IEEE 754 binary32 = 4 B,
binary16 = 2 B, int8 = 1 B), lookup indices int64 = 8 B as ``torch.nn.EmbeddingBag`` takes them.

Published figures used as anchors: torchvision parameter shapes (``resnet50().conv1`` 64x3x7x7,
``fc`` 2048x1000 + 1000); the KV cache of OPT-13B, 800 KB per token in fp16 (Kwon et al. 2023,
vLLM, https://arxiv.org/abs/2309.06180, Section 3); DLRM's top-MLP input of 479 = 128 + 27*26/2
(facebookresearch/dlrm ``dlrm_s_pytorch.py``, MLPerf config with 26 sparse features, dim 128).
Cross-checks against torch modules are in ``test_ops_torch.py``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from pydantic import ValidationError

import roofline
from roofline.ops import REGISTRY, derive_cost

#: bytes per element by dtype (IEEE 754 binary32 / binary16, 8-bit integers)
DTYPE_BYTES = {"fp32": 4, "fp16": 2, "int8": 1}
#: embedding lookup indices are int64 (torch.nn.EmbeddingBag's ``input``)
INDEX_BYTES = 8
BATCHES = (1, 7)


@dataclass(frozen=True)
class Case:
    """One op and its expected counts.

    ``expect(B)`` returns elements and FLOPs at batch ``B``: keys ``weight`` (parameters),
    ``weight_read`` (default: ``weight``), ``gather_rows``, ``gather_row_elems``, ``act_in``,
    ``act_out``, ``index``, ``kv``, ``kv_footprint``, ``flops_matrix``, ``flops_vector``,
    ``flops_mac`` (default: ``flops_matrix``); missing keys are 0.
    """

    id: str
    kind: str
    fields: dict[str, Any]
    expect: Callable[[int], dict[str, float]]
    out_shape: tuple[int, ...]

    def op(self, **changes: Any) -> roofline.ops.Op:
        return REGISTRY[self.kind](kind=self.kind, name=self.id, **{**self.fields, **changes})


def _pointwise(shape: tuple[int, ...], flops_per_elem: float, params: float = 0.0):
    n = math.prod(shape)
    return lambda B: {
        "weight": params,
        "act_in": B * n,
        "act_out": B * n,
        "flops_vector": flops_per_elem * B * n,
    }


def _move(shape: tuple[int, ...]):
    n = math.prod(shape)
    return lambda B: {"act_in": B * n, "act_out": B * n}


# Conv: out = floor((in + 2p - d(k-1) - 1)/s) + 1 per dim (torch.nn.Conv2d docs); params =
# K*(C/g)*R (+K bias); MACs = B*K*P*(C/g)*R, FLOPs 2/MAC; in = C*I, out = K*P per sample.
CONV = [
    # torchvision resnet50 conv1: 224 -> floor((224+6-6-1)/2)+1 = 112; weight 64x3x7x7 = 9408
    Case(
        "conv2d_resnet_stem",
        "conv",
        dict(
            in_channels=3,
            out_channels=64,
            kernel_size=(7, 7),
            input_size=(224, 224),
            stride=2,
            padding=3,
        ),
        lambda B: {
            "weight": 64 * 3 * 7 * 7,
            "act_in": B * 3 * 224 * 224,
            "act_out": B * 64 * 112 * 112,
            "flops_matrix": 2 * B * 64 * 112 * 112 * 3 * 49,
        },
        (64, 112, 112),
    ),
    # ResNeXt-50 32x4d layer1 grouped 3x3: C/g = 128/32 = 4 channels per group; 56 -> 56
    Case(
        "conv2d_grouped",
        "conv",
        dict(
            in_channels=128,
            out_channels=128,
            kernel_size=(3, 3),
            input_size=(56, 56),
            padding=1,
            groups=32,
        ),
        lambda B: {
            "weight": 128 * 4 * 9,
            "act_in": B * 128 * 56 * 56,
            "act_out": B * 128 * 56 * 56,
            "flops_matrix": 2 * B * 128 * 56 * 56 * 4 * 9,
        },
        (128, 56, 56),
    ),
    # MobileNetV2 first depthwise 3x3: C/g = 1, no channel reduction -> vector engine (paper
    # Section 4); torch's counter still counts its MACs, hence flops_mac
    Case(
        "conv2d_depthwise",
        "conv",
        dict(
            in_channels=32,
            out_channels=32,
            kernel_size=(3, 3),
            input_size=(112, 112),
            padding=1,
            groups=32,
        ),
        lambda B: {
            "weight": 32 * 9,
            "act_in": B * 32 * 112 * 112,
            "act_out": B * 32 * 112 * 112,
            "flops_vector": 2 * B * 32 * 112 * 112 * 9,
            "flops_mac": 2 * B * 32 * 112 * 112 * 9,
        },
        (32, 112, 112),
    ),
    # depthwise with channel multiplier 2 (in = groups = 32, out = 64): still C/g = 1
    Case(
        "conv2d_depthwise_multiplier",
        "conv",
        dict(
            in_channels=32,
            out_channels=64,
            kernel_size=(3, 3),
            input_size=(28, 28),
            stride=2,
            padding=1,
            groups=32,
        ),
        lambda B: {
            "weight": 64 * 1 * 9,
            "act_in": B * 32 * 28 * 28,
            "act_out": B * 64 * 14 * 14,
            "flops_vector": 2 * B * 64 * 14 * 14 * 9,
            "flops_mac": 2 * B * 64 * 14 * 14 * 9,
        },
        (64, 14, 14),
    ),
    # dilation 2, stride 2, pad 2, bias: H = floor((17+4-2*2-1)/2)+1 = 9, W = floor((15+4-4-1)/2)
    # +1 = 8; params 32*16*9 + 32 bias
    Case(
        "conv2d_dilated_bias",
        "conv",
        dict(
            in_channels=16,
            out_channels=32,
            kernel_size=(3, 3),
            input_size=(17, 15),
            stride=2,
            padding=2,
            dilation=2,
            bias=True,
        ),
        lambda B: {
            "weight": 32 * 16 * 9 + 32,
            "act_in": B * 16 * 17 * 15,
            "act_out": B * 32 * 9 * 8,
            "flops_matrix": 2 * B * 32 * 9 * 8 * 16 * 9,
        },
        (32, 9, 8),
    ),
    # Inception-style 1x7 with padding (0, 3): 17x17 -> 17x17
    Case(
        "conv2d_1x7",
        "conv",
        dict(
            in_channels=128,
            out_channels=192,
            kernel_size=(1, 7),
            input_size=(17, 17),
            padding=(0, 3),
        ),
        lambda B: {
            "weight": 192 * 128 * 7,
            "act_in": B * 128 * 289,
            "act_out": B * 192 * 289,
            "flops_matrix": 2 * B * 192 * 289 * 128 * 7,
        },
        (192, 17, 17),
    ),
    # nn.Conv1d(40, 80, 5, padding=2): L = 100 + 4 - 4 - 1 + 1 = 100; params 80*40*5 + 80
    Case(
        "conv1d",
        "conv",
        dict(
            in_channels=40,
            out_channels=80,
            kernel_size=(5,),
            input_size=(100,),
            padding=2,
            bias=True,
        ),
        lambda B: {
            "weight": 80 * 40 * 5 + 80,
            "act_in": B * 40 * 100,
            "act_out": B * 80 * 100,
            "flops_matrix": 2 * B * 80 * 100 * 40 * 5,
        },
        (80, 100),
    ),
    # torchvision r3d_18 stem: Conv3d(3, 64, (3,7,7), (1,2,2), (1,3,3)) on 16x112x112:
    # T = 16+2-2-1+1 = 16, H = floor((112+6-6-1)/2)+1 = 56; weight 64x3x3x7x7 = 28224
    Case(
        "conv3d_r3d_stem",
        "conv",
        dict(
            in_channels=3,
            out_channels=64,
            kernel_size=(3, 7, 7),
            input_size=(16, 112, 112),
            stride=(1, 2, 2),
            padding=(1, 3, 3),
        ),
        lambda B: {
            "weight": 64 * 3 * 147,
            "act_in": B * 3 * 16 * 112 * 112,
            "act_out": B * 64 * 16 * 56 * 56,
            "flops_matrix": 2 * B * 64 * 16 * 56 * 56 * 3 * 147,
        },
        (64, 16, 56, 56),
    ),
    # Transposed conv: out = (in-1)*s - 2p + d(k-1) + output_padding + 1 (torch.nn.ConvTranspose2d
    # docs); weight (C, K/g, *k); every input element scattered through the kernel: MACs =
    # B*I*C*(K/g)*R (torch's FLOP counter, conv_flop_count with transposed=True).
    # DCGAN generator: ConvTranspose2d(512, 256, 4, 2, 1) on 4x4: (4-1)*2 - 2 + 3 + 1 = 8
    Case(
        "conv_transpose2d_dcgan",
        "conv_transpose",
        dict(
            in_channels=512,
            out_channels=256,
            kernel_size=(4, 4),
            input_size=(4, 4),
            stride=2,
            padding=1,
        ),
        lambda B: {
            "weight": 512 * 256 * 16,
            "act_in": B * 512 * 16,
            "act_out": B * 256 * 64,
            "flops_matrix": 2 * B * 16 * 512 * 256 * 16,
        },
        (256, 8, 8),
    ),
    # ConvTranspose1d(6, 4, 3, stride 2, padding 1, output_padding 1, groups 2, bias) on L = 20:
    # 19*2 - 2 + 2 + 1 + 1 = 40; params 6*(4/2)*3 + 4; MACs per sample 20*6*2*3
    Case(
        "conv_transpose1d_grouped",
        "conv_transpose",
        dict(
            in_channels=6,
            out_channels=4,
            kernel_size=(3,),
            input_size=(20,),
            stride=2,
            padding=1,
            output_padding=1,
            groups=2,
            bias=True,
        ),
        lambda B: {
            "weight": 6 * 2 * 3 + 4,
            "act_in": B * 6 * 20,
            "act_out": B * 4 * 40,
            "flops_matrix": 2 * B * 20 * 6 * 2 * 3,
        },
        (4, 40),
    ),
    # depthwise ConvTranspose2d(8, 8, 3, stride 2, groups 8) on 7x7: 6*2 + 2 + 1 = 15; one input
    # channel per group, nothing reduced: the vector engine, counted in flops_mac as torch does
    Case(
        "conv_transpose2d_depthwise",
        "conv_transpose",
        dict(
            in_channels=8,
            out_channels=8,
            kernel_size=(3, 3),
            input_size=(7, 7),
            stride=2,
            groups=8,
        ),
        lambda B: {
            "weight": 8 * 9,
            "act_in": B * 8 * 49,
            "act_out": B * 8 * 225,
            "flops_vector": 2 * B * 49 * 8 * 9,
            "flops_mac": 2 * B * 49 * 8 * 9,
        },
        (8, 15, 15),
    ),
]

# SharedConv: one weight set, applied per level; FLOPs and activations summed over levels.
# torchvision RPNHead.conv on FPN levels of an 800x800 image: P = 200^2 + 100^2 + 50^2 + 25^2 +
# 13^2 = 53,294 positions; params 256*256*9 + 256 = 590,080 (counted once).
_RPN_P = 200**2 + 100**2 + 50**2 + 25**2 + 13**2
SHARED = [
    Case(
        "shared_conv_rpn",
        "shared_conv",
        dict(
            in_channels=256,
            out_channels=256,
            kernel_size=(3, 3),
            padding=1,
            bias=True,
            input_sizes=((200, 200), (100, 100), (50, 50), (25, 25), (13, 13)),
        ),
        lambda B: {
            "weight": 590_080,
            "act_in": B * 256 * _RPN_P,
            "act_out": B * 256 * _RPN_P,
            "flops_matrix": 2 * B * 256 * _RPN_P * 256 * 9,
        },
        (256, _RPN_P),
    ),
    # RPNHead.cls_logits: 1x1, 3 anchors per position: params 3*256 + 3
    Case(
        "shared_conv_cls_logits",
        "shared_conv",
        dict(
            in_channels=256,
            out_channels=3,
            kernel_size=(1, 1),
            bias=True,
            input_sizes=((50, 50), (25, 25)),
        ),
        lambda B: {
            "weight": 771,
            "act_in": B * 256 * 3125,
            "act_out": B * 3 * 3125,
            "flops_matrix": 2 * B * 3 * 3125 * 256,
        },
        (3, 3125),
    ),
]

# Linear: params in*out (+out); FLOPs 2*B*rows*in*out. MatMul: 2*B*count*m*n*k.
LINEAR = [
    # torchvision resnet50 fc: 2048*1000 + 1000 = 2,049,000 params
    Case(
        "linear_resnet_fc",
        "linear",
        dict(in_features=2048, out_features=1000),
        lambda B: {
            "weight": 2_049_000,
            "act_in": B * 2048,
            "act_out": B * 1000,
            "flops_matrix": 2 * B * 2048 * 1000,
        },
        (1000,),
    ),
    Case(
        "linear_rows_nobias",
        "linear",
        dict(in_features=768, out_features=3072, bias=False, rows=128),
        lambda B: {
            "weight": 768 * 3072,
            "act_in": B * 128 * 768,
            "act_out": B * 128 * 3072,
            "flops_matrix": 2 * B * 128 * 768 * 3072,
        },
        (128, 3072),
    ),
    # BERT-base attention scores per layer: 12 heads of (128 x 64) @ (64 x 128)
    Case(
        "matmul_scores",
        "matmul",
        dict(m=128, n=128, k=64, count=12),
        lambda B: {
            "act_in": B * 12 * (128 * 64 + 64 * 128),
            "act_out": B * 12 * 128 * 128,
            "flops_matrix": 2 * B * 12 * 128 * 128 * 64,
        },
        (12, 128, 128),
    ),
]

# Attention: QK^T and PV are each h*q*s*d MACs per sample -> 4*B*h*q*s*d FLOPs; softmax 5 + scale
# 1 vector FLOPs per score. Without cache: reads Q (q*h*d) and K, V (2*s*h_kv*d). With a cache:
# reads the whole cache 2*s*h_kv*d and appends the q new tokens' 2*q*h_kv*d; holds 2*s*h_kv*d.
ATTENTION = [
    Case(
        "attention_bert",
        "attention",
        dict(num_heads=12, head_dim=64, q_len=128, kv_len=128),
        lambda B: {
            "act_in": B * (128 * 768 + 2 * 128 * 768),
            "act_out": B * 128 * 768,
            "flops_matrix": 4 * B * 12 * 128 * 128 * 64,
            "flops_vector": 6 * B * 12 * 128 * 128,
        },
        (128, 768),
    ),
    # causal prefill with GQA (32 query heads, 8 KV heads): the mask does not reduce dense work
    Case(
        "attention_gqa_causal",
        "attention",
        dict(num_heads=32, num_kv_heads=8, head_dim=128, q_len=512, kv_len=512, causal=True),
        lambda B: {
            "act_in": B * (512 * 4096 + 2 * 512 * 1024),
            "act_out": B * 512 * 4096,
            "flops_matrix": 4 * B * 32 * 512 * 512 * 128,
            "flops_vector": 6 * B * 32 * 512 * 512,
        },
        (512, 4096),
    ),
    # decode one token against a 2048-token cache, GQA 32/8 heads, d = 128
    Case(
        "attention_decode_kv_cache",
        "attention",
        dict(num_heads=32, num_kv_heads=8, head_dim=128, q_len=1, kv_len=2048, kv_cache=True),
        lambda B: {
            "act_in": B * (4096 + 2 * 1024),
            "act_out": B * 4096,
            "kv": B * (2 * 2048 * 1024 + 2 * 1 * 1024),
            "kv_footprint": B * 2 * 2048 * 1024,
            "flops_matrix": 4 * B * 32 * 1 * 2048 * 128,
            "flops_vector": 6 * B * 32 * 2048,
        },
        (1, 4096),
    ),
]

# RoIAlign: per output element s^2 bilinear samples of 8 FLOPs + 1 accumulate. Proposal: decode
# 16 per candidate + candidates*log2(n) top-k compares + n(n-1)/2 IoUs of 12, n = min(pre, cand).
_FPN_ELEMS = 256 * (200**2 + 100**2 + 50**2 + 25**2)
DETECTION = [
    Case(
        "roi_align_box_head",
        "roi_align",
        dict(num_rois=512, channels=256, output_size=7, sampling_ratio=2, feature_elems=_FPN_ELEMS),
        lambda B: {
            "act_in": B * (_FPN_ELEMS + 4 * 512),
            "act_out": B * 512 * 256 * 49,
            "flops_vector": B * 512 * 256 * 49 * (2 * 2 * 8 + 1),
        },
        (512, 256, 7, 7),
    ),
    # torchvision test-time RPN (pre_nms_top_n = post_nms_top_n = 1000) over 3 anchors at each
    # of the 53,294 FPN positions: 159,882 candidates
    Case(
        "proposal_rpn",
        "proposal",
        dict(candidates=3 * _RPN_P, pre_nms_top_n=1000, post_nms_top_n=1000),
        lambda B: {
            "act_in": B * 159_882 * 5,
            "act_out": B * 1000 * 5,
            "flops_vector": B * (159_882 * 16 + 159_882 * math.log2(1000) + 1000 * 999 / 2 * 12),
        },
        (1000, 5),
    ),
    # fewer candidates than pre_nms_top_n: NMS runs over all 100; 91 scores each
    Case(
        "proposal_few",
        "proposal",
        dict(candidates=100, scores_per_candidate=91, pre_nms_top_n=1000, post_nms_top_n=50),
        lambda B: {
            "act_in": B * 100 * (4 + 91),
            "act_out": B * 50 * 5,
            "flops_vector": B * (100 * 16 + 100 * math.log2(100) + 100 * 99 / 2 * 12),
        },
        (50, 5),
    ),
]

# EmbeddingBag: footprint = table; traffic = B*pf rows of D (no dense weight stream); indices
# B*pf int64; out B*D; 1 FLOP per fetched element (sum/mean/max), 2 for weighted_sum, which
# also reads B*pf per-sample weights. Embedding: B*lookups rows, out lookups*D, no FLOPs.
EMBEDDING = [
    Case(
        "embedding_bag_sum",
        "embedding_bag",
        dict(num_embeddings=1_000_000, embedding_dim=64, pooling_factor=20),
        lambda B: {
            "weight": 64_000_000,
            "weight_read": 0,
            "gather_rows": B * 20,
            "gather_row_elems": 64,
            "index": B * 20,
            "act_out": B * 64,
            "flops_vector": B * 20 * 64,
        },
        (64,),
    ),
    Case(
        "embedding_bag_max",
        "embedding_bag",
        dict(num_embeddings=500, embedding_dim=32, pooling_factor=3, mode="max"),
        lambda B: {
            "weight": 16_000,
            "weight_read": 0,
            "gather_rows": B * 3,
            "gather_row_elems": 32,
            "index": B * 3,
            "act_out": B * 32,
            "flops_vector": B * 3 * 32,
        },
        (32,),
    ),
    Case(
        "embedding_bag_weighted",
        "embedding_bag",
        dict(num_embeddings=1000, embedding_dim=16, pooling_factor=2.5, mode="weighted_sum"),
        lambda B: {
            "weight": 16_000,
            "weight_read": 0,
            "gather_rows": B * 2.5,
            "gather_row_elems": 16,
            "index": B * 2.5,
            "act_in": B * 2.5,
            "act_out": B * 16,
            "flops_vector": 2 * B * 2.5 * 16,
        },
        (16,),
    ),
    # BERT-base word embeddings: 30522 x 768 = 23,440,896 params
    Case(
        "embedding_bert_words",
        "embedding",
        dict(num_embeddings=30522, embedding_dim=768, lookups=128),
        lambda B: {
            "weight": 23_440_896,
            "weight_read": 0,
            "gather_rows": B * 128,
            "gather_row_elems": 768,
            "index": B * 128,
            "act_out": B * 128 * 768,
        },
        (128, 768),
    ),
]

# LSTM / GRU: PyTorch holds per layer and direction weight_ih (G*h x in), weight_hh (G*h x h) and
# two biases of G*h: LSTM 4*(in*h + h*h) + 8h, GRU 3*(in*h + h*h) + 6h; layers > 0 take h*D
# inputs. Every weight-matrix element is one MAC per sequence per step: matrix FLOPs = 2*N*T x
# (params - biases). Cell work: 36 (LSTM) / 26 (GRU) vector FLOPs per hidden unit and step.
# Weights read per run: weight_ih and the biases once, weight_hh once per step (T times): each
# step's recurrent GEMM needs all of W_hh after the previous step (reuse 2 x batch, Park et al.).
_LSTM_L0 = 4 * (32 * 64 + 64 * 64) + 8 * 64  # 25,088
_LSTM_L1 = 4 * (128 * 64 + 64 * 64) + 8 * 64  # 49,664 (input 2*64 from both directions)
_LSTM_P = 2 * (_LSTM_L0 + _LSTM_L1)  # 149,504
_LSTM_MATS = _LSTM_P - 2 * 2 * 8 * 64
_GRU_P = 3 * (256 * 512 + 512 * 512) + 6 * 512
RECURRENT = [
    # GNMT-style layer: LSTM(1024, 1024), 50 steps: params 4*(2*1024^2) + 8*1024 = 8,396,800
    Case(
        "lstm_1024",
        "lstm",
        dict(input_size=1024, hidden_size=1024, seq_len=50),
        lambda B: {
            "weight": 8_396_800,
            "act_in": B * 50 * 1024,
            "act_out": B * 50 * 1024,
            "weight_read": 4 * 1024 * 1024 + 8 * 1024 + 50 * 4 * 1024 * 1024,
            "flops_matrix": 2 * B * 50 * (8_396_800 - 8 * 1024),
            "flops_vector": 36 * B * 50 * 1024,
        },
        (50, 1024),
    ),
    # 2-layer bidirectional LSTM(32, 64) over 5 steps; the layer-0 output (5 x 128) is written and
    # read back once between the layers
    Case(
        "lstm_bidir_2layer",
        "lstm",
        dict(input_size=32, hidden_size=64, seq_len=5, num_layers=2, bidirectional=True),
        lambda B: {
            "weight": _LSTM_P,
            "act_in": B * (5 * 32 + 5 * 128),
            "weight_read": 2 * (4 * 64 * 32 + 8 * 64 + 5 * 4 * 64 * 64)
            + 2 * (4 * 64 * 128 + 8 * 64 + 5 * 4 * 64 * 64),
            "act_out": B * (5 * 128 + 5 * 128),
            "flops_matrix": 2 * B * 5 * _LSTM_MATS,
            "flops_vector": 36 * B * 5 * 64 * 2 * 2,
        },
        (5, 128),
    ),
    # GRU decoder step over 4 beams (N = 4B sequences), 20 steps, state h read and written
    Case(
        "gru_beams_state",
        "gru",
        dict(input_size=256, hidden_size=512, seq_len=20, sequences=4, carry_state=True),
        lambda B: {
            "weight": _GRU_P,
            "act_in": 4 * B * (20 * 256 + 512),
            "weight_read": 3 * 512 * 256 + 6 * 512 + 20 * 3 * 512 * 512,
            "act_out": 4 * B * (20 * 512 + 512),
            "flops_matrix": 2 * 4 * B * 20 * (_GRU_P - 6 * 512),
            "flops_vector": 26 * 4 * B * 20 * 512,
        },
        (4, 20, 512),
    ),
    # LSTM state carried: h and c, 2*h each way
    Case(
        "lstm_state_nobias",
        "lstm",
        dict(input_size=100, hidden_size=200, carry_state=True, bias=False),
        lambda B: {
            "weight": 4 * (100 * 200 + 200 * 200),
            "act_in": B * (100 + 2 * 200),
            "weight_read": 4 * (100 * 200 + 200 * 200),
            "act_out": B * (200 + 2 * 200),
            "flops_matrix": 2 * B * 4 * (100 * 200 + 200 * 200),
            "flops_vector": 36 * B * 200,
        },
        (1, 200),
    ),
]

# Pooling: out = floor((in + 2p - k)/s) + 1 (ceil with ceil_mode, dropping a last window that
# would start in the right padding: torch.nn.MaxPool2d docs); FLOPs = C*P*R (one compare/add per
# window element); adaptive: window ceil(in/out) per dim; global = adaptive to 1 (C*I FLOPs).
POOL = [
    # torchvision resnet maxpool: 112 -> floor((112+2-3)/2)+1 = 56
    Case(
        "maxpool_resnet",
        "pool",
        dict(channels=64, input_size=(112, 112), kernel_size=3, stride=2, padding=1),
        lambda B: {
            "act_in": B * 64 * 112 * 112,
            "act_out": B * 64 * 56 * 56,
            "flops_vector": B * 64 * 56 * 56 * 9,
        },
        (64, 56, 56),
    ),
    # SqueezeNet 1.0 MaxPool2d(3, 2, ceil_mode=True) on 109: ceil(106/2)+1 = 54 (floor: 54 too)
    # and on 54: ceil(51/2)+1 = 27 (floor would give 26)
    Case(
        "maxpool_ceil_mode",
        "pool",
        dict(channels=96, input_size=(109, 54), kernel_size=3, stride=2, ceil_mode=True),
        lambda B: {
            "act_in": B * 96 * 109 * 54,
            "act_out": B * 96 * 54 * 27,
            "flops_vector": B * 96 * 54 * 27 * 9,
        },
        (96, 54, 27),
    ),
    # ceil_mode window rule: in 4, k 2, s 3, p 1: ceil(4/3)+1 = 3, but window 3 would start at
    # 6 >= 4 + 1 (inside the right padding), so 2
    Case(
        "maxpool1d_ceil_drop",
        "pool",
        dict(channels=2, input_size=(4,), kernel_size=2, stride=3, padding=1, ceil_mode=True),
        lambda B: {"act_in": B * 2 * 4, "act_out": B * 2 * 2, "flops_vector": B * 2 * 2 * 2},
        (2, 2),
    ),
    # stride defaults to the kernel: 100 / 4 = 25
    Case(
        "avgpool1d_default_stride",
        "pool",
        dict(mode="avg", channels=8, input_size=(100,), kernel_size=4),
        lambda B: {"act_in": B * 800, "act_out": B * 8 * 25, "flops_vector": B * 8 * 25 * 4},
        (8, 25),
    ),
    # video ResNet-style 3D pool (1,3,3)/(1,2,2)/(0,1,1): 8x56x56 -> 8x28x28
    Case(
        "avgpool3d",
        "pool",
        dict(
            mode="avg",
            channels=64,
            input_size=(8, 56, 56),
            kernel_size=(1, 3, 3),
            stride=(1, 2, 2),
            padding=(0, 1, 1),
        ),
        lambda B: {
            "act_in": B * 64 * 8 * 56 * 56,
            "act_out": B * 64 * 8 * 28 * 28,
            "flops_vector": B * 64 * 8 * 28 * 28 * 9,
        },
        (64, 8, 28, 28),
    ),
    Case(
        "global_avgpool",
        "adaptive_pool",
        dict(channels=2048, input_size=(7, 7)),
        lambda B: {"act_in": B * 2048 * 49, "act_out": B * 2048, "flops_vector": B * 2048 * 49},
        (2048, 1, 1),
    ),
    # AlexNet AdaptiveAvgPool2d((6, 6)) on 13x13: window ceil(13/6) = 3 per dim
    Case(
        "adaptive_avgpool_alexnet",
        "adaptive_pool",
        dict(channels=256, input_size=(13, 13), output_size=(6, 6)),
        lambda B: {
            "act_in": B * 256 * 169,
            "act_out": B * 256 * 36,
            "flops_vector": B * 256 * 36 * 9,
        },
        (256, 6, 6),
    ),
    Case(
        "global_maxpool3d",
        "adaptive_pool",
        dict(mode="max", channels=512, input_size=(2, 7, 7)),
        lambda B: {"act_in": B * 512 * 98, "act_out": B * 512, "flops_vector": B * 512 * 98},
        (512, 1, 1, 1),
    ),
]

# Pointwise ops: vector FLOPs per element as the vector module names them (BN 2: scale+shift;
# LN 7; RMS 4; softmax 5; activations below); BN params 2C (affine), LN 2D, RMS D.
ACTIVATION_FLOPS = {
    "relu": 1,
    "relu6": 2,
    "sigmoid": 4,
    "tanh": 4,
    "silu": 5,
    "hardswish": 5,
    "gelu": 8,
    # x/6 + 1/2 clamped to [0, 1]: scale, shift, two clamps (torch.nn.Hardsigmoid)
    "hardsigmoid": 4,
    # compare, multiply the negative part (torch.nn.LeakyReLU)
    "leaky_relu": 2,
    # compare, exp, subtract 1, multiply by alpha (torch.nn.ELU)
    "elu": 4,
    # log(1 + exp(x)): exp, add, log (torch.nn.Softplus)
    "softplus": 3,
}
_S = (64, 56, 56)
_N = 64 * 56 * 56
VECTOR = [
    Case(
        "batchnorm",
        "batchnorm",
        dict(shape=(64, 112, 112)),
        _pointwise((64, 112, 112), 2, params=2 * 64),
        (64, 112, 112),
    ),
    # BERT LayerNorm(768): weight + bias = 1536
    Case(
        "layernorm",
        "layernorm",
        dict(shape=(128, 768)),
        _pointwise((128, 768), 7, 1536),
        (128, 768),
    ),
    # Llama RMSNorm(4096): weight only
    Case(
        "rmsnorm",
        "layernorm",
        dict(shape=(16, 4096), rms=True),
        _pointwise((16, 4096), 4, 4096),
        (16, 4096),
    ),
    *(
        Case(f"activation_{f}", "activation", dict(shape=_S, function=f), _pointwise(_S, c), _S)
        for f, c in ACTIVATION_FLOPS.items()
    ),
    # residual add: 2 inputs read, 1 add per element
    Case(
        "elementwise_add",
        "elementwise",
        dict(shape=_S),
        lambda B: {"act_in": 2 * B * _N, "act_out": B * _N, "flops_vector": B * _N},
        _S,
    ),
    Case(
        "elementwise_mul3",
        "elementwise",
        dict(shape=_S, op="mul", num_inputs=3),
        lambda B: {"act_in": 3 * B * _N, "act_out": B * _N, "flops_vector": 2 * B * _N},
        _S,
    ),
    Case(
        "softmax",
        "softmax",
        dict(shape=(12, 128, 128)),
        _pointwise((12, 128, 128), 5),
        (12, 128, 128),
    ),
]

# Tensor manipulation: elements read and written, no FLOPs (bilinear upsampling 7 per output).
TENSOR = [
    Case(
        "channel_shuffle",
        "channel_shuffle",
        dict(shape=(232, 28, 28), groups=2),
        _move((232, 28, 28)),
        (232, 28, 28),
    ),
    Case("transpose", "transpose", dict(shape=(128, 12, 64)), _move((128, 12, 64)), (128, 12, 64)),
    Case(
        "split", "split", dict(shape=(232, 28, 28), sections=2), _move((232, 28, 28)), (232, 28, 28)
    ),
    # channel concat: 64 + 32 + 96 = 192 channels
    Case(
        "concat_channels",
        "concat",
        dict(input_shapes=((64, 28, 28), (32, 28, 28), (96, 28, 28))),
        _move((192, 28, 28)),
        (192, 28, 28),
    ),
    Case(
        "concat_last_dim",
        "concat",
        dict(input_shapes=((4, 5), (4, 7)), dim=-1),
        _move((4, 12)),
        (4, 12),
    ),
    Case(
        "interpolate_nearest",
        "interpolate",
        dict(shape=(256, 25, 25)),
        lambda B: {"act_in": B * 256 * 625, "act_out": B * 256 * 2500},
        (256, 50, 50),
    ),
    Case(
        "interpolate_bilinear",
        "interpolate",
        dict(shape=(19, 64, 64), scale_factor=4, mode="bilinear"),
        lambda B: {
            "act_in": B * 19 * 64 * 64,
            "act_out": B * 19 * 256 * 256,
            "flops_vector": 7 * B * 19 * 256 * 256,
        },
        (19, 256, 256),
    ),
]

# DLRM dot interaction: Z = X X^T (F x d @ d x F) per sample, 2*B*F^2*d FLOPs; out = d + pairs,
# pairs = F(F-1)/2 (F(F+1)/2 with self interaction). MLPerf DLRM: F = 27, d = 128 -> 479.
INTERACTION = [
    Case(
        "interaction_dlrm_mlperf",
        "interaction",
        dict(num_features=27, dim=128),
        lambda B: {
            "act_in": B * 27 * 128,
            "act_out": B * 479,
            "flops_matrix": 2 * B * 27 * 27 * 128,
        },
        (479,),
    ),
    Case(
        "interaction_self",
        "interaction",
        dict(num_features=4, dim=16, self_interaction=True),
        lambda B: {"act_in": B * 64, "act_out": B * (16 + 10), "flops_matrix": 2 * B * 16 * 16},
        (26,),
    ),
    Case(
        "interaction_cat",
        "interaction",
        dict(num_features=27, dim=16, mode="cat"),
        _move((27 * 16,)),
        (432,),
    ),
]


def _moe(d: int, f: int, e: int, k: int, t: int, fs: int = 0, gate: bool = False):
    """Router (E x d), E SwiGLU experts (3 d f each), shared SwiGLU of width fs (+ its sigmoid
    gate d x 1); T = B t tokens touch n = E (1 - (1 - k/E)^T) experts under uniform routing."""

    def expect(B: int) -> dict[str, float]:
        T = B * t
        n = e * (1 - (1 - k / e) ** T)
        always = e * d + 3 * d * fs + (d if gate else 0)
        # router 2 T d E; k experts per token, 3 GEMMs of d x f each; shared 3 d fs; gate d
        matrix = 2 * T * (d * e + k * 3 * d * f + 3 * d * fs + (d if gate else 0))
        # softmax 5 per score; SiLU 5 + mul 1 per expert hidden element; scale+add 2 per output
        vector = T * e * 5 + T * k * (6 * f + 2 * d)
        # intermediates written and read once: scores E, per pair 2f + f + d, shared 2fs + fs + d
        inner = T * e + T * k * (3 * f + d)
        if fs:
            vector += T * fs * 6 + T * d
            inner += T * (3 * fs + d)
        if gate:
            vector += T * (4 + d)  # sigmoid 4 per token, scale 1 per element
        return {
            "weight": e * 3 * d * f + always,
            "weight_read": n * 3 * d * f + always,
            "act_in": T * d + inner,
            "act_out": T * d + inner,
            "flops_matrix": matrix,
            "flops_vector": vector,
        }

    return expect


LLM = [
    # Mixtral-like top-2 of 8, 4 tokens per sample
    Case(
        "moe_top2",
        "moe",
        dict(hidden_size=64, intermediate_size=128, num_experts=8, top_k=2, tokens=4),
        _moe(64, 128, 8, 2, 4),
        (4, 64),
    ),
    # Qwen-MoE-like: shared expert of width 48 with its sigmoid gate, one token
    Case(
        "moe_shared_gate",
        "moe",
        dict(
            hidden_size=32,
            intermediate_size=16,
            num_experts=6,
            top_k=3,
            shared_intermediate_size=48,
            shared_expert_gate=True,
        ),
        _moe(32, 16, 6, 3, 1, fs=48, gate=True),
        (32,),
    ),
    # MLA decode (absorbed): h=4, nope 16, rope 8, v 16, latent 32, one token against 100:
    # kv_b_proj 32 x 4 (16 + 16); GEMMs q absorb 4 x (1 x 16 x 32), scores 4 x (1 x 100 x 40),
    # context 4 x (1 x 100 x 32), out 4 x (1 x 32 x 16); cache 40 per token
    Case(
        "mla_decode",
        "latent_attention",
        dict(
            num_heads=4,
            qk_nope_head_dim=16,
            qk_rope_head_dim=8,
            v_head_dim=16,
            kv_lora_rank=32,
            q_len=1,
            kv_len=100,
            absorb=True,
        ),
        lambda B: {
            "weight": 32 * 4 * 32,
            "act_in": B * (4 * 24 + 32 + 8),
            "act_out": B * 4 * 16,
            "kv": B * 40 * 101,
            "kv_footprint": B * 40 * 100,
            "flops_matrix": 2 * B * 4 * (16 * 32 + 100 * 40 + 100 * 32 + 32 * 16),
            "flops_vector": B * 4 * 100 * 6,
        },
        (1, 64),
    ),
    # MLA prefill (latents expanded): h=2, nope 8, rope 4, v 8, latent 16, 10 tokens:
    # kv_b_proj 16 x 2 (8 + 8) over 10 tokens; scores 2 x (10 x 10 x 12), context 2 x (10 x 10 x 8)
    Case(
        "mla_prefill",
        "latent_attention",
        dict(
            num_heads=2,
            qk_nope_head_dim=8,
            qk_rope_head_dim=4,
            v_head_dim=8,
            kv_lora_rank=16,
            q_len=10,
            kv_len=10,
        ),
        lambda B: {
            "weight": 16 * 2 * 16,
            "act_in": B * 10 * (2 * 12 + 16 + 4) + B * 10 * 2 * 16,
            "act_out": B * 10 * 2 * 8 + B * 10 * 2 * 16,
            "kv": B * 20 * 20,
            "kv_footprint": B * 20 * 10,
            "flops_matrix": 2 * B * (10 * 32 * 16 + 2 * 10 * 10 * 12 + 2 * 10 * 10 * 8),
            "flops_vector": B * 2 * 10 * 10 * 6,
        },
        (10, 16),
    ),
    # GPT-2's wte read through the tied lm_head: 16 rows of 768, no parameters of its own
    Case(
        "tied_embedding",
        "tied_embedding",
        dict(num_embeddings=50257, embedding_dim=768, lookups=16),
        lambda B: {
            "weight": 0,
            "weight_read": B * 16 * 768,
            "index": B * 16,
            "act_out": B * 16 * 768,
        },
        (16, 768),
    ),
]

# Ops added for imported models (roofline/ops/views.py, parameter.py, reduce.py, generic.py and
# the tensor/vector additions). Views move nothing: every count 0 (a view aliases its input).
_ZERO = lambda B: {}  # noqa: E731
IMPORTED = [
    # VGG's torch.flatten(x, 1) of 512x7x7 = 25088 features
    Case("reshape_flatten_vgg", "reshape", dict(shape=(512, 7, 7), target=(-1,)), _ZERO, (25088,)),
    Case("flatten_tail", "flatten", dict(shape=(2, 3, 4), start_dim=1), _ZERO, (2, 12)),
    # ConvNeXt's permute(0, 3, 1, 2) of (H, W, C) back to (C, H, W), per sample (2, 0, 1)
    Case("permute_nhwc", "permute", dict(shape=(56, 56, 96), dims=(2, 0, 1)), _ZERO, (96, 56, 56)),
    # ShuffleNet v2's x.chunk(2, dim=1): the second half of 232 channels
    Case(
        "slice_chunk",
        "slice",
        dict(shape=(232, 28, 28), dim=0, start=116),
        _ZERO,
        (116, 28, 28),
    ),
    Case("slice_step", "slice", dict(shape=(10, 4), dim=0, start=1, step=3), _ZERO, (3, 4)),
    # ViT's class token (1, 768) expanded; a broadcast view
    Case("expand_token", "expand", dict(shape=(1, 768), target=(4, -1)), _ZERO, (4, 768)),
    Case("view_strided", "view", dict(shape=(10,), target=(4, 3)), _ZERO, (4, 3)),
    # ViT-B/16's position embedding (1, 197, 768): params 151,296, read once per run
    Case(
        "parameter_pos_embedding",
        "parameter",
        dict(shape=(1, 197, 768)),
        lambda B: {"weight": 197 * 768},
        (1, 197, 768),
    ),
    # GoogLeNet's aux1.fc2 weight (1000 x 1024) never runs at inference: footprint, no traffic
    Case(
        "parameter_unused",
        "parameter",
        dict(shape=(1000, 1024), used=False),
        lambda B: {"weight": 1024000, "weight_read": 0},
        (1000, 1024),
    ),
    Case("constant_mask", "constant", dict(shape=(64, 49, 49)), _ZERO, (64, 49, 49)),
    Case("copy", "copy", dict(shape=(56, 56, 96)), _move((56, 56, 96)), (56, 56, 96)),
    # F.pad(x, (1, 1, 2, 2)): last dim 5 + 1 + 1 = 7, next 5 + 2 + 2 = 9
    Case(
        "pad",
        "pad",
        dict(shape=(3, 5, 5), padding=(1, 1, 2, 2)),
        lambda B: {"act_in": B * 75, "act_out": B * 3 * 9 * 7},
        (3, 9, 7),
    ),
    # Swin-T's bias table (169 x 3 heads) indexed by 49*49 = 2401 positions: 2401 x 3 read
    Case(
        "gather_bias_table",
        "gather",
        dict(shape=(169, 3), output_shape=(2401, 3), index_elements=2401),
        lambda B: {"act_in": B * 7203, "act_out": B * 7203, "index": B * 2401},
        (2401, 3),
    ),
    # x.mean((2, 3)) over 64x7x7: one add per input element
    Case(
        "reduce_mean",
        "reduce",
        dict(shape=(64, 7, 7), dims=(1, 2), op="mean"),
        lambda B: {"act_in": B * 3136, "act_out": B * 64, "flops_vector": B * 3136},
        (64,),
    ),
    # variance: subtract, square, add per input element (3)
    Case(
        "reduce_var_keepdim",
        "reduce",
        dict(shape=(8, 16), dims=(-1,), op="var", keepdim=True),
        lambda B: {"act_in": B * 128, "act_out": B * 8, "flops_vector": 3 * B * 128},
        (8, 1),
    ),
    Case(
        "generic_unmapped",
        "generic",
        dict(operation="aten.cumsum.default", input_shapes=((10, 20),), output_shape=(10, 20)),
        _move((10, 20)),
        (10, 20),
    ),
    # GroupNorm(8, 32): params 2C = 64; layer norm's 7 FLOPs per element
    Case(
        "groupnorm",
        "groupnorm",
        dict(shape=(32, 8, 8), num_groups=8),
        _pointwise((32, 8, 8), 7, params=64),
        (32, 8, 8),
    ),
    Case(
        "batchnorm_no_affine",
        "batchnorm",
        dict(shape=(16, 4, 4), affine=False),
        _pointwise((16, 4, 4), 2),
        (16, 4, 4),
    ),
    # LayerNorm((7, 7)) over the last two dims: weight + bias = 2 * 49
    Case(
        "layernorm_2d",
        "layernorm",
        dict(shape=(3, 7, 7), normalized_ndim=2),
        _pointwise((3, 7, 7), 7, params=98),
        (3, 7, 7),
    ),
    # squeeze-excitation gate: x (64, 56, 56) * s (64, 1, 1): reads N + 64, one multiply per output
    Case(
        "elementwise_broadcast_gate",
        "elementwise",
        dict(shape=_S, op="mul", input_shapes=(_S, (64, 1, 1))),
        lambda B: {"act_in": B * (_N + 64), "act_out": B * _N, "flops_vector": B * _N},
        _S,
    ),
    # x * 0.5: one tensor, one scalar operand -> 1 FLOP per element
    Case(
        "elementwise_scalar",
        "elementwise",
        dict(shape=_S, op="mul", num_inputs=1, scalars=1),
        lambda B: {"act_in": B * _N, "act_out": B * _N, "flops_vector": B * _N},
        _S,
    ),
    # exp(x): a unary function, 1 FLOP per element
    Case(
        "elementwise_exp",
        "elementwise",
        dict(shape=_S, op="exp", num_inputs=1),
        lambda B: {"act_in": B * _N, "act_out": B * _N, "flops_vector": B * _N},
        _S,
    ),
]

CASES = (
    CONV
    + SHARED
    + LINEAR
    + ATTENTION
    + DETECTION
    + EMBEDDING
    + RECURRENT
    + POOL
    + VECTOR
    + TENSOR
    + INTERACTION
    + LLM
    + IMPORTED
)


def expected_cost(case: Case, B: Any, dtype: str) -> dict[str, Any]:
    """OpCost fields implied by ``case.expect(B)`` with every tensor in ``dtype``."""
    keys = (
        "weight",
        "gather_rows",
        "gather_row_elems",
        "act_in",
        "act_out",
        "index",
        "kv",
        "kv_footprint",
        "flops_matrix",
        "flops_vector",
    )
    e = dict.fromkeys(keys, 0.0)
    e.update(case.expect(B))
    b = DTYPE_BYTES[dtype]
    return {
        "flops_matrix": e["flops_matrix"],
        "flops_vector": e["flops_vector"],
        "flops_mac": e.get("flops_mac", e["flops_matrix"]),
        "weight_elems": e["weight"],
        "weight_bytes": e["weight"] * b,
        "weight_read_bytes": e.get("weight_read", e["weight"]) * b,
        "gather_rows": e["gather_rows"],
        "gather_row_bytes": e["gather_row_elems"] * b,
        "act_in_elems": e["act_in"],
        "act_out_elems": e["act_out"],
        "act_in_bytes": e["act_in"] * b + e["index"] * INDEX_BYTES,
        "act_out_bytes": e["act_out"] * b,
        "kv_bytes": e["kv"] * b,
        "kv_footprint_bytes": e["kv_footprint"] * b,
    }


def _ids(cases: Any) -> list[str]:
    return [c.id for c in cases]


@pytest.mark.parametrize("dtype", sorted(DTYPE_BYTES))
@pytest.mark.parametrize("batch", BATCHES)
@pytest.mark.parametrize("case", CASES, ids=_ids(CASES))
def test_reference_counts(case: Case, batch: int, dtype: str) -> None:
    cost = derive_cost(case.op(), batch, dtype)
    for key, want in expected_cost(case, batch, dtype).items():
        assert float(getattr(cost, key)) == pytest.approx(want, rel=1e-12, abs=1e-9), key


@pytest.mark.parametrize("case", CASES, ids=_ids(CASES))
def test_out_shape_and_params(case: Case) -> None:
    op = case.op()
    assert tuple(op.out_shape) == case.out_shape
    assert op.params == pytest.approx(case.expect(1).get("weight", 0.0))


@pytest.mark.parametrize("case", CASES, ids=_ids(CASES))
def test_affine_in_batch_and_array_transparent(case: Case) -> None:
    """Counts at batches [1, 2, 5] lie on a line (ops that declare ``affine_in_batch``), and
    equal the scalar evaluations."""
    op = case.op()
    arr = derive_cost(op, np.array([1.0, 2.0, 5.0]), "fp16")
    for key in expected_cost(case, 1, "fp16"):
        v = np.broadcast_to(np.asarray(getattr(arr, key), dtype=float), (3,))
        if op.affine_in_batch:
            assert v[2] - v[0] == pytest.approx(4 * (v[1] - v[0]), rel=1e-12, abs=1e-9), key
        for j, b in enumerate((1, 2, 5)):
            scalar = float(getattr(derive_cost(op, b, "fp16"), key))
            assert v[j] == pytest.approx(scalar, rel=1e-12, abs=1e-9), key


def test_every_registered_kind_has_a_reference_case() -> None:
    missing = sorted(set(REGISTRY) - {c.kind for c in CASES})
    assert not missing, f"op kinds without a reference case in tests/test_ops.py: {missing}"
    assert len({c.id for c in CASES}) == len(CASES), "case ids must be unique"


@pytest.mark.parametrize("case", [CONV[0], EMBEDDING[0], RECURRENT[0]], ids=lambda c: c.id)
def test_repeat_and_shared_weights(case: Case) -> None:
    """``repeat = n`` is n copies; ``shared_weights`` keeps one footprint, n times the traffic."""
    one = derive_cost(case.op(), 3, "fp32")
    rep = derive_cost(case.op(repeat=4), 3, "fp32")
    shared = derive_cost(case.op(repeat=4, shared_weights=True), 3, "fp32")
    for key in ("flops_matrix", "flops_vector", "act_in_bytes", "weight_read_bytes", "gather_rows"):
        assert float(getattr(rep, key)) == pytest.approx(4 * float(getattr(one, key)))
        assert float(getattr(shared, key)) == pytest.approx(4 * float(getattr(one, key)))
    assert rep.weight_bytes == pytest.approx(4 * one.weight_bytes)
    assert shared.weight_bytes == pytest.approx(one.weight_bytes)
    assert rep.gather_row_bytes == one.gather_row_bytes


def test_mixed_precision_bytes() -> None:
    """w4a16: int4 weights are half a byte, activations fp16, indices still int64."""
    op = EMBEDDING[0].op()
    cost = derive_cost(op, 2, "w4a16")
    assert cost.weight_bytes == 64_000_000 * 0.5
    assert cost.gather_row_bytes == 64 * 0.5
    assert float(cost.act_in_bytes) == 2 * 20 * INDEX_BYTES
    assert float(cost.act_out_bytes) == 2 * 64 * 2


# -- convolution: groups=1 vs grouped vs depthwise, 1D / 3D ----------------------------------------


def _conv(**kw: Any) -> roofline.ops.Op:
    return REGISTRY["conv"](kind="conv", name="c", **kw)


def test_conv_engines_by_groups() -> None:
    """groups=1 and grouped convs are GEMMs (one per group: M = B*P, N = K/g, K = C/g*R); a
    depthwise conv (C/g = 1) has no channel reduction and runs on the vector engine."""
    base = dict(
        in_channels=64, out_channels=128, kernel_size=(3, 3), input_size=(14, 14), padding=1
    )
    B, P = 5, 14 * 14
    dense = _conv(**base).counts(B)
    assert [(g.m, g.n, g.k, g.count) for g in dense.gemms] == [(B * P, 128, 64 * 9, 1)]
    grouped = _conv(**base, groups=8).counts(B)
    assert [(g.m, g.n, g.k, g.count) for g in grouped.gemms] == [(B * P, 16, 8 * 9, 8)]
    assert grouped.vector_flops == 0
    dw = _conv(**{**base, "out_channels": 64}, groups=64).counts(B)
    assert dw.gemms == () and dw.vector_flops == 2 * B * 64 * P * 9


@pytest.mark.parametrize("groups", [2, 4, 32])
def test_grouped_conv_is_groups_independent_convs(groups: int) -> None:
    """A conv with g groups = g convs of C/g -> K/g channels (params, FLOPs, outputs)."""
    kw = dict(kernel_size=(3, 3), input_size=(28, 28), stride=2, padding=1)
    whole = derive_cost(_conv(in_channels=128, out_channels=256, groups=groups, **kw), 3, "fp32")
    part = derive_cost(
        _conv(in_channels=128 // groups, out_channels=256 // groups, **kw), 3, "fp32"
    )
    assert whole.weight_elems == groups * part.weight_elems
    assert float(whole.flops_matrix) == pytest.approx(groups * float(part.flops_matrix))
    assert float(whole.act_out_elems) == groups * float(part.act_out_elems)


def test_conv_1x1_on_1x1_equals_linear() -> None:
    conv = derive_cost(
        _conv(in_channels=512, out_channels=10, kernel_size=(1, 1), input_size=(1, 1), bias=True),
        4,
        "fp32",
    )
    fc = derive_cost(
        REGISTRY["linear"](kind="linear", name="fc", in_features=512, out_features=10), 4, "fp32"
    )
    for key in ("flops_matrix", "weight_elems", "act_in_elems", "act_out_elems"):
        assert float(getattr(conv, key)) == float(getattr(fc, key)), key


def test_conv1d_and_conv3d_reduce_to_conv2d() -> None:
    """Conv1d on L = Conv2d with a (1, k) kernel on (1, L); Conv3d with T = 1 and a (1, k, k)
    kernel = Conv2d with (k, k)."""
    c1 = _conv(in_channels=8, out_channels=16, kernel_size=(5,), input_size=(40,), stride=2)
    c2 = _conv(in_channels=8, out_channels=16, kernel_size=(1, 5), input_size=(1, 40), stride=2)
    c3 = _conv(in_channels=8, out_channels=16, kernel_size=(1, 3, 3), input_size=(1, 9, 9))
    c2b = _conv(in_channels=8, out_channels=16, kernel_size=(3, 3), input_size=(9, 9))
    for a, b in ((c1, c2), (c3, c2b)):
        ca, cb = derive_cost(a, 2, "fp32"), derive_cost(b, 2, "fp32")
        assert ca.weight_elems == cb.weight_elems
        assert float(ca.flops_matrix) == float(cb.flops_matrix)
        assert float(ca.act_out_elems) == float(cb.act_out_elems)


@pytest.mark.parametrize(
    "kw",
    [
        dict(in_channels=30, out_channels=64, groups=4),  # 4 does not divide 30
        dict(in_channels=3, out_channels=8, kernel_size=(9, 9)),  # 9 > 4 + 2*0
        dict(in_channels=3, out_channels=8, stride=0),
        dict(in_channels=3, out_channels=8, kernel_size=(3, 3, 3)),  # dims differ from input
    ],
)
def test_conv_rejects_invalid(kw: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        _conv(**{"kernel_size": (3, 3), "input_size": (4, 4), **kw})


def test_invalid_shapes_rejected() -> None:
    with pytest.raises(ValidationError, match="differ outside dim"):
        REGISTRY["concat"](kind="concat", name="c", input_shapes=((4, 5), (3, 7)))
    with pytest.raises(ValidationError, match="must divide"):
        REGISTRY["channel_shuffle"](kind="channel_shuffle", name="s", shape=(30, 2), groups=4)
    with pytest.raises(ValidationError, match="divisible"):
        REGISTRY["attention"](
            kind="attention", name="a", num_heads=12, num_kv_heads=5, head_dim=64, q_len=1, kv_len=1
        )
    with pytest.raises(ValidationError, match="post_nms_top_n"):
        REGISTRY["proposal"](
            kind="proposal", name="p", candidates=10, pre_nms_top_n=5, post_nms_top_n=6
        )


# -- published anchors -------------------------------------------------------------------------


def test_kv_cache_footprint_opt13b() -> None:
    """OPT-13B holds 2 (K, V) x 5120 (40 heads x 128) x 40 layers x 2 B = 819,200 B ("800 KB")
    of KV cache per token in fp16 (Kwon et al. 2023, Section 3)."""
    tokens = 300
    layer = REGISTRY["attention"](
        kind="attention",
        name="a",
        num_heads=40,
        head_dim=128,
        q_len=1,
        kv_len=tokens,
        kv_cache=True,
        repeat=40,
    )
    cost = derive_cost(layer, 1, "fp16")
    assert float(cost.kv_footprint_bytes) == 819_200 * tokens


def test_dlrm_top_mlp_input_width() -> None:
    """dlrm_s_pytorch.py: num_int = num_fea * (num_fea - 1) // 2 + m_den_out = 351 + 128."""
    op = INTERACTION[0].op()
    assert op.out_shape == (479,)


# -- embedding traffic rounded to the serving level's access granularity -------------------------


def _tiny_device(granularity: int) -> dict[str, Any]:
    peak = {"fp32": "1 TFLOP/s", "fp16": "1 TFLOP/s"}
    return {
        "name": "tiny",
        "source": "test fixture",
        "engines": {
            "matrix": {"peak": peak, "source": "test"},
            "vector": {"peak": peak, "source": "test"},
        },
        "memory": {
            "dram": {
                "kind": "device",
                "capacity": "1 GB",
                "bandwidth": "1 GB/s",
                "granularity": f"{granularity} B",
                "source": "test",
            }
        },
        "overheads": {"per_op": 0, "source": "test"},
    }


@pytest.mark.parametrize("policy", ["single", "capacity"])
@pytest.mark.parametrize("dtype", ["fp32", "fp16"])
@pytest.mark.parametrize("granularity", [1, 32, 64, 128])
def test_embedding_bag_traffic_rounds_rows_to_granularity(
    granularity: int, dtype: str, policy: str
) -> None:
    """Each of the B*pf rows read costs ceil(row_bytes / g) * g bytes at a level of granularity g;
    plus B*pf int64 indices read and B*D pooled outputs written."""
    D, pf = 20, 6
    model = {
        "name": "bag",
        "family": "layers",
        "source": "test fixture",
        "params": {
            "inputs": {"ids": [pf]},
            "ops": [
                {
                    "kind": "embedding_bag",
                    "name": "emb",
                    "num_embeddings": 1000,
                    "embedding_dim": D,
                    "pooling_factor": pf,
                }
            ],
        },
    }
    batches = np.array([1.0, 3.0])
    res = roofline.evaluate(
        model, _tiny_device(granularity), batch=batches, dtype=dtype, policy=policy
    )
    b = DTYPE_BYTES[dtype]
    row = math.ceil(D * b / granularity) * granularity  # fp32: 80 B -> 80, 96, 128, 128
    want = batches * pf * row + batches * pf * INDEX_BYTES + batches * D * b
    assert res.bytes_moved.shape == (1, 2, 1, 1)
    np.testing.assert_allclose(res.bytes_moved[0, :, 0, 0], want, rtol=1e-12)
