"""Pooling: max and average with a window, adaptive, and global (1D/2D/3D).

Legend: C channels, I input volume, P output volume, R window volume (prod of kernel_size).

* windowed max / avg: FLOPs = C * P * R (one compare or add per window element; the average's
  divide is folded into the last add); output size by PyTorch's formula (``ceil_mode`` supported)
* adaptive to ``output_size``: output j of a dim reads PyTorch's window
  [floor(j*in/out), ceil((j+1)*in/out)), so FLOPs = C * prod over dims of the summed window
  lengths (windows may overlap); global pooling is adaptive to 1 (FLOPs = C * I)
* activations in = C * I, out = C * P; no params
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from roofline.kinds import OpCategory
from roofline.ops.base import Counts, Op, Shape, check_spatial, numel, register
from roofline.ops.conv import bind_channels


def _pool_out(size: int, k: int, s: int, p: int, ceil_mode: bool) -> int:
    span = size + 2 * p - k
    out = (-(-span // s) if ceil_mode else span // s) + 1
    if ceil_mode and (out - 1) * s >= size + p:
        out -= 1  # PyTorch: the last window must start inside the input or left padding
    return out


@register
class Pool(Op):
    """Max or average pooling with a window (``nn.MaxPool2d``, ``nn.AvgPool3d``...)."""

    category = OpCategory.POOLING
    kind: Literal["pool"] = "pool"

    @classmethod
    def bind(cls, shapes: list[Shape], fields: dict[str, Any]) -> dict[str, Any]:
        """Channels and spatial size from the (C, *spatial) input."""
        return bind_channels(shapes, fields, "channels")

    mode: Literal["max", "avg"] = "max"
    channels: int = Field(ge=1)
    input_size: tuple[int, ...] = Field(min_length=1, max_length=3)
    kernel_size: tuple[int, ...]
    stride: tuple[int, ...] = ()
    padding: tuple[int, ...] = ()
    ceil_mode: bool = False

    @model_validator(mode="before")
    @classmethod
    def _broadcast(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("input_size"), (list, tuple)):
            data = dict(data)
            nd = len(data["input_size"])
            ks = data.get("kernel_size")
            for key, default in (("kernel_size", None), ("stride", ks), ("padding", 0)):
                val = data.get(key, default)
                if val is None or val == ():
                    val = ks
                if isinstance(val, int) and not isinstance(val, bool):
                    data[key] = (val,) * nd
        return data

    @model_validator(mode="after")
    def _check(self) -> Pool:
        sizes = {k: getattr(self, k) for k in ("input_size", "kernel_size", "stride", "padding")}
        least = {"kernel_size": 1, "stride": 1, "padding": 0, "input_size": 1}
        check_spatial("input_size", sizes, least)
        if min(self.output_size) < 1:
            raise ValueError(
                f"kernel_size={list(self.kernel_size)} is larger than the padded input "
                f"{list(self.input_size)} (a smaller window, or more padding)"
            )
        if any(2 * p > k for p, k in zip(self.padding, self.kernel_size)):
            raise ValueError(
                f"padding={list(self.padding)} is more than half of kernel_size="
                f"{list(self.kernel_size)} (PyTorch refuses it: pad at most half the window)"
            )
        return self

    @property
    def output_size(self) -> tuple[int, ...]:
        return tuple(
            _pool_out(i, k, s, p, self.ceil_mode)
            for i, k, s, p in zip(self.input_size, self.kernel_size, self.stride, self.padding)
        )

    def counts(self, batch: Any) -> Counts:
        p = numel(self.output_size)
        return Counts(
            act_in=batch * self.channels * numel(self.input_size),
            act_out=batch * self.channels * p,
            vector_flops=batch * self.channels * p * numel(self.kernel_size),
        )

    @property
    def out_shape(self) -> Shape:
        return (self.channels, *self.output_size)


@register
class AdaptivePool(Op):
    """Adaptive (and, with output_size all 1, global) max or average pooling."""

    category = OpCategory.POOLING
    kind: Literal["adaptive_pool"] = "adaptive_pool"

    @classmethod
    def bind(cls, shapes: list[Shape], fields: dict[str, Any]) -> dict[str, Any]:
        """Channels and spatial size from the (C, *spatial) input."""
        return bind_channels(shapes, fields, "channels")

    mode: Literal["max", "avg"] = "avg"
    channels: int = Field(ge=1)
    input_size: tuple[int, ...] = Field(min_length=1, max_length=3)
    output_size: tuple[int, ...] = ()

    @model_validator(mode="before")
    @classmethod
    def _broadcast(cls, data: Any) -> Any:
        size = data.get("output_size") if isinstance(data, dict) else None
        if isinstance(size, int) and not isinstance(size, bool):
            data = {**data, "output_size": (size,) * len(data.get("input_size") or (0,))}
        return data

    @model_validator(mode="after")
    def _check(self) -> AdaptivePool:
        if not self.output_size:
            object.__setattr__(self, "output_size", (1,) * len(self.input_size))
        if len(self.output_size) != len(self.input_size) or min(self.output_size) < 1:
            raise ValueError(
                f"output_size={list(self.output_size)} does not fit input_size="
                f"{list(self.input_size)} (positive sizes, one per spatial dim)"
            )
        return self

    def counts(self, batch: Any) -> Counts:
        reads = 1
        for i, o in zip(self.input_size, self.output_size):
            # PyTorch's window j spans [floor(j*i/o), ceil((j+1)*i/o)): windows may overlap
            reads *= sum(-(-(j + 1) * i // o) - (j * i // o) for j in range(o))
        return Counts(
            act_in=batch * self.channels * numel(self.input_size),
            act_out=batch * self.channels * numel(self.output_size),
            vector_flops=batch * self.channels * reads,
        )

    @property
    def out_shape(self) -> Shape:
        return (self.channels, *self.output_size)
