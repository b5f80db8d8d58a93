"""The GEMM helpers' own room (``roofline/gemms.py``, floor 2): the per-op sums are ``np.add.at``
into zeros to the bit, and the device side (grid, formulas) no longer imports the counter."""

from __future__ import annotations

import subprocess
import sys

import numpy as np

from roofline.gemms import gemm_flops, gemm_passes, sum_gemms


def test_sum_gemms_is_add_at_into_zeros_to_the_bit():
    rng = np.random.default_rng(0)
    owner = rng.integers(0, 7, size=40)
    per_gemm = rng.uniform(0.0, 1e12, size=(40, 3)) * rng.uniform(0.9, 1.1, size=(40, 3))
    expected = np.zeros((9, 3))
    np.add.at(expected, owner, per_gemm)
    got = sum_gemms(owner, per_gemm, np.zeros((9, 3)))
    assert got.tobytes() == expected.tobytes()


def test_an_op_without_a_gemm_keeps_its_value_and_passes_go_in_gemm_order():
    owner = np.array([2, 0, 2, 2])
    out = sum_gemms(owner, np.array([1.0, 2.0, 3.0, 4.0]), np.full(4, 9.0))
    assert out.tolist() == [2.0, 9.0, 8.0, 9.0]
    passes = gemm_passes(owner)
    assert [(ops.tolist(), gemms.tolist()) for ops, gemms in passes] == [
        ([2, 0], [0, 1]),
        ([2], [2]),
        ([2], [3]),
    ]
    assert not passes[0][0].flags.writeable


def test_gemm_flops_are_two_per_multiply_accumulate():
    m, n, k = np.array([2.0, 3.0]), np.array([5.0, 7.0]), np.array([11.0, 13.0])
    assert gemm_flops(m, n, k, 2.0).tolist() == [440.0, 1092.0]


def test_the_device_side_does_not_import_the_counter():
    code = "import sys, roofline.grid; print(sorted(m for m in sys.modules if 'roofline' in m))"
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert "roofline.gemms" in loaded
    assert "roofline.counting" not in loaded and "roofline.ops" not in loaded
