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
import struct
import zipfile
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from numpy.typing import NDArray

from .npy import encode_npy
from .raw import refuse_bfloat16

TIMESTAMP = (1980, 1, 1, 0, 0, 0)
UNIX = 3
FILE_MODE = 0o100644  # regular file, rw-r--r--
ZIP64_VERSION = 45  # zipfile.ZIP64_VERSION


def _empty_archive() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED):
        pass
    return buffer.getvalue()


EMPTY_NPZ = _empty_archive()


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


def _zip64_local(size: int) -> bool:
    # zipfile's rule for the local header (it allows for compression growing the data).
    return size * 1.05 > zipfile.ZIP64_LIMIT


def local_header_size(name: str, size: int) -> int:
    """Bytes of member ``name``'s local header, known before its CRC-32."""
    return 30 + len((name + ".npy").encode("utf-8")) + (20 if _zip64_local(size) else 0)


def local_header(name: str, size: int, crc: int) -> bytes:
    """The local file header of member ``<name>.npy`` holding ``size`` stored bytes."""
    info = _member(name)
    info.file_size = info.compress_size = size
    info.CRC = crc
    return info.FileHeader(_zip64_local(size))


@dataclass(frozen=True)
class NpzMember:
    """A written member: its name (without ``.npy``), stored size, CRC-32 and header offset."""

    name: str
    size: int
    crc: int
    offset: int


def _central_entry(member: NpzMember) -> bytes:
    """A member's central directory entry (zip64 extra field when a size or offset needs it)."""
    limit = zipfile.ZIP64_LIMIT
    info = _member(member.name)
    info.file_size = info.compress_size = member.size
    info.CRC = member.crc
    info.FileHeader(_zip64_local(member.size))  # sets the versions as zipfile does
    extra: list[int] = []
    size = member.size
    if size > limit:
        extra += [size, size]
        size = 0xFFFFFFFF
    offset = member.offset
    if offset > limit:
        extra.append(offset)
        offset = 0xFFFFFFFF
    extra_data = b""
    min_version = 0
    if extra:
        extra_data = struct.pack("<HH" + "Q" * len(extra), 1, 8 * len(extra), *extra)
        min_version = ZIP64_VERSION
    filename = info.filename.encode("utf-8")
    return (
        struct.pack(
            "<4s4B4HL2L5H2L",
            b"PK\x01\x02",
            max(min_version, info.create_version),
            info.create_system,
            max(min_version, info.extract_version),
            0,
            0x800 if not info.filename.isascii() else 0,
            zipfile.ZIP_STORED,
            0,  # dos time 00:00:00
            (0 << 9) | (1 << 5) | 1,  # dos date 1980-01-01
            member.crc,
            size,
            size,
            len(filename),
            len(extra_data),
            0,
            0,
            0,
            FILE_MODE << 16,
            offset,
        )
        + filename
        + extra_data
    )


def end_records(members: list[NpzMember]) -> bytes:
    """Central directory and end records of a non-empty archive, as ``zipfile`` writes them."""
    limit = zipfile.ZIP64_LIMIT
    directory = b"".join(_central_entry(member) for member in members)
    last = members[-1]
    start = last.offset + local_header_size(last.name, last.size) + last.size
    count, dir_size, dir_offset = len(members), len(directory), start
    records = [directory]
    if count > zipfile.ZIP_FILECOUNT_LIMIT or dir_offset > limit or dir_size > limit:
        records.append(
            struct.pack(
                "<4sQ2H2L4Q", b"PK\x06\x06", 44, 45, 45, 0, 0, count, count, dir_size, dir_offset
            )
        )
        records.append(struct.pack("<4sLQL", b"PK\x06\x07", 0, dir_offset + dir_size, 1))
        count, dir_size, dir_offset = (
            min(count, 0xFFFF),
            min(dir_size, 0xFFFFFFFF),
            min(dir_offset, 0xFFFFFFFF),
        )
    records.append(
        struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, count, count, dir_size, dir_offset, 0)
    )
    return b"".join(records)


def check_npz_names(names: list[str]) -> None:
    """Refuse duplicate, empty or unsafe member names."""
    if len(set(names)) != len(names):
        raise ValueError("array names must be unique")
    for name in names:
        check_member_name(name)


def encode_npz(arrays: Mapping[str, NDArray[Any]]) -> bytes:
    """The arrays as the bytes of an uncompressed ``.npz``, member ``<name>.npy`` each.

    Raises ``ValueError`` for a duplicate, empty or unsafe name (absolute, ``..``,
    backslash, NUL) and :class:`~app.core.errors.InvalidParameterError`
    (``field="dtype"``) for bfloat16.
    """
    check_npz_names(list(arrays.keys()))
    for array in arrays.values():
        refuse_bfloat16(array, ".npz")
    parts: list[bytes] = []
    members: list[NpzMember] = []
    offset = 0
    for name, array in arrays.items():
        data = encode_npy(array)
        crc = zlib.crc32(data)
        parts += [local_header(name, len(data), crc), data]
        members.append(NpzMember(name, len(data), crc, offset))
        offset += local_header_size(name, len(data)) + len(data)
    if not members:
        return EMPTY_NPZ
    return b"".join([*parts, end_records(members)])
