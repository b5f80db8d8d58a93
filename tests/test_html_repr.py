"""Rich display in notebooks: tables and results render as HTML tables in human units."""

from __future__ import annotations

import re

import numpy as np

import roofline as rl
from roofline.table import HTML_HEAD, HTML_TAIL, Table


def _cells(markup: str) -> list[list[str]]:
    rows = re.findall(r"<tr>(.*?)</tr>", markup, flags=re.S)
    return [re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", r, flags=re.S) for r in rows]


def test_a_table_renders_its_columns_and_cells_in_human_units():
    t = Table(["model", "latency_s", "weight_bytes", "note"], [["m<1>", 0.0025, 2**20, "a&b"]],
              title="x <y>")  # fmt: skip
    markup = t._repr_html_()
    assert "<caption>x &lt;y&gt;</caption>" in markup
    header, row = _cells(markup)
    assert header == ["model", "latency_s", "weight_bytes", "note"]
    # 2.5 ms; 2^20 bytes is exactly one MiB; markup in values is escaped
    assert row == ["m&lt;1&gt;", "2.5 ms", "1 MiB", "a&amp;b"]


def test_a_long_table_shows_its_head_and_tail():
    n = 1000
    t = Table.from_columns({"batch": np.arange(n), "latency_s": np.full(n, 1e-3)})
    rows = _cells(t._repr_html_())[1:]
    assert len(rows) == HTML_HEAD + 1 + HTML_TAIL
    assert rows[0][0] == "0" and rows[-1][0] == str(n - 1)
    assert f"{n - HTML_HEAD - HTML_TAIL} more rows" in rows[HTML_HEAD][0]


def test_a_long_table_prints_its_head_and_tail_but_exports_every_row():
    """``repr`` and the notebook's markdown show a long table's first and last rows with a line
    for the rest (a million-row sweep prints in a moment); ``to_text``, ``to_markdown`` and the
    exports keep every row."""
    n = 1000
    t = Table.from_columns({"batch": np.arange(n), "latency_s": np.full(n, 1e-3)}, title="sweep")
    lines = repr(t).splitlines()
    assert lines[:3] == ["sweep", "batch  latency_s", "-----  ---------"]
    body = lines[3:]
    assert len(body) == HTML_HEAD + 1 + HTML_TAIL
    assert body[0].split() == ["0", "1", "ms"] and body[-1].split()[0] == str(n - 1)
    assert body[HTML_HEAD] == f"... {n - HTML_HEAD - HTML_TAIL:,} more rows ..."
    md = t._repr_markdown_().splitlines()
    assert md[2 + HTML_HEAD] == f"| ... {n - HTML_HEAD - HTML_TAIL:,} more rows ... | |"
    assert len(md) == 2 + HTML_HEAD + 1 + HTML_TAIL
    assert len(t.to_text().splitlines()) == 3 + n
    assert len(t.to_markdown().splitlines()) == 2 + n
    short = Table.from_columns({"batch": np.arange(HTML_HEAD + HTML_TAIL + 1)})
    assert repr(short) == short.to_text()


def test_a_table_on_disk_previews_only_the_rows_it_shows():
    from roofline.disk_columns import CodedColumns

    n = 10_000
    decoded: list[int] = []

    def decode(name: str, codes: np.ndarray) -> np.ndarray:
        decoded.append(codes.size)
        return np.array(["a", "b"], dtype=object)[codes] if name == "device" else codes

    cols = CodedColumns({"device": np.arange(n) % 2, "batch": np.arange(n)}, n, decode)
    t = Table.from_columns(cols)
    text, markup = repr(t), t._repr_html_()
    assert decoded and max(decoded) == HTML_HEAD + HTML_TAIL
    assert f"{n - HTML_HEAD - HTML_TAIL:,} more rows" in text
    assert _cells(markup)[1] == ["a", "0"] and _cells(markup)[-1] == ["b", str(n - 1)]


def test_results_and_sweeps_render_their_totals():
    r = rl.evaluate("resnet50", "t4", batch=[1, 8], dtype="fp16")
    markup = r._repr_html_()
    assert "resnet50 at fp16 on t4, batch 1, 8" in markup
    assert len(_cells(markup)) == 1 + 2  # header and one row per batch
    s = rl.sweep("resnet50", "t4", {"memory.main.bandwidth": ["160 GB/s", "320 GB/s"]})
    assert len(_cells(s._repr_html_())) == 1 + 2
    sys_r = rl.evaluate("llama2_7b", "dgx_h100", batch=8, dtype="fp16", tp=[1, 8])
    markup = sys_r._repr_html_()
    assert "llama2_7b at fp16 on dgx_h100" in markup and "<table" in markup
