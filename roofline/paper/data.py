"""Table 1 of Park et al. (2018) as reconstructed in the project's paper notes, as data.

Every figure carries the confidence tag of the reconstruction (``docs/paper_notes.md``, section 2,
a copy of the project's notes): ``H`` seen in retrieved text, ``M`` recollection
backed by an independent check, ``L`` recollection only. Each paper row names the preset(s) that
stand for it, the batch convention, and which layers it covers. :mod:`roofline.paper` computes the
rows and compares them with these figures.

How a computed figure is compared with the paper's (``PaperCell.mode``):

* ``span``: the paper gives the range the row's points span (ResNeXt-101 32x4d to 32x48d params,
  FC intensity over 10 to 100 candidates): each computed end must match the paper's end;
* ``bound``: the paper gives an envelope (``1-10M``, ``>10K``): every computed value must lie in it;
* ``approx``: the paper gives one rounded figure (``avg. 380``): it must lie within the computed
  range (one value for a one-model, one-batch row).

"Match" allows a relative tolerance by confidence, :data:`TOLERANCE`: the figures are rounded and
partly recalled, so a recalled figure constrains less than a checked one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

INF = math.inf

#: relative tolerance by confidence tag: a and b match when max(a/b, b/a) <= 1 + tol
TOLERANCE = {"H": 0.10, "M": 0.25, "L": 0.50}

#: the Table 1 metrics, in column order, with their unit (elements; FLOPs per element)
METRICS = (
    ("params", "elements"),
    ("max_live_activations", "elements"),
    ("intensity_w_avg", "FLOP/element"),
    ("intensity_w_min", "FLOP/element"),
    ("intensity_aw_avg", "FLOP/element"),
    ("intensity_aw_min", "FLOP/element"),
)


@dataclass(frozen=True)
class PaperCell:
    """One reconstructed Table 1 figure.

    Attributes
    ----------
    text : str
        The figure as docs/paper_notes.md writes it (``"43-829M"``).
    options : tuple of (low, high)
        Value ranges in elements or FLOPs per element; several when the recollections conflict
        (any one may match). ``low == high`` for a single figure, ``high = inf`` for ``>x``.
    confidence : str
        ``H``, ``M``, ``L`` or a pair such as ``L/M`` (the looser tag sets the tolerance).
    mode : "span", "bound" or "approx"
        How computed values are compared (module docstring).
    """

    text: str
    options: tuple[tuple[float, float], ...]
    confidence: str
    mode: Literal["span", "bound", "approx"]

    @property
    def tolerance(self) -> float:
        """Relative tolerance of the loosest tag in :attr:`confidence`."""
        return max(TOLERANCE[t] for t in self.confidence.split("/"))


def cell(text: str, conf: str, mode: str, *options: tuple[float, float] | float) -> PaperCell:
    """A :class:`PaperCell`; a bare number option stands for ``(x, x)``."""
    opts = tuple(
        (o, o) if isinstance(o, (int, float)) else (float(o[0]), float(o[1])) for o in options
    )
    return PaperCell(text, opts, conf, mode)  # type: ignore[arg-type]


@dataclass(frozen=True)
class PaperRow:
    """One Table 1 row: the paper's figures and how to compute ours.

    Attributes
    ----------
    key, category, model_type : str
        A short id, and the paper's category and model-type columns.
    models : tuple of (preset name, parameter changes)
        The presets standing for the row (changes applied with ``Model.with_params``).
    batches : tuple of int
        Samples per run at which the row is computed (the paper's batch convention).
    batch_convention : str
        The convention in words, printed with the table.
    categories : frozenset of str
        Op categories counted as the row's layers (ops holding weights in these categories).
    all_params : bool
        Params of the whole model (CV, seq2seq), or of the row's layers only (the recommendation
        FC and embedding rows split one model). Max live activations are always the model's.
    exclude_classifier : bool
        Leave a per-sample classifier FC (one row per sample: 2 x batch FLOPs per weight) out of
        the minimum intensities, as the paper's CV minima (~100, 28) are convolution figures.
    cells : dict metric -> PaperCell
    latency : str
        The paper's latency column (a requirement, not a model property).
    notes : dict metric -> str
        Why a computed figure may differ from the paper's (printed when it does); ``{low}``,
        ``{high}`` and ``{layer_mean}`` are replaced by the computed figures.
    footprint_model : (preset name, parameter changes) or None
        Count ``params`` and max live activations on this model instead (seq2seq: the translate
        view runs encoder and decoder; the decode step holds only the decoder).
    """

    key: str
    category: str
    model_type: str
    models: tuple[tuple[str, dict], ...]
    batches: tuple[int, ...]
    batch_convention: str
    categories: frozenset[str]
    all_params: bool
    exclude_classifier: bool
    cells: dict[str, PaperCell]
    latency: str
    notes: dict[str, str] = field(default_factory=dict)
    footprint_model: tuple[str, dict] | None = None


_FC = frozenset({"fc"})
_CV = frozenset({"conv", "fc"})
_TWO_TO_TWENTY = cell("2-20", "M", "span", (2, 20))
_REC_FC = cell("20-200", "M", "span", (20, 200))
# over activations + weights 2MKN / (KN + MK + MN) <= 2M: the paper's range is an envelope
_REC_FC_AW = cell("20-200", "M", "bound", (20, 200))
_TWO_TO_TWENTY_AW = cell("2-20", "M", "bound", (2, 20))
_EMB = cell("1-2", "M", "bound", (1, 2))


def _intensities(w: PaperCell, aw: PaperCell) -> dict[str, PaperCell]:
    """The four intensity cells of a row whose average and minimum share one figure."""
    return {
        "intensity_w_avg": w,
        "intensity_w_min": w,
        "intensity_aw_avg": aw,
        "intensity_aw_min": aw,
    }


ROWS: tuple[PaperRow, ...] = (
    PaperRow(
        "rec_fc",
        "Recommendation",
        "FCs",
        (("rec_paper", {}),),
        (10, 100),
        "10-100 ranking candidates per request (ops per weight = 2 x batch)",
        _FC,
        False,
        False,
        {
            "params": cell("1-10M", "M", "bound", (1e6, 1e7)),
            "max_live_activations": cell(">10K", "L", "bound", (1e4, INF)),
            **_intensities(_REC_FC, _REC_FC_AW),
        },
        "~10s of ms (L)",
        {
            "intensity_aw_min": "the paper's 2M over activations + weights assumes K, N >> M; "
            "an FC with a narrow side (the final FC to one logit reads M x K activations for "
            "K weights) falls to about 2 whatever the batch"
        },
    ),
    PaperRow(
        "rec_emb",
        "Recommendation",
        "Embeddings",
        (("rec_paper", {}),),
        (10, 100),
        "10-100 ranking candidates per request",
        frozenset({"embedding"}),
        False,
        False,
        {
            "params": cell(">10 billion", "M", "bound", (1e10, INF)),
            "max_live_activations": cell(">10K", "L", "bound", (1e4, INF)),
            **_intensities(_EMB, _EMB),
        },
        "~10s of ms (L)",
        {
            "intensity_aw_avg": "a sum-pooled lookup of P rows of D elements does P*D ops on "
            "P*D weight + D output elements (indices are not activations): P/(P+1), just under 1",
            "intensity_aw_min": "as the average: P/(P+1) < 1 for sum pooling",
            "params": "the paper gives no table sizes; the preset's tables are a stated assumption "
            "(edit them with Model.with_params)",
        },
    ),
    PaperRow(
        "resnext",
        "Computer vision",
        "ResNeXt101-32x4-48",
        (("resnext101_32x4d", {}), ("resnext101_32x48d", {})),
        (1,),
        "1 image (224x224); CV has no strict latency limit",
        _CV,
        True,
        True,
        {
            "params": cell("43-829M", "M", "span", (43e6, 829e6)),
            "max_live_activations": cell("2-29M", "L/M", "span", (2e6, 29e6)),
            "intensity_w_avg": cell("avg. 380", "M", "approx", 380),
            "intensity_w_min": cell("min. 100", "M", "approx", 100),
            "intensity_aw_avg": cell("avg. 188", "M", "approx", 188),
            "intensity_aw_min": cell("min. 28", "M", "approx", 28),
        },
        "no strict constraint (L)",
        {
            "max_live_activations": "our live set is the largest set of tensors alive at once in "
            "execution order, with batch norm, ReLU and residual adds fused into the conv that "
            "produces their input; 32x48d peaks at {high} at layer2.0.conv2, the 3072-channel "
            "stride-2 grouped 3x3 conv whose 56x56 input holds 9.6M elements (with its 28x28 "
            "output, 2.4M, and the block's input kept for the residual add, 0.8M). The recalled "
            "29M (L/M) would need about three such inputs alive at once"
        },
    ),
    PaperRow(
        "faster_rcnn",
        "Computer vision",
        "Faster-RCNN-Shuffle",
        (("faster_rcnn_shufflenet", {}),),
        (1,),
        "1 image (800x1344 padded)",
        _CV,
        True,
        True,
        {
            "params": cell("6M", "L/M", "approx", 6e6),
            "max_live_activations": cell("13M", "L/M", "approx", 13e6),
            "intensity_w_avg": cell("avg. 3.5K", "L/M", "approx", 3.5e3),
            "intensity_w_min": cell("min. 2.5K", "L/M", "approx", 2.5e3),
            "intensity_aw_avg": cell("avg. 145", "L", "approx", 145),
            "intensity_aw_min": cell("min. 4", "M", "approx", 4),
        },
        "no strict constraint (L)",
    ),
    PaperRow(
        "resnext3d",
        "Computer vision",
        "ResNeXt3D",
        (("ir_csn_152", {"layers": [3, 4, 23, 3]}),),
        (1,),
        "1 clip (32x224x224); ir-CSN with ResNeXt-101's [3, 4, 23, 3] stages",
        _CV,
        True,
        True,
        {
            "params": cell("21M or 8M", "L", "approx", 21e6, 8e6),
            "max_live_activations": cell("58M or 67M", "L", "approx", 58e6, 67e6),
            "intensity_w_avg": cell("avg. 22K", "L", "approx", 22e3),
            "intensity_w_min": cell("min. 2K", "L", "approx", 2e3),
            "intensity_aw_avg": cell("avg. 172 or 58", "L", "approx", 172, 58),
            "intensity_aw_min": cell("min. 6", "M", "approx", 6),
        },
        "no strict constraint (L)",
        {
            "intensity_w_avg": "the row is recalled, not read (docs/paper_notes.md, section "
            "10). 22K matches no weighted average of a channel-separated ResNeXt3D; the "
            "unweighted mean of per-layer ops per weight is {layer_mean}",
            "intensity_w_min": "the smallest conv reuse is the 4x7x7 final stage (2 x 196 = 392 "
            "ops per weight at 32x224x224); 2K would need a final map about 5x larger",
            "params": "the channel-separated 101-layer model has 22M params; ResNeXt3D-101 with "
            "grouped convs (resnext3d_101) has 48M and cannot reach the row's min 6",
        },
    ),
    PaperRow(
        "seq2seq",
        "Language",
        "seq2seq",
        (("seq2seq_gru", {"view": "decode_step", "beam_size": 1}),),
        (1, 10),
        "one decoder step, batch x beam = 1-10 hypotheses (params and live activations: "
        "the whole translation)",
        frozenset({"fc", "recurrent"}),
        True,
        False,
        {
            "params": cell("100M-1B", "M", "bound", (1e8, 1e9)),
            "max_live_activations": cell(">100K", "L", "bound", (1e5, INF)),
            **_intensities(_TWO_TO_TWENTY, _TWO_TO_TWENTY_AW),
        },
        "~10s of ms (L)",
        {},
        ("seq2seq_gru", {"view": "translate"}),
    ),
)
