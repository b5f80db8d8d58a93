#!/usr/bin/env python
"""Record independent parameter / FLOP reference counts from torchvision's own models.

What it records
---------------
``tests/data/torchvision_reference.json`` holds, for a fixed list of torchvision models, the
parameter count and the forward-pass FLOP count measured on torchvision's *own* model
definitions (``torchvision.models``), at batch size 1 in eval mode.  The analytical counts
of the ``roofline`` package are compared against these numbers in the test-suite; nothing in
this script uses ``roofline`` itself, so the figures are an independent reference.

Per model the JSON records ``params``, ``flops``, ``input_shape``, ``flops_by_module_type``
(FLOPs summed over *leaf* modules, keyed by the leaf's class name, e.g. ``Conv2d``/``Linear``),
``flops_by_nn_base_type`` (the same, keyed by the leaf's first ``torch.nn`` base class, so
torchvision's ``Conv3DSimple``/``Conv3DNoTemporal`` fold into ``Conv3d``),
``flops_by_op`` (the same FLOPs keyed by aten op), torchvision's own published metadata where a
weights enum exists (``torchvision_published``: ``num_params`` and ``_ops`` in GFLOPS, which
torchvision counts as multiply-accumulates), and free-form ``notes``.  Faster R-CNN
additionally records its configuration, the proposal count that reaches the box head, the FPN
feature-map sizes and a per-stage FLOP split (``flops_by_stage``).

How it counts
-------------
* Parameters: ``sum(p.numel() for p in model.parameters())`` -- BatchNorm affine weight/bias
  are included, running statistics (buffers) are not.
* FLOPs: ``torch.utils.flop_counter.FlopCounterMode``.  Its convention is 2 FLOPs per
  multiply-accumulate, and it only counts matrix ops: ``mm``, ``addmm``, ``bmm``, ``baddbmm``,
  convolutions and scaled-dot-product attention.  Bias additions, BatchNorm, activations,
  pooling, element-wise residual adds, softmax, interpolation, RoIAlign, NMS and box decoding
  contribute **zero**.  For convolutions it counts ``2 * N * C_out * (C_in / groups) * k_h *
  k_w * H_out * W_out`` (grouped/depthwise convs are therefore counted correctly).
* Classification and video models are built and run on the ``meta`` device (no weights are
  materialised and nothing is computed; only shapes flow), so even the 829M-parameter
  ResNeXt-101 32x48d costs nothing.
* Faster R-CNN has data-dependent steps (top-k, NMS, boolean masking) that cannot run on
  ``meta``; it runs on CPU with random weights (``torch.manual_seed(0)``) on one random
  3x800x800 image.  To make the workload deterministic the RPN NMS threshold is set to 1.0
  (IoU > 1 never happens, so nothing is suppressed); the RPN then keeps exactly
  ``post_nms_top_n_test`` = 1000 proposals, which a forward pre-hook on
  ``roi_heads.box_head`` verifies.  The post-processing of the detections (score threshold,
  per-class NMS) involves no counted ops and is left at torchvision's defaults.

torchvision's compiled extension
--------------------------------
(``roofline.importers.torchvision_compat.import_torchvision``, shared with the importer tests.)
The CPU-only torch wheel cannot load torchvision's compiled ``_C`` extension, and ``import
torchvision`` then fails because ``torchvision/_meta_registrations.py`` registers fake kernels
for ``torchvision::nms`` / ``torchvision::qnms``, which do not exist.  Before importing
torchvision this script therefore defines, with ``torch.library``, the schemas
``torchvision::nms``, ``torchvision::qnms`` and ``torchvision::roi_align`` (same signatures as
the C++ ones) and gives ``nms`` a plain-PyTorch greedy CPU kernel.  After the import it gives
``roi_align`` a CPU kernel (torchvision's own pure-PyTorch reference ``_roi_align``, called
eagerly instead of through ``torch.compile``) and a Meta kernel (torchvision's
``meta_roi_align``), then tells torchvision that its ops are available
(``torchvision.extension._has_ops``) so its Python code dispatches to these kernels.  If the
real extension does load, none of this is done.  None of these ops is counted by
``FlopCounterMode``, so they cannot change the recorded FLOPs.

How to rerun
------------
::

    pip install torch==2.13.0                  # the CPU wheel (/opt/wheels in the sandbox)
    pip install --no-deps torchvision==0.28.0
    python scripts/record_torchvision_reference.py            # all models, ~30 s
    python scripts/record_torchvision_reference.py --models resnet50 vgg16 --output /tmp/x.json

The whole run takes well under a minute on a 2-core machine (Faster R-CNN dominates).
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from roofline.importers.torchvision_compat import import_torchvision

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUTPUT = REPO_ROOT / "tests" / "data" / "torchvision_reference.json"

FLOP_CONVENTION = (
    "torch.utils.flop_counter.FlopCounterMode: 2 FLOPs per multiply-accumulate; only "
    "mm/addmm/bmm/baddbmm, convolution and scaled-dot-product attention are counted. "
    "Bias adds, normalisation, activations, pooling, residual adds, softmax, interpolation, "
    "RoIAlign, NMS and box coding count 0. Convolution = 2*N*C_out*(C_in/groups)*kh*kw*"
    "prod(out_spatial) (kt as well for 3-D). Linear = addmm: 2*M*N*K (bias not counted)."
)
METHOD = (
    "Models from torchvision.models (weights=None), batch 1, eval mode, forward pass under "
    "FlopCounterMode. params = sum(p.numel() for p in model.parameters()) (BN affine "
    "included, running stats excluded). Classification/video models are built and run on "
    "the 'meta' device; fasterrcnn_resnet50_fpn runs on CPU with random weights "
    "(torch.manual_seed(0)). flops_by_module_type aggregates FlopCounterMode.get_flop_counts() "
    "over leaf modules by class name; flops_by_op aggregates the global counts by aten op. "
    "torchvision_published is copied from torchvision's weights-enum metadata (_ops is "
    "torchvision's GFLOPS figure, which counts multiply-accumulates)."
)

# Mahajan et al. 2018, "Exploring the Limits of Weakly Supervised Pretraining", Table 1.
WSL_PUBLISHED_PARAMS = {4: "43M", 16: "194M", 32: "466M", 48: "829M"}


# --------------------------------------------------------------------------------------------
# counting helpers
# --------------------------------------------------------------------------------------------
def count_params(model: nn.Module) -> int:
    return int(sum(p.numel() for p in model.parameters()))


def _op_name(op: Any) -> str:
    name = str(op)
    return name[len("aten.") :] if name.startswith("aten.") else name


def _module_names(model: nn.Module) -> dict[str, nn.Module]:
    """FlopCounterMode's module keys: root class name, then dotted ``named_modules`` path."""
    root = type(model).__name__
    return {(f"{root}.{n}" if n else root): m for n, m in model.named_modules()}


def _nn_base_name(mod: nn.Module) -> str:
    """Name of the first ``torch.nn`` class in the MRO (Conv3DSimple -> Conv3d)."""
    for cls in type(mod).__mro__:
        if cls.__module__.startswith("torch.nn."):
            return cls.__name__
    return type(mod).__name__


def _sorted_desc(d: dict[str, int]) -> dict[str, int]:
    return {k: int(v) for k, v in sorted(d.items(), key=lambda kv: (-kv[1], kv[0])) if v}


def breakdown(model: nn.Module, counts: dict[str, dict[Any, int]]) -> dict[str, Any]:
    """Total, per-op and per-leaf-module-type FLOPs from FlopCounterMode.get_flop_counts()."""
    total = int(sum(counts.get("Global", {}).values()))
    by_op: dict[str, int] = defaultdict(int)
    for op, v in counts.get("Global", {}).items():
        by_op[_op_name(op)] += int(v)
    by_type: dict[str, int] = defaultdict(int)
    by_nn_type: dict[str, int] = defaultdict(int)
    for name, mod in _module_names(model).items():
        if next(mod.children(), None) is None and name in counts:
            flops = int(sum(counts[name].values()))
            by_type[type(mod).__name__] += flops
            by_nn_type[_nn_base_name(mod)] += flops
    leaf_sum = sum(by_type.values())
    if leaf_sum != total:  # FLOPs issued directly in a non-leaf forward (functional calls)
        by_type["<non-leaf/functional>"] = total - leaf_sum
        by_nn_type["<non-leaf/functional>"] = total - leaf_sum
    return {
        "flops": total,
        "by_op": _sorted_desc(by_op),
        "by_type": _sorted_desc(by_type),
        "by_nn_type": _sorted_desc(by_nn_type),
    }


def run_counted(model: nn.Module, *args: Any) -> tuple[dict[str, Any], dict[str, dict]]:
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        model(*args)
    counts = counter.get_flop_counts()
    return breakdown(model, counts), counts


def published_meta(tv: Any, builder: Callable[..., nn.Module]) -> dict[str, Any] | None:
    """num_params / _ops (GFLOPS=GMACs) of the builder's DEFAULT weights, if any (no download)."""
    try:
        weights_enum = tv.models.get_model_weights(builder)
    except (ValueError, KeyError, AttributeError):
        return None
    w = weights_enum.DEFAULT
    out = {"weights": str(w), "num_params": w.meta.get("num_params")}
    if "_ops" in w.meta:
        out["gflops_torchvision"] = w.meta["_ops"]
    return out


# --------------------------------------------------------------------------------------------
# model families
# --------------------------------------------------------------------------------------------
CLASSIFICATION = [
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
WSL = {f"resnext101_32x{w}d": w for w in (4, 16, 32, 48)}
VIDEO = ["r3d_18", "mc3_18", "r2plus1d_18"]
DETECTION = ["fasterrcnn_resnet50_fpn"]
ALL_MODELS = CLASSIFICATION + list(WSL) + VIDEO + DETECTION


def _meta_record(
    model_fn: Callable[[], nn.Module], input_shape: list[int], notes: str
) -> dict[str, Any]:
    with torch.device("meta"):
        model = model_fn().eval()
        x = torch.empty(*input_shape)
    res, _ = run_counted(model, x)
    return {
        "params": count_params(model),
        "flops": res["flops"],
        "input_shape": input_shape,
        "device": "meta",
        "flops_by_module_type": res["by_type"],
        "flops_by_nn_base_type": res["by_nn_type"],
        "flops_by_op": res["by_op"],
        "notes": notes,
    }


def record_classification(tv: Any, name: str) -> dict[str, Any]:
    builder = getattr(tv.models, name)
    rec = _meta_record(
        lambda: builder(weights=None),
        [1, 3, 224, 224],
        f"torchvision.models.{name}(weights=None), 1000 classes.",
    )
    pub = published_meta(tv, builder)
    if pub:
        rec["torchvision_published"] = pub
    return rec


def record_wsl(tv: Any, name: str) -> dict[str, Any]:
    width = WSL[name]
    resnet = tv.models.resnet

    def build() -> nn.Module:
        return resnet.ResNet(resnet.Bottleneck, [3, 4, 23, 3], groups=32, width_per_group=width)

    rec = _meta_record(
        build,
        [1, 3, 224, 224],
        f"torchvision.models.resnet.ResNet(Bottleneck, [3, 4, 23, 3], groups=32, "
        f"width_per_group={width}), 1000 classes (ResNeXt-101 32x{width}d, the WSL family of "
        f"Mahajan et al. 2018). Published params: {WSL_PUBLISHED_PARAMS[width]}.",
    )
    rec["published_params"] = WSL_PUBLISHED_PARAMS[width]
    return rec


def record_video(tv: Any, name: str) -> dict[str, Any]:
    builder = getattr(tv.models.video, name)
    rec = _meta_record(
        lambda: builder(weights=None),
        [1, 3, 16, 112, 112],
        f"torchvision.models.video.{name}(weights=None), 400 classes (Kinetics-400); input "
        "N,C,T,H,W.",
    )
    pub = published_meta(tv, builder)
    if pub:
        rec["torchvision_published"] = pub
    return rec


def record_fasterrcnn(tv: Any, name: str) -> dict[str, Any]:
    assert name == "fasterrcnn_resnet50_fpn"
    det = tv.models.detection
    torch.manual_seed(0)
    model = det.fasterrcnn_resnet50_fpn(weights=None, weights_backbone=None).eval()
    # Deterministic proposal count: no suppression in the RPN, so exactly post_nms_top_n
    # proposals reach the box head.
    rpn_nms_thresh_default = model.rpn.nms_thresh
    model.rpn.nms_thresh = 1.0
    image = torch.rand(3, 800, 800)

    captured: dict[str, Any] = {}

    def box_head_pre(_mod: nn.Module, args: tuple) -> None:
        captured["box_head_input"] = list(args[0].shape)

    def backbone_post(_mod: nn.Module, _args: tuple, out: dict) -> None:
        captured["fpn"] = {k: list(v.shape) for k, v in out.items()}

    def transform_post(_mod: nn.Module, _args: tuple, out: tuple) -> None:
        captured["batched_image"] = list(out[0].tensors.shape)
        captured["image_sizes"] = [list(s) for s in out[0].image_sizes]

    hooks = [
        model.roi_heads.box_head.register_forward_pre_hook(box_head_pre),
        model.backbone.register_forward_hook(backbone_post),
        model.transform.register_forward_hook(transform_post),
    ]
    res, counts = run_counted(model, [image])
    for h in hooks:
        h.remove()

    def stage(path: str) -> int:
        return int(sum(counts.get(f"FasterRCNN.{path}", {}).values()))

    stages = {
        "backbone_body": stage("backbone.body"),
        "fpn": stage("backbone.fpn"),
        "backbone_and_fpn": stage("backbone"),
        "rpn_head": stage("rpn.head"),
        "box_head": stage("roi_heads.box_head"),
        "box_predictor": stage("roi_heads.box_predictor"),
    }
    stages["box_head_and_predictor"] = stages["box_head"] + stages["box_predictor"]
    stages["total"] = res["flops"]
    accounted = stages["backbone_and_fpn"] + stages["rpn_head"] + stages["box_head_and_predictor"]
    stages["unaccounted"] = res["flops"] - accounted

    n_props = captured["box_head_input"][0]
    rpn = model.rpn
    pooler = model.roi_heads.box_roi_pool
    config = {
        "min_size": model.transform.min_size[0],
        "max_size": model.transform.max_size,
        "rpn_pre_nms_top_n_test": rpn._pre_nms_top_n["testing"],
        "rpn_post_nms_top_n_test": rpn._post_nms_top_n["testing"],
        "rpn_nms_thresh": rpn.nms_thresh,
        "rpn_nms_thresh_default": rpn_nms_thresh_default,
        "rpn_anchors_per_location": rpn.head.cls_logits.out_channels,
        "box_batch_size_per_image": model.roi_heads.fg_bg_sampler.batch_size_per_image,
        "representation_size": model.roi_heads.box_head.fc7.out_features,
        "roi_output_size": list(pooler.output_size),
        "sampling_ratio": pooler.sampling_ratio,
        "roi_featmap_names": list(pooler.featmap_names),
        "num_classes": model.roi_heads.box_predictor.cls_score.out_features,
        "fpn_out_channels": model.backbone.out_channels,
        "box_score_thresh": model.roi_heads.score_thresh,
        "box_nms_thresh": model.roi_heads.nms_thresh,
        "box_detections_per_img": model.roi_heads.detections_per_img,
        "backbone_norm_layer": type(model.backbone.body.bn1).__name__,
    }
    if n_props != config["rpn_post_nms_top_n_test"]:
        raise RuntimeError(f"box head saw {n_props} proposals, expected 1000")

    params = count_params(model)
    bn_params = sum(
        count_params(m) for m in model.backbone.body.modules() if isinstance(m, nn.BatchNorm2d)
    )
    pub = published_meta(tv, det.fasterrcnn_resnet50_fpn)
    rec: dict[str, Any] = {
        "params": params,
        "params_with_frozen_backbone_bn": params - bn_params,
        "flops": res["flops"],
        "input_shape": [1, 3, 800, 800],
        "device": "cpu (random weights, torch.manual_seed(0))",
        "flops_by_stage": stages,
        "flops_by_module_type": res["by_type"],
        "flops_by_nn_base_type": res["by_nn_type"],
        "flops_by_op": res["by_op"],
        "num_proposals": n_props,
        "box_head_input_shape": captured["box_head_input"],
        "transformed_image_shape": captured["batched_image"],
        "fpn_feature_shapes": captured["fpn"],
        "config": config,
        "notes": (
            "fasterrcnn_resnet50_fpn(weights=None, weights_backbone=None) on one random "
            "3x800x800 image in [0,1). The transform keeps 800x800 (scale = min(800/800, "
            "1333/800) = 1; 800 is a multiple of 32, so no padding). rpn.nms_thresh set to 1.0 "
            "(no suppression) so that exactly rpn_post_nms_top_n_test = 1000 proposals reach the "
            "box head (verified with a pre-hook on roi_heads.box_head); with real weights NMS at "
            "0.7 may leave fewer. With weights_backbone=None torchvision builds the backbone with "
            "nn.BatchNorm2d (trainable affine) instead of FrozenBatchNorm2d, so 'params' includes "
            "BN affine parameters; 'params_with_frozen_backbone_bn' excludes them and matches the "
            "pretrained model's published count. Uncounted (0 FLOPs by convention): image "
            "normalisation/resize, anchor generation, box decoding, top-k, NMS (greedy "
            "plain-PyTorch stand-in), RoIAlign (torchvision's pure-PyTorch reference), softmax, "
            "detection post-processing. FPN's LastLevelMaxPool ('pool' level) has no FLOPs. "
            "flops_by_stage: backbone_and_fpn = backbone.body + backbone.fpn; rpn_head = the "
            "shared 3x3 conv + cls/bbox 1x1 convs on all 5 levels; box_head_and_predictor = "
            "TwoMLPHead (fc6, fc7) + FastRCNNPredictor (cls_score, bbox_pred) on 1000 RoIs."
        ),
    }
    if pub:
        rec["torchvision_published"] = pub
    return rec


def record_model(tv: Any, name: str) -> dict[str, Any]:
    if name in CLASSIFICATION:
        return record_classification(tv, name)
    if name in WSL:
        return record_wsl(tv, name)
    if name in VIDEO:
        return record_video(tv, name)
    if name in DETECTION:
        return record_fasterrcnn(tv, name)
    raise ValueError(f"unknown model {name!r}; choose from {ALL_MODELS}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument("--models", nargs="+", default=ALL_MODELS, metavar="NAME")
    args = parser.parse_args(argv)

    torch.set_grad_enabled(False)
    tv, registration = import_torchvision()
    meta = {
        "torch": torch.__version__,
        "torchvision": tv.__version__,
        "python": platform.python_version(),
        "date": datetime.date.today().isoformat(),
        "method": METHOD,
        "flop_convention": FLOP_CONVENTION,
        "batch_size": 1,
        "torchvision_ops": registration,
        "script": "scripts/record_torchvision_reference.py",
    }
    models: dict[str, Any] = {}
    for name in args.models:
        t0 = time.perf_counter()
        models[name] = record_model(tv, name)
        dt = time.perf_counter() - t0
        rec = models[name]
        print(f"{name:28s} params={rec['params']:>13,d} flops={rec['flops']:>18,d} ({dt:.1f}s)")

    args.output.parent.mkdir(parents=True, exist_ok=True)
    with open(args.output, "w") as f:
        json.dump({"_meta": meta, "models": models}, f, indent=2)
        f.write("\n")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
