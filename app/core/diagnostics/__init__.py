"""Signal-propagation diagnostics of an initialised sequential chain, in numpy.

``activations`` (values, derivatives, Gaussian moments), ``ops`` (each layer kind's forward
and backward), ``chain`` (the chain, one forward/backward pass, per-layer statistics),
``propagation`` (the mean-field prediction with its derived tolerance), ``coordinate_check``
(muP's coordinate check: a few training steps per width), ``residual`` (a GPT-2 or Llama
decoder's forward and backward pass with Brock et al.'s per-block statistics).
"""

from .activations import ACTIVATIONS, SATURATING, Moments, apply, derivative, gaussian_moments
from .chain import (
    NORM_KINDS,
    Attention,
    Conv,
    Dense,
    Embedding,
    LayerStats,
    Link,
    Norm,
    Step,
    chain_shapes,
    forward_backward,
)
from .coordinate_check import CoordinateRow, Trainable, TrainingStep, coordinate_check, train
from .propagation import Z_MULTIPLIER, Prediction, agrees, predict, tolerance_from_log_variance
from .residual import (
    BlockStats,
    Decoder,
    DecoderBlock,
    DecoderTrace,
    NormWeights,
    Projection,
    attention_scale,
    decoder_macs,
    decoder_trace,
    embed,
    patch_embed,
)

__all__ = [
    "ACTIVATIONS",
    "NORM_KINDS",
    "SATURATING",
    "Z_MULTIPLIER",
    "Attention",
    "BlockStats",
    "Conv",
    "CoordinateRow",
    "Decoder",
    "DecoderBlock",
    "DecoderTrace",
    "Dense",
    "Embedding",
    "LayerStats",
    "Link",
    "Moments",
    "Norm",
    "NormWeights",
    "Prediction",
    "Projection",
    "Step",
    "Trainable",
    "TrainingStep",
    "agrees",
    "apply",
    "attention_scale",
    "chain_shapes",
    "coordinate_check",
    "decoder_macs",
    "decoder_trace",
    "derivative",
    "embed",
    "forward_backward",
    "gaussian_moments",
    "patch_embed",
    "predict",
    "tolerance_from_log_variance",
    "train",
]
