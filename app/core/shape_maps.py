"""Shape maps: tensor name -> shape, as ``{k: v.shape for k, v in model.state_dict().items()}``
prints it, become tensor specs with roles, families and fans.

A name is split at ``.`` and ``/`` into parts; the last part is the *leaf* (``weight``,
``bias``, ``kernel``, ``running_mean``...), the parts before it are *modules* (the one right
before the leaf is the *parent*). The role of a tensor is the role of the first row of
:data:`ROLE_RULES` that matches it (the README's "Shape maps" table is rendered from these
rows); a row whose role is ``None``, or no row at all, means the name cannot decide, and the
tensor must be given as ``{"shape": [...], "role": ...}``. A row matches when

* ``leaves`` holds the leaf (or ``leaf_pattern`` matches it),
* ``modules`` (when not empty) holds the parent, or the last two modules joined with a dot
  (``output.dense``),
* the rank is within ``ranks``, and
* its ``when`` condition holds (:class:`When`: the block the module sits in, a sibling tensor,
  a norm-like parent...).

Module names are compared in lower case. Families, recurrent sizes and fans follow from the
role, the name and the shape (:func:`expand_shape_map`): a bias takes the fans (and family) of
its sibling weight (``<prefix>weight`` or ``<prefix>kernel``, ``in_proj_weight`` for
``in_proj_bias``, ``weight_ih_l0`` for ``bias_ih_l0``), as torch's default bias bound needs.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from .errors import InvalidParameterError, ShapeError
from .fans import FanAxes, Fans, compute_fans, layout_fans, override_fans
from .layers import GATES, TensorSpec
from .types import Family, Layout, Role

Shape = tuple[int, ...]
ANY_RANK = (0, 8)


class When(StrEnum):
    """The extra condition of a rule row (beyond leaf, module and rank)."""

    ALWAYS = "always"
    NORM_PARENT = "norm_parent"  # the parent's name says norm (norm, ln, bn, gn, ...)
    PRELU_PARENT = "prelu_parent"  # the parent's name contains prelu (Keras: p_re_lu)
    NORM_SIBLING = "norm_sibling"  # a sibling scale: rank-1 <prefix>weight, scale or gamma
    RECURRENT_SIBLING = "recurrent_sibling"  # a sibling <prefix>recurrent_kernel (Keras)
    ATTENTION_BLOCK = "attention_block"  # inside an attention module
    MLP_BLOCK = "mlp_block"  # inside an MLP module, or beside an attention module
    EMBEDDING_LIKE = "embedding_like"  # the parent's name contains emb
    TOP_LEVEL = "top_level"  # every module is a head name (the model's own head)
    SQUARE = "square"  # a (n, n) kernel


WHEN_TEXT = {
    When.ALWAYS: "",
    When.NORM_PARENT: "the parent's name says norm (contains `norm`, or a part `ln`, `bn`, `gn`)",
    When.PRELU_PARENT: "the parent's name contains `prelu` (Keras' `p_re_lu`)",
    When.NORM_SIBLING: "a sibling norm scale (rank-1 `weight`, `scale` or `gamma`)",
    When.RECURRENT_SIBLING: "a sibling `recurrent_kernel`",
    When.ATTENTION_BLOCK: "inside attention (a module name with `attn`/`attention`, or a "
    "sibling `in_proj_weight`/`q_proj_weight`)",
    When.MLP_BLOCK: "inside an MLP (a module name with `mlp`, `ffn`, `feed_forward`, "
    "`feedforward`, `densereludense`) or beside an attention module",
    When.EMBEDDING_LIKE: "the parent's name contains `emb` (a table or a projection?)",
    When.TOP_LEVEL: "at the top level (every module a head name; a leading `params` skipped)",
    When.SQUARE: "square (n, n)",
}


@dataclass(frozen=True)
class RoleRule:
    """One row of the table; ``role`` None: the row asks (``reason`` says why)."""

    name: str
    leaves: frozenset[str]
    role: Role | None
    modules: frozenset[str] = frozenset()
    ranks: tuple[int, int] = ANY_RANK
    when: When = When.ALWAYS
    leaf_pattern: str = ""
    reason: str = ""


def _set(*names: str) -> frozenset[str]:
    return frozenset(names)


WEIGHT_LEAVES = _set("weight", "kernel")
MEAN_LEAVES = _set("running_mean", "moving_mean", "mean")
VARIANCE_LEAVES = _set("running_var", "moving_variance", "var")
TABLE_LEAVES = _set("embedding", "embeddings")
POSITION_MODULES = _set(
    "wpe",
    "pos_embed",
    "pos_embedding",
    "pos_emb",
    "position_embedding",
    "position_embeddings",
    "embed_positions",
    "positional_embedding",
)
EMBEDDING_MODULES = _set(
    "embed",
    "embedding",
    "embeddings",
    "emb",
    "wte",
    "embed_tokens",
    "word_embeddings",
    "tok_embeddings",
    "token_embedding",
    "token_embeddings",
    "tok_emb",
    "token_type_embeddings",
    "relative_attention_bias",
)
QKV_MODULES = _set(
    "q_proj",
    "k_proj",
    "v_proj",
    "qkv_proj",
    "in_proj",
    "qkv",
    "c_attn",
    "query_key_value",
    "wqkv",
    "q",
    "k",
    "v",
    "query",
    "key",
    "value",
    "wq",
    "wk",
    "wv",
    "to_q",
    "to_k",
    "to_v",
    "q_lin",
    "k_lin",
    "v_lin",
)
ATTENTION_OUTPUT_MODULES = _set(
    "out_proj", "o_proj", "c_proj", "proj", "o", "wo", "out", "dense", "out_lin", "attention_output"
)
MLP_IN_MODULES = _set(
    "linear1",
    "fc1",
    "up_proj",
    "gate_proj",
    "gate_up_proj",
    "c_fc",
    "fc_in",
    "w1",
    "w3",
    "wi",
    "wi_0",
    "wi_1",
    "lin1",
    "dense_h_to_4h",
    "intermediate.dense",
)
MLP_OUT_MODULES = _set(
    "linear2",
    "fc2",
    "down_proj",
    "c_proj",
    "fc_out",
    "w2",
    "wo",
    "lin2",
    "dense_4h_to_h",
    "output.dense",
)
READOUT_MODULES = _set(
    "head", "lm_head", "classifier", "fc", "output", "out", "score", "logits", "readout"
)
FLAX_HIDDEN_GATES = _set("h", "hi", "hf", "hg", "ho", "hr", "hz", "hn")
TORCH_RECURRENT = r"(weight|bias)_(ih|hh|hr)(_l\d+)?(_reverse)?"
_LAYER_SUFFIX = r"(_l\d+)?(_reverse)?"

# The table, in order: the first row that matches decides.
ROLE_RULES: tuple[RoleRule, ...] = (
    RoleRule("running mean", MEAN_LEAVES, Role.RUNNING_STAT),
    RoleRule("running variance", VARIANCE_LEAVES, Role.RUNNING_STAT),
    RoleRule("batch counter", _set("num_batches_tracked"), Role.COUNTER),
    RoleRule("norm scale (Keras, Flax)", _set("gamma", "scale"), Role.NORM_SCALE),
    RoleRule("norm shift (Keras)", _set("beta"), Role.NORM_SHIFT),
    RoleRule(
        "torch MultiheadAttention input projections",
        _set("in_proj_weight", "q_proj_weight", "k_proj_weight", "v_proj_weight"),
        Role.ATTENTION_QKV,
    ),
    RoleRule("torch MultiheadAttention input bias", _set("in_proj_bias"), Role.BIAS),
    RoleRule(
        "torch MultiheadAttention key and value biases (add_bias_kv)",
        _set("bias_k", "bias_v"),
        Role.ATTENTION_QKV,
        ranks=(3, 3),
    ),
    RoleRule(
        "torch recurrent input kernel",
        _set(),
        Role.WEIGHT,
        leaf_pattern="weight_ih" + _LAYER_SUFFIX,
    ),
    RoleRule(
        "torch recurrent hidden kernel (and LSTM projection)",
        _set(),
        Role.RECURRENT_WEIGHT,
        leaf_pattern="weight_h[hr]" + _LAYER_SUFFIX,
    ),
    RoleRule("torch recurrent bias", _set(), Role.BIAS, leaf_pattern="bias_[ih]h" + _LAYER_SUFFIX),
    RoleRule("Keras recurrent kernel", _set("recurrent_kernel"), Role.RECURRENT_WEIGHT),
    RoleRule(
        "Keras recurrent input kernel", _set("kernel"), Role.WEIGHT, when=When.RECURRENT_SIBLING
    ),
    RoleRule("Keras recurrent bias", _set("bias"), Role.BIAS, when=When.RECURRENT_SIBLING),
    RoleRule(
        "position table (Keras, Flax)",
        TABLE_LEAVES,
        Role.POSITION_EMBEDDING,
        POSITION_MODULES,
        (2, 2),
    ),
    RoleRule("embedding table (Keras, Flax)", TABLE_LEAVES, Role.EMBEDDING, ranks=(2, 2)),
    RoleRule("position parameter", POSITION_MODULES, Role.POSITION_EMBEDDING, ranks=(2, 8)),
    RoleRule("norm weight", WEIGHT_LEAVES, Role.NORM_SCALE, when=When.NORM_PARENT),
    RoleRule("norm bias", _set("bias"), Role.NORM_SHIFT, when=When.NORM_PARENT),
    RoleRule(
        "PReLU slope (torch)", WEIGHT_LEAVES, Role.ACTIVATION, ranks=(1, 1), when=When.PRELU_PARENT
    ),
    RoleRule(
        "PReLU slope (Keras alpha, Flax negative_slope)",
        _set("alpha", "negative_slope"),
        Role.ACTIVATION,
        when=When.PRELU_PARENT,
    ),
    RoleRule("rank-1 weight (a norm's scale)", WEIGHT_LEAVES, Role.NORM_SCALE, ranks=(1, 1)),
    RoleRule("bias beside a norm scale", _set("bias"), Role.NORM_SHIFT, when=When.NORM_SIBLING),
    RoleRule("bias", _set("bias"), Role.BIAS, ranks=(1, 8)),
    RoleRule(
        "attention input projection",
        WEIGHT_LEAVES,
        Role.ATTENTION_QKV,
        QKV_MODULES,
        (2, 8),
        When.ATTENTION_BLOCK,
    ),
    RoleRule(
        "attention output projection",
        WEIGHT_LEAVES,
        Role.ATTENTION_OUTPUT,
        ATTENTION_OUTPUT_MODULES,
        (2, 8),
        When.ATTENTION_BLOCK,
    ),
    RoleRule("MLP input", WEIGHT_LEAVES, Role.MLP_IN, MLP_IN_MODULES, (2, 8), When.MLP_BLOCK),
    RoleRule("MLP output", WEIGHT_LEAVES, Role.MLP_OUT, MLP_OUT_MODULES, (2, 8), When.MLP_BLOCK),
    RoleRule("position table", WEIGHT_LEAVES, Role.POSITION_EMBEDDING, POSITION_MODULES, (2, 2)),
    RoleRule("embedding table", WEIGHT_LEAVES, Role.EMBEDDING, EMBEDDING_MODULES, (2, 2)),
    RoleRule(
        "embedding table or projection?",
        WEIGHT_LEAVES,
        None,
        ranks=(2, 2),
        when=When.EMBEDDING_LIKE,
        reason="its module's name contains 'emb' but is none of the table names: a table or a "
        "projection",
    ),
    RoleRule("readout head", WEIGHT_LEAVES, Role.READOUT, READOUT_MODULES, (2, 8), When.TOP_LEVEL),
    RoleRule(
        "Flax recurrent hidden kernel",
        _set("kernel"),
        Role.RECURRENT_WEIGHT,
        FLAX_HIDDEN_GATES,
        (2, 2),
        When.SQUARE,
    ),
    RoleRule("weight or kernel", WEIGHT_LEAVES, Role.WEIGHT, ranks=(2, 8)),
)

ROLES_TEXT = ", ".join(r.value for r in Role)


@dataclass(frozen=True)
class MapEntry:
    """One tensor of a shape map as given: a shape, and optionally its role and fans."""

    name: str
    shape: Shape
    role: Role | None = None
    fan_in: float | None = None
    fan_out: float | None = None


def field_of(name: str) -> str:
    """The request field of a shape map's tensor (names hold dots: brackets, not a path)."""
    return f"tensors[{name}]"


# ---- names ---------------------------------------------------------------------------------


_SPLIT = re.compile(r"[./]")
_ATTENTION = ("attn", "attention")
_MLP = ("mlp", "ffn", "feed_forward", "feedforward", "densereludense")


@dataclass(frozen=True)
class _Name:
    """A tensor name split into lower-case modules and its leaf, with its sibling prefix."""

    full: str
    leaf: str
    modules: tuple[str, ...]
    prefix: str  # the name without its leaf: prefix + "weight" is a sibling

    @classmethod
    def of(cls, name: str) -> _Name:
        parts = _SPLIT.split(name)
        return cls(name, parts[-1], tuple(p.lower() for p in parts[:-1]), name[: -len(parts[-1])])

    def module_match(self, modules: frozenset[str]) -> int:
        """How many trailing modules name one of ``modules`` (2, 1; 0: none)."""
        if len(self.modules) >= 2 and ".".join(self.modules[-2:]) in modules:
            return 2
        return 1 if self.modules and self.modules[-1] in modules else 0


def _norm_like(module: str) -> bool:
    return "norm" in module or any(
        part.rstrip("0123456789") in ("ln", "bn", "gn") for part in module.split("_")
    )


class _Map:
    """The whole map: shapes by name, for the conditions that look at other tensors."""

    def __init__(self, shapes: Mapping[str, Shape]) -> None:
        self.shapes = shapes
        # "a.b" -> the lower-case names of the modules right inside module a.b ("": the top)
        self._children: dict[str, set[str]] = {}
        for full in shapes:
            parts = _SPLIT.split(full)
            for depth in range(len(parts) - 1):
                key = ".".join(p.lower() for p in parts[:depth])
                self._children.setdefault(key, set()).add(parts[depth].lower())

    def has_attention_child(self, modules: tuple[str, ...]) -> bool:
        children = self._children.get(".".join(modules), set())
        return any(word in child for child in children for word in _ATTENTION)

    def sibling(self, name: _Name, leaf: str) -> Shape | None:
        return self.shapes.get(name.prefix + leaf)


def _attention_block(name: _Name, whole: _Map) -> bool:
    if any(word in module for module in name.modules for word in _ATTENTION):
        return True
    # torch's MultiheadAttention under any name: out_proj beside in_proj_weight (q_proj_weight)
    owner = name.prefix[: len(name.prefix) - len(name.modules[-1]) - 1] if name.modules else ""
    return any(owner + leaf in whole.shapes for leaf in ("in_proj_weight", "q_proj_weight"))


def _mlp_block(name: _Name, owner: tuple[str, ...], whole: _Map) -> bool:
    if any(word in module for module in name.modules for word in _MLP):
        return True
    return whole.has_attention_child(owner)


def _condition(rule: RoleRule, name: _Name, shape: Shape, whole: _Map) -> bool:
    """Whether ``rule.when`` holds for the tensor."""
    parent = name.modules[-1] if name.modules else ""
    owner = name.modules[: len(name.modules) - max(name.module_match(rule.modules), 1)]
    checks: dict[When, Callable[[], bool]] = {
        When.ALWAYS: lambda: True,
        When.NORM_PARENT: lambda: _norm_like(parent),
        When.PRELU_PARENT: lambda: "prelu" in parent or "p_re_lu" in parent,
        When.NORM_SIBLING: lambda: (
            len(whole.sibling(name, "weight") or ()) == 1
            or whole.sibling(name, "scale") is not None
            or whole.sibling(name, "gamma") is not None
        ),
        When.RECURRENT_SIBLING: lambda: whole.sibling(name, "recurrent_kernel") is not None,
        When.ATTENTION_BLOCK: lambda: _attention_block(name, whole),
        When.MLP_BLOCK: lambda: _mlp_block(name, owner, whole),
        When.EMBEDDING_LIKE: lambda: "emb" in parent,
        When.TOP_LEVEL: lambda: (
            bool(name.modules)
            and all(m in READOUT_MODULES for m in _without_collection(name.modules))
        ),
        When.SQUARE: lambda: len(shape) == 2 and shape[0] == shape[1],
    }
    return checks[rule.when]()


def _without_collection(modules: tuple[str, ...]) -> tuple[str, ...]:
    """Flax trees print their collection first (``params/head/kernel``)."""
    return modules[1:] if modules[:1] == ("params",) else modules


def _matches(rule: RoleRule, name: _Name, shape: Shape, whole: _Map) -> bool:
    if rule.leaf_pattern:
        if not re.fullmatch(rule.leaf_pattern, name.leaf):
            return False
    elif name.leaf not in rule.leaves:
        return False
    if rule.modules and not name.module_match(rule.modules):
        return False
    low, high = rule.ranks
    return low <= len(shape) <= high and _condition(rule, name, shape, whole)


def _ask(name: str, shape: Shape, reason: str) -> InvalidParameterError:
    return InvalidParameterError(
        f"Cannot tell the role of tensor {name!r} (shape {list(shape)}) from its name and rank: "
        f'{reason}. Give it as {{"shape": {list(shape)}, "role": ...}} with one of: '
        f"{ROLES_TEXT}.",
        field=field_of(name),
    )


def find_rule(name: str, shape: Shape, shapes: Mapping[str, Shape]) -> RoleRule:
    """The first row of :data:`ROLE_RULES` that matches the tensor (may be an asking row)."""
    return _find(name, shape, _Map(shapes))


def _find(name: str, shape: Shape, whole: _Map) -> RoleRule:
    parsed = _Name.of(name)
    for rule in ROLE_RULES:
        if _matches(rule, parsed, shape, whole):
            return rule
    raise _ask(
        name,
        shape,
        f"no row of the shape-map table matches its last part {parsed.leaf!r} at rank "
        f'{len(shape)} (README, "Shape maps")',
    )


def infer_role(name: str, shape: Shape, shapes: Mapping[str, Shape]) -> Role:
    """The role the table gives the tensor, or an error naming it (the name cannot decide)."""
    return _infer(name, shape, _Map(shapes))


def _infer(name: str, shape: Shape, whole: _Map) -> Role:
    rule = _find(name, shape, whole)
    if rule.role is None:
        raise _ask(name, shape, rule.reason)
    return rule.role


# ---- families, recurrent sizes, fans --------------------------------------------------------


@dataclass(frozen=True)
class _Recurrent:
    cell: str
    hidden_size: int


def _recurrent_error(name: str, detail: str) -> ShapeError:
    return ShapeError(
        f"Tensor {name!r} is named like a recurrent layer's, but {detail}; the recurrent "
        "defaults need the hidden size and the cell (rnn, gru or lstm).",
        field=field_of(name),
    )


def _torch_recurrent(name: _Name, whole: _Map) -> _Recurrent | None:
    match = re.fullmatch(TORCH_RECURRENT, name.leaf)
    if match is None:
        return None
    suffix = (match.group(3) or "") + (match.group(4) or "")
    hidden = whole.sibling(name, f"weight_hh{suffix}")
    projection = whole.sibling(name, f"weight_hr{suffix}")
    if hidden is None or len(hidden) != 2 or (projection is not None and len(projection) != 2):
        raise _recurrent_error(name.full, f"the map has no rank-2 {name.prefix}weight_hh{suffix}")
    size = projection[1] if projection is not None else hidden[1]
    return _cell(name.full, hidden[0], size, f"{name.prefix}weight_hh{suffix}")


def _cell(name: str, rows: int, size: int, source: str) -> _Recurrent:
    gates = rows // size if rows % size == 0 else 0
    cells = {count: cell for cell, count in GATES.items()}
    if gates not in cells:
        raise _recurrent_error(
            name, f"{source} has {rows} gate rows, not 1, 3 or 4 times the hidden size {size}"
        )
    return _Recurrent(cells[gates], size)


def _keras_recurrent(name: _Name, whole: _Map) -> _Recurrent | None:
    if name.leaf not in ("kernel", "recurrent_kernel", "bias"):
        return None
    recurrent = whole.sibling(name, "recurrent_kernel")
    if recurrent is None:
        return None
    if len(recurrent) != 2:
        raise _recurrent_error(name.full, f"{name.prefix}recurrent_kernel is not rank 2")
    return _cell(name.full, recurrent[1], recurrent[0], f"{name.prefix}recurrent_kernel")


def _sibling_weight(name: _Name, whole: _Map) -> str | None:
    """The weight a bias belongs to (its fans and family)."""
    match = re.fullmatch(TORCH_RECURRENT, name.leaf)
    if match is not None and match.group(1) == "bias":
        candidates: tuple[str, ...] = (name.leaf.replace("bias", "weight", 1),)
    elif name.leaf == "in_proj_bias":
        candidates = ("in_proj_weight", "q_proj_weight")
    else:
        candidates = ("weight", "kernel")
    for leaf in candidates:
        if name.prefix + leaf in whole.shapes:
            return name.prefix + leaf
    return None


_FAMILY_OF_ROLE = {
    Role.EMBEDDING: Family.EMBEDDING,
    Role.POSITION_EMBEDDING: Family.EMBEDDING,
    Role.NORM_SCALE: Family.NORM,
    Role.NORM_SHIFT: Family.NORM,
    Role.RUNNING_STAT: Family.NORM,
    Role.COUNTER: Family.NORM,
    Role.ACTIVATION: Family.PRELU,
}
_NO_FANS = frozenset(_FAMILY_OF_ROLE) - {Role.EMBEDDING, Role.POSITION_EMBEDDING, Role.ACTIVATION}
TORCH_MHA_PROJECTIONS = _set("in_proj_weight", "q_proj_weight", "k_proj_weight", "v_proj_weight")


def _torch_attention_family(name: _Name, whole: _Map) -> Family | None:
    """torch's nn.MultiheadAttention initialises its own tensors (schemes/defaults.py): its
    input projections and its ``out_proj`` (whose bias it zeroes) are attention-family,
    ``bias_k``/``bias_v`` their own family; as the ``multihead_attention`` layer kind does."""
    if name.leaf in TORCH_MHA_PROJECTIONS:
        return Family.ATTENTION
    if name.leaf in ("bias_k", "bias_v"):
        return Family.ATTENTION_BIAS_KV
    if name.modules and name.modules[-1] == "out_proj":
        owner = name.prefix[: len(name.prefix) - len("out_proj") - 1]
        if any(owner + leaf in whole.shapes for leaf in ("in_proj_weight", "q_proj_weight")):
            return Family.ATTENTION
    return None


def _own_fans(shape: Shape, role: Role, layout: Layout) -> Fans | None:
    """The layout's fan rule on the stored shape; Flax's axes for its tables and attention."""
    if role in _NO_FANS or not shape or any(d == 0 for d in shape):
        return None
    rank = len(shape)
    if layout is Layout.JAX and rank >= 2:
        if role in (Role.EMBEDDING, Role.POSITION_EMBEDDING) and rank == 2:
            return compute_fans(shape, FanAxes(in_axes=(-2,), out_axes=(0,)))  # Flax Embed
        if role is Role.ATTENTION_QKV and rank >= 3:  # DenseGeneral (E, H, D)
            return compute_fans(shape, FanAxes((0,), tuple(range(1, rank))))
        if role is Role.ATTENTION_OUTPUT and rank >= 3:  # DenseGeneral (H, D, E)
            return compute_fans(shape, FanAxes(tuple(range(rank - 1)), (rank - 1,)))
    if layout is not Layout.KERAS and rank < 2:
        return None
    return layout_fans(shape, layout)


def _fans(entry: MapEntry, fans: Fans | None) -> Fans | None:
    """``fans`` with the entry's explicit fan_in / fan_out; errors name the entry's field."""
    try:
        return override_fans(fans, entry.fan_in, entry.fan_out)
    except InvalidParameterError as exc:
        exc.field = f"{field_of(entry.name)}.{exc.field or 'fan_in'}"
        raise


def _spec(entry: MapEntry, role: Role, layout: Layout, whole: _Map) -> TensorSpec:
    """A non-bias tensor's spec: family, recurrent sizes, fans."""
    name = _Name.of(entry.name)
    recurrent = _torch_recurrent(name, whole) or _keras_recurrent(name, whole)
    family = _FAMILY_OF_ROLE.get(role) or _torch_attention_family(name, whole)
    if family is None:
        family = (
            Family.RECURRENT
            if recurrent is not None
            else Family.CONV
            if role is Role.WEIGHT and len(entry.shape) >= 3
            else Family.DENSE
        )
    if family is not Family.RECURRENT:
        recurrent = None
    fans = _fans(entry, _own_fans(entry.shape, role, layout))
    fill = None
    if role is Role.RUNNING_STAT:
        fill = 1.0 if name.leaf in VARIANCE_LEAVES else 0.0
    return TensorSpec(
        entry.name,
        entry.shape,
        role,
        family,
        fans,
        recurrent.cell if recurrent else None,
        recurrent.hidden_size if recurrent else None,
        fill=fill,
    )


def _bias_spec(
    entry: MapEntry, layout: Layout, whole: _Map, done: Mapping[str, TensorSpec]
) -> TensorSpec:
    """A bias: the family and fans of its sibling weight (own fans without one)."""
    of = _sibling_weight(_Name.of(entry.name), whole)
    weight = done.get(of) if of is not None else None
    if weight is None:
        fans = _fans(entry, _own_fans(entry.shape, Role.BIAS, layout))
        return TensorSpec(entry.name, entry.shape, Role.BIAS, Family.DENSE, fans)
    fans = _fans(entry, weight.fans)
    return TensorSpec(
        entry.name, entry.shape, Role.BIAS, weight.family, fans, weight.cell, weight.hidden_size
    )


def expand_shape_map(entries: Sequence[MapEntry], layout: Layout) -> list[TensorSpec]:
    """Every tensor of a shape map, in the map's order, with role, family and fans.

    A given role wins over the table; a tensor the table cannot decide is an
    InvalidParameterError naming it (``tensors[<name>]``).
    """
    shapes = {e.name: e.shape for e in entries}
    whole = _Map(shapes)
    roles = {
        e.name: e.role if e.role is not None else _infer(e.name, e.shape, whole) for e in entries
    }
    done: dict[str, TensorSpec] = {}
    for entry in entries:  # weights first: a bias takes its weight's fans
        if roles[entry.name] is not Role.BIAS:
            done[entry.name] = _spec(entry, roles[entry.name], layout, whole)
    for entry in entries:
        if roles[entry.name] is Role.BIAS:
            done[entry.name] = _bias_spec(entry, layout, whole, done)
    return [done[e.name] for e in entries]


def count_map_elements(entries: Sequence[MapEntry]) -> int:
    """The map's total element count (nothing is built)."""
    return sum(math.prod(e.shape) for e in entries)
