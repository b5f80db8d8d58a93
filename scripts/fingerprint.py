"""Fingerprint the tool's behaviour: every model x device x policy x fusion x dtype.

For each model preset: its graph (op kinds, names, fields, wiring), its counts at batches 1 and 64
in fp32, fp16 and int8, and the evaluation on every device preset under both placement policies,
fused and unfused (per-op times, bounds, bytes per level, feasibility, devices needed). Floats are
written with 12 significant digits, so a change of summation order does not show but a change of
any result does. Uses only the public API, so it survives internal moves.

    python scripts/fingerprint.py -o /tmp/fp.json      # writes the JSON, prints per-model hashes
    python scripts/fingerprint.py --compare A.json B.json   # lists what differs
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

import roofline as rl

BATCHES = [1, 64]
DTYPES = ["fp32", "fp16", "int8"]


def _num(x: Any) -> Any:
    arr = np.asarray(x)
    if arr.dtype.kind == "b":
        return arr.tolist()
    if arr.dtype.kind in "iuf":
        return np.vectorize(lambda v: float(f"{float(v):.12g}"), otypes=[float])(arr).tolist()
    return arr.tolist()


def _columns(costs: Any) -> dict[str, Any]:
    """Count columns whatever the record's shape (a dict of columns, or declared fields)."""
    names = [
        "flops_matrix",
        "flops_vector",
        "flops_mac",
        "weight_read_bytes",
        "gather_rows",
        "act_in_elems",
        "act_out_elems",
        "act_in_bytes",
        "act_out_bytes",
        "kv_bytes",
        "kv_footprint_bytes",
        "weight_elems",
        "weight_bytes",
        "gather_row_bytes",
        "live_act_bytes",
        "launches",
        "is_table",
    ]
    return {n: _num(getattr(costs, n)) for n in names}


def _graph(model: Any) -> list[Any]:
    return [
        [n.op.kind, n.op.name, list(n.inputs), n.op.model_dump(mode="json")]
        for n in model.graph.nodes
    ]


def fingerprint_model(name: str, devices: list[str]) -> dict[str, Any]:
    m = rl.load_model(name)
    out: dict[str, Any] = {"graph": _graph(m), "counts": {}, "results": {}}
    for dt in DTYPES:
        c = rl.count(m, batch=BATCHES, dtype=dt)
        out["counts"][dt] = _columns(c.costs)
    for dev in devices:
        for dt in DTYPES:
            for policy in ("single", "capacity"):
                for fuse in (True, False):
                    key = f"{dev}|{dt}|{policy}|{'fused' if fuse else 'unfused'}"
                    try:
                        r = rl.evaluate(m, dev, batch=BATCHES, dtype=dt, policy=policy, fuse=fuse)
                    except rl.SpecError as exc:
                        out["results"][key] = {"error": str(exc)}
                        continue
                    out["results"][key] = {
                        "time_s": _num(r.time_s),
                        "bound": _num(r.bound),
                        "bytes_moved": _num(r.bytes_moved),
                        "feasible": _num(r.feasible),
                        "shortfall_bytes": _num(r.shortfall_bytes),
                        "footprint_bytes": _num(r.footprint_bytes),
                        "devices_needed": _num(r.devices_needed),
                        "latency_s": _num(r.latency_s),
                        "tile_utilization": _num(r.tile_utilization),
                    }
    return out


def digest(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:16]


def _diff(a: Any, b: Any, path: str, out: list[str], limit: int = 40) -> None:
    if len(out) >= limit:
        return
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            if k not in a or k not in b:
                out.append(f"{path}.{k}: only in {'B' if k not in a else 'A'}")
            elif a[k] != b[k]:
                _diff(a[k], b[k], f"{path}.{k}", out, limit)
    elif a != b:
        out.append(f"{path}: {str(a)[:120]} != {str(b)[:120]}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("-o", "--output", help="write the full fingerprint JSON here")
    p.add_argument("--compare", nargs=2, metavar=("A", "B"), help="diff two fingerprint files")
    p.add_argument("--models", nargs="*", help="only these models")
    args = p.parse_args(argv)
    if args.compare:
        a, b = (json.loads(Path(f).read_text()) for f in args.compare)
        diffs: list[str] = []
        _diff(a, b, "", diffs)
        print("\n".join(diffs) if diffs else "identical")
        return 1 if diffs else 0
    devices = rl.list_devices()
    models = args.models or rl.list_models()
    everything = {}
    for name in models:
        everything[name] = fingerprint_model(name, devices)
        print(f"{name:28s} {digest(everything[name])}", flush=True)
    print(f"{'ALL':28s} {digest(everything)}")
    if args.output:
        with open(args.output, "w") as fh:
            json.dump(everything, fh, sort_keys=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
