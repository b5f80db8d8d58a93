"""Write a model's spec as YAML that :func:`roofline.load_model` reloads with identical counts.

An imported model is a ``layers`` spec from the start (:mod:`roofline.importers.builder`), so
writing it is writing that spec: top-level fields as block YAML, each op as one flow mapping on
its own line (``- {kind: conv, name: layer1.0.conv1, out_channels: 64, kernel_size: [3, 3]}``).
Reloading needs neither torch nor onnx. A preset (any other family) is written as its own spec.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def layers_spec(model: Any) -> dict[str, Any]:
    """Return the spec mapping of ``model`` (a :class:`~roofline.presets.Model`)."""
    return model.spec.model_dump(exclude_none=True)


def unused_params(model: Any) -> list[str]:
    """Names of the parameters an imported model holds but its forward never reads
    (``parameter`` ops with ``used: false``)."""
    return [
        op.name
        for op in model.graph.ops
        if op.kind == "parameter" and not getattr(op, "used", True)
    ]


def write_layers_spec(model: Any, path: str | os.PathLike[str]) -> Path:
    """Write ``model``'s spec to ``path`` (YAML) and return the path.

    Written atomically (:meth:`~roofline.presets.Model.to_yaml`): a failure leaves nothing
    half-written.

    Raises
    ------
    SpecError
        The directory does not exist or cannot be written.
    """
    model.to_yaml(str(path))
    return Path(path)
