"""Run in .venv-frameworks by test_torch_live.py: for each {id, seed, code}, run ``code``
after ``torch.manual_seed(seed)`` (with ``torch``, ``nn``, ``init``, ``math`` in scope; it
sets ``m``, a module or a {name: tensor} dict) and print {id: {name: hex of the raw bytes}}
as JSON (bfloat16 as its 16-bit pattern). A code that raises prints {id: {"error": text}}."""

import json
import math
import sys

import torch
from torch import nn
from torch.nn import init


def raw(t: torch.Tensor) -> str:
    t = t.detach().contiguous()
    if t.dtype == torch.bfloat16:
        t = t.view(torch.int16)
    return t.numpy().tobytes().hex()


out = {}
for case in json.load(sys.stdin):
    torch.manual_seed(case["seed"])
    scope = {"torch": torch, "nn": nn, "init": init, "math": math}
    try:
        with torch.no_grad():
            exec(case["code"], scope)
    except Exception as exc:  # reported to the test, which may expect it
        out[case["id"]] = {"error": f"{type(exc).__name__}: {exc}"}
        continue
    m = scope["m"]
    tensors = m.state_dict() if isinstance(m, nn.Module) else m
    out[case["id"]] = {name: raw(t) for name, t in tensors.items()}
print(json.dumps(out))
