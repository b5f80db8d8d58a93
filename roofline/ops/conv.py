"""N-dimensional convolution (1D, 2D, 3D) with stride, padding, dilation and groups.

Legend: B batch, C in_channels, K out_channels, g groups, R kernel volume (prod of kernel_size),
P output volume (prod of output spatial size), I input volume.

* output size per dim = floor((in + 2*pad - dil*(k-1) - 1) / stride) + 1 (PyTorch's formula)
* MACs = B * K * P * (C/g) * R; FLOPs = 2 * MACs (as torch's FLOP counter)
* params = K * (C/g) * R (+ K bias)
* activations in = C * I, out = K * P (per sample)
* engine: a GEMM per group (implicit im2col): M = B*P, N = K/g, K = (C/g)*R, count = g, on the
  matrix engine; a depthwise / channel-wise convolution (C/g == 1) has no reduction over channels
  and runs on the vector engine, which is where the paper places it (Section 4: depthwise and
  channel-wise convolutions need flexible vector units)
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, model_validator

from roofline.kinds import OpCategory
from roofline.ops.base import (
    Counts,
    Gemm,
    Op,
    Shape,
    bind_field,
    check_spatial,
    numel,
    rank_error,
    register,
)


def conv_out_size(size: int, kernel: int, stride: int, padding: int, dilation: int) -> int:
    """Return one spatial output dimension by PyTorch's formula (may be < 1 for invalid input)."""
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def per_dim(data: Any, defaults: dict[str, int | None]) -> Any:
    """A conv's raw fields ``data`` with each per-dim field of ``defaults`` written as one int
    (or left out: its default) repeated over the spatial dims, their number read from
    ``kernel_size`` or else ``input_size`` where one is a list (what is not a mapping, as given)."""
    if not isinstance(data, dict):
        return data
    data = dict(data)
    nd = None
    for key in ("kernel_size", "input_size"):
        if isinstance(data.get(key), (list, tuple)):
            nd = len(data[key])
            break
    if nd is not None:
        for key, default in defaults.items():
            val = data.get(key, default)
            if isinstance(val, int) and not isinstance(val, bool):
                data[key] = (val,) * nd
    return data


def bind_channels(shapes: list[Shape], fields: dict[str, Any], channels: str) -> dict[str, Any]:
    """Fill (or check) ``channels`` and ``input_size`` from a (C, *spatial) input."""
    out = dict(fields)
    s = tuple(shapes[0]) if shapes else ()
    if len(s) < 2:
        raise rank_error(s, "(channels, *spatial) with 1 to 3 spatial dims")
    bind_field(out, channels, s[0])
    bind_field(out, "input_size", s[1:])
    return out


class ConvBase(Op):
    """What a conv and a transposed conv share: binding, checks, the depthwise test, the output
    shape (no fields: each kind lists its own, so that its field order stays its own)."""

    if TYPE_CHECKING:
        in_channels: int
        out_channels: int
        kernel_size: tuple[int, ...]
        groups: int

    @classmethod
    def bind(cls, shapes: list[Shape], fields: dict[str, Any]) -> dict[str, Any]:
        """Channels and spatial size from the (C, *spatial) input."""
        return bind_channels(shapes, fields, "in_channels")

    def _check_dims(self, per_dim: tuple[str, ...]) -> None:
        """A ValueError unless the op has 1 to 3 spatial dims, each per-dim field in ``per_dim``
        has one entry per dim (kernel, stride, dilation and input size >= 1, the rest >= 0),
        and groups divides both channel counts."""
        nd = len(self.kernel_size)
        if nd not in (1, 2, 3):
            raise ValueError(
                f"kernel_size={list(self.kernel_size)} has {nd} dims (1, 2 or 3 are supported)"
            )
        least = dict.fromkeys(("kernel_size", "stride", "dilation", "input_size"), 1)
        least |= {k: 0 for k in per_dim if k not in least}
        check_spatial("kernel_size", {k: getattr(self, k) for k in per_dim}, least)
        if self.in_channels % self.groups or self.out_channels % self.groups:
            raise ValueError(
                f"groups={self.groups} must divide in_channels={self.in_channels} "
                f"and out_channels={self.out_channels} (a divisor of both)"
            )

    @cached_property
    def output_size(self) -> tuple[int, ...]:  # pragma: no cover - every conv defines it
        """Spatial output size."""
        raise NotImplementedError

    @property
    def depthwise(self) -> bool:
        """True when each group has one input channel (depthwise / channel-wise: no reduction,
        the vector engine)."""
        return self.in_channels == self.groups

    @property
    def out_shape(self) -> Shape:
        return (self.out_channels, *self.output_size)


@register
class Conv(ConvBase):
    """Convolution over ``len(kernel_size)`` spatial dims (``torch.nn.Conv1d/2d/3d``)."""

    category = OpCategory.CONV
    kind: Literal["conv"] = "conv"
    in_channels: int = Field(ge=1)
    out_channels: int = Field(ge=1)
    kernel_size: tuple[int, ...]
    input_size: tuple[int, ...] = Field(description="spatial input size (L), (H, W) or (T, H, W)")
    stride: tuple[int, ...] = ()
    padding: tuple[int, ...] = ()
    dilation: tuple[int, ...] = ()
    groups: int = Field(1, ge=1)
    bias: bool = False

    @model_validator(mode="before")
    @classmethod
    def _broadcast(cls, data: Any) -> Any:
        return per_dim(data, {"kernel_size": None, "stride": 1, "padding": 0, "dilation": 1})

    @model_validator(mode="after")
    def _check(self) -> Conv:
        self._check_dims(("kernel_size", "input_size", "stride", "padding", "dilation"))
        if min(self.output_size) < 1:
            raise ValueError(
                f"kernel_size={list(self.kernel_size)} (dilation {list(self.dilation)}) is larger "
                f"than the padded input {list(self.input_size)} + 2*{list(self.padding)} "
                "(a smaller kernel, or more padding)"
            )
        return self

    @cached_property
    def output_size(self) -> tuple[int, ...]:
        """Spatial output size."""
        return tuple(
            conv_out_size(i, k, s, p, d)
            for i, k, s, p, d in zip(
                self.input_size, self.kernel_size, self.stride, self.padding, self.dilation
            )
        )

    @cached_property
    def _dims(self) -> tuple[int, int, int, int, int]:
        """(output volume P, kernel volume R, channels per group, weights, input elements)."""
        p = numel(self.output_size)
        r = numel(self.kernel_size)
        cg = self.in_channels // self.groups
        w = self.out_channels * cg * r + (self.out_channels if self.bias else 0)
        return p, r, cg, w, self.in_channels * numel(self.input_size)

    def counts(self, batch: Any) -> Counts:
        p, r, cg, w, n_in = self._dims
        act_in = batch * n_in
        act_out = batch * self.out_channels * p
        if self.depthwise:
            return Counts(
                weight=float(w),
                act_in=act_in,
                act_out=act_out,
                vector_flops=2.0 * batch * self.out_channels * p * r,
                vector_mac_flops=2.0 * batch * self.out_channels * p * r,
            )
        gemm = Gemm(batch * p, self.out_channels // self.groups, cg * r, self.groups, "m")
        return Counts(weight=float(w), act_in=act_in, act_out=act_out, gemms=(gemm,))
