"""One convolution (one set of weights) applied in turn to several feature maps.

Feature-pyramid heads run the same module on every pyramid level: torchvision's ``RPNHead`` (its
3x3 conv and the 1x1 ``cls_logits`` / ``bbox_pred``) and RetinaNet's heads. ``parameters()``
holds those weights once, so a head is one op with a list of per-level input sizes rather than
one conv op per level (which would count the weights once per level).

Per level l, with the legend of :mod:`roofline.ops.conv` and P_l the level's output volume:

* MACs_l = B * K * P_l * (C/g) * R; FLOPs = 2 * sum_l MACs_l
* params = K * (C/g) * R (+ K bias), once for all levels; weight traffic likewise once
* activations in = C * sum_l I_l, out = K * sum_l P_l (per sample)
* engine: one GEMM per level (M = B * P_l), or vector FLOPs when depthwise, as a conv
* output tensor: (K, sum_l P_l), the levels flattened and concatenated in order, as torchvision's
  ``concat_box_prediction_layers`` lays them out for the proposal stage

One op for all levels means its output for every level is alive at once, where torchvision's
loop holds the largest level's intermediate only: an upper bound on live activations (for the
ResNet-50-FPN RPN at 800x800: 256 x 53,294 vs 256 x 40,000 elements per intermediate).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, ValidationError, model_validator

from roofline.kinds import OpCategory
from roofline.ops.base import Counts, Op, Shape, numel, register
from roofline.ops.conv import Conv


@register
class SharedConv(Op):
    """A convolution shared by ``len(input_sizes)`` feature maps (an FPN head)."""

    category = OpCategory.CONV
    kind: Literal["shared_conv"] = "shared_conv"
    in_channels: int = Field(ge=1)
    out_channels: int = Field(ge=1)
    kernel_size: tuple[int, ...]
    input_sizes: tuple[tuple[int, ...], ...] = Field(
        min_length=1, description="spatial input size of each feature map it is applied to"
    )
    stride: int = Field(1, ge=1)
    padding: int = Field(0, ge=0)
    groups: int = Field(1, ge=1)
    bias: bool = False

    @model_validator(mode="after")
    def _check(self) -> SharedConv:
        for i, size in enumerate(self.input_sizes):
            if len(size) != len(self.kernel_size):
                raise ValueError(
                    f"input_sizes[{i}]={size} must have {len(self.kernel_size)} dims like "
                    f"kernel_size={self.kernel_size}"
                )
        try:
            self.levels()
        except ValidationError as exc:
            msg = exc.errors()[0]["msg"].removeprefix("Value error, ")
            raise ValueError(f"as a conv on one of input_sizes={self.input_sizes}: {msg}") from None
        return self

    def levels(self) -> tuple[Conv, ...]:
        """Return the convolution of each level (sharing these weights)."""
        nd = len(self.kernel_size)
        shape = {
            "in_channels": self.in_channels,
            "out_channels": self.out_channels,
            "kernel_size": self.kernel_size,
            "stride": (self.stride,) * nd,
            "padding": (self.padding,) * nd,
            "dilation": (1,) * nd,
            "groups": self.groups,
            "bias": self.bias,
        }
        return tuple(
            Conv(kind="conv", name=f"{self.name}[{i}]", input_size=size, **shape)
            for i, size in enumerate(self.input_sizes)
        )

    def counts(self, batch: Any) -> Counts:
        per = [conv.counts(batch) for conv in self.levels()]
        return Counts(
            weight=per[0].weight,
            act_in=sum(c.act_in for c in per),
            act_out=sum(c.act_out for c in per),
            vector_flops=sum(c.vector_flops for c in per),
            vector_mac_flops=sum(c.vector_mac_flops for c in per),
            gemms=tuple(g for c in per for g in c.gemms),
        )

    @property
    def out_shape(self) -> Shape:
        return (self.out_channels, sum(numel(conv.output_size) for conv in self.levels()))
