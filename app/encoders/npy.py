"""One array as a ``.npy`` file, format version 1.0 (numpy NEP 1, ``numpy.lib.format``).

Layout: the magic ``\\x93NUMPY``, the version bytes ``\\x01\\x00``, the header length as a
little-endian uint16, then the header: the repr of a dict with the keys ``descr``
(``'<f4'``...), ``fortran_order`` (always ``False``) and ``shape``, padded with spaces and
ended by ``\\n`` so the data starts on a 64-byte boundary; then the raw little-endian C-order
bytes. The header is written here exactly as ``numpy.lib.format.write_array`` (numpy 2.x)
writes it, including the spare spaces it leaves for growing the first axis, but it does not
depend on the installed numpy, so the bytes stay fixed. ``.npy`` has no bfloat16.
"""

from __future__ import annotations

import struct
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .raw import dtype_info, raw_bytes, refuse_bfloat16

MAGIC = b"\x93NUMPY\x01\x00"
ALIGN = 64  # numpy.lib.format.ARRAY_ALIGN
GROWTH_AXIS_MAX_DIGITS = 21  # numpy.lib.format.GROWTH_AXIS_MAX_DIGITS


def npy_header(descr: str, shape: tuple[int, ...]) -> bytes:
    """The magic, version, header length and padded header of a C-order array."""
    text = f"{{'descr': {descr!r}, 'fortran_order': False, 'shape': {shape!r}, }}"
    if shape:
        text += " " * (GROWTH_AXIS_MAX_DIGITS - len(repr(shape[0])))
    body = text.encode("latin1")
    pad = ALIGN - (len(MAGIC) + 2 + len(body) + 1) % ALIGN
    header = body + b" " * pad + b"\n"
    if len(header) > 0xFFFF:
        raise ValueError(f"a .npy v1.0 header holds at most 65535 bytes, not {len(header)}")
    return MAGIC + struct.pack("<H", len(header)) + header


def encode_npy(array: NDArray[Any]) -> bytes:
    """``array`` as the bytes of a ``.npy`` v1.0 file (``np.load`` reads it back exactly).

    Raises :class:`~app.core.errors.InvalidParameterError` (``field="dtype"``) for bfloat16
    and other dtypes ``.npy`` cannot describe portably.
    """
    array = np.asarray(array)
    refuse_bfloat16(array, ".npy")
    descr = dtype_info(array).npy_descr
    assert descr is not None  # only bfloat16 lacks one
    header = npy_header(descr, tuple(int(d) for d in array.shape))
    return b"".join((header, raw_bytes(array)))
