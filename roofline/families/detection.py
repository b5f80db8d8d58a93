"""Two-stage detection: Faster R-CNN as torchvision's ``FasterRCNN`` runs it at test time.

Structure (Ren et al. 2015; Lin et al. 2017 for the FPN; torchvision ``models/detection``), for
one image after ``GeneralizedRCNNTransform`` (resized, normalized and padded to a multiple of 32;
the transform itself is not modelled):

* backbone body: ResNet (``resnet_stem`` + ``resnet_stages``), ShuffleNet v1 or v2
  (``shufflenet_v1_features``, ``shufflenet_v2_features``); ``returned_layers`` picks the feature
  maps handed on, and stages after the last one returned are left out
* FPN (``fpn_channels``): a 1x1 lateral conv per level, top-down nearest 2x upsampling + add,
  a 3x3 output conv per level, all with bias; ``fpn_extra_pool`` adds torchvision's
  ``LastLevelMaxPool`` level ("pool": max pool kernel 1, stride 2 of the last level). Without an
  FPN, one feature map feeds the RPN and RoIAlign directly
* RPN head, shared by all levels (one :class:`~roofline.ops.shared_conv.SharedConv` op each):
  3x3 conv + ReLU, 1x1 ``cls_logits`` (A anchors) and 1x1 ``bbox_pred`` (4A); then a proposal op:
  decode all A * sum(H_l W_l) anchors, keep the top ``rpn_pre_nms_top_n`` per level, one NMS over
  all kept boxes (on GPU torchvision's ``batched_nms`` offsets each level's boxes, one NMS call),
  keep ``rpn_post_nms_top_n``. Anchor generation and sigmoid on the kept scores are not modelled
* RoI heads: ``MultiScaleRoIAlign`` (levels without "pool") to ``roi_output_size``^2 bins,
  ``TwoMLPHead`` (fc6, fc7 with ReLU, ``representation_size`` wide), ``FastRCNNPredictor``
  (``cls_score``: num_classes, ``bbox_pred``: 4 num_classes), then softmax and a proposal op for
  the class-wise box decoding + NMS, keeping ``detections_per_img``

The number of RoIs is the deterministic upper bound min(rpn_post_nms_top_n, RoIs kept before
NMS): with trained weights NMS at IoU 0.7 may leave fewer (the reference recording disables the
RPN NMS for the same reason). Op names follow torchvision's module paths (``backbone.body.*``,
``backbone.fpn.*``, ``rpn.head.*``, ``roi_heads.*``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Literal

from pydantic import Field, model_validator

from roofline.errors import SpecError, SpecErrors
from roofline.families.base import FamilyParams, Pixels, family
from roofline.families.resnet import ResNetParams, resnet_stages, resnet_stem
from roofline.families.shufflenet import (
    ShuffleNetV1Params,
    ShuffleNetV2Params,
    shufflenet_v1_features,
    shufflenet_v2_features,
)
from roofline.graph import Graph
from roofline.graph_builder import GraphBuilder
from roofline.spec_errors import validate

#: backbone -> (entries of backbone_layers, of backbone_channels, feature maps it returns)
_BACKBONE_SHAPES = {"resnet": (4, 0, 4), "shufflenet_v1": (3, 3, 3), "shufflenet_v2": (3, 5, 4)}
#: the padding multiple of torchvision's ``GeneralizedRCNNTransform`` (size_divisible)
SIZE_DIVISIBLE = 32
#: a backbone family's parameter -> the Faster R-CNN parameter it is given from
_BACKBONE_FIELDS = {
    "layers": "backbone_layers",
    "stages_repeats": "backbone_layers",
    "stage_out_channels": "backbone_channels",
    "stages_out_channels": "backbone_channels",
    "groups": "backbone_groups",
}


class FasterRCNNParams(FamilyParams):
    """Parameters of a torchvision-style ``FasterRCNN`` at test time (one image per sample)."""

    backbone: Literal["resnet", "shufflenet_v1", "shufflenet_v2"] = Field(
        description="backbone body: torchvision ResNet (bottleneck blocks, v1.5), ShuffleNet v1 "
        "(Zhang et al. 2017) or ShuffleNet v2 (torchvision ShuffleNetV2)"
    )
    backbone_layers: tuple[int, ...] = Field(
        description="resnet: bottleneck blocks per stage, 4 entries (ResNet-50: 3, 4, 6, 3); "
        "shufflenet_v1 / shufflenet_v2: units per stage 2-4, 3 entries (4, 8, 4)"
    )
    backbone_channels: tuple[int, ...] = Field(
        (),
        description="resnet: empty; shufflenet_v1: output channels of stages 2-4, 3 entries "
        "(g=3 1x: 240, 480, 960); shufflenet_v2: stages_out_channels of conv1, stages 2-4 and "
        "conv5, 5 entries (x1_0: 24, 116, 232, 464, 1024)",
    )
    backbone_groups: int = Field(
        1, ge=1, description="shufflenet_v1 only: g, groups of its pointwise convs; else 1"
    )
    returned_layers: tuple[int, ...] = Field(
        (1, 2, 3, 4),
        description="backbone feature maps handed to the FPN (or, without an FPN, the single map "
        "for the RPN and RoIAlign), 1-based: resnet layer1..layer4 (strides 4, 8, 16, 32); "
        "shufflenet_v1 stage2..stage4 (strides 8, 16, 32); shufflenet_v2 stage2, stage3, "
        "stage4, conv5 (strides 8, 16, 32, 32). Backbone layers after the last one returned "
        "are not built",
    )
    fpn_channels: int | None = Field(
        256, ge=1, description="FPN output channels; null for no FPN (a single-level head)"
    )
    fpn_extra_pool: bool = Field(
        True, description="add LastLevelMaxPool's 'pool' level (kernel 1, stride 2) for the RPN"
    )
    input_size: tuple[Pixels, Pixels] = Field(
        (800, 800),
        description="image (H, W) in pixels after the transform's resize and padding to a "
        "multiple of 32 (torchvision: short side 800, long side at most 1333)",
    )
    in_channels: int = Field(3, ge=1, description="input image channels")
    rpn_anchors_per_location: int = Field(
        3, ge=1, description="anchors per feature-map position and level (sizes x aspect ratios)"
    )
    rpn_pre_nms_top_n: int = Field(
        1000, ge=1, description="proposals kept per level by score before NMS (test setting)"
    )
    rpn_post_nms_top_n: int = Field(
        1000, ge=1, description="proposals kept after NMS = RoIs fed to the box head (test)"
    )
    roi_output_size: int = Field(7, ge=1, description="RoIAlign output bins per side")
    sampling_ratio: int = Field(2, ge=1, description="RoIAlign sampling points per bin side")
    representation_size: int = Field(
        1024, ge=1, description="width of TwoMLPHead's fc6 and fc7 (features per RoI)"
    )
    num_classes: int = Field(91, ge=2, description="classes including background (COCO: 91)")
    box_nms_candidates: int = Field(
        1000,
        ge=1,
        description="boxes (all classes) above the score threshold entering the class-wise NMS "
        "of the postprocess; data dependent, an assumption (the worst case is RoIs x classes)",
    )
    detections_per_img: int = Field(100, ge=1, description="detections kept per image")

    @model_validator(mode="after")
    def _check(self) -> FasterRCNNParams:
        n_layers, n_channels, n_maps = _BACKBONE_SHAPES[self.backbone]
        if len(self.backbone_layers) != n_layers or len(self.backbone_channels) != n_channels:
            raise ValueError(
                f"backbone={self.backbone} takes {n_layers} backbone_layers and {n_channels} "
                f"backbone_channels, got {self.backbone_layers} and {self.backbone_channels}"
            )
        if self.backbone_groups != 1 and self.backbone != "shufflenet_v1":
            raise ValueError(
                f"backbone_groups={self.backbone_groups} applies to shufflenet_v1 only (use 1)"
            )
        _backbone_params(self)  # the backbone family's own checks, named by our fields
        r = self.returned_layers
        if not r or list(r) != sorted(set(r)) or r[0] < 1 or r[-1] > n_maps:
            raise ValueError(f"returned_layers={r} must be increasing values in 1..{n_maps}")
        if self.fpn_channels is None and len(r) != 1:
            raise ValueError(
                f"without an FPN (fpn_channels: null) one feature map feeds the heads, but "
                f"returned_layers={r} (return a single layer)"
            )
        if any(s % SIZE_DIVISIBLE for s in self.input_size):
            raise ValueError(
                f"input_size={self.input_size} must be a multiple of {SIZE_DIVISIBLE} (the "
                "transform pads to it; e.g. 800 x 1333 -> 800 x 1344)"
            )
        if self.detections_per_img > self.box_nms_candidates:
            raise ValueError(
                f"detections_per_img={self.detections_per_img} exceeds box_nms_candidates="
                f"{self.box_nms_candidates} (keep at most the boxes that enter NMS)"
            )
        return self


class _Builder(GraphBuilder):
    """A GraphBuilder that prefixes op names with a module path (``backbone.body.``)."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.prefix = ""

    @contextmanager
    def scope(self, prefix: str) -> Iterator[None]:
        old, self.prefix = self.prefix, self.prefix + prefix
        try:
            yield
        finally:
            self.prefix = old

    def add(self, kind: str, inputs: Sequence[str], name: str | None = None, **fields: Any) -> str:
        return super().add(kind, inputs, name=self.prefix + (name or kind), **fields)

    def build(self) -> Graph:
        """Return the graph without ops the last op does not depend on (unused stages)."""
        g = super().build()
        needed = {g.nodes[-1].output}
        kept = []
        for node in reversed(g.nodes):
            if node.output in needed:
                kept.append(node)
                needed.update(node.inputs)
        return Graph(g.name, g.inputs, tuple(reversed(kept)))


BackboneParams = ResNetParams | ShuffleNetV1Params | ShuffleNetV2Params


def _backbone_params(p: FasterRCNNParams) -> BackboneParams:
    """The backbone family's parameters of ``p``; its errors as a SpecError naming our field
    (``backbone_layers[0]``, not the backbone family's ``layers[0]``)."""
    shape = {"input_size": p.input_size, "in_channels": p.in_channels}
    cls: type[BackboneParams]
    if p.backbone == "resnet":
        cls, data = ResNetParams, {"layers": p.backbone_layers, **shape}
    elif p.backbone == "shufflenet_v1":
        cls, data = (
            ShuffleNetV1Params,
            {
                "groups": p.backbone_groups,
                "stages_repeats": p.backbone_layers,
                "stage_out_channels": p.backbone_channels,
                **shape,
            },
        )
    else:
        cls, data = (
            ShuffleNetV2Params,
            {
                "stages_repeats": p.backbone_layers,
                "stages_out_channels": p.backbone_channels,
                **shape,
            },
        )
    try:
        return validate(cls, data, file=None)
    except SpecError as err:
        first = err.errors[0] if isinstance(err, SpecErrors) else err
        raise SpecError(
            _renamed(first.problem), field=_renamed(first.field or ""), fix=first.fix
        ) from None


def _renamed(text: str) -> str:
    """``text`` with the backbone family's parameter names as Faster R-CNN's."""
    return re.sub(r"\b(\w+)\b", lambda m: _BACKBONE_FIELDS.get(m[1], m[1]), text)


def _backbone(b: _Builder, x: str, p: FasterRCNNParams) -> list[str]:
    """Return the backbone's feature maps, strides 4-32 or 8-32 (see ``returned_layers``)."""
    bp = _backbone_params(p)
    if isinstance(bp, ResNetParams):
        return resnet_stages(b, resnet_stem(b, x), bp)
    if isinstance(bp, ShuffleNetV1Params):
        return shufflenet_v1_features(b, x, bp)
    return shufflenet_v2_features(b, x, bp)


def _fpn(b: _Builder, feats: list[str], p: FasterRCNNParams) -> list[str]:
    """torchvision's ``FeaturePyramidNetwork``; return P levels finest first (+ 'pool')."""
    ch = p.fpn_channels
    assert ch is not None
    last = len(feats) - 1
    inner = b.conv(feats[last], ch, 1, bias=True, name=f"inner_blocks.{last}.0")
    results = [b.conv(inner, ch, 3, padding=1, bias=True, name=f"layer_blocks.{last}.0")]
    for i in range(last - 1, -1, -1):
        lateral = b.conv(feats[i], ch, 1, bias=True, name=f"inner_blocks.{i}.0")
        factor = b.shape(lateral)[1] // b.shape(inner)[1]
        up = b.add(
            "interpolate",
            [inner],
            f"upsample.{i}",
            shape=b.shape(inner),
            scale_factor=factor,
            mode="nearest",
        )
        if b.shape(up) != b.shape(lateral):
            raise SpecError(
                f"FPN level {i}: {b.shape(up)} does not upsample to {b.shape(lateral)}",
                field="params.input_size",
                fix=f"use a multiple of {SIZE_DIVISIBLE}",
            )
        inner = b.eltwise([lateral, up], name=f"add.{i}")
        results.insert(0, b.conv(inner, ch, 3, padding=1, bias=True, name=f"layer_blocks.{i}.0"))
    if p.fpn_extra_pool:
        results.append(b.pool(results[-1], "max", 1, 2, name="extra_blocks"))
    return results


def _shared_conv(b: _Builder, xs: list[str], out: int, k: int, sizes: list, name: str) -> str:
    """One conv applied to every level (weights held once); output (out, sum of positions)."""
    return b.add(
        "shared_conv",
        xs,
        name,
        in_channels=b.shape(xs[0])[0],
        out_channels=out,
        kernel_size=(k, k),
        input_sizes=tuple(sizes),
        padding=k // 2,
        bias=True,
    )


def _rpn(b: _Builder, levels: list[str], p: FasterRCNNParams) -> tuple[str, int]:
    """RPN head + proposal filtering; return the proposals tensor and the number of RoIs."""
    c = b.shape(levels[0])[0]
    a = p.rpn_anchors_per_location
    sizes = [b.shape(x)[1:] for x in levels]
    t = _shared_conv(b, levels, c, 3, sizes, "head.conv.0.0")
    t = b.act(t, name="head.conv.0.1")
    logits = _shared_conv(b, [t], a, 1, sizes, "head.cls_logits")
    deltas = _shared_conv(b, [t], 4 * a, 1, sizes, "head.bbox_pred")
    anchors = [a * h * w for h, w in sizes]
    kept = sum(min(p.rpn_pre_nms_top_n, n) for n in anchors)
    rois = min(p.rpn_post_nms_top_n, kept)
    props = b.add(
        "proposal",
        [logits, deltas],
        "filter_proposals",
        candidates=sum(anchors),
        scores_per_candidate=1,
        pre_nms_top_n=kept,
        post_nms_top_n=rois,
    )
    return props, rois


def _roi_heads(b: _Builder, levels: list[str], props: str, rois: int, p: FasterRCNNParams) -> None:
    """MultiScaleRoIAlign, TwoMLPHead, FastRCNNPredictor and the detection postprocess."""
    c = b.shape(levels[0])[0]
    o = p.roi_output_size
    feature_elems = sum(c * h * w for _, h, w in (b.shape(x) for x in levels))
    x = b.add(
        "roi_align",
        [*levels, props],
        "box_roi_pool",
        num_rois=rois,
        channels=c,
        output_size=o,
        sampling_ratio=p.sampling_ratio,
        feature_elems=feature_elems,
    )
    x = b.linear(x, p.representation_size, name="box_head.fc6", features_from=1)
    x = b.act(x, name="box_head.relu6")
    x = b.act(b.linear(x, p.representation_size, name="box_head.fc7"), name="box_head.relu7")
    scores = b.linear(x, p.num_classes, name="box_predictor.cls_score")
    deltas = b.linear(x, 4 * p.num_classes, name="box_predictor.bbox_pred")
    probs = b.add("softmax", [scores], "postprocess.softmax", shape=b.shape(scores))
    b.add(
        "proposal",
        [probs, deltas, props],
        "postprocess.detections",
        candidates=rois * p.num_classes,
        scores_per_candidate=1,
        pre_nms_top_n=min(p.box_nms_candidates, rois * p.num_classes),
        post_nms_top_n=min(p.detections_per_img, rois * p.num_classes),
    )


@family("faster_rcnn", FasterRCNNParams, sample="image")
def build_faster_rcnn(p: FasterRCNNParams, name: str) -> Graph:
    """Faster R-CNN (with or without FPN) on a ResNet or ShuffleNet v1/v2 backbone, at test time."""
    b = _Builder(name)
    x = b.input("image", (p.in_channels, *p.input_size))
    with b.scope("backbone.body."):
        feats = _backbone(b, x, p)
    feats = [feats[i - 1] for i in p.returned_layers]
    if p.fpn_channels is None:
        levels = roi_levels = feats
    else:
        with b.scope("backbone.fpn."):
            levels = _fpn(b, feats, p)
        roi_levels = levels[: len(feats)]
    with b.scope("rpn."):
        props, rois = _rpn(b, levels, p)
    with b.scope("roi_heads."):
        _roi_heads(b, roi_levels, props, rois, p)
    return b.build()
