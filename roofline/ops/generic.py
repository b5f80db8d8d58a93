"""An operation no other op kind describes: a vector op costed by the bytes it moves.

The importers (:mod:`roofline.importers`) write one for each framework op they cannot map (named
in ``operation``, e.g. ``aten.cumsum.default``), so that no op counts as zero silently; a spec
may also use it for any custom kernel.

* activations in = the sum of the input shapes' elements, out = numel(output_shape) (per sample)
* vector FLOPs = ``flops_per_element`` x output elements (default 0); no params
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from roofline.kinds import OpCategory
from roofline.ops.base import Counts, Op, Shape, bind_field, numel, register


@register
class Generic(Op):
    """A vector op costed by its bytes: reads ``input_shapes``, writes ``output_shape``."""

    category = OpCategory.OTHER
    kind: Literal["generic"] = "generic"
    operation: str = Field("", description="what it stands for (a framework op name)")
    input_shapes: tuple[tuple[int, ...], ...] = Field(
        (), description="per-sample shape of each input"
    )
    output_shape: tuple[int, ...] = Field(min_length=1, description="per-sample output shape")
    flops_per_element: float = Field(0.0, ge=0, description="vector FLOPs per output element")

    @classmethod
    def bind(cls, shapes: list[Shape], fields: dict[str, Any]) -> dict[str, Any]:
        """The shapes of every input."""
        out = dict(fields)
        bind_field(out, "input_shapes", tuple(tuple(s) for s in shapes))
        return out

    @property
    def out_shape(self) -> Shape:
        return self.output_shape

    def counts(self, batch: Any) -> Counts:
        n = batch * numel(self.output_shape)
        return Counts(
            act_in=batch * sum(numel(s) for s in self.input_shapes),
            act_out=n,
            vector_flops=self.flops_per_element * n,
        )
