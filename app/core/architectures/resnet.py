"""ResNet (torchvision ``torchvision.models.resnet.ResNet``, 0.29.1): ``ResNet(block, layers,
num_classes, zero_init_residual, groups, width_per_group)``.

``block`` ``basic`` (BasicBlock, expansion 1: resnet18/34) or ``bottleneck`` (Bottleneck,
expansion 4: resnet50/101/152, ResNeXt with ``groups``/``width_per_group``); ``layers`` the
block counts of ``layer1..layer4``. Names are ``state_dict()``'s, running statistics and
``num_batches_tracked`` included. Default init (``ResNet.__init__``): conv weights
``kaiming_normal_(mode="fan_out", nonlinearity="relu")``, BatchNorm 1/0, ``fc`` torch's
Linear default; ``zero_init_residual`` zeroes each block's last BatchNorm scale.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import InvalidParameterError
from ..types import Role
from .base import ZEROS, Architecture, ArchTensor, Builder, ConfigField, Init

FIELDS = {
    "block": ConfigField("basic", "str", ("basic", "bottleneck")),
    "layers": ConfigField((2, 2, 2, 2), "ints"),
    "num_classes": ConfigField(1000),
    "groups": ConfigField(1),
    "width_per_group": ConfigField(64),
    "zero_init_residual": ConfigField(False, "bool"),
}
IGNORED = frozenset({"replace_stride_with_dilation", "norm_layer"})
KAIMING: Init = ("torch.kaiming_normal_", {"mode": "fan_out", "nonlinearity": "relu"})


def _build(c: Mapping[str, Any]) -> list[ArchTensor]:
    b = Builder()
    bottleneck = c["block"] == "bottleneck"
    expansion = 4 if bottleneck else 1
    last_scale = ZEROS if c["zero_init_residual"] else None
    b.conv2d("conv1", 3, 64, 7, KAIMING)
    b.batch_norm("bn1", 64)
    inplanes, index = 64, 0
    for stage, (planes, count) in enumerate(zip((64, 128, 256, 512), c["layers"], strict=True)):
        for j in range(count):
            b.block, b.stack = index, f"layer{stage + 1}"
            p = f"layer{stage + 1}.{j}."
            stride = 2 if stage > 0 and j == 0 else 1
            out = planes * expansion
            if bottleneck:
                width = int(planes * (c["width_per_group"] / 64.0)) * c["groups"]
                b.conv2d(f"{p}conv1", inplanes, width, 1, KAIMING)
                b.batch_norm(f"{p}bn1", width)
                b.conv2d(f"{p}conv2", width, width, 3, KAIMING, groups=c["groups"])
                b.batch_norm(f"{p}bn2", width)
                b.conv2d(f"{p}conv3", width, out, 1, KAIMING)
                b.batch_norm(f"{p}bn3", out, last_scale)
            else:
                b.conv2d(f"{p}conv1", inplanes, planes, 3, KAIMING)
                b.batch_norm(f"{p}bn1", planes)
                b.conv2d(f"{p}conv2", planes, planes, 3, KAIMING)
                b.batch_norm(f"{p}bn2", planes, last_scale)
            if j == 0 and (stride != 1 or inplanes != out):
                b.conv2d(f"{p}downsample.0", inplanes, out, 1, KAIMING)
                b.batch_norm(f"{p}downsample.1", out)
            inplanes = out
            index += 1
    b.block = b.stack = None
    b.linear("fc", (512 * expansion, c["num_classes"]), Role.READOUT, None)
    return b.tensors


def _check(c: Mapping[str, Any]) -> None:
    if c["block"] == "basic" and (c["groups"] != 1 or c["width_per_group"] != 64):
        raise InvalidParameterError(
            "BasicBlock only supports groups=1 and width_per_group=64 (torchvision); use "
            'block "bottleneck" for ResNeXt / wide ResNets.',
            field="config.groups",
        )
    if c["block"] == "bottleneck":
        width = int(64 * (c["width_per_group"] / 64.0)) * c["groups"]
        if width % c["groups"]:
            raise InvalidParameterError(
                "groups must divide each bottleneck's width.", field="config.groups"
            )


RESNET = Architecture(
    name="resnet",
    title="ResNet (torchvision ResNet)",
    fields=FIELDS,
    ignored=IGNORED,
    classes={"ResNet": _build},
    info=lambda c: (sum(c["layers"]), None, 64, None, False),
    check=_check,
    notes="block basic + layers [2,2,2,2] is resnet18; bottleneck + [3,4,6,3] resnet50",
)
