"""roofline: analytical roofline hardware modeling for deep-learning inference.

>>> import roofline as rl
>>> r = rl.evaluate("resnet50", "a100_sxm4_80gb", batch=[1, 64], dtype="fp16")
>>> r.totals()  # latency, throughput, utilization, bound per batch

Submodules load on first use so that ``import roofline`` stays fast.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "count": "api",
    "evaluate": "api",
    "evaluate_device": "api",
    "compare": "comparison",
    "Counts": "api",
    "load_model": "presets",
    "load_hardware": "presets",
    "load_device": "presets",
    "system": "presets",
    "System": "systems.spec",
    "list_models": "presets",
    "list_devices": "presets",
    "list_systems": "presets",
    "Model": "presets",
    "Hardware": "hardware",
    "HardwareGrid": "grid",
    "vary": "knobs",
    "stack": "grid",
    "to_grid": "grid",
    "Precision": "precision",
    "Result": "result",
    "Table": "table",
    "RooflineError": "errors",
    "SpecError": "errors",
    "UnitError": "errors",
    "parse_quantity": "units",
    "SingleLevel": "placement",
    "CapacityAware": "placement",
    "ByKind": "observers",
    "ByCategory": "observers",
    "ByBound": "observers",
    "Trace": "observers",
    "EnergyBreakdown": "observers",
    "energy_study": "studies",
    "system_energy": "energy",
    "table1": "paper.table1",
    "EfficiencyCurve": "curves",
    "run_validation": "fidelity.validate",
    "Study": "studies",
    "embedding_study": "studies",
    "engine_balance_study": "studies",
    "onchip_memory_study": "studies",
    "precision_study": "studies",
    "fleet_breakdown": "studies",
    "sweep": "sweeps",
    "read_sweep": "sweep_sinks",
    "sensitivity": "whatif",
    "diff_devices": "whatif",
    "max_batch_under": "whatif",
    "evaluate_costs": "evaluation",
    "count_graph": "counting",
    "generate": "serving.generation",
    "from_hf_config": "importers.hf_config",
    "best_layout": "systems.search",
    "from_torch": "importers",
    "from_onnx": "importers",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    mod = _EXPORTS.get(name)
    if mod is None:
        raise AttributeError(f"module 'roofline' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"roofline.{mod}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
