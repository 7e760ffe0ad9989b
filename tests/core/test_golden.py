"""Golden sha256 hashes freeze blocks-v1: same bytes in every process and on every CPU."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

from app.core.schemes import SCHEMES
from tests.golden.cases import compute_all, load

ROOT = Path(__file__).parents[2]

# determinism.md, "How to test it": AVX-512 and AVX2 off for numpy's dispatch, FMA/AVX2 off
# for glibc's libm, and another OpenBLAS kernel family.
MASKS = {
    "NPY_DISABLE_CPU_FEATURES": "X86_V3 X86_V4 AVX512_ICL AVX512_SPR",
    "GLIBC_TUNABLES": "glibc.cpu.hwcaps=-AVX2,-FMA,-AVX512F",
    "OPENBLAS_CORETYPE": "Prescott",
}

# Functions known to give CPU-dependent bits: if none of them changes under the masks, the
# masks did nothing and the masked run proves nothing.
PROBE = r"""
import hashlib, json, math
import numpy as np
from numpy._core._multiarray_umath import __cpu_features__ as feats
x = np.linspace(-50.0, 50.0, 200001)
a = np.random.default_rng(0).standard_normal((64, 64))
out = {
    "x86_v3": bool(feats.get("X86_V3", False)),
    "np_exp": hashlib.sha256(np.exp(x).tobytes()).hexdigest(),
    "math_sin": hashlib.sha256(
        json.dumps([math.sin(v) for v in x[::7].tolist()]).encode()
    ).hexdigest(),
    "blas_qr": hashlib.sha256(np.linalg.qr(a)[0].tobytes()).hexdigest(),
}
print(json.dumps(out))
"""

HASHES = r"""
import json
from tests.golden.cases import compute_all
print(json.dumps(compute_all()))
"""


def _run(code: str, env_extra: dict[str, str]) -> dict[str, object]:
    env = {**os.environ, **env_extra, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    result: dict[str, object] = json.loads(done.stdout)
    return result


def test_every_scheme_has_a_golden_hash() -> None:
    covered = {json.loads(key).get("scheme") for key in load()}
    assert set(SCHEMES) <= covered


def test_golden_hashes_match_the_frozen_file() -> None:
    computed, frozen = compute_all(), load()
    assert computed.keys() == frozen.keys()
    changed = [key for key in frozen if computed[key] != frozen[key]]
    assert not changed, f"{len(changed)} outputs changed, e.g. {changed[:3]}"


def test_golden_hashes_in_another_process() -> None:
    assert _run(HASHES, {"PYTHONHASHSEED": "12345"}) == load()


@pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64"), reason="x86 CPU masks only")
def test_golden_hashes_with_cpu_features_masked() -> None:
    plain, masked = _run(PROBE, {}), _run(PROBE, MASKS)
    if not plain["x86_v3"]:
        pytest.skip("this CPU has no AVX2: the masks cannot change anything here")
    # the masks took effect, for numpy's dispatch, for glibc's libm and for OpenBLAS
    assert masked["x86_v3"] is False
    assert masked["np_exp"] != plain["np_exp"]
    assert masked["math_sin"] != plain["math_sin"]
    assert masked["blas_qr"] != plain["blas_qr"]
    assert _run(HASHES, MASKS) == load()
