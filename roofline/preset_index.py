"""The static index of the shipped presets: every model (family, what a sample is, description),
device (default dtype, peaks, main memory, on-chip memory, description) and system (devices,
interconnect), read from ``roofline/preset_index.json`` without building a model or loading a
spec.

``roofline list`` prints it without importing numpy. ``python scripts/gen_preset_index.py``
writes the file from the presets (:func:`roofline.presets.preset_index`); a test checks it is
current.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

#: the index file, beside this module (and inside the wheel)
INDEX_FILE = Path(__file__).with_name("preset_index.json")
#: the columns of each list, in order (device figures in SI units, as their suffixes say)
COLUMNS = {
    "models": ("model", "family", "sample", "description"),
    "devices": (
        "device",
        "default_dtype",
        "default_matrix_flops_per_s",
        "int8_matrix_flops_per_s",
        "main_bandwidth_bytes_per_s",
        "main_capacity_bytes",
        "onchip_bytes",
        "description",
    ),
    "systems": ("system", "devices", "device", "default_dtype", "interconnect", "description"),
}


def read_index() -> dict[str, list[dict[str, Any]]]:
    """The lists of :data:`INDEX_FILE` (``models``, ``devices``, ``systems``), each sorted by
    name, each entry with the :data:`COLUMNS` of its list."""
    doc = json.loads(INDEX_FILE.read_text(encoding="utf-8"))
    return {k: doc[k] for k in COLUMNS}


def index_text(lists: dict[str, list[dict[str, Any]]]) -> str:
    """The file's text for ``lists`` (what :func:`read_index` reads back)."""
    doc = {"generated_by": "python scripts/gen_preset_index.py (do not edit)", **lists}
    return json.dumps(doc, indent=1, ensure_ascii=False) + "\n"
