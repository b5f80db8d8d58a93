"""ShuffleNet v2 (torchvision ``ShuffleNetV2``) and ShuffleNet v1 (Zhang et al. 2017).

Reusable backbone pieces (imported by detection families):

* ``shufflenet_v2_features(b, x, p) -> list[str]``: stem + stages 2-4 + conv5 of ShuffleNet v2;
  returns ``[stage2, stage3, stage4, conv5]`` outputs (strides 8, 16, 32, 32: C3, C4, C5, and
  conv5 which is C5 widened to ``stages_out_channels[4]``).
* ``shufflenet_v1_features(b, x, p) -> list[str]``: stem + stages 2-4 of ShuffleNet v1;
  returns ``[stage2, stage3, stage4]`` outputs (strides 8, 16, 32).

ShuffleNet v2 (Ma et al. 2018, https://arxiv.org/abs/1807.11164; torchvision
``models/shufflenetv2.py``): conv1 3x3/2 (24) + BN + ReLU, max pool 3x3/2, three stages of
``stages_repeats`` = (4, 8, 4) units, conv5 1x1 + BN + ReLU, global mean, FC. A stride-1 unit
splits the channels in two halves (``x.chunk(2, dim=1)``), keeps one and runs the other through
1x1 - BN - ReLU - depthwise 3x3 - BN - 1x1 - BN - ReLU, concatenates and shuffles with 2 groups.
A stride-2 unit feeds the whole input to both branches (branch1: depthwise 3x3/2 - BN - 1x1 - BN -
ReLU), each producing half the output channels.

ShuffleNet v1 (Zhang et al. 2017, https://arxiv.org/abs/1707.01083, Table 1 and Fig. 2): conv1
3x3/2 (24) + BN + ReLU, max pool 3x3/2, three stages of (1 + 3, 1 + 7, 1 + 3) units with
``stage_out_channels`` (240, 480, 960 at g = 3), global pool, FC. A unit: grouped 1x1 to the
bottleneck (out/4; not grouped in the first unit of stage 2, whose input has only 24 channels),
BN, ReLU, channel shuffle (g groups), depthwise 3x3 (stride), BN, grouped 1x1, BN; stride 1: add
the identity, ReLU; stride 2: the last 1x1 outputs ``out - in`` channels, concatenated with a
3x3/2 average-pooled shortcut, ReLU.
"""

from __future__ import annotations

from pydantic import Field, model_validator

from roofline.errors import SpecError
from roofline.families.base import FamilyParams, Pixels, family
from roofline.graph import Graph
from roofline.graph_builder import GraphBuilder


class ShuffleNetV2Params(FamilyParams):
    """Parameters of torchvision's ``ShuffleNetV2(stages_repeats, stages_out_channels)``."""

    stages_repeats: tuple[int, int, int] = Field(
        (4, 8, 4), description="units per stage 2, 3, 4 (the first of each strides by 2)"
    )
    stages_out_channels: tuple[int, int, int, int, int] = Field(
        description="output channels of conv1, stage 2, stage 3, stage 4 and conv5 "
        "(torchvision x0_5: 24, 48, 96, 192, 1024; x1_0: 24, 116, 232, 464, 1024; "
        "x1_5: 24, 176, 352, 704, 1024; x2_0: 24, 244, 488, 976, 2048)"
    )
    input_size: tuple[Pixels, Pixels] = Field(
        (224, 224), description="input image (H, W) in pixels"
    )
    in_channels: int = Field(3, ge=1, description="input image channels")
    num_classes: int = Field(1000, ge=1, description="classifier outputs (ImageNet: 1000)")

    @model_validator(mode="after")
    def _check(self) -> ShuffleNetV2Params:
        _check_positive(self, "stages_repeats", "stages_out_channels")
        for c in self.stages_out_channels[1:4]:
            if c % 2:
                raise ValueError(
                    f"stages_out_channels={self.stages_out_channels}: stage width {c} is odd; "
                    "each unit splits its channels in two halves (use even stage widths)"
                )
        return self


class ShuffleNetV1Params(FamilyParams):
    """Parameters of ShuffleNet v1 (Zhang et al. 2017, Table 1) with ``groups`` = g."""

    groups: int = Field(3, ge=1, description="g: groups of the pointwise (1x1) convolutions")
    stages_repeats: tuple[int, int, int] = Field(
        (4, 8, 4), description="units per stage 2, 3, 4 (the first of each strides by 2)"
    )
    stage_out_channels: tuple[int, int, int] = Field(
        description="output channels of stages 2, 3, 4 (Table 1 at 1x: g=1 144/288/576, "
        "g=2 200/400/800, g=3 240/480/960, g=4 272/544/1088, g=8 384/768/1536)"
    )
    stem_channels: int = Field(24, ge=1, description="output channels of conv1 (Table 1: 24)")
    bottleneck_ratio: int = Field(
        4,
        ge=1,
        description="unit output channels / bottleneck channels (the paper's 1/4); at most the "
        "narrowest stage width",
    )
    input_size: tuple[Pixels, Pixels] = Field(
        (224, 224), description="input image (H, W) in pixels"
    )
    in_channels: int = Field(3, ge=1, description="input image channels")
    num_classes: int = Field(1000, ge=1, description="classifier outputs (ImageNet: 1000)")

    @model_validator(mode="after")
    def _check(self) -> ShuffleNetV1Params:
        _check_positive(self, "stages_repeats", "stage_out_channels")
        narrowest = min(self.stage_out_channels)
        if self.bottleneck_ratio > narrowest:
            raise SpecError(
                f"bottleneck_ratio={self.bottleneck_ratio} leaves no bottleneck channel in a "
                f"stage of {narrowest} channels (bottleneck = stage width // bottleneck_ratio)",
                field="bottleneck_ratio",
                fix=f"use at most {narrowest}, the narrowest stage width; the paper's ratio is 4",
            )
        g = self.groups
        prev = self.stem_channels
        for out in self.stage_out_channels:
            mid = out // self.bottleneck_ratio
            if mid % g or (out - prev) % g or out % g or prev >= out:
                raise ValueError(
                    f"stage_out_channels={self.stage_out_channels}, groups={g}: the bottleneck "
                    f"({mid}), the stride-2 branch ({out}-{prev}) and the stage width ({out}) "
                    "must be divisible by groups and widths must grow (use Table 1's widths)"
                )
            prev = out
        return self


def _check_positive(p: FamilyParams, *fields: str) -> None:
    """SpecError naming the first entry of ``fields`` (tuples of counts) below 1: a stage of 0
    units or of no channels is no network torchvision builds."""
    for name in fields:
        for i, value in enumerate(getattr(p, name)):
            if value < 1:
                raise SpecError(
                    f"{value} is not a positive integer",
                    field=f"{name}[{i}]",
                    fix="every stage has at least one unit and one channel",
                )


def _conv_bn(
    b: GraphBuilder,
    x: str,
    out: int,
    k: int,
    tag: str,
    i: int,
    *,
    stride: int = 1,
    groups: int = 1,
    relu: bool = True,
) -> str:
    """Conv (at index ``i`` of a Sequential ``tag``), BN (i+1) and optionally ReLU (i+2)."""
    y = b.conv(x, out, k, stride=stride, padding=k // 2, groups=groups, name=f"{tag}.{i}")
    y = b.bn(y, name=f"{tag}.{i + 1}")
    return b.act(y, name=f"{tag}.{i + 2}") if relu else y


def _half_conv(b: GraphBuilder, x: str, out: int, name: str) -> str:
    """1x1 conv on the second half of ``x``'s channels.

    ``x.chunk(2, dim=1)`` is a view, so no copy is counted: the conv reads its half of ``x`` in
    place (``x`` stays alive until the concat that reads the other half).
    """
    c, *spatial = b.shape(x)
    return b.add(
        "conv",
        [x],
        name,
        in_channels=c // 2,
        out_channels=out,
        kernel_size=(1, 1),
        input_size=tuple(spatial),
        bias=False,
    )


def _v2_unit(b: GraphBuilder, x: str, out: int, stride: int, tag: str) -> str:
    c, *spatial = b.shape(x)
    half = out // 2
    if stride == 1:
        y = b.act(
            b.bn(_half_conv(b, x, half, f"{tag}.branch2.0"), name=f"{tag}.branch2.1"),
            name=f"{tag}.branch2.2",
        )
        keep, keep_shape = x, (c // 2, *spatial)
    else:
        keep = _conv_bn(b, x, c, 3, f"{tag}.branch1", 0, stride=2, groups=c, relu=False)
        keep = _conv_bn(b, keep, half, 1, f"{tag}.branch1", 2)
        keep_shape = b.shape(keep)
        y = _conv_bn(b, x, half, 1, f"{tag}.branch2", 0)
    y = _conv_bn(b, y, half, 3, f"{tag}.branch2", 3, stride=stride, groups=half, relu=False)
    y = _conv_bn(b, y, half, 1, f"{tag}.branch2", 5)
    cat = b.add("concat", [keep, y], f"{tag}.cat", input_shapes=(keep_shape, b.shape(y)), dim=0)
    return b.add("channel_shuffle", [cat], f"{tag}.shuffle", shape=b.shape(cat), groups=2)


def shufflenet_v2_features(b: GraphBuilder, x: str, p: ShuffleNetV2Params) -> list[str]:
    """Add ShuffleNet v2's conv1 .. conv5 to ``b`` reading image tensor ``x``.

    Returns
    -------
    list of str
        Output tensors of stage 2, stage 3, stage 4 (strides 8, 16, 32; channels
        ``stages_out_channels[1:4]``) and conv5 (stride 32, ``stages_out_channels[4]``).
    """
    ch = p.stages_out_channels
    x = _conv_bn(b, x, ch[0], 3, "conv1", 0, stride=2)
    x = b.pool(x, "max", 3, 2, 1, name="maxpool")
    outs = []
    for s, (reps, out) in enumerate(zip(p.stages_repeats, ch[1:4], strict=True)):
        for j in range(reps):
            x = _v2_unit(b, x, out, 2 if j == 0 else 1, f"stage{s + 2}.{j}")
        outs.append(x)
    outs.append(_conv_bn(b, x, ch[4], 1, "conv5", 0))
    return outs


def _v1_unit(
    b: GraphBuilder, x: str, out: int, stride: int, first: bool, p: ShuffleNetV1Params, tag: str
) -> str:
    g = p.groups
    c = b.shape(x)[0]
    mid = out // p.bottleneck_ratio
    y = _conv_bn(b, x, mid, 1, f"{tag}.branch", 0, groups=1 if first else g)
    if g > 1:
        y = b.add("channel_shuffle", [y], f"{tag}.shuffle", shape=b.shape(y), groups=g)
    y = _conv_bn(b, y, mid, 3, f"{tag}.branch", 3, stride=stride, groups=mid, relu=False)
    y = _conv_bn(b, y, out - c if stride == 2 else out, 1, f"{tag}.branch", 5, groups=g, relu=False)
    if stride == 2:
        short = b.pool(x, "avg", 3, 2, 1, name=f"{tag}.shortcut")
        y = b.concat([short, y], name=f"{tag}.cat")
    else:
        y = b.eltwise([y, x], name=f"{tag}.add")
    return b.act(y, name=f"{tag}.relu")


def shufflenet_v1_features(b: GraphBuilder, x: str, p: ShuffleNetV1Params) -> list[str]:
    """Add ShuffleNet v1's conv1 .. stage 4 to ``b`` reading image tensor ``x``.

    Returns
    -------
    list of str
        Output tensors of stages 2, 3, 4 (strides 8, 16, 32; channels ``stage_out_channels``).
    """
    x = _conv_bn(b, x, p.stem_channels, 3, "conv1", 0, stride=2)
    x = b.pool(x, "max", 3, 2, 1, name="maxpool")
    outs = []
    for s, (reps, out) in enumerate(zip(p.stages_repeats, p.stage_out_channels, strict=True)):
        for j in range(reps):
            first = s == 0 and j == 0
            x = _v1_unit(b, x, out, 2 if j == 0 else 1, first, p, f"stage{s + 2}.{j}")
        outs.append(x)
    return outs


def _head(b: GraphBuilder, x: str, num_classes: int) -> None:
    b.linear(b.global_pool(x, name="avgpool"), num_classes, name="fc")


@family("shufflenet_v2", ShuffleNetV2Params, sample="image")
def build_shufflenet_v2(p: ShuffleNetV2Params, name: str) -> Graph:
    """ShuffleNet v2 image classifier (torchvision ``shufflenet_v2_x*``)."""
    b = GraphBuilder(name)
    x = b.input("image", (p.in_channels, *p.input_size))
    _head(b, shufflenet_v2_features(b, x, p)[-1], p.num_classes)
    return b.build()


@family("shufflenet_v1", ShuffleNetV1Params, sample="image")
def build_shufflenet_v1(p: ShuffleNetV1Params, name: str) -> Graph:
    """ShuffleNet v1 image classifier (Zhang et al. 2017)."""
    b = GraphBuilder(name)
    x = b.input("image", (p.in_channels, *p.input_size))
    _head(b, shufflenet_v1_features(b, x, p)[-1], p.num_classes)
    return b.build()
