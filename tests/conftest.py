"""Shared pytest configuration: the hypothesis profiles.

``ci`` (the default) is derandomized, so every run draws the same 200 examples per property and a
failure reproduces exactly; ``dev`` draws fresh random examples (``HYPOTHESIS_PROFILE=dev``).
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    max_examples=200,
    derandomize=True,
    deadline=None,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile("dev", max_examples=200, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
