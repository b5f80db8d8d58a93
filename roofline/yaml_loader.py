"""Reading spec files: a strict YAML loader for plain data, bounded while it parses.

The document is built straight from the parser's events (libyaml's when PyYAML has it, the
pure-Python parser otherwise), with no node tree in between, so every limit holds while parsing,
before anything large exists: at most :data:`MAX_NODES` nodes counted as they would be after
alias expansion (an alias bomb or a list of millions of numbers stops at the limit), at most
:data:`MAX_DEPTH` levels of nesting, no recursive or undefined alias. Only plain data is built
(mappings, sequences, strings, numbers, booleans, null; merge keys ``<<``): tags that construct
Python objects (or bytes, sets, dates) are refused, and so are duplicate keys (a silently dropped
key is a silently wrong device), non-scalar keys, and YAML 1.1's surprises, each with the fix:
``1:30`` (sexagesimal, read as 90), ``012`` (octal, read as 10), ``yes``/``no``/``on``/``off``
(booleans). ``1e12`` is a float as YAML 1.2 reads it (PyYAML alone reads a string). Every problem
is one :class:`~roofline.errors.SpecError` naming the file, the field and the fix.

Files are read by :func:`roofline.input_files.read_bounded` (regular files, at most
:data:`~roofline.input_files.MAX_SPEC_BYTES`), and parsed once per content: the cache is keyed by
a digest of the bytes, so a file rewritten within the same second is never served stale.
"""

from __future__ import annotations

import os
import re
import threading
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.events import (
    AliasEvent,
    DocumentStartEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
)
from yaml.nodes import ScalarNode
from yaml.resolver import Resolver

from roofline.errors import SpecError
from roofline.input_files import MAX_SPEC_BYTES, content_key, decode_text, read_bounded

#: libyaml's parser (C): the same events as the pure-Python one, about 14x faster; None where
#: PyYAML was built without libyaml
try:
    from yaml import cyaml as _cyaml
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    _cyaml = None  # type: ignore[assignment]
_CParser: Any = getattr(_cyaml, "CParser", None)

#: the byte cap of a spec file (the same as :data:`roofline.input_files.MAX_SPEC_BYTES`)
MAX_FILE_BYTES = MAX_SPEC_BYTES
#: nodes a document may hold, counted after alias expansion (a 10,000-op layers spec has ~90k)
MAX_NODES = 250_000
#: nesting levels a document may have
MAX_DEPTH = 100

#: whether libyaml parses (else the pure-Python parser, about 20x slower)
LIBYAML = _CParser is not None

_PLAIN = "specs are plain data: remove the tag (no Python objects are constructed)"
_STR = "tag:yaml.org,2002:str"
_MERGE = "tag:yaml.org,2002:merge"
_SCALAR_TAGS = {f"tag:yaml.org,2002:{t}" for t in ("str", "int", "float", "bool", "null")}
_VALUE_TAG = "tag:yaml.org,2002:value"  # a plain '=' (YAML 1.1's value key): a string here
_SEQ = {None, "!", "tag:yaml.org,2002:seq"}
_MAP = {None, "!", "tag:yaml.org,2002:map"}
_YAML11_BOOLS = {"yes", "no", "on", "off"}
_OCTAL = re.compile(r"^[-+]?0[0-7_]+$")


class _Scalars(SafeConstructor, Resolver):
    """Resolves and constructs one plain scalar: SafeConstructor's rules with YAML 1.2 floats,
    no timestamps, and YAML 1.1's surprises refused."""

    def construct_yaml_int(self, node: ScalarNode) -> int:
        value = str(node.value)
        if ":" in value:
            raise _sexagesimal(node)
        if _OCTAL.match(value):
            raise SpecError(
                f"line {node.start_mark.line + 1}: {value} is an octal number in YAML 1.1 "
                f"({super().construct_yaml_int(node)})",
                fix=f"write {int(value.replace('_', ''), 10)} without the leading 0, 0o"
                f"{value.lstrip('+-0')} for octal, or quote it for a string",
            )
        try:
            return super().construct_yaml_int(node)
        except ValueError:
            raise SpecError(
                f"line {node.start_mark.line + 1}: integer {value[:12]}... has {len(value)} digits",
                fix="write it as a float with an exponent, e.g. 1e12",
            ) from None

    def construct_yaml_float(self, node: ScalarNode) -> float:
        if ":" in str(node.value):
            raise _sexagesimal(node)
        return super().construct_yaml_float(node)

    def construct_yaml_bool(self, node: ScalarNode) -> bool:
        value = str(node.value)
        if value.lower() in _YAML11_BOOLS:
            raise SpecError(
                f"line {node.start_mark.line + 1}: {value!r} is a YAML 1.1 boolean "
                f"({value.lower() in ('yes', 'on')})",
                fix=f"write true or false, or quote it ('{value}') for a string",
            )
        return super().construct_yaml_bool(node)


def _sexagesimal(node: ScalarNode) -> SpecError:
    value = str(node.value)
    plain = SafeConstructor()
    as_float = "." in value
    read = plain.construct_yaml_float(node) if as_float else plain.construct_yaml_int(node)
    return SpecError(
        f"line {node.start_mark.line + 1}: {value} is a base-60 number in YAML 1.1 ({read})",
        fix=f"write the number ({read}), or quote it ('{value}') for a string",
    )


for _tag, _method in (
    ("int", _Scalars.construct_yaml_int),
    ("float", _Scalars.construct_yaml_float),
    ("bool", _Scalars.construct_yaml_bool),
):
    _Scalars.add_constructor(f"tag:yaml.org,2002:{_tag}", _method)  # type: ignore[type-var]

# an unquoted date stays a string (a source's date), not a datetime object
_Scalars.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:timestamp"]
    for k, v in Resolver.yaml_implicit_resolvers.items()
}
# YAML 1.2 floats: PyYAML (YAML 1.1) reads 1e12 as a string, a trap for "num_embeddings: 1e12"
_Scalars.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


_NO_KEY = object()
_MERGE_KEY = object()
# a collection being built: [is_map, value, pending key, slot in parent, anchor, size,
# explicit key -> line, merged items]
_IS_MAP, _DATA, _KEY, _SLOT, _ANCHOR, _SIZE, _LINES, _MERGES = range(8)


def _path(stack: list[list[Any]], leaf: bool = True) -> str | None:
    """The dotted field path of the node being built (``params.ops[3].name``)."""
    out = ""
    frames = stack if leaf else stack[:-1]
    for i, frame in enumerate(frames):
        if i + 1 < len(frames):
            slot = frames[i + 1][_SLOT]
        elif frame[_IS_MAP]:
            slot = frame[_KEY]
            if slot is _NO_KEY or slot is _MERGE_KEY:
                break
        else:
            slot = len(frame[_DATA])
        out = (
            f"{out}[{slot}]"
            if isinstance(slot, int) and not frame[_IS_MAP]
            else (f"{out}.{slot}" if out else str(slot))
        )
    return out or None


def _build(events: Iterator[Any]) -> Any:
    """Plain data from YAML events, every limit checked as each event arrives."""
    scalars = _Scalars()
    cache: dict[tuple[Any, ...], Any] = {}  # (value, implicit, tag) -> constructed scalar
    stack: list[list[Any]] = []
    anchors: dict[str, tuple[Any, int]] = {}  # anchor -> (value, expanded nodes)
    open_anchors: set[str] = set()
    nodes = 0
    documents = 0
    root: Any = None
    for event in events:
        kind = type(event)
        if kind is ScalarEvent:
            nodes += 1
            key = (event.value, event.implicit, event.tag)
            try:
                value = cache[key]
            except KeyError:
                value = cache[key] = _scalar(scalars, event, stack)
            if event.anchor is not None:
                _define(event.anchor, anchors, open_anchors, event)
                anchors[event.anchor] = (value, 1)
        elif kind is AliasEvent:
            name = event.anchor
            if name not in anchors:
                raise SpecError(
                    f"line {event.start_mark.line + 1}: "
                    + (
                        "an alias refers to its own anchor"
                        if name in open_anchors
                        else f"alias *{name} names no anchor defined before it"
                    ),
                    field=_path(stack),
                    fix="specs cannot be recursive"
                    if name in open_anchors
                    else f"define &{name} first, or remove the alias",
                )
            value, size = anchors[name]
            nodes += size
        elif kind is MappingStartEvent or kind is SequenceStartEvent:
            is_map = kind is MappingStartEvent
            if event.tag not in (_MAP if is_map else _SEQ):
                raise _refused(event.tag, event)
            line = event.start_mark.line
            slot: Any = None
            if stack:
                parent = stack[-1]
                if parent[_IS_MAP]:
                    if parent[_KEY] is _NO_KEY:
                        raise _scalar_key(line, stack)
                    slot = parent[_KEY]
                else:
                    slot = len(parent[_DATA])
            if len(stack) >= MAX_DEPTH:
                raise SpecError(
                    f"line {line + 1}: nesting deeper than {MAX_DEPTH} levels",
                    fix="flatten the document",
                )
            if nodes >= MAX_NODES:
                raise _too_many(line, False)
            if event.anchor is not None:
                _define(event.anchor, anchors, open_anchors, event)
                open_anchors.add(event.anchor)
            # _SIZE holds the node count before this one: its size is the difference at its end
            stack.append([is_map, {} if is_map else [], _NO_KEY, slot, event.anchor, nodes, {}, []])
            nodes += 1
            continue
        elif kind is MappingEndEvent or kind is SequenceEndEvent:
            frame = stack.pop()
            value = frame[_DATA]
            if frame[_IS_MAP] and frame[_MERGES]:
                merged = dict(frame[_MERGES])
                merged.update(value)
                value = merged
            if frame[_ANCHOR] is not None:
                open_anchors.discard(frame[_ANCHOR])
                anchors[frame[_ANCHOR]] = (value, nodes - frame[_SIZE])
        elif kind is DocumentStartEvent:
            documents += 1
            if documents > 1:
                raise SpecError(
                    f"line {event.start_mark.line + 1}: the file holds another document",
                    fix="a spec is one YAML document: remove the '---' and what follows",
                )
            continue
        else:
            continue
        if nodes > MAX_NODES:
            raise _too_many(event.start_mark.line, kind is AliasEvent)
        if not stack:
            root = value
            continue
        top = stack[-1]
        if not top[_IS_MAP]:
            top[_DATA].append(value)
        elif top[_KEY] is _NO_KEY:
            _set_key(top, value, event, stack)
        else:
            key, top[_KEY] = top[_KEY], _NO_KEY
            if key is _MERGE_KEY:
                top[_MERGES].extend(_merged(value, event.start_mark.line, stack))
            else:
                top[_DATA][key] = value
    return root


def _scalar(scalars: _Scalars, event: ScalarEvent, stack: list[list[Any]]) -> Any:
    """One scalar event resolved and constructed (strings as they are; tags checked; a YAML 1.1
    surprise names its field)."""
    tag = event.tag
    if tag is None or tag == "!":
        tag = scalars.resolve(ScalarNode, event.value, event.implicit)
    elif tag not in _SCALAR_TAGS:
        raise _refused(tag, event)
    if tag in (_STR, _VALUE_TAG):
        return event.value
    if tag == _MERGE:
        return _MERGE_KEY
    mark: Any = event.start_mark, event.end_mark  # libyaml's marks or pure-Python ones
    node = ScalarNode(tag, event.value, mark[0], mark[1], event.style)
    try:
        return scalars.yaml_constructors[tag](scalars, node)
    except SpecError as exc:
        raise SpecError(exc.problem, field=_path(stack), fix=exc.fix) from None


def _set_key(top: list[Any], key: Any, event: Any, stack: list[list[Any]]) -> None:
    """Make ``key`` the pending key of mapping ``top`` (scalars only, no duplicates)."""
    line = event.start_mark.line
    if isinstance(key, (dict, list)):
        raise _scalar_key(line, stack)
    if key is not _MERGE_KEY:
        lines = top[_LINES]
        if key in lines:
            top[_KEY] = key
            raise SpecError(
                f"line {line + 1}: duplicate key {key!r} (first at line {lines[key]})",
                field=_path(stack),
                fix="remove one of the two",
            )
        lines[key] = line + 1
    top[_KEY] = key


def _define(name: str, anchors: dict[str, Any], open_anchors: set[str], event: Any) -> None:
    if name in anchors or name in open_anchors:
        raise SpecError(
            f"line {event.start_mark.line + 1}: anchor &{name} is defined twice",
            fix="give each anchor its own name",
        )


def _scalar_key(line: int, stack: list[list[Any]]) -> SpecError:
    return SpecError(
        f"line {line + 1}: a mapping key must be a scalar",
        field=_path(stack, leaf=False) if stack else None,
        fix="use a plain name as key",
    )


def _too_many(line: int, alias: bool) -> SpecError:
    return SpecError(
        f"line {line + 1}: the document holds more than {MAX_NODES} nodes"
        + (" (alias bomb?)" if alias else ""),
        fix="specs are small: remove the repeated aliases or split the file "
        "(limit: roofline.yaml_loader.MAX_NODES)",
    )


def _merged(value: Any, line: int, stack: list[list[Any]]) -> list[tuple[Any, Any]]:
    """The items a merge key ``<<`` brings in (a mapping, or mappings where the first wins)."""
    maps = [value] if isinstance(value, dict) else value
    if not isinstance(maps, list) or not all(isinstance(m, dict) for m in maps):
        raise SpecError(
            f"line {line + 1}: '<<' merges a mapping or a list of mappings",
            field=_path(stack, leaf=False),
            fix="merge an alias of a mapping, e.g. <<: *defaults",
        )
    items: list[tuple[Any, Any]] = []
    for m in reversed(maps):
        items.extend(m.items())
    return items


def _refused(tag: str, event: Any) -> SpecError:
    line = event.start_mark.line + 1
    return SpecError(f"line {line}: refused the tag {tag!r}", fix=_PLAIN)


class _PyParser(yaml.reader.Reader, yaml.scanner.Scanner, yaml.parser.Parser):
    """PyYAML's pure-Python parser: the events, without composing or constructing."""

    def __init__(self, text: str) -> None:
        yaml.reader.Reader.__init__(self, text)
        yaml.scanner.Scanner.__init__(self)
        yaml.parser.Parser.__init__(self)


def _events(text: str) -> Any:
    parser = _CParser(text) if _CParser is not None else _PyParser(text)
    try:
        while True:
            event = parser.get_event()
            yield event
            if isinstance(event, StreamEndEvent):
                return
    finally:
        if hasattr(parser, "dispose"):
            parser.dispose()


def parse_yaml(text: str, file: str | None = None) -> Any:
    """Parse ``text`` as strict YAML; every failure is a SpecError naming ``file``.

    Plain data only: mappings, sequences, strings, numbers, booleans and null (merge keys
    ``<<`` allowed). Tags that construct Python objects, duplicate keys, recursive aliases,
    alias bombs, more than ``MAX_NODES`` nodes and nesting deeper than ``MAX_DEPTH`` are refused
    while parsing.
    """
    try:
        return _build(_events(text.removeprefix("\ufeff")))
    except SpecError as exc:
        raise exc.with_context(file=file) from None
    except yaml.YAMLError as exc:
        raise _syntax_error(exc, text, file) from None
    except RecursionError:
        raise SpecError("document nests too deeply", file=file, fix="flatten it") from None


def _syntax_error(exc: yaml.YAMLError, text: str, file: str | None) -> SpecError:
    mark = getattr(exc, "problem_mark", None)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    fix = "check indentation, colons and quotes"
    if "maximum nesting depth" in problem:  # libyaml's own limit, met while it looks ahead
        line = f"line {mark.line + 1}: " if mark is not None else ""
        return SpecError(
            f"{line}nesting deeper than {MAX_DEPTH} levels", file=file, fix="flatten the document"
        )
    if mark is not None:
        lines = text.splitlines()
        row = lines[mark.line] if mark.line < len(lines) else ""
        if "\t" in row:
            problem += " (a '\\t' on that line)"
            fix = "indent with spaces: YAML does not allow tabs there"
    if isinstance(exc, yaml.reader.ReaderError) or "control characters" in problem:
        fix = "a spec is UTF-8 text without NUL or control characters"
    return SpecError(f"YAML syntax error{where}: {problem}", file=file, fix=fix)


def path_exists(p: Path) -> bool:
    """``p.exists()``, False for names the OS cannot even look up (too long, NUL bytes)."""
    try:
        return p.exists()
    except (OSError, ValueError):
        return False


def read_spec_bytes(path: str | os.PathLike[str]) -> bytes:
    """The bytes of spec file ``path`` (a regular file of at most ``MAX_FILE_BYTES``)."""
    return read_bounded(path, MAX_FILE_BYTES)


#: parsed specs by (content digest, file name), the most recent last
_PARSED: OrderedDict[tuple[str, str], dict[str, Any]] = OrderedDict()
_PARSED_MAX = 64
_PARSED_LOCK = threading.Lock()


def parse_spec(raw: bytes, name: str) -> dict[str, Any]:
    """A spec file's bytes as a mapping (a fresh copy: the parse is cached by content)."""
    key = (content_key(raw), name)
    with _PARSED_LOCK:  # loads may run on several threads (a sweep's executor)
        data = _PARSED.get(key)
        if data is not None:
            _PARSED.move_to_end(key)
    if data is None:
        data = _parse_mapping(raw, name)
        with _PARSED_LOCK:
            _PARSED[key] = data
            while len(_PARSED) > _PARSED_MAX:
                _PARSED.popitem(last=False)
    return _thaw(data)


def _parse_mapping(raw: bytes, name: str) -> dict[str, Any]:
    data = parse_yaml(decode_text(raw, name), name)
    if not isinstance(data, dict):
        kind = "empty" if data is None else type(data).__name__
        raise SpecError(
            f"top level is {kind}, not a mapping",
            file=name,
            fix="write 'name:', 'family:'... at the top level",
        )
    return data


def _thaw(value: Any) -> Any:
    """A copy of plain data, no container shared with the cache (or between aliases)."""
    if isinstance(value, dict):
        return {k: _thaw(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_thaw(v) for v in value]
    return value


def read_spec_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a YAML spec file into a mapping, parsed once per content (a fresh copy each call;
    SpecError on every kind of failure)."""
    return parse_spec(read_spec_bytes(path), str(path))
