"""Whole models for ``roofline validate``, measured end to end with torch (CPU, fp32, eval mode,
``torch.inference_mode``, random weights) and predicted with the zoo's presets:

* ``resnet50``: torchvision's ResNet-50 at batch 1 and 8;
* ``dlrm_rm2``: the DLRM of ``model_specs/dlrm_rm2.yaml``, built in torch from the preset's own
  parameters (bottom MLP, one ``EmbeddingBag`` per table, interaction, top MLP with sigmoid) at
  batch 1 and 64, with random lookup indices.

Eager PyTorch runs every module as its own kernel (no batch-norm folding, no fused epilogues), so
the prediction is evaluated with ``fuse=False``; the fused prediction is reported beside it.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from typing import Any

from roofline.api import evaluate_device as evaluate
from roofline.families.dlrm import DLRMParams
from roofline.fidelity.machine import Progress, available_memory, index_sets, torch_module
from roofline.fidelity.timing import measure
from roofline.hardware import Hardware
from roofline.presets import load_model

_LIBS: list[Any] = []  # torch.library objects must outlive the import


def import_torchvision(torch: Any) -> Any:
    """Import torchvision; with the CPU-only torch wheel its compiled operators are missing, so
    their schemas are defined first (as ``scripts/record_torchvision_reference.py`` explains).
    None of them runs in a classification model."""
    if "torchvision" in sys.modules:
        return sys.modules["torchvision"]
    try:
        torch.ops.torchvision.nms  # noqa: B018 - probing for the compiled extension
    except (AttributeError, RuntimeError):
        lib = torch.library.Library("torchvision", "DEF")
        _LIBS.append(lib)
        lib.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
        lib.define("qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
        lib.define(
            "roi_align(Tensor input, Tensor rois, float spatial_scale, SymInt "
            "pooled_height, SymInt pooled_width, int sampling_ratio, bool aligned) "
            "-> Tensor"
        )
    return importlib.import_module("torchvision")


def resnet50(torch: Any) -> Callable[[int], Callable[[], Any]]:
    """A runner factory: batch -> call of torchvision's resnet50 on a random batch."""
    tv = import_torchvision(torch)
    torch.manual_seed(0)
    net = tv.models.resnet50().eval()

    def at(batch: int) -> Callable[[], Any]:
        x = torch.randn(batch, 3, 224, 224)

        def run() -> None:
            with torch.inference_mode():
                net(x)

        return run

    return at


def dlrm(torch: Any, preset: str = "dlrm_rm2") -> Callable[[int], Callable[[], Any]]:
    """A runner factory for the DLRM preset ``preset`` built in torch from its parameters."""
    p = load_model(preset).params
    if not isinstance(p, DLRMParams):
        raise ValueError(f"{preset} is not a DLRM")
    if p.cross_layers:
        raise ValueError("cross layers are not built here")
    nn = torch.nn
    tables = [g for g in p.tables for _ in range(g.count)]
    need = sum(4.0 * g.rows * g.dim for g in tables)
    if need > available_memory() / 2:
        raise MemoryError(f"needs {need / 1e9:.1f} GB of tables, more than half the free memory")

    def mlp(n_in: int, sizes: tuple[int, ...], last: Any) -> Any:
        layers = []
        for i, n in enumerate(sizes):
            layers += [nn.Linear(n_in, n), last if i == len(sizes) - 1 else nn.ReLU()]
            n_in = n
        return nn.Sequential(*layers)

    torch.manual_seed(0)
    bottom = mlp(p.dense_features, p.bottom_mlp, nn.ReLU()).eval()
    bags = [
        nn.EmbeddingBag(
            g.rows,
            g.dim,
            mode=g.mode if g.mode != "weighted_sum" else "sum",
            _weight=torch.full((g.rows, g.dim), 0.01),
        )
        for g in tables
    ]
    f, d = len(tables) + 1, p.bottom_mlp[-1]
    top_in = f * d if p.interaction == "cat" else d + f * (f - 1) // 2
    top = mlp(top_in, p.top_mlp, nn.Sigmoid()).eval()
    li, lj = torch.tril_indices(f, f, offset=-1)

    def forward(dense: Any, idx: list[Any], offsets: list[Any]) -> Any:
        x = bottom(dense)
        pooled = [bag(i, o) for bag, i, o in zip(bags, idx, offsets)]
        if p.interaction == "cat":
            z = torch.cat([x, *pooled], dim=1)
        else:
            t = torch.stack([x, *pooled], dim=1)
            z = torch.cat([x, torch.bmm(t, t.transpose(1, 2))[:, li, lj]], dim=1)
        return top(z)

    def at(batch: int) -> Callable[[], Any]:
        gen = torch.Generator().manual_seed(batch)
        dense = torch.randn(batch, p.dense_features, generator=gen)
        pfs = [max(1, round(g.pooling_factor)) for g in tables]
        # fresh rows each call: repeated indices would be served by the caches
        fresh = [
            index_sets(g.rows, batch * pf, 4.0 * g.rows * g.dim, seed=k)
            for k, (g, pf) in enumerate(zip(tables, pfs))
        ]
        offsets = [torch.arange(0, batch * pf, pf) for pf in pfs]

        def run() -> None:
            idx = [torch.from_numpy(f()) for f in fresh]
            with torch.inference_mode():
                forward(dense, idx, offsets)

        return run

    return at


#: the whole models measured, with their batches
MODELS = (("resnet50", (1, 8)), ("dlrm_rm2", (1, 64)))


def measure_models(
    hw: Hardware, say: Progress, clock: str = "wall"
) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    """Measure and predict each whole model at its batches (fp32, as torch runs them); return
    the rows and the models skipped, each with the reason (no torchvision, not enough memory),
    also said as a progress line."""
    torch = torch_module()
    rows: list[dict[str, Any]] = []
    skipped: list[dict[str, str]] = []
    factories = {"resnet50": resnet50, "dlrm_rm2": dlrm}
    for name, batches in MODELS:
        try:
            runner = factories[name](torch)
        except (ImportError, MemoryError, ValueError, RuntimeError) as exc:
            say(f"skipping {name}: {exc}")
            skipped.append({"name": f"model {name}", "reason": str(exc)})
            continue
        pred = evaluate(name, hw, batch=list(batches), dtype="fp32", fuse=False)
        fused = evaluate(name, hw, batch=list(batches), dtype="fp32", fuse=True)
        for j, b in enumerate(batches):
            meas = measure(runner(b), quick=False, clock=clock)
            row: dict[str, Any] = {
                "model": name,
                "batch": b,
                **meas,
                "predicted_s": float(pred.latency_s[0, j]),
                "ideal_s": float(pred.ideal_latency_s[0, j]),
                "predicted_fused_s": float(fused.latency_s[0, j]),
                "bound": str(pred.dominant_bound()[0, j]),
                "ops": len(pred.costs.names),
            }
            row["ratio"] = row["measured_s"] / row["predicted_s"]
            row["ratio_ideal"] = row["measured_s"] / row["ideal_s"]
            row["ratio_fused"] = row["measured_s"] / row["predicted_fused_s"]
            rows.append(row)
            say(
                f"[model] {name} batch {b}: measured {row['measured_s'] * 1e3:.3g} ms, "
                f"predicted {row['predicted_s'] * 1e3:.3g} ms (x{row['ratio']:.2f})"
            )
        del runner
    return rows, skipped
