"""Load models and devices by preset name, file path or mapping."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from roofline.errors import SpecError
from roofline.families import FAMILIES, FamilyParams
from roofline.graph import Graph
from roofline.hardware import Hardware
from roofline.specs import ModelSpec, load_spec_data, preset_names, resolve_spec, validate
from roofline.suggest import did_you_mean


@dataclass(frozen=True, eq=False)
class Model:
    """A loaded model: its spec, validated family parameters and its graph.

    Attributes
    ----------
    name, family : str
    sample : str
        What one unit of batch is (image, clip, request, sequence...).
    spec : ModelSpec
    params : FamilyParams
    graph : Graph
    path : str or None
        The spec file, if loaded from one.
    """

    name: str
    family: str
    sample: str
    spec: ModelSpec
    params: FamilyParams
    graph: Graph
    path: str | None = None

    def with_params(self, **changes: Any) -> Model:
        """Return the model rebuilt with family parameters changed (a what-if)."""
        data = self.spec.model_dump()
        data["params"] = {**self.params.model_dump(), **changes}
        return build_model(data, file=self.path)

    def __repr__(self) -> str:
        return f"Model({self.name!r}, family={self.family!r}, ops={len(self.graph.nodes)})"


def build_model(data: dict[str, Any], *, file: str | None = None) -> Model:
    """Validate a model spec mapping and build its graph."""
    spec: ModelSpec = validate(ModelSpec, data, file=file)
    fam = FAMILIES.get(spec.family)
    if fam is None:
        raise SpecError(
            f"unknown family {spec.family!r}",
            file=file,
            field="family",
            fix=did_you_mean(spec.family, FAMILIES, "use one of " + ", ".join(sorted(FAMILIES))),
        )
    params = validate(fam.params, spec.params, file=file, prefix="params")
    try:
        graph = fam.build(params, spec.name)
    except SpecError as exc:
        raise exc.with_context(file=file, prefix="params") from None
    return Model(spec.name, spec.family, fam.sample, spec, params, graph, file)


_MODEL_CACHE: dict[tuple[str, float], Model] = {}


def load_model(model: str | os.PathLike[str] | dict[str, Any] | Model) -> Model:
    """Return a :class:`Model` from a preset name, a YAML path, a mapping or a Model.

    Raises
    ------
    SpecError
        Unknown name (with suggestions), unreadable or invalid file, invalid parameters.
    """
    if isinstance(model, Model):
        return model
    if isinstance(model, dict):
        return build_model(model, file="<dict>")
    path = resolve_spec(model, "model_specs")
    try:
        key = (str(path.resolve()), path.stat().st_mtime)
    except OSError:
        key = None
    if key and key in _MODEL_CACHE:
        return _MODEL_CACHE[key]
    result = build_model(
        load_spec_data(path),
        file=str(model)
        if isinstance(model, Path) or str(model).endswith((".yaml", ".yml"))
        else str(path),
    )
    if key:
        _MODEL_CACHE[key] = result
    return result


def load_hardware(hw: str | os.PathLike[str] | dict[str, Any] | Hardware) -> Hardware:
    """Return a :class:`~roofline.hardware.Hardware` from a preset name, YAML path or mapping."""
    if isinstance(hw, Hardware):
        return hw
    if isinstance(hw, dict):
        return validate(Hardware, hw, file="<dict>")
    path = resolve_spec(hw, "hw_specs")
    name = str(hw) if str(hw).endswith((".yaml", ".yml")) else str(path)
    return validate(Hardware, load_spec_data(path), file=name)


def list_models() -> list[str]:
    """Names of the shipped model presets."""
    return preset_names("model_specs")


def list_devices() -> list[str]:
    """Names of the shipped device presets."""
    return preset_names("hw_specs")


__all__ = [
    "Graph",
    "Model",
    "build_model",
    "list_devices",
    "list_models",
    "load_hardware",
    "load_model",
]
