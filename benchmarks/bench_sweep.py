"""Sweep throughput on resnet50 over >= 100,000 device variants (issue 4 target).

Targets (2-core machine): >= 3e7 op-evaluations/s and >= 2e5 whole-model evaluations/s.
Measures the totals-only evaluation (``roofline.totals``) for both placement policies and the
whole ``roofline.sweep`` call that builds the tidy table, on the unfused graph (174 ops, the
number torch's profiler would report) and the fused one (56 kernels). Also checks that a
million-point sweep runs in seconds. Run: ``python benchmarks/bench_sweep.py``.
"""

from __future__ import annotations

import sys
import time

import numpy as np

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from common import best_of, machine, report  # noqa: E402

import roofline as rl  # noqa: E402
from roofline.counting import count_graph  # noqa: E402
from roofline.knobs import vary  # noqa: E402
from roofline.totals import totals_direct, totals_ridge  # noqa: E402


def main() -> int:
    print(machine())
    hw = rl.load_hardware("a100_sxm4_80gb")
    model = rl.load_model("resnet50")
    knobs = {
        "memory.hbm.bandwidth": np.geomspace(0.2e12, 8e12, 400),
        "engines.matrix.peak.fp16": np.geomspace(50e12, 2e15, 250),
    }
    grid = vary(hw, knobs)  # 100,000 variants
    ok = True
    for fuse in (False, True):
        ct = count_graph(model.graph, [1], "fp16", fuse=fuse)
        n_ops = ct.n_ops
        tag = f"resnet50 {'fused' if fuse else 'unfused'} ({n_ops} ops)"
        # the target: the ridge path, O(log ops) per variant, where the policy allows it
        best, _ = best_of(lambda ct=ct: totals_ridge(ct, grid), 3)
        per_s = grid.size / best
        print(f"  {tag}, ridge path (single policy): {grid.size} variants in {best:.3f} s")
        ok &= report("    model-evals/s", per_s, 2e5, "/s", True)
        ok &= report("    op-evals/s", per_s * n_ops, 3e7, "/s", True)
        # for information: the direct path that any placement policy takes
        best, _ = best_of(
            lambda ct=ct: [
                totals_direct(ct, grid.take(slice(s, s + 4096)), "capacity")
                for s in range(0, grid.size, 4096)
            ],
            3,
        )
        per_s = grid.size / best
        print(
            f"  {tag}, direct path (capacity policy, information): "
            f"{per_s:.3g} model-evals/s, {per_s * n_ops:.3g} op-evals/s"
        )
    t = time.perf_counter()
    big = rl.sweep(
        "resnet50",
        hw,
        {
            "memory.hbm.bandwidth": np.geomspace(0.2e12, 8e12, 1000),
            "engines.matrix.peak.fp16": np.geomspace(50e12, 2e15, 1000),
        },
        dtype="fp16",
        policy="single",
    )
    dt = time.perf_counter() - t
    print(f"  rl.sweep, 1,000,000 points (tidy table included), single policy: {dt:.2f} s")
    t = time.perf_counter()
    rl.sweep(
        "resnet50",
        hw,
        {
            "memory.hbm.bandwidth": np.geomspace(0.2e12, 8e12, 1000),
            "memory.sram.capacity": np.geomspace(1e6, 256e6, 1000),
        },
        dtype="fp16",
    )
    dt2 = time.perf_counter() - t
    print(f"  rl.sweep, 1,000,000 points, capacity policy, 1000 capacities: {dt2:.2f} s")
    ok &= report("  million-point sweep (worst of the two)", max(dt, dt2), 10.0, "s", False)
    assert len(big) == 1_000_000
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
