"""The hand-written zip records equal what ``zipfile`` writes, zip64 cases included.

``encode_npz`` (and the streamed npz bodies) write local headers, the central directory and
the end records themselves, so a body can be sent member by member. These tests build the same
archive with ``zipfile`` (the writer of every npz before streaming) and require equal bytes,
with ``zipfile.ZIP64_LIMIT`` and ``ZIP_FILECOUNT_LIMIT`` lowered so the zip64 paths (large
members, far offsets, many members) run on small inputs.
"""

from __future__ import annotations

import io
import zipfile
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray

from app.encoders import encode_npz
from app.encoders.npy import encode_npy
from app.encoders.npz import _member


def zipfile_npz(arrays: dict[str, NDArray[Any]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for name, array in arrays.items():
            archive.writestr(_member(name), encode_npy(array))
    return buffer.getvalue()


def arrays_of(sizes: list[int]) -> dict[str, NDArray[Any]]:
    rng = np.random.default_rng(len(sizes))
    return {f"layer{i}.w": rng.standard_normal(n).astype(np.float32) for i, n in enumerate(sizes)}


@pytest.mark.parametrize("sizes", [[3], [0], [100, 7, 1], [5000, 20, 40000]])
def test_npz_equals_zipfile_bytes(sizes: list[int]) -> None:
    arrays = arrays_of(sizes)
    assert encode_npz(arrays) == zipfile_npz(arrays)


@pytest.mark.parametrize("limit", [150, 600, 3000, 30000])
def test_npz_zip64_records_equal_zipfile_bytes(monkeypatch: pytest.MonkeyPatch, limit: int) -> None:
    monkeypatch.setattr(zipfile, "ZIP64_LIMIT", limit)
    arrays = arrays_of([10, 200, 1000, 5000, 3])
    ours = encode_npz(arrays)
    assert ours == zipfile_npz(arrays)
    loaded = np.load(io.BytesIO(ours))
    for name, array in arrays.items():
        assert loaded[name].tobytes() == array.tobytes()


def test_npz_many_members_use_zip64_end_records(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(zipfile, "ZIP_FILECOUNT_LIMIT", 4)
    arrays = arrays_of([1, 2, 3, 4, 5, 6])
    assert encode_npz(arrays) == zipfile_npz(arrays)


def test_empty_npz_equals_zipfile_bytes() -> None:
    assert encode_npz({}) == zipfile_npz({})
