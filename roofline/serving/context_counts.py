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
    COLUMN_SOURCES,
    ELEMENT_FIELDS,
    Elements,
    assemble,
    coefficients,
    count_elements,
    weight_copies,
)
from roofline.errors import SpecError
from roofline.fusion import (
    fuse_table,
    fusion_plan,
    inner_elements,
)
from roofline.graph import Graph
from roofline.liveness import live_elements
from roofline.model import Model
from roofline.precision import Precision, per_element
from roofline.records import CostTable
from roofline.serving.count_map import LIVE, PER_OP, STACK, CountMap, powers

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
    #: the higher coefficients' columns of the moving entries, transposed [M, degree + 1]
    moving_t: np.ndarray

    def all_at(self, length: np.ndarray) -> dict[str, np.ndarray]:
        """Every quantity at each length: name -> shape [..., len(length)], or [..., 1] for a
        quantity that does not depend on the length."""
        moving = self.moving_t @ powers(length, self.degree)  # [M, P]
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
    inv = np.linalg.inv(powers(np.array(lengths, dtype=float), degree).T)
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
    return _Fit(coef, slices, degree, moving, varying, fixed, span, coef[:, moving].T)


def _close(a: np.ndarray, b: np.ndarray) -> bool:
    scale = np.maximum(np.maximum(np.abs(a), np.abs(b)), 1.0)
    return bool(np.all(np.abs(a - b) <= FIT_RTOL * scale))


@dataclass(frozen=True, eq=False)
class _Plan:
    """The rows a fit's table is made of, worked out once: every count that changes with the
    columns is one row of a matrix [rows, P] = ``scale * (a + b * batch)`` (the formula of
    :meth:`PhaseCounts.elements`), where ``a`` and ``b`` are constants or entries of the fit's
    moving quantities; the table's columns are rows of it, times bytes per element. Rows that
    are zero at every column (most ops read no KV cache, gather no rows...) are left out.
    :meth:`PhaseCounts.count_map` turns the rows into coefficients of the monomials of
    (batch, length). Index arrays are read-only."""

    fit: _Fit
    #: [rows, 1]: each row's factor (``repeat``, or 1), constant intercept (0 where it moves)
    #: and constant slope
    scale: np.ndarray
    a: np.ndarray
    b: np.ndarray
    #: rows whose intercept / slope moves with the length, and their moving entries of the fit
    a_rows: np.ndarray
    a_from: np.ndarray
    b_rows: np.ndarray
    b_from: np.ndarray
    #: rows of the GEMM dims (m, n, k, then count: [4, G]) and of the fused-inner elements
    gemms: slice
    inner: slice
    #: stacked table rows ([len(STACK) x O] flattened) written from rows, then added to
    put_to: np.ndarray
    put_from: np.ndarray
    put_keys: tuple[str | None, ...]
    add_to: np.ndarray
    add_from: np.ndarray
    add_keys: tuple[str | None, ...]
    n_ops: int


def _lean_plan(fit: _Fit, template: Graph) -> _Plan | None:
    """The :class:`_Plan` of ``fit``; None where its shortcuts would not give the counts of
    :meth:`PhaseCounts.elements` (a -0.0 coefficient, a weight that moves with the length)."""
    coef = fit.coef
    co = coefficients(template)
    rep = co.repeat
    if fit.varying & {"weight", "row"} or np.signbit(coef[coef == 0.0]).any():
        return None
    if not np.all(np.isfinite(rep) & (rep > 0.0)):
        return None
    # zero rows stay +0.0 and adding +0.0 changes no count: a row is zero for good when its
    # coefficients are +0.0 and do not move (no coefficient is -0.0, so no count is)
    pos = np.full(coef.shape[1], -1, dtype=np.intp)
    pos[fit.moving] = np.arange(fit.moving.size)

    def entries(name: str) -> np.ndarray:
        s, shape = fit.slices[name]
        return np.arange(s.start, s.stop).reshape(shape)

    scale: list[np.ndarray] = []
    ai: list[np.ndarray] = []
    bi: list[np.ndarray] = []
    row_of: dict[str, np.ndarray] = {}  # quantity -> row of each op (-1: zero)
    start = 0
    quantities = dict.fromkeys(q for srcs in COLUMN_SOURCES.values() for q, _ in srcs)
    quantities["vector_mac_flops"] = None
    for q in quantities:
        a = entries(f"a.{q}") if q != "live" else np.full(co.repeat.size, -1)
        b = entries(f"b.{q}") if q != "live" else entries("live")
        zero = (a < 0) | ((pos[a] < 0) & (coef[0, a] == 0.0))
        zero &= (pos[b] < 0) & (coef[0, b] == 0.0)
        keep = np.flatnonzero(~zero)
        row_of[q] = np.full(rep.size, -1, dtype=np.intp)
        row_of[q][keep] = start + np.arange(keep.size)
        start += keep.size
        scale.append(rep[keep] if q != "live" else np.ones(keep.size))
        ai.append(a[keep])
        bi.append(b[keep])
    gemms = slice(start, start + co.gemm_op.size * 4)
    scale += [np.ones(co.gemm_op.size * 3), rep[co.gemm_op]]
    ai.append(entries("gemm_a").T.ravel())
    bi.append(entries("gemm_b").T.ravel())
    groups = entries("inner")
    inner = slice(gemms.stop, gemms.stop + groups.size)
    scale.append(np.ones(groups.size))
    ai.append(np.full(groups.size, -1))
    bi.append(groups)
    a_idx, b_idx = np.concatenate(ai), np.concatenate(bi)
    moves_a = (a_idx >= 0) & (pos[a_idx] >= 0)
    moves_b = pos[b_idx] >= 0
    a_const = np.where((a_idx >= 0) & ~moves_a, coef[0, a_idx], 0.0)
    b_const = np.where(moves_b, 0.0, coef[0, b_idx])

    n = rep.size
    put: list[tuple[int, int, str | None]] = []
    add: list[tuple[int, int, str | None]] = []
    for c, name in enumerate(STACK):
        srcs = COLUMN_SOURCES.get(name, ())
        if name == "flops_mac":  # written as the GEMM FLOPs: the vector ones are added
            srcs = (("flops_matrix", None), ("vector_mac_flops", None))
        for op in range(n):
            # the first source that is not zero is written (+0.0 plus it is itself), any later
            # one added to it
            nonzero = [(q, key) for q, key in srcs if q == "flops_matrix" or row_of[q][op] >= 0]
            for k, (q, key) in enumerate(nonzero):
                if q != "flops_matrix":
                    (add if k else put).append((c * n + op, int(row_of[q][op]), key))

    def ro(x: Any, dtype: Any = None) -> np.ndarray:
        arr = np.array(x, dtype=dtype)
        arr.flags.writeable = False
        return arr

    def column(x: list[np.ndarray]) -> np.ndarray:
        return ro(np.concatenate(x)[:, None], float)

    return _Plan(
        fit=fit,
        scale=column(scale),
        a=ro(a_const[:, None]),
        b=ro(b_const[:, None]),
        a_rows=ro(np.flatnonzero(moves_a)),
        a_from=ro(pos[a_idx[moves_a]]),
        b_rows=ro(np.flatnonzero(moves_b)),
        b_from=ro(pos[b_idx[moves_b]]),
        gemms=gemms,
        inner=inner,
        put_to=ro([t for t, _, _ in put], np.intp),
        put_from=ro([f for _, f, _ in put], np.intp),
        put_keys=tuple(k for _, _, k in put),
        add_to=ro([t for t, _, _ in add], np.intp),
        add_from=ro([f for _, f, _ in add], np.intp),
        add_keys=tuple(k for _, _, k in add),
        n_ops=n,
    )


def _factors(keys: tuple[str | None, ...], precision: Precision) -> np.ndarray:
    """Bytes per element of each key [len(keys), 1] (1 for None: elements), read-only."""
    per = per_element(precision)
    out = np.array([per[k] if k else 1.0 for k in keys]).reshape(-1, 1)
    out.flags.writeable = False
    return out


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
        self._plan = _lean_plan(self._fit, self.template) if self._fit is not None else None
        self._maps: dict[tuple[str | Precision, bool], CountMap] = {}
        self._beside: dict[tuple[int, str | Precision, bool], tuple[PhaseCounts, CountMap | None]]
        self._beside = {}

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
            self._plan = None
            self._maps.clear()
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
        """The phase's counts with one column per (``batch``, ``length``) point [P] (batches
        positive and finite, as :func:`~roofline.counting.as_batches` leaves them)."""
        batch = np.asarray(batch, dtype=float)
        length = np.asarray(length, dtype=float)
        self._check(int(length.max()))
        if batch.ndim == 1 and length.shape == batch.shape:
            counts = self.count_map(precision, fuse)
            if counts is not None:
                return counts.table((batch, length))
        el, inner = self.elements(batch, length)
        ct = assemble(self.template, el, Precision.of(precision))
        return fuse_table(ct, self.template, inner) if fuse else ct

    def count_map(self, precision: str | Precision, fuse: bool) -> CountMap | None:
        """The phase's table as a linear map of the monomials of its points (worked out once
        per precision and fusion); None where its counts are not a polynomial fit."""
        if self._plan is None:
            return None
        key = (precision, fuse)
        if key not in self._maps:
            self._maps[key] = self._new_map(self._plan, Precision.of(precision), fuse)
        return self._maps[key]

    def table_beside(
        self,
        other: PhaseCounts,
        points: tuple[np.ndarray, np.ndarray],
        other_points: tuple[np.ndarray, np.ndarray],
        precision: str | Precision,
        fuse: bool,
    ) -> CostTable | None:
        """One table of this phase's (batch, length) ``points`` [C1] then ``other``'s [C2]
        (another phase of the same ops: one graph's prefill and decode); None where the two are
        not the same ops or either is not a polynomial fit."""
        for pc, (_, length) in ((self, points), (other, other_points)):
            pc._check(int(np.max(length)))
        key = (id(other), precision, fuse)
        if key not in self._beside:
            mine, theirs = self.count_map(precision, fuse), other.count_map(precision, fuse)
            both = mine.beside(theirs) if mine is not None and theirs is not None else None
            self._beside[key] = (other, both)
        both = self._beside[key][1]
        if both is None or self._plan is None or other._plan is None:
            return None
        return both.table(points, other_points)

    def _new_map(self, plan: _Plan, precision: Precision, fuse: bool) -> CountMap:
        """The :class:`~roofline.serving.count_map.CountMap` of ``plan``: each row's
        ``scale x (a(L) + b(L) x B)`` as coefficients of ``1, L, .., B, B L, ..``, times bytes
        per element, stacked as the table's columns (and summed over fused kernels)."""
        d, n = plan.fit.degree, plan.n_ops
        rows = np.zeros((plan.scale.shape[0], 2 * (d + 1)))
        rows[:, 0], rows[:, d + 1] = plan.a[:, 0], plan.b[:, 0]
        rows[plan.a_rows, : d + 1] += plan.fit.moving_t[plan.a_from]
        rows[plan.b_rows, d + 1 :] += plan.fit.moving_t[plan.b_from]
        rows *= plan.scale
        flat = np.zeros((len(STACK) * n, rows.shape[1]))
        flat[plan.put_to] = rows[plan.put_from] * _factors(plan.put_keys, precision)
        flat[plan.add_to] += rows[plan.add_from] * _factors(plan.add_keys, precision)
        stack = flat.reshape(len(STACK), n, -1)
        gemm = rows[plan.gemms]
        # the fields that do not depend on the columns, from the table at one point
        one = np.ones(1)
        ct = assemble(self.template, self.elements(one, one * PROBES[self.phase][0])[0], precision)
        if not fuse or fusion_plan(self.template).first.size == n:
            per_op = {f: getattr(ct, f) for f in PER_OP}
            return CountMap.of((d,), stack, None, None, gemm, precision, per_op)
        # fusion is linear in the counts, but for a kernel's live bytes (its ops' largest, kept
        # unfused in the map): the coefficients fuse as fuse_table fuses counts
        coef = ct.with_columns(**dict(zip(STACK, stack)))
        fused = fuse_table(coef, self.template, rows[plan.inner])
        columns = [getattr(fused, f) for f in STACK[:LIVE]]
        dense = np.stack([*columns, np.zeros_like(columns[0])])
        per_op = {f: getattr(fused, f) for f in PER_OP}
        return CountMap.of((d,), dense, stack[LIVE], self.template, gemm, precision, per_op)


def phase_counts(model: Model, phase: Phase) -> PhaseCounts:
    """The :class:`PhaseCounts` of ``model``'s phase (built once per model: its probe graphs and
    fit are the costly part). Kept with the model's graph, which only that model owns: a
    reference cycle the garbage collector frees with the model (a weak-keyed table would not:
    its values refer to their key)."""
    graph: Graph = model.graph
    return graph.derived(f"phase_counts.{phase}", lambda _: PhaseCounts(model, phase))
