"""Time the importers against the tools they replace, side by side in one run.

* ``from_torch(resnet50)`` on the meta device against torch's own ``FlopCounterMode`` over the
  same meta forward (target: ratio <= 1), the two interleaved so that host load hits both;
* ``from_onnx(resnet50.onnx)`` (exported here with random weights, 98 MB) against 0.114 s,
  onnx-tool's ``model_profile`` on this machine class, or onnx-tool itself if it is installed.

Prints best and median of several runs, the ratios and the host load (``uptime``) before and
after. Needs torch 2.13 (CPU), torchvision 0.28 (no deps) and onnx. Run:
``python benchmarks/bench_importers.py``.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import machine, report  # noqa: E402

ONNX_TOOL_SECONDS = 0.114
ROUNDS = 9


def _uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    except OSError:
        return f"load average {os.getloadavg()}"


def interleaved(fns: dict[str, Callable[[], object]], rounds: int) -> dict[str, list[float]]:
    """Seconds of each function, run in turn ``rounds`` times (after one warm-up each)."""
    times: dict[str, list[float]] = {k: [] for k in fns}
    for fn in fns.values():
        fn()
    for _ in range(rounds):
        for key, fn in fns.items():
            t = time.perf_counter()
            fn()
            times[key].append(time.perf_counter() - t)
    return times


def main() -> int:
    try:
        import onnx  # noqa: F401
        import torch
        from torch.utils.flop_counter import FlopCounterMode

        from roofline.importers import from_onnx, from_torch
        from roofline.importers.torchvision_compat import build_on_meta, import_torchvision
    except ImportError as exc:
        print(f"skipped: {exc}")
        return 0
    print(machine())
    print(f"uptime before: {_uptime()}")
    torch.set_grad_enabled(False)
    module = build_on_meta("resnet50")
    x = torch.empty(1, 3, 224, 224, device="meta")

    def counter() -> object:
        with FlopCounterMode(display=False) as c:
            module(x)
        return c.get_total_flops()

    t = interleaved(
        {"from_torch": lambda: from_torch(module, x), "FlopCounterMode": counter}, ROUNDS
    )
    ours, theirs = statistics.median(t["from_torch"]), statistics.median(t["FlopCounterMode"])
    print(
        f"resnet50 on meta: from_torch best {min(t['from_torch']):.4f} s median {ours:.4f} s; "
        f"FlopCounterMode best {min(t['FlopCounterMode']):.4f} s median {theirs:.4f} s"
    )
    ok = report("from_torch / FlopCounterMode (medians)", ours / theirs, 1.0, "x", False)

    tv, _ = import_torchvision()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "resnet50.onnx"
        cpu = tv.models.resnet50().eval()
        with warnings.catch_warnings(), torch.enable_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                cpu,
                (torch.randn(1, 3, 224, 224),),
                str(path),
                dynamo=False,
                input_names=["x"],
                dynamic_axes={"x": {0: "batch"}},
                training=torch.onnx.TrainingMode.PRESERVE,
            )
        del cpu
        size = path.stat().st_size / 1e6
        fns: dict[str, Callable[[], object]] = {"from_onnx": lambda: from_onnx(path)}
        try:
            from onnx_tool import model_profile  # type: ignore[import-not-found]

            fns["onnx_tool.model_profile"] = lambda: model_profile(str(path))
        except ImportError:
            pass
        t = interleaved(fns, ROUNDS)
        best, median = min(t["from_onnx"]), statistics.median(t["from_onnx"])
        print(f"from_onnx(resnet50.onnx, {size:.0f} MB): best {best:.4f} s median {median:.4f} s")
        target = ONNX_TOOL_SECONDS
        if "onnx_tool.model_profile" in t:
            target = statistics.median(t["onnx_tool.model_profile"])
            print(f"onnx-tool model_profile measured in this run: median {target:.4f} s")
        ok &= report("from_onnx(resnet50.onnx) median", median, target, "s", False)
        print(f"from_onnx / onnx-tool: {median / target:.2f}")
    print(f"uptime after: {_uptime()}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
