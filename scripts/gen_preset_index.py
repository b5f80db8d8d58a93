"""Write roofline/preset_index.json, the static index ``roofline list`` reads, from the presets.
Run after adding or changing a model, device or system spec; tests/test_preset_index.py checks it
is current.

    python scripts/gen_preset_index.py
"""

from __future__ import annotations

from roofline.output_files import write_text
from roofline.preset_index import INDEX_FILE, index_text
from roofline.presets import preset_index


def main() -> None:
    write_text(str(INDEX_FILE), index_text(preset_index()))
    print(f"wrote {INDEX_FILE}")


if __name__ == "__main__":
    main()
