"""Reading spec files: a strict YAML loader for plain data, bounded in size, nesting and aliases.

The loader accepts plain YAML data only (no tags that construct Python objects), rejects duplicate
keys (a silently dropped key is a silently wrong device), bounds alias expansion (alias bombs fail
fast) and file size, and turns every problem into one :class:`~roofline.errors.SpecError` naming
the file, the field and the fix.
"""

from __future__ import annotations

import functools
import os
import re
from pathlib import Path
from typing import Any

import yaml

from roofline.errors import SpecError

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

    def compose_node(self, parent: Any, index: Any) -> yaml.Node | None:
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


# (the stubs type add_constructor's loader too narrowly for a SafeLoader subclass)
_INT = "tag:yaml.org,2002:int"
_StrictLoader.add_constructor(_INT, _StrictLoader.construct_yaml_int)
for _tag in _REFUSED_TAGS:
    _StrictLoader.add_constructor(  # type: ignore[type-var]
        f"tag:yaml.org,2002:{_tag}", _StrictLoader.construct_undefined
    )
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


def path_exists(p: Path) -> bool:
    """``p.exists()``, False for names the OS cannot even look up (too long, NUL bytes)."""
    try:
        return p.exists()
    except (OSError, ValueError):
        return False


def read_spec_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a YAML spec file into a mapping (SpecError on every kind of failure)."""
    p = Path(path)
    name = str(path)
    if not path_exists(p):
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
