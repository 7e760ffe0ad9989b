"""A generic generator serves the contract: openapi-python-client, default configuration.

The client is generated from the committed ``openapi.json`` into a temporary directory (never
committed), imported and run against a live server in a subprocess. The subprocess matters:
the default configuration names the generated package ``weightinit_client`` (from the
document's title), the same name as our hand-written SDK, so it is imported from a process
whose ``sys.path`` puts the generated copy first (and the script checks it got that copy).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.encoders import encode_npy
from tests.api.conftest import expected_layer
from tests.live_server import clean_env

from .conftest import CLI_MODULE, ROOT, VENV_BIN

GENERATOR = VENV_BIN / "openapi-python-client"

SCRIPT = r"""
import hashlib, json, sys
import weightinit_client
from weightinit_client import Client
from weightinit_client.api.health import get_health
from weightinit_client.api.registry import list_schemes
from weightinit_client.api.weights import generate_weights, generate_weights_npy
from weightinit_client.api.models import generate_model_safetensors
from weightinit_client.models import ModelRequest, WeightsRequest, WeightsResponse

url, body, model = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
scheme = json.loads(sys.argv[4])
out = {"module": weightinit_client.__file__}
client = Client(base_url=url, raise_on_unexpected_status=True)
health = get_health.sync(client=client)
out["health"] = health.status
out["schemes"] = len(list_schemes.sync(client=client).schemes)
res = generate_weights.sync_detailed(client=client, body=WeightsRequest.from_dict(body))
assert res.status_code == 200, (res.status_code, res.content[:500])
parsed = res.parsed
assert isinstance(parsed, WeightsResponse), type(parsed)
out["json"] = [
    {"name": t.name, "sha256": t.sha256, "shape": t.shape, "n": len(t.data)}
    for t in parsed.tensors
]
npy = generate_weights_npy.sync_detailed(
    client=client, body=WeightsRequest.from_dict(body), tensor="weight"
)
assert npy.status_code == 200, (npy.status_code, npy.content[:500])
out["npy"] = npy.parsed.payload.read().hex()
st = generate_model_safetensors.sync_detailed(client=client, body=ModelRequest.from_dict(model))
assert st.status_code == 200, (st.status_code, st.content[:500])
out["safetensors_sha"] = hashlib.sha256(st.parsed.payload.read()).hexdigest()
bad = generate_weights.sync_detailed(
    client=client, body=WeightsRequest.from_dict({**body, "seed": "12x"})
)
out["bad_status"] = bad.status_code
# A scheme object with parameters: the schema's per-scheme branch becomes a class of its own.
with_params = WeightsRequest.from_dict({**body, "scheme": scheme})
out["scheme_class"] = type(with_params.scheme).__name__
out["scheme_round_trip"] = with_params.to_dict()["scheme"]
npy = generate_weights_npy.sync_detailed(client=client, body=with_params, tensor="weight")
assert npy.status_code == 200, (npy.status_code, npy.content[:500])
out["scheme_npy"] = npy.parsed.payload.read().hex()
print(json.dumps(out))
"""

LAYER = {"kind": "conv2d", "in_channels": 2, "out_channels": 3, "kernel_size": [3, 3]}
BODY = {"layer": LAYER, "scheme": "he_uniform", "seed": str(2**60 + 3), "dtype": "float32"}
MODEL = {"seed": 5, "mlp": {"sizes": [4, 3, 2]}, "scheme": "he", "bias_scheme": "zeros"}
SCHEME = {"name": "he_normal", "mode": "fan_out", "nonlinearity": "leaky_relu", "a": 0.2}


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not GENERATOR.exists():
        pytest.fail(f"{GENERATOR} missing: install the [test] extra (make install)")
    out = tmp_path_factory.mktemp("generated") / "client"
    env = {**clean_env(), "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    result = subprocess.run(
        [
            str(GENERATOR),
            "generate",
            "--path",
            str(ROOT / "openapi.json"),
            "--output-path",
            str(out),
        ],
        cwd=out.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    report = result.stdout + result.stderr
    assert result.returncode == 0, report
    assert "Warning" not in report and "Error" not in report, report
    assert (out / "weightinit_client" / "api" / "weights" / "generate_weights_npy.py").exists()
    return out


def test_generated_client_calls_a_live_server(generated: Path, server: str) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            SCRIPT,
            server,
            json.dumps(BODY),
            json.dumps(MODEL),
            json.dumps(SCHEME),
        ],
        cwd=generated,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert Path(out["module"]).resolve().is_relative_to(generated.resolve())
    assert out["health"] == "ok"
    assert out["schemes"] > 10
    expected = expected_layer(LAYER, seed=2**60 + 3, scheme="he_uniform")
    assert [t["name"] for t in out["json"]] == list(expected)
    for tensor in out["json"]:
        array = expected[tensor["name"]]
        assert tensor["sha256"] == hashlib.sha256(array.tobytes()).hexdigest()
        assert tensor["shape"] == list(array.shape) and tensor["n"] == array.size
    assert bytes.fromhex(out["npy"]) == encode_npy(expected["weight"])
    direct = subprocess.run(
        [*CLI_MODULE, "model", "-", "--local", "--format", "safetensors"],
        cwd=ROOT,
        env=clean_env(),
        input=json.dumps(MODEL).encode(),
        capture_output=True,
        timeout=60,
    )
    assert direct.returncode == 0, direct.stderr
    assert out["safetensors_sha"] == hashlib.sha256(direct.stdout).hexdigest()
    assert out["bad_status"] == 422
    assert out["scheme_class"] == "HeUniformParametersGainRuleTorch"  # the branch title
    assert out["scheme_round_trip"] == SCHEME
    with_params = expected_layer(LAYER, seed=2**60 + 3, scheme=SCHEME)
    assert bytes.fromhex(out["scheme_npy"]) == encode_npy(with_params["weight"])
