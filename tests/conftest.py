"""Suite-wide settings: a deterministic hypothesis profile so runs never flake."""

from __future__ import annotations

from hypothesis import settings

settings.register_profile(
    "weightinit",
    derandomize=True,
    deadline=None,
    max_examples=60,
    print_blob=True,
)
settings.load_profile("weightinit")
