"""Spec files: a strict YAML loader and the model/hardware schemas' error mapping.

The loader accepts plain YAML data only (no tags that construct Python objects), rejects duplicate
keys (a silently dropped key is a silently wrong device), bounds alias expansion (alias bombs fail
fast) and file size, and turns every problem into one :class:`~roofline.errors.SpecError` naming
the file, the field and the fix.
"""

from __future__ import annotations

import functools
import os
import re
import types
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from roofline.errors import SpecError
from roofline.suggest import did_you_mean

MAX_FILE_BYTES = 16 * 2**20
MAX_NODES = 200_000
MAX_DEPTH = 100

_PLAIN = "specs are plain data: remove the tag (no Python objects are constructed)"
# standard tags SafeLoader would still turn into non-JSON objects (bytes, sets, dates, pairs)
_REFUSED_TAGS = ("binary", "set", "omap", "pairs", "timestamp")


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader for plain data: bounded nesting, ``int`` overflow reported, merges allowed.

    Duplicate keys, recursive aliases and alias bombs are caught on the node tree before
    anything is constructed (:func:`_check_tree`).
    """

    _depth = 0

    def compose_node(self, parent: Any, index: Any) -> yaml.Node:
        if self._depth >= MAX_DEPTH:
            mark = self.peek_event().start_mark
            raise SpecError(
                f"line {mark.line + 1}: nesting deeper than {MAX_DEPTH} levels",
                fix="flatten the document",
            )
        self._depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_yaml_int(self, node: yaml.ScalarNode) -> int:
        try:
            return super().construct_yaml_int(node)
        except ValueError:
            raise SpecError(
                f"line {node.start_mark.line + 1}: integer {node.value[:12]}... has "
                f"{len(node.value)} digits",
                fix="write it as a float with an exponent, e.g. 1e12",
            ) from None


_StrictLoader.add_constructor("tag:yaml.org,2002:int", _StrictLoader.construct_yaml_int)
for _tag in _REFUSED_TAGS:
    _StrictLoader.add_constructor(f"tag:yaml.org,2002:{_tag}", _StrictLoader.construct_undefined)
# an unquoted date stays a string (a source's date), not a datetime object
_StrictLoader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:timestamp"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
# YAML 1.2 floats: PyYAML (YAML 1.1) reads 1e12 as a string, a trap for "num_embeddings: 1e12"
_StrictLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)

_MERGE = "tag:yaml.org,2002:merge"


def _check_tree(loader: _StrictLoader, root: yaml.Node) -> None:
    """Reject duplicate keys, non-scalar keys, recursive aliases and alias bombs.

    Counts nodes as they would be after alias expansion (a shared subtree counted each time it
    is referenced, but walked once), so an alias bomb fails in time linear in the file's size.
    """
    sizes: dict[int, int] = {}
    active: set[int] = set()

    def walk(node: yaml.Node, path: str) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in active:
            raise SpecError(
                f"line {node.start_mark.line + 1}: an alias refers to its own anchor",
                field=path or None,
                fix="specs cannot be recursive",
            )
        active.add(key)
        size = 1
        if isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                size += walk(item, f"{path}[{i}]")
        elif isinstance(node, yaml.MappingNode):
            seen: dict[Any, int] = {}
            for key_node, value_node in node.value:
                line = key_node.start_mark.line + 1
                if not isinstance(key_node, yaml.ScalarNode):
                    raise SpecError(
                        f"line {line}: a mapping key must be a scalar",
                        field=path or None,
                        fix="use a plain name as key",
                    )
                if key_node.tag == _MERGE:
                    size += walk(value_node, path)
                    continue
                name = loader.construct_object(key_node)
                field = f"{path}.{name}" if path else str(name)
                if name in seen:
                    raise SpecError(
                        f"line {line}: duplicate key {name!r} (first at line {seen[name]})",
                        field=field,
                        fix="remove one of the two",
                    )
                seen[name] = line
                size += 1 + walk(value_node, field)
        if size > MAX_NODES:
            raise SpecError(
                f"document expands to more than {MAX_NODES} nodes (alias bomb?)",
                fix="remove the repeated aliases",
            )
        active.discard(key)
        sizes[key] = size
        return size

    walk(root, "")


def parse_yaml(text: str, file: str | None = None) -> Any:
    """Parse ``text`` as strict YAML; every failure is a SpecError naming ``file``.

    Plain data only: mappings, sequences, strings, numbers, booleans and null (merge keys
    ``<<`` allowed). Tags that construct Python objects, duplicate keys, recursive aliases,
    alias bombs and nesting deeper than ``MAX_DEPTH`` are refused.
    """
    try:
        loader = _StrictLoader(text)
        try:
            node = loader.get_single_node()
            if node is None:
                return None
            _check_tree(loader, node)
            return loader.construct_document(node)
        finally:
            loader.dispose()
    except SpecError as exc:
        raise exc.with_context(file=file) from None
    except yaml.constructor.ConstructorError as exc:
        mark = exc.problem_mark
        line = f"line {mark.line + 1}: " if mark else ""
        problem = str(exc.problem)
        tagged = "could not determine a constructor" in problem
        if tagged:
            problem = problem.replace("could not determine a constructor for", "refused")
        fix = _PLAIN if tagged else "check the YAML near that line"
        raise SpecError(f"{line}{problem}", file=file, fix=fix) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise SpecError(
            f"YAML syntax error{where}: {problem}",
            file=file,
            fix="check indentation, colons and quotes",
        ) from None
    except RecursionError:
        raise SpecError("document nests too deeply", file=file, fix="flatten it") from None


def _exists(p: Path) -> bool:
    """``p.exists()``, False for names the OS cannot even look up (too long, NUL bytes)."""
    try:
        return p.exists()
    except (OSError, ValueError):
        return False


def read_spec_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a YAML spec file into a mapping (SpecError on every kind of failure)."""
    p = Path(path)
    name = str(path)
    if not _exists(p):
        raise SpecError("file does not exist", file=name, fix="check the path or use a preset name")
    if p.is_dir():
        raise SpecError("is a directory, not a spec file", file=name, fix="name a .yaml file")
    try:
        size = p.stat().st_size
        if size > MAX_FILE_BYTES:
            raise SpecError(
                f"file is {size} bytes, over the {MAX_FILE_BYTES} limit",
                file=name,
                fix="specs are small; is this the right file?",
            )
        raw = p.read_bytes()
    except OSError as exc:
        raise SpecError(
            f"cannot read: {exc.strerror}", file=name, fix="check permissions"
        ) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SpecError(
            f"not UTF-8 text (byte {exc.start})", file=name, fix="save the file as UTF-8"
        ) from None
    data = parse_yaml(text, name)
    if not isinstance(data, dict):
        kind = "empty" if data is None else type(data).__name__
        raise SpecError(
            f"top level is {kind}, not a mapping",
            file=name,
            fix="write 'name:', 'family:'... at the top level",
        )
    return data


def _strip(ann: Any) -> Any:
    """Unwrap ``Annotated[X, ...]`` and ``X | None`` (preferring a model member of a union)."""
    while True:
        origin = get_origin(ann)
        if origin is Annotated:
            ann = get_args(ann)[0]
        elif origin in (Union, types.UnionType):
            args = [a for a in get_args(ann) if a is not type(None)]
            models = [a for a in args if isinstance(a, type) and issubclass(a, BaseModel)]
            if models:
                return models[0]
            if len(args) != 1:
                return ann
            ann = args[0]
        else:
            return ann


def _allowed_fields(model: type[BaseModel], loc: tuple) -> list[str]:
    """Field names allowed at ``loc`` (for did-you-mean on extra fields)."""
    current: Any = model
    for part in loc[:-1]:
        current = _strip(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            f = current.model_fields.get(str(part))
            current = f.annotation if f else None
            continue
        origin, args = get_origin(current), get_args(current)
        if origin is None or not args:
            return []
        if isinstance(origin, type) and issubclass(origin, Mapping):
            current = args[-1]
        elif origin is tuple and not (len(args) == 2 and args[1] is Ellipsis):
            current = args[part] if isinstance(part, int) and part < len(args) else None
        else:
            current = args[0]
    current = _strip(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


def field_path(loc: tuple, prefix: str | None = None) -> str | None:
    """Dotted field path of a pydantic ``loc`` (``ops[0].kernel_size``), after ``prefix``."""
    out = prefix or ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out = f"{out}.{part}" if out else str(part)
    return out or None


def from_validation_error(
    exc: ValidationError, model: type[BaseModel], *, file: str | None, prefix: str | None = None
) -> SpecError:
    """Turn the most telling pydantic error into a one-line SpecError.

    An unknown field is reported before anything else (a mistyped required field also shows up
    as missing, but the typo is the cause). A model validator's message that starts with
    ``name=`` (``hidden_size=5140 is not divisible by ...``) names the field ``name`` when the
    model has such a field.
    """
    errors = exc.errors()
    err = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
    loc = tuple(err["loc"])
    etype = err["type"]
    msg = err["msg"].removeprefix("Value error, ")
    if loc and loc[-1] == "[key]":  # a mapping key of the wrong type
        loc = loc[:-2]
        msg = f"key {err.get('input')!r}: {msg}"
    named = re.match(r"(\w+)=", msg)
    if etype == "value_error" and named and named[1] in _allowed_fields(model, (*loc, None)):
        loc = (*loc, named[1])
    field = field_path(loc, prefix)
    ctx_exc = (err.get("ctx") or {}).get("error")
    if isinstance(ctx_exc, SpecError):
        if ctx_exc.field:
            field = f"{field}.{ctx_exc.field}" if field else ctx_exc.field
        return SpecError(ctx_exc.problem, file=file, field=field, fix=ctx_exc.fix)
    fix = None
    if etype == "extra_forbidden":
        allowed = _allowed_fields(model, loc)
        msg = f"unknown field {loc[-1]!r}"
        fix = did_you_mean(
            str(loc[-1]), allowed, "allowed: " + ", ".join(allowed) if allowed else None
        )
    elif etype == "missing" and loc and isinstance(loc[-1], int):
        field = field_path(loc[:-1], prefix)
        msg = f"too few entries (entry {loc[-1] + 1} is missing)"
    elif etype == "missing":
        msg = "required field is missing"
        fix = "add it (see the README of this spec folder)"
    elif etype == "too_short":
        need = (err.get("ctx") or {}).get("min_length", 1)
        entries = "entry" if need == 1 else "entries"
        msg = f"needs at least {need} {entries}, got {_short(err.get('input'))}"
        fix = "see the README of this spec folder"
    elif "input" in err and etype not in ("value_error", "assertion_error"):
        msg = f"{msg} (got {_short(err['input'])})"
    return SpecError(msg, file=file, field=field, fix=fix)


def _short(value: Any, limit: int = 60) -> str:
    """``repr(value)`` cut to ``limit`` characters (a whole mapping is noise in a one-liner)."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


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
    if p.suffix in (".yaml", ".yml") or os.sep in text or _exists(p):
        return p
    cand = _spec_dir(kind) / f"{text}.yaml"
    if _exists(cand):
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


@functools.lru_cache(maxsize=256)
def _cached_spec(path: str, mtime: float) -> dict[str, Any]:
    return read_spec_file(path)


def load_spec_data(path: Path) -> dict[str, Any]:
    """Read a spec file, cached by path and modification time (a copy is returned)."""
    try:
        mtime = path.stat().st_mtime
    except (OSError, ValueError):
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
