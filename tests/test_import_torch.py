"""``from_torch``: torchvision models and small modules against torch's own counts.

References are independent of roofline: parameters are ``sum(p.numel())`` of the module and the
matrix FLOPs are what ``torch.utils.flop_counter.FlopCounterMode`` counts over the same meta
forward (2 per multiply-accumulate of every GEMM, convolution and attention), which is our
``flops_mac``. The zoo's torchvision-named presets are held to the importer exactly (params,
``flops_mac`` and bytes by tensor class at batch 1 and 64): two front-ends that check each other.
The whole torchvision list is in ``docs/importers.md`` (``scripts/importer_table.py``).
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import warnings
from typing import Any

import numpy as np
import pytest

import roofline as rl
from roofline.errors import SpecError

torch = pytest.importorskip("torch")
nn = torch.nn
F = torch.nn.functional

from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from roofline.importers import (  # noqa: E402
    UnmappedOpWarning,
    from_torch,
    unused_params,
    write_layers_spec,
)
from roofline.importers.torchvision_compat import build_on_meta, import_torchvision  # noqa: E402

BATCHES = (1, 8)
#: torchvision installs beside the CPU torch with --no-deps (DEVELOPERS.md); without it, the
#: small-module tests still run
needs_torchvision = pytest.mark.skipif(
    importlib.util.find_spec("torchvision") is None, reason="torchvision is not installed"
)
#: a subset that covers every mapping torchvision needs (the full list: scripts/importer_table.py)
MODELS = {
    "resnet18": (3, 224, 224),
    "mobilenet_v3_small": (3, 224, 224),  # hardswish, hardsigmoid gates, SE broadcast
    "efficientnet_b0": (3, 224, 224),  # silu, depthwise convs
    "squeezenet1_1": (3, 224, 224),  # ceil-mode pools, concat
    "googlenet": (3, 224, 224),  # auxiliary heads that never run
    "regnet_x_400mf": (3, 224, 224),  # built on meta with CPU block widths
    "convnext_tiny": (3, 224, 224),  # layer scale parameters, permuted layer norm
    "vit_b_32": (3, 224, 224),  # class token, position embedding, multi-head attention
    "swin_t": (3, 224, 224),  # windows, relative position bias gathered, rolls, masks
    "r2plus1d_18": (3, 8, 112, 112),  # 3D convs
    "mvit_v1_b": (3, 16, 224, 224),  # pools over (batch x heads) tensors
}


def torch_reference(module: Any, shape: tuple[int, ...], batch: int) -> int:
    """FLOPs torch's counter counts for one forward at ``batch`` on the meta device."""
    x = torch.empty(batch, *shape, device="meta")
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        module(x)
    return int(counter.get_total_flops())


def flops_mac(model: Any) -> list[float]:
    return list(rl.count(model, batch=list(BATCHES)).costs.flops_mac.sum(axis=0))


@needs_torchvision
@pytest.mark.parametrize("name", sorted(MODELS))
def test_torchvision_params_and_flops_equal_torch(name: str) -> None:
    module = build_on_meta(name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnmappedOpWarning)
        model = from_torch(module, (1, *MODELS[name]))
    costs = rl.count(model, batch=list(BATCHES)).costs
    assert costs.weight_elems.sum() == sum(p.numel() for p in module.parameters())
    want = [torch_reference(module, MODELS[name], b) for b in BATCHES]
    np.testing.assert_allclose(flops_mac(model), want, rtol=1e-3)


def _torchvision_named_presets() -> list[str]:
    prefixes = ("resnet", "resnext", "wide_resnet", "shufflenet_v2", "mobilenet_v2", "vgg")
    video = ("r3d_18", "mc3_18", "r2plus1d_18")
    return [
        n
        for n in rl.list_models()
        if (n.startswith(prefixes) and n != "resnext3d_101") or n in video
    ]


#: the WSL ResNeXt-101s are ResNet(Bottleneck, [3, 4, 23, 3], groups=32, width_per_group=w)
WSL = {f"resnext101_32x{w}d": w for w in (4, 16, 32, 48)}
PRESET_COLUMNS = (
    "weight_elems",
    "flops_mac",
    "weight_bytes",
    "weight_read_bytes",
    "act_in_bytes",
    "act_out_bytes",
    "kv_bytes",
)


@needs_torchvision
@pytest.mark.parametrize("name", _torchvision_named_presets())
def test_presets_equal_their_torchvision_model_imported(name: str) -> None:
    tv, _ = import_torchvision()
    if name in WSL:
        resnet = tv.models.resnet
        with torch.device("meta"):
            module = resnet.ResNet(
                resnet.Bottleneck, [3, 4, 23, 3], groups=32, width_per_group=WSL[name]
            ).eval()
    else:
        module = build_on_meta(name)
    shape = (
        (1, 3, 16, 112, 112) if name in ("r3d_18", "mc3_18", "r2plus1d_18") else (1, 3, 224, 224)
    )
    imported = rl.count(from_torch(module, shape), batch=[1, 64]).costs
    preset = rl.count(name, batch=[1, 64]).costs
    for col in PRESET_COLUMNS:
        a, b = getattr(imported, col).sum(axis=0), getattr(preset, col).sum(axis=0)
        np.testing.assert_array_equal(a, b, err_msg=col)


# -- small modules: one mapping each -------------------------------------------------------------
def _only(model: Any, kind: str) -> Any:
    ops = [op for op in model.graph.ops if op.kind == kind]
    assert len(ops) == 1, [op.kind for op in model.graph.ops]
    return ops[0]


def _check_flops(module: Any, *inputs: Any, model: Any = None) -> Any:
    model = model or from_torch(module, *inputs)
    counted = rl.count(model, batch=[1, 3]).costs.flops_mac.sum(axis=0)
    for b, got in zip((1, 3), counted):
        xs = [torch.empty((b, *x[1:]), device="meta") for x in inputs]
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            module(*xs)
        assert got == counter.get_total_flops()
    return model


class Attn(nn.Module):
    """Grouped-query causal attention through F.scaled_dot_product_attention."""

    def __init__(self) -> None:
        super().__init__()
        self.q = nn.Linear(64, 64)
        self.kv = nn.Linear(64, 32)

    def forward(self, x: Any) -> Any:
        b, t, _ = x.shape
        q = self.q(x).view(b, t, 8, 8).transpose(1, 2)
        k, v = self.kv(x).view(b, t, 2, 2, 8).permute(2, 0, 3, 1, 4)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)
        return y.transpose(1, 2).reshape(b, t, 64)


def test_sdpa_is_one_attention_op_causal_gqa() -> None:
    model = _check_flops(Attn().to("meta"), (1, 16, 64))
    op = _only(model, "attention")
    assert (op.num_heads, op.num_kv_heads, op.head_dim, op.q_len, op.kv_len) == (8, 2, 8, 16, 16)
    assert op.causal and op.heads_first


@pytest.mark.parametrize("cls", ["LSTM", "GRU"])
def test_recurrent_module_is_one_op(cls: str) -> None:
    """2 layers, bidirectional, (T, B, I) input: one op; its GEMM FLOPs are what torch's counter
    counts over the per-step cells the meta forward decomposes into."""
    rnn = getattr(nn, cls)(32, 48, num_layers=2, bidirectional=True, device="meta")
    model = from_torch(rnn, (10, 1, 32), batch_dim=1)
    op = _only(model, cls.lower())
    assert (op.input_size, op.hidden_size, op.seq_len, op.num_layers) == (32, 48, 10, 2)
    assert op.bidirectional
    assert op.params == sum(p.numel() for p in rnn.parameters())
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        rnn(torch.empty(10, 3, 32, device="meta"))
    assert rl.count(model, batch=3).costs.flops_mac.sum() == counter.get_total_flops()


def test_embedding_bag_pooling_factor_from_offsets() -> None:
    bag = nn.EmbeddingBag(1000, 16, mode="mean", device="meta")
    idx = torch.zeros(4 * 20, dtype=torch.long)  # 4 bags of 20 lookups
    offsets = torch.arange(4) * 20
    op = _only(from_torch(bag, idx, offsets), "embedding_bag")
    assert (op.pooling_factor, op.mode, op.params) == (20.0, "mean", 16000)


class TiedLM(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.wte = nn.Embedding(100, 32)
        self.head = nn.Linear(32, 100, bias=False)
        self.head.weight = self.wte.weight
        self.unused = nn.Linear(32, 7)

    def forward(self, ids: Any) -> Any:
        return self.head(torch.relu(self.wte(ids)))


def test_tied_weights_count_once_and_unused_params_are_kept() -> None:
    with torch.device("meta"):  # moving a module to meta unties its weights; build it there
        module = TiedLM()
    model = from_torch(module, torch.zeros(1, 12, dtype=torch.long))
    head = _only(model, "linear")
    assert head.tied_to == "wte"
    params = rl.count(model).costs.weight_elems.sum()
    assert params == sum(p.numel() for p in module.parameters()) == 3200 + 32 * 7 + 7
    assert unused_params(model) == ["unused.weight", "unused.bias"]


# -- the trace does not depend on where the weights live or whether they require grad ------------
def _import_on(device: str, make: Any, *inputs: Any, frozen: bool = False) -> tuple[Any, Any]:
    """The module ``make()`` built on ``device`` (its parameters frozen if asked) and its import;
    the module's parameters are checked to be left as they were."""
    with torch.device(device):  # moving a module to meta unties its weights; build it there
        module = make()
    module.requires_grad_(not frozen)
    before = [(p, p.device, p.requires_grad) for p in module.parameters()]
    model = from_torch(module, *inputs)
    assert [(p, p.device, p.requires_grad) for p in module.parameters()] == before
    return module, model


def _assert_same_counts(a: Any, b: Any) -> None:
    """The same ops, and every count column equal at batch 1 and 8."""
    assert [op.model_dump() for op in a.graph.ops] == [op.model_dump() for op in b.graph.ops]
    ca, cb = rl.count(a, batch=[1, 8]).costs, rl.count(b, batch=[1, 8]).costs
    for col, x in ca.columns.items():
        np.testing.assert_array_equal(x, cb.columns[col], err_msg=col)


class LastTokenLM(nn.Module):
    """Tied head on a sliced (non-contiguous) 3-D input: aten's matmul folds it into one ``mm``
    only when the weight requires grad, else it expands the weight into a ``bmm``."""

    def __init__(self) -> None:
        super().__init__()
        self.wte = nn.Embedding(100, 32)
        self.head = nn.Linear(32, 100, bias=False)
        self.head.weight = self.wte.weight

    def forward(self, ids: Any) -> Any:
        return self.head(self.wte(ids)[:, -1:, :])


@pytest.mark.parametrize(("device", "frozen"), [("cpu", False), ("cpu", True), ("meta", True)])
def test_tied_weights_count_once_wherever_the_weights_live(device: str, frozen: bool) -> None:
    ids = torch.zeros(1, 12, dtype=torch.long)
    _, reference = _import_on("meta", LastTokenLM, ids)
    module, model = _import_on(device, LastTokenLM, ids, frozen=frozen)
    assert _only(model, "linear").tied_to == "wte"
    unique = sum(p.numel() for p in module.parameters())  # a tied tensor is listed once
    assert rl.count(model).costs.weight_elems.sum() == unique == 3200
    _assert_same_counts(model, reference)


class SlicedLinear(nn.Module):
    """An untied linear on a sliced (non-contiguous) 3-D input."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(32, 48)

    def forward(self, x: Any) -> Any:
        return self.fc(x[:, -1:, :])


@pytest.mark.parametrize(("device", "frozen"), [("cpu", False), ("meta", True)])
def test_linear_on_a_strided_input_is_a_linear_wherever_the_weights_live(
    device: str, frozen: bool
) -> None:
    _, reference = _import_on("meta", SlicedLinear, (1, 10, 32))
    _, model = _import_on(device, SlicedLinear, (1, 10, 32), frozen=frozen)
    op = _only(model, "linear")
    assert (op.in_features, op.out_features, op.bias) == (32, 48, True)
    costs = rl.count(model).costs  # batch 1: the input, not the weights, is the activation read
    assert costs.act_in_bytes.sum() == 32 * 4
    assert costs.weight_elems.sum() == 32 * 48 + 48
    _assert_same_counts(model, reference)


class Encoder(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.attn = nn.MultiheadAttention(64, 4, batch_first=True)

    def forward(self, x: Any) -> Any:
        return self.attn(x, x, x, need_weights=False)[0]


@pytest.mark.parametrize(("device", "frozen"), [("cpu", False), ("meta", True)])
def test_multihead_attention_wherever_the_weights_live(device: str, frozen: bool) -> None:
    """The FLOPs are torch's counter's over the meta forward (on CPU weights, eval and no grad,
    torch runs its fused fast path, which the counter counts as 0)."""
    meta, reference = _import_on("meta", Encoder, (1, 10, 64))
    _check_flops(meta, (1, 10, 64), model=reference)
    _, model = _import_on(device, Encoder, (1, 10, 64), frozen=frozen)
    _assert_same_counts(model, reference)


class ExpandedHead(nn.Module):
    """A weight expanded over the batch by the model's own code: still one weight, tied."""

    def __init__(self) -> None:
        super().__init__()
        self.wte = nn.Embedding(100, 32)

    def forward(self, ids: Any) -> Any:
        h = self.wte(ids)
        return torch.bmm(h, self.wte.weight.t().expand(h.shape[0], -1, -1))


def test_an_expanded_parameter_in_bmm_is_a_weight_read_once() -> None:
    module = ExpandedHead().to("meta")
    model = from_torch(module, torch.zeros(1, 12, dtype=torch.long))
    head = _only(model, "linear")
    assert (head.in_features, head.out_features, head.tied_to) == (32, 100, "wte")
    costs = rl.count(model, batch=[1, 8]).costs
    assert costs.weight_elems.sum() == 3200
    # the weights read once per run, the activations per sample: (12, 32) in
    assert costs.weight_read_bytes.sum(axis=0).tolist() == [3200 * 4] * 2
    assert costs.act_in_bytes[costs.names.index("linear")].tolist() == [
        12 * 32 * 4 * b for b in (1, 8)
    ]
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        module(torch.zeros(8, 12, dtype=torch.long, device="meta"))
    assert costs.flops_mac.sum(axis=0)[1] == counter.get_total_flops()


class Odd(nn.Module):
    def forward(self, x: Any) -> Any:
        return torch.cumsum(torch.relu(x), dim=1)


def test_unmapped_op_is_costed_by_bytes_warned_and_an_error_when_strict() -> None:
    with pytest.warns(UnmappedOpWarning, match=r"aten\.cumsum\.default x1 \(\d+\.\d\d% of bytes\)"):
        model = from_torch(Odd(), (2, 64))
    op = _only(model, "generic")
    assert op.operation == "aten.cumsum.default" and op.counts(1).act_out == 64
    with pytest.raises(SpecError, match=r"module Odd: aten\.cumsum\.default .*no mapping"):
        from_torch(Odd(), (2, 64), strict=True)


class Broken(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(10, 10)

    def forward(self, x: Any) -> Any:
        return self.fc(x)


def test_a_module_that_fails_to_trace_is_one_line_naming_module_and_op() -> None:
    with pytest.raises(SpecError) as info:
        from_torch(Broken(), (1, 7))
    assert str(info.value).startswith(
        "module Broken: tracing failed at aten.addmm.default in fc: RuntimeError"
    )
    assert "[B, 7] X [10, 10]" in str(info.value)  # the traced batch shown as B
    assert "\n" not in str(info.value)


def test_inputs_as_shapes_or_tensors_and_weights_anywhere() -> None:
    """Same model from a shape, a CPU tensor, and a CPU module (weights replaced for the trace,
    the module left as it was)."""
    cpu = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU())
    a = from_torch(cpu, (2, 3, 16, 16))
    b = from_torch(cpu.to("meta"), torch.empty(5, 3, 16, 16))
    assert [op.model_dump() for op in a.graph.ops] == [op.model_dump() for op in b.graph.ops]
    assert cpu.training  # modes restored


def test_views_are_free_copies_and_broadcasts_are_counted() -> None:
    """x.permute(...).contiguous() is one copy; the permute itself and the reshapes cost nothing."""

    class M(nn.Module):
        def forward(self, x: Any) -> Any:
            y = x.permute(0, 2, 3, 1).contiguous().reshape(x.shape[0], -1)
            return y * 2.0

    model = from_torch(M(), (1, 4, 5, 6))
    kinds = [op.kind for op in model.graph.ops]
    assert kinds == ["permute", "copy", "reshape", "elementwise"]
    assert [op.counts(1).act_in for op in model.graph.ops] == [0.0, 120, 0.0, 120]


@needs_torchvision
def test_round_trip_through_yaml_is_identical(tmp_path: Any) -> None:
    """Write each imported spec, reload without the importer: every count column equal (every
    one the table declares, and the GEMMs' dimensions)."""
    from roofline.counting import count_graph

    models = [
        from_torch(build_on_meta("googlenet"), (1, 3, 224, 224)),
        from_torch(build_on_meta("swin_t"), (1, 3, 224, 224)),
        from_torch(Attn().to("meta"), (1, 16, 64)),
        from_torch(TiedLM(), torch.zeros(1, 12, dtype=torch.long)),
        from_torch(nn.LSTM(8, 16, device="meta"), (5, 1, 8), batch_dim=1),
    ]
    for model in models:
        path = write_layers_spec(model, tmp_path / f"{model.name}.yaml")
        again = rl.load_model(str(path))
        a, b = count_graph(model.graph, [1, 8]), count_graph(again.graph, [1, 8])
        for col in (*a.columns, "gemm_op", "gemm_m", "gemm_n", "gemm_k", "gemm_count"):
            np.testing.assert_array_equal(getattr(a, col), getattr(b, col), err_msg=col)


def test_import_roofline_and_the_cli_never_import_torch_or_onnx() -> None:
    code = (
        "import sys, roofline, roofline.importers\n"
        "from roofline.cli import main\n"
        "main(['list', 'models'])\n"
        "bad = [m for m in ('torch', 'onnx', 'torchvision') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
