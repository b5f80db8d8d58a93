"""2D image classifiers (resnet, shufflenet_v1/v2, mobilenet_v2, vgg) against independent figures.

* torchvision-built models: params exactly and matrix FLOPs (``flops_mac``) within 0.5% of
  ``tests/data/torchvision_reference.json`` (torch's FlopCounterMode; recorded by
  ``scripts/record_torchvision_reference.py``).
* ResNeXt-101 32xCd (WSL): Mahajan et al. 2018, https://arxiv.org/abs/1805.00932, published
  params and multiply-adds.
* ShuffleNet v1 1x g=3: Zhang et al. 2017, https://arxiv.org/abs/1707.01083, and the authors' code.
* The ResNet-50 stem convolution by its formula.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import pytest
import yaml

from roofline.counting import count_graph
from roofline.families import FAMILIES
from roofline.graph import Graph

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "tests" / "data" / "torchvision_reference.json"

TORCHVISION_MODELS = [
    "resnet18",
    "resnet34",
    "resnet50",
    "resnet101",
    "resnet152",
    "wide_resnet50_2",
    "resnext50_32x4d",
    "resnext101_32x8d",
    "resnext101_64x4d",
    "shufflenet_v2_x0_5",
    "shufflenet_v2_x1_0",
    "shufflenet_v2_x1_5",
    "shufflenet_v2_x2_0",
    "mobilenet_v2",
    "vgg16",
]
#: built with torchvision's ResNet class by the reference script (not torchvision-named)
WSL_MODELS = ["resnext101_32x4d", "resnext101_32x16d", "resnext101_32x32d", "resnext101_32x48d"]


@cache
def build(name: str) -> Graph:
    """Build ``model_specs/<name>.yaml`` through its family (independent of the loader)."""
    spec = yaml.safe_load((ROOT / "model_specs" / f"{name}.yaml").read_text())
    assert spec["name"] == name
    fam = FAMILIES[spec["family"]]
    return fam.build(fam.params(**spec.get("params", {})), name)


@cache
def totals(name: str) -> tuple[float, float]:
    """Return (params, matrix FLOPs at batch 1) of model ``name``."""
    table = count_graph(build(name), 1)
    return float(table.columns["weight_elems"].sum()), float(table.columns["flops_mac"].sum())


@cache
def reference() -> dict:
    return json.loads(REFERENCE.read_text())["models"]


@pytest.mark.parametrize("name", TORCHVISION_MODELS + WSL_MODELS)
def test_matches_torchvision_reference(name: str) -> None:
    ref = reference()[name]
    assert ref["input_shape"][1:] == list(build(name).inputs["image"])
    params, flops = totals(name)
    assert params == ref["params"]
    assert flops == pytest.approx(ref["flops"], rel=0.005)


# Mahajan et al. 2018 (Sec. 3.1, ResNeXt-101 32xCd): params, multiply-adds, and the relative
# tolerance each holds. The figures are printed to 2-3 significant digits; two do not hold to
# 1% / 2%: 32x4d params (43M published; torchvision's ResNet class builds 44.18M, +2.7%) and
# 32x8d multiply-adds (16B printed to two digits; the count is 16.41B, +2.6%, which rounds to 16B).
WSL_PUBLISHED = {
    "resnext101_32x4d": (43e6, 0.03, 8.0e9, 0.02),
    "resnext101_32x8d": (88e6, 0.01, 16e9, 0.03),
    "resnext101_32x16d": (194e6, 0.01, 36e9, 0.02),
    "resnext101_32x32d": (466e6, 0.01, 87e9, 0.02),
    "resnext101_32x48d": (829e6, 0.01, 153e9, 0.02),
}


@pytest.mark.parametrize("name", WSL_PUBLISHED)
def test_wsl_resnext_matches_mahajan(name: str) -> None:
    pub_params, tol_params, pub_macs, tol_macs = WSL_PUBLISHED[name]
    params, flops = totals(name)
    assert params == pytest.approx(pub_params, rel=tol_params)
    assert flops / 2 == pytest.approx(pub_macs, rel=tol_macs)


def test_shufflenet_v1_g3_matches_paper() -> None:
    params, flops = totals("shufflenet_v1_g3")
    macs = flops / 2
    # Zhang et al. 2017 Table 2: "ShuffleNet 1x" ~140 MFLOPs (multiply-adds), g = 1..8
    assert macs == pytest.approx(140e6, rel=0.02)
    # the authors' README (github.com/megvii-model/ShuffleNet-Series, ShuffleNetV1 1.0x g=3):
    # 138M FLOPs and 1.9M params (printed to two digits)
    assert macs == pytest.approx(138e6, rel=0.01)
    assert round(params / 1e5) / 10 == 1.9


def test_shufflenet_v1_structure() -> None:
    """Table 1 at g = 3: widths 240/480/960, bottleneck = out/4, stride-2 branch out - in."""
    ops = {op.name: op for op in build("shufflenet_v1_g3").ops}
    first = ops["stage2.0.branch.0"]
    assert (first.in_channels, first.out_channels, first.groups) == (24, 60, 1)
    assert ops["stage2.0.branch.5"].out_channels == 240 - 24
    assert ops["stage2.1.branch.0"].groups == 3
    assert ops["stage3.0.branch.5"].out_channels == 480 - 240
    assert ops["stage4.3.branch.5"].out_channels == 960
    assert ops["stage4.3.branch.5"].input_size == (7, 7)
    assert sum(1 for n in ops if n.endswith(".relu")) == 4 + 8 + 4


def test_resnet50_stem_conv_formula() -> None:
    """conv1: 64 filters of 3 x 7 x 7 at 112 x 112 outputs -> 2 * 64 * 112^2 * 3 * 49 FLOPs."""
    graph = build("resnet50")
    table = count_graph(graph, [1, 8])
    i = [op.name for op in graph.ops].index("conv1")
    expected = 2 * 64 * 112 * 112 * 3 * 49
    assert table.columns["flops_mac"][i].tolist() == [expected, 8 * expected]
    assert table.columns["weight_elems"][i] == 64 * 3 * 49


def test_shufflenet_v2_features_for_backbones() -> None:
    """The detector-facing feature extractor returns stride-8/16/32 maps and conv5."""
    from roofline.families.shufflenet import ShuffleNetV2Params, shufflenet_v2_features
    from roofline.graph_builder import GraphBuilder

    b = GraphBuilder("backbone")
    x = b.input("image", (3, 800, 800))
    p = ShuffleNetV2Params(stages_out_channels=(24, 116, 232, 464, 1024))
    outs = shufflenet_v2_features(b, x, p)
    assert [b.shape(t) for t in outs] == [
        (116, 100, 100),
        (232, 50, 50),
        (464, 25, 25),
        (1024, 25, 25),
    ]


def test_params_validation_names_values() -> None:
    with pytest.raises(ValueError, match="odd"):
        FAMILIES["shufflenet_v2"].params(stages_out_channels=(24, 117, 232, 464, 1024))
    with pytest.raises(ValueError, match="divisible by groups"):
        FAMILIES["shufflenet_v1"].params(groups=8, stage_out_channels=(240, 480, 960))
