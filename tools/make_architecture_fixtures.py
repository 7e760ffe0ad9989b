"""Write the architecture fixtures: each class's tensor names and shapes, from the libraries.

Run in an environment with ``transformers`` and ``torchvision`` (``make architecture-fixtures``
builds ``.venv-transformers`` and runs this; never part of ``make test``)::

    .venv-transformers/bin/python tools/make_architecture_fixtures.py

For every family and both sizes it writes ``tests/fixtures/architectures/<family>_<size>.json``:
the request's ``config``, the library versions, and per class ``{name: shape}``. A Hugging Face
class's list is what ``save_pretrained`` writes to ``model.safetensors`` (a tied weight once,
non-persistent buffers not at all, under the checkpoint names it saves: transformers 5 renames
some modules in memory, e.g. ViT's ``layers.0.attention.q_proj``, and saves them under the
names of the published checkpoints, ``encoder.layer.0.attention.attention.query``), in the
file's (sorted) order; torchvision's ``ResNet`` has no
``save_pretrained``, so its list is ``state_dict()`` (built on the meta device).
``tests/api/test_architectures.py`` asks the HTTP API for the same config and class and compares.
"""

from __future__ import annotations

import json
import struct
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "fixtures" / "architectures"

# family -> (config class, [classes], {size: config})
HF_CASES: dict[str, tuple[str, list[str], dict[str, dict[str, Any]]]] = {
    "gpt2": (
        "GPT2Config",
        ["GPT2LMHeadModel", "GPT2Model", "GPT2ForSequenceClassification"],
        {
            "tiny": {"n_layer": 2, "n_embd": 32, "n_head": 4, "vocab_size": 100, "n_positions": 64},
            "small": {
                "n_layer": 3,
                "n_embd": 48,
                "n_head": 6,
                "vocab_size": 128,
                "n_positions": 32,
                "n_inner": 100,
                "num_labels": 5,
            },
        },
    ),
    "llama": (
        "LlamaConfig",
        ["LlamaForCausalLM", "LlamaModel", "LlamaForSequenceClassification"],
        {
            "tiny": {
                "hidden_size": 32,
                "intermediate_size": 64,
                "num_hidden_layers": 2,
                "num_attention_heads": 4,
                "num_key_value_heads": 2,
                "vocab_size": 100,
            },
            "small": {
                "hidden_size": 48,
                "intermediate_size": 80,
                "num_hidden_layers": 3,
                "num_attention_heads": 6,
                "num_key_value_heads": 3,
                "head_dim": 16,
                "vocab_size": 120,
                "tie_word_embeddings": True,
                "attention_bias": True,
                "mlp_bias": True,
                "num_labels": 3,
            },
        },
    ),
    "bert": (
        "BertConfig",
        ["BertModel", "BertForMaskedLM", "BertForSequenceClassification"],
        {
            "tiny": {
                "hidden_size": 32,
                "num_hidden_layers": 2,
                "num_attention_heads": 4,
                "intermediate_size": 64,
                "vocab_size": 100,
                "max_position_embeddings": 64,
            },
            "small": {
                "hidden_size": 48,
                "num_hidden_layers": 3,
                "num_attention_heads": 6,
                "intermediate_size": 96,
                "vocab_size": 120,
                "max_position_embeddings": 40,
                "type_vocab_size": 3,
                "num_labels": 4,
            },
        },
    ),
    "t5": (
        "T5Config",
        ["T5ForConditionalGeneration", "T5Model", "T5EncoderModel"],
        {
            "tiny": {
                "d_model": 32,
                "d_kv": 8,
                "d_ff": 64,
                "num_layers": 2,
                "num_heads": 4,
                "vocab_size": 100,
                "relative_attention_num_buckets": 8,
            },
            "small": {
                "d_model": 48,
                "d_kv": 12,
                "d_ff": 96,
                "num_layers": 2,
                "num_decoder_layers": 3,
                "num_heads": 4,
                "vocab_size": 120,
                "feed_forward_proj": "gated-gelu",
                "tie_word_embeddings": False,
            },
        },
    ),
    "vit": (
        "ViTConfig",
        ["ViTModel", "ViTForImageClassification"],
        {
            "tiny": {
                "hidden_size": 32,
                "num_hidden_layers": 2,
                "num_attention_heads": 4,
                "intermediate_size": 64,
                "image_size": 32,
                "patch_size": 8,
            },
            "small": {
                "hidden_size": 48,
                "num_hidden_layers": 3,
                "num_attention_heads": 6,
                "intermediate_size": 96,
                "image_size": 24,
                "patch_size": 4,
                "num_channels": 1,
                "qkv_bias": False,
                "num_labels": 7,
            },
        },
    ),
}
RESNET_CASES: dict[str, dict[str, Any]] = {
    "tiny": {"layers": [1, 1, 1, 1], "block": "basic", "num_classes": 10},
    "small": {
        "layers": [2, 1, 1, 1],
        "block": "bottleneck",
        "num_classes": 7,
        "groups": 2,
        "width_per_group": 8,
    },
}


def _safetensors_shapes(path: Path) -> dict[str, list[int]]:
    with path.open("rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
    return {k: v["shape"] for k, v in header.items() if k != "__metadata__"}


def hf_tensors(config_class: str, class_name: str, config: dict[str, Any]) -> dict[str, list[int]]:
    import torch
    import transformers

    cfg = getattr(transformers, config_class)(**config)
    torch.manual_seed(0)
    model = getattr(transformers, class_name)(cfg)
    with tempfile.TemporaryDirectory() as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        return _safetensors_shapes(Path(tmp) / "model.safetensors")


def resnet_tensors(config: dict[str, Any]) -> dict[str, list[int]]:
    import torch
    from torchvision.models.resnet import BasicBlock, Bottleneck, ResNet

    block = {"basic": BasicBlock, "bottleneck": Bottleneck}[config["block"]]
    extra = {k: config[k] for k in ("groups", "width_per_group") if k in config}
    with torch.device("meta"):
        model = ResNet(block, config["layers"], num_classes=config["num_classes"], **extra)
    return {name: list(t.shape) for name, t in model.state_dict().items()}


def main() -> int:
    import torch
    import torchvision
    import transformers

    OUT.mkdir(parents=True, exist_ok=True)
    versions = {"transformers": transformers.__version__, "torch": torch.__version__}
    for family, (config_class, classes, sizes) in HF_CASES.items():
        for size, config in sizes.items():
            fixture = {
                "family": family,
                "config": config,
                "versions": versions,
                "classes": {c: hf_tensors(config_class, c, config) for c in classes},
            }
            (OUT / f"{family}_{size}.json").write_text(json.dumps(fixture, indent=1) + "\n")
    rv = {"torchvision": torchvision.__version__, "torch": torch.__version__}
    for size, config in RESNET_CASES.items():
        fixture = {
            "family": "resnet",
            "config": config,
            "versions": rv,
            "classes": {"ResNet": resnet_tensors(config)},
        }
        (OUT / f"resnet_{size}.json").write_text(json.dumps(fixture, indent=1) + "\n")
    print(f"wrote {OUT}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
