"""Counting resnet50 from its spec, in-process (issue 4 target: ~100x faster than fvcore).

fvcore's ``FlopCountAnalysis`` on torchvision's resnet50 takes about 0.1 s on a 2-core machine
(tracing the module), so the target is about 1 ms. Reports: counting a built graph the first time
(per-op counts at B = 0 and 1), counting again at new batches or dtypes (affine coefficients
cached), and the whole path from the YAML mapping (validate params, build the graph, count).
Run: ``python benchmarks/bench_count.py``.
"""

from __future__ import annotations

import sys

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from common import best_of, machine, report  # noqa: E402

from roofline.counting import count_graph  # noqa: E402
from roofline.presets import (
    build_model,  # noqa: E402
    resolve_spec,
)
from roofline.yaml_loader import read_spec_file  # noqa: E402

FVCORE_S = 0.1  # the figure for fvcore on a 2-core machine


def measured_fvcore() -> float | None:
    """fvcore's time on this machine (bench_fvcore.py in a subprocess), if torch is installed."""
    import re
    import subprocess

    here = __file__.rsplit("/", 1)[0]
    p = subprocess.run([sys.executable, f"{here}/bench_fvcore.py"], capture_output=True, text=True)
    m = re.search(r"total\(\): ([0-9.]+) s", p.stdout)
    return float(m.group(1)) if m else None


def main() -> int:
    print(machine())
    data = read_spec_file(resolve_spec("resnet50", "model_specs"))
    build_model(data)  # warm pydantic schemas, as a long-lived process would have them
    graphs = [build_model(data).graph for _ in range(30)]
    it = iter(graphs)
    cold, _ = best_of(lambda: count_graph(next(it), [1], "fp32"), 25)
    warm, _ = best_of(lambda: count_graph(graphs[0], [1, 8, 64], "fp16"), 50)
    whole, _ = best_of(lambda: count_graph(build_model(data).graph, [1], "fp32"), 15)
    print(f"  first count of a built graph: {cold * 1e3:.2f} ms")
    print(f"  count again (new batches, dtype): {warm * 1e3:.3f} ms")
    print(f"  spec mapping -> graph -> counts: {whole * 1e3:.2f} ms")
    fv = measured_fvcore()
    ref = fv if fv else FVCORE_S
    print(f"  fvcore reference: {ref:.3f} s ({'measured here' if fv else 'the issue figure'})")
    ok = report("  speedup over fvcore, first count", ref / cold, 100, "x", True)
    print(
        f"  for information: spec to counts {ref / whole:.0f}x fvcore; against the issue's "
        f"0.1 s: first count {FVCORE_S / cold:.0f}x, counting again {FVCORE_S / warm:.0f}x"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
