"""``from_onnx`` on graphs built with ``onnx.helper`` (no torch): every mapped ONNX op, counts
from formulas, the batch axis and symbolic dims, bad files; and one torch export held to
``from_torch`` (skipped without torch).

Formulas follow the op modules (``roofline/ops``): a conv's MACs are K*P*(C/g)*R per sample, a
linear's in*out per row, a matmul's m*n*k per product; ``flops_mac`` is 2 x MACs.
"""

from __future__ import annotations

import importlib.util
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import roofline as rl
from roofline.errors import SpecError

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from roofline.importers import UnmappedOpWarning, from_onnx, write_layers_spec  # noqa: E402

FLOAT = TensorProto.FLOAT


def init(name: str, *shape: int, value: Any = None) -> Any:
    data = np.full(shape, value, np.float32) if value is not None else np.zeros(shape, np.float32)
    return numpy_helper.from_array(data, name)


def ints(name: str, *values: int) -> Any:
    return numpy_helper.from_array(np.array(values, dtype=np.int64), name)


def graph_model(
    nodes: list[Any],
    inputs: list[Any],
    inits: list[Any],
    output: str,
    opset: int = 21,
) -> Any:
    g = helper.make_graph(
        nodes, "g", inputs, [helper.make_tensor_value_info(output, FLOAT, None)], inits
    )
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 10
    return m


def image(c: int, h: int, w: int) -> Any:
    return helper.make_tensor_value_info("x", FLOAT, ["batch", c, h, w])


def kinds(model: Any) -> list[str]:
    return [op.kind for op in model.graph.ops]


def totals(model: Any, batch: Any = (1, 4)) -> Any:
    return rl.count(model, batch=list(batch)).costs


# -- a CNN -----------------------------------------------------------------------------------------
def cnn() -> Any:
    n = helper.make_node
    nodes = [
        n("Conv", ["x", "w1", "b1"], ["c1"], "/conv1/Conv", pads=[1, 1, 1, 1]),
        n("BatchNormalization", ["c1", "s", "bb", "mean", "var"], ["n1"], "/bn1/BN"),
        n("Relu", ["n1"], ["r1"], "/relu/Relu"),
        n("MaxPool", ["r1"], ["p1"], "/pool/MaxPool", kernel_shape=[2, 2], strides=[2, 2]),
        n("Conv", ["p1", "w2"], ["c2"], "/dw/Conv", pads=[1, 1, 1, 1], group=8),
        n("HardSwish", ["c2"], ["h2"], "/act/HardSwish"),
        n("GlobalAveragePool", ["h2"], ["g"], "/gap/GlobalAveragePool"),
        n("Flatten", ["g"], ["f"], "/Flatten", axis=1),
        n("Gemm", ["f", "fc_w", "fc_b"], ["y"], "/fc/Gemm", transB=1),
        n("Softmax", ["y"], ["out"], "/Softmax", axis=-1),
    ]
    inits = [
        init("w1", 8, 3, 3, 3),
        init("b1", 8),
        init("s", 8, value=1.0),
        init("bb", 8),
        init("mean", 8),
        init("var", 8, value=1.0),
        init("w2", 8, 1, 3, 3),
        init("fc_w", 10, 8),
        init("fc_b", 10),
    ]
    return graph_model(nodes, [image(3, 16, 16)], inits, "out")


def test_cnn_counts_by_formula() -> None:
    """conv1 8x3x3x3 on 16x16 (pad 1), BN, ReLU, 2x2 pool -> 8x8, depthwise 3x3, GAP, fc 8->10.
    params = 8*27 + 8 + 2*8 + 8*9 + 8*10 + 10 (running statistics are not parameters)."""
    model = from_onnx(cnn())
    assert kinds(model) == [
        "conv",
        "batchnorm",
        "activation",
        "pool",
        "conv",
        "activation",
        "adaptive_pool",
        "reshape",
        "linear",
        "softmax",
    ]
    assert [op.name for op in model.graph.ops][:3] == ["conv1", "bn1", "relu"]
    c = totals(model)
    assert c.weight_elems.sum() == 8 * 27 + 8 + 16 + 72 + 80 + 10
    macs = 8 * 16 * 16 * 27 + 8 * 8 * 8 * 9 + 8 * 10
    assert list(c.flops_mac.sum(axis=0)) == [2 * macs, 4 * 2 * macs]


# -- a transformer block ---------------------------------------------------------------------------
def transformer() -> Any:
    """Token embedding, a class token concatenated, a position embedding, one pre-norm attention
    block (2 heads of 8) with a residual, a GELU MLP; seq is a symbolic dim."""
    n = helper.make_node
    d, h = 16, 2
    nodes = [
        n("Gather", ["wte", "ids"], ["e"], "/wte/Gather"),
        n("Shape", ["e"], ["e_shape"], "/Shape"),
        n("Gather", ["e_shape", "zero"], ["b"], "/Gather_b"),
        n("Unsqueeze", ["b", "axis0"], ["b1"], "/Unsqueeze"),
        n("Concat", ["b1", "one_d"], ["cls_shape"], "/Concat_shape", axis=0),
        n("Expand", ["cls", "cls_shape"], ["cls_b"], "/Expand"),
        n("Concat", ["cls_b", "e"], ["t"], "/Concat", axis=1),
        n("Add", ["t", "pos"], ["t1"], "/Add_pos"),
        n("LayerNormalization", ["t1", "ln_s", "ln_b"], ["ln"], "/ln/LayerNorm", axis=-1),
        n("MatMul", ["ln", "qkv_w"], ["qkv0"], "/qkv/MatMul"),
        n("Add", ["qkv0", "qkv_b"], ["qkv"], "/qkv/Add"),
        n("Split", ["qkv"], ["q0", "k0", "v0"], "/Split", axis=-1, num_outputs=3),
        *[n("Reshape", [f"{a}0", "heads_shape"], [f"{a}1"], f"/Reshape_{a}") for a in "qkv"],
        n("Transpose", ["q1"], ["q"], "/Tq", perm=[0, 2, 1, 3]),
        n("Transpose", ["k1"], ["kT"], "/Tk", perm=[0, 2, 3, 1]),
        n("Transpose", ["v1"], ["v"], "/Tv", perm=[0, 2, 1, 3]),
        n("MatMul", ["q", "kT"], ["s0"], "/attn/MatMul"),
        n("Mul", ["s0", "scale"], ["s1"], "/attn/Mul"),
        n("Softmax", ["s1"], ["p"], "/attn/Softmax", axis=-1),
        n("MatMul", ["p", "v"], ["o0"], "/attn/MatMul_1"),
        n("Transpose", ["o0"], ["o1"], "/attn/T", perm=[0, 2, 1, 3]),
        n("Reshape", ["o1", "model_shape"], ["o2"], "/attn/Reshape"),
        n("MatMul", ["o2", "out_w"], ["o3"], "/out/MatMul"),
        n("Add", ["o3", "t1"], ["r"], "/Add_res"),
        n("MatMul", ["r", "fc1_w"], ["m0"], "/fc1/MatMul"),
        n("Add", ["m0", "fc1_b"], ["m1"], "/fc1/Add"),
        n("Gelu", ["m1"], ["m2"], "/gelu/Gelu"),
        n("MatMul", ["m2", "fc2_w"], ["y"], "/fc2/MatMul"),
    ]
    inits = [
        init("wte", 100, d),
        init("cls", 1, 1, d),
        init("pos", 1, 5, d),
        init("ln_s", d, value=1.0),
        init("ln_b", d),
        init("qkv_w", d, 3 * d),
        init("qkv_b", 3 * d),
        init("out_w", d, d),
        init("fc1_w", d, 4 * d),
        init("fc1_b", 4 * d),
        init("fc2_w", 4 * d, d),
        numpy_helper.from_array(np.array(0.25, np.float32), "scale"),
        numpy_helper.from_array(np.array(0, np.int64), "zero"),
        ints("axis0", 0),
        ints("one_d", 1, d),
        ints("heads_shape", 0, -1, h, d // h),
        ints("model_shape", 0, -1, d),
    ]
    ids = helper.make_tensor_value_info("ids", TensorProto.INT64, ["batch", "seq"])
    return graph_model(nodes, [ids], inits, "y")


def test_transformer_block_with_a_symbolic_seq() -> None:
    """seq = 4 tokens + the class token = 5. Per sample: qkv 5x16x48, scores 2 heads of 5x8x5,
    context 2 x 5x5x8, out 5x16x16, MLP 5x16x64 + 5x64x16; the embedding has no MACs."""
    with pytest.raises(SpecError, match=r"symbolic dims \['seq'\] have no value") as info:
        from_onnx(transformer())
    assert info.value.fix and "'seq': 128" in info.value.fix
    model = from_onnx(transformer(), dims={"seq": 4})
    ks = kinds(model)
    assert ks.count("matmul") == 2 and ks.count("linear") == 4 and "embedding" in ks
    linears = [op for op in model.graph.ops if op.kind == "linear"]
    assert [op.bias for op in linears] == [True, False, True, False]  # MatMul + Add of a bias
    c = totals(model)
    params = 100 * 16 + 16 + 5 * 16 + 32 + (16 * 48 + 48) + 16 * 16 + (16 * 64 + 64) + 64 * 16
    assert c.weight_elems.sum() == params
    macs = 5 * 16 * 48 + 2 * 5 * 8 * 5 + 2 * 5 * 5 * 8 + 5 * 16 * 16 + 5 * 16 * 64 + 5 * 64 * 16
    assert list(c.flops_mac.sum(axis=0)) == [2 * macs, 4 * 2 * macs]


# -- recurrent -------------------------------------------------------------------------------------
@pytest.mark.parametrize(("op", "gates"), [("LSTM", 4), ("GRU", 3)])
def test_recurrent_nodes(op: str, gates: int) -> None:
    """One layer, hidden 16, input 8, 6 steps: params G*H*(I+H) + 2*G*H (PyTorch's count);
    MACs per sequence T*G*H*(I+H)."""
    h, i, t = 16, 8, 6
    node = helper.make_node(op, ["x", "w", "r", "b"], ["y", "yh"], "/rnn/" + op, hidden_size=h)
    inits = [init("w", 1, gates * h, i), init("r", 1, gates * h, h), init("b", 1, 2 * gates * h)]
    x = helper.make_tensor_value_info("x", FLOAT, [t, "batch", i])
    model = from_onnx(graph_model([node], [x], inits, "y"))  # (T, batch, I): the symbol is dim 1
    rnn = next(o for o in model.graph.ops if o.kind == op.lower())
    assert (rnn.input_size, rnn.hidden_size, rnn.seq_len) == (i, h, t)
    c = totals(model)
    assert c.weight_elems.sum() == gates * h * (i + h) + 2 * gates * h
    assert c.flops_mac.sum(axis=0)[0] == 2 * t * gates * h * (i + h)


# -- every other mapped op -------------------------------------------------------------------------
def one_op(
    op: str, extra: list[Any] | None = None, shape: tuple[int, ...] = (4, 8, 8), **attrs: Any
) -> Any:
    ins = ["x"] + [e.name for e in extra or []]
    node = helper.make_node(op, ins, ["y"], f"/m/{op}", **attrs)
    return graph_model([node], [image(*shape)], list(extra or []), "y")


SINGLE = [
    ("Sigmoid", {}, [], "activation"),
    ("Tanh", {}, [], "activation"),
    ("HardSigmoid", {}, [], "activation"),
    ("LeakyRelu", {}, [], "activation"),
    ("Elu", {}, [], "activation"),
    ("Softplus", {}, [], "activation"),
    ("Gelu", {}, [], "activation"),
    ("Sqrt", {}, [], "elementwise"),
    ("Exp", {}, [], "elementwise"),
    ("Erf", {}, [], "elementwise"),
    ("Neg", {}, [], "elementwise"),
    ("Abs", {}, [], "elementwise"),
    ("Reciprocal", {}, [], "elementwise"),
    ("Cast", {"to": FLOAT}, [], "copy"),
    ("Transpose", {"perm": [0, 2, 3, 1]}, [], "copy"),
    ("AveragePool", {"kernel_shape": [2, 2], "strides": [2, 2]}, [], "pool"),
    ("GlobalMaxPool", {}, [], "adaptive_pool"),
    ("ReduceMean", {"keepdims": 1}, ["axes23"], "adaptive_pool"),
    ("ReduceSum", {"keepdims": 0}, ["axes1"], "reduce"),
    ("ReduceMax", {"keepdims": 1}, ["axes3"], "reduce"),
    ("InstanceNormalization", {}, ["s4", "b4"], "groupnorm"),
    ("GroupNormalization", {"num_groups": 2}, ["s4", "b4"], "groupnorm"),
    ("LayerNormalization", {"axis": -2}, ["s64", "b64"], "layernorm"),
    ("Pad", {}, ["pads"], "pad"),
    ("Resize", {"mode": "nearest"}, ["", "scales"], "interpolate"),
    ("Clip", {}, ["zero_f", "six"], "activation"),
    ("Mul", {}, ["gate"], "elementwise"),
    ("Add", {}, ["bias4"], "elementwise"),
    ("Where", {}, ["gate", "gate"], "elementwise"),
    ("Squeeze", {}, ["axes_last"], None),
    ("Unsqueeze", {}, ["axes1"], None),
    ("Reshape", {}, ["flat"], None),
    ("Slice", {}, ["starts", "ends", "axes1"], None),
    ("Einsum", {"equation": "bchw,bchw->bch"}, [], "matmul"),
    ("Tile", {}, ["reps"], "generic"),
]
CONSTS = {
    "axes23": ints("axes23", 2, 3),
    "axes1": ints("axes1", 1),
    "axes3": ints("axes3", 3),
    "axes_last": ints("axes_last", 3),
    "s4": init("s4", 4, value=1.0),
    "b4": init("b4", 4),
    "s64": init("s64", 8, 8, value=1.0),
    "b64": init("b64", 8, 8),
    "pads": ints("pads", 0, 0, 1, 1, 0, 0, 1, 1),
    "scales": numpy_helper.from_array(np.array([1, 1, 2, 2], np.float32), "scales"),
    "zero_f": numpy_helper.from_array(np.array(0, np.float32), "zero_f"),
    "six": numpy_helper.from_array(np.array(6, np.float32), "six"),
    "gate": init("gate", 1, 4, 1, 1),
    "bias4": init("bias4", 4, 1, 1),
    "flat": ints("flat", 0, -1),
    "starts": ints("starts", 1),
    "ends": ints("ends", 3),
    "reps": ints("reps", 1, 1, 1, 2),
}


@pytest.mark.parametrize(("op", "attrs", "extra", "kind"), SINGLE, ids=[s[0] for s in SINGLE])
def test_each_mapped_op(op: str, attrs: dict, extra: list[str], kind: str | None) -> None:
    inits = [CONSTS[e] for e in extra if e]
    ins = ["x"] + extra
    node = helper.make_node(op, ins, ["y"], f"/m/{op}", **attrs)
    if op == "Einsum":
        node = helper.make_node(op, ["x", "x"], ["y"], "/m/Einsum", **attrs)
    m = graph_model([node], [image(4, 8, 8)], inits, "y", opset=21 if op != "Clip" else 13)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnmappedOpWarning)
        model = from_onnx(m)
    mapped = [
        k for k in kinds(model) if k not in ("reshape", "view", "expand", "parameter", "constant")
    ]
    assert mapped == ([kind] if kind else []), kinds(model)
    if kind == "matmul":  # bchw,bchw->bch: 4*8 products of 1x8 by 8x1
        assert totals(model, [1]).flops_mac.sum() == 2 * 4 * 8 * 8


def test_silu_and_clip_relu6_are_one_activation() -> None:
    n = helper.make_node
    m = graph_model(
        [n("Sigmoid", ["x"], ["s"], "/a/Sigmoid"), n("Mul", ["x", "s"], ["y"], "/a/Mul")],
        [image(4, 8, 8)],
        [],
        "y",
    )
    model = from_onnx(m)
    assert [(op.kind, op.function) for op in model.graph.ops] == [("activation", "silu")]


def test_attention_node_opset_23() -> None:
    q = helper.make_tensor_value_info("q", FLOAT, ["batch", 4, 6, 8])
    k = helper.make_tensor_value_info("k", FLOAT, ["batch", 2, 10, 8])
    node = helper.make_node("Attention", ["q", "k", "k"], ["y"], "/attn/Attention", is_causal=1)
    g = helper.make_graph([node], "g", [q, k], [helper.make_tensor_value_info("y", FLOAT, None)])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 23)])
    m.ir_version = 11
    op = next(o for o in from_onnx(m).graph.ops if o.kind == "attention")
    assert (op.num_heads, op.num_kv_heads, op.q_len, op.kv_len, op.causal) == (4, 2, 6, 10, True)


# -- files and errors ------------------------------------------------------------------------------
def test_a_file_round_trips_and_bad_files_are_one_line(tmp_path: Path) -> None:
    path = tmp_path / "cnn.onnx"
    onnx.save(cnn(), str(path))
    model = from_onnx(path)
    assert model.name == "cnn"
    spec = write_layers_spec(model, tmp_path / "cnn.yaml")
    again = rl.load_model(str(spec))
    a, b = totals(model), totals(again)
    for col in ("flops_mac", "flops_vector", "act_in_bytes", "act_out_bytes", "weight_bytes"):
        np.testing.assert_array_equal(getattr(a, col), getattr(b, col))
    data = path.read_bytes()
    cases = {
        "truncated.onnx": data[: len(data) // 2],
        "text.onnx": b"this is not a model\n",
        "empty.onnx": b"",
    }
    for name, content in cases.items():
        bad = tmp_path / name
        bad.write_bytes(content)
        with pytest.raises(SpecError) as info:
            from_onnx(bad)
        assert str(info.value).startswith(f"{bad}: not a valid ONNX model"), str(info.value)
        assert "\n" not in str(info.value)
    with pytest.raises(SpecError, match="file does not exist"):
        from_onnx(tmp_path / "missing.onnx")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["cnn.onnx", "cnn.yaml", *cases]
    )  # nothing half-written


def test_unmapped_node_warns_or_fails_when_strict(tmp_path: Path) -> None:
    node = helper.make_node("Frobnicate", ["x"], ["y"], "/m/Frob", domain="com.example")
    g = helper.make_graph(
        [node], "g", [image(4, 8, 8)], [helper.make_tensor_value_info("y", FLOAT, None)]
    )
    m = helper.make_model(
        g, opset_imports=[helper.make_opsetid("", 21), helper.make_opsetid("com.example", 1)]
    )
    m.ir_version = 10
    # a custom op's output shape is not inferable: give it
    m.graph.value_info.extend([helper.make_tensor_value_info("y", FLOAT, ["batch", 4, 8, 8])])
    path = tmp_path / "custom.onnx"
    onnx.save(m, str(path))
    with pytest.warns(UnmappedOpWarning, match=r"onnx\.com\.example\.Frobnicate x1"):
        model = from_onnx(path)
    assert kinds(model) == ["generic"]
    with pytest.raises(SpecError) as info:
        from_onnx(path, strict=True)
    assert str(info.value).startswith(f"{path}: onnx.com.example.Frobnicate (at m.frobnicate)")


# -- a real export ---------------------------------------------------------------------------------
def test_torch_export_of_resnet18_equals_from_torch(tmp_path: Path) -> None:
    """Exported with batch norms kept (TrainingMode.PRESERVE; EVAL folds them into the convs)
    and a dynamic batch: params, flops_mac and bytes by tensor class as from_torch."""
    torch = pytest.importorskip("torch")
    if importlib.util.find_spec("torchvision") is None:
        pytest.skip("torchvision is not installed")
    from roofline.importers import from_torch
    from roofline.importers.torchvision_compat import build_on_meta, import_torchvision

    tv, _ = import_torchvision()
    torch.manual_seed(0)
    module = tv.models.resnet18(weights=None).eval()
    path = tmp_path / "resnet18.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module,
            (torch.randn(1, 3, 224, 224),),
            str(path),
            dynamo=False,
            input_names=["x"],
            dynamic_axes={"x": {0: "batch"}},
            training=torch.onnx.TrainingMode.PRESERVE,
        )
    a = totals(from_onnx(path), (1, 64))
    b = totals(from_torch(build_on_meta("resnet18"), (1, 3, 224, 224)), (1, 64))
    for col in ("weight_elems", "flops_mac", "weight_read_bytes", "act_in_bytes", "act_out_bytes"):
        np.testing.assert_array_equal(getattr(a, col).sum(axis=0), getattr(b, col).sum(axis=0))


# -- shapes past the folding limit, and batches an export fixed ------------------------------------
@pytest.mark.parametrize(
    ("start", "limit", "delta", "length"),
    [(0, 9973, 1, 9973), (5, 0, -2, 3), (0.0, 1.0, 0.3, 4), (3, 3, 1, 0), (7, 2, 1, 0)],
)
def test_range_length_from_its_scalars(start: Any, limit: Any, delta: Any, length: int) -> None:
    """max(0, ceil((limit - start) / delta)), as numpy's arange, with no array made."""
    from roofline.importers.onnx_shapes import range_length

    assert range_length(np.array(start), np.array(limit), np.array(delta)) == length
    assert length == len(np.arange(start, limit, delta))


def _export(module: Any, x: Any, path: Path, dynamic: dict[int, str] | None) -> None:
    torch = pytest.importorskip("torch")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module,
            (x,),
            str(path),
            dynamo=False,
            input_names=["x"],
            dynamic_axes={"x": dynamic} if dynamic else None,
        )


def _torch_flops(module: Any, x: Any) -> int:
    torch = pytest.importorskip("torch")
    from torch.utils.flop_counter import FlopCounterMode

    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        module(x)
    return int(counter.get_total_flops())


def test_a_position_range_longer_than_the_folding_limit(tmp_path: Path) -> None:
    """``arange(seq)`` at seq 8192: a Range past the 4096 elements whose values are folded is
    sized from its scalar inputs; params and flops_mac equal torch's at batch 1 and 3."""
    torch = pytest.importorskip("torch")
    nn = torch.nn

    class PosEmb(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.pos, self.fc = nn.Embedding(16384, 64), nn.Linear(64, 64)

        def forward(self, x: Any) -> Any:
            return self.fc(x + self.pos(torch.arange(x.shape[1])))

    module = PosEmb().eval()
    path = tmp_path / "pos.onnx"
    _export(module, torch.randn(1, 40, 64), path, {0: "batch", 1: "seq"})
    model = from_onnx(path, dims={"seq": 8192})
    c = totals(model, (1, 3))
    assert c.weight_elems.sum() == sum(p.numel() for p in module.parameters())
    want = [_torch_flops(module, torch.randn(b, 8192, 64)) for b in (1, 3)]
    assert list(c.flops_mac.sum(axis=0)) == want


def test_a_tiny_llama_with_dynamic_batch_and_seq_equals_torch(tmp_path: Path) -> None:
    """transformers' mask code takes ``arange(batch)``, traced at 9973: params are
    ``sum(p.numel())`` and flops_mac torch's FlopCounterMode at batch 1 and 3 (eager
    attention, grouped-query; random weights, so the exporter merges no two initializers)."""
    torch = pytest.importorskip("torch")
    hidden = "torchvision" not in sys.modules
    if hidden:  # the CPU torch wheel cannot import torchvision; transformers would try
        sys.modules["torchvision"] = None  # type: ignore[assignment]
    try:
        pytest.importorskip("transformers")
        from transformers.utils import import_utils

        import_utils.is_torchvision_available()
        from transformers import AutoModelForCausalLM, LlamaConfig
    finally:
        if hidden:
            del sys.modules["torchvision"]
    config = LlamaConfig(
        vocab_size=128,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=256,
    )
    torch.manual_seed(0)
    llama = AutoModelForCausalLM.from_config(config, attn_implementation="eager")
    with torch.no_grad():
        for p in llama.parameters():
            p.normal_()

    class Logits(torch.nn.Module):  # a mask given: no packed-sequence check (aten::diff)
        def __init__(self) -> None:
            super().__init__()
            self.m = llama

        def forward(self, ids: Any) -> Any:
            mask = torch.ones_like(ids)
            return self.m(input_ids=ids, attention_mask=mask, use_cache=False).logits

    module = Logits().eval()
    path = tmp_path / "llama.onnx"
    _export(module, torch.randint(0, 128, (2, 16)), path, {0: "batch", 1: "seq"})
    c = totals(from_onnx(path, dims={"seq": 40}), (1, 3))
    assert c.weight_elems.sum() == sum(p.numel() for p in llama.parameters())
    want = [_torch_flops(module, torch.randint(0, 128, (b, 40))) for b in (1, 3)]
    assert list(c.flops_mac.sum(axis=0)) == want


def test_a_batch_the_export_fixed_in_a_reshape_is_one_clear_error(tmp_path: Path) -> None:
    """Without a dynamic batch axis the exporter bakes batch 1 into ``view(B, T, 4, 16)``;
    traced at another batch, that Reshape drops elements, and every count past it would be
    per run: a SpecError naming the file, the node and the export argument that fixes it."""
    torch = pytest.importorskip("torch")
    nn = torch.nn

    class Heads(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.q, self.o = nn.Linear(64, 64), nn.Linear(64, 64)

        def forward(self, x: Any) -> Any:
            b, t, _ = x.shape
            h = self.q(x).view(b, t, 4, 16).transpose(1, 2)
            a = (h @ h.transpose(-1, -2)).softmax(-1) @ h
            return self.o(a.transpose(1, 2).reshape(b, t, 64))

    module = Heads().eval()
    static, dynamic = tmp_path / "static.onnx", tmp_path / "dynamic.onnx"
    _export(module, torch.randn(1, 40, 64), static, None)
    with pytest.raises(SpecError) as info:
        from_onnx(static)
    text = str(info.value)
    assert text.startswith(f"{static}: node '/Reshape' (Reshape): its fixed target [1, 40, 4, 16]")
    assert "baked its batch size 1" in text and "\n" not in text
    assert info.value.fix and "dynamic_axes={'x': {0: 'batch'}}" in info.value.fix
    _export(module, torch.randn(1, 40, 64), dynamic, {0: "batch"})
    want = [_torch_flops(module, torch.randn(b, 40, 64)) for b in (1, 8)]
    assert list(totals(from_onnx(dynamic), (1, 8)).flops_mac.sum(axis=0)) == want


def test_a_reshape_that_changes_the_element_count_is_an_error() -> None:
    """A fixed target that does not hold the (symbolic) batch: never a silent count."""
    node = helper.make_node("Reshape", ["x", "flat"], ["y"], "/m/Reshape")
    m = graph_model([node], [image(4, 8, 8)], [ints("flat", 1, 256)], "y")
    with pytest.raises(SpecError, match=r"node '/m/Reshape' \(Reshape\): its target \[1, 256\]"):
        from_onnx(m)


def test_a_static_batch_cnn_counts_as_a_dynamic_one() -> None:
    """A fixed dim 0 with no reshape target that holds it (Flatten, GlobalAveragePool) is traced
    like a symbolic batch: the same counts at every batch."""
    static = cnn()
    static.graph.input[0].type.tensor_type.shape.dim[0].dim_value = 1
    a, b = totals(from_onnx(static)), totals(from_onnx(cnn()))
    for col in ("weight_elems", "flops_mac", "act_in_bytes", "act_out_bytes"):
        np.testing.assert_array_equal(getattr(a, col), getattr(b, col))
