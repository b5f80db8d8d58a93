"""Presets and files: load models and devices by preset name, file path or mapping.

A bare word (``resnet50``, ``a100_sxm4_80gb``) is a preset name; a path (it contains a path
separator or ends in ``.yaml``/``.yml``) is a file. Presets ship in ``model_specs/`` and
``hw_specs/`` (``roofline/_data/`` in a wheel).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from roofline.errors import SpecError
from roofline.hardware import Hardware
from roofline.model import Model, build_model
from roofline.spec_errors import validate
from roofline.suggest import did_you_mean
from roofline.yaml_loader import load_spec_data, path_exists


def _spec_dir(kind: str) -> Path:
    """The folder of shipped specs: ``roofline/_data/<kind>`` in a wheel, else the repo's."""
    here = Path(__file__).resolve().parent
    for cand in (here / "_data" / kind, here.parent / kind):
        if cand.is_dir():
            return cand
    return here.parent / kind


def preset_names(kind: str) -> list[str]:
    """Sorted names of the shipped specs of ``kind`` (``model_specs`` or ``hw_specs``)."""
    return sorted(p.stem for p in _spec_dir(kind).glob("*.yaml"))


def resolve_spec(name_or_path: str | os.PathLike[str], kind: str) -> Path:
    """Return the file for a preset name or a path; SpecError with suggestions if neither."""
    what = "model" if kind == "model_specs" else "device"
    if not isinstance(name_or_path, (str, os.PathLike)):
        raise SpecError(
            f"a {what} is a preset name, a path or a mapping, not {type(name_or_path).__name__}",
            field=what,
            fix=f"run 'roofline list {what}s' to see the presets",
        )
    text = str(name_or_path)
    if "\0" in text:
        raise SpecError(f"{text!r} contains a NUL byte", field=what, fix="name a preset or a file")
    p = Path(text)
    if p.suffix in (".yaml", ".yml") or os.sep in text or path_exists(p):
        return p
    cand = _spec_dir(kind) / f"{text}.yaml"
    if path_exists(cand):
        return cand
    raise SpecError(
        f"unknown {what} {text!r}",
        field=what,
        fix=suggest_preset(text, preset_names(kind), f"run 'roofline list {what}s' to see them"),
    )


def suggest_preset(text: str, names: list[str], otherwise: str) -> str:
    """``did you mean ...?`` for a mistyped preset: close spellings, else names containing it.

    ``a100`` is far from ``a100_sxm4_80gb`` by edit ratio, but a user typing it means that part.
    """
    close = did_you_mean(text, names)
    if close:
        return close
    key = text.lower().replace("-", "_")
    parts = [p for p in key.split("_") if p]
    hits = [n for n in names if key and key in n.lower()]
    hits = hits or [n for n in names if parts and all(p in n.lower() for p in parts)]
    if hits:
        return "did you mean " + " or ".join(repr(n) for n in hits[:3]) + "?"
    return otherwise


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
    if isinstance(model, (str, os.PathLike)) and str(model).endswith(".json"):
        # a Hugging Face config.json (has model_type); imported here, as importers are optional
        from roofline.importers.hf_config import load_hf_json

        hf = load_hf_json(model)
        if hf is not None:
            return hf
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
    "Model",
    "build_model",
    "list_devices",
    "list_models",
    "load_hardware",
    "load_model",
]
