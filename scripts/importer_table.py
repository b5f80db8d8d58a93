#!/usr/bin/env python
"""Check the importers on every torchvision classification and video model; write the tables of
``docs/importers.md``.

For each model torchvision 0.28 lists (``torchvision.models`` and ``torchvision.models.video``),
built on the meta device with ``weights=None``:

* ``from_torch``: parameters against ``sum(p.numel())``; ``flops_mac`` against torch's
  ``FlopCounterMode`` over the same meta forward at batch 1 and 8 (pass: within 0.1%); the
  spec written by ``write_layers_spec`` and reloaded by ``load_model`` (no importer) against the
  imported model, every count column equal (round trip); ops with no mapping listed;
* every torchvision-named preset of the zoo against ``from_torch`` of the same torchvision
  model: params, ``flops_mac`` and bytes by tensor class at batch 1 and 64, exactly;
* ``from_onnx`` of models exported with ``torch.onnx.export`` (random weights so that no two
  parameters are equal, batch norms kept, dynamic batch) against ``from_torch``.

A failure is a row with its reason, never a dropped model. The section between the markers of
``docs/importers.md`` is rewritten; the rest of the page is written by hand.

Usage::

    python scripts/importer_table.py                  # everything (~5 min on 2 cores)
    python scripts/importer_table.py --models resnet18 vit_b_16 --no-onnx --stdout
"""

from __future__ import annotations

import argparse
import datetime
import platform
import sys
import tempfile
import time
import traceback
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

import roofline as rl
from roofline.counting import count_graph
from roofline.importers import UnmappedOpWarning, from_onnx, from_torch, write_layers_spec
from roofline.importers.torchvision_compat import build_on_meta, import_torchvision
from roofline.records import BATCHED, PER_OP

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "importers.md"
BEGIN, END = "<!-- BEGIN GENERATED -->", "<!-- END GENERATED -->"
TOLERANCE = 1e-3
#: count columns compared in the round trip (every column of a CostTable)
COLUMNS = (*BATCHED, *PER_OP, "live_act_bytes", "launches")
BYTE_COLUMNS = ("weight_bytes", "weight_read_bytes", "act_in_bytes", "act_out_bytes", "kv_bytes")
VIDEO_112 = ("r3d_18", "mc3_18", "r2plus1d_18")
VIDEO_224 = ("s3d", "mvit_v1_b", "mvit_v2_s", "swin3d_t", "swin3d_s", "swin3d_b")
ONNX_MODELS = (
    "alexnet",
    "convnext_tiny",
    "densenet121",
    "efficientnet_b0",
    "googlenet",
    "inception_v3",
    "maxvit_t",
    "mc3_18",
    "mnasnet1_0",
    "mobilenet_v2",
    "mobilenet_v3_large",
    "mobilenet_v3_small",
    "r2plus1d_18",
    "r3d_18",
    "regnet_x_400mf",
    "regnet_y_400mf",
    "resnet18",
    "resnet50",
    "resnext50_32x4d",
    "shufflenet_v2_x1_0",
    "squeezenet1_1",
    "swin_t",
    "vgg11",
    "vit_b_32",
    "wide_resnet50_2",
)
WSL = {f"resnext101_32x{w}d": w for w in (4, 16, 32, 48)}
_AUX = (
    "the auxiliary classifiers never run at inference: from_torch keeps their parameters "
    "(used: false, in params and footprint), the export drops them"
)
_TRANSPOSE = "ONNX materializes each Transpose (a copy) where torch reads a permuted view in place"
#: why an export's counts differ from from_torch's (checked by hand; see docs/importers.md)
ONNX_NOTES = {
    "googlenet": _AUX,
    "inception_v3": _AUX + "; the exporter also merges InceptionE's nested concatenations",
    "convnext_tiny": _TRANSPOSE + " (the permutes around each LayerNorm)",
    "vit_b_32": _TRANSPOSE + " (the heads split and merged in multi-head attention)",
    "swin_t": _TRANSPOSE + "; the bias table is read by a Gather (an embedding lookup here)",
    "maxvit_t": _TRANSPOSE + "; the bias table is read by a Gather (an embedding lookup here)",
}


def input_shape(name: str) -> tuple[int, ...]:
    """Per-sample input of a torchvision model (its weights' crop size; 16-frame clips)."""
    if name == "inception_v3":
        return (3, 299, 299)
    if name in VIDEO_112:
        return (3, 16, 112, 112)
    if name in VIDEO_224:
        return (3, 16, 224, 224)
    return (3, 224, 224)


def torch_flops(module: Any, shape: tuple[int, ...], batch: int) -> int:
    x = torch.empty(batch, *shape, device="meta")
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        module(x)
    return int(counter.get_total_flops())


def reason(exc: BaseException) -> str:
    return " ".join(f"{type(exc).__name__}: {exc}".split())[:160].replace("|", "/")


def round_trip(model: Any, folder: Path) -> str:
    """'yes', or the first column that differs after writing and reloading the spec."""
    path = write_layers_spec(model, folder / f"{model.name}.yaml")
    again = rl.load_model(str(path))
    a, b = count_graph(model.graph, [1, 8]), count_graph(again.graph, [1, 8])
    for col in COLUMNS:
        if not np.array_equal(getattr(a, col), getattr(b, col)):
            return f"no ({col})"
    return "yes"


def check_torch(name: str, folder: Path) -> dict[str, Any]:
    """One row of the torchvision table."""
    row: dict[str, Any] = {"model": name, "input": "x".join(map(str, input_shape(name)))}
    try:
        module = build_on_meta(name)
        t0 = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", UnmappedOpWarning)
            model = from_torch(module, (1, *input_shape(name)))
        row["seconds"] = time.perf_counter() - t0
        unmapped = [str(w.message).split(": ", 2)[-1] for w in caught]
        costs = rl.count(model, batch=[1, 8]).costs
        row["ops"] = len(model.graph.ops)
        row["params"] = int(costs.weight_elems.sum())
        row["torch_params"] = int(sum(p.numel() for p in module.parameters()))
        row["flops_mac"] = [float(v) for v in costs.flops_mac.sum(axis=0)]
        row["torch_flops"] = [torch_flops(module, input_shape(name), b) for b in (1, 8)]
        rel = max(abs(a - b) / b for a, b in zip(row["flops_mac"], row["torch_flops"]))
        row["rel"] = rel
        row["round_trip"] = round_trip(model, folder)
        row["unmapped"] = "; ".join(unmapped)
        same = row["params"] == row["torch_params"]
        ok = same and rel <= TOLERANCE and row["round_trip"] == "yes"
        row["result"] = "pass" if ok else "FAIL"
        if not ok:
            row["why"] = _why(row)
    except Exception as exc:  # noqa: BLE001 - every model gets a row with its reason
        row["result"] = "FAIL"
        row["why"] = reason(exc)
        traceback.print_exc()
    return row


def _why(row: dict[str, Any]) -> str:
    parts = []
    if row["params"] != row["torch_params"]:
        parts.append(f"params {row['params']:,} vs {row['torch_params']:,}")
    if row["rel"] > TOLERANCE:
        parts.append(f"flops_mac off by {row['rel']:.2%}")
    if row["round_trip"] != "yes":
        parts.append(f"round trip {row['round_trip']}")
    return "; ".join(parts)


def _module(tv: Any, name: str) -> Any:
    if name in WSL:
        resnet = tv.models.resnet
        with torch.device("meta"):
            return resnet.ResNet(
                resnet.Bottleneck, [3, 4, 23, 3], groups=32, width_per_group=WSL[name]
            ).eval()
    return build_on_meta(name)


def check_preset(tv: Any, name: str) -> dict[str, Any]:
    """One row of the preset table: which columns differ at batch 1 and 64."""
    row: dict[str, Any] = {"model": name}
    try:
        shape = input_shape(name)
        imported = rl.count(from_torch(_module(tv, name), (1, *shape)), batch=[1, 64]).costs
        preset = rl.count(name, batch=[1, 64]).costs
        diffs = []
        for col in ("weight_elems", "flops_mac", *BYTE_COLUMNS):
            a, b = getattr(imported, col).sum(axis=0), getattr(preset, col).sum(axis=0)
            if not np.array_equal(a, b):
                diffs.append(f"{col} {np.atleast_1d(a)[-1]:.6g} vs {np.atleast_1d(b)[-1]:.6g}")
        row["params"] = int(preset.weight_elems.sum())
        row["flops_mac"] = float(preset.flops_mac.sum(axis=0)[0])
        row["result"] = "equal" if not diffs else "DIFF"
        row["why"] = "; ".join(diffs)
    except Exception as exc:  # noqa: BLE001
        row["result"], row["why"] = "FAIL", reason(exc)
    return row


def check_onnx(tv: Any, name: str, folder: Path) -> dict[str, Any]:
    """Export ``name`` with torch.onnx.export, import it, compare with from_torch."""
    row: dict[str, Any] = {"model": name}
    try:
        torch.manual_seed(0)
        module = tv.models.get_model(name, weights=None).eval()
        with torch.no_grad():
            for p in module.parameters():  # no two equal parameters for the exporter to merge
                p.normal_(0.0, 0.02)
        path = folder / f"{name}.onnx"
        with warnings.catch_warnings(), torch.enable_grad():  # no fused attention fast path
            warnings.simplefilter("ignore")
            torch.onnx.export(
                module,
                (torch.randn(1, *input_shape(name)),),
                str(path),
                dynamo=False,
                input_names=["x"],
                dynamic_axes={"x": {0: "batch"}},
                training=torch.onnx.TrainingMode.PRESERVE,
                do_constant_folding=False,
            )
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UnmappedOpWarning)
            model = from_onnx(path)
        row["seconds"] = time.perf_counter() - t0
        ref = rl.count(from_torch(build_on_meta(name), (1, *input_shape(name))), [1, 8]).costs
        got = rl.count(model, [1, 8]).costs
        row["round_trip"] = round_trip(model, folder)
        equal = {}
        for col in ("weight_elems", "flops_mac", *BYTE_COLUMNS):
            a, b = getattr(got, col).sum(axis=0), getattr(ref, col).sum(axis=0)
            equal[col] = bool(np.allclose(a, b, rtol=1e-12, atol=0))
            if not equal[col]:
                row.setdefault("diffs", []).append(
                    f"{col} {float(np.atleast_1d(a)[0]) / float(np.atleast_1d(b)[0]) - 1:+.2%}"
                )
        row["params_flops"] = "equal" if equal["weight_elems"] and equal["flops_mac"] else "DIFF"
        row["bytes"] = "equal" if all(equal[c] for c in BYTE_COLUMNS) else "differ"
    except Exception as exc:  # noqa: BLE001
        row["params_flops"], row["bytes"], row["diffs"] = "FAIL", "-", [reason(exc)]
        traceback.print_exc()
    return row


# -- markdown --------------------------------------------------------------------------------
def _g(v: float) -> str:
    return f"{v / 1e9:.4g}"


def render(rows: list[dict], presets: list[dict], onnx_rows: list[dict], meta: dict) -> str:
    passed = sum(r["result"] == "pass" for r in rows)
    lines = [
        BEGIN,
        "<!-- generated by scripts/importer_table.py; edit the script, then run it -->",
        "",
        f"Run {meta['date']}: torch {meta['torch']}, torchvision {meta['torchvision']}, onnx "
        f"{meta['onnx']}, Python {meta['python']}, `uptime` load {meta['load']}.",
        "",
        "### Every torchvision classification and video model through `from_torch`",
        "",
        f"**{passed} of {len(rows)} pass**: params equal `sum(p.numel())` exactly, `flops_mac` "
        "equals torch's `FlopCounterMode` over the same meta forward at batch 1 and 8 (within "
        "0.1%), and the written spec reloads with every count column identical. GFLOPs are "
        "2 x GMACs at batch 1; `s` is the import time on this host.",
        "",
        "| model | input | result | ops | params | torch params | GFLOPs (ours) | GFLOPs "
        "(torch) | max rel. diff b1/b8 | round trip | s | unmapped ops (share of bytes) / why |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | --- |",
    ]
    for r in rows:
        if "params" not in r:
            lines.append(
                f"| {r['model']} | {r['input']} | {r['result']} | | | | | | | | | "
                f"{r.get('why', '')} |"
            )
            continue
        note = r.get("why") or r.get("unmapped") or ""
        lines.append(
            f"| {r['model']} | {r['input']} | {r['result']} | {r['ops']} | {r['params']:,} | "
            f"{r['torch_params']:,} | {_g(r['flops_mac'][0])} | {_g(r['torch_flops'][0])} | "
            f"{r['rel']:.1e} | {r['round_trip']} | {r['seconds']:.2f} | {note} |"
        )
    equal = sum(r["result"] == "equal" for r in presets)
    lines += [
        "",
        "### The zoo's torchvision-named presets against `from_torch`",
        "",
        f"**{equal} of {len(presets)} equal** on params, `flops_mac` and bytes by tensor class "
        "(weights, weight traffic, activations in and out, KV) at batch 1 and 64, unfused: the "
        "family builders and the importer check each other.",
        "",
        "| preset | result | params | GFLOPs | difference |",
        "| --- | --- | ---: | ---: | --- |",
    ]
    for r in presets:
        lines.append(
            f"| {r['model']} | {r['result']} | {r.get('params', 0):,} | "
            f"{_g(r.get('flops_mac', 0))} | {r.get('why', '')} |"
        )
    if onnx_rows:
        same = sum(r["params_flops"] == "equal" for r in onnx_rows)
        lines += [
            "",
            "### `torch.onnx.export` then `from_onnx`, against `from_torch`",
            "",
            f"**{same} of {len(onnx_rows)} equal on params and `flops_mac`** at batch 1 and 8. "
            "Exported with `dynamo=False`, `training=TrainingMode.PRESERVE` (batch norms kept; "
            "EVAL folds them into the convolutions), `dynamic_axes={'x': {0: 'batch'}}`, "
            "`do_constant_folding=False` (folding turns a gathered relative-position bias table "
            "into a constant of another size), random weights. The last column says why a "
            "count differs.",
            "",
            "| model | params and flops_mac | bytes by class | round trip | import s | "
            "differences (ONNX vs torch, batch 1) | why |",
            "| --- | --- | --- | --- | ---: | --- | --- |",
        ]
        for r in onnx_rows:
            why = ONNX_NOTES.get(r["model"], "") if r.get("diffs") else ""
            lines.append(
                f"| {r['model']} | {r['params_flops']} | {r['bytes']} | "
                f"{r.get('round_trip', '-')} | {r.get('seconds', 0):.2f} | "
                f"{'; '.join(r.get('diffs', []))} | {why} |"
            )
    lines += ["", END]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", help="only these torchvision models")
    parser.add_argument("--no-onnx", action="store_true", help="skip the ONNX exports")
    parser.add_argument("--no-presets", action="store_true", help="skip the preset table")
    parser.add_argument("--stdout", action="store_true", help="print instead of writing the doc")
    args = parser.parse_args(argv)
    torch.set_grad_enabled(False)
    tv, _ = import_torchvision()
    import onnx

    names = args.models or (
        tv.models.list_models(module=tv.models) + tv.models.list_models(module=tv.models.video)
    )
    rows, presets, onnx_rows = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for name in names:
            rows.append(check_torch(name, folder))
            r = rows[-1]
            print(f"{name:24s} {r['result']:5s} {r.get('why', '')}", flush=True)
        if not args.no_presets:
            video = ("r3d_18", "mc3_18", "r2plus1d_18")
            prefixes = ("resnet", "resnext", "wide_resnet", "shufflenet_v2", "mobilenet_v2", "vgg")
            for name in rl.list_models():
                if (name.startswith(prefixes) and name != "resnext3d_101") or name in video:
                    presets.append(check_preset(tv, name))
                    print(f"preset {name:24s} {presets[-1]['result']}", flush=True)
        if not args.no_onnx:
            for name in (
                ONNX_MODELS if not args.models else [m for m in args.models if m in ONNX_MODELS]
            ):
                onnx_rows.append(check_onnx(tv, name, folder))
                r = onnx_rows[-1]
                print(f"onnx {name:24s} {r['params_flops']} {r['bytes']}", flush=True)
    with open("/proc/loadavg") as fh:
        load = " ".join(fh.read().split()[:3])
    meta = {
        "date": datetime.date.today().isoformat(),
        "torch": torch.__version__,
        "torchvision": tv.__version__,
        "onnx": onnx.__version__,
        "python": platform.python_version(),
        "load": load,
    }
    section = render(rows, presets, onnx_rows, meta)
    if args.stdout:
        sys.stdout.write(section)
        return 0
    text = DOC.read_text(encoding="utf-8") if DOC.exists() else ""
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        text = text.rstrip("\n") + "\n\n" + section
    else:
        text = text[:start] + section + text[end + len(END) :].lstrip("\n")
    DOC.write_text(text, encoding="utf-8")
    print(f"wrote {DOC.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
