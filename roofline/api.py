"""The Python API: count and evaluate models on devices (:mod:`roofline.comparison`: many)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

from roofline.arguments import check_bool, observer_list, one_or_many, real_number
from roofline.batch_sizes import batch_sizes
from roofline.characterize import Table1Row, table1
from roofline.counting import as_batches, count_graph
from roofline.errors import SpecError
from roofline.evaluation import evaluate_costs
from roofline.grid import HardwareGrid
from roofline.grid import stack as stack_devices
from roofline.grid import to_grid as device_grid
from roofline.hardware import Hardware
from roofline.knobs import KnobValues, warn_unread
from roofline.knobs import vary as vary_device
from roofline.observers import Observer, replay
from roofline.placement import Policy
from roofline.precision import Precision
from roofline.presets import Model, load_device, load_hardware, load_model, resolve_spec
from roofline.records import CostTable
from roofline.result import Result
from roofline.systems.evaluate import evaluate_system
from roofline.systems.layout import check_degrees, layouts, one_device
from roofline.systems.result import SystemResult
from roofline.systems.spec import System
from roofline.table import Table

ModelLike = str | os.PathLike | dict | Model
HardwareLike = str | os.PathLike | dict | Hardware | System


@dataclass(frozen=True, eq=False)
class Counts:
    """Counts of a model over batches: the :class:`CostTable` plus summaries."""

    model: Model
    costs: CostTable

    def table1(self, batch: int | None = None) -> Table1Row:
        """Park et al.'s Table 1 metrics at one counted batch: ``batch``, or the only one.

        Counts of several batches need ``batch=`` (a SpecError naming them otherwise);
        :meth:`totals` has the Table 1 metrics of every batch, a row each.
        """
        return table1(self.costs, self._batch_index(batch, "table1"))

    def _batch_index(self, batch: int | None, method: str) -> int:
        """Index of ``batch`` among the counted batches (None: the only one); a SpecError naming
        them and the ``c.METHOD(batch=...)`` call otherwise."""
        counted = [int(b) if float(b).is_integer() else float(b) for b in self.costs.batch]
        if batch is None and len(counted) == 1:
            return 0
        # a boolean is not a batch (True == 1): refused as Result.per_op refuses it
        if batch is None or real_number(batch) is None or batch not in counted:
            listed = ", ".join(map(str, counted))
            raise SpecError(
                "counted at several batches: pick one"
                if batch is None
                else f"batch {batch!r} was not counted (these counts have batch {listed})",
                field="batch",
                fix=f"c.{method}(batch=...) with one of {listed}; c.totals() has every batch",
            )
        return counted.index(batch)

    def totals(self) -> Table:
        """One row per batch: params, FLOPs, bytes by tensor class, Table 1 metrics."""
        ct = self.costs
        cols = [
            "model",
            "batch",
            "dtype",
            "params",
            "flops",
            "flops_matrix",
            "flops_vector",
            "flops_mac",
            "weight_bytes",
            "weight_read_bytes",
            "act_in_bytes",
            "act_out_bytes",
            "kv_bytes",
            "max_live_activations",
            "max_live_activation_bytes",
            "intensity_w_avg",
            "intensity_w_min",
            "intensity_aw_avg",
            "intensity_aw_min",
        ]
        rows = []
        for j, b in enumerate(ct.batch):
            t1 = table1(ct, j)
            rows.append(
                [
                    ct.model,
                    int(b) if b.is_integer() else b,
                    ct.precision.name,
                    t1.params,
                    t1.flops,
                    ct.flops_matrix[:, j].sum(),
                    ct.flops_vector[:, j].sum(),
                    ct.flops_mac[:, j].sum(),
                    ct.weight_bytes.sum(),
                    ct.weight_read_bytes[:, j].sum(),
                    ct.act_in_bytes[:, j].sum(),
                    ct.act_out_bytes[:, j].sum(),
                    ct.kv_bytes[:, j].sum(),
                    t1.max_live_activations,
                    t1.max_live_activation_bytes,
                    t1.intensity_w_avg,
                    t1.intensity_w_min,
                    t1.intensity_aw_avg,
                    t1.intensity_aw_min,
                ]
            )
        return Table(cols, rows, title=f"{ct.model} counts")

    def per_op(self, batch: int | None = None) -> Table:
        """One row per op at one counted batch (``batch``, or the only one): FLOPs, params and
        bytes by tensor class."""
        ct = self.costs
        j = self._batch_index(batch, "per_op")
        cols = [
            "op",
            "kind",
            "category",
            "flops_matrix",
            "flops_vector",
            "flops_mac",
            "params",
            "weight_bytes",
            "act_in_bytes",
            "act_out_bytes",
            "kv_bytes",
            "live_activation_bytes",
        ]
        rows = [
            [
                n,
                ct.kinds[i],
                ct.categories[i],
                ct.flops_matrix[i, j],
                ct.flops_vector[i, j],
                ct.flops_mac[i, j],
                ct.weight_elems[i],
                ct.weight_bytes[i],
                ct.act_in_bytes[i, j],
                ct.act_out_bytes[i, j],
                ct.kv_bytes[i, j],
                ct.live_act_bytes[i, j],
            ]
            for i, n in enumerate(ct.names)
        ]
        return Table(cols, rows, title=f"{ct.model} per op (batch {ct.batch[j]:g})")


def count(model: ModelLike, batch: Any = 1, dtype: str | Precision = "fp32") -> Counts:
    """Count FLOPs, parameters and bytes by tensor class of ``model`` at each batch size.

    Parameters
    ----------
    model : str, path, mapping or Model
        A preset name (``"resnet50"``), a YAML path, a spec mapping or a loaded Model.
    batch : int or sequence of int
        Samples per run.
    dtype : str or Precision
        ``"fp32"``, ``"fp16"``, ``"bf16"``, ``"int8"``, ``"fp8"``, ``"w4a16"``...
    """
    m = load_model(model)
    return Counts(m, count_graph(m.graph, batch_sizes(batch), dtype))


def default_dtype(target: Hardware | HardwareGrid | System) -> str:
    """The dtype a device (a grid's base device, a system's device) is evaluated at when none is
    given: its ``default_dtype`` (:attr:`roofline.hardware.Hardware.dtype`)."""
    if isinstance(target, HardwareGrid):
        return target.base.dtype
    if isinstance(target, System):
        return target.device.dtype
    return target.dtype


def evaluate(
    model: ModelLike,
    hw: HardwareLike | HardwareGrid,
    batch: Any = 1,
    dtype: str | Precision | None = None,
    policy: str | Policy | None = None,
    observers: Iterable[Observer] = (),
    fuse: bool = True,
    launch: str = "kernel",
    tp: int | Sequence[int] = 1,
    pp: int | Sequence[int] = 1,
    ep: int | Sequence[int] = 1,
    dp: int | Sequence[int] | None = None,
    micro_batches: int | None = None,
    cp: int | Sequence[int] = 1,
) -> Result | SystemResult:
    """Predict ``model`` on a device (per-op time and bound: a :class:`Result`) or on a system
    of devices under parallel layouts (a :class:`~roofline.systems.result.SystemResult`).

    On a device the arguments are those of :func:`evaluate_device`; ``dtype`` None is the
    device's ``default_dtype`` (the dtype its datasheet headlines). On a system (``dgx_h100``,
    :func:`roofline.system`), ``tp``, ``pp``, ``ep``, ``dp`` and ``cp`` are the parallel degrees
    (:mod:`roofline.systems.layout`; each a number or a list, every combination that fills the
    system evaluated in one call; ``dp`` None fills it; ``cp`` splits a decoder's sequence,
    :mod:`roofline.systems.context`), ``micro_batches`` the pipeline's
    (default ``min(pp, samples per replica)``; one given is a whole number >= 1 and at most the
    samples per replica at every batch: a SpecError otherwise), and ``batch`` the whole system's
    samples.
    """
    fuse = check_bool("fuse", fuse)
    m = load_model(model)
    observers = observer_list(observers)
    target = hw if isinstance(hw, HardwareGrid) else load_hardware(hw)
    if isinstance(target, System):
        if observers:
            raise SpecError(
                "observers replay one device's ops; a system has many",
                field="observers",
                fix="evaluate the system's device, or drop observers",
            )
        dt = default_dtype(target) if dtype is None else dtype
        with device_file(hw):
            return evaluate_system(
                m,
                target,
                as_batches(batch_sizes(batch)),
                Precision.of(dt).name if isinstance(dt, Precision) else dt,
                layouts(tp, pp, ep, dp, devices=target.count, cp=cp),
                policy,
                fuse,
                launch,
                micro_batches,
            )
    check_degrees(tp=tp, pp=pp, cp=cp, ep=ep, dp=dp)  # whole numbers >= 1, as a system checks
    if not one_device(tp, pp, ep, dp, cp):
        raise SpecError(
            "tp, pp, ep, dp and cp need a system of devices, not one device",
            field="tp",
            fix="use a system such as dgx_h100, or rl.system(device, count, interconnect=...)",
        )
    if micro_batches is not None:
        raise SpecError(
            "micro_batches split a system's pipeline; one device runs the batch whole",
            field="micro_batches",
            fix="drop micro_batches, or evaluate a system with pp > 1",
        )
    return evaluate_device(m, hw, batch, dtype, policy, observers, fuse, launch)


def evaluate_device(
    model: ModelLike,
    hw: HardwareLike | HardwareGrid,
    batch: Any = 1,
    dtype: str | Precision | None = None,
    policy: str | Policy | None = None,
    observers: Iterable[Observer] = (),
    fuse: bool = True,
    launch: str = "kernel",
) -> Result:
    """Predict per-op time and bound of ``model`` on one device ``hw`` at each batch size.

    Parameters
    ----------
    model : str, path, mapping or Model
    hw : str, path, mapping, Hardware or HardwareGrid
        One device, or a grid of variants (:func:`roofline.grid.vary`).
    batch : int or sequence of int
    dtype : str or Precision, optional
        Storage and compute precision; the engines run at the compute dtype's peak. Default: the
        device's ``default_dtype``. A grid whose varied knobs the evaluation does not read at
        this dtype (``engines.matrix.peak.fp16`` at fp32) warns (:class:`UnreadKnobWarning`).
    policy : "capacity" (default), "single", or a Policy
    observers : iterable of Observer (or one, or None)
        Replayed op by op after evaluation (:mod:`roofline.observers`).
    fuse : bool
        Fold batch norm and fuse pointwise epilogues into their producers, as inference engines
        do (default); ``False`` runs every op as its own kernel (:mod:`roofline.fusion`).
    launch : "kernel" or "graph"
        Launch overhead once per kernel (eager, default) or once per run (a CUDA graph).
    """
    fuse = check_bool("fuse", fuse)
    m = load_model(model)
    observers = observer_list(observers)
    grid = hw if isinstance(hw, HardwareGrid) else load_device(hw)
    dt = default_dtype(grid) if dtype is None else dtype
    if isinstance(grid, HardwareGrid) and grid.knobs:
        warn_unread(grid.base, grid.knobs, dt)
    with device_file(hw):
        result = evaluate_costs(
            count_graph(m.graph, batch_sizes(batch), dt, fuse=fuse), grid, policy, launch=launch
        )
    replay(result, observers)
    return result


def vary(
    hw: HardwareLike, knobs: Mapping[str, KnobValues], mode: Literal["product", "zip"] = "product"
) -> HardwareGrid:
    """A grid of device ``hw`` (a preset name, path, mapping or Hardware) with its knobs set to
    every combination of values (``mode="zip"``: element-wise); see
    :func:`roofline.knobs.vary` for the knob paths and values."""
    return vary_device(load_device(hw), knobs, mode)


def stack(devices: HardwareLike | Sequence[HardwareLike]) -> HardwareGrid:
    """One grid of several devices (preset names, paths, mappings or Hardware) sharing their
    memory level names and kinds (:func:`roofline.grid.stack`)."""
    return stack_devices([load_device(d) for d in one_or_many(devices)])


def to_grid(hw: HardwareLike) -> HardwareGrid:
    """A one-variant grid of device ``hw`` (a preset name, path, mapping or Hardware): built
    once per device and shared, so its arrays are read-only (:func:`roofline.grid.to_grid`)."""
    return device_grid(load_device(hw))


@contextmanager
def device_file(hw: HardwareLike | HardwareGrid) -> Iterator[None]:
    """Name the device's spec file in a SpecError about one of its fields (a missing peak...)."""
    try:
        yield
    except SpecError as exc:
        field = exc.field or ""
        if exc.file or not field.startswith(("engines", "memory", "overheads")):
            raise
        if isinstance(hw, (str, os.PathLike)):
            raise exc.with_context(file=str(resolve_spec(hw, "hw_specs"))) from None
        name = getattr(hw, "name", None) or getattr(getattr(hw, "base", None), "name", None)
        raise exc.with_context(file=f"<device {name}>" if name else None) from None
