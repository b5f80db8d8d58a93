"""Table 1 metrics of Park et al. (2018) for any model.

Per *layer* (an op with parameters, other than normalization: convolutions, FCs, embeddings,
recurrent layers), with elements, not bytes, as the paper counts (equal to bytes at int8):

* ``intensity_w`` = FLOPs / weight elements the layer reads (for an embedding, the rows it
  touches, so sum pooling gives 1 op per element and weighted pooling 2);
* ``intensity_aw`` = FLOPs / (weight read + activation in + activation out elements).

The model's average is total layer FLOPs / total denominator, and its minimum the smallest layer
value. Max live activations: the peak, over the execution order, of activation elements alive at
once (:meth:`roofline.graph.Graph.live_elements`), times the batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from roofline.kinds import TensorClass
from roofline.records import CostTable

#: op categories that are not Table 1 "layers" even though they hold parameters
NOT_LAYERS = frozenset({"normalization"})


@dataclass(frozen=True)
class Table1Row:
    """Table 1 metrics of one model at one batch (elements, FLOPs per element)."""

    model: str
    batch: float
    params: float
    embedding_params: float
    dense_params: float
    flops: float
    max_live_activations: float
    max_live_activation_bytes: float
    intensity_w_avg: float
    intensity_w_min: float
    intensity_aw_avg: float
    intensity_aw_min: float


def layer_mask(ct: CostTable) -> np.ndarray:
    """Boolean [O]: ops that are Table 1 layers (have weights, not normalization)."""
    return np.array(
        [w > 0 and c not in NOT_LAYERS for w, c in zip(ct.weight_elems, ct.categories)], dtype=bool
    )


def weight_read_elems(ct: CostTable) -> np.ndarray:
    """Weight elements each op reads per run [O, B]: dense weights, or embedding rows touched."""
    wb = ct.precision.bytes_per(TensorClass.WEIGHT)
    dense = ct.weight_read_bytes / wb
    rows = ct.gather_rows * (ct.gather_row_bytes / wb)[:, None]
    return dense + rows


def mean_intensities(flops: np.ndarray, w: np.ndarray, aw: np.ndarray) -> tuple[float, float]:
    """Table 1's average intensities of the layers whose FLOPs, weight elements read and weight
    + input + output activation elements are ``flops``, ``w``, ``aw`` (one batch): total FLOPs
    over total ``w``, and over total ``aw`` (NaN without a denominator). The one place these two
    figures are computed (:func:`table1`, :func:`average_intensities`)."""
    f, w_sum, aw_sum = flops.sum(), w.sum(), aw.sum()
    nan = float("nan")
    return (float(f / w_sum) if w_sum else nan, float(f / aw_sum) if aw_sum else nan)


def average_intensities(
    ct: CostTable, mask: np.ndarray | None = None, j: int = 0
) -> tuple[float, float]:
    """Table 1's average intensities (:func:`mean_intensities`) of the layers among ops ``mask``
    [O] (all ops when None) of the *unfused* counts ``ct``
    (:func:`~roofline.counting.count_graph` with ``fuse=False``, layer by layer as the paper
    counts) at batch index ``j``: :func:`table1`'s ``intensity_w_avg`` and ``intensity_aw_avg``,
    :mod:`roofline.paper.table1`'s, and the Table 1 marks of the roofline chart
    (:func:`roofline.plot.roofline`). Fused counts would differ: a fused kernel reads a residual
    add's input as activation input and holds batch norm's parameters as weights."""
    layers = layer_mask(ct)
    if mask is not None:
        layers &= np.asarray(mask, dtype=bool)
    flops = (ct.flops_matrix + ct.flops_vector)[:, j]
    w = weight_read_elems(ct)[:, j]
    aw = w + ct.act_in_elems[:, j] + ct.act_out_elems[:, j]
    return mean_intensities(flops[layers], w[layers], aw[layers])


def table1(ct: CostTable, j: int = 0) -> Table1Row:
    """Table 1 metrics of a counted model at batch index ``j``."""
    mask = layer_mask(ct)
    flops = (ct.flops_matrix + ct.flops_vector)[:, j]
    w = weight_read_elems(ct)[:, j]
    aw = w + ct.act_in_elems[:, j] + ct.act_out_elems[:, j]
    lf, lw, law = flops[mask], w[mask], aw[mask]
    w_avg, aw_avg = mean_intensities(lf, lw, law)
    with np.errstate(divide="ignore", invalid="ignore"):
        iw = np.where(lw > 0, lf / lw, np.inf)
        iaw = np.where(law > 0, lf / law, np.inf)
    nan = float("nan")
    ab = ct.precision.bytes_per(TensorClass.ACT_IN)
    live_bytes = float(ct.live_act_bytes[:, j].max())
    is_table = ct.is_table
    return Table1Row(
        model=ct.model,
        batch=float(ct.batch[j]),
        params=float(ct.weight_elems.sum()),
        embedding_params=float(ct.weight_elems[is_table].sum()),
        dense_params=float(ct.weight_elems[~is_table].sum()),
        flops=float(flops.sum()),
        max_live_activations=live_bytes / ab,
        max_live_activation_bytes=live_bytes,
        intensity_w_avg=w_avg,
        intensity_w_min=float(iw.min()) if iw.size else nan,
        intensity_aw_avg=aw_avg,
        intensity_aw_min=float(iaw.min()) if iaw.size else nan,
    )
