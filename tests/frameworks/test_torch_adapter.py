"""``init_torch_module`` against real torch modules and a live server: every parameter and
buffer of a model of every supported layer type is filled with the service's tensor of the
same ``state_dict`` name, meta-device modules included; unknown modules are refused. With
``algorithm="torch-cpu"`` (two seeds, CPU and meta device) the filled model equals
``torch.manual_seed(s); build()`` within the service's exactness claims, TransformerEncoder/
Decoder copies share their first layer's values, nn.Transformer is refused, and a module that
registers children out of construction order differs (the documented limit)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.live_server import serve

from .conftest import run_script


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with serve() as url:
        yield url


def test_init_torch_module_fills_every_tensor_of_a_real_model(
    frameworks_python: Path, server: str
) -> None:
    checks = run_script(frameworks_python, "torch_adapter.py", server)
    failed = [name for name, ok in checks.items() if ok is not True]
    assert not failed, checks
    assert len(checks) == 18
