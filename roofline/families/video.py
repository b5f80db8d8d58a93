"""Video classifiers over (C, T, H, W) clips: torchvision's ``VideoResNet`` and Hara's 3D ResNeXt.

``video_resnet`` builds ``torchvision.models.video.VideoResNet`` (Tran et al. 2018, "A Closer Look
at Spatiotemporal Convolutions", arXiv 1711.11248): a stem, four stages of ``layers[i]`` residual
blocks with 64, 128, 256, 512 base planes (stages 2-4 stride 2 in their first block), global
average pooling and a ``num_classes`` FC. Each stage's spatiotemporal convolution comes from a
*conv maker*:

* ``3d`` (``Conv3DSimple``): 3x3x3, stride s in T, H and W (R3D);
* ``no_temporal`` (``Conv3DNoTemporal``): 1x3x3, stride (1, s, s) (MC3's upper stages);
* ``2plus1d`` (``Conv2Plus1D``): 1x3x3 to ``midplanes``, BN, ReLU, then 3x1x1, with
  midplanes = (in*out*3*3*3) // (in*3*3 + 3*out) so that it holds about as many weights as the 3x3x3
  conv it replaces (computed once per block from its in and out planes, and shared by both convs);
* ``ir_channel_separated`` (VMZ ``Conv3DDepthwise``): a 3x3x3 channel-wise conv (groups = channels),
  the interaction-reduced CSN of Tran et al. 2019 (arXiv 1904.02811);
* ``ip_channel_separated`` (VMZ ``IPConv3DDepthwise``): 1x1x1 conv, BN, then the channel-wise conv
  (interaction-preserved CSN).

The downsampling shortcut (1x1x1 conv + BN) strides (1, s, s) for ``no_temporal`` and (s, s, s)
otherwise. Op names are torchvision's module paths (``layer2.0.conv1.0``, ``stem.3``).

``resnext3d`` builds the 3D ResNeXt of Hara et al. 2018 ("Can Spatiotemporal 3D CNNs Retrace the
History of 2D CNNs and ImageNet?", arXiv 1711.09577; github.com/kenshohara/3D-ResNets-PyTorch,
``models/resnext.py``): a 7x7x7 stem conv with stride (1, 2, 2), BN, ReLU, 3x3x3 max pool with
stride 2 (in T too); four stages with 128, 256, 512, 1024 planes, bottlenecks of width
cardinality * planes // 32 whose 3x3x3 grouped conv strides 2 in T, H and W in the first block of
stages 2-4, expansion 2, projection shortcuts (type B); average pooling and a 2048 ->
``num_classes`` FC. Hara's ``AvgPool3d`` window (ceil(T/16), ceil(H/32), ceil(W/32)) always equals
the final feature map (each stride-2 stage maps n to ceil(n/2)), so it is global pooling here.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from roofline.families.base import FamilyParams, PositiveInt, family
from roofline.families.resnet import bottleneck
from roofline.graph import Graph
from roofline.graph_builder import GraphBuilder

ConvMaker = Literal["3d", "no_temporal", "2plus1d", "ir_channel_separated", "ip_channel_separated"]
_CHANNEL_SEPARATED = ("ir_channel_separated", "ip_channel_separated")


class VideoResNetParams(FamilyParams):
    """Parameters of ``torchvision.models.video.VideoResNet(block, conv_makers, layers, stem)``."""

    block: Literal["basic", "bottleneck"] = Field(
        "basic",
        description="residual block: `basic` (two spatiotemporal convs, expansion 1) or "
        "`bottleneck` (1x1x1, spatiotemporal conv, 1x1x1 to 4x the planes)",
    )
    layers: tuple[PositiveInt, PositiveInt, PositiveInt, PositiveInt] = Field(
        description="residual blocks in each of the four stages (64, 128, 256, 512 base planes)"
    )
    conv_makers: tuple[ConvMaker, ConvMaker, ConvMaker, ConvMaker] = Field(
        description="spatiotemporal conv of each stage: `3d` (3x3x3, torchvision Conv3DSimple), "
        "`no_temporal` (1x3x3, Conv3DNoTemporal), `2plus1d` (1x3x3 then 3x1x1, Conv2Plus1D), "
        "`ir_channel_separated` (3x3x3 channel-wise, VMZ Conv3DDepthwise) or "
        "`ip_channel_separated` (1x1x1 + BN + 3x3x3 channel-wise, VMZ IPConv3DDepthwise)"
    )
    stem: Literal["basic", "r2plus1d", "basic_pool"] = Field(
        "basic",
        description="`basic`: conv 3x7x7 stride (1, 2, 2) to 64 channels, BN, ReLU; `r2plus1d`: "
        "conv 1x7x7 stride (1, 2, 2) to 45 channels, BN, ReLU, conv 3x1x1 to 64, BN, ReLU; "
        "`basic_pool`: `basic` then max pool 1x3x3 stride (1, 2, 2) (VMZ BasicStem_Pool)",
    )
    input_size: tuple[PositiveInt, PositiveInt, PositiveInt] = Field(
        (16, 112, 112), description="clip size (frames T, height H, width W) in frames and pixels"
    )
    in_channels: int = Field(3, ge=1, description="input channels per frame (3 for RGB)")
    num_classes: int = Field(400, ge=1, description="classifier outputs (400 for Kinetics-400)")

    @model_validator(mode="after")
    def _check(self) -> VideoResNetParams:
        separated = [m for m in self.conv_makers if m in _CHANNEL_SEPARATED]
        if separated and self.block != "bottleneck":
            raise ValueError(
                f"conv_makers {separated[0]!r} keeps its channel count, but block={self.block!r} "
                "changes it in its first conv (use block: bottleneck, as VMZ's CSN does)"
            )
        return self


def _midplanes(in_planes: int, out_planes: int) -> int:
    """Return R(2+1)D's intermediate channels: weights about those of a full 3x3x3 conv."""
    return (in_planes * out_planes * 3 * 3 * 3) // (in_planes * 3 * 3 + 3 * out_planes)


def _spatiotemporal(
    b: GraphBuilder, x: str, maker: str, out_planes: int, midplanes: int, stride: int, tag: str
) -> str:
    """Apply one conv maker to ``x``; ``tag`` is the module path of the maker."""
    s = stride
    if maker == "3d":
        return b.conv(x, out_planes, 3, stride=s, padding=1, name=tag)
    if maker == "no_temporal":
        return b.conv(x, out_planes, (1, 3, 3), stride=(1, s, s), padding=(0, 1, 1), name=tag)
    if maker == "2plus1d":
        y = b.conv(x, midplanes, (1, 3, 3), stride=(1, s, s), padding=(0, 1, 1), name=f"{tag}.0")
        y = b.act(b.bn(y, name=f"{tag}.1"), name=f"{tag}.2")
        return b.conv(
            y, out_planes, (3, 1, 1), stride=(s, 1, 1), padding=(1, 0, 0), name=f"{tag}.3"
        )
    if maker == "ip_channel_separated":
        x = b.bn(b.conv(x, out_planes, 1, name=f"{tag}.0"), name=f"{tag}.1")
        tag = f"{tag}.2"
    channels = b.shape(x)[0]
    return b.conv(x, out_planes, 3, stride=s, padding=1, groups=channels, name=tag)


def _shortcut(b: GraphBuilder, x: str, out_ch: int, stride: int, maker: str, tag: str) -> str:
    """Identity, or the 1x1x1 projection (+ BN) when the shape changes."""
    if stride == 1 and b.shape(x)[0] == out_ch:
        return x
    s = (1, stride, stride) if maker == "no_temporal" else (stride,) * 3
    y = b.conv(x, out_ch, 1, stride=s, name=f"{tag}.downsample.0")
    return b.bn(y, name=f"{tag}.downsample.1")


def _basic_block(b: GraphBuilder, x: str, planes: int, stride: int, maker: str, tag: str) -> str:
    mid = _midplanes(b.shape(x)[0], planes)
    y = _spatiotemporal(b, x, maker, planes, mid, stride, f"{tag}.conv1.0")
    y = b.act(b.bn(y, name=f"{tag}.conv1.1"), name=f"{tag}.conv1.2")
    y = _spatiotemporal(b, y, maker, planes, mid, 1, f"{tag}.conv2.0")
    y = b.bn(y, name=f"{tag}.conv2.1")
    short = _shortcut(b, x, planes, stride, maker, tag)
    return b.act(b.eltwise([y, short], name=f"{tag}.add"), name=f"{tag}.relu")


def _bottleneck(b: GraphBuilder, x: str, planes: int, stride: int, maker: str, tag: str) -> str:
    mid = _midplanes(b.shape(x)[0], planes)
    y = b.conv(x, planes, 1, name=f"{tag}.conv1.0")
    y = b.act(b.bn(y, name=f"{tag}.conv1.1"), name=f"{tag}.conv1.2")
    y = _spatiotemporal(b, y, maker, planes, mid, stride, f"{tag}.conv2.0")
    y = b.act(b.bn(y, name=f"{tag}.conv2.1"), name=f"{tag}.conv2.2")
    y = b.bn(b.conv(y, planes * 4, 1, name=f"{tag}.conv3.0"), name=f"{tag}.conv3.1")
    short = _shortcut(b, x, planes * 4, stride, maker, tag)
    return b.act(b.eltwise([y, short], name=f"{tag}.add"), name=f"{tag}.relu")


def _video_stem(b: GraphBuilder, x: str, stem: str) -> str:
    if stem == "r2plus1d":
        x = b.conv(x, 45, (1, 7, 7), stride=(1, 2, 2), padding=(0, 3, 3), name="stem.0")
        x = b.act(b.bn(x, name="stem.1"), name="stem.2")
        x = b.conv(x, 64, (3, 1, 1), padding=(1, 0, 0), name="stem.3")
        return b.act(b.bn(x, name="stem.4"), name="stem.5")
    x = b.conv(x, 64, (3, 7, 7), stride=(1, 2, 2), padding=(1, 3, 3), name="stem.0")
    x = b.act(b.bn(x, name="stem.1"), name="stem.2")
    if stem == "basic_pool":
        x = b.pool(x, "max", (1, 3, 3), (1, 2, 2), (0, 1, 1), name="stem.3")
    return x


@family("video_resnet", VideoResNetParams, sample="clip")
def build_video_resnet(p: VideoResNetParams, name: str) -> Graph:
    """R3D / MC3 / R(2+1)D / CSN video classifier (torchvision VideoResNet, VMZ CSN)."""
    b = GraphBuilder(name)
    x = _video_stem(b, b.input("clip", (p.in_channels, *p.input_size)), p.stem)
    block = _bottleneck if p.block == "bottleneck" else _basic_block
    for i, (planes, n, maker) in enumerate(zip((64, 128, 256, 512), p.layers, p.conv_makers)):
        for j in range(n):
            stride = 2 if (i > 0 and j == 0) else 1
            x = block(b, x, planes, stride, maker, f"layer{i + 1}.{j}")
    b.linear(b.global_pool(x, name="avgpool"), p.num_classes, name="fc")
    return b.build()


class ResNeXt3DParams(FamilyParams):
    """Parameters of Hara et al.'s ``ResNeXt(ResNeXtBottleneck, layers, sample_size, ...)``."""

    layers: tuple[PositiveInt, PositiveInt, PositiveInt, PositiveInt] = Field(
        description="bottleneck blocks in each of the four stages (128, 256, 512, 1024 planes); "
        "[3, 4, 23, 3] is ResNeXt-101"
    )
    cardinality: int = Field(
        32,
        ge=1,
        description="groups of the 3x3x3 convs; bottleneck width = cardinality * planes / 32 "
        "channels, so each group has planes/32 = 4, 8, 16, 32 channels in stages 1-4",
    )
    input_size: tuple[PositiveInt, PositiveInt, PositiveInt] = Field(
        (16, 112, 112),
        description="clip size (frames T, height H, width W) in frames and pixels; Hara et al. "
        "use 16x112x112 (sample_duration 16, sample_size 112)",
    )
    in_channels: int = Field(3, ge=1, description="input channels per frame (3 for RGB)")
    num_classes: int = Field(400, ge=1, description="classifier outputs (400 for Kinetics-400)")


@family("resnext3d", ResNeXt3DParams, sample="clip")
def build_resnext3d(p: ResNeXt3DParams, name: str) -> Graph:
    """3D ResNeXt video classifier of Hara et al. 2018 (3x3x3 grouped convs, 7x7x7 stem)."""
    b = GraphBuilder(name)
    x = b.input("clip", (p.in_channels, *p.input_size))
    x = b.conv(x, 64, 7, stride=(1, 2, 2), padding=3, name="conv1")
    x = b.act(b.bn(x, name="bn1"), name="relu")
    x = b.pool(x, "max", (3, 3, 3), (2, 2, 2), (1, 1, 1), name="maxpool")
    for i, (planes, n) in enumerate(zip((128, 256, 512, 1024), p.layers)):
        width = p.cardinality * planes // 32
        for j in range(n):
            stride = 2 if (i > 0 and j == 0) else 1
            x = bottleneck(b, x, width, planes * 2, stride, p.cardinality, f"layer{i + 1}.{j}")
    b.linear(b.global_pool(x, name="avgpool"), p.num_classes, name="fc")
    return b.build()
