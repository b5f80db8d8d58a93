"""The README stays current: presets listed, compare fields documented, CI runs its test command."""

from __future__ import annotations

import re
from pathlib import Path

import roofline as rl
from roofline.comparison import COMPARE_COLUMNS

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_every_preset_is_listed():
    for name in rl.list_models() + rl.list_devices():
        assert f"`{name}`" in README, f"{name} missing from README"


def test_every_compare_field_is_documented():
    table = README.split("### Fields of `compare`", 1)[1].split("## ", 1)[0]
    for col in COMPARE_COLUMNS:
        assert f"`{col}`" in table, col
    for col in (
        "sla_s",
        "max_batch_under_sla",
        "latency_at_max_batch_s",
        "throughput_at_max_batch_per_s",
    ):
        assert f"`{col}`" in table, col


def test_ci_runs_the_readme_test_command():
    blocks = re.findall(r"```bash\n(.*?)\n```", README, flags=re.S)
    test_cmd = next(b for b in blocks if "pytest" in b).strip()
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert test_cmd in ci.splitlines()


def test_main_job_command_uses_shipped_presets():
    blocks = re.findall(r"```bash\n(.*?)\n```", README, flags=re.S)
    main_cmd = next(b for b in blocks if "roofline compare" in b)
    words = main_cmd.split("roofline compare", 1)[1].split()
    names = [w for w in words if not w.startswith("-") and not w.isdigit()]
    known = set(rl.list_models()) | set(rl.list_devices())
    assert names and all(n in known for n in names)
