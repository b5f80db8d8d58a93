"""The paper's headline findings, as the model reproduces them (issue 2's acceptance checks).

Park et al. (2018), Section 2 and 4: recommendation models are memory-bound and dominated by
embedding lookups; CV models are compute-bound when their activations stay on chip or the batch
is large, and the largest ones (ResNeXt-101 32x48d) on every accelerator.
"""

from __future__ import annotations

import subprocess
import sys
import time

import numpy as np
import pytest

import roofline as rl

ACCELERATORS = [
    "hypothetical_100tops",
    "v100_sxm2",
    "t4",
    "a100_sxm4_80gb",
    "h100_sxm5",
    "h200_sxm",
    "l4",
    "tpu_v4",
    "mi300x",
]
ALL_DEVICES = [*ACCELERATORS, "xeon_gold_6138_2s"]


@pytest.mark.parametrize("model", ["dlrm_rm1", "dlrm_rm2", "rec_paper"])
@pytest.mark.parametrize("device", ALL_DEVICES)
def test_recommendation_is_memory_bound_and_embedding_dominated(model, device):
    # a ranking request scores tens to hundreds of candidates (a sample is one candidate); the
    # roofline work, launch overhead aside, is memory-bound and led by the embedding lookups
    dtype = "fp32" if device.startswith("xeon") else "fp16"
    r = rl.evaluate(model, device, batch=[64, 256], dtype=dtype)
    work = r.time_s - r.overhead_s
    cats = np.array(r.costs.categories)
    for j in range(2):
        by_bound = r.time_by_bound()[0, j, :-1]  # the last slot is launch overhead
        assert r.bound_labels[int(np.argmax(by_bound))] != "compute", (model, device, j)
        shares = {c: work[0, j, cats == c].sum() for c in set(cats)}
        assert max(shares, key=shares.get) == "embedding", (model, device, j, shares)


def test_small_batch_recommendation_on_a_gpu_is_launch_bound():
    # 5 us per kernel (hw_specs/a100_sxm4_80gb.yaml) against microseconds of work per kernel
    r = rl.evaluate("dlrm_rm1", "a100_sxm4_80gb", batch=1, dtype="fp16")
    assert r.dominant_bound()[0, 0] == "overhead"
    assert r.time_by_bound()[0, 0, -1] == pytest.approx(r.overhead_s[0, 0].sum())


@pytest.mark.parametrize("device", ACCELERATORS)
def test_largest_cv_models_are_compute_bound_at_large_batch(device):
    for model in ("resnext101_32x48d", "r3d_18"):
        r = rl.evaluate(model, device, batch=[64, 256], dtype="fp16")
        assert list(r.dominant_bound()[0]) == ["compute", "compute"], (model, device)


def test_cv_compute_bound_while_activations_stay_on_chip():
    # ResNet-50 on an A100: at batch 16 the live activations (58 MB at fp16, BN folded) do not
    # fit the 40 MiB L2 either, yet the 3x3 convs keep it compute-bound; at batch 256 the 1x1
    # convs fall below the fp16 ridge (312 TFLOP/s / 2.04 TB/s = 153 FLOP/B) and HBM time
    # catches up with compute: the paper's "compute-bound only if activations stay on chip"
    r = rl.evaluate("resnet50", "a100_sxm4_80gb", batch=[16, 256], dtype="fp16")
    tb = r.time_by_bound()[0]
    assert r.dominant_bound()[0, 0] == "compute"
    compute_share = tb[:, 0] / tb.sum(axis=1)
    assert compute_share[0] > compute_share[1] > 0.3
    # give it a 4x larger on-chip memory and bandwidth-bound layers stop spilling
    big = rl.vary(rl.load_hardware("a100_sxm4_80gb"), {"memory.sram.capacity": ["8 GiB"]})
    assert rl.evaluate("resnet50", big, batch=256, dtype="fp16").dominant_bound()[0, 0] == "compute"


def test_main_job_runs_and_is_fast():
    cmd = [
        sys.executable,
        "-m",
        "roofline",
        "compare",
        "resnet50",
        "resnext101_32x48d",
        "faster_rcnn_shufflenet",
        "resnext3d_101",
        "seq2seq_gru",
        "dlrm_rm2",
        "--hw",
        "hypothetical_100tops",
        "a100_sxm4_80gb",
        "--batch",
        "1",
        "16",
        "--format",
        "json",
    ]
    t = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert p.stdout.count('"model"') == 6 * 2 * 2
    assert time.perf_counter() - t < 30  # a hang guard, not a speed test (benchmarks/ measure)
