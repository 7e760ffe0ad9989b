"""The framework table: each row carries its framework, and variance rows its operation order."""

from __future__ import annotations

import pytest

from app.core.fans import Fans
from app.core.laws import TruncatedNormalLaw
from app.core.schemes import LAYOUT_DEFAULT, SCHEMES, Scheme, TensorContext, resolve_scheme
from app.core.schemes.frameworks import FRAMEWORK_SCHEMES
from app.core.schemes.variance import Order
from app.core.types import Layout

ORDER_OF = {"torch": Order.TORCH, "keras": Order.KERAS, "jax": Order.JAX}
WITH_ORDER = [row for row in FRAMEWORK_SCHEMES if "order" in row.engine.fixed]


def test_every_framework_variance_row_fixes_an_order() -> None:
    variance_like = [
        r for r in FRAMEWORK_SCHEMES if r.uses_fans and not r.name.endswith(".default")
    ]
    keras_general = {"keras.VarianceScaling"}  # its engine fixes the Keras order itself
    assert {r.name for r in variance_like} - {r.name for r in WITH_ORDER} == keras_general


@pytest.mark.parametrize("row", WITH_ORDER, ids=lambda r: r.name)
def test_a_framework_row_computes_in_its_own_frameworks_order(row: Scheme) -> None:
    assert row.framework is not None
    assert row.engine.fixed["order"] is ORDER_OF[row.framework]


@pytest.mark.parametrize(
    "name", ["torch.zeros_", "torch.ones_", "keras.Zeros", "keras.Ones", "jax.zeros", "jax.ones"]
)
def test_framework_constants_report_their_framework(name: str) -> None:
    row = SCHEMES[name]
    assert row.framework == name.split(".")[0]
    assert "constant_" not in row.reference and "Constant" not in row.reference


def test_each_layout_defaults_to_its_frameworks_default_row() -> None:
    assert {layout: SCHEMES[name].framework for layout, name in LAYOUT_DEFAULT.items()} == {
        Layout.TORCH: "torch",
        Layout.KERAS: "keras",
        Layout.JAX: "flax",
    }


def test_keras_normal_means_truncated_as_in_keras() -> None:
    ctx = TensorContext(shape=(4, 8), fans=Fans(8, 4))
    law = resolve_scheme("keras.VarianceScaling", {"distribution": "normal"}).law(ctx)
    assert isinstance(law, TruncatedNormalLaw)
    plain = resolve_scheme("keras.VarianceScaling", {"distribution": "untruncated_normal"}).law(ctx)
    assert not isinstance(plain, TruncatedNormalLaw)
