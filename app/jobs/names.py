"""The one alphabet of layer and tensor names, for every format.

A name is 1 to 255 characters from ``A-Z a-z 0-9 _ . / -``; split at ``/`` it has no empty,
``.`` or ``..`` segment and it does not start with ``/``. Hugging Face names need capitals and
Flax/Keras names need ``/``; the segment rule keeps every name a safe member name of an
archive (npz members are ``<name>.npy``: no absolute path, no ``..``, no zip slip). The rule
holds for a layer name and for each full tensor name (``<layer>.<tensor>``), and it is checked
before any array exists.
"""

from __future__ import annotations

import re

MAX_NAME_LENGTH = 255
NAME_PATTERN = r"^[A-Za-z0-9_./\-]+$"
NAME_RULE = (
    "1 to 255 letters, digits and the characters _ . / - only, with no empty, '.' or '..' "
    "part between slashes and no leading or trailing slash, e.g. encoder.layers.0 or "
    "dense_1/kernel"
)
_ALPHABET = re.compile(NAME_PATTERN)


def name_problem(name: str) -> str | None:
    """Why ``name`` breaks the rule, in words (None: it obeys it)."""
    if not 1 <= len(name) <= MAX_NAME_LENGTH:
        return f"a name has 1 to {MAX_NAME_LENGTH} characters; this one has {len(name)}"
    if not _ALPHABET.match(name):
        return "a name holds letters, digits and _ . / - only"
    if any(part in ("", ".", "..") for part in name.split("/")):
        return "no part between slashes may be empty, '.' or '..' (no leading or trailing slash)"
    return None
