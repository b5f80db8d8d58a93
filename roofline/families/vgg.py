"""VGG (Simonyan & Zisserman 2015, https://arxiv.org/abs/1409.1556), as torchvision builds it.

torchvision ``models/vgg.py``: ``features`` is a Sequential of 3x3 convs (padding 1, with bias),
each followed by ReLU (and BN first with ``batch_norm``), and 2x2/2 max pools where the
configuration says ``M``; ``avgpool`` is adaptive average pooling to 7x7 (the identity window at
224x224 input, still run); ``classifier`` is FC 25088-4096, ReLU, dropout, FC 4096-4096, ReLU,
dropout, FC 4096-``num_classes`` (dropout is the identity at inference and is not an op). Op
names follow the Sequential indices (``features.0``, ``classifier.6``).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from roofline.errors import SpecError
from roofline.families.base import FamilyParams, Pixels, family
from roofline.graph import Graph
from roofline.graph_builder import GraphBuilder

#: torchvision's ``cfgs`` (Table 1 of the paper: A = VGG-11, B = 13, D = 16, E = 19); "M" = max pool
VGG_CONFIGS: dict[str, tuple[int | str, ...]] = {
    "A": (64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"),
    "B": (64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"),
    "D": (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"),
    "E": (
        64,
        64,
        "M",
        128,
        128,
        "M",
        256,
        256,
        256,
        256,
        "M",
        512,
        512,
        512,
        512,
        "M",
        512,
        512,
        512,
        512,
        "M",
    ),
}


#: the smallest image side the five 2x2/2 max pools (no padding) leave at least 1 pixel: 2**5
MIN_INPUT = 32


class VGGParams(FamilyParams):
    """Parameters of torchvision's ``VGG(make_layers(cfgs[config], batch_norm))``."""

    config: Literal["A", "B", "D", "E"] = Field(
        "D",
        description="layer configuration of the paper's Table 1 (A: VGG-11, B: VGG-13, "
        "D: VGG-16, E: VGG-19)",
    )
    batch_norm: bool = Field(False, description="BN after every conv (torchvision vgg*_bn)")
    hidden_features: int = Field(4096, ge=1, description="width of the two hidden FC layers")
    pool_size: int = Field(7, ge=1, description="adaptive average pool output (H = W), elements")
    input_size: tuple[Pixels, Pixels] = Field(
        (224, 224),
        description=f"input image (H, W) in pixels, at least {MIN_INPUT} (five 2x2/2 max pools)",
    )
    in_channels: int = Field(3, ge=1, description="input image channels")
    num_classes: int = Field(1000, ge=1, description="classifier outputs (ImageNet: 1000)")

    @model_validator(mode="after")
    def _check(self) -> VGGParams:
        if min(self.input_size) < MIN_INPUT:
            raise SpecError(
                f"input_size={list(self.input_size)} is too small: VGG's five 2x2 max pools "
                f"(stride 2, no padding) halve each side five times, leaving no pixel below "
                f"{MIN_INPUT}",
                field="input_size",
                fix=f"use at least {MIN_INPUT} pixels per side, e.g. [{MIN_INPUT}, {MIN_INPUT}]",
            )
        return self


def vgg_features(b: GraphBuilder, x: str, p: VGGParams) -> list[str]:
    """Add the ``features`` Sequential to ``b`` reading image tensor ``x``.

    Returns
    -------
    list of str
        The output of each max pool in order (strides 2, 4, 8, 16, 32).
    """
    outs = []
    i = 0
    for v in VGG_CONFIGS[p.config]:
        if v == "M":
            x = b.pool(x, "max", 2, 2, name=f"features.{i}")
            outs.append(x)
            i += 1
            continue
        x = b.conv(x, int(v), 3, padding=1, bias=True, name=f"features.{i}")
        if p.batch_norm:
            x = b.bn(x, name=f"features.{i + 1}")
            i += 1
        x = b.act(x, name=f"features.{i + 1}")
        i += 2
    return outs


@family("vgg", VGGParams, sample="image")
def build_vgg(p: VGGParams, name: str) -> Graph:
    """VGG image classifier (torchvision ``vgg11`` .. ``vgg19_bn``)."""
    b = GraphBuilder(name)
    x = b.input("image", (p.in_channels, *p.input_size))
    x = vgg_features(b, x, p)[-1]
    x = b.global_pool(x, output_size=(p.pool_size, p.pool_size), name="avgpool")
    # torch.flatten is a view: the first FC reads the pooled (C, 7, 7) map as one vector
    x = b.linear(x, p.hidden_features, name="classifier.0", features_from=0)
    x = b.act(x, name="classifier.1")
    x = b.act(b.linear(x, p.hidden_features, name="classifier.3"), name="classifier.4")
    b.linear(x, p.num_classes, name="classifier.6")
    return b.build()
