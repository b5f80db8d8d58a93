"""What every study shares: the :class:`Study` record (a table, its answer, its charts), the
registry record of a study (:class:`StudyEntry`), what the command line passes a study
(:class:`Options`), the paper's defaults (:data:`PAPER_MODELS`, :data:`PAPER_DEVICE`), and the
device x model x dtype loop of the precision and energy studies (:func:`dtype_runs`) with the one
definition of a run's regime (:func:`regime`).

A study names its charts (:class:`Panel`); :mod:`roofline.plot.studies` draws them. That module
imports matplotlib, so it is imported only when a study is drawn: computing one never loads it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from roofline.counting import count_graph
from roofline.errors import SpecError
from roofline.evaluation import evaluate_costs
from roofline.hardware import Hardware
from roofline.kinds import Bound
from roofline.model import Model
from roofline.presets import load_model
from roofline.result import Result
from roofline.table import Table

#: the Table 1 models and their batch conventions (samples per run)
PAPER_MODELS: dict[str, int] = {
    "rec_paper": 100,
    "resnext101_32x4d": 1,
    "faster_rcnn_shufflenet": 1,
    "ir_csn_152": 1,
    "seq2seq_gru": 1,
}
#: the paper's hypothetical 100 TOP/s accelerator
PAPER_DEVICE = "hypothetical_100tops"


@dataclass(frozen=True)
class Panel:
    """One chart of a study.

    Attributes
    ----------
    chart : str
        A chart name of :data:`roofline.plot.studies.CHARTS`.
    subject : str or None
        The model or device a chart drawn once per model or device is about; None for a chart
        of the whole study.
    """

    chart: str
    subject: str | None = None


@dataclass(frozen=True, eq=False)
class Study:
    """A study's result: a table, its answer, and its charts.

    Attributes
    ----------
    name : str
    question : str
        The paper's implication in its words.
    table : Table
        Raw SI numbers, one row per evaluated point.
    findings : dict
        The answer as numbers (units in the key suffixes).
    answer : str
        The answer in a paragraph.
    panels : tuple of Panel
        The charts, the main one first.
    """

    name: str
    question: str
    table: Table
    findings: dict[str, Any]
    answer: str
    panels: tuple[Panel, ...] = field(default=())

    def plot(self, ax: Any = None, panel: int = 0) -> Any:
        """Draw chart ``panel`` (default the main one) on ``ax``; return the Axes."""
        from roofline.plot import studies as charts  # matplotlib: only when drawing

        return charts.draw(self, self.panels[panel], ax)

    def figure(self) -> Any:
        """All panels side by side in one figure; return the Figure."""
        from roofline.plot import studies as charts  # matplotlib: only when drawing

        return charts.figure(self)

    def _repr_markdown_(self) -> str:
        return f"**{self.question}**\n\n{self.answer}\n"

    def __repr__(self) -> str:
        return f"Study({self.name!r}: {self.answer})"


@dataclass(frozen=True)
class Options:
    """What ``roofline plot KIND`` passes a study: the models, devices, batches and dtype given on
    the command line (empty or None: the study's own defaults)."""

    models: tuple[str, ...] = ()
    devices: tuple[str, ...] = ()
    batches: tuple[int, ...] = ()
    dtype: str | None = None

    @property
    def model(self) -> str | None:
        """The first model given, or None."""
        return self.models[0] if self.models else None

    @property
    def device(self) -> str | None:
        """The first device given, or None."""
        return self.devices[0] if self.devices else None

    @property
    def batch(self) -> int | None:
        """The first batch given, or None."""
        return self.batches[0] if self.batches else None


def given(**arguments: Any) -> dict[str, Any]:
    """The ``arguments`` that were given (neither None nor empty), to call a study with: the
    others keep the study function's defaults."""
    return {k: v for k, v in arguments.items() if v is not None and v != ()}


@dataclass(frozen=True)
class StudyEntry:
    """A study in the registry (:data:`roofline.studies.STUDIES`).

    Attributes
    ----------
    name : str
        The study's name, also its ``roofline plot`` kind.
    question : str
        The paper's implication in its words.
    charts : tuple of str
        Its chart names (:data:`roofline.plot.studies.CHARTS`), the main one first; with
        ``per_subject`` they are drawn once per model or device the study covers.
    function : callable
        The study function (exported by :mod:`roofline`).
    from_options : callable
        ``Options -> Study``: the study as ``roofline plot NAME`` runs it.
    per_subject : bool
    reads : mapping of str to str
        What ``from_options`` does not read all of, by the command line's name of the option
        (``models``, ``--hw``, ``--batch``, ``--dtype``): ``first`` where it reads only the
        first value, else why it does not read the option at all. ``roofline plot`` names these
        in a warning; an option not listed is read whole.
    """

    name: str
    question: str
    charts: tuple[str, ...]
    function: Callable[..., Study]
    from_options: Callable[[Options], Study]
    per_subject: bool = False
    reads: Mapping[str, str] = field(default_factory=dict)

    def study(
        self, table: Table, findings: dict[str, Any], answer: str, subjects: Sequence[str] = ()
    ) -> Study:
        """The :class:`Study` of this entry with its panels: each chart once, or once per subject
        (model or device) when ``per_subject``."""
        if self.per_subject:
            panels = tuple(Panel(c, s) for s in subjects for c in self.charts)
        else:
            panels = tuple(Panel(c) for c in self.charts)
        return Study(self.name, self.question, table, findings, answer, panels)


def at_batch(
    models: Sequence[str], batch: int | None, default: Mapping[str, Any] = PAPER_MODELS
) -> dict[str, int] | Sequence[str] | None:
    """What a study function's ``models`` argument is given from the command line: ``models``
    (the names, or None for the study's default) or, with a ``batch``, each of them (or of
    ``default``'s names) at that batch."""
    if batch is None:
        return tuple(models) or None
    return {m: int(batch) for m in (models or tuple(default))}


def paper_models(
    models: Mapping[str, int] | Sequence[str] | None,
    batches: Mapping[str, int] = PAPER_MODELS,
    other: int = 1,
) -> dict[str, int]:
    """Model -> batch: ``models`` as given, names at their ``batches`` batch (``other`` for
    the rest), or all of ``batches`` when None (default :data:`PAPER_MODELS`, 1)."""
    if models is None:
        return dict(batches)
    if isinstance(models, Mapping):
        return {str(k): int(v) for k, v in models.items()}
    return {m: batches.get(m, other) for m in models}


def regime(result: Result) -> str:
    """What bounds most of run (0, 0)'s time, as the core reports it
    (:meth:`roofline.result.Result.dominant_bound`), with every memory level named ``memory``:
    ``compute``, ``overhead`` (launch-bound) or ``memory``."""
    bound = str(result.dominant_bound()[0, 0])
    return bound if bound in (Bound.COMPUTE, Bound.OVERHEAD) else "memory"


def fits(result: Result | None) -> bool:
    """Whether run (0, 0) of ``result`` fits its device (False without a result)."""
    return result is not None and bool(result.feasible[0, 0])


def fitting(result: Result | None, field: str) -> float:
    """Run (0, 0)'s ``field`` of ``result`` (an [H, B] array attribute) where it fits, else NaN:
    a point that does not fit has no time, energy or rate (:meth:`Result.totals`)."""
    return float(getattr(result, field)[0, 0]) if fits(result) else float("nan")


def not_fit(names: Sequence[str], device: str) -> str:
    """``"A, B do not fit DEVICE"`` (``does`` for one name): the models left out of an answer."""
    return f"{', '.join(names)} {'does' if len(names) == 1 else 'do'} not fit {device}"


@dataclass(frozen=True)
class DtypeRun:
    """One model at its batch on one device at one dtype (:func:`dtype_runs`).

    Attributes
    ----------
    device : Hardware
    model : Model
    batch : int
        Samples per run.
    dtype : str
        The dtype as asked.
    result : Result or None
        None where the device lacks the dtype (and declares no fallback for it).
    reference : Result or None
        The run of the first dtype asked (this run's own result when it is that one), or None
        where the device lacks it: what savings and speedups are taken against, and whose
        :func:`regime` the rows carry.
    """

    device: Hardware
    model: Model
    batch: int
    dtype: str
    result: Result | None
    reference: Result | None

    @property
    def regime(self) -> str:
        """:func:`regime` of the reference run; empty while there is none."""
        return regime(self.reference) if self.reference is not None else ""


def dtype_runs(
    devices: Sequence[Hardware],
    models: Mapping[str, int],
    dtypes: Sequence[str],
) -> Iterator[DtypeRun]:
    """Each device x model x dtype, in that nesting order: ``models`` (model-like -> batch, as
    :func:`paper_models` gives them) counted at their batch (epilogues fused) and evaluated.

    A run's reference is the run of the first dtype asked (the precision study's speedups, the
    energy study's savings), or None where the device lacks it."""
    loaded = [(load_model(name), batch) for name, batch in models.items()]
    for hw in devices:
        for m, batch in loaded:
            ref: Result | None = None
            for i, dt in enumerate(dtypes):
                try:
                    r = evaluate_costs(count_graph(m.graph, [batch], dt, fuse=True), hw)
                except SpecError:
                    yield DtypeRun(hw, m, batch, dt, None, ref)
                    continue
                if i == 0:
                    ref = r
                yield DtypeRun(hw, m, batch, dt, r, ref)
