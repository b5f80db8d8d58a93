"""Scale (issue 17): streamed sweeps, a Dask cluster, cost linear in model size, side by side.

Targets (2-core machine, shared: the load average is printed before and after each part):

1. A resnet50 sweep streamed to Parquet with client peak RSS < 1 GB whatever the point count
   (1e6, 1e7 and ``--max-points``, default 1e8; ``--max-points 1e9`` runs the full target:
   ~34 GB of disk and the better part of an hour here); the other sinks beside it, and 1e8 points
   with the default sink (no ``out``: the table goes to disk past the memory budget) < 1.5 GB.
2. A Dask LocalCluster of 2 workers >= 1.6x faster than serial on ``--max-points`` points, first
   result < 0.5 s (the serial run of part 1 is the baseline).
3. Growth exponent <= 1.1 from 68 to 10,000 ops for count, evaluate and sweep per point
   (synthetic ``layers`` specs: linear + ReLU pairs).
4. 10,000 distinct DLRM tables: capacity sweep per point <= 10x the ``single`` policy.
5. Op-evaluations/s of the capacity sweep on resnet50 >= 1e8.

Every sweep measurement runs in a fresh process (its peak RSS is its own). Run:
``python benchmarks/bench_scale.py [--max-points 1e8] [--quick]``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from common import best_of, machine, report  # noqa: E402

import roofline as rl  # noqa: E402
from roofline.counting import count_graph  # noqa: E402
from roofline.distributed import keep_freed_memory  # noqa: E402
from roofline.knobs import grid_of, knob_space  # noqa: E402
from roofline.model import build_model  # noqa: E402
from roofline.sweep_plan import chunk_totals, plan_sweep  # noqa: E402
from roofline.sweeps import Progress  # noqa: E402

HW = "a100_sxm4_80gb"


def load() -> str:
    """The 1-minute load average (the machine is shared)."""
    return f"load average {os.getloadavg()[0]:.2f}"


def resnet_knobs(n: int) -> dict[str, np.ndarray]:
    """About ``n`` points: on-chip capacity x fp16 peak x HBM bandwidth (fastest varying)."""
    side = max(1, round(n ** (1 / 3)))
    return {
        "memory.sram.capacity": np.geomspace(1e6, 1e9, side),
        "engines.matrix.peak.fp16": np.geomspace(5e13, 2e15, side),
        "memory.hbm.bandwidth": np.geomspace(2e11, 8e12, max(1, n // side // side)),
    }


def child(spec: dict) -> dict:
    """One sweep in this (fresh) process: wall time, rate, first result, peak RSS."""
    knobs = resnet_knobs(int(spec["points"]))
    points = math.prod(len(v) for v in knobs.values())
    out: object = spec.get("out")
    if spec["sink"] == "memory":
        out = None
    elif spec["sink"] == "discard":
        out = lambda chunk: None  # noqa: E731
    if spec["sink"] == "cli-csv":
        argv = ["sweep", "resnet50", "--hw", HW, "--dtype", "fp16", "--format", "csv", "-q"]
        argv += [f"--vary={k}={','.join(repr(float(x)) for x in v)}" for k, v in knobs.items()]
        from roofline.cli.main import main

        stdout, sys.stdout = sys.stdout, open(os.devnull, "w")  # noqa: SIM115
        start = time.perf_counter()
        try:
            main(argv)
        finally:
            sys.stdout.close()
            sys.stdout = stdout
        wall, first, start_s = time.perf_counter() - start, float("nan"), 0.0
    else:
        bar = Progress(points, stream=open(os.devnull, "w"))  # noqa: SIM115
        start = time.perf_counter()
        try:
            table = rl.sweep("resnet50", HW, knobs, dtype="fp16", out=out, progress=bar,
                     workers=spec.get("workers"), memory_budget=spec.get("budget"))  # fmt: skip
        except rl.SpecError as exc:
            return {"refused": str(exc), "seconds": time.perf_counter() - start}
        wall = time.perf_counter() - start
        first, start_s = bar.first or float("nan"), bar.start - start
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    read: dict = {}
    if spec["sink"] == "memory":  # the table is usable: read one column whole
        begin = time.perf_counter()
        fastest = float(np.nanmin(table.column("latency_s")))
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        read = {"read_s": time.perf_counter() - begin, "fastest_s": fastest, "rss_read_mb": peak}
    size = 0
    if spec.get("out") and os.path.isdir(spec["out"]):
        size = sum(e.stat().st_size for e in os.scandir(spec["out"]))
    return {
        "points": points,
        "wall_s": wall,
        "startup_s": start_s,
        "rate": points / max(wall - start_s, 1e-9),
        "first_s": first,
        "rss_mb": rss_mb,
        "disk_bytes": size,
        **read,
    }


def run_child(spec: dict) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", json.dumps(spec)],
        capture_output=True,
        text=True,
    )
    if out.returncode:
        raise RuntimeError(out.stderr[-2000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def streaming(max_points: float, quick: bool) -> tuple[bool, dict]:
    print(f"== 1. streamed sweeps: client peak RSS by point count ({load()})")
    ok = True
    tmp = tempfile.mkdtemp(prefix="bench_scale.")
    sizes = [1e6, 1e7, max_points] if not quick else [1e5, 1e6]
    serial = {}
    try:
        for n in dict.fromkeys(sizes):
            r = run_child({"points": n, "sink": "parquet", "out": f"{tmp}/s.parquet"})
            shutil.rmtree(f"{tmp}/s.parquet", ignore_errors=True)
            print(
                f"  parquet {r['points']:.0e} points: {r['wall_s']:.1f} s, {r['rate']:.3g} "
                f"points/s, first result {r['first_s']:.2f} s, peak RSS {r['rss_mb']:.0f} MB, "
                f"{r['disk_bytes'] / r['points']:.1f} B/point on disk ({load()})"
            )
            serial[n] = r
        top = serial[sizes[-1]]
        ok &= report(f"  client peak RSS at {sizes[-1]:.0e} points", top["rss_mb"], 1024, "MB",
                     False)  # fmt: skip
        growth = top["rss_mb"] / serial[sizes[0]]["rss_mb"]
        print(f"  RSS at {sizes[-1]:.0e} / RSS at {sizes[0]:.0e} points: {growth:.2f}x (flat)")
        print("  the other sinks:")
        for n, sink in ((1e6, "memory"), (1e7, "memory"), (1e6, "cli-csv"), (1e7, "discard")):
            if quick and n > 1e6:
                continue
            r = run_child({"points": n, "sink": sink})
            print(
                f"    {sink} {r['points']:.0e} points: {r['wall_s']:.1f} s, peak RSS "
                f"{r['rss_mb']:.0f} MB"
            )
        n = max(max_points, 1e8) if not quick else 1e6
        r = run_child({"points": n, "sink": "memory", "budget": None if not quick else "10 MB"})
        print(f"    memory {n:.0e} points (over the budget: on disk): {r['wall_s']:.1f} s, "
              f"{r['rate']:.3g} points/s, peak RSS {r['rss_mb']:.0f} MB; reading its latency "
              f"column whole {r['read_s']:.1f} s, peak RSS then {r['rss_read_mb']:.0f} MB "
              f"({load()})")  # fmt: skip
        ok &= report(f"  default sink, peak RSS at {n:.0e} points", r["rss_mb"], 1536, "MB", False)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return ok, serial


def spin(_: object = None) -> float:
    """Seconds of a fixed pure-Python loop (no memory traffic)."""
    start = time.perf_counter()
    total = 0
    for i in range(5_000_000):
        total += i
    return time.perf_counter() - start


def headroom() -> float:
    """How much faster two processes run two loops than one runs one after the other: what the
    host leaves for parallelism now (2.0 on an idle 2-core machine)."""
    from concurrent.futures import ProcessPoolExecutor

    one = spin()
    with ProcessPoolExecutor(2) as ex:
        list(ex.map(spin, [0, 0]))  # start the processes
        start = time.perf_counter()
        list(ex.map(spin, [0, 1]))
        two = time.perf_counter() - start
    return 2 * one / two


def dask_vs_serial(max_points: float, serial: dict) -> bool:
    print(f"== 2. Dask LocalCluster of 2 workers against serial ({load()})")
    print(f"  parallel headroom of the host now: {headroom():.2f}x (2 processes vs 1)")
    tmp = tempfile.mkdtemp(prefix="bench_scale.")
    try:
        n = max(serial)
        d = run_child({"points": n, "sink": "parquet", "out": f"{tmp}/d.parquet", "workers": 2})
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    s = serial[n]
    print(f"  parallel headroom of the host after: {headroom():.2f}x")
    print(
        f"  serial {n:.0e}: {s['wall_s']:.1f} s; 2 workers: {d['wall_s']:.1f} s of which "
        f"{d['startup_s']:.1f} s starting the cluster; client RSS {d['rss_mb']:.0f} MB ({load()})"
    )
    ok = report("  speedup, cluster running (rate ratio)", d["rate"] / s["rate"], 1.6, "x", True)
    report("  speedup, wall including cluster start", s["wall_s"] / d["wall_s"], 1.6, "x", True)
    ok &= report("  first result, 2 workers", d["first_s"], 0.5, "s", False)
    ok &= report("  first result, serial", s["first_s"], 0.5, "s", False)
    return ok


def layers_spec(n_ops: int) -> dict:
    """A chain of ``n_ops`` ops: linear (256 features) and ReLU in turn."""
    ops = [
        {"kind": "linear", "name": f"fc{i}", "out_features": 256}
        if i % 2 == 0
        else {"kind": "activation", "name": f"act{i}", "function": "relu"}
        for i in range(n_ops)
    ]
    return {
        "name": f"synthetic_{n_ops}",
        "family": "layers",
        "source": "benchmarks/bench_scale.py (synthetic)",
        "params": {"inputs": {"x": [256]}, "ops": ops},
    }


def per_point(model: object, knobs: dict, policy: str) -> float:
    """Seconds per point of a sweep whose rows are discarded (counting included)."""
    n = math.prod(len(v) for v in knobs.values())
    t = time.perf_counter()
    rl.sweep(model, HW, knobs, dtype="fp16", policy=policy, out=lambda c: None)
    return (time.perf_counter() - t) / n


def growth(quick: bool) -> bool:
    print(f"== 3. cost against model size, 68 to 10,000 ops ({load()})")
    sizes = [68, 250, 1000, 2500, 10000] if not quick else [68, 1000]
    knobs = {
        "engines.matrix.peak.fp16": np.geomspace(5e13, 2e15, 50),
        "memory.hbm.bandwidth": np.geomspace(2e11, 8e12, 400),
    }
    rows = []
    for n in sizes:
        model = build_model(layers_spec(n), file="<bench>")
        c, _ = best_of(lambda m=model: count_graph(m.graph, [1, 8], "fp16"), 3)
        e, _ = best_of(lambda m=model: rl.evaluate(m, HW, batch=[1, 8], dtype="fp16"), 3)
        cap = per_point(model, knobs, "capacity")
        single = per_point(model, knobs, "single")
        rows.append((n, c, e, cap, single))
        print(
            f"  {n:6d} ops: count {c * 1e3:8.2f} ms, evaluate {e * 1e3:8.2f} ms, sweep per point "
            f"{cap * 1e6:7.2f} us capacity, {single * 1e6:7.2f} us single"
        )
    ok = True
    for k, name in enumerate(("count", "evaluate", "sweep per point (capacity)",
                              "sweep per point (single)"), start=1):  # fmt: skip
        x = np.log([r[0] for r in rows])
        y = np.log([r[k] for r in rows])
        ends = (y[-1] - y[0]) / (x[-1] - x[0])
        fit = np.polyfit(x, y, 1)[0]
        ok &= report(f"  growth exponent, {name} (end to end)", ends, 1.1, "", False)
        print(f"    least-squares slope over all sizes: {fit:.3f}")
    return ok


def dlrm_spec(n_tables: int) -> dict:
    """A DLRM with ``n_tables`` distinct tables (rows 1e3..5e6, dim 64, pooling 1..20)."""
    rng = np.random.default_rng(0)
    tables = [
        {"rows": int(r), "dim": 64, "pooling_factor": float(1 + i % 20)}
        for i, r in enumerate(rng.integers(1000, 5_000_000, n_tables))
    ]
    return {
        "name": f"dlrm_{n_tables}_tables",
        "family": "dlrm",
        "source": "benchmarks/bench_scale.py (synthetic)",
        "params": {
            "dense_features": 13,
            "bottom_mlp": [512, 256, 64],
            "tables": tables,
            "top_mlp": [512, 256, 1],
        },
    }


def dlrm(quick: bool) -> bool:
    n = 10000 if not quick else 1000
    print(f"== 4. DLRM with {n:,} distinct tables ({load()})")
    t = time.perf_counter()
    model = build_model(dlrm_spec(n), file="<bench>")
    print(f"  build {time.perf_counter() - t:.2f} s")
    e, _ = best_of(lambda: rl.evaluate(model, HW, batch=64, dtype="fp16"), 3)
    print(f"  evaluate (capacity placement of every table): {e:.3f} s")
    knobs = {
        "memory.sram.capacity": np.geomspace(1e6, 1e9, 20),
        "memory.hbm.bandwidth": np.geomspace(2e11, 8e12, 500),
    }
    per_point(model, {"memory.hbm.bandwidth": [1e12]}, "single")  # count once, warm
    cap = min(per_point(model, knobs, "capacity") for _ in range(2))
    single = min(per_point(model, knobs, "single") for _ in range(2))
    print(
        f"  sweep of 20 on-chip capacities x 500 bandwidths: {cap * 1e6:.1f} us per point "
        f"(capacity), {single * 1e6:.1f} us (single)"
    )
    return report("  capacity / single per point", cap / single, 10.0, "x", False)


def op_rate() -> bool:
    print(f"== 5. capacity sweep on resnet50, op-evaluations/s ({load()})")
    keep_freed_memory()  # as rl.sweep does before computing chunks in its own process
    hw = rl.load_hardware(HW)
    knobs = {
        "memory.hbm.bandwidth": np.geomspace(0.2e12, 8e12, 400),
        "engines.matrix.peak.fp16": np.geomspace(50e12, 2e15, 250),
    }
    space = knob_space(hw, knobs)
    ok = True
    for fuse in (True, False):
        plan = plan_sweep(
            [rl.load_model("resnet50")], hw, space, np.array([1.0]), ["fp16"], "capacity", fuse
        )
        job = plan.jobs[0]
        chunks = [c for t in plan.tasks() for c in t.chunks(1)]

        def run(plan=plan, job=job, chunks=chunks) -> None:
            for c in chunks:
                chunk_totals(plan, job, c)

        best, _ = best_of(run, 3)
        ops = job.costs.n_ops
        rate = space.size * ops / best
        path = "lines" if job.varying is not None else "direct"
        print(f"  {'fused' if fuse else 'unfused'} ({ops} ops), {space.size:,} variants in "
              f"{best:.3f} s ({path} path, chunks of {job.chunk})")  # fmt: skip
        ok &= report("    op-evaluations/s", rate, 1e8, "/s", True)
    grid_s, _ = best_of(lambda: grid_of(hw, space.columns(0, job.chunk)), 3)
    print(f"  (building a {job.chunk}-variant chunk's grid: {grid_s * 1e3:.1f} ms, counted above)")
    t = per_point("resnet50", resnet_knobs(10**6), "capacity")
    print(f"  rl.sweep, 1e6 points, rows made and discarded: {1 / t:.3g} points/s")
    return ok


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--max-points", type=float, default=1e8)
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(json.loads(args.child))))
        return 0
    print(machine())
    print(subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())
    max_points = 1e6 if args.quick else args.max_points
    ok, serial = streaming(max_points, args.quick)
    ok &= dask_vs_serial(max_points, serial)
    ok &= growth(args.quick)
    ok &= dlrm(args.quick)
    ok &= op_rate()
    print(subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
