"""Each framework's per-layer default, by tensor role and layer family.

The new families' rules, each from the framework's source (whole layers against the frameworks'
own numbers: tests/core/test_layer_references.py):

* torch/nn/modules/activation.py, ``MultiheadAttention._reset_parameters``:
  ``xavier_uniform_(self.in_proj_weight)`` (or each of q/k/v_proj_weight),
  ``constant_(self.in_proj_bias, 0.0)``, ``constant_(self.out_proj.bias, 0.0)``,
  ``xavier_normal_(self.bias_k)``, ``xavier_normal_(self.bias_v)``; ``out_proj`` is a Linear
  (``kaiming_uniform_(a=math.sqrt(5))``).
* torch/nn/modules/linear.py, ``Bilinear.reset_parameters``: ``bound = 1 /
  math.sqrt(self.weight.size(1))``; ``init.uniform_(self.weight, -bound, bound)`` and the bias.
* torch/nn/modules/activation.py, ``PReLU.reset_parameters``: ``constant_(self.weight,
  self.init)``, ``init=0.25``; keras/src/layers/activations/prelu.py ``alpha_initializer=
  "Zeros"``; flax/linen/activation.py ``negative_slope_init: float = 0.01``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest

from app.core.errors import ShapeError
from app.core.fans import Fans
from app.core.laws import (
    ConstantLaw,
    Law,
    NormalLaw,
    OrthogonalLaw,
    SegmentsLaw,
    TruncatedNormalLaw,
    UniformLaw,
)
from app.core.schemes.base import TensorContext
from app.core.schemes.defaults import (
    FLAX_PRELU_INIT,
    KERAS_PRELU_INIT,
    TORCH_PRELU_INIT,
    flax_default,
    keras_default,
    torch_default,
)
from app.core.types import Family, Layout, Role


def ctx(
    shape: tuple[int, ...],
    role: Role = Role.WEIGHT,
    family: Family = Family.TENSOR,
    fans: Fans | None = None,
    layout: Layout = Layout.TORCH,
    **extra: object,
) -> TensorContext:
    return TensorContext(
        shape=shape,
        fans=fans,
        role=role,
        family=family,
        layout=layout,
        name="w",
        **extra,  # type: ignore[arg-type]
    )


def test_torch_linear_weight_and_bias_are_uniform_one_over_sqrt_fan_in() -> None:
    fans = Fans(fan_in=16, fan_out=4)
    weight = torch_default(ctx((4, 16), fans=fans))
    assert isinstance(weight, UniformLaw)
    assert weight.high == pytest.approx(1 / math.sqrt(16), rel=1e-15)
    assert torch_default(ctx((4,), Role.BIAS, fans=fans)) == UniformLaw(-0.25, 0.25)


def test_torch_bias_of_a_layer_without_inputs_is_zero_wide() -> None:
    assert torch_default(ctx((4,), Role.BIAS, fans=Fans(0, 4))) == UniformLaw(-0.0, 0.0)


def test_torch_recurrent_tensors_use_the_hidden_size() -> None:
    law = torch_default(ctx((12, 5), family=Family.RECURRENT, hidden_size=4))
    assert law == UniformLaw(-0.5, 0.5)


def test_torch_embedding_is_standard_normal_and_norms_are_one_and_zero() -> None:
    assert torch_default(ctx((10, 3), family=Family.EMBEDDING)) == NormalLaw(0.0, 1.0)
    assert torch_default(ctx((3,), family=Family.NORM)) == ConstantLaw(1.0)
    assert torch_default(ctx((3,), Role.BIAS, family=Family.NORM)) == ConstantLaw(0.0)


def test_a_default_without_fans_names_its_scheme() -> None:
    with pytest.raises(ShapeError, match="needs fans"):
        torch_default(ctx((2, 3, 4)))


def test_keras_lstm_bias_has_unit_forget_gate() -> None:
    law = keras_default(ctx((8,), Role.BIAS, Family.RECURRENT, cell="lstm", hidden_size=2))
    assert law == SegmentsLaw((0.0, 1.0, 0.0), (2, 2, 4))
    assert keras_default(ctx((8,), Role.BIAS, Family.RECURRENT, cell="gru", hidden_size=2)) == (
        ConstantLaw(0.0)
    )


def test_keras_recurrent_kernel_is_orthogonal_and_embedding_small_uniform() -> None:
    recurrent = keras_default(ctx((2, 8), Role.RECURRENT_WEIGHT, layout=Layout.KERAS))
    assert recurrent == OrthogonalLaw(1.0, 2, 8)
    assert keras_default(ctx((10, 3), family=Family.EMBEDDING)) == UniformLaw(-0.05, 0.05)


def test_flax_embedding_is_untruncated_and_kernels_truncated() -> None:
    fans = Fans(fan_in=3, fan_out=10)
    embed = flax_default(ctx((10, 3), family=Family.EMBEDDING, fans=fans, layout=Layout.JAX))
    assert isinstance(embed, NormalLaw)
    kernel = flax_default(ctx((3, 10), fans=fans, layout=Layout.JAX))
    assert isinstance(kernel, TruncatedNormalLaw)
    assert kernel.truncation == (-2 * kernel.sigma, 2 * kernel.sigma)
    assert flax_default(ctx((10,), Role.BIAS, fans=fans)) == ConstantLaw(0.0)


# ---- attention, Bilinear, PReLU ------------------------------------------------------------


def test_torch_attention_projections_are_xavier_uniform_on_their_own_fans() -> None:
    # packed in_proj_weight (3E, E), E = 64: torch's fans (64, 192), so xavier's bound is
    # sqrt(6 / 256) = 0.15309310892394865 (pytorch/pytorch#166378: fan_out counts q, k and v)
    packed = ctx((192, 64), Role.ATTENTION_QKV, Family.ATTENTION, Fans(64, 192))
    assert torch_default(packed) == UniformLaw(-0.15309310892394865, 0.15309310892394865)
    # k_proj_weight (E, kdim) = (8, 4): fans (4, 8), bound sqrt(6 / 12)
    separate = ctx((8, 4), Role.ATTENTION_QKV, Family.ATTENTION, Fans(4, 8))
    assert torch_default(separate) == UniformLaw(-0.7071067811865475, 0.7071067811865475)


def test_torch_attention_biases_are_zero_and_the_output_projection_a_linear() -> None:
    fans = Fans(64, 64)
    assert torch_default(ctx((64,), Role.BIAS, Family.ATTENTION, fans)) == ConstantLaw(0.0)
    out = torch_default(ctx((64, 64), Role.ATTENTION_OUTPUT, Family.ATTENTION, fans))
    assert out == UniformLaw(-0.12499999999999999, 0.12499999999999999)  # U(+-1/sqrt(64))


def test_torch_bias_k_and_bias_v_are_xavier_normal() -> None:
    # shape (1, 1, E), E = 8: torch's fans (1 * 8, 1 * 8); std sqrt(2 / 16)
    law = torch_default(ctx((1, 1, 8), Role.ATTENTION_QKV, Family.ATTENTION_BIAS_KV, Fans(8, 8)))
    assert law == NormalLaw(0.0, 0.3535533905932738)


def test_torch_bilinear_weight_and_bias_use_one_over_sqrt_in1_not_the_fans() -> None:
    fans = Fans(12, 20)  # weight (5, 3, 4): torch's fans (in1 * in2, out * in2)
    for shape, role in (((5, 3, 4), Role.WEIGHT), ((5,), Role.BIAS)):
        law = torch_default(ctx(shape, role, Family.BILINEAR, fans, in1_features=3))
        assert law == UniformLaw(-0.5773502691896258, 0.5773502691896258)  # 1 / sqrt(3)


@pytest.mark.parametrize(
    ("engine", "start"),
    [(torch_default, 0.25), (keras_default, 0.0), (flax_default, 0.01)],
)
def test_a_prelu_slope_starts_at_its_frameworks_value_or_the_layers_init(
    engine: Callable[[TensorContext], Law], start: float
) -> None:
    assert (TORCH_PRELU_INIT, KERAS_PRELU_INIT, FLAX_PRELU_INIT) == (0.25, 0.0, 0.01)
    assert engine(ctx((3,), Role.ACTIVATION, Family.PRELU)) == ConstantLaw(start)
    assert engine(ctx((3,), Role.ACTIVATION, Family.PRELU, fill=-0.5)) == ConstantLaw(-0.5)


def test_keras_and_flax_attention_kernels_are_their_dense_defaults_on_einsum_fans() -> None:
    fans = Fans(64, 128)  # query kernel (64, 8, 16): in axis 0, out axes (1, 2)
    keras = keras_default(ctx((64, 8, 16), Role.ATTENTION_QKV, Family.ATTENTION, fans))
    assert keras == UniformLaw(-0.1767766952966369, 0.1767766952966369)  # sqrt(3 / 96)
    flax = flax_default(
        ctx((64, 8, 16), Role.ATTENTION_QKV, Family.ATTENTION, fans, layout=Layout.JAX)
    )
    assert isinstance(flax, TruncatedNormalLaw) and flax.sigma == 0.14210590720176697
    for engine in (keras_default, flax_default):
        assert engine(ctx((8, 16), Role.BIAS, Family.ATTENTION, fans)) == ConstantLaw(0.0)
