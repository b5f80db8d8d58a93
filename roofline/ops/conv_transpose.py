"""N-dimensional transposed convolution (1D, 2D, 3D): stride, padding, output padding, dilation,
groups (``torch.nn.ConvTranspose1d/2d/3d``, ONNX ``ConvTranspose``).

Legend as :mod:`roofline.ops.conv`: B batch, C in_channels, K out_channels, g groups, R kernel
volume, I input volume, P output volume.

* output size per dim = (in - 1)*stride - 2*pad + dil*(k-1) + output_padding + 1 (PyTorch's
  formula); output_padding < stride or < dilation, as PyTorch requires
* each input element is scattered through the whole kernel: MACs = B * I * C * (K/g) * R;
  FLOPs = 2 * MACs, what torch's FLOP counter counts (set by the input, not the output)
* params = C * (K/g) * R (+ K bias); the weight is (C, K/g, *kernel_size)
* activations in = C * I, out = K * P (per sample)
* engine: a GEMM per group (the input's columns times the kernel, then col2im): M = B*I,
  N = (K/g)*R, K = C/g, count = g, on the matrix engine; with one input channel per group
  (C/g == 1) nothing is reduced and it runs on the vector engine, as a depthwise conv
"""

from __future__ import annotations

from functools import cached_property
from typing import Any, Literal

from pydantic import Field, model_validator

from roofline.kinds import OpCategory
from roofline.ops.base import Counts, Gemm, numel, register
from roofline.ops.conv import ConvBase, per_dim


def conv_transpose_out_size(
    size: int, kernel: int, stride: int, padding: int, output_padding: int, dilation: int
) -> int:
    """Return one spatial output dimension by PyTorch's formula (may be < 1 for invalid input)."""
    return (size - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1


def output_padding_ok(output_padding: int, stride: int, dilation: int) -> bool:
    """Whether one dim's output padding is below its stride or its dilation, as PyTorch requires."""
    return output_padding < stride or output_padding < dilation


@register
class ConvTranspose(ConvBase):
    """Transposed convolution over ``len(kernel_size)`` spatial dims."""

    category = OpCategory.CONV
    kind: Literal["conv_transpose"] = "conv_transpose"
    in_channels: int = Field(ge=1)
    out_channels: int = Field(ge=1)
    kernel_size: tuple[int, ...] = Field(
        description="kernel extent per spatial dim (an int repeats over the dims)"
    )
    input_size: tuple[int, ...] = Field(description="spatial input size (L), (H, W) or (T, H, W)")
    stride: tuple[int, ...] = Field(
        (), description="stride per spatial dim (an int repeats; default 1)"
    )
    padding: tuple[int, ...] = Field(
        (), description="rows cut from each side of the output per spatial dim (default 0)"
    )
    output_padding: tuple[int, ...] = Field(
        (), description="extra output size on one side per spatial dim (default 0)"
    )
    dilation: tuple[int, ...] = Field(
        (), description="kernel dilation per spatial dim (an int repeats; default 1)"
    )
    groups: int = Field(1, ge=1)
    bias: bool = Field(False, description="a bias of out_channels (in params)")

    @model_validator(mode="before")
    @classmethod
    def _broadcast(cls, data: Any) -> Any:
        return per_dim(
            data,
            {"kernel_size": None, "stride": 1, "padding": 0, "output_padding": 0, "dilation": 1},
        )

    @model_validator(mode="after")
    def _check(self) -> ConvTranspose:
        self._check_dims(
            ("kernel_size", "stride", "padding", "output_padding", "dilation", "input_size")
        )
        for op, s, d in zip(self.output_padding, self.stride, self.dilation):
            if not output_padding_ok(op, s, d):
                raise ValueError(
                    f"output_padding={list(self.output_padding)} must be smaller than the stride "
                    f"{list(self.stride)} or the dilation {list(self.dilation)} in each dim"
                )
        if min(self.output_size) < 1:
            raise ValueError(
                f"padding={list(self.padding)} leaves no output of the input "
                f"{list(self.input_size)} (less padding)"
            )
        return self

    @cached_property
    def output_size(self) -> tuple[int, ...]:
        """Spatial output size."""
        return tuple(
            conv_transpose_out_size(*dims)
            for dims in zip(
                self.input_size,
                self.kernel_size,
                self.stride,
                self.padding,
                self.output_padding,
                self.dilation,
            )
        )

    def counts(self, batch: Any) -> Counts:
        i, r = numel(self.input_size), numel(self.kernel_size)
        cg, kg = self.in_channels // self.groups, self.out_channels // self.groups
        w = self.in_channels * kg * r + (self.out_channels if self.bias else 0)
        act_in = batch * self.in_channels * i
        act_out = batch * self.out_channels * numel(self.output_size)
        if self.depthwise:
            flops = 2.0 * batch * i * self.in_channels * kg * r
            return Counts(
                weight=float(w),
                act_in=act_in,
                act_out=act_out,
                vector_flops=flops,
                vector_mac_flops=flops,
            )
        gemm = Gemm(batch * i, kg * r, cg, self.groups, "m")
        return Counts(weight=float(w), act_in=act_in, act_out=act_out, gemms=(gemm,))
