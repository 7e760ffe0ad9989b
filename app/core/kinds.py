"""Which layouts have each layer kind: one literal table of the frameworks' own layer classes.

A layout offers a kind when its framework has that layer (torch.nn, Keras 3 ``keras.layers``,
Flax ``flax.linen``); anything else is a 422 naming the layouts that have it, so a request
never gets tensors a framework could not hold. The README's kind x layout table shows the
same rows with the tensor names (tests/test_readme.py compares the two).

Arguments that only one framework's layer takes (torch's ``proj_size`` and ``add_bias_kv``,
Keras' ``key_dim``, Flax's ``qkv_features``...) are refused the same way under the other
layouts (:func:`refuse_argument`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NoReturn

from .errors import InvalidParameterError
from .types import Layout

T, K, J = Layout.TORCH, Layout.KERAS, Layout.JAX

FRAMEWORKS: Mapping[Layout, str] = {T: "torch", K: "Keras", J: "Flax"}

# kind -> {layout: the framework's layer}; a layout missing from a row has no such layer.
KIND_CLASSES: Mapping[str, Mapping[Layout, str]] = {
    "dense": {T: "nn.Linear", K: "Dense", J: "nn.Dense"},
    "bilinear": {T: "nn.Bilinear"},
    **{f"conv{d}d": {T: f"nn.Conv{d}d", K: f"Conv{d}D", J: "nn.Conv"} for d in (1, 2, 3)},
    **{
        f"conv_transpose{d}d": {
            T: f"nn.ConvTranspose{d}d",
            K: f"Conv{d}DTranspose",
            J: "nn.ConvTranspose",
        }
        for d in (1, 2, 3)
    },
    "embedding": {T: "nn.Embedding", K: "Embedding", J: "nn.Embed"},
    "rnn": {T: "nn.RNN", K: "SimpleRNN", J: "nn.SimpleCell"},
    "lstm": {T: "nn.LSTM", K: "LSTM", J: "nn.LSTMCell"},
    "gru": {T: "nn.GRU", K: "GRU", J: "nn.GRUCell"},
    "multihead_attention": {
        T: "nn.MultiheadAttention",
        K: "MultiHeadAttention",
        J: "nn.MultiHeadDotProductAttention",
    },
    "transformer_encoder_layer": {T: "nn.TransformerEncoderLayer"},
    "transformer_decoder_layer": {T: "nn.TransformerDecoderLayer"},
    "layer_norm": {T: "nn.LayerNorm", K: "LayerNormalization", J: "nn.LayerNorm"},
    "batch_norm": {T: "nn.BatchNorm1d/2d/3d", K: "BatchNormalization", J: "nn.BatchNorm"},
    "group_norm": {T: "nn.GroupNorm", K: "GroupNormalization", J: "nn.GroupNorm"},
    "instance_norm": {T: "nn.InstanceNorm1d/2d/3d", J: "nn.InstanceNorm"},
    "rms_norm": {T: "nn.RMSNorm", K: "RMSNormalization", J: "nn.RMSNorm"},
    "prelu": {T: "nn.PReLU", K: "PReLU", J: "nn.PReLU"},
    "tensor": {T: "(a raw tensor)", K: "(a raw tensor)", J: "(a raw tensor)"},
}


def _layouts_text(layouts: tuple[Layout, ...]) -> str:
    names = [repr(layout.value) for layout in layouts]
    if len(names) == 1:
        return f"layout {names[0]}, which has it"
    return f"layout {' or '.join(names)}, which have it"


def check_kind(kind: str, layout: Layout) -> None:
    """A 422 on ``layer.kind`` when ``layout``'s framework has no layer of this kind."""
    classes = KIND_CLASSES[kind]
    if layout in classes:
        return
    having = tuple(classes)
    examples = ", ".join(f"{FRAMEWORKS[lay]} {classes[lay]}" for lay in having)
    raise InvalidParameterError(
        f"{FRAMEWORKS[layout]} has no {kind!r} layer ({examples}); use {_layouts_text(having)}.",
        field="layer.kind",
    )


def refuse_argument(
    kind: str, name: str, layout: Layout, having: tuple[Layout, ...], what: str = ""
) -> NoReturn:
    """A 422 on ``layer.<name>``: ``layout``'s layer of this kind has no such argument.

    ``having`` are the layouts whose layer takes it; ``what`` says more (a default, a fix).
    """
    layer = KIND_CLASSES[kind][layout]
    takers = ", ".join(f"{FRAMEWORKS[lay]} {KIND_CLASSES[kind][lay]}" for lay in having)
    raise InvalidParameterError(
        f"{FRAMEWORKS[layout]} {layer} has no {name} (it is an argument of {takers}); "
        f"remove it or use {_layouts_text(having)}.{(' ' + what) if what else ''}",
        field=f"layer.{name}",
    )
