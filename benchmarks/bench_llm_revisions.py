"""Issues 12 and 13's speed lines for this tree and for another revision, side by side.

Each round runs the same measurement in a fresh process for the revision, then for this tree
(the revision checked out in a temporary git worktree); the best of the rounds is kept for each,
and the ratio printed. Alternating in one run is what makes the ratio worth quoting on a shared
machine: both sides see the same load.

Run: ``python benchmarks/bench_llm_revisions.py REV [--rounds 3]`` (REV: a commit, e.g. the
main of the last stop). The lines are those of ``benchmarks/bench_llm.py``: the llama2_7b grid
and one generate point on h100_sxm5, and llama2_70b on 32 GPUs over tp x pp and tp x cp; and
the function calls of one point and of the grid (Python and C calls: the same on any machine and
load, what per-call overhead costs).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]

#: the measurement, run with the tree under test first on the path (one JSON line of us/point)
#: the extra line of a measurement (the CHILD's key): minor page faults per grid call (glibc
#: faulting freed memory back in; what makes two runs of one tree disagree: CONTRIBUTING.md)
FAULTS = "grid page faults per call"

CHILD = """
import json, resource, time
import roofline as rl
from common import function_calls
from roofline.systems.variants import resized
B = [1, 2, 4, 8, 12, 16, 24, 32, 48, 64, 96, 128, 160, 192, 224, 256]
P = [128, 256, 384, 512, 768, 1024, 1536, 2048]
O = [1, 32, 128, 512]
def best(f, n):
    f()
    out = []
    for _ in range(n):
        t = time.perf_counter(); f(); out.append(time.perf_counter() - t)
    return min(out)
gen = rl.generate
big = resized(rl.load_hardware("2x_dgx_h100"), 32)
grid = dict(prompt=P, output=O, batch=B, dtype="fp16")
sys_grid = dict(prompt=P, output=128, batch=B, dtype="fp16", tp=[1, 2, 4, 8])
faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
grid_s = best(lambda: gen("llama2_7b", "h100_sxm5", **grid), 7)
faults = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults) / 8
print(json.dumps({
    "llama2_7b grid [us/point]": grid_s / 512e-6,
    "one point [us]": best(
        lambda: gen("llama2_7b", "h100_sxm5", prompt=512, output=128, batch=1, dtype="fp16"), 30
    ) * 1e6,
    "tp x pp on 32 GPUs [us/point]": best(
        lambda: gen("llama2_70b", big, pp=[1, 2, 4], **sys_grid), 3) / 1536e-6,
    "tp x cp on 32 GPUs [us/point]": best(
        lambda: gen("llama2_70b", big, cp=[1, 2, 4], **sys_grid), 3) / 1536e-6,
    "grid page faults per call": faults,
    "one point [function calls]": function_calls(
        lambda: gen("llama2_7b", "h100_sxm5", prompt=512, output=128, batch=1, dtype="fp16")
    ),
    "grid [function calls per point]": function_calls(
        lambda: gen("llama2_7b", "h100_sxm5", **grid)) / 512,
}))
"""


def _measure(tree: Path) -> dict[str, float]:
    # the tree first on the path, then this folder (common.py: the same counter for both sides)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tree), str(Path(__file__).parent)])}
    done = subprocess.run(
        [sys.executable, "-c", CHILD], cwd=tree, env=env, capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("rev", help="the revision to compare with (a commit, a branch)")
    ap.add_argument("--rounds", type=int, default=3, help="alternating rounds (default 3)")
    args = ap.parse_args()
    print(machine())
    with tempfile.TemporaryDirectory() as tmp:
        other = Path(tmp) / "rev"
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", "-q", "--detach", str(other), args.rev],
            check=True,
        )
        try:
            runs: dict[str, list[dict[str, float]]] = {"rev": [], "this": []}
            for _ in range(args.rounds):
                runs["rev"].append(_measure(other))
                runs["this"].append(_measure(ROOT))
        finally:
            subprocess.run(
                ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(other)], check=True
            )
    print(f"{'line':34s} {args.rev[:12]:>12s} {'this tree':>12s} {'factor':>8s}")
    for line in runs["this"][0]:
        if line == FAULTS:
            continue
        a = min(r[line] for r in runs["rev"])
        b = min(r[line] for r in runs["this"])
        print(f"{line:34s} {a:12.2f} {b:12.2f} {a / b:7.2f}x")
    for side, name in (("rev", args.rev[:12]), ("this", "this tree")):
        each = ", ".join(f"{r.get(FAULTS, float('nan')):.0f}" for r in runs[side])
        print(f"{FAULTS} ({name}), each round: {each}")
    print(machine())  # the load after: the figures are only as steady as it was
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
