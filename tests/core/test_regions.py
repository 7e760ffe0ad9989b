"""Slices and shards select what numpy slicing and torch.chunk select; indices map exactly."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from app.core.errors import InvalidParameterError
from app.core.regions import SLICE_PATTERN, Region, flat_indices, parse_slice, shard_region

SHAPE = (7, 5, 3)
FULL = np.arange(math.prod(SHAPE)).reshape(SHAPE)


@pytest.mark.parametrize(
    ("text", "index"),
    [
        ("0:3", np.s_[0:3]),
        ("2:", np.s_[2:]),
        (":", np.s_[:]),
        ("1:-1, 2:4", np.s_[1:-1, 2:4]),
        ("-3:, :, 1:2", np.s_[-3:, :, 1:2]),
        ("0:100, -100:2", np.s_[0:100, -100:2]),
        ("5:2", np.s_[5:2]),
        ("0:7:1, 1:3", np.s_[0:7:1, 1:3]),
        (" 3 : 4 ,  : 1 ", np.s_[3:4, :1]),
    ],
)
def test_slice_selects_what_numpy_basic_slicing_selects(text: str, index: object) -> None:
    region = parse_slice(text, SHAPE)
    want = FULL[index]  # type: ignore[index]
    assert region.shape == want.shape
    got = flat_indices(region, 0, region.numel)
    assert got.tolist() == want.reshape(-1).tolist()


def test_slice_text_is_normalised_with_explicit_bounds() -> None:
    assert parse_slice("1:, -2:", (10, 6)).text() == "1:10,4:6"
    assert parse_slice("0:3", (10, 6, 2)).text() == "0:3,0:6,0:2"


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("1:2, 3:4, 0:1, 0:1", "has 4 dimensions"),
        ("3", "start:stop"),
        ("0:4:2", "step"),
        ("a:3", "not an integer"),
        ("", "empty"),
    ],
)
def test_bad_slices_are_refused_in_words(text: str, words: str) -> None:
    with pytest.raises(InvalidParameterError, match=words) as info:
        parse_slice(text, SHAPE)
    assert info.value.field == "slice"


@pytest.mark.parametrize(
    "text",
    [
        "0:1",
        " 0 : 1 , 2: ",
        "::",
        ":: 1 ",
        "-1:",
        "0:99999999999999999999999",  # accepted
        "0",
        "::01",
        "::2",
        "0:1,",
        ",0:1",
        "\xa00:1",
        "0:1\u3000",
        "+1:2",
        "a:b",
        " ",
        "1:2:3:4",
    ],
)
def test_the_slice_pattern_matches_exactly_what_the_parser_accepts(text: str) -> None:
    # The API's schema states the grammar with SLICE_PATTERN (found by schemathesis: "0" was
    # schema-valid and refused). Spaces are U+0020 only: other whitespace is refused by both.
    try:
        parse_slice(text, (4, 4))
        accepted = True
    except InvalidParameterError:
        accepted = False
    assert bool(re.search(SLICE_PATTERN, text)) == accepted


@pytest.mark.parametrize("n", [1, 5, 7, 8, 13, 64])
@pytest.mark.parametrize("count", [1, 2, 3, 4, 8])
def test_shards_are_torch_chunk_pieces_padded_with_empties(n: int, count: int) -> None:
    size = -(-n // count)
    chunks = [list(range(n))[i : i + size] for i in range(0, n, size)]  # torch.chunk's sizes
    chunks += [[]] * (count - len(chunks))
    for index in range(count):
        region = shard_region((n, 2), 0, index, count)
        rows = flat_indices(region, 0, region.numel)[::2] // 2
        assert rows.tolist() == chunks[index]


def test_shards_stitched_along_any_dim_give_the_whole_tensor() -> None:
    for dim in (0, 1, 2, -1):
        pieces = []
        for index in range(4):
            region = shard_region(SHAPE, dim, index, 4)
            pieces.append(
                FULL.reshape(-1)[flat_indices(region, 0, region.numel)].reshape(region.shape)
            )
        assert np.array_equal(np.concatenate(pieces, axis=dim), FULL)


@pytest.mark.parametrize(
    ("dim", "index", "count", "field"),
    [
        (3, 0, 2, "shard.dim"),
        (-4, 0, 2, "shard.dim"),
        (0, 2, 2, "shard.index"),
        (0, 0, 0, "shard.count"),
    ],
)
def test_bad_shards_name_the_field(dim: int, index: int, count: int, field: str) -> None:
    with pytest.raises(InvalidParameterError) as info:
        shard_region(SHAPE, dim, index, count)
    assert info.value.field == field


@pytest.mark.parametrize(
    ("region", "run"),
    [
        (Region.whole(SHAPE), (0, 105)),
        (shard_region(SHAPE, 0, 1, 3), (45, 90)),
        (parse_slice("2:3, 1:4", SHAPE), (33, 42)),
        (parse_slice("2:3, 1:2, 0:2", SHAPE), (33, 35)),
        (shard_region(SHAPE, 1, 0, 2), None),
        (parse_slice("5:5", SHAPE), (0, 0)),
    ],
)
def test_contiguous_runs_are_found_and_only_those(
    region: Region, run: tuple[int, int] | None
) -> None:
    assert region.contiguous_run() == run
    if run is not None:
        assert flat_indices(region, 0, region.numel).tolist() == list(range(*run))
