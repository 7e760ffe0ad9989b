"""The ``torch-cpu`` stream algorithm: ``torch.manual_seed(seed)``, build, then re-initialise.

A request's tensors are drawn from one :class:`~app.core.torch_cpu.TorchGenerator` in two
passes, what this torch code does::

    torch.manual_seed(seed)
    model = Model()                               # 1. construction, layer after layer
    for name, p in model.state_dict().items():    # 2. only tensors the request named a
        init_(p)                                  #    scheme for, in state_dict order

1. Construction: each layer's constructor draws its defaults (``torch.default``:
   Linear/Conv*/ConvTranspose* ``kaiming_uniform_(a=sqrt(5))`` then the bias's
   ``uniform_(+-1/sqrt(fan_in))``; Embedding ``normal_`` then the padding row zeroed;
   RNN/LSTM/GRU ``uniform_(+-1/sqrt(hidden))`` on every parameter in registration order;
   Bilinear ``uniform_(+-1/sqrt(in1))``; norms and PReLU draw nothing) in registration
   order, which is state_dict order except in ``nn.MultiheadAttention`` (torch/nn/modules/
   activation.py): its ``out_proj`` Linear is constructed inside ``__init__`` and draws
   ``out_proj.weight`` and ``out_proj.bias`` first; then ``_reset_parameters`` draws
   ``in_proj_weight`` (or ``q/k/v_proj_weight``) with ``xavier_uniform_``, zeroes
   ``in_proj_bias`` and ``out_proj.bias`` (whose draw was consumed), and draws ``bias_k``,
   ``bias_v`` with ``xavier_normal_``. TransformerEncoderLayer/DecoderLayer build
   ``self_attn`` (, ``multihead_attn``), ``linear1``, ``linear2``, then the norms
   (torch/nn/modules/transformer.py): state_dict order.
2. Re-initialisation: a tensor whose scheme the request set (request ``scheme``/
   ``bias_scheme``/``role_schemes``, a layer's own, a framework argument, the ``mlp``
   shorthand's zero biases) gets that scheme's torch call (``torch_init.py``) after the whole
   model is built, in state_dict order. Like torch's loop it does not re-zero an Embedding's
   padding row.

A raw tensor (layer kind ``tensor``, a shape map's unclaimed tensor) has no constructor:
``t = torch.empty(shape, dtype); init_(t)`` with its scheme (default ``torch.default``:
``kaiming_uniform_(a=sqrt(5))``). float64 requests are models built with
``dtype=torch.float64`` (53-bit uniforms, two words each), float16/bfloat16 ones with that
dtype (float kernels, cast, torch's clamp of a value rounded up to the upper bound).

Every tensor reports its :class:`~app.core.torch_init.Exactness`: the worst of the draws that
made its final values; once a rejection decision may have differed from torch's, every later
drawn tensor is approximate without a bound.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from .laws import ConstantLaw, Law, TruncatedNormalLaw, UniformLaw
from .torch_cpu import TorchGenerator
from .torch_init import EXACT, UNBOUNDED, Exactness, check_law, draw, draws, law_exactness
from .torch_step import TorchStep
from .types import Family

if TYPE_CHECKING:
    from .plans import TensorPlan
    from .tensor_spec import TensorSpec

# nn.MultiheadAttention's own tensor names (attention.py): the rest of a name is its module.
_MHA_NAMES = (
    "in_proj_weight",
    "q_proj_weight",
    "k_proj_weight",
    "v_proj_weight",
    "in_proj_bias",
    "bias_k",
    "bias_v",
    "out_proj.weight",
    "out_proj.bias",
)
_MHA_FIRST = ("out_proj.weight", "out_proj.bias")  # drawn by the Linear's own constructor


def torch_step(tensor: TensorSpec, name: str, default: Law, law: Law, reinit: bool) -> TorchStep:
    """The step of ``tensor`` (full name ``name``): ``default`` is its ``torch.default`` law,
    ``law`` the one its scheme resolves to; a raw tensor has no constructor (``torch.empty``,
    then its scheme's call)."""
    if tensor.family is Family.TENSOR:
        return TorchStep(law)
    if tensor.family not in (Family.ATTENTION, Family.ATTENTION_BIAS_KV):
        return TorchStep(default, reinit=reinit)
    local = next((m for m in _MHA_NAMES if name == m or name.endswith("." + m)), None)
    if local is None:  # pragma: no cover - every torch attention tensor has an MHA name
        return TorchStep(default, reinit=reinit)
    module = "mha:" + name[: len(name) - len(local)]
    first = local in _MHA_FIRST
    if local == "out_proj.bias":  # Linear's bias draw, then constant_(0) in _reset_parameters
        fan_in = tensor.fans.fan_in if tensor.fans is not None else 0.0
        bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0.0  # nn.Linear.reset_parameters
        return TorchStep(ConstantLaw(0.0), UniformLaw(-bound, bound), reinit, module, first)
    return TorchStep(default, None, reinit, module, first)


def construction_order(plans: list[TensorPlan]) -> list[int]:
    """Indices of ``plans`` in the order their constructors draw (module docstring)."""
    order: list[int] = []
    i = 0
    while i < len(plans):
        step = plans[i].torch
        module = step.module if step is not None else None
        j = i + 1
        if module is not None:
            while j < len(plans) and (s := plans[j].torch) is not None and s.module == module:
                j += 1
            run = range(i, j)
            order += [k for k in run if _first(plans[k])] + [k for k in run if not _first(plans[k])]
        else:
            order.append(i)
        i = j
    return order


def _first(plan: TensorPlan) -> bool:
    return plan.torch is not None and plan.torch.first


def check_supported(plans: list[TensorPlan]) -> None:
    """Refuse, before drawing anything, plans torch-cpu cannot produce (a 422 names the
    tensor and the fix)."""
    for plan in plans:
        step = plan.torch
        if step is None:
            raise ValueError(f"plan {plan.name!r} was not planned for torch-cpu")
        check_law(step.built, plan.shape, plan.name, plan.dtype)
        if step.reinit:
            check_law(plan.law, plan.shape, plan.name, plan.dtype)


def generate_sequential(plans: list[TensorPlan], seed: int) -> list[NDArray[np.generic]]:
    """Every tensor of a request under torch-cpu, in ``plans`` order (module docstring)."""
    check_supported(plans)
    gen = TorchGenerator(seed)
    values: list[NDArray[Any] | None] = [None] * len(plans)
    for index in construction_order(plans):
        plan = plans[index]
        step = plan.torch
        assert step is not None
        if step.consumed is not None:
            draw(gen, plan.shape, plan.dtype, step.consumed)
        out = draw(gen, plan.shape, plan.dtype, step.built)
        if plan.zero_row is not None:
            out[plan.zero_row] = 0  # Embedding._fill_padding_idx_with_zero
        values[index] = out
    for index, plan in enumerate(plans):
        if plan.torch is not None and plan.torch.reinit:
            values[index] = draw(gen, plan.shape, plan.dtype, plan.law)
    return [v for v in values if v is not None]


def plan_exactness(plans: list[TensorPlan]) -> list[Exactness]:
    """Each tensor's exactness, known before anything is drawn: the exactness of the call
    that wrote its final values, or unbounded when an approximate ``trunc_normal_`` (whose
    draw count depends on the values) came earlier in the stream."""
    out: list[Exactness] = [EXACT] * len(plans)
    shifted = False

    def run(index: int, law: Law) -> Exactness:
        nonlocal shifted
        plan = plans[index]
        how = law_exactness(law, plan.numel, plan.dtype)
        if shifted and draws(law):
            how = UNBOUNDED
        if isinstance(law, TruncatedNormalLaw) and how is UNBOUNDED:
            shifted = True
        return how

    for index in construction_order(plans):
        step = plans[index].torch
        if step is None:
            continue
        if step.consumed is not None:
            run(index, step.consumed)
        out[index] = run(index, step.built)
    for index, plan in enumerate(plans):
        if plan.torch is not None and plan.torch.reinit:
            out[index] = run(index, plan.law)
    return out
