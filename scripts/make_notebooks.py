"""Write the notebooks in notebooks/ from the cells below (outputs left empty).

    python scripts/make_notebooks.py            # write
    python scripts/make_notebooks.py --execute  # write, then run each headless to check it

The notebooks import only the installed package (and IPython's display); tests/test_notebooks.py
executes every one of them.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

OUT = Path(__file__).resolve().parents[1] / "notebooks"

QUICKSTART = [
    (
        "md",
        "# roofline quickstart\n\nCount a model, evaluate it on a device, read the result, "
        "draw it. Every number is an SI float (seconds, bytes, FLOP/s); tables format them "
        "for people.",
    ),
    ("code", "import roofline as rl\n\nrl.list_models()[:8], rl.list_devices()"),
    (
        "md",
        "## Count\n`count` gives FLOPs, parameters and bytes by tensor class, and the Table 1 "
        "metrics of Park et al. (2018), at each batch size.",
    ),
    ("code", 'counts = rl.count("resnet50", batch=[1, 32], dtype="fp16")\ncounts.totals()'),
    (
        "md",
        "## Evaluate\n`evaluate` predicts every op's time and bound on a device; `totals()` "
        "sums them per batch.",
    ),
    (
        "code",
        'r = rl.evaluate("resnet50", "a100_sxm4_80gb", batch=[1, 8, 64], dtype="fp16")\nr.totals()',
    ),
    (
        "code",
        "ops = r.per_op(batch=1)\n"
        'slow = sorted(ops, key=lambda o: -o["time_s"])[:5]\n'
        '[(o["op"], o["kind"], o["bound"], round(o["time_s"] * 1e6, 1)) for o in slow]',
    ),
    ("md", "## Compare models and devices"),
    (
        "code",
        'rl.compare(["resnet50", "mobilenet_v2"], ["a100_sxm4_80gb", "t4"], '
        'batches=[1, 16], dtypes=["fp16"])',
    ),
    (
        "md",
        "## Charts\nThe roofline chart (see the README for how to read it) and latency / "
        "throughput against batch size with a latency target.",
    ),
    (
        "code",
        "from roofline import plot\n\n"
        'plot.roofline(rl.evaluate("resnet50", "a100_sxm4_80gb", batch=1, dtype="fp16"));',
    ),
    (
        "code",
        "batches = [1, 2, 4, 8, 16, 32, 64, 128]\n"
        'plot.batch_scaling(rl.evaluate("resnet50", "t4", batch=batches, dtype="fp16"), '
        'target_s="5ms");',
    ),
]

TABLE1 = [
    (
        "md",
        "# Table 1 and the roofline, reproduced\n\nPark et al. (2018), *Deep Learning "
        "Inference in Facebook Data Centers*, Table 1: resource requirements of representative "
        "models. `rl.table1()` recomputes each row from the model presets at the paper's batch "
        "conventions and sets the paper's figure (as reconstructed, with its confidence tag) "
        "beside it, flagging disagreements with their reasons.",
    ),
    (
        "code",
        "import roofline as rl\nfrom IPython.display import Markdown, display\n"
        "from roofline.paper.table1 import render\n\n"
        't1 = rl.table1()\ndisplay(Markdown(render(t1, "markdown")))',
    ),
    ("md", "The same table as raw numbers (one line per row and metric):"),
    (
        "code",
        '[(r["model_type"], r["metric"], r["computed_low"], r["computed_high"], '
        'r["paper"], r["verdict"]) for r in t1][:12]',
    ),
    (
        "code",
        'counts = {v: sum(r["verdict"] == v for r in t1) for v in ("agree", "DISAGREE", '
        '"n/a")}\ncounts',
    ),
    (
        "md",
        "## The roofline on the paper's hypothetical accelerator\n100 TOP/s int8, 100 GB/s "
        "DRAM, 1 TB/s SRAM. Hollow squares and diamonds are Table 1's two intensities on the "
        "DRAM roof: keeping activations on chip moves a model from the square to the diamond.",
    ),
    (
        "code",
        "from roofline import plot\n\n"
        'models = {"resnext101_32x4d": 1, "faster_rcnn_shufflenet": 1, "rec_paper": 100, '
        '"seq2seq_gru": 1}\n'
        'rs = [rl.evaluate(m, "hypothetical_100tops", batch=b, dtype="int8") '
        "for m, b in models.items()]\nplot.roofline(rs, table1=True);",
    ),
    (
        "md",
        "## Where the time goes\nBy op category and by bound, on the paper's accelerator and "
        "an A100.",
    ),
    (
        "code",
        'rs = [rl.evaluate(m, d, batch=b, dtype="int8") for m, b in models.items() '
        'for d in ("hypothetical_100tops", "a100_sxm4_80gb")]\n'
        'plot.breakdown(rs, by="category");',
    ),
    ("code", 'plot.breakdown(rs, by="bound");'),
]

IMPLICATIONS = [
    (
        "md",
        "# The paper's four hardware implications, as studies\n\nEach is one function call "
        "returning a `Study`: a table of raw numbers, `findings`, a one-paragraph `answer` and "
        "charts (`figure()`, `plot(ax)`). Defaults: the paper's hypothetical 100 TOP/s "
        "accelerator and its Table 1 models.",
    ),
    ("code", "import roofline as rl"),
    ("md", "## 1. High memory bandwidth and capacity for embeddings"),
    ("code", "emb = rl.embedding_study()\nprint(emb.answer)\nemb.figure();"),
    ("code", 'emb.findings["spill_bytes"], emb.findings["devices_needed"]'),
    (
        "md",
        "## 2. Powerful matrix and vector engines\nAs the matrix peak grows, vector work "
        "(depthwise conv, shuffle, pooling, embedding pooling, elementwise) takes a growing "
        "share of the time: Amdahl's limit per model.",
    ),
    ("code", "eng = rl.engine_balance_study()\nprint(eng.answer)\neng.figure();"),
    ("md", "## 3. Large on-chip memory for inference with small batches"),
    (
        "code",
        "onchip = rl.onchip_memory_study(batches=(1, 4, 16))\nprint(onchip.answer)\n"
        "onchip.figure();",
    ),
    (
        "md",
        "## 4. Half-precision floating point\nOn the paper-era Xeon (no fp16 arithmetic: "
        "only the bytes shrink) and on a T4 (fp16 tensor cores).",
    ),
    ("code", "prec = rl.precision_study()\nprint(prec.answer)\nprec.figure();"),
    (
        "md",
        "## The operator time breakdown of a fleet\nA fleet mix (each model's share of "
        "inference time: stated and editable) evaluated on the paper-era Xeon through a "
        "per-operator observer, against the paper's ranking FC > embedding > tensor "
        "manipulation > conv.",
    ),
    ("code", "from roofline.studies.fleet import FLEET_MIX\n\nFLEET_MIX"),
    ("code", "fleet = rl.fleet_breakdown()\nprint(fleet.answer)\nfleet.figure();"),
    (
        "code",
        'mix = {**FLEET_MIX, "rec_paper": 0.8, "ir_csn_152": 0.0}\n'
        'rl.fleet_breakdown(mix).findings["ranking"]',
    ),
]

WHATIF = [
    (
        "md",
        "# What-if at scale: sweeps, sensitivity, latency targets\n\nA hardware architect's "
        "questions, answered over many device variants at once: the evaluation is vectorized "
        "over variants, so a grid of thousands of devices costs about as much as one.",
    ),
    (
        "code",
        "import numpy as np\nimport roofline as rl\n\n"
        'hw = rl.load_hardware("a100_sxm4_80gb")\n'
        'knobs = {"memory.hbm.bandwidth": np.geomspace(0.5e12, 8e12, 24),\n'
        '         "memory.sram.capacity": np.geomspace(4 * 2**20, 256 * 2**20, 16)}\n'
        't = rl.sweep("resnet50", hw, knobs, batch=16, dtype="fp16")\n'
        "len(t), t.columns",
    ),
    (
        "md",
        "## A two-knob sweep\nLatency of ResNet-50 (batch 16, fp16) over HBM bandwidth and "
        "on-chip capacity. Where the SRAM holds the live activations, bandwidth stops "
        "mattering.",
    ),
    ("code", 'from roofline import plot\n\nplot.plot_sweep(t, "latency_s");'),
    (
        "code",
        'fast = t.to_records()\nbest = min(fast, key=lambda r: r["latency_s"])\n'
        'worst = max(fast, key=lambda r: r["latency_s"])\n'
        'best["latency_s"], worst["latency_s"], best["bound"], worst["bound"]',
    ),
    (
        "md",
        "## Sensitivity: what doubling each knob buys\nEach knob doubled and halved, ranked by "
        "the speedup, with the bound after the change.",
    ),
    ("code", 'rl.sensitivity("dlrm_rm2", hw, batch=64, dtype="fp16")'),
    ("code", 'rl.sensitivity("resnext101_32x48d", hw, batch=16, dtype="fp16")'),
    ("md", "## Two devices, op by op"),
    (
        "code",
        'by_kind, changed = rl.diff_devices("resnet50", "a100_sxm4_80gb", "h100_sxm5", '
        'batch=16, dtype="fp16")\nby_kind',
    ),
    (
        "md",
        "## Latency targets\nThe largest batch that meets a latency target, and the "
        "throughput there.",
    ),
    (
        "code",
        '[(d, rl.max_batch_under("resnet50", d, "5 ms", dtype="fp16")) for d in '
        '("t4", "l4", "a100_sxm4_80gb", "h100_sxm5")]',
    ),
    (
        "code",
        'rl.compare(["resnet50", "dlrm_rm2"], ["t4", "a100_sxm4_80gb"], [1], ["fp16"], sla="10ms")',
    ),
]

NOTEBOOKS = {
    "whatif_sweeps.ipynb": WHATIF,
    "quickstart.ipynb": QUICKSTART,
    "table1_roofline.ipynb": TABLE1,
    "implications.ipynb": IMPLICATIONS,
}


def build(cells: list[tuple[str, str]]) -> nbformat.NotebookNode:
    """A notebook of ``cells`` with empty outputs; cell ids are the cell's position, so that
    writing the notebooks again changes no file."""
    nb = new_notebook()
    nb.cells = [
        (new_markdown_cell if kind == "md" else new_code_cell)(src, id=f"cell-{i}")
        for i, (kind, src) in enumerate(cells)
    ]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    return nb


def main(argv: list[str]) -> int:
    OUT.mkdir(exist_ok=True)
    for name, cells in NOTEBOOKS.items():
        nbformat.write(build(cells), OUT / name)
        print(f"notebooks/{name}")
    if "--execute" in argv:
        from nbclient import NotebookClient

        for name in NOTEBOOKS:
            nb = nbformat.read(OUT / name, as_version=4)
            NotebookClient(nb, timeout=120, kernel_name="python3").execute()
            print(f"executed notebooks/{name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
