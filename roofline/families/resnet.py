"""ResNet, Wide ResNet and ResNeXt (torchvision's ``ResNet`` class).

Structure as torchvision builds it (He et al. 2016; Xie et al. 2017): a 7x7/2 stem conv, BN, ReLU,
3x3/2 max pool; four stages of ``layers[i]`` blocks with 64, 128, 256, 512 base planes, the first
block of stages 2-4 striding by 2 in its 3x3 conv (ResNet v1.5) with a 1x1/2 projection shortcut;
global average pooling and a ``num_classes`` FC. Bottleneck width = planes * width_per_group/64 *
groups, expansion 4; basic blocks are two 3x3 convs, expansion 1.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, PositiveInt, model_validator

from roofline.errors import SpecError
from roofline.families.base import FamilyParams, Pixels, family
from roofline.graph import Graph
from roofline.graph_builder import GraphBuilder


class ResNetParams(FamilyParams):
    """Parameters of torchvision's ``ResNet(block, layers, groups, width_per_group)``."""

    block: Literal["basic", "bottleneck"] = Field(
        "bottleneck",
        description="residual block: `basic` (two 3x3 convs, expansion 1; ResNet-18/34) or "
        "`bottleneck` (1x1, 3x3, 1x1 to 4x the planes; ResNet-50 and deeper)",
    )
    layers: tuple[PositiveInt, PositiveInt, PositiveInt, PositiveInt] = Field(
        description="blocks in each of the four stages (64, 128, 256, 512 base planes); "
        "ResNet-50: [3, 4, 6, 3]"
    )
    groups: int = Field(
        1, ge=1, description="cardinality of the 3x3 convs (ResNeXt); bottleneck blocks only"
    )
    width_per_group: int = Field(
        64,
        ge=1,
        description="channels per group at 64 base planes: bottleneck width = planes * "
        "width_per_group / 64 * groups (Wide ResNet-50-2: 128; ResNeXt 32x4d: 4); bottleneck "
        "blocks only",
    )
    input_size: tuple[Pixels, Pixels] = Field(
        (224, 224), description="input image (H, W) in pixels"
    )
    in_channels: int = Field(3, ge=1, description="input image channels")
    num_classes: int = Field(1000, ge=1, description="classifier outputs (ImageNet: 1000)")

    @model_validator(mode="after")
    def _check(self) -> ResNetParams:
        if self.block == "basic" and (self.groups != 1 or self.width_per_group != 64):
            field = "groups" if self.groups != 1 else "width_per_group"
            raise SpecError(
                f"{field}={getattr(self, field)} with block: basic; torchvision's BasicBlock "
                "supports only groups=1 and width_per_group=64 (two plain 3x3 convs)",
                field=field,
                fix="use block: bottleneck for ResNeXt and Wide ResNet, or remove groups and "
                "width_per_group",
            )
        return self


def bottleneck(
    b: GraphBuilder, x: str, width: int, out_channels: int, stride: int, groups: int, tag: str
) -> str:
    """Add a bottleneck block reading ``x`` (C, *spatial) in 2D or 3D; return its output tensor.

    1x1 conv to ``width``, BN, ReLU; 3x3 conv (``groups``, ``stride``), BN, ReLU; 1x1 conv to
    ``out_channels``, BN; a 1x1 projection (``stride``) + BN shortcut when the shape changes; add,
    ReLU. Op names are ``tag.conv1`` .. ``tag.relu3`` (torchvision's ``Bottleneck``, also Hara et
    al.'s ``ResNeXtBottleneck``).
    """
    y = b.act(
        b.bn(b.conv(x, width, 1, name=f"{tag}.conv1"), name=f"{tag}.bn1"), name=f"{tag}.relu1"
    )
    y = b.conv(y, width, 3, stride=stride, padding=1, groups=groups, name=f"{tag}.conv2")
    y = b.act(b.bn(y, name=f"{tag}.bn2"), name=f"{tag}.relu2")
    y = b.bn(b.conv(y, out_channels, 1, name=f"{tag}.conv3"), name=f"{tag}.bn3")
    if stride != 1 or b.shape(x)[0] != out_channels:
        x = b.bn(
            b.conv(x, out_channels, 1, stride=stride, name=f"{tag}.downsample.0"),
            name=f"{tag}.downsample.1",
        )
    return b.act(b.eltwise([y, x], name=f"{tag}.add"), name=f"{tag}.relu3")


def _bottleneck(
    b: GraphBuilder, x: str, planes: int, stride: int, p: ResNetParams, tag: str
) -> str:
    width = planes * p.width_per_group // 64 * p.groups
    return bottleneck(b, x, width, planes * 4, stride, p.groups, tag)


def _basic(b: GraphBuilder, x: str, planes: int, stride: int, p: ResNetParams, tag: str) -> str:
    y = b.conv(x, planes, 3, stride=stride, padding=1, name=f"{tag}.conv1")
    y = b.act(b.bn(y, name=f"{tag}.bn1"), name=f"{tag}.relu1")
    y = b.bn(b.conv(y, planes, 3, padding=1, name=f"{tag}.conv2"), name=f"{tag}.bn2")
    if stride != 1 or b.shape(x)[0] != planes:
        x = b.bn(
            b.conv(x, planes, 1, stride=stride, name=f"{tag}.downsample.0"),
            name=f"{tag}.downsample.1",
        )
    return b.act(b.eltwise([y, x], name=f"{tag}.add"), name=f"{tag}.relu2")


def resnet_stem(b: GraphBuilder, x: str) -> str:
    """torchvision's stem: conv 7x7/2 (64), BN, ReLU, max pool 3x3/2."""
    x = b.act(b.bn(b.conv(x, 64, 7, stride=2, padding=3, name="conv1"), name="bn1"), name="relu")
    return b.pool(x, "max", 3, 2, 1, name="maxpool")


def resnet_stages(b: GraphBuilder, x: str, p: ResNetParams) -> list[str]:
    """Return the outputs of the four stages (C2..C5 in detection terms)."""
    block = _bottleneck if p.block == "bottleneck" else _basic
    outs = []
    for i, (planes, n) in enumerate(zip((64, 128, 256, 512), p.layers)):
        for j in range(n):
            stride = 2 if (i > 0 and j == 0) else 1
            x = block(b, x, planes, stride, p, f"layer{i + 1}.{j}")
        outs.append(x)
    return outs


@family("resnet", ResNetParams, sample="image")
def build_resnet(p: ResNetParams, name: str) -> Graph:
    """ResNet / Wide ResNet / ResNeXt image classifier."""
    b = GraphBuilder(name)
    x = b.input("image", (p.in_channels, *p.input_size))
    x = resnet_stages(b, resnet_stem(b, x), p)[-1]
    x = b.global_pool(x, name="avgpool")
    b.linear(x, p.num_classes, name="fc")
    return b.build()
