"""Model arguments shared by the commands that evaluate models: ``--set KEY=VALUE`` and
``MODEL:key=value,...`` (family parameters overridden), loaded through the presets."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from roofline.model import Model, parse_overrides
from roofline.presets import load_model


def add_model_options(parser: argparse.ArgumentParser) -> None:
    """Add ``--set KEY=VALUE`` (repeatable): family parameters set on every model given (a model
    argument may also carry its own as ``MODEL:key=value,key=value``)."""
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="set a model parameter on every model, e.g. --set context_len=4096 "
        "(repeatable; or per model: llama2_7b:phase=decode,context_len=4096)",
    )


def models_of(names: Sequence[str], sets: Sequence[str]) -> list[Model]:
    """The models named (presets, paths, ``MODEL:key=value,...``) with ``--set`` applied."""
    overrides = parse_overrides(list(sets)) if sets else {}
    return [load_model(n, **overrides) for n in names]
