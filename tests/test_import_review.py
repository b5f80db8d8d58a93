"""Importer review: defects found by comparing imports with torch's own counts, one test each.

Every reference is independent of roofline: parameters are ``sum(p.numel())`` of the torch
module, and ``flops_mac`` is what ``torch.utils.flop_counter.FlopCounterMode`` counts over the
same module's forward on the meta device (2 per multiply-accumulate of every GEMM and
convolution, transposed ones included) at the same batch. ONNX files are written by
``torch.onnx.export`` (``dynamo=False``, batch norms kept, a dynamic batch axis).
"""

from __future__ import annotations

import copy
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import roofline as rl

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")
nn = torch.nn
F = torch.nn.functional

from onnx import TensorProto, helper  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from roofline.importers import UnmappedOpWarning, from_onnx, from_torch  # noqa: E402


def torch_flops(module: Any, *inputs: Any) -> int:
    """FLOPs torch's counter counts for one forward of ``module`` on meta ``inputs``."""
    if any(p.device.type != "meta" for p in module.parameters()):
        module = copy.deepcopy(module).to("meta")
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        module(*inputs)
    return int(counter.get_total_flops())


def meta(*shape: int) -> Any:
    return torch.empty(shape, device="meta")


def params(module: Any) -> int:
    return sum(p.numel() for p in module.parameters())


def totals(model: Any, batches: tuple[int, ...]) -> Any:
    return rl.count(model, batch=list(batches)).costs


def export(module: Any, shape: tuple[int, ...], path: Path, opset: int = 17) -> Path:
    """``module`` exported as the importer docs advise, with a dynamic batch axis."""
    module.eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module,
            (torch.randn(2, *shape),),
            str(path),
            dynamo=False,
            input_names=["x"],
            dynamic_axes={"x": {0: "batch"}},
            training=torch.onnx.TrainingMode.PRESERVE,
            do_constant_folding=False,
            opset_version=opset,
        )
    return path


def assert_equals_torch(model: Any, module: Any, shape: tuple[int, ...], batches: Any) -> None:
    """Params are ``sum(p.numel())``; flops_mac is FlopCounterMode's at each batch."""
    c = totals(model, tuple(batches))
    assert c.weight_elems.sum() == params(module)
    want = [torch_flops(module, meta(b, *shape)) for b in batches]
    assert list(c.flops_mac.sum(axis=0)) == want


class Seq(nn.Module):
    """The output sequence of a recurrent module (``nn.LSTM`` / ``nn.GRU`` return a tuple)."""

    def __init__(self, rnn: Any) -> None:
        super().__init__()
        self.rnn = rnn

    def forward(self, x: Any) -> Any:
        return self.rnn(x)[0]


# -- 1. from_onnx: an exported LSTM / GRU counts its weights once, as weights ----------------------
@pytest.mark.parametrize(
    "rnn",
    [
        lambda: nn.GRU(8, 16, batch_first=True),
        lambda: nn.LSTM(8, 16, num_layers=2, bidirectional=True, batch_first=True),
        lambda: nn.LSTM(256, 512, batch_first=True),  # weights past the 4096-element fold limit
    ],
    ids=["gru", "lstm_bi2", "lstm_large"],
)
def test_exported_recurrent_weights_count_once(rnn: Any, tmp_path: Path) -> None:
    """``torch.onnx.export`` reorders the gates with Slice / Concat over the initializers before
    each LSTM / GRU node. Reference: params = ``sum(p.numel())`` (GRU(8, 16): 1,248; the 2-layer
    bidirectional LSTM: 9,728; before the fix 2,496 and 19,456), flops_mac = FlopCounterMode's at
    batch 1 and 3. The reordering is a layout of the weights, not work per sample: no concat op,
    no parameter op, and activation bytes as the same module imported by from_torch plus the
    Transposes the export adds, per sample: x and y around the nodes (batch_first), and a
    bidirectional layer's (T, 2, B, H) output to (T, B, 2, H)."""
    torch.manual_seed(0)
    module = Seq(rnn())
    seq, size = 5, module.rnn.input_size
    model = from_onnx(export(module, (seq, size), tmp_path / "rnn.onnx"))
    assert_equals_torch(model, module, (seq, size), (1, 3))
    kinds = [op.kind for op in model.graph.ops]
    assert "concat" not in kinds and "parameter" not in kinds, kinds
    onnx_c = totals(model, (1, 3))
    torch_c = totals(from_torch(copy.deepcopy(module).to("meta"), (1, seq, size)), (1, 3))
    out = (2 if module.rnn.bidirectional else 1) * module.rnn.hidden_size
    between = module.rnn.num_layers * out if module.rnn.bidirectional else 0
    transposes = 4 * seq * (size + out + between) * np.array([1, 3])  # fp32 bytes, each way
    for col in ("act_in_bytes", "act_out_bytes"):
        extra = getattr(onnx_c, col).sum(axis=0) - getattr(torch_c, col).sum(axis=0)
        np.testing.assert_array_equal(extra, transposes, err_msg=col)


def test_a_concat_of_parameters_alone_runs_once_per_run() -> None:
    """A Concat of two parameters (no activation) computes the same tensor at any batch: its
    bytes are those at batch 1 (``per_run``). Reference: 2 x 64 fp32 elements read and 128
    written whatever the batch, as a torch ``cat`` of two (64,) parameters moves."""
    nodes = [
        helper.make_node("Concat", ["a", "b"], ["ab"], "/m/Concat", axis=0),
        helper.make_node("Add", ["x", "ab"], ["y"], "/m/Add"),
    ]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 128])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 128])],
        [
            helper.make_tensor("a", TensorProto.FLOAT, [64], np.ones(64, np.float32)),
            helper.make_tensor("b", TensorProto.FLOAT, [64], np.ones(64, np.float32)),
        ],
    )
    model = from_onnx(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]))
    c = totals(model, (1, 5))
    row = list(c.names).index("m.concat")
    np.testing.assert_array_equal(c.act_in_bytes[row], [2 * 64 * 4, 2 * 64 * 4])
    np.testing.assert_array_equal(c.act_out_bytes[row], [128 * 4, 128 * 4])
    assert c.weight_elems.sum() == 128


# -- 2. from_onnx: a Conv with asymmetric pads or auto_pad SAME_* is a conv ------------------------
def test_exported_same_padding_conv_counts_as_torch(tmp_path: Path) -> None:
    """``nn.Conv2d(8, 4, 4, padding="same")`` exports asymmetric pads (1 before, 2 after).
    Reference: FlopCounterMode, 262,144 at batch 1 (before the fix 0: a generic op)."""
    module = nn.Sequential(nn.Conv2d(8, 4, 4, padding="same"))
    model = from_onnx(export(module, (8, 16, 16), tmp_path / "same.onnx"))
    assert_equals_torch(model, module, (8, 16, 16), (1, 3))
    assert "generic" not in [op.kind for op in model.graph.ops]


@pytest.mark.parametrize(
    ("attrs", "torch_pad"),
    [
        ({"auto_pad": "SAME_UPPER"}, (0, 1, 0, 1)),  # total 1 per dim: the extra one after
        ({"auto_pad": "SAME_LOWER"}, (1, 0, 1, 0)),  # the extra one before
        ({"pads": [0, 2, 1, 0]}, (2, 0, 0, 1)),  # explicit asymmetric: H (0, 1), W (2, 0)
    ],
    ids=["same_upper", "same_lower", "pads"],
)
def test_conv_auto_pad_and_asymmetric_pads(attrs: dict[str, Any], torch_pad: Any) -> None:
    """A stride-2 3x3 Conv node on a (8, 16, 16) input with ONNX's padding rules. Reference:
    FlopCounterMode over ``nn.Conv2d(8, 4, 3, stride=2)`` applied to ``F.pad(x, torch_pad)``,
    the same padding written as F.pad's (last dim first), at batch 1 and 3."""
    node = helper.make_node(
        "Conv", ["x", "w"], ["y"], "/conv/Conv", kernel_shape=[3, 3], strides=[2, 2], **attrs
    )
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 8, 16, 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [helper.make_tensor("w", TensorProto.FLOAT, [4, 8, 3, 3], np.ones(288, np.float32))],
    )
    model = from_onnx(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]))
    conv = nn.Conv2d(8, 4, 3, stride=2, bias=False, device="meta")
    c = totals(model, (1, 3))
    want = [torch_flops(conv, F.pad(meta(b, 8, 16, 16), torch_pad)) for b in (1, 3)]
    assert list(c.flops_mac.sum(axis=0)) == want
    assert c.weight_elems.sum() == params(conv) == 288
    assert "generic" not in [op.kind for op in model.graph.ops]


# -- 3. both importers: transposed convolutions ---------------------------------------------------
TRANSPOSED = {
    "2d": (lambda: nn.ConvTranspose2d(8, 4, 4, stride=2, padding=1), (8, 16, 16)),
    "1d_groups_output_padding": (
        lambda: nn.ConvTranspose1d(6, 4, 3, stride=2, padding=1, output_padding=1, groups=2),
        (6, 20),
    ),
    "3d_dilated_no_bias": (
        lambda: nn.ConvTranspose3d(4, 6, 3, stride=(1, 2, 2), dilation=2, bias=False),
        (4, 3, 5, 5),
    ),
    "depthwise": (lambda: nn.ConvTranspose2d(8, 8, 3, stride=2, groups=8), (8, 7, 7)),
}


@pytest.mark.parametrize("name", sorted(TRANSPOSED))
def test_transposed_conv_from_torch(name: str) -> None:
    """Reference: FlopCounterMode (2 x in_channels / groups x out_channels x kernel elements x
    input positions per sample: 262,144 for ConvTranspose2d(8, 4, 4, stride 2) at 16x16, batch
    1; 786,432 at batch 3; before the fix 0) and ``sum(p.numel())``; the output shape is
    torch's."""
    make, shape = TRANSPOSED[name]
    with torch.device("meta"):
        module = nn.Sequential(make())
    with warnings.catch_warnings():
        warnings.simplefilter("error", UnmappedOpWarning)
        model = from_torch(module, (1, *shape))
    assert_equals_torch(model, module, shape, (1, 3))
    (op,) = [op for op in model.graph.ops if op.kind == "conv_transpose"]
    assert op.out_shape == tuple(module(meta(1, *shape)).shape[1:])


@pytest.mark.parametrize("name", sorted(TRANSPOSED))
def test_transposed_conv_from_onnx(name: str, tmp_path: Path) -> None:
    """The same modules through ``torch.onnx.export`` and from_onnx: the same references."""
    make, shape = TRANSPOSED[name]
    torch.manual_seed(0)
    module = nn.Sequential(make())
    with warnings.catch_warnings():
        warnings.simplefilter("error", UnmappedOpWarning)
        model = from_onnx(export(module, shape, tmp_path / "convt.onnx"))
    assert_equals_torch(model, module, shape, (1, 3))


def test_transposed_conv_with_asymmetric_pads_in_onnx() -> None:
    """A ConvTranspose node whose pads crop one more row after than before (pads [0, 0, 1, 1]
    on a 3x3 kernel, stride 2, 7x7 input: output 14x14). Reference: FlopCounterMode over
    ``nn.ConvTranspose2d(8, 4, 3, stride=2)``: the work is set by the input, whatever the crop."""
    node = helper.make_node(
        "ConvTranspose",
        ["x", "w"],
        ["y"],
        "/up/ConvTranspose",
        kernel_shape=[3, 3],
        strides=[2, 2],
        pads=[0, 0, 1, 1],
    )
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 8, 7, 7])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [helper.make_tensor("w", TensorProto.FLOAT, [8, 4, 3, 3], np.ones(288, np.float32))],
    )
    model = from_onnx(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]))
    up = nn.ConvTranspose2d(8, 4, 3, stride=2, bias=False, device="meta")
    c = totals(model, (1, 3))
    assert list(c.flops_mac.sum(axis=0)) == [torch_flops(up, meta(b, 8, 7, 7)) for b in (1, 3)]
    assert c.weight_elems.sum() == params(up)
    assert model.graph.ops[-1].out_shape == (4, 14, 14)


# -- 4. from_onnx: an exported GroupNorm has no phantom parameters ---------------------------------
@pytest.mark.parametrize("opset", [17, 18, 21])
def test_exported_group_norm_params(opset: int, tmp_path: Path) -> None:
    """The exporter normalizes with InstanceNormalization over a folded scale of ones (G
    elements) and applies the real weight and bias with Mul and Add. Reference: params =
    ``sum(p.numel())`` = 52 (before the fix 56), flops_mac = FlopCounterMode's."""
    module = nn.Sequential(nn.GroupNorm(2, 8), nn.Conv2d(8, 4, 1))
    model = from_onnx(export(module, (8, 16, 16), tmp_path / "gn.onnx", opset))
    assert_equals_torch(model, module, (8, 16, 16), (1, 3))


# -- 5. from_torch: InstanceNorm's repeated weight is not a second set of parameters ---------------
def test_instance_norm_affine_params() -> None:
    """aten runs InstanceNorm2d as a batch norm over (1, B * C, H, W) with the weight repeated B
    times. Reference: params = ``sum(p.numel())`` = 128 for InstanceNorm2d(64, affine=True)
    (before the fix 130), flops_mac = FlopCounterMode's; the repeats are mapped (copies)."""
    with torch.device("meta"):
        module = nn.Sequential(nn.InstanceNorm2d(64, affine=True), nn.Conv2d(64, 8, 1))
    with warnings.catch_warnings():
        warnings.simplefilter("error", UnmappedOpWarning)
        model = from_torch(module, (1, 64, 8, 8))
    assert_equals_torch(model, module, (64, 8, 8), (1, 3))


# -- 6. from_torch: an input of batch 1 that broadcasts beside batch-B inputs ----------------------
class AddPos(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(8, 8)

    def forward(self, x: Any, pos: Any) -> Any:
        return self.fc(x + pos)


def test_a_broadcast_input_of_batch_one() -> None:
    """``fc(x + pos)`` with x (4, 8) and pos (1, 8): pos broadcasts over the batch. Reference:
    FlopCounterMode over the module at x (B, 8), pos (1, 8), at B = 4 (the example's batch) and
    at 1 and 7 (before the fix: a SpecError, tracing failed at aten.add)."""
    with torch.device("meta"):
        module = AddPos()
    model = from_torch(module, (4, 8), (1, 8))
    c = totals(model, (1, 4, 7))
    want = [torch_flops(module, meta(b, 8), meta(1, 8)) for b in (1, 4, 7)]
    assert list(c.flops_mac.sum(axis=0)) == want
    assert c.weight_elems.sum() == params(module)


def test_inputs_that_all_scale_with_the_batch_keep_their_reading() -> None:
    """An EmbeddingBag's indices (20 lookups) and offsets (one bag) at batch 1: both carry the
    batch (20 lookups per bag), they do not broadcast. Reference: the pooling factor the inputs
    give, 20 / 1, and ``sum(p.numel())``."""
    bag = nn.EmbeddingBag(1000, 16, mode="sum", device="meta")
    model = from_torch(bag, torch.zeros(20, dtype=torch.long), torch.zeros(1, dtype=torch.long))
    (op,) = [op for op in model.graph.ops if op.kind == "embedding_bag"]
    assert (op.pooling_factor, op.params) == (20.0, params(bag))


def _llama() -> Any:
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
        vocab_size=1000,
        hidden_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        intermediate_size=128,
        use_cache=False,
    )
    with torch.device("meta"):
        return AutoModelForCausalLM.from_config(config, attn_implementation="eager").eval()


def test_llama_with_position_ids_of_batch_one() -> None:
    """input_ids and attention_mask (4, 16), position_ids (1, 16) shared by the batch (eager
    attention and a mask given: transformers' mask checks read values, which meta tensors lack).
    Reference: FlopCounterMode over the same model at input_ids and mask (B, 16), position_ids
    (1, 16), B = 4 and 2 (before the fix: a SpecError at the mask's expand to the batch);
    ``sum(p.numel())``."""
    llama = _llama()
    pos = torch.arange(16).unsqueeze(0)
    ids = lambda b: torch.ones((b, 16), dtype=torch.long)  # noqa: E731
    with warnings.catch_warnings():  # sin, cos of the rotary table: generic ops, no FLOPs
        warnings.simplefilter("ignore", UnmappedOpWarning)
        model = from_torch(llama, ids(4), ids(4), pos)
    c = totals(model, (2, 4))
    want = [
        torch_flops(llama, ids(b).to("meta"), ids(b).to("meta"), pos.to("meta")) for b in (2, 4)
    ]
    assert list(c.flops_mac.sum(axis=0)) == want
    assert c.weight_elems.sum() == params(llama)
