"""What two-stage detectors (Faster-RCNN) need beyond convolutions and FCs.

RoIAlign (``torchvision.ops.roi_align``/``MultiScaleRoIAlign``): for each of R RoIs, C channels
and an o x o output grid, s x s sampling points (sampling_ratio s), each a bilinear interpolation
of 4 neighbours (4 multiplies + 3 adds) plus an accumulate:

* vector FLOPs = R * C * o^2 * (s^2 * ``BILINEAR_SAMPLE_FLOPS`` + 1), BILINEAR_SAMPLE_FLOPS = 8
* activations in = the feature map(s) read (``feature_elems``, per sample) + R * 4 box coordinates,
  out = R * C * o^2

Proposals (RPN anchor decoding + top-k + NMS, and the box head's class-wise postprocess):

* box decode ``DECODE_FLOPS`` = 16 per candidate (centre/size transform with 2 exps and a clip),
  top-k selection ~ candidates * log2(pre_nms_top_n) compares, NMS over the n = pre_nms_top_n kept
  boxes: n(n-1)/2 IoUs x ``IOU_FLOPS`` = 12 (intersection 4 min/max, areas, union, divide and
  compare), i.e. the worst case of greedy NMS
* activations in = candidates * (4 deltas + scores_per_candidate), out = post_nms_top_n * 5
"""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import Field, model_validator

from roofline.kinds import OpCategory
from roofline.ops.base import Counts, Op, Shape, register

BILINEAR_SAMPLE_FLOPS = 8
DECODE_FLOPS = 16
IOU_FLOPS = 12


@register
class RoIAlign(Op):
    """RoIAlign pooling of ``num_rois`` boxes to ``output_size`` x ``output_size`` per channel."""

    category = OpCategory.DETECTION
    kind: Literal["roi_align"] = "roi_align"
    num_rois: int = Field(ge=1)
    channels: int = Field(ge=1)
    output_size: int = Field(7, ge=1)
    sampling_ratio: int = Field(2, ge=1)
    feature_elems: int = Field(ge=1, description="feature-map elements read per sample")

    def counts(self, batch: Any) -> Counts:
        out = batch * self.num_rois * self.channels * self.output_size**2
        per = self.sampling_ratio**2 * BILINEAR_SAMPLE_FLOPS + 1
        return Counts(
            act_in=batch * (self.feature_elems + 4 * self.num_rois),
            act_out=out,
            vector_flops=out * per,
        )

    @property
    def out_shape(self) -> Shape:
        return (self.num_rois, self.channels, self.output_size, self.output_size)


@register
class Proposal(Op):
    """Box decoding, top-k and NMS over ``candidates`` boxes, keeping ``post_nms_top_n``."""

    category = OpCategory.DETECTION
    kind: Literal["proposal"] = "proposal"
    candidates: int = Field(
        ge=1, description="boxes decoded per sample (anchors or RoIs x classes)"
    )
    scores_per_candidate: int = Field(1, ge=1)
    pre_nms_top_n: int = Field(ge=1)
    post_nms_top_n: int = Field(ge=1)

    @model_validator(mode="after")
    def _check(self) -> Proposal:
        if self.post_nms_top_n > self.pre_nms_top_n:
            raise ValueError("post_nms_top_n must not exceed pre_nms_top_n")
        return self

    def counts(self, batch: Any) -> Counts:
        n = min(self.pre_nms_top_n, self.candidates)
        flops = (
            self.candidates * DECODE_FLOPS
            + self.candidates * math.log2(max(n, 2))
            + n * (n - 1) / 2 * IOU_FLOPS
        )
        return Counts(
            act_in=batch * self.candidates * (4 + self.scores_per_candidate),
            act_out=batch * self.post_nms_top_n * 5,
            vector_flops=batch * flops,
        )

    @property
    def out_shape(self) -> Shape:
        return (self.post_nms_top_n, 5)
