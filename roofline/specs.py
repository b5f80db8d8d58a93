"""Spec files: a strict YAML loader and the model/hardware schemas' error mapping.

The loader accepts plain YAML data only (no tags that construct Python objects), rejects duplicate
keys (a silently dropped key is a silently wrong device), bounds alias expansion (alias bombs fail
fast) and file size, and turns every problem into one :class:`~roofline.errors.SpecError` naming
the file, the field and the fix.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .errors import SpecError
from .suggest import did_you_mean

MAX_FILE_BYTES = 16 * 2**20
MAX_NODES = 200_000


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that rejects duplicate mapping keys."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            try:
                hash(key)
            except TypeError:
                raise SpecError(
                    f"line {key_node.start_mark.line + 1}: a mapping key must be a scalar",
                    fix="use a plain name as key",
                ) from None
            if key in seen:
                raise SpecError(
                    f"line {key_node.start_mark.line + 1}: duplicate key {key!r} "
                    f"(first at line {seen[key]})",
                    field=str(key),
                    fix="remove one of the two",
                )
            seen[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)


def _expanded_size(node: yaml.Node, memo: dict[int, int], depth: int = 0) -> int:
    """Number of nodes after alias expansion (shared nodes counted each time they appear)."""
    if id(node) in memo:
        return memo[id(node)]
    if depth > 100:
        raise SpecError("nesting deeper than 100 levels", fix="flatten the document")
    memo[id(node)] = 1  # guards against recursive aliases
    if isinstance(node, yaml.SequenceNode):
        size = 1 + sum(_expanded_size(n, memo, depth + 1) for n in node.value)
    elif isinstance(node, yaml.MappingNode):
        size = 1 + sum(
            _expanded_size(k, memo, depth + 1) + _expanded_size(v, memo, depth + 1)
            for k, v in node.value
        )
    else:
        size = 1
    if size > MAX_NODES:
        raise SpecError(
            f"document expands to more than {MAX_NODES} nodes (alias bomb?)",
            fix="remove the repeated aliases",
        )
    memo[id(node)] = size
    return size


def parse_yaml(text: str, file: str | None = None) -> Any:
    """Parse ``text`` as strict YAML; every failure is a SpecError naming ``file``."""
    try:
        loader = _StrictLoader(text)
        try:
            node = loader.get_single_node()
            if node is None:
                return None
            _expanded_size(node, {})
            return loader.construct_document(node)
        finally:
            loader.dispose()
    except SpecError as exc:
        raise exc.with_context(file=file) from None
    except yaml.constructor.ConstructorError as exc:
        mark = exc.problem_mark
        line = f"line {mark.line + 1}: " if mark else ""
        raise SpecError(
            f"{line}{exc.problem}",
            file=file,
            fix="specs are plain data: remove the tag (no Python objects are constructed)",
        ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise SpecError(f"YAML syntax error at {line}{problem}", file=file,
                        fix="check indentation, colons and quotes") from None  # fmt: skip
    except RecursionError:
        raise SpecError("document nests too deeply", file=file, fix="flatten it") from None


def read_spec_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a YAML spec file into a mapping (SpecError on every kind of failure)."""
    p = Path(path)
    name = str(path)
    if not p.exists():
        raise SpecError("file does not exist", file=name, fix="check the path or use a preset name")
    if p.is_dir():
        raise SpecError("is a directory, not a spec file", file=name, fix="name a .yaml file")
    try:
        size = p.stat().st_size
        if size > MAX_FILE_BYTES:
            raise SpecError(f"file is {size} bytes, over the {MAX_FILE_BYTES} limit", file=name,
                            fix="specs are small; is this the right file?")  # fmt: skip
        raw = p.read_bytes()
    except OSError as exc:
        raise SpecError(f"cannot read: {exc.strerror}", file=name, fix="check permissions") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SpecError(f"not UTF-8 text (byte {exc.start})", file=name,
                        fix="save the file as UTF-8") from None  # fmt: skip
    data = parse_yaml(text, name)
    if not isinstance(data, dict):
        kind = "empty" if data is None else type(data).__name__
        raise SpecError(f"top level is {kind}, not a mapping", file=name,
                        fix="write 'name:', 'family:'... at the top level")  # fmt: skip
    return data


def _allowed_fields(model: type[BaseModel], loc: tuple) -> list[str]:
    """Field names allowed at ``loc`` (for did-you-mean on extra fields)."""
    current: Any = model
    for part in loc[:-1]:
        if isinstance(current, type) and issubclass(current, BaseModel):
            f = current.model_fields.get(str(part))
            if f is None:
                return []
            current = f.annotation
        else:
            args = getattr(current, "__args__", ())
            current = next((a for a in args if isinstance(a, type) and issubclass(a, BaseModel)),
                           args[-1] if args else None)  # fmt: skip
            if current is None:
                return []
            if isinstance(current, type) and issubclass(current, BaseModel):
                f = current.model_fields.get(str(part))
                current = f.annotation if f else None
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    args = getattr(current, "__args__", ())
    for a in args:
        if isinstance(a, type) and issubclass(a, BaseModel):
            return list(a.model_fields)
    return []


def from_validation_error(
    exc: ValidationError, model: type[BaseModel], *, file: str | None, prefix: str | None = None
) -> SpecError:
    """Turn the first pydantic error into a one-line SpecError."""
    err = exc.errors()[0]
    loc = tuple(err["loc"])
    field = ".".join(str(p) for p in loc) or None
    if prefix:
        field = f"{prefix}.{field}" if field else prefix
    etype = err["type"]
    ctx_exc = (err.get("ctx") or {}).get("error")
    if isinstance(ctx_exc, SpecError):
        return SpecError(ctx_exc.problem, file=file, field=field, fix=ctx_exc.fix)
    msg = err["msg"].removeprefix("Value error, ")
    fix = None
    if etype == "extra_forbidden":
        allowed = _allowed_fields(model, loc)
        msg = f"unknown field {loc[-1]!r}"
        fix = did_you_mean(str(loc[-1]), allowed, "allowed: " + ", ".join(allowed) if allowed else None)
    elif etype == "missing":
        msg = "required field is missing"
        fix = "add it (see the README of this spec folder)"
    elif "input" in err and etype not in ("value_error", "assertion_error"):
        msg = f"{msg} (got {err['input']!r})"
    return SpecError(msg, file=file, field=field, fix=fix)


def validate(model: type[BaseModel], data: Any, *, file: str | None, prefix: str | None = None):
    """``model.model_validate(data)`` with errors mapped to SpecError."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise from_validation_error(exc, model, file=file, prefix=prefix) from None
    except SpecError as exc:
        raise exc.with_context(file=file, prefix=prefix) from None


# ---------------------------------------------------------------------------------------------
# preset folders


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
    text = str(name_or_path)
    p = Path(text)
    if p.suffix in (".yaml", ".yml") or os.sep in text or p.exists():
        return p
    cand = _spec_dir(kind) / f"{text}.yaml"
    if cand.exists():
        return cand
    what = "model" if kind == "model_specs" else "device"
    names = preset_names(kind)
    raise SpecError(
        f"unknown {what} {text!r}",
        field=what,
        fix=did_you_mean(text, names, f"run 'roofline list {what}s' to see the presets"),
    )


@functools.lru_cache(maxsize=256)
def _cached_spec(path: str, mtime: float) -> dict[str, Any]:
    return read_spec_file(path)


def load_spec_data(path: Path) -> dict[str, Any]:
    """Read a spec file, cached by path and modification time (a copy is returned)."""
    try:
        mtime = path.stat().st_mtime
    except OSError:
        mtime = -1.0
    return dict(_cached_spec(str(path), mtime))


class ModelSpec(BaseModel):
    """Top level of a model spec file."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, description="model name (the file stem for presets)")
    family: str = Field(min_length=1, description="family whose builder makes the graph")
    description: str = ""
    source: str = Field(min_length=1, description="paper / URL / code the numbers come from")
    params: dict[str, Any] = Field(default_factory=dict)
    notes: str | None = None


@dataclass(frozen=True)
class SpecFile:
    """Where a spec came from, for messages."""

    path: str | None
