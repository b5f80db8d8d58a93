"""Tensors that no op computes: a bare learnable parameter, and a constant.

``parameter``: a learnable tensor used directly rather than by a layer that owns it (ViT's class
token and position embedding, ConvNeXt's layer scale, Swin's relative-position bias table), or
one that exists but never runs (GoogLeNet's auxiliary heads at inference: ``used: false``).

* params = numel(shape); weight traffic = numel(shape) per run when used, 0 when not
* no activations, no FLOPs, no kernel launch; ops that read it count it as an input

``constant``: a tensor held with the model that is not a parameter and that no op in the graph
computes (a buffer: an attention mask, an index table). No params, no counts, no launch.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field

from roofline.kinds import OpCategory
from roofline.ops.base import Counts, Op, Shape, numel, register


class _Source(Op):
    category = OpCategory.OTHER
    launches_per_copy: ClassVar[int] = 0
    reads_inputs: ClassVar[bool] = False
    shape: tuple[int, ...] = Field(min_length=1, description="the tensor's shape")

    @property
    def out_shape(self) -> Shape:
        return self.shape


@register
class Parameter(_Source):
    """A learnable tensor read directly (no layer of its own); ``used: false``: never read."""

    kind: Literal["parameter"] = "parameter"
    used: bool = Field(
        True, description="read by the forward pass (false: held in memory, never read)"
    )

    def counts(self, batch: Any) -> Counts:
        n = float(numel(self.shape))
        return Counts(weight=n, weight_read=n if self.used else 0.0)


@register
class Constant(_Source):
    """A buffer or other constant tensor (no params, nothing counted)."""

    kind: Literal["constant"] = "constant"

    def counts(self, batch: Any) -> Counts:
        return Counts()
