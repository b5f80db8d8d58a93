"""Fuzzing the loaders: whatever text, bytes or mapping comes in, the result is a valid spec or one
SpecError, never another exception (no KeyError, TypeError, RecursionError, OverflowError...)."""

from __future__ import annotations

import copy
import math
from typing import Any

import numpy as np
import yaml
from hyp_strategies import devices, layer_models
from hypothesis import given
from hypothesis import strategies as st

from roofline.counting import count_graph
from roofline.errors import SpecError
from roofline.evaluation import evaluate_costs
from roofline.presets import build_model, list_devices, list_models, load_hardware, load_model
from roofline.yaml_loader import parse_yaml

#: scalars a user (or a broken generator) might put anywhere
NASTY = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.sampled_from([0, -1, 2**63, 10**30, 10**400]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(
        [
            "",
            "x",
            "1 TB/s",
            "80 GiB",
            "-5 us",
            "nan",
            "inf TFLOP/s",
            "fp16",
            "int4",
            "conv",
            "device",
            "onchip",
            "layers",
            "1e400 B",
            "0x10",
            "1_000",
            "~",
        ]
    ),
    st.text(max_size=12),
)
VALUES = st.recursive(
    NASTY,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=10,
)


def _paths(node: Any, path: tuple = ()) -> list[tuple]:
    """Every path to a node of a nested dict/list structure (the root included)."""
    out = [path]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*path, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*path, i))
    return out


@st.composite
def mutated(draw: st.DrawFn, base: Any) -> Any:
    """``base`` with 1-3 random edits: a node replaced, a key deleted or added, an item copied."""
    data = copy.deepcopy(base)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(_paths(data)))
        if not path:
            return draw(VALUES)
        parent = data
        for p in path[:-1]:
            parent = parent[p]
        key = path[-1]
        action = draw(st.sampled_from(["replace", "replace", "delete", "add", "copy"]))
        if action == "replace":
            parent[key] = draw(VALUES)
        elif action == "delete" and isinstance(parent, dict):
            del parent[key]
        elif action == "add" and isinstance(parent[key], dict):
            parent[key][
                draw(st.sampled_from(["kind", "name", "peak", "tile", "groups", "extra"]))
            ] = draw(VALUES)
        elif action == "copy" and isinstance(parent, list):
            parent.append(copy.deepcopy(parent[key]))
    return data


MODEL_SPECS = [load_model(m).spec.model_dump() for m in list_models()]
DEVICE_SPECS = [load_hardware(d).model_dump(exclude_none=True) for d in list_devices()]


def _try_model(data: Any) -> None:
    try:
        model = build_model(data, file="<fuzz>")
    except SpecError:
        return
    # a spec that loads counts to numbers (possibly huge, never an exception)
    count_graph(model.graph, [1, 3], "fp16")


def _try_device(data: Any) -> None:
    try:
        hw = load_hardware(data)
    except SpecError:
        return
    assert all(math.isfinite(lvl.bandwidth) and lvl.bandwidth > 0 for lvl in hw.memory.values())
    assert all(math.isfinite(lvl.capacity) and lvl.capacity > 0 for lvl in hw.memory.values())


@given(st.sampled_from(range(len(MODEL_SPECS))).flatmap(lambda i: mutated(MODEL_SPECS[i])))
def test_mutated_shipped_models(data):
    _try_model(data)


@given(layer_models(max_ops=4).flatmap(mutated))
def test_mutated_layer_models(data):
    _try_model(data)


@given(st.sampled_from(range(len(DEVICE_SPECS))).flatmap(lambda i: mutated(DEVICE_SPECS[i])))
def test_mutated_shipped_devices(data):
    _try_device(data)


@given(devices().flatmap(mutated))
def test_mutated_generated_devices(data):
    _try_device(data)


@given(layer_models(max_ops=3).flatmap(mutated), devices().flatmap(mutated))
def test_whatever_loads_evaluates_or_says_why(model_data, device_data):
    try:
        model, hw = build_model(model_data), load_hardware(device_data)
        evaluate_costs(count_graph(model.graph, [1, 5], "fp16"), hw)
    except SpecError:
        pass


@given(VALUES)
def test_arbitrary_data_as_specs(data):
    _try_model(data)
    _try_device(data)


# -- text -----------------------------------------------------------------------------------------

YAML_BITS = st.sampled_from(
    [
        "\n",
        "  ",
        "\t",
        ": ",
        "- ",
        "[",
        "]",
        "{",
        "}",
        ",",
        "&a ",
        "*a",
        "<<: ",
        "!tag ",
        "? ",
        "!!python/name:os.system",
        "|",
        ">",
        "'",
        '"',
        "#",
        "---",
        "...",
        "%YAML 1.1",
        "\\",
        "\x00",
        "\ufeff",
        "1e400",
        "0o17",
        ".nan",
        "~",
        "name",
        "family",
        "layers",
        "ops",
        "kind",
    ]
)


@st.composite
def yaml_texts(draw: st.DrawFn) -> str:
    """Valid YAML of random data, then spliced with YAML syntax fragments."""
    text = yaml.safe_dump(draw(VALUES), allow_unicode=True)
    for _ in range(draw(st.integers(0, 4))):
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(YAML_BITS) + text[at:]
    return text


@given(st.one_of(yaml_texts(), st.text(max_size=200)))
def test_parse_yaml_returns_data_or_spec_error(text):
    try:
        parse_yaml(text, "<fuzz>")
    except SpecError as exc:
        assert exc.file == "<fuzz>"
        assert "\n" not in str(exc)


@given(yaml_texts())
def test_yaml_text_through_the_model_and_device_loaders(text):
    try:
        data = parse_yaml(text, "<fuzz>")
    except SpecError:
        return
    _try_model(data)
    _try_device(data)


@given(st.binary(max_size=300))
def test_arbitrary_bytes_as_spec_files(tmp_path_factory, raw):
    path = tmp_path_factory.mktemp("fuzz") / "spec.yaml"
    path.write_bytes(raw)
    for load in (load_model, load_hardware):
        try:
            load(str(path))
        except SpecError as exc:
            assert exc.file == str(path)


# -- extreme floats in device specs ---------------------------------------------------------------

#: floats at and past the edges of every range: subnormals, the smallest and largest normals,
#: zero and negative zero, NaN and the infinities, and 2**53 + 1
EXTREME = st.sampled_from(
    [
        5e-324,
        1e-320,
        2.2250738585072014e-308,
        1e-300,
        1e-30,
        1e-4,
        1e-3,
        0.0,
        -0.0,
        -1e-300,
        1.0,
        1e3,
        1e6,
        2.0**53 + 1,
        1e18,
        1e30,
        1e300,
        1.7976931348623157e308,
        float("nan"),
        float("inf"),
        float("-inf"),
    ]
)
#: unit strings for the quantities that carry one
UNITS = {"energy": " J", "tdp": " W", "idle": " W"}


def _numeric_paths(node: Any, path: tuple = ()) -> list[tuple]:
    """Paths to every number (and quantity string) in a device spec."""
    if isinstance(node, dict):
        return [p for k, v in node.items() for p in _numeric_paths(v, (*path, k))]
    if isinstance(node, list):
        return [p for i, v in enumerate(node) for p in _numeric_paths(v, (*path, i))]
    if isinstance(node, (int, float)) and not isinstance(node, bool):
        return [path]
    if isinstance(node, str) and node[:1].isdigit():
        return [path]
    return []


@st.composite
def extreme_devices(draw: st.DrawFn) -> dict:
    """A generated device (with its energy model) with 1-3 numbers replaced by extreme floats."""
    spec = copy.deepcopy(draw(devices(energy=draw(st.booleans()))))
    paths = _numeric_paths(spec)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(paths))
        parent = spec
        for p in path[:-1]:
            parent = parent[p]
        value = draw(EXTREME)
        unit = next((u for k, u in UNITS.items() if k in map(str, path)), "")
        as_text = unit or isinstance(parent[path[-1]], str)
        parent[path[-1]] = f"{value!r}{unit}" if as_text else value
    return spec


@given(extreme_devices(), layer_models(max_ops=3))
def test_extreme_floats_in_a_device_give_finite_results_or_a_spec_error(device, model):
    """Whatever extreme float lands in a device spec: a SpecError at load, or every time,
    byte count and energy of the evaluation finite and non-negative (never a null latency)."""
    try:
        hw = load_hardware(device)
        m = build_model(model)
        r = evaluate_costs(count_graph(m.graph, [1, 5], "fp16"), hw)
    except SpecError as exc:
        # several invalid fields come together (SpecErrors), each on its one line
        for one in getattr(exc, "errors", (exc,)):
            assert "\n" not in str(one)
        return
    for name in ("time_s", "latency_s", "bytes_moved", "compute_time_s", "devices_needed"):
        arr = getattr(r, name)
        assert np.isfinite(arr).all() and (arr >= 0).all(), name
    assert (r.latency_s > 0).all()
    if hw.has_energy:
        assert np.isfinite(r.energy_per_sample_j).all()
