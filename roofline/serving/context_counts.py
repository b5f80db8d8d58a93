"""Counts of a decoder language model with the sequence length as an evaluation axis.

A decoder's counts depend on two lengths besides the batch: the prompt length ``p`` of the prefill
phase and the context length ``c`` (tokens in the KV cache, the new one included) of a decode step.
Rebuilding the graph for every length is what makes LLM sweeps slow, so :class:`PhaseCounts` builds
the phase's graph at a few probe lengths and fits every per-op count coefficient (element counts'
intercept and slope in batch, GEMM dims, live and fused-inner activation elements) as a polynomial
in the length: degree 1 for decode (KV reads and attention work grow linearly with the context),
degree 2 for prefill (the attention score matrix grows with the square of the prompt). Counts of
integer element counts are integers, so the fit is exact; it is checked at the largest length
asked for, and a phase whose counts are not polynomial in its length (a sliding attention window
past the window, a mixture-of-experts layer whose touched experts depend on the tokens) falls back
to one graph per distinct length. Either way the result is a :class:`~roofline.records.CostTable`
whose columns are arbitrary (batch, length) points, which the ordinary evaluation takes as is.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from roofline.counting import (
    ELEMENT_FIELDS,
    Elements,
    assemble,
    coefficients,
    count_elements,
    weight_copies,
)
from roofline.errors import SpecError
from roofline.fusion import fuse_table, inner_elements
from roofline.graph import Graph
from roofline.liveness import live_elements
from roofline.model import Model
from roofline.precision import Precision
from roofline.records import CostTable

Phase = Literal["prefill", "decode"]
#: probe lengths and polynomial degree of each phase
PROBES: dict[str, tuple[int, ...]] = {"prefill": (1, 2, 3), "decode": (1, 2)}
#: the family parameter that sets each phase's length
LENGTH_PARAM = {"prefill": "seq_len", "decode": "context_len"}
#: relative tolerance of the fit check (float rounding of large counts)
FIT_RTOL = 1e-9
#: graphs kept per phase when the counts are not polynomial in the length
MAX_GRAPHS = 64


def is_decoder(model: Model) -> bool:
    """Whether ``model`` has the prefill and decode phases of a decoder language model."""
    fields = type(model.params).model_fields
    return all(f in fields for f in ("phase", "seq_len", "context_len")) and (
        getattr(model.params, "architecture", "decoder") == "decoder"
    )


def _quantities(graph: Graph) -> dict[str, np.ndarray]:
    """Every per-op count coefficient of ``graph`` that can depend on a length, flattened."""
    co = coefficients(graph)
    out = {f"a.{f}": co.a[f] for f in ELEMENT_FIELDS}
    out.update({f"b.{f}": co.b[f] for f in ELEMENT_FIELDS})
    out.update(
        weight=co.weight,
        row=co.row_elems,
        gemm_a=co.gemm_a,
        gemm_b=co.gemm_b,
        live=live_elements(graph),
        inner=inner_elements(graph),
    )
    return out


def _structure(graph: Graph) -> tuple[Any, ...]:
    """What must not change with the length for a fit to hold: ops, GEMMs, fusion, exact ops."""
    co = coefficients(graph)
    return (
        tuple((op.kind, op.name, op.repeat) for op in graph.ops),
        tuple(co.gemm_op.tolist()),
        bool(co.exact.any()),
        inner_elements(graph).shape,
    )


def _power_basis(x: np.ndarray, degree: int) -> np.ndarray:
    """[degree + 1, len(x)] rows 1, x, x^2, ..."""
    return np.stack([x**k for k in range(degree + 1)])


@dataclass(frozen=True, eq=False)
class _Fit:
    """Polynomial coefficients of every quantity in the phase length, stacked into one matrix
    [degree + 1, total size]. Most quantities (weights, most activations) do not depend on the
    length: those are kept as their constant term, and only the entries that move with it take
    a product per call."""

    coef: np.ndarray
    slices: dict[str, tuple[slice, tuple[int, ...]]]
    degree: int
    #: flat indices of the entries whose higher coefficients are not all zero
    moving: np.ndarray
    #: the quantities that depend on the length (one moving entry or more)
    varying: frozenset[str]
    #: per quantity: its constant term, shape [..., 1] (read-only)
    fixed: dict[str, np.ndarray]
    #: the flat entries from the first to the last quantity that moves (start, stop)
    span: tuple[int, int]

    def all_at(self, length: np.ndarray) -> dict[str, np.ndarray]:
        """Every quantity at each length: name -> shape [..., len(length)], or [..., 1] for a
        quantity that does not depend on the length."""
        moving = self.coef[:, self.moving].T @ _power_basis(length, self.degree)  # [M, P]
        # the quantities that move, side by side: their constant terms, then the moving entries
        span = slice(self.span[0], self.span[1])
        full = np.repeat(self.coef[0, span][:, None], length.size, axis=1)
        full[self.moving - span.start] = moving
        out = {}
        for name, (s, shape) in self.slices.items():
            if name not in self.varying:
                out[name] = self.fixed[name]
            else:
                out[name] = full[s.start - span.start : s.stop - span.start].reshape(
                    *shape, length.size
                )
        return out


def _fit(probes: list[dict[str, np.ndarray]], lengths: tuple[int, ...]) -> _Fit:
    degree = len(lengths) - 1
    inv = np.linalg.inv(_power_basis(np.array(lengths, dtype=float), degree).T)
    slices, start = {}, 0
    for name, value in probes[0].items():
        slices[name] = (slice(start, start + value.size), value.shape)
        start += value.size
    stacked = np.stack([np.concatenate([p[n].ravel() for n in slices]) for p in probes])
    coef = inv @ stacked
    coef.flags.writeable = False
    # an entry with zero higher terms is its constant term exactly, at any length
    moves = (coef[1:] != 0.0).any(axis=0)
    moving = np.flatnonzero(moves)
    varying = frozenset(name for name, (s, _) in slices.items() if moves[s].any())
    fixed = {name: coef[0, s].reshape(*shape, 1) for name, (s, shape) in slices.items()}
    spans = [s for name, (s, _) in slices.items() if name in varying]
    span = (min(s.start for s in spans), max(s.stop for s in spans)) if spans else (0, 0)
    return _Fit(coef, slices, degree, moving, varying, fixed, span)


def _close(a: np.ndarray, b: np.ndarray) -> bool:
    scale = np.maximum(np.maximum(np.abs(a), np.abs(b)), 1.0)
    return bool(np.all(np.abs(a - b) <= FIT_RTOL * scale))


class PhaseCounts:
    """Counts of one phase of a decoder model at any (batch, length) points.

    Parameters
    ----------
    model : Model
        A decoder language model (:func:`is_decoder`).
    phase : "prefill" or "decode"
        ``prefill``: the length is the prompt (``seq_len``); ``decode``: the context in the KV
        cache, the new token included (``context_len``).
    """

    def __init__(self, model: Model, phase: Phase) -> None:
        if not is_decoder(model):
            raise SpecError(
                f"model {model.name!r} ({model.family}) has no prefill and decode phases",
                field="model",
                fix="use a decoder language model, e.g. llama2_7b or an HF config.json",
            )
        self.model = model
        self.phase = phase
        self._graphs: OrderedDict[int, Graph] = OrderedDict()
        probes = PROBES[phase]
        self.template = self.graph(probes[0])
        self.structure = _structure(self.template)
        graphs = [self.graph(n) for n in probes]
        self.polynomial = not self.structure[2] and all(
            _structure(g) == self.structure for g in graphs
        )
        self._fit = _fit([_quantities(g) for g in graphs], probes) if self.polynomial else None
        self._checked = max(probes)

    def graph(self, length: int) -> Graph:
        """The phase's graph at ``length`` tokens (built once, a bounded number kept)."""
        if length in self._graphs:
            self._graphs.move_to_end(length)
            return self._graphs[length]
        changes = {"phase": self.phase, LENGTH_PARAM[self.phase]: int(length)}
        graph = self.model.with_params(**changes).graph
        self._graphs[length] = graph
        if len(self._graphs) > MAX_GRAPHS:
            self._graphs.popitem(last=False)
        return graph

    def _check(self, length: int) -> None:
        """Hold the fit to the graph at ``length`` (the largest asked for); drop it if it fails."""
        if self._fit is None or length <= self._checked:
            return
        graph = self.graph(length)  # also validates the length (max_position_embeddings...)
        ok = _structure(graph) == self.structure
        if ok:
            got = self._fit.all_at(np.array([float(length)]))
            ok = all(_close(got[k][..., 0], v) for k, v in _quantities(graph).items())
        if ok:
            self._checked = length
        else:
            self._fit = None
            self.polynomial = False

    def elements(self, batch: np.ndarray, length: np.ndarray) -> tuple[Elements, np.ndarray]:
        """(:class:`~roofline.counting.Elements` over the points, fused-inner elements
        [groups, P]) at ``batch`` [P] samples and ``length`` [P] tokens."""
        length = np.asarray(length, dtype=float)
        self._check(int(length.max()))
        if self._fit is None:
            return self._by_graph(batch, length)
        q = self._fit.all_at(length)
        template = coefficients(self.template)
        rep = template.repeat[:, None]
        fields = {f: rep * (q[f"a.{f}"] + q[f"b.{f}"] * batch) for f in ELEMENT_FIELDS}
        dims = q["gemm_a"] + q["gemm_b"] * batch
        dims[:, 3] *= template.repeat[template.gemm_op][:, None]
        el = Elements(
            batch=batch,
            fields=fields,
            weight=weight_copies(self.template) * q["weight"][:, 0],
            row_elems=q["row"][:, 0],
            live=q["live"] * batch,
            gemm_op=template.gemm_op,
            gemm_dims=dims,
        )
        return el, q["inner"] * batch

    def _by_graph(self, batch: np.ndarray, length: np.ndarray) -> tuple[Elements, np.ndarray]:
        """Elements of the points counted from one graph per distinct length."""
        parts: list[tuple[np.ndarray, Elements, np.ndarray]] = []
        for n in np.unique(length):
            cols = np.flatnonzero(length == n)
            graph = self.graph(int(n))
            if _structure(graph)[:2] != self.structure[:2]:
                raise SpecError(
                    f"the {self.phase} graph changes shape with the length",
                    field=LENGTH_PARAM[self.phase],
                    fix="evaluate the lengths one at a time",
                )
            el = count_elements(graph, batch[cols])
            parts.append((cols, el, inner_elements(graph)[:, None] * batch[cols][None, :]))
        order = np.argsort(np.concatenate([c for c, _, _ in parts]), kind="stable")

        def cat(arrs: list[np.ndarray]) -> np.ndarray:
            return np.concatenate(arrs, axis=-1)[..., order]

        first = parts[0][1]
        el = Elements(
            batch=batch,
            fields={f: cat([e.fields[f] for _, e, _ in parts]) for f in ELEMENT_FIELDS},
            weight=first.weight,
            row_elems=first.row_elems,
            live=cat([e.live for _, e, _ in parts]),
            gemm_op=first.gemm_op,
            gemm_dims=cat([e.gemm_dims for _, e, _ in parts]),
        )
        return el, cat([inner for _, _, inner in parts])

    def table(
        self,
        batch: np.ndarray,
        length: np.ndarray,
        precision: str | Precision,
        fuse: bool = True,
    ) -> CostTable:
        """The phase's counts with one column per (``batch``, ``length``) point [P]."""
        el, inner = self.elements(np.asarray(batch, dtype=float), length)
        ct = assemble(self.template, el, Precision.of(precision))
        return fuse_table(ct, self.template, inner) if fuse else ct
