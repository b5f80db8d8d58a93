"""LLM generation and multi-device speed (issues 12 and 13), side by side in one run.

* issue 12: a llama2_7b grid of 16 batches x 8 prompt lengths x 4 output lengths on one H100
  (target <= 0.7 us per point), and one generate point (prefill + 127 decode steps) after warm-up
  (target <= 70 us);
* issue 13: llama2_70b over 16 batches x 8 contexts x 4 TP degrees x 3 PP degrees on a 32-GPU
  system (4 DGX H100 nodes) at <= 1 us per point; a context is a prompt length, each point a full
  generation (TTFT and time per output token over 128 tokens); and the same with context
  parallelism: 4 TP degrees x 3 CP degrees (cp = 1, 2, 4), dp filling the system.

Beside them, for information: a repeated load of an unchanged preset (the load cache: a ``stat``
and a dict lookup, no parse or validation), which every generate call pays.

Beside issue 13's grid, for information, its floor: the core of an ideal single pass (every
layout's per-device counts stacked as the columns of one table: 4 TP degrees x 384 (batch,
length) columns, pipeline stages taken as shares of them), that is the counts, the placement and
the roofline of each op and column, and the per-column totals, with none of the decode envelope,
collectives, pipeline, energy or table that a generate call adds.

Run: ``python benchmarks/bench_llm.py``. Prints the machine and its load first: the numbers are
only comparable within one run.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from common import best_of, function_calls, machine, report  # noqa: E402

import roofline as rl  # noqa: E402
from roofline.systems.variants import resized  # noqa: E402

BATCHES = [1, 2, 4, 8, 12, 16, 24, 32, 48, 64, 96, 128, 160, 192, 224, 256]
PROMPTS = [128, 256, 384, 512, 768, 1024, 1536, 2048]
OUTPUTS = [1, 32, 128, 512]


def _repeated_load(load: Callable[[str], object], name: str) -> float:
    """Microseconds of one more load of an unchanged preset (best of 5 x 100 loads)."""
    load(name)
    best, _ = best_of(lambda: [load(name) for _ in range(100)], 5)
    return best / 100 * 1e6


def _numpy_call_us() -> str:
    """Microseconds of a few numpy calls on a point's small arrays (13 ops x 3 columns): what
    each of the hundred-odd array operations of one generate point costs at least
    (CONTRIBUTING.md, "Where rl.generate's time goes")."""
    import numpy as np

    a, b = np.linspace(1.0, 2.0, 39).reshape(13, 3), np.linspace(2.0, 1.0, 39).reshape(13, 3)
    mask = a > b
    calls = {
        "a + b": lambda: a + b,
        "np.where": lambda: np.where(mask, a, 0.0),
        "a.sum(axis=0)": lambda: a.sum(axis=0),
    }
    out = []
    for name, fn in calls.items():
        best, _ = best_of(lambda fn=fn: [fn() for _ in range(1000)], 5)
        out.append(f"{name} {best * 1e3:.2f} us")
    return ", ".join(out)


def _system_floor_s() -> float:
    """Seconds of the core of an ideal one-pass evaluation of issue 13's grid (module
    docstring): llama2_70b's fused prefill counts at 4 x 384 columns, their lean roofline
    (:func:`~roofline.systems.stage_costs.op_seconds`) and per-column totals on one H100; best of
    20."""
    import numpy as np

    from roofline.grid import to_grid
    from roofline.placement import get_policy
    from roofline.serving.context_counts import phase_counts
    from roofline.systems.stage_costs import op_seconds, phase_totals

    prefill = phase_counts(rl.load_model("llama2_70b"), "prefill")
    grid, policy = to_grid(rl.load_hardware("h100_sxm5")), get_policy(None)
    columns = 4 * 384  # 4 TP degrees x (128 prefill + 256 decode-end) columns
    points = np.array([(b, p) for b in BATCHES for p in PROMPTS], dtype=float)
    batch, length = np.resize(points[:, 0], columns), np.resize(points[:, 1], columns)

    def core() -> None:
        phase_totals(
            op_seconds(prefill.table(batch, length, "fp16", fuse=True), grid, policy, "kernel")
        )

    core()
    return best_of(core, 20)[0]


def main() -> int:
    print(machine())
    ok = True
    points = len(BATCHES) * len(PROMPTS) * len(OUTPUTS)

    def grid() -> object:
        return rl.generate(
            "llama2_7b", "h100_sxm5", prompt=PROMPTS, output=OUTPUTS, batch=BATCHES, dtype="fp16"
        )

    grid()
    best, med = best_of(grid, 5)
    print(f"llama2_7b grid: {points} points, best {best * 1e3:.1f} ms, median {med * 1e3:.1f} ms")
    ok &= report("issue 12 grid", best / points * 1e6, 0.7, "us/point", higher_is_better=False)

    def one() -> object:
        return rl.generate("llama2_7b", "h100_sxm5", prompt=512, output=128, batch=1, dtype="fp16")

    one()
    best, _ = best_of(one, 20)
    ok &= report("issue 12 one point", best * 1e6, 70.0, "us", higher_is_better=False)
    print(
        f"function calls (any machine, any load): one point {function_calls(one)}, the grid "
        f"{function_calls(grid) / points:.1f} per point (information)"
    )
    print(f"one numpy call on a [13, 3] array: {_numpy_call_us()} (information: the floor)")

    for load, name in (
        (rl.load_hardware, "h100_sxm5"),
        (rl.load_model, "llama2_7b"),
        (rl.load_hardware, "2x_dgx_h100"),
    ):
        print(
            f"repeated {load.__name__}({name!r}): {_repeated_load(load, name):.1f} us (information)"
        )

    base = rl.load_hardware("2x_dgx_h100")
    assert isinstance(base, rl.System)
    big = resized(base, 32)

    for what, title, degrees in (
        ("on 32 GPUs", "issue 13 layouts grid", {"pp": [1, 2, 4]}),
        ("tp x cp on 32 GPUs", "issue 13 cp grid", {"cp": [1, 2, 4]}),
    ):

        def layouts(degrees: dict[str, list[int]] = degrees) -> Any:
            return rl.generate(
                "llama2_70b",
                big,
                prompt=PROMPTS,
                output=128,
                batch=BATCHES,
                dtype="fp16",
                tp=[1, 2, 4, 8],
                **degrees,
            )

        n = len(layouts())
        best, med = best_of(layouts, 3)
        print(f"llama2_70b {what}: {n} points, best {best:.2f} s, median {med:.2f} s")
        ok &= report(title, best / n * 1e6, 1.0, "us/point", higher_is_better=False)
    floor = _system_floor_s()
    print(
        f"issue 13 floor: the core of one ideal pass over the grid (counts, placement, roofline "
        f"and totals of 4 x 384 columns) takes {floor * 1e3:.2f} ms, against the target's "
        f"{1536 * 1.0e-3:.2f} ms for the whole call (information)"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
