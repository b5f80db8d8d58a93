"""The static preset index ``roofline list`` reads is current: equal to what the presets give
(``python scripts/gen_preset_index.py`` rewrites it)."""

from __future__ import annotations

from roofline.preset_index import COLUMNS, INDEX_FILE, index_text, read_index
from roofline.presets import preset_index


def test_the_index_is_current():
    built = preset_index()
    assert index_text(built) == INDEX_FILE.read_text(encoding="utf-8"), (
        "roofline/preset_index.json is stale: run python scripts/gen_preset_index.py"
    )
    assert read_index() == built


def test_each_list_has_its_columns_and_every_preset():
    index = read_index()
    for what, cols in COLUMNS.items():
        assert index[what] and all(tuple(e) == cols for e in index[what]), what
