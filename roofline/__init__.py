"""roofline: analytical roofline hardware modeling for deep-learning inference.

>>> import roofline as rl
>>> r = rl.evaluate("resnet50", "a100_sxm4_80gb", batch=[1, 64], dtype="fp16")
>>> r.totals()  # latency, throughput, utilization, bound per batch

The names exported here load their module on first use, so ``import roofline`` stays fast.

The house, floor by floor: a module imports only its own floor and those below (CONTRIBUTING.md
has the map, how a value flows from a spec to a chart, and where to add an op, a family, a
device, a system, a study or a command).

1. errors (one-line user errors), kinds (enums), units (unit strings to SI), dtypes (bits per
   element), suggest (did you mean), spec_errors (validation errors as one line), frozen
   (read-only containers), input_files (bounded reads), field_checks (plain typed values),
   spec_ranges (physical ranges), arguments (API argument checks), batch_sizes (batch checks),
   preset_index (the static preset list), yaml_loader and yaml_writer
   (strict YAML), output_files (safe atomic writes), formatting (the only human units), table
   (tidy tables), curves (efficiency curves), budget (the memory budget), disk_columns (a table
   beyond the budget, on disk)
2. precision (dtype per tensor class), hardware (device specs), records (OpCost, CostTable),
   energy (energy, power cap and cost formulas), gemms (GEMM FLOPs and per-op sums)
3. ops/ (one module per operator; bytes derived once), graph, fusion (epilogues), liveness (live
   activations), counting (graph to CostTable), graph_builder, characterize (Table 1 metrics)
4. formulas (the roofline's formulas, once each), grid (device variants as arrays), knobs
   (vary), placement (which level serves each byte), efficiency (derating), evaluation
   (CostTable x devices to Result), result, observers (per-op replay), totals (sweep fast
   paths), totals_lines (variants differing in one rate), testing/ (the scalar oracle and the
   reference counter)
5. families/ (model families), model (a loaded model), importers/ (PyTorch, ONNX, Hugging Face),
   systems/spec (multi-device specs), presets (load by name or path)
6. api (count, evaluate), systems/ (collectives, parallel layouts, system evaluation), serving/
   (prefill, decode, generation), paper/ (Table 1 of Park et al.), fidelity/ (calibrate,
   validate)
7. sweeps (design-space sweeps), sweep_plan (a sweep as independent chunks), sweep_sinks
   (where the rows go: memory, Parquet, text, a callback), distributed (serial, executor and Dask
   runs), sla (batches under a latency target), whatif (sensitivity,
   diffs), comparison (compare)
8. plot/ (charts, matplotlib)
9. studies/ (the paper's implications as studies; the STUDIES registry), widgets (the notebook
   what-if widget, ipywidgets)
10. cli/ (one module per command; the REGISTRY), __main__, and this __init__
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
    "vary": "api",
    "stack": "api",
    "to_grid": "api",
    "Precision": "precision",
    "Result": "result",
    "Table": "table",
    "RooflineError": "errors",
    "SpecError": "errors",
    "SpecErrors": "errors",
    "RooflineWarning": "errors",
    "UnreadKnobWarning": "errors",
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
    "scaling_study": "studies",
    "fleet_breakdown": "studies",
    "sweep": "sweeps",
    "read_sweep": "sweep_sinks",
    "sensitivity": "whatif",
    "diff_devices": "whatif",
    "DeviceDiff": "whatif",
    "max_batch_under": "sla",
    "batches_under_sla": "sla",
    "BatchesUnderSLA": "sla",
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
