"""Write the notebooks in notebooks/ from the cells below and execute them, so that they are
committed with their outputs (tables, charts, answers) and read on a code host without a kernel.

    python scripts/make_notebooks.py               # write and execute every notebook
    python scripts/make_notebooks.py energy.ipynb  # only the ones named

The notebooks import only the installed package (and IPython's display); tests/test_notebooks.py
checks that the committed cells are the ones below and re-executes every notebook, comparing its
text outputs with the committed ones.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

OUT = Path(__file__).resolve().parents[1] / "notebooks"
#: seconds one cell may take
CELL_TIMEOUT = 300
#: the kernel draws inline (PNG outputs) whatever backend the caller's environment names
INLINE = "module://matplotlib_inline.backend_inline"

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
        'batch=[1, 16], dtype="fp16")',
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
        'for d in ("t4", "l4", "a100_sxm4_80gb", "h100_sxm5"):\n'
        '    s = rl.batches_under_sla("resnet50", d, "5 ms", dtype="fp16")\n'
        '    print(f"{d:16} largest batch {s.max_batch_under_sla:4d}, "\n'
        '          f"{s.throughput_at_max_batch_per_s:,.0f} samples/s")',
    ),
    (
        "code",
        'rl.compare(["resnet50", "dlrm_rm2"], ["t4", "a100_sxm4_80gb"], batch=1, dtype="fp16",\n'
        '           sla="10 ms")',
    ),
    (
        "md",
        "## Interactive what-if\nSliders for the main-memory bandwidth, the on-chip capacity, "
        "the engines' peaks (factors of two around the device's own figures), the batch and the "
        "dtype drive a live roofline and the totals beside the device as shipped. Run the "
        "notebook to move them (a static page shows the chart below instead).",
    ),
    (
        "code",
        "from roofline.widgets import whatif\n\n"
        'w = whatif("llama2_7b", "a100_sxm4_80gb", batch=1, dtype="fp16")\nw',
    ),
    (
        "md",
        "A slider moved from code does what dragging it does: four times the HBM bandwidth for "
        "Llama-2-7B's decode step at batch 1, which reads every weight from HBM.",
    ),
    (
        "code",
        "w.bandwidth.value = w.bandwidth.options[5][1]\n"
        'w.bandwidth.label, w.totals["latency_s"], w.baseline.latency_s[0, 0]',
    ),
    ("code", "w.figure"),
]

LLM_SYSTEMS = [
    (
        "md",
        "# Language models on systems of accelerators\n\nGeneration (prefill then decode "
        "with a KV cache) of decoder models on one device or on a system of devices with "
        "parallel layouts (tensor, pipeline, expert and data parallel), the interconnect "
        "modeled by the alpha-beta collectives of `docs/systems.md`.",
    ),
    ("code", "import roofline as rl\nfrom roofline import plot\n\nrl.list_systems()"),
    (
        "md",
        "## Generation\n`generate` gives time to first token, time per output token, "
        "end-to-end latency and tokens per second, each with its strict bound (what no real "
        "system can beat), for every batch.",
    ),
    (
        "code",
        'rl.generate("llama2_70b", "dgx_h100", prompt=1024, output=256, batch=[1, 16, 64], '
        'dtype="fp16", tp=8)',
    ),
    (
        "md",
        "## Choosing a layout\n`best_layout` scores every layout that fills the system and "
        "ranks them by throughput per device; a target (`sla`, `ttft`, `per_user` tokens per "
        "second) rules out those that miss it.",
    ),
    (
        "code",
        'rl.best_layout("llama2_70b", "dgx_h100", batch=64, dtype="fp16", prompt=1024, output=256)',
    ),
    (
        "code",
        'rl.best_layout("llama2_70b", "dgx_h100", batch=64, dtype="fp16", prompt=1024, '
        "output=256, per_user=40)",
    ),
    (
        "md",
        "## What the interconnect buys\nThe NVLink bandwidth per GPU swept from 50 GB/s to "
        "900 GB/s (the DGX H100's) at tensor parallel 8: at batch 1 decode reads the weights "
        "and the all-reduces are small; at batch 64 the all-reduces grow with the batch.",
    ),
    (
        "code",
        'links = {"interconnect.nvlink.bandwidth": ["50 GB/s", "100 GB/s", "200 GB/s", '
        '"450 GB/s", "900 GB/s"]}\n'
        't = rl.sweep("llama2_70b", "dgx_h100", links, batch=[1, 64], dtype="fp16", tp=8)\n'
        't.select(["interconnect.nvlink.bandwidth", "batch", "latency_s", "interconnect_time_s", '
        '"bound"])',
    ),
    ("code", 'plot.plot_sweep(t, "latency_s");'),
    (
        "md",
        "## Layouts side by side\nOne evaluation of every tensor-parallel degree (data "
        "parallel fills the rest of the system).",
    ),
    ("code", 'rl.evaluate("llama2_70b", "dgx_h100", batch=64, dtype="fp16", tp=[2, 4, 8])'),
]

ENERGY = [
    (
        "md",
        "# Energy, power and cost\n\nEvery shipped device has an energy model (joules per "
        "FLOP per engine and dtype, per byte per memory level, idle power, TDP; sources in "
        "`docs/energy.md`). A run's energy is its FLOPs and bytes at those prices plus idle "
        "power over its time; where the power would exceed the TDP the clock is lowered.",
    ),
    (
        "code",
        "import roofline as rl\n\n"
        'r = rl.evaluate("bert_large", "h100_sxm5", batch=[1, 64], dtype="int8")\n'
        "r.energy_per_sample_j, r.samples_per_j, r.avg_power_w, r.power_capped",
    ),
    (
        "md",
        "## Where the joules go\nThe `EnergyBreakdown` observer splits a run's energy by op "
        "kind and by compute, memory level and static power.",
    ),
    (
        "code",
        "e = rl.EnergyBreakdown()\n"
        'rl.evaluate("dlrm_rm2", "a100_sxm4_80gb", batch=64, dtype="fp16", observers=[e])\n'
        "e.table()",
    ),
    (
        "code",
        "from roofline.plot.energy import energy_breakdown, throughput_vs_power\n\n"
        'rs = [rl.evaluate("resnet50", d, batch=[1, 64], dtype=dt) for d in ("t4", "l4", '
        '"h100_sxm5") for dt in ("fp16", "int8")]\n'
        "energy_breakdown(rs);",
    ),
    ("code", "throughput_vs_power(rs);"),
    (
        "md",
        "## The power cap\nA lower TDP throttles the clock once the run's dynamic power "
        "exceeds it: the capped throughput falls, the energy per sample barely moves.",
    ),
    (
        "code",
        'tdp = {"power.tdp": ["300 W", "400 W", "500 W", "700 W"]}\n'
        't = rl.sweep("resnet50", "h100_sxm5", tdp, batch=[256], dtype="int8")\n'
        't.select(["power.tdp", "throughput_per_s", "capped_throughput_per_s", '
        '"energy_per_sample_j", "power_capped"])',
    ),
    (
        "md",
        "## The energy study\nWhat fp16 and int8 save in joules for the paper's model "
        "classes, and where the energy goes.",
    ),
    ("code", "study = rl.energy_study()\nprint(study.answer)\nstudy.figure();"),
]

NOTEBOOKS = {
    "quickstart.ipynb": QUICKSTART,
    "table1_roofline.ipynb": TABLE1,
    "implications.ipynb": IMPLICATIONS,
    "whatif_sweeps.ipynb": WHATIF,
    "llm_systems.ipynb": LLM_SYSTEMS,
    "energy.ipynb": ENERGY,
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


def execute(nb: nbformat.NotebookNode, folder: str | None = None) -> nbformat.NotebookNode:
    """Run ``nb`` headless with inline charts, in ``folder`` (default a scratch one: a notebook
    writes no files); cells keep no timings, so a re-run changes only what changed."""
    backend = os.environ.get("MPLBACKEND")
    os.environ["MPLBACKEND"] = INLINE  # the kernel inherits the environment
    try:
        with tempfile.TemporaryDirectory() as tmp:
            NotebookClient(
                nb,
                timeout=CELL_TIMEOUT,
                kernel_name="python3",
                record_timing=False,
                resources={"metadata": {"path": folder or tmp}},
            ).execute()
    finally:
        if backend is None:
            os.environ.pop("MPLBACKEND")
        else:
            os.environ["MPLBACKEND"] = backend
    return nb


def main(argv: list[str]) -> int:
    flags = [a for a in argv if a.startswith("-")]
    if flags:
        print(f"unknown option {flags[0]!r}: name notebooks ({', '.join(NOTEBOOKS)}) or none")
        return 2
    names = argv or list(NOTEBOOKS)
    unknown = [n for n in names if n not in NOTEBOOKS]
    if unknown:
        print(f"unknown notebook {unknown[0]!r}: use one of {', '.join(NOTEBOOKS)}")
        return 2
    OUT.mkdir(exist_ok=True)
    for name in names:
        nb = execute(build(NOTEBOOKS[name]))
        nbformat.write(nb, OUT / name)
        print(f"notebooks/{name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
