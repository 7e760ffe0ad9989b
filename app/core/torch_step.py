"""One tensor's part in torch-cpu's construction (``torch_modules.py``), carried by its plan."""

from __future__ import annotations

from dataclasses import dataclass

from .laws import Law


@dataclass(frozen=True)
class TorchStep:
    """How a tensor comes out of ``torch.manual_seed(s); Model()`` and the re-init loop.

    ``built``: the law its constructor leaves in it; ``consumed``: a law drawn and then
    overwritten during construction (``out_proj.bias``); ``reinit``: the request set its
    scheme, so the plan's own law is applied after construction; ``module``: the
    MultiheadAttention it belongs to (its ``out_proj`` tensors, ``first``, draw before the
    others of that module)."""

    built: Law
    consumed: Law | None = None
    reinit: bool = False
    module: str | None = None
    first: bool = False
