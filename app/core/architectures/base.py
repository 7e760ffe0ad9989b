"""What every architecture shares: its config fields, the tensors it builds, what it reports.

An architecture (``gpt2``, ``llama``, ...) is a config schema (the Hugging Face ``config.json``
field names of that family, with the defaults of its config class in transformers 5.18.0, or
torchvision's ``ResNet`` arguments) plus one builder per documented class. A builder appends
:class:`ArchTensor` rows to a :class:`Builder`: each a :class:`TensorSpec` (name, shape, role,
family, fans) with its place in the model (the transformer block or ResNet block index, the
stack: ``encoder``, ``decoder``, ``layer1``...), the family's default init (its
``_init_weights``, as a scheme name and parameters) and, for a fused tensor such as GPT-2's
``c_attn`` (Q, K and V side by side), how many parts lie along which dimension.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import InvalidParameterError, UnknownNameError
from ..fans import FanAxes, compute_fans, layout_fans
from ..tensor_spec import Shape, TensorSpec, bias_of
from ..types import Family, Layout, Role

# The transformers release whose class names, checkpoint names and defaults are followed.
TRANSFORMERS_VERSION = "5.18.0"
TORCHVISION_VERSION = "0.29.1"

Init = tuple[str, Mapping[str, object]]  # a scheme name and its parameters
ZEROS: Init = ("zeros", {})


def normal(std: float) -> Init:
    return ("normal", {"mean": 0.0, "std": std})


@dataclass(frozen=True)
class ArchTensor:
    """One tensor of an architecture: its spec, place, default init and fusion."""

    spec: TensorSpec
    init: Init | None  # None: the layout default (norm scales 1, shifts 0, running stats)
    block: int | None = None
    stack: str | None = None
    fused: int = 1  # parts side by side along fused_dim (GPT-2 c_attn: 3)
    fused_dim: int = 0


@dataclass(frozen=True)
class ArchitectureInfo:
    """The resolved architecture of a request, for recipes and the manifest.

    ``config`` holds every field of the family's schema with its default filled in;
    ``num_layers`` is the block count of the (encoder) stack (GPT-2 ``n_layer``, Llama/BERT/ViT
    ``num_hidden_layers``, T5 ``num_layers``, ResNet ``sum(layers)``), ``num_decoder_layers``
    T5's decoder blocks (None elsewhere), ``hidden_size`` the model width (``n_embd``,
    ``hidden_size``, ``d_model``; ResNet: the stem's 64 channels), ``initializer_range`` the
    family's std (T5: ``initializer_factor``; ResNet: None). ``tensors`` maps each returned
    tensor name to its :class:`ArchTensor` (block index, stack, fusion, default init).
    """

    family: str
    class_name: str
    config: Mapping[str, Any]
    num_layers: int
    hidden_size: int
    initializer_range: float | None
    tie_word_embeddings: bool
    num_decoder_layers: int | None = None
    tensors: Mapping[str, ArchTensor] = field(default_factory=dict)


# ---- config fields ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ConfigField:
    """One config field: its default and its type (``int``, ``bool``, ``float``, ``str``,
    ``int?`` for an optional int, ``ints`` for a list of ints)."""

    default: object
    kind: str = "int"
    choices: tuple[str, ...] = ()


# Fields of every Hugging Face config (PretrainedConfig) and of each family that change no
# tensor: accepted so a config.json can be pasted as it is, and ignored.
COMMON_IGNORED = frozenset(
    {
        "model_type",
        "architectures",
        "transformers_version",
        "torch_dtype",
        "dtype",
        "bos_token_id",
        "eos_token_id",
        "decoder_start_token_id",
        "sep_token_id",
        "id2label",
        "label2id",
        "problem_type",
        "use_cache",
        "output_attentions",
        "output_hidden_states",
        "return_dict",
        "is_decoder",
        "chunk_size_feed_forward",
        "_name_or_path",
        "task_specific_params",
        "classifier_dropout",
        "gradient_checkpointing",
    }
)


def _positive(value: object, minimum: int = 1) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= minimum


def _typed(value: object, spec: ConfigField, where: str) -> object:
    """``value`` checked against the field's kind (a 422 naming ``where`` otherwise)."""
    kind = spec.kind
    if kind == "str":
        if value not in spec.choices:
            raise UnknownNameError(f"value of {where}", str(value), spec.choices, field=where)
        return value
    if kind == "float":
        if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
            raise InvalidParameterError(
                f"{where} must be a number > 0, got {value!r}.", field=where
            )
        return float(value)
    if kind == "ints":
        if not isinstance(value, list) or len(value) != 4 or not all(map(_positive, value)):
            raise InvalidParameterError(
                f"{where} must be a list of 4 positive integers, got {value!r}.", field=where
            )
        return tuple(value)
    ok = {
        "int": _positive(value),
        "int?": value is None or _positive(value),
        "int0": _positive(value, 0),
        "bool": isinstance(value, bool),
    }[kind]
    if not ok:
        wanted = "true or false" if kind == "bool" else "a positive integer"
        wanted = "an integer >= 0" if kind == "int0" else wanted
        raise InvalidParameterError(f"{where} must be {wanted}, got {value!r}.", field=where)
    return value


def read_config(
    fields: Mapping[str, ConfigField],
    ignored: frozenset[str],
    given: Mapping[str, object],
    family: str,
) -> dict[str, Any]:
    """``given`` checked against ``fields`` (did-you-mean for an unknown one), defaults filled."""
    known = set(fields) | ignored | COMMON_IGNORED
    for name in given:
        if name not in known:
            raise UnknownNameError(
                "config field",
                name,
                sorted(fields),
                field=f"config.{name}",
                context=f"of architecture {family!r}",
            )
    out: dict[str, Any] = {}
    for name, spec in fields.items():
        value = given.get(name, spec.default)
        out[name] = value if name not in given else _typed(value, spec, f"config.{name}")
    return out


def divisible(config: Mapping[str, Any], num: str, den: str) -> int:
    if config[num] % config[den]:
        raise InvalidParameterError(
            f"config.{num}={config[num]} must be divisible by config.{den}={config[den]}.",
            field=f"config.{num}",
        )
    return int(config[num] // config[den])


# ---- building tensors --------------------------------------------------------------------------

T = Layout.TORCH


class Builder:
    """Appends the tensors of one model, in order, with a name prefix and a block place."""

    def __init__(self) -> None:
        self.tensors: list[ArchTensor] = []
        self.block: int | None = None
        self.stack: str | None = None

    def add(self, spec: TensorSpec, init: Init | None, fused: int = 1, fused_dim: int = 0) -> None:
        self.tensors.append(ArchTensor(spec, init, self.block, self.stack, fused, fused_dim))

    def linear(
        self, name: str, dims: tuple[int, int], role: Role, init: Init | None, bias: bool = True
    ) -> None:
        """torch nn.Linear of ``dims = (in, out)``: ``weight (out, in)`` and ``bias (out,)``,
        zeros when the weight has a default init (else the layout default)."""
        in_features, out_features = dims
        shape = (out_features, in_features)
        w = TensorSpec(f"{name}.weight", shape, role, Family.DENSE, layout_fans(shape, T))
        self.add(w, init)
        if bias:
            self.add(bias_of(w, f"{name}.bias", (out_features,)), ZEROS if init else None)

    def conv1d_hf(
        self, name: str, nx: int, nf: int, role: Role, init: Init, *, fused: int = 1
    ) -> None:
        """transformers' ``Conv1D(nf, nx)``: ``weight (nx, nf)`` = (in, out), fan_in = nx."""
        shape = (nx, nf)
        fans = compute_fans(shape, FanAxes(in_axes=(0,), out_axes=(1,)))
        w = TensorSpec(f"{name}.weight", shape, role, Family.DENSE, fans)
        self.add(w, init, fused, 1)
        self.add(bias_of(w, f"{name}.bias", (nf,)), ZEROS, fused, 0)

    def embedding(
        self,
        name: str,
        rows: int,
        dim: int,
        role: Role,
        init: Init | None,
        *,
        padding: int | None = None,
    ) -> None:
        shape = (rows, dim)
        fans = layout_fans(shape, T)
        zero_row = padding if padding is not None and 0 <= padding < rows else None
        self.add(TensorSpec(name, shape, role, Family.EMBEDDING, fans, zero_row=zero_row), init)

    def parameter(self, name: str, shape: Shape, role: Role, init: Init) -> None:
        """A bare nn.Parameter (ViT's cls_token, position_embeddings): fans of the shape."""
        fans = layout_fans(shape, T) if len(shape) >= 2 else None
        self.add(TensorSpec(name, shape, role, Family.TENSOR, fans), init)

    def norm(self, name: str, dim: int, bias: bool = True) -> None:
        """LayerNorm / RMSNorm: ``weight`` 1 (and ``bias`` 0), the layout default."""
        self.add(TensorSpec(f"{name}.weight", (dim,), Role.NORM_SCALE, Family.NORM, None), None)
        if bias:
            self.add(TensorSpec(f"{name}.bias", (dim,), Role.NORM_SHIFT, Family.NORM, None), None)

    def conv2d(
        self,
        name: str,
        cin: int,
        cout: int,
        k: int,
        init: Init | None,
        *,
        groups: int = 1,
        bias: bool = False,
    ) -> None:
        shape = (cout, cin // groups, k, k)
        w = TensorSpec(f"{name}.weight", shape, Role.WEIGHT, Family.CONV, layout_fans(shape, T))
        self.add(w, init)
        if bias:
            self.add(bias_of(w, f"{name}.bias", (cout,)), ZEROS if init else None)

    def batch_norm(self, name: str, c: int, scale: Init | None = None) -> None:
        n = Family.NORM
        self.add(TensorSpec(f"{name}.weight", (c,), Role.NORM_SCALE, n, None), scale)
        self.add(TensorSpec(f"{name}.bias", (c,), Role.NORM_SHIFT, n, None), None)
        self.add(
            TensorSpec(f"{name}.running_mean", (c,), Role.RUNNING_STAT, n, None, fill=0.0), None
        )
        self.add(
            TensorSpec(f"{name}.running_var", (c,), Role.RUNNING_STAT, n, None, fill=1.0), None
        )
        self.add(TensorSpec(f"{name}.num_batches_tracked", (), Role.COUNTER, n, None), None)


@dataclass(frozen=True)
class Architecture:
    """One family: its config schema, its classes (the first is the default), and the
    values it reports."""

    name: str
    title: str  # e.g. "GPT-2 (transformers GPT2Config)"
    fields: Mapping[str, ConfigField]
    ignored: frozenset[str]
    classes: Mapping[str, Callable[[Mapping[str, Any]], list[ArchTensor]]]
    info: Callable[[Mapping[str, Any]], tuple[int, int | None, int, float | None, bool]]
    check: Callable[[Mapping[str, Any]], None] = lambda config: None
    notes: str = ""

    @property
    def default_class(self) -> str:
        return next(iter(self.classes))
