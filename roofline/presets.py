"""Presets and files: load models and devices by preset name, file path or mapping.

A bare word (``resnet50``, ``a100_sxm4_80gb``) is a preset name; a path (it contains a path
separator or ends in ``.yaml``/``.yml``) is a file. Presets ship in ``model_specs/`` and
``hw_specs/`` (``roofline/_data/`` in a wheel).
"""

from __future__ import annotations

import functools
import os
import re
from pathlib import Path
from typing import Any

from roofline.arguments import check_count
from roofline.errors import SpecError
from roofline.hardware import Hardware
from roofline.importers.hf_config import load_hf_json
from roofline.input_files import FileCache, note_input
from roofline.model import Model, build_model, parse_overrides
from roofline.preset_index import COLUMNS as INDEX_COLUMNS
from roofline.spec_errors import validate
from roofline.suggest import did_you_mean
from roofline.systems.spec import System
from roofline.yaml_loader import (
    parse_spec,
    path_exists,
    read_spec_bytes,
)


@functools.cache
def _spec_dir(kind: str) -> Path:
    """The folder of shipped specs: ``roofline/_data/<kind>`` in a wheel, else the repo's (found
    once: the package does not move while it runs)."""
    here = Path(__file__).resolve().parent
    for cand in (here / "_data" / kind, here.parent / kind):
        if cand.is_dir():
            return cand
    return here.parent / kind


#: where each kind of preset lives (systems beside the devices they are made of)
PRESET_DIRS = {
    "model_specs": ("model_specs",),
    "hw_specs": ("hw_specs", "hw_specs/systems"),
}


def preset_names(kind: str) -> list[str]:
    """Sorted names of the shipped specs in folder ``kind`` (``model_specs``, ``hw_specs`` for
    devices, ``hw_specs/systems`` for systems)."""
    return sorted(p.stem for p in _spec_dir(kind).glob("*.yaml"))


#: the file of each preset name found (the shipped folders do not move while the package runs;
#: the loaders still ``stat`` it, so an edited preset is read again)
_PRESET_FILES: dict[tuple[str, str], Path] = {}


def _is_path(text: str) -> bool:
    """Whether ``text`` names a file: a spec suffix or a folder in it. A bare word is always a
    preset (a file of that name in the current folder does not shadow it)."""
    return Path(text).suffix in (".yaml", ".yml", ".json", ".onnx") or os.sep in text or "/" in text


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
    found = _PRESET_FILES.get((text, kind))
    if found is not None:
        return found
    if "\0" in text:
        raise SpecError(f"{text!r} contains a NUL byte", field=what, fix="name a preset or a file")
    if _is_path(text):
        return Path(text)
    for folder in PRESET_DIRS[kind]:
        cand = _spec_dir(folder) / f"{text}.yaml"
        if path_exists(cand):
            _PRESET_FILES[(text, kind)] = cand
            return cand
    fix = f"run 'roofline list {what}s' to see them"
    for folder in PRESET_DIRS[kind]:  # devices before the systems made of them
        fix = suggest_preset(text, preset_names(folder), "") or fix
        if not fix.startswith("run"):
            break
    raise SpecError(f"unknown {what} {text!r}", field=what, fix=fix)


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


#: loaded models and devices by spec file, while the file is unchanged
#: (:class:`~roofline.input_files.FileCache`: a file rewritten within the same second is never
#: served stale); models and devices are frozen, so sharing them is safe
_MODEL_CACHE: FileCache[Model] = FileCache(64)
_HARDWARE_CACHE: FileCache[tuple[Hardware | System, str | None]] = FileCache(64)


#: ``MODEL:key=value,...``: a model with family parameters overridden
_OVERRIDES = re.compile(r"^(?P<model>.+?):(?P<items>[A-Za-z_]\w*=.*)$")


def load_model(model: str | os.PathLike[str] | dict[str, Any] | Model, **overrides: Any) -> Model:
    """Return a :class:`Model` from a preset name, a YAML path, a mapping or a Model.

    ``overrides`` (or a ``"MODEL:key=value,key=value"`` string) change family parameters, e.g.
    ``load_model("llama2_7b", phase="decode", context_len=4096)``. A Hugging Face
    ``config.json`` is read by :mod:`roofline.importers.hf_config`; an ``.onnx`` file is
    imported by :func:`~roofline.importers.onnx_import.from_onnx` (overrides give its symbolic
    dims, ``seq=128``).

    Raises
    ------
    SpecError
        Unknown name (with suggestions), unreadable or invalid file, invalid parameters.
    """
    if isinstance(model, str) and (m := _OVERRIDES.match(model)):
        return load_model(m["model"], **{**parse_overrides(m["items"], field=model), **overrides})
    if isinstance(model, (str, os.PathLike)) and str(model).endswith(".json"):
        hf = load_hf_json(model)  # a Hugging Face config.json (it has a model_type)
        if hf is not None:
            return hf.with_params(**overrides)
    if isinstance(model, (str, os.PathLike)) and str(model).endswith(".onnx"):
        from roofline.importers.onnx_import import from_onnx  # imports onnx: only when asked

        note_input(model)  # never written over by the command's outputs
        # ONNX symbolic dims (other than the batch) are the overrides: load_model(f, seq=128)
        return from_onnx(model, {k: int(v) for k, v in overrides.items()} or None)
    if overrides:
        return load_model(model).with_params(**overrides)
    if isinstance(model, Model):
        return model
    if isinstance(model, dict):
        return build_model(model, file="<dict>")
    path = resolve_spec(model, "model_specs")
    file = (
        str(model)
        if isinstance(model, Path) or str(model).endswith((".yaml", ".yml"))
        else str(path)
    )
    return _MODEL_CACHE.load(
        path, file, read_spec_bytes, lambda raw: build_model(parse_spec(raw, str(path)), file=file)
    )


HardwareSource = str | os.PathLike[str] | dict[str, Any] | Hardware | System


def load_hardware(hw: HardwareSource) -> Hardware | System:
    """Return a device (:class:`~roofline.hardware.Hardware`) or a system of devices
    (:class:`~roofline.systems.spec.System`: a spec with ``device:`` and ``count:``) from a preset
    name, a YAML path or a mapping."""
    if isinstance(hw, (Hardware, System)):
        return hw
    if isinstance(hw, dict):
        return _hardware(hw, "<dict>", from_file=False)[0]
    path = resolve_spec(hw, "hw_specs")
    file = str(hw) if str(hw).endswith((".yaml", ".yml")) else str(path)

    def build(raw: bytes) -> tuple[Hardware | System, str | None]:
        return _hardware(parse_spec(raw, str(path)), file, from_file=True)

    loaded, device = _HARDWARE_CACHE.load(path, file, read_spec_bytes, build)
    # a system naming its device by preset or path is stale when that file changed
    if isinstance(loaded, System) and device is not None and not _current(device, loaded.device):
        _HARDWARE_CACHE.drop(path, file)
        loaded, _ = _HARDWARE_CACHE.load(path, file, read_spec_bytes, build)
    return loaded


def _current(device: str, loaded: Hardware) -> bool:
    """Whether loading ``device`` again gives the very device ``loaded`` (its file unchanged)."""
    try:
        return load_hardware(device) is loaded
    except SpecError:  # gone or broken: rebuilding the system says so, naming the system file
        return False


def _hardware(
    data: dict[str, Any], file: str, from_file: bool
) -> tuple[Hardware | System, str | None]:
    """(the device or system a spec mapping describes, the device file a system names or None)."""
    if "count" in data or "device" in data:
        device = data.get("device")
        if from_file and isinstance(device, str) and _is_path(device):
            # a relative device path is the system file's neighbour, wherever the user runs from
            device = str(Path(file).parent / Path(device).expanduser())
            data = {**data, "device": device}
        return _system(data, file, from_file), device if isinstance(device, str) else None
    return validate(Hardware, data, file=file, from_file=from_file), None


def load_device(hw: HardwareSource) -> Hardware:
    """:func:`load_hardware` where one device is needed: a system is a SpecError with the fix."""
    loaded = load_hardware(hw)
    if isinstance(loaded, System):
        raise SpecError(
            f"{loaded.name!r} is a system of {loaded.count} x {loaded.device.name}, not one device",
            field="hw",
            fix=f"use its device {loaded.device.name!r}, or evaluate/compare/generate the system",
        )
    return loaded


def _system(data: dict[str, Any], file: str, from_file: bool) -> System:
    """Validate a system spec, its ``device`` a preset name, a path or an inline mapping."""
    device = data.get("device")
    if isinstance(device, (str, dict)):
        try:
            # an inline device is read as part of the system file (its fields under device)
            if isinstance(device, dict):
                loaded = _hardware(device, file, from_file=False)[0]
            else:
                loaded = load_hardware(device)
        except SpecError as exc:
            # a name that names no device is the system's own device field (it says so); a
            # device file's error names that file
            if isinstance(device, dict):
                raise exc.with_context(prefix="device") from None
            raise exc.with_context(file=file) from None
        if isinstance(loaded, System):
            raise SpecError(
                "a system's device must be one device, not a system",
                file=file,
                field="device",
                fix="name a device preset such as h100_sxm5",
            )
        data = {**data, "device": loaded}
    return validate(System, data, file=file, from_file=from_file)


def system(
    device: HardwareSource, count: int, interconnect: dict[str, Any] | None = None, **fields: Any
) -> System:
    """Build a :class:`~roofline.systems.spec.System` of ``count`` devices in code, e.g.
    ``rl.system("h100_sxm5", 8, interconnect={"nvlink": {...}}, name="my_node")``. ``count`` is
    a whole number (an int or a numpy integer; not ``4.0``, ``"4"`` or ``True``)."""
    check_count("count", count, example=8)
    count = int(count)
    base = load_device(device)
    data = {
        "name": f"{count}x_{base.name}",
        "source": "built in code",
        **fields,
        "device": base,
        "count": count,
        "interconnect": interconnect or {},
    }
    return validate(System, data, file="<system>")


def list_models() -> list[str]:
    """Names of the shipped model presets."""
    return preset_names("model_specs")


def preset_index() -> dict[str, list[dict[str, Any]]]:
    """Every shipped preset as the entries of :mod:`roofline.preset_index` (what
    ``scripts/gen_preset_index.py`` writes), built by loading each one."""
    models = []
    for name in list_models():
        m = load_model(name)
        models.append([name, m.family, m.sample, m.spec.description])
    devices = []
    for name in list_devices():
        hw = load_device(name)
        matrix = hw.engines.matrix
        int8 = matrix.resolve("int8")
        main = hw.memory[hw.main_level]
        onchip = sum(lv.capacity for lv in hw.memory.values() if lv.kind == "onchip")
        devices.append(
            [
                name,
                hw.dtype,
                hw.peak("matrix", hw.dtype),
                matrix.peak[int8] if int8 else None,
                main.bandwidth,
                main.capacity,
                onchip,
                hw.description,
            ]
        )
    systems = []
    for name in list_systems():
        s = load_hardware(name)
        assert isinstance(s, System)
        links = ", ".join(f"{k}: {v.topology} of {v.devices}" for k, v in s.interconnect.items())
        systems.append([name, s.count, s.device.name, s.device.dtype, links, s.description])
    rows: dict[str, list[list[Any]]] = {"models": models, "devices": devices, "systems": systems}
    return {k: [dict(zip(INDEX_COLUMNS[k], r)) for r in v] for k, v in rows.items()}


def list_devices() -> list[str]:
    """Names of the shipped device presets."""
    return preset_names("hw_specs")


def list_systems() -> list[str]:
    """Names of the shipped system presets (several devices and their interconnect)."""
    return preset_names("hw_specs/systems")


__all__ = [
    "Model",
    "build_model",
    "list_devices",
    "list_models",
    "load_hardware",
    "load_model",
]
