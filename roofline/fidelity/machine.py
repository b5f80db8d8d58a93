"""The machine this process runs on: CPUs, caches, memory, libraries and thread pinning, the
random row indices the gather probes read, and progress lines (the timing loop is
:mod:`roofline.fidelity.timing`).

Caches come from ``/sys/devices/system/cpu/cpu*/cache/index*`` (level, type, size,
``shared_cpu_list``, ``coherency_line_size``): a cache level's capacity is its size times the number
of distinct instances among the CPUs this process may use.
"""

from __future__ import annotations

import ctypes
import itertools
import math
import numbers
import os
import platform
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from roofline.errors import SpecError

try:  # optional: pins every BLAS it finds; OpenBLAS is reached directly without it
    from threadpoolctl import threadpool_limits
except ImportError:
    threadpool_limits = None

Progress = Callable[[str], None]


def _allowed_cpus() -> list[int]:
    """Ids of the CPUs this process may run on."""
    try:
        return sorted(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return list(range(os.cpu_count() or 1))


def cpus() -> int:
    """CPUs this process may run on (the thread count used for every measurement)."""
    return len(_allowed_cpus())


def thread_count(threads: Any, field: str = "threads") -> int:
    """The threads a measurement runs on: ``threads``, or every usable CPU for None. A whole
    number from 1 to :func:`cpus` (more threads than CPUs only wait on each other, and a huge
    count would size the probes' buffers by it); a SpecError naming ``field`` otherwise."""
    n = cpus()
    if threads is None:
        return n
    whole = isinstance(threads, numbers.Integral) and not isinstance(threads, (bool, np.bool_))
    if not whole or not 1 <= threads <= n:
        problem = (
            f"{threads!r} is more than the {n} CPUs this process may run on"
            if whole and threads > n
            else f"{threads!r} must be a whole number from 1 to {n}, the CPUs this process "
            "may run on"
        )
        raise SpecError(
            problem,
            field=field,
            fix=f"give 1 to {n}, or leave it out for all {n}",
        )
    return int(threads)


def cpu_model() -> str:
    """The CPU model name the OS reports."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def blas_name() -> str:
    """numpy's BLAS as its build configuration names it (e.g. ``scipy-openblas 0.3.31``)."""
    try:
        cfg = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        return f"{cfg.get('name', '?')} {cfg.get('version', '')}".strip()
    except Exception:  # older numpy: no dict mode
        return "unknown BLAS"


def torch_module() -> Any | None:
    """torch, or None when it is not installed."""
    try:
        import torch
    except ImportError:
        return None
    return torch


def _openblas_set(n: int) -> int | None:
    """Set the thread count of every OpenBLAS loaded in this process (as threadpoolctl would);
    return the count read back, or None if none was found."""
    try:
        paths = {
            ln.split()[-1]
            for ln in Path("/proc/self/maps").read_text().splitlines()
            if "openblas" in ln.lower() and ln.split()[-1].startswith("/")
        }
    except OSError:
        return None
    got = None
    for path in sorted(paths):
        lib = ctypes.CDLL(path)
        for pre, suf in (("", ""), ("scipy_", "64_"), ("", "64_"), ("scipy_", "")):
            setter = getattr(lib, f"{pre}openblas_set_num_threads{suf}", None)
            getter = getattr(lib, f"{pre}openblas_get_num_threads{suf}", None)
            if setter is not None and getter is not None:
                setter(ctypes.c_int(n))
                got = int(getter())
                break
    return got


def set_threads(n: int, torch: Any | None = None) -> dict[str, int | None]:
    """Pin numpy's BLAS (and torch, when given) to ``n`` threads; return what was set.

    threadpoolctl is used when installed, else OpenBLAS is called directly; a BLAS that cannot be
    reached is reported as None (it keeps its own default, normally one thread per CPU).
    """
    blas: int | None
    if threadpool_limits is not None:
        threadpool_limits(n, user_api="blas")
        blas = n
    else:
        blas = _openblas_set(n)
    out = {"blas": blas}
    if torch is not None:
        torch.set_num_threads(n)
        out["torch"] = int(torch.get_num_threads())
    return out


@dataclass(frozen=True)
class Cache:
    """One data or unified cache level as the OS reports it (bytes)."""

    level: int
    size: int
    instances: int
    line: int

    def capacity(self, threads: int | None = None) -> int:
        """Bytes of the instances ``threads`` threads use (one per thread up to all; all when
        None): a private cache of another core holds nothing for us."""
        return self.size * (self.instances if threads is None else min(self.instances, threads))


def _parse_size(text: str) -> int:
    text = text.strip().upper()
    scale = {"K": 1024, "M": 1024**2, "G": 1024**3}.get(text[-1:], 1)
    return int(text.rstrip("KMG")) * scale


def read_caches(root: str = "/sys/devices/system/cpu") -> list[Cache]:
    """Data and unified caches by level, from ``cpu*/cache/index*`` (empty if unreadable)."""
    found: dict[int, dict[str, Any]] = {}
    for cpu in _allowed_cpus():
        for idx in sorted(Path(root, f"cpu{cpu}", "cache").glob("index*")):
            try:
                kind = (idx / "type").read_text().strip()
                if kind not in ("Data", "Unified"):
                    continue
                level = int((idx / "level").read_text())
                size = _parse_size((idx / "size").read_text())
                shared = (idx / "shared_cpu_list").read_text().strip()
                line = int((idx / "coherency_line_size").read_text())
            except (OSError, ValueError):
                continue
            entry = found.setdefault(level, {"size": size, "line": line, "shared": set()})
            entry["shared"].add(shared)
    return [Cache(lv, e["size"], len(e["shared"]), e["line"]) for lv, e in sorted(found.items())]


#: bytes of gathered rows a numpy gather holds at once (``take`` into a buffer that stays in L2)
GATHER_CHUNK = 256 * 1024


def index_sets(rows: int, per_call: int, table_bytes: float, seed: int = 0) -> Callable[[], Any]:
    """A function returning the next of a cycle of random index arrays (``per_call`` indices into
    ``rows`` rows each).

    A timed call repeated with the same indices finds its rows in the caches after the first
    call, so a table in DRAM would be measured at the speed of the last-level cache. The sets
    together touch min(the table, 4x the caches' total) bytes of rows, so that each pass over
    them misses as a fresh request would (at most 4096 sets).
    """
    caches = sum(c.capacity() for c in read_caches()) or 32 * 1024**2
    row_bytes = table_bytes / max(rows, 1)
    cover = min(table_bytes, 4.0 * caches)
    n = int(min(4096, max(1, math.ceil(cover / (per_call * row_bytes)))))
    sets = np.random.default_rng(seed).integers(0, rows, (n, per_call))
    return itertools.cycle(sets).__next__


def physical_memory() -> int:
    """Bytes of physical memory."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 16 * 1024**3


def available_memory() -> int:
    """Bytes of memory available now (MemAvailable), or half the physical memory."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return physical_memory() // 2


def progress_to_stderr(msg: str) -> None:
    """Print a progress line to stderr at once."""
    print(msg, file=sys.stderr, flush=True)


def busy_warning(threads: int) -> str | None:
    """A warning when other work keeps the CPUs busy (1-minute load average), else None."""
    load = os.getloadavg()[0]
    if load < 0.75 * cpus():
        return None
    steady = " (--threads 1 is steadier)" if threads > 1 else ""
    return (
        f"warning: load average {load:.1f} on {cpus()} CPUs: other work shares this machine, "
        f"so figures will be noisy and a multi-threaded call may wait whole scheduler time "
        f"slices for a descheduled thread{steady}"
    )
