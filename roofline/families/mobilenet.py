"""MobileNet v2 (Sandler et al. 2018, https://arxiv.org/abs/1801.04381), as torchvision builds it.

torchvision ``models/mobilenetv2.py``: ``features.0`` conv 3x3/2 (32) + BN + ReLU6; seventeen
inverted residual blocks from the (t, c, n, s) table (expansion t, output channels c, repeats n,
stride s of the first repeat); ``features.18`` conv 1x1 (1280) + BN + ReLU6; global average pool;
dropout (identity at inference) and ``classifier.1`` FC. A block: 1x1 expansion to ``inp * t``
channels + BN + ReLU6 (absent when t = 1), depthwise 3x3 (stride) + BN + ReLU6, linear 1x1
projection + BN, plus the identity when stride = 1 and input channels = output channels. Widths
scale by ``width_mult`` rounded to multiples of ``round_nearest`` (torchvision's
``_make_divisible``); the last conv keeps at least 1280 channels.
"""

from __future__ import annotations

from pydantic import Field, model_validator

from roofline.errors import SpecError
from roofline.families.base import FamilyParams, Pixels, family
from roofline.graph import Graph
from roofline.graph_builder import GraphBuilder

#: torchvision's ``inverted_residual_setting``: (expansion t, channels c, repeats n, stride s)
MOBILENET_V2_SETTING: tuple[tuple[int, int, int, int], ...] = (
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)


def make_divisible(v: float, divisor: int, min_value: int | None = None) -> int:
    """Round ``v`` channels to a multiple of ``divisor``, never below 90% of ``v`` (torchvision)."""
    min_value = min_value or divisor
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


#: the names of a setting entry's four values, in order
_SETTING_NAMES = ("expansion t", "channels c", "repeats n", "stride s")


class MobileNetV2Params(FamilyParams):
    """Parameters of torchvision's ``MobileNetV2(width_mult, round_nearest)``."""

    width_mult: float = Field(1.0, gt=0, description="width multiplier applied to every layer")
    round_nearest: int = Field(8, ge=1, description="channel counts rounded to this multiple")
    inverted_residual_setting: tuple[tuple[int, int, int, int], ...] = Field(
        MOBILENET_V2_SETTING,
        min_length=1,
        description="blocks as (expansion t, output channels c, repeats n, first stride s), "
        "Table 2 of Sandler et al. 2018; t, c, n >= 1 and s 1 or 2",
    )
    stem_channels: int = Field(32, ge=1, description="output channels of the 3x3/2 stem conv")
    last_channel: int = Field(1280, ge=1, description="output channels of the final 1x1 conv")
    input_size: tuple[Pixels, Pixels] = Field(
        (224, 224), description="input image (H, W) in pixels"
    )
    in_channels: int = Field(3, ge=1, description="input image channels")
    num_classes: int = Field(1000, ge=1, description="classifier outputs (ImageNet: 1000)")

    @model_validator(mode="after")
    def _check(self) -> MobileNetV2Params:
        for i, entry in enumerate(self.inverted_residual_setting):
            for name, value in zip(_SETTING_NAMES, entry):
                bad = value not in (1, 2) if name == "stride s" else value < 1
                if bad:
                    want = "1 or 2" if name == "stride s" else "at least 1"
                    raise SpecError(
                        f"{name}={value} in (t, c, n, s) = {list(entry)}; it must be {want}",
                        field=f"inverted_residual_setting[{i}]",
                        fix="write each entry as [t, c, n, s]: expansion t >= 1, output channels "
                        "c >= 1, repeats n >= 1, stride s 1 or 2 (as torchvision's blocks take)",
                    )
        return self


def _conv_bn_act(
    b: GraphBuilder, x: str, out: int, k: int, tag: str, *, stride: int = 1, groups: int = 1
) -> str:
    """torchvision's ``Conv2dNormActivation``: conv (``tag.0``), BN (``.1``), ReLU6 (``.2``)."""
    y = b.conv(x, out, k, stride=stride, padding=(k - 1) // 2, groups=groups, name=f"{tag}.0")
    return b.act(b.bn(y, name=f"{tag}.1"), "relu6", name=f"{tag}.2")


def _inverted_residual(b: GraphBuilder, x: str, out: int, stride: int, t: int, tag: str) -> str:
    inp = b.shape(x)[0]
    hidden = int(round(inp * t))
    y, i = x, 0
    if t != 1:
        y, i = _conv_bn_act(b, y, hidden, 1, f"{tag}.conv.0"), 1
    y = _conv_bn_act(b, y, hidden, 3, f"{tag}.conv.{i}", stride=stride, groups=hidden)
    y = b.bn(b.conv(y, out, 1, name=f"{tag}.conv.{i + 1}"), name=f"{tag}.conv.{i + 2}")
    if stride == 1 and inp == out:
        y = b.eltwise([y, x], name=f"{tag}.add")
    return y


def mobilenet_v2_features(b: GraphBuilder, x: str, p: MobileNetV2Params) -> list[str]:
    """Add ``features.0`` .. ``features.18`` to ``b`` reading image tensor ``x``.

    Returns
    -------
    list of str
        The output of each ``features.i`` module in order (19 tensors; strides 2 .. 32).
    """
    r = p.round_nearest
    x = _conv_bn_act(
        b, x, make_divisible(p.stem_channels * p.width_mult, r), 3, "features.0", stride=2
    )
    outs, idx = [x], 1
    for t, c, n, s in p.inverted_residual_setting:
        out = make_divisible(c * p.width_mult, r)
        for j in range(n):
            x = _inverted_residual(b, x, out, s if j == 0 else 1, t, f"features.{idx}")
            outs.append(x)
            idx += 1
    last = make_divisible(p.last_channel * max(1.0, p.width_mult), r)
    outs.append(_conv_bn_act(b, x, last, 1, f"features.{idx}"))
    return outs


@family("mobilenet_v2", MobileNetV2Params, sample="image")
def build_mobilenet_v2(p: MobileNetV2Params, name: str) -> Graph:
    """MobileNet v2 image classifier (torchvision ``mobilenet_v2``)."""
    b = GraphBuilder(name)
    x = b.input("image", (p.in_channels, *p.input_size))
    x = b.global_pool(mobilenet_v2_features(b, x, p)[-1], name="avgpool")
    b.linear(x, p.num_classes, name="classifier.1")
    return b.build()
