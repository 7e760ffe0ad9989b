"""The closed vocabularies of the core, as string enums."""

from __future__ import annotations

from enum import StrEnum
from typing import TypeVar

from .errors import UnknownNameError

E = TypeVar("E", bound=StrEnum)


class DType(StrEnum):
    """Output element types. Lower precisions are rounded from float32 (see dtypes.py)."""

    FLOAT32 = "float32"
    FLOAT64 = "float64"
    FLOAT16 = "float16"
    BFLOAT16 = "bfloat16"


class Layout(StrEnum):
    """Whose tensor layout, names and fan rules apply."""

    TORCH = "torch"
    KERAS = "keras"
    JAX = "jax"


class Mode(StrEnum):
    """Which fan a variance-scaling scheme divides by."""

    FAN_IN = "fan_in"
    FAN_OUT = "fan_out"
    FAN_AVG = "fan_avg"
    FAN_GEO_AVG = "fan_geo_avg"


class Distribution(StrEnum):
    """The distribution a variance-scaling scheme samples."""

    TRUNCATED_NORMAL = "truncated_normal"
    NORMAL = "normal"
    UNIFORM = "uniform"


class Algorithm(StrEnum):
    """Named stream algorithms; a name's output bytes never change once released."""

    BLOCKS_V1 = "blocks-v1"
    NUMPY_LEGACY = "numpy-legacy"
    JAX_THREEFRY = "jax-threefry"
    TORCH_CPU = "torch-cpu"


class Role(StrEnum):
    """What a tensor is within its model; decides which scheme initialises it.

    The weight-like roles (``weight`` through ``readout``) take a request's ``scheme``;
    ``bias`` takes ``bias_scheme``; norm scales and shifts keep 1 and 0 unless named, and an
    ``activation``'s parameter (PReLU's slope) keeps its framework's starting value unless
    named; running statistics and counters always take their fixed values.
    ``attention_output`` and ``mlp_out`` are the projections that write into a residual
    stream.
    """

    WEIGHT = "weight"
    RECURRENT_WEIGHT = "recurrent_weight"
    EMBEDDING = "embedding"
    POSITION_EMBEDDING = "position_embedding"
    ATTENTION_QKV = "attention_qkv"
    ATTENTION_OUTPUT = "attention_output"
    MLP_IN = "mlp_in"
    MLP_OUT = "mlp_out"
    READOUT = "readout"
    BIAS = "bias"
    NORM_SCALE = "norm_scale"
    NORM_SHIFT = "norm_shift"
    ACTIVATION = "activation"
    RUNNING_STAT = "running_stat"
    COUNTER = "counter"


WEIGHT_ROLES = frozenset(
    {
        Role.WEIGHT,
        Role.RECURRENT_WEIGHT,
        Role.EMBEDDING,
        Role.POSITION_EMBEDDING,
        Role.ATTENTION_QKV,
        Role.ATTENTION_OUTPUT,
        Role.MLP_IN,
        Role.MLP_OUT,
        Role.READOUT,
    }
)
FIXED_ROLES = frozenset({Role.RUNNING_STAT, Role.COUNTER})


class Family(StrEnum):
    """The layer family a tensor belongs to (framework defaults differ per family)."""

    DENSE = "dense"
    CONV = "conv"
    CONV_TRANSPOSE = "conv_transpose"
    EMBEDDING = "embedding"
    RECURRENT = "recurrent"
    NORM = "norm"
    TENSOR = "tensor"
    ATTENTION = "attention"  # multi-head attention's projections and their biases
    ATTENTION_BIAS_KV = "attention_bias_kv"  # torch's add_bias_kv: bias_k, bias_v
    BILINEAR = "bilinear"
    PRELU = "prelu"


def parse_choice(enum: type[E], value: object, what: str, field: str) -> E:
    """``value`` as a member of ``enum``, or an UnknownNameError listing the valid values."""
    if isinstance(value, enum):
        return value
    if isinstance(value, str):  # a StrEnum's values are strings: nothing else can match
        try:
            return enum(str(value))
        except ValueError:
            pass
    raise UnknownNameError(what, str(value), [m.value for m in enum], field=field)
