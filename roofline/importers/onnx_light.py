"""Read an ONNX file without its weights: the protobuf bytes of the model, every large
initializer's data left out (its name, type and dims kept).

Counting needs the graph and the weights' shapes, never their values, and parsing a 100 MB
``resnet50.onnx`` costs more than the rest of the import together. The file is memory-mapped and
walked at the protobuf wire level (ModelProto field 7 = graph; GraphProto field 5 = initializer;
TensorProto fields 4-7, 9-11 = data); the pages that hold weights are never read.
"""

from __future__ import annotations

import mmap
from pathlib import Path

_GRAPH = 7
_INITIALIZER = 5
_DIMS = 1
_DATA_FIELDS = {4, 5, 6, 7, 9, 10, 11}


class WireError(ValueError):
    """The bytes are not a well-formed protobuf message."""


def _varint(buf: memoryview, i: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if i >= len(buf):
            raise WireError("truncated varint")
        byte = buf[i]
        i += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, i
        shift += 7
        if shift > 63:
            raise WireError("varint too long")


def _fields(buf: memoryview) -> list[tuple[int, int, int, int]]:
    """(field number, wire type, start of the field's key, end of the field) of each field."""
    out = []
    i = 0
    n = len(buf)
    while i < n:
        start = i
        key, i = _varint(buf, i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            _, i = _varint(buf, i)
        elif wire == 1:
            i += 8
        elif wire == 2:
            length, i = _varint(buf, i)
            i += length
        elif wire == 5:
            i += 4
        else:
            raise WireError(f"wire type {wire}")
        if i > n or number == 0:
            raise WireError("truncated message")
        out.append((number, wire, start, i))
    return out


def _payload(buf: memoryview, start: int) -> memoryview:
    """The bytes of a length-delimited field whose key starts at ``start``."""
    _, i = _varint(buf, start)
    length, i = _varint(buf, i)
    return buf[i : i + length]


def _encode(number: int, payload: bytes) -> bytes:
    return _key_len(number, len(payload)) + payload


def _key_len(number: int, length: int) -> bytes:
    out = bytearray()
    for v in ((number << 3) | 2, length):
        while True:
            byte = v & 0x7F
            v >>= 7
            out.append(byte | (0x80 if v else 0))
            if not v:
                break
    return bytes(out)


def _numel(tensor: memoryview) -> int:
    n = 1
    for number, wire, start, _ in _fields(tensor):
        if number != _DIMS:
            continue
        if wire == 0:
            _, i = _varint(tensor, start)
            d, _ = _varint(tensor, i)
            n *= d
        else:
            packed = _payload(tensor, start)
            j = 0
            while j < len(packed):
                d, j = _varint(packed, j)
                n *= d
    return n


def _light_tensor(tensor: memoryview, small: int) -> bytes:
    if _numel(tensor) <= small:
        return bytes(tensor)
    keep = [tensor[s:e] for number, _, s, e in _fields(tensor) if number not in _DATA_FIELDS]
    return b"".join(keep)


def _light_graph(graph: memoryview, small: int) -> bytes:
    parts: list[bytes] = []
    for number, _, start, end in _fields(graph):
        if number == _INITIALIZER:
            parts.append(_encode(_INITIALIZER, _light_tensor(_payload(graph, start), small)))
        else:
            parts.append(bytes(graph[start:end]))
    return b"".join(parts)


def read_light(path: str | Path, small: int) -> bytes:
    """Return the model's protobuf bytes with the data of initializers over ``small`` elements
    left out.

    Raises
    ------
    WireError
        The file is not a well-formed protobuf message (truncated, or another kind of file).
    """
    with open(path, "rb") as fh:
        if not Path(path).stat().st_size:
            raise WireError("empty file")
        with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
            buf = memoryview(mm)
            try:
                parts: list[bytes] = []
                for number, wire, start, end in _fields(buf):
                    if number == _GRAPH and wire == 2:
                        parts.append(_encode(_GRAPH, _light_graph(_payload(buf, start), small)))
                    else:
                        parts.append(bytes(buf[start:end]))
                return b"".join(parts)
            finally:
                buf.release()
