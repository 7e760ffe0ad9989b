"""Any range or index set of a tensor equals the same part of the whole tensor, byte for byte."""

from __future__ import annotations

import itertools
import threading
import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.core.cancel import Cancelled, stoppable
from app.core.generate import generate_tensor
from app.core.layers import make_layer
from app.core.planning import SchemeChoice, plan_layer
from app.core.plans import TensorPlan
from app.core.reading import TensorReader, read_range
from app.core.regions import flat_indices, parse_slice, shard_region
from app.core.schemes import resolve_scheme
from app.core.streams import BLOCK_SIZE
from app.core.types import DType, Layout

from .plan_helpers import SAMPLER_SCHEMES, SHAPE, tensor_plan

CASES = [
    ("embedding", {"num_embeddings": 3000, "embedding_dim": 70, "padding_idx": 1500}, "normal"),
    ("embedding", {"num_embeddings": 300, "embedding_dim": 7, "padding_idx": -1}, "normal"),
    ("dense", {"in_features": 700, "out_features": 300}, "truncated_normal"),
    ("conv2d", {"in_channels": 6, "out_channels": 8, "kernel_size": 3, "groups": 2}, "dirac"),
    ("conv2d", {"in_channels": 4, "out_channels": 6, "kernel_size": [3, 2]}, "delta_orthogonal"),
    ("tensor", {"shape": [300, 300]}, "eye"),
    ("tensor", {"shape": [64, 50]}, "orthogonal"),
    ("tensor", {"shape": [40, 30]}, "torch.sparse_"),
    ("lstm", {"input_size": 20, "hidden_size": 30}, None),
    ("batch_norm", {"num_features": 30}, None),
    ("tensor", {"shape": [1000, 200]}, "he_uniform"),
]


def plans_of(
    kind: str, fields: dict[str, object], scheme: str | None, layout: Layout, dtype: DType
) -> list[TensorPlan]:
    resolved = None
    if scheme == "torch.sparse_":
        resolved = resolve_scheme(scheme, {"sparsity": 0.3})
    elif scheme is not None:
        resolved = resolve_scheme(scheme)
    return plan_layer(
        make_layer(kind, fields),
        layout=layout,
        dtype=dtype,
        levels=(SchemeChoice(scheme=resolved),),
    )


@pytest.mark.parametrize("layout", [Layout.TORCH, Layout.KERAS])
@pytest.mark.parametrize("dtype", list(DType))
@pytest.mark.parametrize(("kind", "fields", "scheme"), CASES, ids=[f"{c[0]}-{c[2]}" for c in CASES])
def test_ranges_and_regions_equal_the_whole_tensor(
    kind: str, fields: dict[str, object], scheme: str | None, layout: Layout, dtype: DType
) -> None:
    # crc32, not hash(): str hashes change from one process to the next
    rng = np.random.default_rng(zlib.crc32(f"{kind}-{scheme}".encode()) % 1000)
    plans = plans_of(kind, fields, scheme, layout, dtype)
    for plan in plans:
        whole = generate_tensor(plan, 9)
        flat = whole.reshape(-1)
        reader = TensorReader(plan, 9)
        n = plan.numel
        edges = sorted({0, n, *rng.integers(0, n + 1, 5).tolist()})
        parts = [reader.read_range(a, b) for a, b in itertools.pairwise(edges)]
        assert np.concatenate(parts).tobytes() == flat.tobytes()
        if not plan.shape:
            continue  # a 0-d tensor has no slices or shards
        regions = [shard_region(plan.shape, -1, 1, 3), shard_region(plan.shape, 0, 2, 3)]
        regions.append(parse_slice("1:-1", plan.shape))
        for region in regions:
            indices = flat_indices(region, 0, region.numel)
            want = whole[tuple(slice(a, b) for a, b in region.bounds)].reshape(-1)
            assert reader.read_indices(indices).tobytes() == want.tobytes()


def test_padding_row_is_zero_in_every_range() -> None:
    (plan,) = plans_of(
        "embedding",
        {"num_embeddings": 5000, "embedding_dim": 64, "padding_idx": 2000},
        "normal",
        Layout.TORCH,
        DType.FLOAT32,
    )
    row = TensorReader(plan, 1).read_range(2000 * 64, 2001 * 64)
    assert not row.any()
    assert TensorReader(plan, 1).read_range(1999 * 64, 2000 * 64).all()


def test_a_range_generates_only_its_covering_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    import app.core.generate as generate

    seen: list[int] = []
    original = generate.block_bitgen
    monkeypatch.setattr(
        generate,
        "block_bitgen",
        lambda seed, name, block: seen.append(block) or original(seed, name, block),
    )
    (plan,) = plans_of("tensor", {"shape": [4096, 4096]}, "he_normal", Layout.TORCH, DType.FLOAT32)
    TensorReader(plan, 3).read_range(5 * BLOCK_SIZE + 7, 7 * BLOCK_SIZE)
    assert seen == [5, 6]


# ---- moved from test_determinism.py -------------------------------------------------------------


@pytest.mark.parametrize(("scheme", "params"), SAMPLER_SCHEMES)
@settings(max_examples=15)
@given(cuts=st.lists(st.integers(0, SHAPE[0] * SHAPE[1]), max_size=5))
def test_block_ranges_stitch_into_the_whole_tensor(
    scheme: str, params: dict[str, object], cuts: list[int]
) -> None:
    p = tensor_plan(scheme, **params)
    whole = generate_tensor(p, 5).reshape(-1)
    edges = sorted({0, p.numel, *cuts})
    parts = [read_range(p, 5, a, b) for a, b in itertools.pairwise(edges)]
    assert np.concatenate(parts).tobytes() == whole.tobytes()


def test_a_range_does_not_produce_its_prefix() -> None:
    p = tensor_plan("normal", (BLOCK_SIZE * 4,))
    tail = read_range(p, 1, 3 * BLOCK_SIZE + 10, 3 * BLOCK_SIZE + 20)
    assert (
        tail.tobytes() == generate_tensor(p, 1)[3 * BLOCK_SIZE + 10 : 3 * BLOCK_SIZE + 20].tobytes()
    )


def test_a_stopped_reader_never_starts_its_whole_matrix() -> None:
    # Several pieces of one whole-matrix tensor wait on the reader's lock while the first
    # builds it; once the work is stopped, none of them may build it again (each build of
    # a 4096 x 4096 orthogonal matrix runs 0.8 s before the QR's first panel checkpoint).
    plan = tensor_plan("orthogonal", (64, 64))
    reader = TensorReader(plan, 3)
    assert reader.needs_whole
    stop = threading.Event()
    stop.set()
    with stoppable(stop), pytest.raises(Cancelled):
        reader.read_range(0, 64)
    assert reader._whole is None  # nothing was built
    assert reader.read_range(0, 64).tobytes() == generate_tensor(plan, 3).reshape(-1)[:64].tobytes()
