"""The ``Range`` request header (RFC 9110 section 14): one byte range, or none.

``bytes=a-b``, ``bytes=a-`` and ``bytes=-n`` (the last n bytes) are served as one range (206).
A header this module cannot parse, another unit, or several ranges give ``None``: the
whole body is sent with 200, which RFC 9110 allows (a server MAY ignore Range). A range that
starts at or past the end (or ``-0``) is unsatisfiable: 416 with ``Content-Range: bytes */N``.
"""

from __future__ import annotations

import re

from .problems import ProblemError

_ONE = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$", re.IGNORECASE)


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """``(start, stop)`` (stop exclusive) of the one range asked for, or None for the whole."""
    if not header:
        return None
    match = _ONE.match(header)
    if match is None:
        return None  # several ranges, another unit, or not a range at all
    first, last = match.group(1), match.group(2)
    if first == "" and last == "":
        return None
    if first == "":  # suffix: the last n bytes
        count = int(last)
        if count == 0:
            raise ProblemError(
                416,
                "Range bytes=-0 asks for the last 0 bytes; ask for bytes=-N with N >= 1.",
                headers={"Content-Range": f"bytes */{size}"},
            )
        if size == 0:
            raise unsatisfiable(size)
        return max(0, size - count), size
    start = int(first)
    stop = size if last == "" else min(size, int(last) + 1)
    if last != "" and int(last) < start:
        return None  # invalid: ignored, whole body
    if start >= size:
        raise unsatisfiable(size)
    return start, stop


def unsatisfiable(size: int) -> ProblemError:
    return ProblemError(
        416,
        f"The range asked for starts at or past the end of the {size}-byte body; ask for "
        f"bytes 0-{max(size - 1, 0)} or a suffix like bytes=-1024.",
        headers={"Content-Range": f"bytes */{size}"},
    )
