"""Time fvcore's FlopCountAnalysis on torchvision's resnet50 on this machine (optional).

Needs torch 2.13 CPU, torchvision 0.28 (no deps) and fvcore; prints the best-of-3 seconds of
``FlopCountAnalysis(model, x).total()`` on a constructed resnet50 (model construction not timed),
the reference that bench_count.py compares against. Run: ``python benchmarks/bench_fvcore.py``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))


def main() -> int:
    try:
        import torch
        from fvcore.nn import FlopCountAnalysis
        from record_torchvision_reference import import_torchvision
    except ImportError as exc:
        print(f"skipped: {exc}")
        return 0
    tv, _ = import_torchvision()
    model = tv.models.resnet50().eval()
    x = torch.randn(1, 3, 224, 224)
    best = float("inf")
    with torch.no_grad():
        for _ in range(3):
            t = time.perf_counter()
            FlopCountAnalysis(model, x).unsupported_ops_warnings(False).total()
            best = min(best, time.perf_counter() - t)
    print(f"fvcore FlopCountAnalysis(resnet50).total(): {best:.3f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
