"""Import torchvision beside a CPU-only torch, defining the operators its compiled extension lacks.

The CPU torch wheel cannot load torchvision's compiled ``_C`` extension (a CUDA build), and
``import torchvision`` then fails because ``torchvision/_meta_registrations.py`` registers fake
kernels for ``torchvision::nms`` / ``torchvision::qnms``, which do not exist.
:func:`import_torchvision` first defines, with ``torch.library``, the schemas
``torchvision::nms``, ``torchvision::qnms`` and ``torchvision::roi_align`` (the C++ signatures)
and gives ``nms`` a plain-PyTorch greedy CPU kernel. After the import it gives ``roi_align`` a CPU
kernel (torchvision's own pure-PyTorch reference ``_roi_align``, called eagerly instead of
through ``torch.compile``) and a Meta kernel (torchvision's ``meta_roi_align``), then tells
torchvision that its ops are available (``torchvision.extension._has_ops``) so its Python code
dispatches to these kernels. If the real extension loads, none of this is done.

:func:`build_on_meta` builds a torchvision model on the ``meta`` device (no weights allocated).

Used by ``scripts/record_torchvision_reference.py``, ``scripts/importer_table.py``, the importer
tests and benchmarks; never by ``import roofline``.
"""

from __future__ import annotations

import importlib
import sys
import warnings
from typing import Any

import torch

_LIBS: list[Any] = []  # keep torch.library.Library objects alive for the process lifetime


def greedy_nms(dets: torch.Tensor, scores: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """Return the indices (int64, decreasing score) kept by greedy NMS, as torchvision's CPU kernel.

    Boxes are (x1, y1, x2, y2); a box is suppressed when its IoU with an already kept,
    higher-scoring box is strictly greater than ``iou_threshold``.
    """
    if dets.numel() == 0:
        return torch.empty(0, dtype=torch.long, device=dets.device)
    order = torch.sort(scores, descending=True, stable=True).indices
    boxes = dets[order]
    x1, y1, x2, y2 = boxes.unbind(1)
    areas = (x2 - x1) * (y2 - y1)
    n = boxes.shape[0]
    suppressed = torch.zeros(n, dtype=torch.bool, device=dets.device)
    keep: list[int] = []
    for i in range(n):
        if suppressed[i]:
            continue
        keep.append(i)
        if i + 1 == n:
            break
        xx1 = torch.maximum(x1[i], x1[i + 1 :])
        yy1 = torch.maximum(y1[i], y1[i + 1 :])
        xx2 = torch.minimum(x2[i], x2[i + 1 :])
        yy2 = torch.minimum(y2[i], y2[i + 1 :])
        inter = (xx2 - xx1).clamp(min=0) * (yy2 - yy1).clamp(min=0)
        iou = inter / (areas[i] + areas[i + 1 :] - inter)
        suppressed[i + 1 :] |= iou > iou_threshold
    return order[torch.tensor(keep, dtype=torch.long, device=dets.device)]


def _torchvision_op_exists(name: str) -> bool:
    try:
        getattr(torch.ops.torchvision, name)
    except (AttributeError, RuntimeError):
        return False
    return True


def import_torchvision() -> tuple[Any, str]:
    """Return torchvision (imported, with stand-in operators if needed) and a sentence saying
    what was registered."""
    if "torchvision" in sys.modules:
        return sys.modules["torchvision"], "torchvision was already imported"
    if _torchvision_op_exists("nms"):
        tv = importlib.import_module("torchvision")
        return tv, "torchvision's compiled extension provided the operators"

    lib = torch.library.Library("torchvision", "DEF")
    _LIBS.append(lib)
    lib.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    lib.define("qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    lib.define(
        "roi_align(Tensor input, Tensor rois, float spatial_scale, SymInt pooled_height, "
        "SymInt pooled_width, int sampling_ratio, bool aligned) -> Tensor"
    )
    lib.impl("nms", greedy_nms, "CPU")
    # torchvision/_meta_registrations.py registers the nms/qnms fake (Meta) kernels itself.

    tv = importlib.import_module("torchvision")
    roi_mod = importlib.import_module("torchvision.ops.roi_align")
    meta_mod = importlib.import_module("torchvision._meta_registrations")
    eager_roi_align = roi_mod._roi_align.__wrapped__  # un-compiled pure-PyTorch reference

    def _roi_align_cpu(inp, rois, spatial_scale, ph, pw, sampling_ratio, aligned):
        return eager_roi_align(inp, rois, spatial_scale, ph, pw, sampling_ratio, aligned)

    lib.impl("roi_align", _roi_align_cpu, "CPU")
    lib.impl("roi_align", meta_mod.meta_roi_align, "Meta")

    ext = importlib.import_module("torchvision.extension")
    setattr(ext, "_has_ops", lambda: True)  # noqa: B010 - a private flag of torchvision's
    setattr(roi_mod, "_has_ops", ext._has_ops)  # noqa: B010
    msg = (
        "torchvision's compiled extension does not load with CPU torch; defined with "
        "torch.library: torchvision::nms (plain-PyTorch greedy NMS, CPU; Meta kernel from "
        "torchvision's own register_fake), torchvision::qnms (schema only, unused), "
        "torchvision::roi_align (CPU: torchvision's eager pure-PyTorch _roi_align; Meta: "
        "torchvision's meta_roi_align); torchvision.extension._has_ops patched to True."
    )
    return tv, msg


def build_on_meta(name: str) -> torch.nn.Module:
    """Return torchvision model ``name`` (``weights=None``, eval mode) built on the meta device.

    RegNet computes its block widths with torch ops and ``.tolist()`` in its constructor, which
    a meta tensor cannot do; those few numbers are computed on the CPU.
    """
    tv, _ = import_torchvision()
    regnet = importlib.import_module("torchvision.models.regnet")
    original = regnet.BlockParams.__dict__["from_init_params"]
    bound = regnet.BlockParams.from_init_params

    def on_cpu(*args: Any, **kwargs: Any) -> Any:
        with torch.device("cpu"):
            return bound(*args, **kwargs)

    regnet.BlockParams.from_init_params = on_cpu
    try:
        with torch.device("meta"), warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # GoogLeNet's init-weights notice
            return tv.models.get_model(name, weights=None).eval()
    finally:
        regnet.BlockParams.from_init_params = original
