"""Tests for app/core/streams.py: seeds, stream keys, block generators and block spans.

The constants and the key derivation are frozen with blocks-v1 (streams.py's docstring):
these tests restate them from the docstring (SHA-256 words, SeedSequence spawn keys,
PCG64.advance by 2**64 per block) so a change to any of them fails here, not only in the
golden hashes.
"""

from __future__ import annotations

import hashlib
import struct
import threading

import numpy as np
import pytest

from app.core.errors import InvalidParameterError
from app.core.streams import (
    BLOCK_SIZE,
    BLOCK_STRIDE,
    BLOCKS_DOMAIN,
    MAX_SEED,
    WHOLE_DOMAIN,
    block_bitgen,
    check_seed,
    name_key,
    run_blocks,
    tensor_seed_sequence,
    whole_bitgen,
)


def test_the_frozen_constants_are_the_documented_ones() -> None:
    assert BLOCK_SIZE == 65_536
    assert BLOCK_STRIDE == 2**64
    assert BLOCKS_DOMAIN.to_bytes(4, "big") == b"blk1"
    assert WHOLE_DOMAIN.to_bytes(4, "big") == b"whl1"
    assert MAX_SEED == 2**64 - 1


# ---- seeds --------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2**32, MAX_SEED])
def test_a_seed_in_range_is_returned_unchanged(seed: int) -> None:
    assert check_seed(seed) == seed


@pytest.mark.parametrize(
    ("seed", "fragment"),
    [
        (-1, "between 0 and 18446744073709551615, got -1"),
        (MAX_SEED + 1, "between 0 and 18446744073709551615"),
        (True, "must be an integer, got True"),
        (1.0, "must be an integer, got 1.0"),
        ("7", "must be an integer, got '7'"),
        (None, "must be an integer, got None"),
    ],
)
def test_a_bad_seed_is_an_invalid_parameter_on_field_seed(seed: object, fragment: str) -> None:
    with pytest.raises(InvalidParameterError) as info:
        check_seed(seed)  # type: ignore[arg-type]
    assert info.value.field == "seed"
    assert fragment in info.value.message


def test_a_smaller_maximum_is_enforced_and_named() -> None:
    assert check_seed(2**32 - 1, 2**32 - 1) == 2**32 - 1
    with pytest.raises(InvalidParameterError, match="between 0 and 4294967295") as info:
        check_seed(2**32, 2**32 - 1)
    assert info.value.field == "seed"


# ---- stream keys --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["weight", "encoder.0.weight", "hi.kernel", "é", ""])
def test_name_key_is_sha256_of_utf8_as_eight_little_endian_words(name: str) -> None:
    digest = hashlib.sha256(name.encode("utf-8")).digest()
    assert name_key(name) == struct.unpack("<8I", digest)


def test_names_map_to_distinct_fixed_size_keys() -> None:
    assert name_key("encoder.0.weight") != name_key("encoder.1.weight")
    assert len(name_key("x" * 10_000)) == 8


def test_a_tensors_seed_sequence_is_keyed_by_domain_and_name_and_reused() -> None:
    seq = tensor_seed_sequence(42, "weight")
    assert seq.entropy == 42
    assert seq.spawn_key == (BLOCKS_DOMAIN, *name_key("weight"))
    assert tensor_seed_sequence(42, "weight") is seq


# ---- block generators ---------------------------------------------------------------------------


@pytest.mark.parametrize("block", [0, 1, 7])
def test_block_i_is_the_tensor_stream_advanced_by_i_times_2_to_the_64(block: int) -> None:
    seq = np.random.SeedSequence(entropy=9, spawn_key=(BLOCKS_DOMAIN, *name_key("w")))
    reference = np.random.PCG64(seq)
    reference.advance(block * 2**64)
    assert block_bitgen(9, "w", block).random_raw(4).tolist() == reference.random_raw(4).tolist()


def test_blocks_of_one_tensor_are_different_streams() -> None:
    firsts = {int(block_bitgen(3, "w", i).random_raw()) for i in range(5)}
    assert len(firsts) == 5


def test_a_fresh_block_generator_starts_at_its_block_start_every_time() -> None:
    first = block_bitgen(3, "w", 2).random_raw(3).tolist()
    assert block_bitgen(3, "w", 2).random_raw(3).tolist() == first


def test_the_whole_matrix_stream_has_its_own_domain() -> None:
    seq = np.random.SeedSequence(entropy=5, spawn_key=(WHOLE_DOMAIN, *name_key("w")))
    expected = np.random.PCG64(seq).random_raw(3).tolist()
    assert whole_bitgen(5, "w").random_raw(3).tolist() == expected
    assert expected != block_bitgen(5, "w", 0).random_raw(3).tolist()


# ---- block spans and running blocks -------------------------------------------------------------

B = BLOCK_SIZE


def test_one_thread_runs_the_blocks_in_order() -> None:
    seen: list[int] = []
    run_blocks([4, 1, 3], seen.append, threads=1)
    assert seen == [4, 1, 3]


@pytest.mark.parametrize("threads", [2, 4])
def test_several_threads_run_every_block_exactly_once(threads: int) -> None:
    seen: list[int] = []
    names: set[str] = set()
    lock = threading.Lock()

    def work(index: int) -> None:
        with lock:
            seen.append(index)
            names.add(threading.current_thread().name)

    run_blocks(list(range(40)), work, threads=threads)
    assert sorted(seen) == list(range(40))
    assert threading.current_thread().name not in names  # the pool's threads did the work


def test_an_error_in_a_block_reaches_the_caller() -> None:
    def work(index: int) -> None:
        if index == 2:
            raise RuntimeError("block 2")

    with pytest.raises(RuntimeError, match="block 2"):
        run_blocks([0, 1, 2, 3], work, threads=2)
