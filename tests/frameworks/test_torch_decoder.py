"""The diagnostics decoder pass (app.core.diagnostics.residual) against the same tiny models
built from torch's own functional ops in .venv-frameworks (scaled_dot_product_attention with
is_causal and enable_gqa, layer_norm, rms_norm, gelu, silu) and torch autograd for the
backward pass; both in float64, so they agree to summation-order rounding."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from app.core.diagnostics import Decoder, NormWeights, Projection, decoder_trace, embed

from ..core.diagnostics.test_residual import CASES, _inputs, tiny
from .conftest import run_script


def _norm(w: NormWeights | None) -> dict[str, Any] | None:
    if w is None:
        return None
    return {
        "scale": None if w.scale is None else w.scale.tolist(),
        "shift": None if w.shift is None else w.shift.tolist(),
    }


def _proj(p: Projection | None) -> dict[str, Any] | None:
    if p is None:
        return None
    return {"weight": p.weight.tolist(), "bias": None if p.bias is None else p.bias.tolist()}


def _decoder(d: Decoder) -> dict[str, Any]:
    blocks = [
        {
            "norm1": _norm(b.norm1),
            "norm2": _norm(b.norm2),
            **{k: _proj(getattr(b, k)) for k in ("q", "k", "v", "out", "mlp_in", "mlp_out")},
            "mlp_gate": _proj(b.mlp_gate),
        }
        for b in d.blocks
    ]
    return {
        "blocks": blocks,
        "final_norm": _norm(d.final_norm),
        "embedding_norm": _norm(d.embedding_norm),
        "norm": d.norm,
        "eps": d.eps,
        "head_dim": d.head_dim,
        "activation": d.activation,
        "attention_scale": d.attention_scale,
        "rope_theta": d.rope_theta,
        "post_norm": d.post_norm,
        "causal": d.causal,
    }


@pytest.mark.parametrize("case", CASES)
def test_decoder_matches_torch_functional_ops(frameworks_python: Path, case: str) -> None:
    d = tiny(**CASES[case])  # type: ignore[arg-type]
    ids, upstream = _inputs(d)
    x0 = embed(d, ids)
    trace = decoder_trace(d, x0, upstream)
    stdin = json.dumps({"decoder": _decoder(d), "x0": x0.tolist(), "upstream": upstream.tolist()})
    torch = run_script(frameworks_python, "torch_decoder_script.py", stdin=stdin)
    np.testing.assert_allclose(trace.output, np.array(torch["output"]), rtol=1e-10, atol=1e-11)
    np.testing.assert_allclose(
        trace.input_gradient, np.array(torch["input_gradient"]), rtol=1e-9, atol=1e-10
    )
