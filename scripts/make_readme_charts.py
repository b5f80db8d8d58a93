"""Write the README's charts to docs/img/ (run from the repository root).

    python scripts/make_readme_charts.py

Every chart comes from the installed package's public API; nothing here computes a number.
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

import roofline as rl  # noqa: E402
from roofline import plot  # noqa: E402

OUT = Path(__file__).resolve().parents[1] / "docs" / "img"
DEVICE = "hypothetical_100tops"


def roofline_chart() -> None:
    """The paper's models on its hypothetical 100 TOP/s accelerator, with Table 1's marks."""
    models = {"resnext101_32x4d": 1, "rec_paper": 100, "seq2seq_gru": 1}
    rs = [rl.evaluate(m, DEVICE, batch=b, dtype="int8") for m, b in models.items()]
    ax = plot.roofline(rs, table1=True)
    plot.save(ax, str(OUT / "roofline_paper_models.png"))
    plt.close(ax.figure)


def study_chart(study: rl.Study, name: str) -> None:
    """All panels of ``study`` in one PNG under docs/img/."""
    fig = study.figure()
    fig.savefig(OUT / name, dpi=110)
    plt.close(fig)


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    roofline_chart()
    study_chart(rl.engine_balance_study(), "engine_balance.png")
    study_chart(rl.onchip_memory_study(), "onchip_memory.png")
    for name in ("roofline_paper_models.png", "engine_balance.png", "onchip_memory.png"):
        print(f"docs/img/{name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
