"""Several arrays as a ``.npz`` file: a zip archive of ``<name>.npy`` members.

``numpy.savez`` writes the same structure (see ``numpy.lib.npyio``); ``np.load`` returns the
members keyed by name without ``.npy``. To make the bytes depend on the arrays alone
(PKWARE APPNOTE 4.3.7 local headers, 4.3.12 central directory), every member has:

* the order of the mapping (as given);
* the timestamp 1980-01-01 00:00:00 (the earliest a zip can hold);
* no compression (``ZIP_STORED``), so no compressor version can change the bytes;
* "made by" Unix, permissions ``-rw-r--r--``, no extra fields, no comments.

ZIP64 records appear only for members of 4 GiB or more (``zipfile``'s rule, deterministic).
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Mapping
from typing import Any

from numpy.typing import NDArray

from .npy import encode_npy
from .raw import refuse_bfloat16

TIMESTAMP = (1980, 1, 1, 0, 0, 0)
UNIX = 3
FILE_MODE = 0o100644  # regular file, rw-r--r--


def _member(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name + ".npy", date_time=TIMESTAMP)
    info.compress_type = zipfile.ZIP_STORED
    info.create_system = UNIX
    info.external_attr = FILE_MODE << 16
    return info


def check_member_name(name: str) -> None:
    """Refuse names that are empty or would escape the extraction directory (zip slip)."""
    if not name:
        raise ValueError("array names must not be empty")
    if name.startswith("/") or "\\" in name or ".." in name.split("/") or "\0" in name:
        raise ValueError(f"array name {name!r} is not a safe zip member name")


def encode_npz(arrays: Mapping[str, NDArray[Any]]) -> bytes:
    """The arrays as the bytes of an uncompressed ``.npz``, member ``<name>.npy`` each.

    Raises ``ValueError`` for a duplicate, empty or unsafe name (absolute, ``..``,
    backslash, NUL) and :class:`~app.core.errors.InvalidParameterError`
    (``field="dtype"``) for bfloat16.
    """
    names = list(arrays.keys())
    if len(set(names)) != len(names):
        raise ValueError("array names must be unique")
    for name, array in arrays.items():
        check_member_name(name)
        refuse_bfloat16(array, ".npz")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for name, array in arrays.items():
            archive.writestr(_member(name), encode_npy(array))
    return buffer.getvalue()
