"""Faster R-CNN (family ``faster_rcnn``) and the ``shared_conv`` op against independent figures.

* fasterrcnn_resnet50_fpn: torchvision's own model counted by torch's FlopCounterMode
  (``tests/data/torchvision_reference.json``, recorded by
  ``scripts/record_torchvision_reference.py`` with the RPN's NMS disabled so that exactly 1000
  proposals reach the box head): params exactly; matrix FLOPs (``flops_mac``) in total and per
  stage (backbone body, FPN, RPN head, box head, box predictor) within 0.5%; the proposal count
  and the FPN / RoI feature shapes.
* The RPN head and the box head's FCs by their formulas.
* faster_rcnn_shufflenet against Park et al. 2018 (https://arxiv.org/abs/1811.09886) Table 1,
  row Faster-RCNN-Shuffle, as reconstructed in the project's paper notes (L/M confidence): ~6M
  params, ~13M max live activations, ops per weight avg ~3.5K / min ~2.5K, ops per
  activation+weight avg ~145 / min ~4.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from roofline.characterize import table1
from roofline.counting import count_graph
from roofline.families import FAMILIES
from roofline.graph import Graph
from roofline.ops import derive_cost
from roofline.ops.conv import Conv
from roofline.ops.shared_conv import SharedConv
from roofline.records import CostTable

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "tests" / "data" / "torchvision_reference.json"
FAMILY = FAMILIES["faster_rcnn"]
TOL = 0.005

#: reference stage -> our op-name prefix (torchvision module paths)
STAGES = {
    "backbone_body": "backbone.body.",
    "fpn": "backbone.fpn.",
    "rpn_head": "rpn.head.",
    "box_head": "roi_heads.box_head.",
    "box_predictor": "roi_heads.box_predictor.",
}


def spec_params(name: str) -> dict:
    spec = yaml.safe_load((ROOT / "model_specs" / f"{name}.yaml").read_text())
    assert spec["name"] == name and spec["family"] == "faster_rcnn"
    return spec["params"]


@cache
def build(name: str) -> Graph:
    """Build ``model_specs/<name>.yaml`` through the family (independent of the loader)."""
    return FAMILY.build(FAMILY.params(**spec_params(name)), name)


@cache
def table(name: str) -> CostTable:
    return count_graph(build(name), 1)


@cache
def reference() -> dict:
    return json.loads(REFERENCE.read_text())["models"]["fasterrcnn_resnet50_fpn"]


def part(ct: CostTable, column: str, prefix: str) -> float:
    """Sum of ``column`` (batch 1) over ops whose name starts with ``prefix``."""
    col = ct.columns[column]
    return float(
        sum(
            col[i] if col.ndim == 1 else col[i, 0]
            for i, n in enumerate(ct.names)
            if n.startswith(prefix)
        )
    )


def op(graph: Graph, name: str):
    return next(o for o in graph.ops if o.name == name)


# -- fasterrcnn_resnet50_fpn vs torchvision ------------------------------------------------------
def test_resnet50_fpn_params_exact() -> None:
    ct = table("fasterrcnn_resnet50_fpn")
    ref = reference()
    assert ct.columns["weight_elems"].sum() == ref["params"]
    # the pretrained model's FrozenBatchNorm2d holds the backbone's BN affine terms as buffers
    bn = sum(
        w
        for w, k, n in zip(ct.columns["weight_elems"], ct.kinds, ct.names)
        if k == "batchnorm" and n.startswith("backbone.body.")
    )
    assert ct.columns["weight_elems"].sum() - bn == ref["params_with_frozen_backbone_bn"]
    assert ref["params_with_frozen_backbone_bn"] == ref["torchvision_published"]["num_params"]


def test_resnet50_fpn_flops_total() -> None:
    flops = table("fasterrcnn_resnet50_fpn").columns["flops_mac"].sum()
    assert flops == pytest.approx(reference()["flops"], rel=TOL)


@pytest.mark.parametrize("stage", list(STAGES))
def test_resnet50_fpn_flops_by_stage(stage: str) -> None:
    ours = part(table("fasterrcnn_resnet50_fpn"), "flops_mac", STAGES[stage])
    assert ours == pytest.approx(reference()["flops_by_stage"][stage], rel=TOL)


def test_resnet50_fpn_shapes_and_proposals() -> None:
    g, ref = build("fasterrcnn_resnet50_fpn"), reference()
    pool = op(g, "roi_heads.box_roi_pool")
    assert pool.num_rois == ref["num_proposals"] == ref["config"]["rpn_post_nms_top_n_test"]
    assert list(pool.out_shape) == ref["box_head_input_shape"]
    names = {
        "0": "layer_blocks.0.0",
        "1": "layer_blocks.1.0",
        "2": "layer_blocks.2.0",
        "3": "layer_blocks.3.0",
        "pool": "extra_blocks",
    }
    for level, shape in ref["fpn_feature_shapes"].items():
        assert list(op(g, f"backbone.fpn.{names[level]}").out_shape) == shape[1:]


def test_resnet50_fpn_body_is_classifier_without_fc() -> None:
    """The detection body is torchvision's resnet50 less avgpool and fc (2048*1000 + 1000)."""
    resnet50 = json.loads(REFERENCE.read_text())["models"]["resnet50"]["params"]
    body = part(table("fasterrcnn_resnet50_fpn"), "weight_elems", "backbone.body.")
    assert body == resnet50 - (2048 * 1000 + 1000)


# -- formulas -------------------------------------------------------------------------------------
def test_rpn_head_formula() -> None:
    """RPN head: 3x3 conv C->C, 1x1 C->A and C->4A, all with bias, shared by the 5 levels."""
    c, a = 256, 3
    # 800x800 at strides 4, 8, 16, 32; the 'pool' level is max pool stride 2 of 25 -> 13
    positions = 200**2 + 100**2 + 50**2 + 25**2 + 13**2
    flops = 2 * positions * (c * c * 9 + c * a + c * 4 * a)
    params = (c * c * 9 + c) + (c * a + a) + (c * 4 * a + 4 * a)
    ct = table("fasterrcnn_resnet50_fpn")
    assert part(ct, "flops_mac", "rpn.head.") == flops
    assert part(ct, "weight_elems", "rpn.head.") == params
    props = op(build("fasterrcnn_resnet50_fpn"), "rpn.filter_proposals")
    assert props.candidates == a * positions
    # per-level top 1000 before NMS; the 'pool' level has only 3 * 169 = 507 anchors
    assert props.pre_nms_top_n == 4 * 1000 + a * 13**2


def test_box_head_fc_formula() -> None:
    """TwoMLPHead (C*o*o -> D -> D) and FastRCNNPredictor (D -> K, D -> 4K) on R RoIs."""
    r, c, o, d, k = 1000, 256, 7, 1024, 91
    ct = table("fasterrcnn_resnet50_fpn")
    assert part(ct, "flops_mac", "roi_heads.box_head.") == 2 * r * (c * o * o * d + d * d)
    assert part(ct, "flops_mac", "roi_heads.box_predictor.") == 2 * r * d * (k + 4 * k)
    assert part(ct, "weight_elems", "roi_heads.box_head.") == (c * o * o + 1) * d + (d + 1) * d
    assert part(ct, "weight_elems", "roi_heads.box_predictor.") == (d + 1) * 5 * k


# -- faster_rcnn_shufflenet vs Park et al. 2018 Table 1 -------------------------------------------
def test_shufflenet_params_in_paper_range() -> None:
    """Table 1: ~6M params (L/M confidence); accept 3M-10M, within a factor of 2 of it."""
    assert 3e6 <= table("faster_rcnn_shufflenet").columns["weight_elems"].sum() <= 10e6


def test_shufflenet_min_act_weight_intensity() -> None:
    """Table 1 min ~4: a stride-2 3x3 depthwise conv of C channels to P positions does
    2*9*C*P ops over 9C weights + 4CP inputs + CP outputs = 18P / (5P + 9) -> 3.6; the minimum is
    at the smallest P, stage 4's first unit: 800x1344 / 32 = 25 x 42."""
    p = 25 * 42
    row = table1(table("faster_rcnn_shufflenet"))
    assert row.intensity_aw_min == pytest.approx(18 * p / (5 * p + 9), rel=1e-12)
    assert 3 <= row.intensity_aw_min <= 5


def test_shufflenet_shaped_like_table1() -> None:
    """Every other Table 1 figure within a factor of 2 of the paper's row."""
    row = table1(table("faster_rcnn_shufflenet"))
    for ours, paper in [
        (row.max_live_activations, 13e6),
        (row.intensity_w_avg, 3.5e3),
        (row.intensity_w_min, 2.5e3),
        (row.intensity_aw_avg, 145),
    ]:
        assert paper / 2 <= ours <= paper * 2


def test_shufflenet_box_fc_intensity_is_twice_rois() -> None:
    """An FC over R RoIs does 2R ops per weight (bias aside), Table 1's minimum ops/weight."""
    ct = table("faster_rcnn_shufflenet")
    i = ct.names.index("roi_heads.box_head.fc7")
    d = 1024
    assert ct.columns["flops_mac"][i, 0] / ct.columns["weight_elems"][i] == pytest.approx(
        2 * 1000 * d / (d + 1), rel=1e-12
    )


# -- builder behaviour ----------------------------------------------------------------------------
def test_unused_backbone_stages_are_not_built() -> None:
    """A single-level head on ShuffleNet v2's stride-16 stage 3 leaves stage 4 and conv5 out."""
    p = FAMILY.params(
        backbone="shufflenet_v2",
        backbone_layers=[4, 8, 4],
        backbone_channels=[24, 116, 232, 464, 1024],
        returned_layers=[2],
        fpn_channels=None,
        input_size=[608, 800],
    )
    names = [o.name for o in FAMILY.build(p, "c4").ops]
    assert any(n.startswith("backbone.body.stage3.") for n in names)
    assert not any(n.startswith(("backbone.body.stage4.", "backbone.body.conv5")) for n in names)
    assert op(FAMILY.build(p, "c4"), "roi_heads.box_roi_pool").channels == 232


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"input_size": [800, 1333]}, "multiple of 32"),
        ({"fpn_channels": None}, "single layer"),
        ({"backbone_groups": 3}, "shufflenet_v1 only"),
        ({"backbone_layers": [3, 4, 6]}, "4 backbone_layers"),
        ({"returned_layers": [3, 2]}, "increasing"),
    ],
)
def test_invalid_params(change: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        FAMILY.params(**{**spec_params("fasterrcnn_resnet50_fpn"), **change})


# -- the shared_conv op ---------------------------------------------------------------------------
def test_shared_conv_is_per_level_convs_with_weights_once() -> None:
    sizes = ((40, 40), (20, 20), (10, 10))
    shared = SharedConv(
        name="head",
        in_channels=32,
        out_channels=16,
        kernel_size=(3, 3),
        input_sizes=sizes,
        padding=1,
        bias=True,
    )
    convs = [
        Conv(
            name=f"c{i}",
            in_channels=32,
            out_channels=16,
            kernel_size=(3, 3),
            input_size=s,
            padding=(1, 1),
            bias=True,
        )
        for i, s in enumerate(sizes)
    ]
    got = derive_cost(shared, 2, "fp32")
    per = [derive_cost(c, 2, "fp32") for c in convs]
    macs_per_sample = 16 * 32 * 9 * (1600 + 400 + 100)
    assert got.flops_mac == sum(c.flops_mac for c in per) == 2 * 2 * macs_per_sample
    assert got.weight_elems == per[0].weight_elems == 16 * 32 * 9 + 16
    assert got.act_in_elems == sum(c.act_in_elems for c in per)
    assert got.act_out_elems == sum(c.act_out_elems for c in per)
    assert len(shared.counts(2).gemms) == 3
    assert shared.out_shape == (16, 1600 + 400 + 100)


def test_shared_conv_rejects_a_level_too_small() -> None:
    with pytest.raises(ValidationError, match="input_sizes"):
        SharedConv(
            name="h",
            in_channels=4,
            out_channels=4,
            kernel_size=(3, 3),
            input_sizes=((8, 8), (1, 1)),
        )
