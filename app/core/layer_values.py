"""A layer as a request states it: a kind and values, in torch's or the layout's framework's names.

:func:`read_layer` turns them into a :class:`~app.core.layers.LayerSpec` and a
:class:`LayerReading`. weightinit's own fields (torch's names) pass through under every layout;
the names of the request's layout's framework are read by that layout's row of
:data:`app.core.arguments.ARGUMENTS`: aliases become our fields, initializer arguments become
schemes for roles, read in the framework's vocabulary (Keras' ``"he_normal"`` is
``keras.HeNormal``; a name the framework lacks is read as a weightinit scheme name), a
``dtype`` must agree with the request's, and arguments that change no parameter are dropped.
A name only another layout's framework uses is refused with a message naming that layout.

The schemes a layer's arguments name are the most specific choice there is: they override the
layer's own ``scheme``, ``bias_scheme`` and ``role_schemes`` for their roles (the planner's
levels, ``planning.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from .arguments import (
    ARGUMENTS,
    CLASS_KINDS,
    CONSTANTS,
    DTYPE_NAMES,
    DTYPE_PREFIXES,
    INITIALIZER_NAMES,
    NORM_SCALE,
    NORM_SHIFT,
    Arguments,
    Use,
)
from .errors import InvalidParameterError, UnknownNameError, WeightInitError
from .layers import LAYER_KINDS, LayerSpec, make_layer
from .schemes import ResolvedScheme, all_names, resolve_scheme
from .types import DType, Layout, Role

# A Keras serialised initializer: {"module", "class_name", "config", "registered_name"}.
KERAS_OBJECT_KEYS = frozenset({"module", "class_name", "config", "registered_name"})


@dataclass(frozen=True)
class LayerReading:
    """What a layer's values say: our fields, and the schemes its arguments name per role."""

    values: dict[str, object]  # our fields, as make_layer takes them (the canonical layer)
    schemes: dict[Role, ResolvedScheme] = field(default_factory=dict)
    fields: dict[Role, str] = field(default_factory=dict)  # the argument that named each
    renamed: dict[str, str] = field(default_factory=dict)  # our field -> the name it came as


# ---- layer kinds ------------------------------------------------------------------------------


def _folded(name: str) -> str:
    return name.rsplit(".", 1)[-1].replace("_", "").lower()


def framework_class(name: str) -> tuple[str, tuple[str, ...]] | None:
    """(the framework class, our kinds) when ``name`` is a framework's class name for a kind
    (``Linear``, ``nn.Conv2d``, ``Conv2DTranspose``, ``Embed``, ``BatchNorm2d``...)."""
    folded = _folded(name)
    return next(((cls, kinds) for cls, kinds in CLASS_KINDS if _folded(cls) == folded), None)


def unknown_kind(name: str, field: str) -> UnknownNameError:
    """The error for a layer kind we do not have, pointing a framework's class at its kind."""
    found = framework_class(name)
    if found is None:
        return UnknownNameError("layer kind", name, LAYER_KINDS, field=field)
    source, kinds = found
    if len(kinds) == 1:
        return UnknownNameError(
            "layer kind",
            name,
            LAYER_KINDS,
            field=field,
            context=f"({source} is kind {kinds[0]!r} here)",
            suggestion=kinds[0],
        )
    spelled = ", ".join(repr(k) for k in kinds)
    return UnknownNameError(
        "layer kind",
        name,
        LAYER_KINDS,
        field=field,
        context=f"({source} is one of {spelled} here, by the rank of kernel_size)",
        suggestion=kinds[1],
    )


# ---- values -------------------------------------------------------------------------------------


def read_dtype(value: object, where: str) -> DType:
    """A framework's spelling of a parameter dtype (``torch.float32``, ``"half"``, a Keras
    policy name or its serialised ``DTypePolicy``) as ours."""
    name = value
    if isinstance(value, dict) and isinstance(value.get("config"), dict):
        name = value["config"].get("name")  # keras.DTypePolicy's get_config()
    if not isinstance(name, str):
        raise InvalidParameterError(
            f"{where} is a dtype name such as 'float32'; got {value!r}.", field=where
        )
    bare = name
    for prefix in DTYPE_PREFIXES:
        bare = bare.removeprefix(prefix)
    if bare not in DTYPE_NAMES:
        raise UnknownNameError("dtype", name, DTYPE_NAMES, field=where)
    return DTYPE_NAMES[bare]


def _initializer_parts(value: object, where: str) -> tuple[str, dict[str, object]]:
    if isinstance(value, str):
        return value, {}
    if not isinstance(value, dict):
        raise InvalidParameterError(
            f"{where} is an initializer's name or an object with its 'name' and parameters; "
            f"got {value!r}.",
            field=where,
        )
    if "class_name" in value:  # Keras' serialised form (layer.get_config())
        extra = sorted(set(value) - KERAS_OBJECT_KEYS)
        if extra:
            raise UnknownNameError("key", extra[0], KERAS_OBJECT_KEYS, field=f"{where}.{extra[0]}")
        config = value.get("config") or {}
        if not isinstance(config, dict):
            raise InvalidParameterError(f"{where}.config must be an object.", field=where)
        params = dict(config)
        if params.pop("seed", None) is not None:
            raise InvalidParameterError(
                "weightinit draws every tensor from the request's seed; an initializer's own "
                "seed cannot be honoured: remove it (or set it to null).",
                field=f"{where}.config.seed",
            )
        name = value["class_name"]
    else:
        params = {k: v for k, v in value.items() if k != "name"}
        name = value.get("name")
    if not isinstance(name, str):
        raise InvalidParameterError(
            f"{where} needs a string 'name' (or Keras' 'class_name' and 'config').", field=where
        )
    return name, params


def resolve_initializer(value: object, layout: Layout, where: str) -> ResolvedScheme:
    """An initializer argument's value, read in ``layout``'s framework's vocabulary."""
    name, params = _initializer_parts(value, where)
    vocabulary = INITIALIZER_NAMES[layout]
    scheme = vocabulary.get(name)
    if scheme is None and name in all_names():
        scheme = name  # a weightinit scheme name the framework does not have
    if scheme is None:
        known = list(vocabulary) or all_names()
        raise UnknownNameError(
            "initializer",
            name,
            known,
            field=where,
            context="(a weightinit scheme name from GET /v1/schemes works too)",
        )
    return resolve_scheme(scheme, params, field=where)


# ---- reading ----------------------------------------------------------------------------------


class _Reader:
    """Reads one layer's values under one layout, name by name."""

    def __init__(self, kind: str, layout: Layout, dtype: DType, where: str) -> None:
        self.kind, self.layout, self.dtype, self.where = kind, layout, dtype, where
        own = ARGUMENTS.get((layout, kind))
        torch = ARGUMENTS.get((Layout.TORCH, kind)) if layout is not Layout.TORCH else None
        self.rows = [row for row in (own, torch) if row is not None]
        self.reading = LayerReading({})
        self.parts: dict[str, tuple[str, bool]] = {}  # scale/shift -> (argument, keep it?)
        self.forget: tuple[str, bool] | None = None
        self.named: dict[Role, tuple[str, int]] = {}  # role -> (argument, roles it names)
        self.inits: dict[str, object] = {}  # initializer arguments' values, as given
        self.follows: dict[str, tuple[Arguments, object]] = {}

    def at(self, name: str) -> str:
        return f"{self.where}.{name}"

    def read(self, name: str, value: object) -> None:
        row = next((r for r in self.rows if name in r.uses()), None)
        if row is None:
            self._refuse_foreign(name)
            self._ours(name, name, value)
            return
        use = row.uses()[name]
        if use is Use.ALIAS:
            self._ours(row.aliases[name], name, value)
        elif use is Use.INITIALIZER and value is not None:
            self._initializer(row, name, resolve_initializer(value, self.layout, self.at(name)))
        elif use is Use.FOLLOWS and value is not None:
            self.follows[name] = (row, value)
        elif use is Use.DTYPE and value is not None:
            self._check_dtype(name, value)
        elif use in (Use.NORM_PART, Use.FORGET_BIAS, Use.FIXED):
            self._flag(row, use, name, value)
        elif use is Use.STATS and value is not None:
            self._check_stats(row, name, value)

    def _initializer(self, row: Arguments, name: str, resolved: ResolvedScheme) -> None:
        """``name``'s scheme for its roles: for a role another argument names too, the one
        naming fewer roles wins (Flax: ``out_kernel_init or kernel_init``); naming as many,
        they must agree."""
        self.inits[name] = resolved
        roles = row.initializers[name]
        for role in roles:
            other = self.named.get(role)
            if other is not None:
                other_name, other_count = other
                if other_count < len(roles):
                    continue
                if other_count == len(roles) and self.reading.schemes[role] != resolved:
                    raise InvalidParameterError(
                        f"{other_name!r} and {name!r} name different schemes for the "
                        f"{role.value} tensors: weightinit names one scheme per role; give "
                        "them the same scheme, or only one of them.",
                        field=self.at(name),
                    )
            self.named[role] = (name, len(roles))
            self.reading.schemes[role] = resolved
            self.reading.fields[role] = self.at(name)

    def _ours(self, ours: str, given: str, value: object) -> None:
        values = self.reading.values
        if ours in values:
            first = self.reading.renamed.get(ours, ours)
            raise InvalidParameterError(
                f"{first!r} and {given!r} both give the layer's {ours}: give one of them.",
                field=self.at(given),
            )
        values[ours] = value
        if ours != given:
            self.reading.renamed[ours] = given

    def _flag(self, row: Arguments, use: Use, name: str, value: object) -> None:
        if not isinstance(value, bool):
            raise InvalidParameterError(
                f"{name} must be true or false, got {value!r}.", field=self.at(name)
            )
        if use is Use.NORM_PART:
            self.parts[row.norm_parts[name]] = (name, value)
        elif use is Use.FORGET_BIAS:
            self.forget = (name, value)
        elif value != row.fixed[name]:
            built = str(row.fixed[name]).lower()
            raise InvalidParameterError(
                f"{row.source} with {name}={str(value).lower()} has other parameters than "
                f"weightinit builds: it builds {name}={built}, the framework's default.",
                field=self.at(name),
            )

    def _check_dtype(self, name: str, value: object) -> None:
        stated = read_dtype(value, self.at(name))
        if stated is not self.dtype:
            raise InvalidParameterError(
                f"{name}={value!r} asks for {stated.value} parameters, but the request's dtype "
                f"is {self.dtype.value}: every tensor of a response has the request's dtype. "
                f'Set "dtype": "{stated.value}" on the request, or drop {name}.',
                field=self.at(name),
            )

    def _check_stats(self, row: Arguments, name: str, value: object) -> None:
        expected = row.stats[name]
        resolved = resolve_initializer(value, self.layout, self.at(name))
        if resolved.name not in CONSTANTS[expected]:
            raise InvalidParameterError(
                f"Running statistics take fixed values (means 0, variances 1): {name} may only "
                f"be {expected!r}, got {value!r}.",
                field=self.at(name),
            )

    def _refuse_foreign(self, name: str) -> None:
        """A name that only another layout's framework uses is an error naming that layout."""
        for (layout, kind), row in ARGUMENTS.items():
            if kind != self.kind or layout is self.layout or name not in row.uses():
                continue
            use = row.uses()[name]
            if use is Use.ALIAS:
                ours = row.aliases[name]
                local = [a for r in self.rows for a, t in r.aliases.items() if t == ours]
                hint = f"say {' or '.join(repr(n) for n in [ours, *local])}"
            elif use is Use.INITIALIZER:
                hint = "name the scheme with role_schemes, scheme or bias_scheme"
            else:
                hint = "drop it"
            raise InvalidParameterError(
                f"{name!r} is an argument of {row.source}, read with layout {layout.value!r}; "
                f"this request's layout is {self.layout.value!r}: {hint} (or set the "
                f"layout to {layout.value!r}).",
                field=self.at(name),
            )

    def finish(self) -> LayerReading:
        for name, (row, value) in self.follows.items():
            self._follow(row, name, value)
        if self.parts:
            self._norm_parts()
        if "init" in self.reading.values and Role.ACTIVATION in self.reading.schemes:
            given = self.reading.renamed.get("init", "init")
            raise InvalidParameterError(
                f"{given!r} and {self.reading.fields[Role.ACTIVATION].rsplit('.', 1)[-1]!r} "
                "both give the slopes' starting values: give one of them.",
                field=self.at(given),
            )
        if self.forget is not None or Role.BIAS in self.reading.schemes:
            self._forget_bias()
        return self.reading

    def _follow(self, row: Arguments, name: str, value: object) -> None:
        """An initializer of part of a role's tensors (Flax ``out_bias_init``): accepted when
        it names the scheme its leader (``bias_init``, or its default) gives the role."""
        leader, default = row.follows[name]
        resolved = resolve_initializer(value, self.layout, self.at(name))
        led = self.inits.get(leader)
        if led is None:
            led = resolve_initializer(default, self.layout, self.at(leader))
        if resolved != led:
            said = "" if leader in self.inits else f" (default {default!r})"
            raise InvalidParameterError(
                f"{row.source}'s {name} initialises only the output projection's bias and "
                f"{leader}{said} the other biases; weightinit names one scheme per role (bias): "
                f"give {name} the same scheme as {leader}, or drop {name} and name the biases' "
                f"scheme with {leader}.",
                field=self.at(name),
            )

    def _norm_parts(self) -> None:
        scale_arg, scale = self.parts.get(NORM_SCALE, ("", True))
        shift_arg, shift = self.parts.get(NORM_SHIFT, ("", True))
        source = self.rows[0].source
        affine = self.kind in ("batch_norm", "group_norm", "instance_norm")
        if affine and scale != shift:
            raise InvalidParameterError(
                f"{source} with only one of its scale and shift: weightinit's {self.kind} keeps "
                "both or neither (affine); give them the same value.",
                field=self.at(scale_arg or shift_arg),
            )
        if affine:
            self._ours("affine", scale_arg or shift_arg, scale)
            return
        if self.kind == "rms_norm":  # a scale and no shift
            self._ours("elementwise_affine", scale_arg, scale)
            return
        if shift and not scale:
            raise InvalidParameterError(
                f"{source} with a shift but no scale: weightinit's layer_norm keeps its shift "
                f"only with its scale (elementwise_affine, bias); set {shift_arg or 'the shift'} "
                "to false too, or keep the scale.",
                field=self.at(scale_arg),
            )
        if scale_arg:
            self._ours("elementwise_affine", scale_arg, scale)
        if scale and shift_arg:
            self._ours("bias", shift_arg, shift)

    def _forget_bias(self) -> None:
        """Keras LSTM: unit_forget_bias (default true) starts the forget gate's bias at 1."""
        row = self.rows[0]
        if row.forget_bias is None:
            return
        name, keep = self.forget or (row.forget_bias, True)
        bias = self.reading.schemes.get(Role.BIAS)
        if not keep:  # the whole bias is bias_initializer's (Keras' default: zeros)
            if bias is None:
                self.reading.schemes[Role.BIAS] = resolve_initializer("zeros", self.layout, "")
                self.reading.fields[Role.BIAS] = self.at(name)
            return
        if bias is not None and bias.name in CONSTANTS["ones"]:
            return  # ones for every gate, the forget gate's included
        if bias is not None and bias.name not in CONSTANTS["zeros"]:
            raise InvalidParameterError(
                f"{row.source} with {name}=true (its default) starts the forget gate's bias at "
                "1 and the other gates' at bias_initializer; weightinit names one scheme per "
                f"tensor: set {name} to false (bias_initializer then gives the whole bias), or "
                'bias_initializer to "zeros".',
                field=self.reading.fields[Role.BIAS],
            )
        self.reading.schemes[Role.BIAS] = resolve_scheme("keras.default")
        self.reading.fields.setdefault(Role.BIAS, self.at(name))


def read_arguments(
    kind: str, values: Mapping[str, object], *, layout: Layout, dtype: DType, where: str = "layer"
) -> LayerReading:
    """Our fields and per-role schemes from a layer's values under ``layout``."""
    reader = _Reader(kind, layout, dtype, where)
    for name in sorted(values):
        reader.read(name, values[name])
    return reader.finish()


def read_layer(
    kind: str,
    values: Mapping[str, object],
    *,
    layout: Layout = Layout.TORCH,
    dtype: DType = DType.FLOAT32,
    where: str = "layer",
) -> tuple[LayerSpec, LayerReading]:
    """The layer spec and what the arguments say, from a kind and values in any of the names
    the layout accepts; errors name the field as the request gave it."""
    if kind not in LAYER_KINDS:
        raise unknown_kind(kind, f"{where}.kind")
    reading = read_arguments(kind, values, layout=layout, dtype=dtype, where=where)
    try:
        spec = make_layer(kind, reading.values, where=where)
    except WeightInitError as exc:
        raise _as_given(exc, kind, reading, layout, where) from None
    return spec, reading


def _as_given(
    exc: WeightInitError, kind: str, reading: LayerReading, layout: Layout, where: str
) -> WeightInitError:
    """``exc`` about one of our fields, pointed at the name the request gave it under (and a
    missing field's names in the layout's framework)."""
    ours = (exc.field or "").removeprefix(f"{where}.")
    if ours in reading.renamed:
        exc.field = f"{where}.{reading.renamed[ours]}"
        return exc
    own = ARGUMENTS.get((layout, kind))
    names = [a for a, t in own.aliases.items() if t == ours] if own else []
    if own is not None and names and ours not in reading.values:  # a required field, missing
        spelled = " or ".join(repr(n) for n in names)
        return InvalidParameterError(
            f"{exc.message} With layout {layout.value!r} ({own.source}) it may be given as "
            f"{spelled}.",
            field=exc.field,
        )
    return exc
