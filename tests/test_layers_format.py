"""The ``layers`` format for any network: views, parameters, broadcasting, repetition, tied and
per-run ops, shape checking and the wording of its errors (issue 11, part 4).

Expected values are written as formulas from the op modules' docstrings (``roofline/ops``).
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pytest

import roofline as rl
from roofline.counting import count_graph
from roofline.errors import SpecError
from roofline.families.layers import suggest_kind
from roofline.importers import unused_params
from roofline.liveness import live_elements
from roofline.testing.reference import count_graph_reference


def spec(ops: list[dict[str, Any]], inputs: dict[str, list[int]] | None = None) -> dict:
    return {
        "name": "t",
        "family": "layers",
        "source": "tests/test_layers_format.py",
        "params": {"inputs": inputs or {"x": [16, 8, 8]}, "ops": ops},
    }


def error(ops: list[dict[str, Any]], inputs: dict[str, list[int]] | None = None) -> SpecError:
    with pytest.raises(SpecError) as info:
        rl.load_model(spec(ops, inputs))
    return info.value


def totals(model: Any, batch: list[int]) -> dict[str, np.ndarray]:
    """Each count column of the table (``CostTable.columns``: per op x batch, or per op) summed
    over ops, one value per batch, and the GEMMs' dimensions summed likewise."""
    c = count_graph(model.graph, batch)
    out = {}
    for k, col in c.columns.items():
        v = np.asarray(col, dtype=float)
        out[k] = v.sum(axis=0) if v.ndim == 2 else np.full(len(batch), v.sum())
    for k in ("gemm_m", "gemm_n", "gemm_k", "gemm_count"):
        out[k] = np.asarray(getattr(c, k), dtype=float).sum(axis=0)
    return out


# -- repetition ----------------------------------------------------------------------------------
BLOCK = {
    "times": 3,
    "ops": [
        {"kind": "conv", "name": "b{i}.conv", "out_channels": 16, "kernel_size": 3, "padding": 1},
        {"kind": "activation", "name": "b{i}.relu"},
        {"kind": "elementwise", "name": "b{i}.add", "inputs": ["b{i}.relu", "{input}"]},
    ],
}


def test_a_block_equals_its_ops_written_out() -> None:
    """times: 3 with {i} = 0, 1, 2 and {input} = the tensor each iteration starts from."""
    written = []
    prev = "x"
    for i in range(3):
        written += [
            {
                "kind": "conv",
                "name": f"b{i}.conv",
                "out_channels": 16,
                "kernel_size": 3,
                "padding": 1,
            },
            {"kind": "activation", "name": f"b{i}.relu"},
            {"kind": "elementwise", "name": f"b{i}.add", "inputs": [f"b{i}.relu", prev]},
        ]
        prev = f"b{i}.add"
    a, b = rl.load_model(spec([BLOCK])), rl.load_model(spec(written))
    assert [(n.op.name, n.inputs) for n in a.graph.nodes] == [
        (n.op.name, n.inputs) for n in b.graph.nodes
    ]
    ta, tb = totals(a, [1, 5]), totals(b, [1, 5])
    assert all(np.array_equal(ta[k], tb[k]) for k in ta)


def test_block_index_name_start_offsets_and_nesting() -> None:
    ops = [
        {
            "times": 2,
            "index": "s",
            "start": 1,
            "ops": [
                {
                    "times": 2,
                    "index": "j",
                    "ops": [{"kind": "activation", "name": "stage{s}.{j}", "inputs": ["x"]}],
                },
                {
                    "kind": "elementwise",
                    "name": "stage{s}.sum",
                    "inputs": ["stage{s}.0", "stage{s}.1"],
                },
            ],
        },
        {"kind": "elementwise", "name": "last", "inputs": ["stage1.sum", "stage{2}.sum"]}
        if False
        else {"kind": "elementwise", "name": "last", "inputs": ["stage1.sum", "stage2.sum"]},
    ]
    names = [n.op.name for n in rl.load_model(spec(ops)).graph.nodes]
    assert names == [
        "stage1.0",
        "stage1.1",
        "stage1.sum",
        "stage2.0",
        "stage2.1",
        "stage2.sum",
        "last",
    ]
    chain = [
        {
            "times": 3,
            "ops": [
                {"kind": "activation", "name": "a{i}", "inputs": ["x"]},
                {"kind": "elementwise", "name": "s{i+1}", "inputs": ["a{i}", "x"]},
            ],
        }
    ]
    assert [n.op.name for n in rl.load_model(spec(chain)).graph.nodes][1::2] == ["s1", "s2", "s3"]


@pytest.mark.parametrize(
    ("ops", "field", "problem"),
    [
        ([{"kind": "activation", "name": "a{j}"}], "ops.a{j}.name", r"unknown placeholder \{j\}"),
        ([{"times": 0, "ops": [{"kind": "activation"}]}], "ops[0].times", "times >= 1"),
        (
            [{"times": 2, "ops": [{"kind": "activation", "name": "same"}]}],
            "ops.same.name",
            "used twice",
        ),
        ([{"times": 2, "opz": []}], "ops[0]", "unknown field"),
    ],
)
def test_block_errors(ops: list[dict[str, Any]], field: str, problem: str) -> None:
    exc = error(ops)
    assert exc.field == f"params.{field}"
    assert re.search(problem, exc.problem), exc.problem


# -- views, parameters, broadcasting -------------------------------------------------------------
def test_views_cost_nothing_and_launch_nothing() -> None:
    ops = [
        {"kind": "flatten", "name": "flat"},
        {"kind": "reshape", "name": "r", "target": [16, -1]},
        {"kind": "permute", "name": "p", "dims": [1, 0]},
        {"kind": "slice", "name": "s", "dim": 0, "start": 16},
        {"kind": "expand", "name": "e", "inputs": ["x"], "target": [2, 16, 8, 8]},
        {"kind": "view", "name": "v", "inputs": ["x"], "target": [4, 4]},
    ]
    m = rl.load_model(spec(ops))
    assert [op.out_shape for op in m.graph.ops] == [
        (1024,),
        (16, 64),
        (64, 16),
        (48, 16),
        (2, 16, 8, 8),
        (4, 4),
    ]
    t = totals(m, [1, 7])
    for key in (
        "flops_matrix",
        "flops_vector",
        "act_in_bytes",
        "act_out_bytes",
        "weight_read_bytes",
    ):
        assert not t[key].any(), key
    assert all(op.launches_per_copy == 0 and op.aliases_input for op in m.graph.ops)


def test_parameters_used_and_never_run() -> None:
    """A position embedding (1 x 64) added to (16, 64) tokens, and an auxiliary head's weight
    that never runs: params = 64 + 1000 * 64; traffic = the used one only."""
    ops = [
        {"kind": "parameter", "name": "pos", "shape": [1, 64]},
        {"kind": "elementwise", "name": "add", "inputs": ["x", "pos"]},
        {"kind": "parameter", "name": "aux.weight", "shape": [1000, 64], "used": False},
    ]
    m = rl.load_model(spec(ops, {"x": [16, 64]}))
    t = totals(m, [1, 4])
    assert t["weight_elems"][0] == 64 + 64000
    assert t["weight_read_bytes"][0] == 64 * 4
    # the add reads 16*64 + 64 elements per sample, writes 16*64
    assert list(t["act_in_elems"]) == [16 * 64 + 64, 4 * (16 * 64 + 64)]
    assert unused_params(m) == ["aux.weight"]
    assert m.graph.ops[0].launches_per_copy == 0


def test_broadcast_gate_and_its_errors() -> None:
    """A squeeze-excitation gate: (16, 8, 8) * (16, 1, 1)."""
    ops = [
        {"kind": "adaptive_pool", "name": "pool"},
        {"kind": "activation", "name": "gate", "function": "sigmoid"},
        {"kind": "elementwise", "name": "scale", "op": "mul", "inputs": ["x", "gate"]},
    ]
    m = rl.load_model(spec(ops))
    scale = m.graph.ops[-1]
    assert scale.shape == (16, 8, 8) and scale.input_shapes == ((16, 8, 8), (16, 1, 1))
    assert scale.counts(1).act_in == 1024 + 16
    exc = error(
        [
            {"kind": "conv", "name": "c", "out_channels": 32, "kernel_size": 1},
            {"kind": "elementwise", "name": "bad_add", "inputs": ["c", "x"]},
        ]
    )
    assert exc.field == "params.ops.bad_add"
    assert "[32, 8, 8] and [16, 8, 8] do not broadcast" in exc.problem


# -- shape checking --------------------------------------------------------------------------------
def test_wrong_in_features_after_a_pool_names_op_shapes_and_fix() -> None:
    """The issue's case: a linear with in_features=4096 after a pool that gives 16x2x2."""
    exc = error(
        [
            {"kind": "pool", "name": "pool", "kernel_size": 4},
            {"kind": "linear", "name": "fc", "in_features": 4096, "out_features": 10},
        ]
    )
    assert exc.field == "params.ops.fc.in_features"
    assert "in_features=4096" in exc.problem and "[16, 2, 2]" in exc.problem
    assert "'pool'" in exc.problem
    assert exc.fix and "in_features: 2" in exc.fix
    # the flattened size is accepted: torch.flatten before the layer (VGG's 512*7*7)
    m = rl.load_model(
        spec(
            [
                {"kind": "pool", "name": "pool", "kernel_size": 4},
                {"kind": "linear", "name": "fc", "in_features": 64, "out_features": 10},
            ]
        )
    )
    assert m.graph.ops[1].rows == 1 and m.graph.ops[1].params == 64 * 10 + 10


@pytest.mark.parametrize(
    ("op", "field", "given", "actual"),
    [
        (
            {"kind": "conv", "in_channels": 32, "out_channels": 8, "kernel_size": 1},
            "in_channels",
            "32",
            "16",
        ),
        (
            {"kind": "conv", "input_size": [4, 4], "out_channels": 8, "kernel_size": 1},
            "input_size",
            "[4, 4]",
            "[8, 8]",
        ),
        ({"kind": "batchnorm", "shape": [16, 4, 4]}, "shape", "[16, 4, 4]", "[16, 8, 8]"),
        ({"kind": "pool", "channels": 3, "kernel_size": 2}, "channels", "3", "16"),
        (
            {"kind": "concat", "input_shapes": [[3, 8, 8]]},
            "input_shapes",
            "[[3, 8, 8]]",
            "[[16, 8, 8]]",
        ),
    ],
)
def test_every_given_shape_field_is_checked(op: dict, field: str, given: str, actual: str) -> None:
    exc = error([{**op, "name": "op1"}])
    assert exc.field == f"params.ops.op1.{field}"
    assert f"{field}={given}" in exc.problem and f"{field}={actual}" in exc.problem
    assert exc.fix and f"{field}: {actual}" in exc.fix and "README" not in exc.fix


def test_error_messages_name_ops_and_give_fixes_that_fit_a_users_folder() -> None:
    missing = error([{"kind": "linear", "name": "head"}])
    assert missing.field == "params.ops.head.out_features"
    assert missing.fix == "a linear op needs out_features"
    assert "README" not in (missing.fix or "")
    assert suggest_kind("flaten") == "did you mean 'flatten'?"
    assert suggest_kind("Conv2d") == "did you mean 'conv'?"
    assert "function: relu" in suggest_kind("relu")
    assert suggest_kind("Dropout").startswith("no op")
    for word in ("flatten", "reshape", "permute"):  # exist now; never 'attention'
        assert "attention" not in suggest_kind(word + "x")


# -- tied weights and per-run ops ----------------------------------------------------------------
def test_tied_weights_count_once_and_are_read_by_both() -> None:
    """A token embedding (100 x 32) and an output projection tied to it (32 -> 100, no bias)."""
    ops = [
        {
            "kind": "embedding",
            "name": "wte",
            "num_embeddings": 100,
            "embedding_dim": 32,
            "lookups": 8,
        },
        {"kind": "linear", "name": "lm_head", "out_features": 100, "bias": False, "tied_to": "wte"},
    ]
    m = rl.load_model(spec(ops, {"ids": [8]}))
    t = totals(m, [1, 2])
    assert t["weight_elems"][0] == 3200
    assert m.graph.ops[1].counts(1).weight_read == 3200
    assert error([{**ops[1], "tied_to": "nope"}], {"ids": [8, 32]}).field == (
        "params.ops.lm_head.tied_to"
    )


def test_per_run_ops_do_not_grow_with_the_batch() -> None:
    """Swin v2's position-bias MLP: a linear on a constant table, once per run."""
    ops = [
        {"kind": "constant", "name": "table", "shape": [225, 2]},
        {"kind": "linear", "name": "cpb.0", "out_features": 512, "per_run": True},
        {"kind": "activation", "name": "cpb.1", "per_run": True},
        {"kind": "linear", "name": "cpb.2", "out_features": 3, "bias": False, "per_run": True},
    ]
    m = rl.load_model(spec(ops))
    fast = count_graph(m.graph, [1, 8])
    ref = count_graph_reference(m.graph, [1, 8])
    macs = 2 * 225 * (2 * 512 + 512 * 3)
    assert list(fast.flops_mac.sum(axis=0)) == [macs, macs]
    assert list(ref.flops_mac.sum(axis=0)) == [macs, macs]
    assert list(ref.flops_vector.sum(axis=0)) == [225 * 512] * 2


def test_views_and_parameters_hold_no_live_activations() -> None:
    """A view keeps its source alive and holds nothing itself; a parameter is a weight. Input x
    (16 x 64 = 1024 elements) flattened, a 1024-element position parameter added to the view."""
    ops = [
        {"kind": "parameter", "name": "pos", "shape": [1024]},
        {"kind": "flatten", "name": "flat", "inputs": ["x"]},
        {"kind": "elementwise", "name": "add", "inputs": ["flat", "pos"]},
    ]
    m = rl.load_model(spec(ops, {"x": [16, 64]}))
    live = live_elements(m.graph)
    # at the parameter only x is alive; at the add (one kernel with the view it reads), x
    # (through the view, which holds nothing of its own) and the sum
    assert live[0] == 1024 and live[2] == 2048
    t = totals(m, [1])
    assert list(count_graph(m.graph, [1], fuse=False).launches) == [0, 0, 1]
    assert t["flops_vector"][0] == 1024


@pytest.mark.parametrize(
    ("op", "field", "problem"),
    [
        (
            {"kind": "pool", "kernel_size": 0},
            "kernel_size",
            "kernel_size=[0, 0] has an entry below",
        ),
        ({"kind": "pool", "kernel_size": 9}, "kernel_size", "larger than the padded input [8, 8]"),
        ({"kind": "pool", "kernel_size": 2, "padding": 2}, "padding", "more than half"),
        ({"kind": "pool", "kernel_size": [2, 2, 2]}, "kernel_size", "like input_size"),
        ({"kind": "adaptive_pool", "output_size": [1, 1, 1]}, "output_size", "does not fit"),
    ],
)
def test_a_bad_pool_names_its_field_and_the_fix(op: dict, field: str, problem: str) -> None:
    # pooling's checks raise ValueError("field=value ... (fix)") as the other ops do; the loader
    # names the field from the message
    exc = error([{**op, "name": "p1"}])
    assert exc.field == f"params.ops.p1.{field}", str(exc)
    assert problem in exc.problem and exc.problem.endswith(")"), str(exc)
    assert "\n" not in str(exc)
