"""Video classifiers (video_resnet, resnext3d) against independent figures.

* torchvision-built models (r3d_18, mc3_18, r2plus1d_18): params exactly and matrix FLOPs
  (``flops_mac``) within 0.5% of ``tests/data/torchvision_reference.json`` (torch's
  FlopCounterMode; recorded by ``scripts/record_torchvision_reference.py``).
* ir-CSN-152 and ip-CSN-152: the VMZ model zoo's published params and GFLOPs (Tran et al. 2019,
  https://arxiv.org/abs/1904.02811; github.com/facebookresearch/VMZ, c2/tutorials/model_zoo.md).
* 3D ResNeXt-101: Hara et al. 2018 (https://arxiv.org/abs/1711.09577) print no parameter count,
  so the expectation is the closed-form sum over the layers of their Table 1.
* One 3D conv's FLOPs and one channel-wise 3D conv's act + weight intensity by formula.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import numpy as np
import pytest
import yaml

from roofline.characterize import table1
from roofline.counting import count_graph
from roofline.families import FAMILIES
from roofline.graph import Graph
from roofline.graph_builder import GraphBuilder

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "tests" / "data" / "torchvision_reference.json"
TORCHVISION_MODELS = ["r3d_18", "mc3_18", "r2plus1d_18"]


@cache
def spec(name: str) -> dict:
    data = yaml.safe_load((ROOT / "model_specs" / f"{name}.yaml").read_text())
    assert data["name"] == name
    return data


def build_from(name: str, **changes) -> Graph:
    """Build ``model_specs/<name>.yaml`` through its family, with params overridden."""
    data = spec(name)
    fam = FAMILIES[data["family"]]
    return fam.build(fam.params(**{**data.get("params", {}), **changes}), name)


@cache
def build(name: str) -> Graph:
    return build_from(name)


def op_index(graph: Graph, name: str) -> int:
    return [op.name for op in graph.ops].index(name)


@pytest.mark.parametrize("name", TORCHVISION_MODELS)
def test_matches_torchvision_reference(name: str) -> None:
    ref = json.loads(REFERENCE.read_text())["models"][name]
    graph = build(name)
    assert ref["input_shape"][1:] == list(graph.inputs["clip"])
    table = count_graph(graph, 1)
    assert table.columns["weight_elems"].sum() == ref["params"]
    assert table.columns["flops_mac"].sum() == pytest.approx(ref["flops"], rel=0.005)


# VMZ model zoo (c2/tutorials/model_zoo.md), "Input size 32x224x224": GFLOPs and params(M),
# printed to one decimal. The params match our count without the BN affine parameters (which the
# zoo leaves out); the GFLOPs match our multiply-adds at 32x256x256 (the 256-pixel test crop).
# Tolerance: half a unit of the last printed digit.
CSN_PUBLISHED = {
    "ir_channel_separated": (29.6e6, 96.7e9),
    "ip_channel_separated": (32.8e6, 108.8e9),
}


@pytest.mark.parametrize("maker", CSN_PUBLISHED)
def test_csn_152_matches_vmz_model_zoo(maker: str) -> None:
    pub_params, pub_gflops = CSN_PUBLISHED[maker]
    graph = build_from("ir_csn_152", conv_makers=[maker] * 4, input_size=(32, 256, 256))
    table = count_graph(graph, 1)
    not_bn = np.array([kind != "batchnorm" for kind in table.kinds])
    assert abs(table.columns["weight_elems"][not_bn].sum() - pub_params) <= 0.05e6
    assert abs(table.columns["flops_mac"].sum() / 2 - pub_gflops) <= 0.05e9


def test_ir_csn_152_spec_is_the_published_model() -> None:
    """The spec is the zoo's 32x224x224 clip; 152 layers = 1 + 3 * (3 + 8 + 36 + 3) + 1."""
    graph = build("ir_csn_152")
    assert graph.inputs["clip"] == (3, 32, 224, 224)
    weighted = [
        op for op in graph.ops if op.kind in ("conv", "linear") and "downsample" not in op.name
    ]
    assert len(weighted) == 152
    dw = graph.ops[op_index(graph, "layer3.5.conv2.0")]
    assert (dw.groups, dw.in_channels, dw.kernel_size) == (256, 256, (3, 3, 3))


def _resnext3d_params(layers: tuple[int, ...], cardinality: int, classes: int) -> int:
    """Hara et al. 2018 Table 1, ResNeXt-101: conv1 7x7x7 x 64; stages of [1x1x1 W, 3x3x3 W in
    ``cardinality`` groups, 1x1x1 2F] with F = 128, 256, 512, 1024 and width W = cardinality*F/32
    (= F at 32); a 1x1x1 projection shortcut in each stage's first block; BN (2 params per
    channel) after every conv; FC 2048 -> classes with bias."""
    total = 3 * 64 * 7**3 + 2 * 64
    c_in = 64
    for f, n in zip((128, 256, 512, 1024), layers):
        w = cardinality * f // 32
        body = w * (w // cardinality) * 27 + w * 2 * f + 2 * (w + w + 2 * f)  # conv2, conv3, BNs
        total += n * body + c_in * w + (n - 1) * 2 * f * w  # conv1 reads c_in, then 2F channels
        total += c_in * 2 * f + 2 * 2 * f  # projection shortcut + BN
        c_in = 2 * f
    return total + 2048 * classes + classes


def test_resnext3d_101_params_match_hara_table1() -> None:
    params = _resnext3d_params((3, 4, 23, 3), 32, 400)
    assert count_graph(build("resnext3d_101"), 1).columns["weight_elems"].sum() == params
    # the same formula at another depth and cardinality checks the family, not just the spec
    other = build_from("resnext3d_101", layers=(3, 4, 6, 3), cardinality=16, num_classes=101)
    assert count_graph(other, 1).columns["weight_elems"].sum() == _resnext3d_params(
        (3, 4, 6, 3), 16, 101
    )


def test_resnext3d_101_shapes() -> None:
    """16x112x112: stem (16, 56, 56), max pool (8, 28, 28), stages down to (1, 4, 4)."""
    graph = build("resnext3d_101")
    ops = {op.name: op for op in graph.ops}
    assert ops["maxpool"].out_shape == (64, 8, 28, 28)
    assert ops["layer2.0.conv2"].out_shape == (256, 4, 14, 14)
    assert ops["layer4.2.conv3"].out_shape == (2048, 1, 4, 4)
    assert ops["layer1.0.conv2"].groups == 32


def test_conv3d_flops_formula() -> None:
    """r3d_18 stem.0: 64 filters of 3 x 3x7x7 over 16x56x56 outputs -> 2 * 64 * 147 * 50176."""
    graph = build("r3d_18")
    i = op_index(graph, "stem.0")
    table = count_graph(graph, [1, 4])
    expected = 2 * 64 * (3 * 3 * 7 * 7) * (16 * 56 * 56)
    assert table.columns["flops_mac"][i].tolist() == [expected, 4 * expected]
    assert table.columns["weight_elems"][i] == 64 * 3 * 3 * 7 * 7


def _depthwise_aw(p: int) -> float:
    """A channel-wise 3x3x3 conv, stride 2 in T, H, W, with P outputs per channel (and 8P inputs):
    2*27*P FLOPs / (8P in + P out + 27 weight elements) per channel = 6 / (1 + 3/P) -> 6."""
    return 2 * 27 * p / (8 * p + p + 27)


def test_channelwise_conv3d_intensity_is_six() -> None:
    b = GraphBuilder("dw")
    x = b.input("clip", (64, 16, 56, 56))
    b.conv(x, 64, 3, stride=2, padding=1, groups=64, name="dw")
    row = table1(count_graph(b.build(), 1))
    p = 8 * 28 * 28
    assert row.intensity_aw_min == pytest.approx(_depthwise_aw(p), rel=1e-12)
    assert row.intensity_aw_min == pytest.approx(2 * 27 / (8 + 1), rel=3 / p)


def test_ir_csn_152_min_intensity_is_channelwise_stride2() -> None:
    """Park et al. 2018 Table 1, ResNeXt3D row, min ops / (act + weight) = 6: in ir-CSN-152 at
    32x224x224 the minimum over convs is layer4.0.conv2.0 (512 channels, 8x14x14 -> 4x7x7)."""
    graph = build("ir_csn_152")
    table = count_graph(graph, 1)
    conv = np.array([kind == "conv" for kind in table.kinds])
    flops = table.columns["flops_mac"][:, 0]
    denom = (
        table.columns["weight_elems"]
        + table.columns["act_in_elems"][:, 0]
        + table.columns["act_out_elems"][:, 0]
    )
    aw = np.where(conv, flops / denom, np.inf)
    assert table.names[int(aw.argmin())] == "layer4.0.conv2.0"
    assert aw.min() == pytest.approx(_depthwise_aw(4 * 7 * 7), rel=1e-12)


def test_r2plus1d_midplanes_shared_by_both_convs_of_a_block() -> None:
    """torchvision computes midplanes once per block from (inplanes, planes)."""
    ops = {op.name: op for op in build("r2plus1d_18").ops}
    mid = (64 * 128 * 27) // (64 * 9 + 3 * 128)  # 230
    assert ops["layer2.0.conv1.0.0"].out_channels == mid
    assert ops["layer2.0.conv2.0.0"].out_channels == mid
    assert ops["layer2.1.conv1.0.0"].out_channels == (128 * 128 * 27) // (128 * 9 + 3 * 128)


def test_mc3_keeps_frames_above_stage_1() -> None:
    ops = {op.name: op for op in build("mc3_18").ops}
    assert ops["layer2.0.downsample.0"].stride == (1, 2, 2)
    assert ops["layer4.1.conv2.0"].out_shape == (512, 16, 7, 7)


def test_params_validation_names_values() -> None:
    with pytest.raises(ValueError, match="block: bottleneck"):
        FAMILIES["video_resnet"].params(
            layers=(2, 2, 2, 2), conv_makers=["ir_channel_separated"] * 4
        )
    with pytest.raises(ValueError):
        FAMILIES["resnext3d"].params(layers=(3, 0, 23, 3))
