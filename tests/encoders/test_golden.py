"""Golden outputs for one small fixed input per format: a failure here means the bytes a
client receives changed (a format change must be deliberate, and noted in the changelog)."""

from __future__ import annotations

import hashlib

import ml_dtypes
import numpy as np

from app.encoders import (
    encode_npy,
    encode_npz,
    encode_safetensors,
    json_base64,
    json_values,
    sha256_hex,
)

W = (np.arange(12, dtype=np.float64).reshape(3, 4) / 10 - 0.55).astype(np.float32)
B = np.array([0.1, -0.0, 3.0], ml_dtypes.bfloat16)
N = np.array(0, np.int64)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_golden_json() -> None:
    assert json_values(W, "nested") == (
        "[[-0.55,-0.45,-0.35,-0.25],[-0.15,-0.05,0.05,0.15],[0.25,0.35,0.45,0.55]]"
    )
    assert json_values(B, "flat") == "[0.1,-0.0,3.0]"
    assert json_values(W.astype(np.float64)[0], "flat") == (
        "[-0.550000011920929,-0.44999998807907104,-0.3499999940395355,-0.25]"
    )
    assert json_values(N, "nested") == "0"
    assert json_base64(W) == "zcwMv2Zm5r4zM7O+AACAvpqZGb7NzEy9zcxMPZqZGT4AAIA+MzOzPmZm5j7NzAw/"


def test_golden_sha256() -> None:
    assert sha256_hex(W) == "0774b6f664166a67e57aef1f5ce5190e5979a9af91461f82270c4466a3bdf3fe"
    assert _sha(encode_npy(W)) == (
        "b1399dfaa3fc9f9bfca2b347473fadbf9bd4a914e92b160acd8d1c62c65c21a2"
    )
    npz = encode_npz({"encoder.0.weight": W, "bn.num_batches_tracked": N})
    assert _sha(npz) == "94e10b61b8be05ce1313e7b3071cf95311d725a991609b51c8a57af2ddbe6a72"
    safetensors = encode_safetensors(
        {"encoder.0.weight": W, "embed.weight": B, "bn.num_batches_tracked": N},
        {"producer": "weightinit", "seed": "0"},
    )
    assert _sha(safetensors) == ("fd72c091555443b9baaf144dec8cb6897d34907a719bbf648f15eb3c83be8c46")
