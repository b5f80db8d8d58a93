"""Write what the README shows: its charts to docs/img/ and its Table 1 block (run from anywhere).

    python scripts/make_readme_charts.py

Every chart and number comes from the installed package's public API; nothing here computes a
number. tests/test_readme.py checks that the README's Table 1 block is what this writes and that
every picture the README shows is one of :data:`CHARTS`.
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

import roofline as rl  # noqa: E402
from roofline import plot  # noqa: E402
from roofline.paper.table1 import render  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "img"
README = ROOT / "README.md"
DEVICE = "hypothetical_100tops"
#: the README's generated Table 1 lies between these two lines
TABLE1_START = (
    "<!-- generated: python scripts/make_readme_charts.py (roofline table1 --format markdown) -->"
)
TABLE1_END = "<!-- end generated -->"


def roofline_chart(out: Path) -> None:
    """The paper's models on its hypothetical 100 TOP/s accelerator, with Table 1's marks."""
    models = {"resnext101_32x4d": 1, "rec_paper": 100, "seq2seq_gru": 1}
    rs = [rl.evaluate(m, DEVICE, batch=b, dtype="int8") for m, b in models.items()]
    ax = plot.roofline(rs, table1=True)
    plot.save(ax, str(out))
    plt.close(ax.figure)


def study_chart(study: rl.Study, out: Path) -> None:
    """All panels of ``study`` in one PNG."""
    fig = study.figure()
    fig.savefig(out, dpi=110)
    plt.close(fig)


#: file name under docs/img/ -> what draws it there
CHARTS = {
    "roofline_paper_models.png": roofline_chart,
    "engine_balance.png": lambda out: study_chart(rl.engine_balance_study(), out),
    "onchip_memory.png": lambda out: study_chart(rl.onchip_memory_study(), out),
}


def table1_block() -> str:
    """The README's Table 1 block: ``roofline table1 --format markdown`` between the markers."""
    return f"{TABLE1_START}\n\n{render(rl.table1(), 'markdown').strip()}\n\n{TABLE1_END}"


def readme_with_table1(text: str) -> str:
    """``text`` (the README) with its Table 1 block replaced by :func:`table1_block`."""
    head, rest = text.split(TABLE1_START, 1)
    _, tail = rest.split(TABLE1_END, 1)
    return head + table1_block() + tail


def main(out: Path = OUT) -> int:
    out.mkdir(parents=True, exist_ok=True)
    for name, draw in CHARTS.items():
        draw(out / name)
        print(out / name)
    README.write_text(readme_with_table1(README.read_text(encoding="utf-8")), encoding="utf-8")
    print(README)
    return 0


if __name__ == "__main__":
    sys.exit(main())
