"""Run in .venv-frameworks by test_torch_decoder.py: a decoder (GPT-2, Llama or BERT shaped,
as JSON on stdin) built from torch.nn.functional ops in float64 -- scaled_dot_product_attention
(is_causal, enable_gqa), layer_norm, rms_norm, gelu, silu, Llama's rotate_half -- pushed forward
on the given ids and backward (autograd) from the given upstream gradient; prints the final
hidden state and dL/d(embedding output) as JSON lists."""

import json
import sys

import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)


def t(x):
    return None if x is None else torch.tensor(x, dtype=torch.float64)


def norm(x, w, kind, eps):
    scale, shift = t(w["scale"]), t(w["shift"])
    if kind == "rms_norm":
        return F.rms_norm(x, (x.shape[-1],), scale, eps)
    return F.layer_norm(x, (x.shape[-1],), scale, shift, eps)


def linear(x, p):  # weights arrive as (in, out)
    return F.linear(x, t(p["weight"]).T, t(p["bias"]))


def rotate_half(x):
    x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2 :]
    return torch.cat((-x2, x1), dim=-1)


def attention(x, blk, d):
    b, n, _ = x.shape
    hd = d["head_dim"]
    q = linear(x, blk["q"]).view(b, n, -1, hd).transpose(1, 2)
    k = linear(x, blk["k"]).view(b, n, -1, hd).transpose(1, 2)
    v = linear(x, blk["v"]).view(b, n, -1, hd).transpose(1, 2)
    if d["rope_theta"] is not None:
        inv = 1.0 / d["rope_theta"] ** (torch.arange(0, hd, 2, dtype=torch.float64) / hd)
        freqs = torch.outer(torch.arange(n, dtype=torch.float64), inv)
        emb = torch.cat((freqs, freqs), dim=-1)
        cos, sin = emb.cos(), emb.sin()
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
    o = F.scaled_dot_product_attention(
        q, k, v, is_causal=d["causal"], scale=d["attention_scale"], enable_gqa=True
    )
    return linear(o.transpose(1, 2).reshape(b, n, -1), blk["out"])


def act(name, z):
    if name == "gelu_tanh":
        return F.gelu(z, approximate="tanh")
    if name == "gelu":
        return F.gelu(z)
    return F.silu(z)


def mlp(x, blk, d):
    h = linear(x, blk["mlp_in"])
    if blk["mlp_gate"] is None:
        return linear(act(d["activation"], h), blk["mlp_out"])
    return linear(act(d["activation"], linear(x, blk["mlp_gate"])) * h, blk["mlp_out"])


def forward(x0, d):
    kind, eps = d["norm"], d["eps"]
    x = x0 if d["embedding_norm"] is None else norm(x0, d["embedding_norm"], kind, eps)
    for blk in d["blocks"]:
        if d["post_norm"]:
            x = norm(x + attention(x, blk, d), blk["norm1"], kind, eps)
            x = norm(x + mlp(x, blk, d), blk["norm2"], kind, eps)
        else:
            x = x + attention(norm(x, blk["norm1"], kind, eps), blk, d)
            x = x + mlp(norm(x, blk["norm2"], kind, eps), blk, d)
    return x if d["final_norm"] is None else norm(x, d["final_norm"], kind, eps)


def main():
    case = json.load(sys.stdin)
    x0 = t(case["x0"]).requires_grad_(True)
    y = forward(x0, case["decoder"])
    (y * t(case["upstream"])).sum().backward()
    print(json.dumps({"output": y.detach().tolist(), "input_gradient": x0.grad.tolist()}))


main()
