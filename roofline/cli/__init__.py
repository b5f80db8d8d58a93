"""The command line, ``roofline ...`` (see :mod:`roofline.cli.main`)."""

from roofline.cli.main import main

__all__ = ["main"]
