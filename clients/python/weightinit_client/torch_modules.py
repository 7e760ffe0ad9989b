"""Fill a ``torch.nn.Module`` from one ``POST /v1/models`` request (torch is imported only here).

:func:`init_torch_module` describes the module by its own layer types (each ``nn.Linear``,
``nn.Conv2d``, ``nn.LSTM``, ``nn.MultiheadAttention``... becomes one layer of the request,
named by its path in ``named_modules()``, in registration order: the order torch constructs
them), asks the service for every tensor in safetensors, and copies each into the module's
parameter or buffer of the same ``state_dict`` name. A module built on the ``meta`` device is
materialised first with ``to_empty``. With ``algorithm="torch-cpu"`` and no scheme, the result
is what ``torch.manual_seed(seed)`` followed by constructing the module gives, byte for byte
wherever every draw is exact (uniform-based) and within the service's stated ``max_ulp``
elsewhere.

Containers (``nn.Sequential``, ``nn.ModuleList``, your own ``nn.Module`` subclasses) hold no
tensors of their own and are walked through; ``nn.TransformerEncoderLayer`` and
``DecoderLayer`` are their attention, linear and norm children.

Where ``algorithm="torch-cpu"`` cannot match torch's construction order:

* layers are requested in registration order (``named_children``); torch draws in
  construction order. They differ when a module builds a child before one it registers
  earlier (``b = nn.Linear(...); self.a = nn.Linear(...); self.b = b``): a module does not
  record construction times, so such a model gets different values (tested: it differs);
* ``nn.TransformerEncoder``/``Decoder`` deep-copy one layer (``_get_clones``): under torch-cpu
  only ``layers.0`` is requested and every copy gets its values, as in torch;
  ``nn.Transformer`` then re-initialises every matrix with ``xavier_uniform_``, which is
  refused (``TypeError``) under torch-cpu;
* a model built in float32 and cast with ``.double()`` holds float32 draws; torch-cpu's
  float64 is a model built with ``dtype=torch.float64``. A module type this adapter
does not know that owns parameters or buffers is refused, naming it: its initial values are
whatever its own code draws.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from typing import Any

from ._core import SchemeSpec
from .client import Client

# The request's layer name for a module that is itself a leaf (its state_dict has no prefix).
_ROOT = "module"


def _torch() -> Any:
    try:
        return importlib.import_module("torch")  # an optional extra: typed as Any here
    except ImportError as exc:  # pragma: no cover - exercised in an environment without torch
        raise ImportError(
            "init_torch_module needs PyTorch: pip install torch (the SDK itself does not)."
        ) from exc


def _conv(kind: str) -> Callable[[Any], dict[str, Any]]:
    def spec(m: Any) -> dict[str, Any]:
        return {
            "kind": kind,
            "in_channels": m.in_channels,
            "out_channels": m.out_channels,
            "kernel_size": list(m.kernel_size),
            "groups": m.groups,
            "bias": m.bias is not None,
        }

    return spec


def _recurrent(kind: str) -> Callable[[Any], dict[str, Any]]:
    def spec(m: Any) -> dict[str, Any]:
        out = {
            "kind": kind,
            "input_size": m.input_size,
            "hidden_size": m.hidden_size,
            "num_layers": m.num_layers,
            "bias": m.bias,
            "bidirectional": m.bidirectional,
        }
        if kind == "lstm" and m.proj_size:
            out["proj_size"] = m.proj_size
        return out

    return spec


def _embedding(m: Any) -> dict[str, Any]:
    out = {
        "kind": "embedding",
        "num_embeddings": m.num_embeddings,
        "embedding_dim": m.embedding_dim,
    }
    if m.padding_idx is not None:
        out["padding_idx"] = m.padding_idx
    return out


def _attention(m: Any) -> dict[str, Any]:
    return {
        "kind": "multihead_attention",
        "embed_dim": m.embed_dim,
        "num_heads": m.num_heads,
        "kdim": m.kdim,
        "vdim": m.vdim,
        "bias": m.in_proj_bias is not None,
        "add_bias_kv": m.bias_k is not None,
    }


def _layer_norm(m: Any) -> dict[str, Any]:
    return {
        "kind": "layer_norm",
        "normalized_shape": list(m.normalized_shape),
        "elementwise_affine": m.elementwise_affine,
        "bias": getattr(m, "bias", None) is not None or not m.elementwise_affine,
    }


def _rms_norm(m: Any) -> dict[str, Any]:
    return {
        "kind": "rms_norm",
        "normalized_shape": list(m.normalized_shape),
        "elementwise_affine": m.elementwise_affine,
    }


def _batch_norm(kind: str) -> Callable[[Any], dict[str, Any]]:
    def spec(m: Any) -> dict[str, Any]:
        return {
            "kind": kind,
            "num_features": m.num_features,
            "affine": m.affine,
            "track_running_stats": m.track_running_stats,
        }

    return spec


def _layer_specs() -> list[tuple[Any, Callable[[Any], dict[str, Any]]]]:
    """(torch class, its layer spec): one literal row per supported module type."""
    nn = _torch().nn
    return [
        (nn.Linear, lambda m: {"kind": "dense", "in_features": m.in_features,
                               "out_features": m.out_features, "bias": m.bias is not None}),
        (nn.Bilinear, lambda m: {"kind": "bilinear", "in1_features": m.in1_features,
                                 "in2_features": m.in2_features,
                                 "out_features": m.out_features, "bias": m.bias is not None}),
        (nn.Conv1d, _conv("conv1d")),
        (nn.Conv2d, _conv("conv2d")),
        (nn.Conv3d, _conv("conv3d")),
        (nn.ConvTranspose1d, _conv("conv_transpose1d")),
        (nn.ConvTranspose2d, _conv("conv_transpose2d")),
        (nn.ConvTranspose3d, _conv("conv_transpose3d")),
        (nn.Embedding, _embedding),
        (nn.RNN, _recurrent("rnn")),
        (nn.LSTM, _recurrent("lstm")),
        (nn.GRU, _recurrent("gru")),
        (nn.MultiheadAttention, _attention),
        (nn.LayerNorm, _layer_norm),
        (nn.RMSNorm, _rms_norm),
        (nn.GroupNorm, lambda m: {"kind": "group_norm", "num_groups": m.num_groups,
                                  "num_channels": m.num_channels, "affine": m.affine}),
        (nn.BatchNorm1d, _batch_norm("batch_norm")),
        (nn.BatchNorm2d, _batch_norm("batch_norm")),
        (nn.BatchNorm3d, _batch_norm("batch_norm")),
        (nn.InstanceNorm1d, _batch_norm("instance_norm")),
        (nn.InstanceNorm2d, _batch_norm("instance_norm")),
        (nn.InstanceNorm3d, _batch_norm("instance_norm")),
        (nn.PReLU, lambda m: {"kind": "prelu", "num_parameters": m.num_parameters}),
    ]  # fmt: skip


def _own_tensors(module: Any) -> list[str]:
    names = [n for n, _ in module.named_parameters(recurse=False)]
    return names + [n for n, _ in module.named_buffers(recurse=False)]


def _cloned(module: Any) -> bool:
    """``nn.TransformerEncoder``/``Decoder``: ``layers`` are deep copies of the one layer
    passed in (torch's ``_get_clones``), drawn once."""
    nn = _torch().nn
    return isinstance(module, nn.TransformerEncoder | nn.TransformerDecoder)


def _children(module: Any, clones: bool) -> Iterator[tuple[str, Any]]:
    for name, child in module.named_children():
        if clones and name == "layers" and _cloned(module):
            for index, layer in list(child.named_children())[:1]:  # the copies draw nothing
                yield f"{name}.{index}", layer
        else:
            yield name, child


def _refuse_transformer(path: str, module: Any) -> None:
    if isinstance(module, _torch().nn.Transformer):
        raise TypeError(
            f"{path or type(module).__name__}: nn.Transformer re-initialises every matrix with "
            "xavier_uniform_ after cloning its layers; algorithm='torch-cpu' does not reproduce "
            "it (build it from TransformerEncoder/Decoder, or use another algorithm)"
        )


def _walk(module: Any, prefix: str, clones: bool = False) -> Iterator[tuple[str, Any]]:
    """(path, module) of every module that becomes one layer, in registration order."""
    specs = _layer_specs()
    for name, child in _children(module, clones):
        path = f"{prefix}.{name}" if prefix else name
        if clones:
            _refuse_transformer(path, child)
        if any(isinstance(child, cls) for cls, _ in specs):
            yield path, child
        elif _own_tensors(child):
            raise TypeError(
                f"{path}: weightinit does not know {type(child).__name__}, which owns "
                f"{', '.join(_own_tensors(child))}; supported layers: "
                + ", ".join(cls.__name__ for cls, _ in specs)
            )
        else:
            yield from _walk(child, path, clones)


def torch_layers(module: Any, *, clones: bool = False) -> list[dict[str, Any]]:
    """The ``layers`` of a /v1/models body (torch layout) describing ``module``. ``clones``:
    describe only the first layer of a ``TransformerEncoder``/``Decoder`` (torch draws it
    once and deep-copies it), as ``algorithm="torch-cpu"`` needs."""
    specs = _layer_specs()
    spec_of = next((spec for cls, spec in specs if isinstance(module, cls)), None)
    if spec_of is not None:  # the module is one layer itself
        return [{"name": _ROOT, "layer": spec_of(module)}]
    if _own_tensors(module):
        raise TypeError(
            f"weightinit does not know {type(module).__name__}, which owns "
            f"{', '.join(_own_tensors(module))}"
        )
    if clones:
        _refuse_transformer("", module)
    layers = []
    for path, child in _walk(module, "", clones):
        spec = next(spec for cls, spec in specs if isinstance(child, cls))
        layers.append({"name": path, "layer": spec(child)})
    return layers


def _clone_sources(module: Any) -> dict[str, str]:
    """state_dict name of every tensor of a cloned layer -> the same tensor of layer 0."""
    out: dict[str, str] = {}
    for path, sub in module.named_modules():
        if not _cloned(sub):
            continue
        base = f"{path}.layers" if path else "layers"
        for k in range(1, len(sub.layers)):
            for name in sub.layers[k].state_dict():
                out[f"{base}.{k}.{name}"] = f"{base}.0.{name}"
    return out


def _dtype(module: Any) -> str:
    torch = _torch()
    found = {p.dtype for p in module.parameters() if p.is_floating_point()}
    found |= {b.dtype for b in module.buffers() if b.is_floating_point()}
    if len(found) > 1:
        raise ValueError(f"the module mixes floating dtypes {sorted(map(str, found))}; cast it")
    dtype = found.pop() if found else torch.float32
    return str(dtype).removeprefix("torch.")


def init_torch_module(
    module: Any,
    *,
    seed: int | str,
    scheme: SchemeSpec = None,
    bias_scheme: SchemeSpec = None,
    algorithm: str = "blocks-v1",
    client: Client | None = None,
    url: str | None = None,
    device: Any = "cpu",
) -> Any:
    """Fill every parameter and buffer of ``module`` from one request; returns ``module``.

    ``algorithm="torch-cpu"`` reproduces ``torch.manual_seed(seed)`` then constructing the
    module (no ``scheme``), or then re-initialising each tensor a ``scheme`` names. The dtype
    is the module's own (float32, float64, float16 or bfloat16). A module on the ``meta``
    device is materialised on ``device`` with ``to_empty`` first.
    """
    torch = _torch()
    clones = algorithm == "torch-cpu"
    layers = torch_layers(module, clones=clones)
    if any(t.is_meta for t in [*module.parameters(), *module.buffers()]):
        module.to_empty(device=device)
    owned = client is None
    if client is None:
        client = Client(url)
    try:
        arrays = client.model(
            layers,
            seed=seed,
            scheme=scheme,
            bias_scheme=bias_scheme,
            dtype=_dtype(module),
            layout="torch",
            algorithm=algorithm,
            format="safetensors",
        )
    finally:
        if owned:
            client.close()
    state = module.state_dict(keep_vars=True)
    prefix = f"{_ROOT}." if layers and layers[0]["name"] == _ROOT else ""
    sources = _clone_sources(module) if clones else {}
    expected = {prefix + sources.get(name, name) for name in state}
    if set(arrays) != expected:
        missing, extra = sorted(expected - set(arrays)), sorted(set(arrays) - expected)
        raise ValueError(f"the service's tensors differ from the module's: missing {missing}, "
                         f"extra {extra}")  # fmt: skip
    with torch.no_grad():
        for name, tensor in state.items():
            value = torch.from_numpy(arrays[prefix + sources.get(name, name)])
            if tensor.dtype == torch.bfloat16 and value.dtype != torch.bfloat16:
                value = value.view(torch.bfloat16)  # uint16 bits when ml_dtypes is absent
            tensor.copy_(value.reshape(tensor.shape))
    return module
