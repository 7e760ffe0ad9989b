"""Bodies produced piece by piece equal the whole-body encoders, for any range and thread count."""

from __future__ import annotations

import io
import itertools
from typing import Any

import numpy as np
import pytest

from app.api.settings import Settings
from app.core.errors import InvalidParameterError
from app.core.initialize import initialize_layer
from app.encoders import encode_npz, encode_safetensors
from app.jobs import body as body_module
from app.jobs.body import build_body
from app.jobs.job import Selection, model_job, weights_job
from app.jobs.pool import GenerationPool
from app.jobs.requests import ModelRequest, WeightsRequest

LSTM = {"kind": "lstm", "input_size": 300, "hidden_size": 200, "num_layers": 2}
REQUEST = WeightsRequest.model_validate({"layer": LSTM, "seed": 5, "dtype": "float16"})


def produce(
    job_body: body_module.Body, threads: int, start: int = 0, stop: int | None = None
) -> bytes:
    pool = GenerationPool(threads)
    try:
        return b"".join(pool.iterate(job_body.pieces(start, stop)))
    finally:
        pool.shutdown()


def expected_arrays() -> dict[str, Any]:
    fields = {k: v for k, v in LSTM.items() if k != "kind"}
    return initialize_layer("lstm", fields, seed=5, dtype="float16")


@pytest.mark.parametrize("small_member_bytes", [0, 4 << 20])
@pytest.mark.parametrize("threads", [1, 2, 4])
def test_npz_pieces_equal_the_whole_archive(
    monkeypatch: pytest.MonkeyPatch, small_member_bytes: int, threads: int
) -> None:
    # 0: every member takes the two-pass path (CRC first, then the bytes)
    monkeypatch.setattr(body_module, "SMALL_MEMBER_BYTES", small_member_bytes)
    job = weights_job(REQUEST, Settings(), Selection("npz"))
    assert produce(build_body(job), threads) == encode_npz(expected_arrays())


@pytest.mark.parametrize("threads", [1, 3])
def test_safetensors_ranges_stitch_to_the_whole_file(threads: int) -> None:
    job = weights_job(REQUEST, Settings(), Selection("safetensors"))
    whole_body = build_body(job)
    whole = produce(whole_body, threads)
    metadata = {
        "seed": "5",
        "dtype": "float16",
        "layout": "torch",
        "algorithm": "blocks-v1",
        "producer": "weightinit",
    }
    assert whole == encode_safetensors(expected_arrays(), metadata)
    assert whole_body.size == len(whole)
    edges = [0, 3, 8, 100, 5000, 400_001, 400_002, len(whole) - 1, len(whole)]
    parts = [produce(whole_body, threads, a, b) for a, b in itertools.pairwise(edges)]
    assert b"".join(parts) == whole


def test_a_law_that_can_overflow_its_dtype_is_refused_before_any_work() -> None:
    def job(std: float) -> Any:
        request = WeightsRequest.model_validate(
            {
                "layer": {"kind": "tensor", "shape": [64, 64]},
                "scheme": {"name": "normal", "std": std},
                "seed": 1,
                "dtype": "float16",
            }
        )
        return weights_job(request, Settings(), Selection("npy"))

    with pytest.raises(InvalidParameterError, match="largest finite value"):
        job(1e4)  # whatever the size, slice, range or values drawn
    job(1e3)  # 6.67 sigma stays below 65504


def test_model_shard_plan_body_holds_the_pieces_in_safetensors_order() -> None:
    request = ModelRequest.model_validate(
        {
            "seed": 1,
            "layers": [
                {"name": "a", "layer": {"kind": "dense", "in_features": 6, "out_features": 9}}
            ],
            "shard": {"index": 2, "count": 4, "dims": {"a.weight": 0}},
        }
    )
    job = model_job(request, Settings(), Selection("npz"))
    loaded = np.load(io.BytesIO(produce(build_body(job), 2)))
    whole = initialize_layer("dense", {"in_features": 6, "out_features": 9}, seed=1, prefix="a.")
    assert loaded["a.weight"].tobytes() == whole["a.weight"][6:9].tobytes()
    assert loaded["a.bias"].tobytes() == whole["a.bias"].tobytes()
