"""Bring your own model: import from PyTorch (:func:`from_torch`), ONNX (:func:`from_onnx`) and
Hugging Face configs (:mod:`roofline.importers.hf_config`, ``rl.from_hf_config``).

Both build a ``layers``-family spec and load it with :func:`roofline.presets.build_model`, so an
imported model is a :class:`~roofline.presets.Model` like a preset, and
:func:`write_layers_spec` writes it as YAML that :func:`roofline.load_model` reloads with
identical counts, without torch or onnx. This package imports neither torch nor onnx until one
of its functions is called.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "from_torch": "torch_trace",
    "from_onnx": "onnx_import",
    "write_layers_spec": "spec_writer",
    "layers_spec": "spec_writer",
    "unused_params": "spec_writer",
    "UnmappedOpWarning": "builder",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    mod = _EXPORTS.get(name)
    if mod is None:
        raise AttributeError(f"module 'roofline.importers' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"roofline.importers.{mod}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
