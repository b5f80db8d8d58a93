"""Build a :class:`~roofline.graph.Graph` op by op, binding each op's input shape from the tensors
it reads (the family builders' tool)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError

from roofline.counting import check_countable
from roofline.errors import SpecError
from roofline.graph import Graph, Node
from roofline.ops import REGISTRY
from roofline.ops.base import Shape, numel
from roofline.spec_errors import from_validation_error
from roofline.units import MAX_EXACT


class GraphBuilder:
    """Build a :class:`Graph` op by op, binding each op's input shape from the tensors it reads.

    Family builders call the helpers (``conv``, ``bn``, ``act``...), which fill the input-shape
    fields (``in_channels``, ``input_size``, ``shape``...) from the input tensor, so a family states
    only what a PyTorch module constructor states.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self._inputs: dict[str, Shape] = {}
        self._nodes: list[Node] = []
        self._shapes: dict[str, Shape] = {}
        self._counter: dict[str, int] = {}

    # -- plumbing -------------------------------------------------------------------------------
    def input(self, name: str, shape: Sequence[int]) -> str:
        """Declare a graph input tensor of per-sample ``shape``; return its name."""
        if name in self._shapes:
            raise SpecError(f"tensor {name!r} is defined twice", field="inputs")
        self._inputs[name] = tuple(int(s) for s in shape)
        self._shapes[name] = self._inputs[name]
        _check_size(self._inputs[name], f"inputs.{name}")
        return name

    def shape(self, tensor: str) -> Shape:
        """Per-sample shape of a tensor."""
        return self._shapes[tensor]

    def __contains__(self, tensor: object) -> bool:
        """Whether a tensor (graph input or op output) of this name exists yet."""
        return tensor in self._shapes

    def tensors(self) -> list[str]:
        """Names of the tensors defined so far, in order."""
        return list(self._shapes)

    def unique(self, base: str) -> str:
        """Return ``base`` or ``base_N`` so that op names stay unique."""
        if base not in self._shapes:
            return base
        k = self._counter.get(base, 1)
        while f"{base}_{k}" in self._shapes:
            k += 1
        self._counter[base] = k + 1
        return f"{base}_{k}"

    def add(self, kind: str, inputs: Sequence[str], name: str | None = None, **fields: Any) -> str:
        """Append an op of ``kind`` reading ``inputs``; return its output tensor name."""
        for t in inputs:
            if t not in self._shapes:
                raise SpecError(
                    f"tensor {t!r} does not exist (define it before use)",
                    field=f"ops.{name or kind}.inputs",
                )
        cls = REGISTRY[kind]
        op_name = self.unique(name or kind)
        try:
            op = cls.model_validate({**fields, "kind": kind, "name": op_name})
        except ValidationError as exc:
            raise from_validation_error(exc, cls, file=None, prefix=f"ops.{op_name}") from None
        _check_size(op.out_shape, f"ops.{op_name}")
        self._nodes.append(Node(op, tuple(inputs)))
        self._shapes[op_name] = op.out_shape
        return op_name

    def add_bound(
        self, kind: str, inputs: Sequence[str], name: str | None = None, **fields: Any
    ) -> str:
        """:meth:`add` with the op's input-shape fields filled from ``inputs``
        (:meth:`roofline.ops.base.Op.bind`) where not given."""
        shapes = [self.shape(t) for t in inputs if t in self._shapes]
        return self.add(kind, inputs, name, **REGISTRY[kind].bind(shapes, fields))

    def build(self) -> Graph:
        """Return the finished graph."""
        if not self._nodes:
            raise SpecError("the model has no ops", field="ops", fix="add at least one op")
        graph = Graph(self.name, dict(self._inputs), tuple(self._nodes))
        check_countable(graph)
        return graph

    # -- helpers that bind input shapes ----------------------------------------------------------
    def conv(
        self,
        x: str,
        out_channels: int,
        kernel_size: int | Sequence[int],
        stride: int | Sequence[int] = 1,
        padding: int | Sequence[int] = 0,
        groups: int = 1,
        dilation: int | Sequence[int] = 1,
        bias: bool = False,
        name: str | None = None,
        repeat: int = 1,
    ) -> str:
        """Convolution reading (C, *spatial) tensor ``x``."""
        nd = len(self.shape(x)) - 1

        def tup(v: int | Sequence[int]) -> tuple[int, ...]:
            return (int(v),) * nd if isinstance(v, int) else tuple(int(i) for i in v)

        return self.add_bound(
            "conv",
            [x],
            name or "conv",
            out_channels=out_channels,
            kernel_size=tup(kernel_size),
            stride=tup(stride),
            padding=tup(padding),
            dilation=tup(dilation),
            groups=groups,
            bias=bias,
            repeat=repeat,
        )

    def bn(self, x: str, name: str | None = None) -> str:
        """Batch norm over dim 0 of ``x``."""
        return self.add_bound("batchnorm", [x], name or "bn")

    def act(self, x: str, function: str = "relu", name: str | None = None) -> str:
        """Pointwise activation."""
        return self.add_bound("activation", [x], name or function, function=function)

    def eltwise(self, xs: Sequence[str], op: str = "add", name: str | None = None) -> str:
        """Elementwise op over tensors of one shape."""
        return self.add_bound("elementwise", list(xs), name or op, op=op)

    def pool(
        self,
        x: str,
        mode: str,
        kernel_size: int | Sequence[int],
        stride: int | Sequence[int] | None = None,
        padding: int | Sequence[int] = 0,
        ceil_mode: bool = False,
        name: str | None = None,
    ) -> str:
        """Windowed max/avg pooling of (C, *spatial); ints apply to every spatial dim."""
        return self.add_bound(
            "pool",
            [x],
            name or f"{mode}pool",
            mode=mode,
            kernel_size=kernel_size,
            stride=stride if stride is not None else kernel_size,
            padding=padding,
            ceil_mode=ceil_mode,
        )

    def global_pool(
        self,
        x: str,
        mode: str = "avg",
        output_size: Sequence[int] | None = None,
        name: str | None = None,
    ) -> str:
        """Adaptive pooling of (C, *spatial) to ``output_size`` (default all ones: global)."""
        out = tuple(output_size) if output_size else (1,) * (len(self.shape(x)) - 1)
        return self.add_bound("adaptive_pool", [x], name or "avgpool", mode=mode, output_size=out)

    def linear(
        self,
        x: str,
        out_features: int,
        bias: bool = True,
        name: str | None = None,
        repeat: int = 1,
        features_from: int | None = None,
    ) -> str:
        """Linear over the last dim of ``x`` (all leading dims are rows); flattens (C, 1, 1).

        ``features_from=k`` flattens the per-sample dims from k on into the features, as
        ``torch.flatten(x, 1 + k)`` does before the layer (VGG's classifier: 0; a box head over
        (RoIs, C, 7, 7): 1); the dims before k are rows.
        """
        flat: dict[str, int] = {}
        if features_from is not None:
            shape = self.shape(x)
            flat = {
                "in_features": numel(shape[features_from:]),
                "rows": numel(shape[:features_from]),
            }
        return self.add_bound(
            "linear", [x], name or "fc", out_features=out_features, bias=bias, repeat=repeat, **flat
        )

    def concat(self, xs: Sequence[str], dim: int = 0, name: str | None = None) -> str:
        """Concatenate along per-sample ``dim``."""
        return self.add_bound("concat", list(xs), name or "cat", dim=dim)


def _check_size(shape: Shape, field: str) -> None:
    """A SpecError for a per-sample tensor of more than 2**53 elements."""
    if numel(shape) > MAX_EXACT:
        raise SpecError(
            f"a tensor of {float(numel(shape)):.4g} elements per sample is beyond 2**53",
            field=field,
            fix="check the shape (per sample, without the batch)",
        )
