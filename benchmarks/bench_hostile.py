"""The spec loader and the hostile reads, side by side in one run.

1. Loading a 10,000-op ``layers`` spec (about 90,000 YAML nodes, 0.5 MB), best of several runs:
   the loader built on libyaml's events (``roofline.yaml_loader.parse_yaml``, target < 1 s), the
   same with the pure-Python parser (the fallback where PyYAML lacks libyaml), the previous
   loader (PyYAML's pure-Python SafeLoader plus a check of the node tree, read from git history
   when the repository is at hand), plain ``yaml.load`` with ``CSafeLoader`` (no checks: the
   floor) and ``load_model`` of the file end to end (parse, build, count).
2. Each hostile read of ``tests/test_hostile.py`` in a fresh process: wall time and the peak
   resident memory (``VmHWM``, restarted just before the command) above the resident set of the
   process that has imported roofline and loaded a model and a device (issue 14's targets:
   under 1 s and 200 MB each).

Prints the host load (``uptime``) before and after. Run: ``python benchmarks/bench_hostile.py``.
"""

from __future__ import annotations

import importlib.util
import os
import resource
import subprocess
import sys
import tempfile
import types
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import best_of, machine, report  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PREVIOUS = "69ed885"  # the commit before the libyaml loader


def _uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    except OSError:
        return f"load average {os.getloadavg()}"


def layers_spec(n_ops: int) -> str:
    """A synthetic ``layers`` spec of ``n_ops`` ops (linear, activation, layernorm in turn)."""
    lines = ["name: big_layers", "family: layers", "source: synthetic", "params:"]
    lines += ["  inputs: {x: [512]}", "  ops:"]
    for i in range(n_ops):
        lines.append(
            (
                f"    - {{kind: linear, name: fc{i}, out_features: 512, bias: true}}",
                f"    - {{kind: activation, name: act{i}, function: relu}}",
                f"    - {{kind: layernorm, name: ln{i}}}",
            )[i % 3]
        )
    return "\n".join(lines) + "\n"


def previous_loader() -> types.ModuleType | None:
    """The loader as it was before libyaml (from git history), or None without git."""
    try:
        source = subprocess.run(
            ["git", "show", f"{PREVIOUS}:roofline/yaml_loader.py"],
            capture_output=True,
            text=True,
            cwd=ROOT,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    spec = importlib.util.spec_from_loader("previous_yaml_loader", loader=None)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    exec(compile(source, "previous_yaml_loader.py", "exec"), module.__dict__)
    return module


def loader_timings(n_ops: int) -> None:
    import yaml

    from roofline import yaml_loader
    from roofline.presets import load_model

    text = layers_spec(n_ops)
    print(f"\n{n_ops}-op layers spec: {len(text) / 1e6:.2f} MB")
    runs: dict[str, tuple[float, float]] = {}
    runs["parse_yaml (libyaml events)"] = best_of(lambda: yaml_loader.parse_yaml(text), 5)
    c_parser = yaml_loader._CParser
    yaml_loader._CParser = None
    try:
        runs["parse_yaml (pure-Python fallback)"] = best_of(lambda: yaml_loader.parse_yaml(text), 2)
    finally:
        yaml_loader._CParser = c_parser
    old = previous_loader()
    if old is not None:
        runs[f"previous loader ({PREVIOUS})"] = best_of(lambda: old.parse_yaml(text), 2)
    runs["yaml.load CSafeLoader (no checks)"] = best_of(
        lambda: yaml.load(text, Loader=yaml.CSafeLoader), 5
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "big_layers.yaml"
        path.write_text(text)

        def load() -> None:
            yaml_loader._PARSED.clear()
            import roofline.presets as presets

            presets._MODEL_CACHE.clear()
            load_model(str(path))

        runs["load_model (parse, build, count)"] = best_of(load, 3)
    base = runs["parse_yaml (libyaml events)"][0]
    for name, (best, median) in runs.items():
        print(f"  {name:40s} best {best:7.3f} s  median {median:7.3f} s  x{best / base:5.1f}")
    report("10,000-op spec parse", base, 1.0, "s", higher_is_better=False)


_CHILD = """
import re, sys, time
from roofline import cli
from roofline.cli import fidelity, models
from roofline.presets import load_hardware, load_model
load_model("resnet18"), load_hardware("a100_sxm4_80gb")

def kib(field):
    return int(re.search(field + r":\\s+(\\d+) kB", open("/proc/self/status").read()).group(1))

with open("/proc/self/clear_refs", "w") as f:  # restart the peak (VmHWM) from the resident set
    f.write("5")
before = kib("VmRSS")
t = time.perf_counter()
status = cli.main(sys.argv[1:])
print(f"{time.perf_counter() - t} {before} {kib('VmHWM')}", file=sys.stderr)
sys.exit(status)
"""


def hostile_reads() -> None:
    bomb = ROOT / "tests" / "data" / "bad_specs" / "m_alias_bomb.yaml"
    merge = ROOT / "tests" / "data" / "hostile" / "m_merge_bomb.yaml"
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        big = t / "big.yaml"
        big.write_text("name: big\nparams: [" + "1," * 7_000_000 + "1]\n")
        deep = t / "deep.yaml"
        deep.write_text("params: " + "[" * 100_000 + "]" * 100_000 + "\n")
        nested = t / "nested.json"
        nested.write_text("[" * 100_000 + "]" * 100_000)
        huge = t / "huge.yaml"
        huge.write_bytes(b"# " + b"x" * (16 * 2**20 + 10) + b"\n")
        fifo = t / "fifo.yaml"
        os.mkfifo(fifo)
        cases = {
            "--hw /dev/zero": ["analyze", "resnet18", "--hw", "/dev/zero"],
            "model /dev/urandom": ["analyze", "/dev/urandom", "--hw", "t4"],
            "--from-json /dev/zero": ["validate", "--from-json", "/dev/zero"],
            "a FIFO as the spec": ["analyze", str(fifo), "--hw", "t4"],
            "14 MB list of 7M numbers": ["analyze", str(big), "--hw", "t4"],
            "100,000 nested lists": ["analyze", str(deep), "--hw", "t4"],
            "alias bomb (1e9 nodes)": ["analyze", str(bomb), "--hw", "t4"],
            "merge-key bomb": ["analyze", str(merge), "--hw", "t4"],
            "16 MiB + 10 B file": ["analyze", str(huge), "--hw", "t4"],
            "100k nested JSON arrays": ["validate", "--from-json", str(nested)],
        }
        print("\nhostile reads (each in a fresh process; memory above the loaded process):")
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        for name, argv in cases.items():
            proc = subprocess.run(
                [sys.executable, "-c", _CHILD, *argv],
                capture_output=True,
                text=True,
                env=env,
                timeout=600,
            )
            *msg, last = proc.stderr.strip().splitlines()
            secs, before, after = (float(x) for x in last.split())
            grown = max(0.0, after - before) / 1024  # peak above the resident set before, MiB
            line = msg[0][:70] if msg else ""
            print(f"  {name:26s} exit {proc.returncode}  {secs:6.3f} s  +{grown:6.1f} MiB  {line}")


def main() -> int:
    print(machine())
    print("before:", _uptime())
    loader_timings(10_000)
    hostile_reads()
    print("after:", _uptime())
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"(this process: peak RSS {peak:.0f} MiB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
