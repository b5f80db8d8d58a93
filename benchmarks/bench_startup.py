"""Cold start: ``import roofline`` (< 0.3 s, no matplotlib or scipy), ``roofline --help``
(< 0.3 s: it imports no command module), ``roofline list models`` (< 0.2 s: the static preset
index, no numpy; beside it the cost of building every model preset, as ``list models`` once did)
and ``python -m roofline compare`` of 3 models x 3 devices x 3 batches (< 1 s wall).

Each measurement is a fresh interpreter; the best of five runs is reported (the first run also
compiles bytecode). Run: ``python benchmarks/bench_startup.py``.
"""

from __future__ import annotations

import subprocess
import sys
import time

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from common import machine, report  # noqa: E402

CHECK = (
    "import sys, roofline; bad = [m for m in ('matplotlib', 'scipy') if m in sys.modules];"
    " sys.exit(1 if bad else 0)"
)
HELP = [sys.executable, "-m", "roofline", "--help"]
LIST = [sys.executable, "-m", "roofline", "list", "models"]
BUILD_ALL = [
    sys.executable,
    "-c",
    "import roofline as rl; [rl.load_model(n) for n in rl.list_models()]",
]
COMPARE = [
    sys.executable,
    "-m",
    "roofline",
    "compare",
    "resnet50",
    "dlrm_rm2",
    "seq2seq_gru",
    "--hw",
    "a100_sxm4_80gb",
    "h100_sxm5",
    "hypothetical_100tops",
    "--batch",
    "1",
    "16",
    "64",
]


def wall(cmd: list[str], repeat: int = 5) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        best = min(best, time.perf_counter() - t)
    return best


def main() -> int:
    print(machine())
    base = wall([sys.executable, "-c", "pass"])
    imp = wall([sys.executable, "-c", CHECK])
    print(f"  bare interpreter start: {base:.3f} s")
    ok = report("  import roofline (wall, incl. interpreter)", imp, 0.3, "s", False)
    ok &= report("  roofline --help (wall, cold)", wall(HELP), 0.3, "s", False)
    listed = wall(LIST)
    ok &= report("  roofline list models (wall, cold)", listed, 0.2, "s", False)
    built = wall(BUILD_ALL, repeat=3)
    print(f"  building every model preset instead (wall): {built:.3f} s, {built / listed:.0f}x")
    ok &= report(
        "  compare 3 models x 3 devices x 3 batches (wall, cold)", wall(COMPARE), 1.0, "s", False
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
