"""The paper's four hardware implications as studies, plus the fleet operator-time breakdown.

Park et al. (2018) end their characterization with four requirements for inference hardware
(docs/paper_notes.md Section 1, "Intro list"). Each study asks one of them of the roofline model
and returns a :class:`~roofline.studies.base.Study`: a tidy :class:`~roofline.table.Table` of raw
SI numbers, ``findings`` (the answer as numbers), a one-paragraph ``answer``, and charts
(``plot``, ``figure``).

* :func:`embedding_study`: high memory bandwidth and capacity for embeddings;
* :func:`engine_balance_study`: powerful matrix *and* vector engines (Amdahl's limit);
* :func:`onchip_memory_study`: large on-chip memory for small-batch inference;
* :func:`precision_study`: half-precision floating point;
* :func:`energy_study`: the same question in joules (what fp16 and int8 save per inference, and
  where the energy goes: DRAM, on-chip, compute, static power);
* :func:`scaling_study`: how many chips and which link (implication 1 at system scale:
  throughput per device against link bandwidth and device count);
* :func:`fleet_breakdown`: the operator time breakdown of a fleet mix.

Defaults follow the paper: its hypothetical 100 TOP/s accelerator at int8 and the Table 1 models
at their batch conventions (:data:`PAPER_MODELS`). Everything is an argument.

:data:`STUDIES` is the registry that ``roofline plot`` and :mod:`roofline`'s exports read. Adding
a study: its module here (the study function and its ``ENTRY``), its charts in
:mod:`roofline.plot.studies`, its test, and its line below.
"""

from roofline.studies import (
    embedding,
    energy,
    engine_balance,
    fleet,
    onchip_memory,
    precision,
    scaling,
)
from roofline.studies.base import (
    PAPER_DEVICE,
    PAPER_MODELS,
    Options,
    Panel,
    Study,
    StudyEntry,
)
from roofline.studies.embedding import TablesIn, embedding_study
from roofline.studies.energy import energy_study
from roofline.studies.engine_balance import engine_balance_study
from roofline.studies.fleet import FLEET_MIX, fleet_breakdown
from roofline.studies.onchip_memory import onchip_memory_study
from roofline.studies.precision import precision_study
from roofline.studies.scaling import scaling_study

#: study name (also its ``roofline plot`` kind) -> its function, question, charts and how the
#: command line runs it
STUDIES: dict[str, StudyEntry] = {
    entry.name: entry
    for entry in (
        embedding.ENTRY,
        engine_balance.ENTRY,
        onchip_memory.ENTRY,
        precision.ENTRY,
        energy.ENTRY,
        scaling.ENTRY,
        fleet.ENTRY,
    )
}

__all__ = [
    "FLEET_MIX",
    "PAPER_DEVICE",
    "PAPER_MODELS",
    "STUDIES",
    "Options",
    "Panel",
    "Study",
    "StudyEntry",
    "TablesIn",
    "embedding_study",
    "energy_study",
    "engine_balance_study",
    "fleet_breakdown",
    "onchip_memory_study",
    "precision_study",
    "scaling_study",
]
