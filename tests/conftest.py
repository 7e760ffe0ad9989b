"""Suite-wide settings: a deterministic hypothesis profile so runs never flake."""

from __future__ import annotations

import pytest
from hypothesis import settings

# Helpers whose asserts should explain themselves like a test's (pytest rewrites them on import).
pytest.register_assert_rewrite("tests.core.stats_helpers", "tests.encoders.plot_helpers")

settings.register_profile(
    "weightinit",
    derandomize=True,
    deadline=None,
    max_examples=60,
    print_blob=True,
)
settings.load_profile("weightinit")
