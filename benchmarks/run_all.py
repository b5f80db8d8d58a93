"""Run every benchmark script; exit non-zero if a target is missed."""

import subprocess
import sys
from pathlib import Path

here = Path(__file__).parent
status = 0
for script in (
    "bench_startup.py",
    "bench_count.py",
    "bench_sweep.py",
    "bench_llm.py",
    "bench_scale.py",
):
    print(f"== {script}")
    status |= subprocess.run([sys.executable, str(here / script)]).returncode
sys.exit(status)
