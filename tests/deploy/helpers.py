"""Shared facts for the deployment tests: paths, the project version, settings, quantities."""

from __future__ import annotations

import re
import tomllib
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
UID = 10001  # the image's USER, the manifests' runAsUser, compose's user


def project_version() -> str:
    with (ROOT / "pyproject.toml").open("rb") as f:
        version: str = tomllib.load(f)["project"]["version"]
    return version


def settings_env_names() -> set[str]:
    """The WEIGHTINIT_* variables the app reads (app/jobs/limits.py), by reading its source;
    the deprecated WEIGHTINIT_WORKERS (read only when WEIGHTINIT_THREADS is unset) excluded."""
    source = (ROOT / "app" / "jobs" / "limits.py").read_text()
    reads = r"""(?:_[a-z]+_env|os\.environ\.get)\(\s*["'](WEIGHTINIT_[A-Z0-9_]+)["']"""
    names = set(re.findall(reads, source))
    assert names, "no WEIGHTINIT_* variables found in app/jobs/limits.py"
    return names - {"WEIGHTINIT_WORKERS"}


def integer_settings_env_names() -> set[str]:
    """The integer WEIGHTINIT_* limits (read with ``_int_env``)."""
    source = (ROOT / "app" / "jobs" / "limits.py").read_text()
    names = set(re.findall(r"""_int_env\(\s*["'](WEIGHTINIT_[A-Z0-9_]+)["']""", source))
    return names - {"WEIGHTINIT_WORKERS"}


_SUFFIX = {
    "": 1,
    "m": Decimal("0.001"),
    "k": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
}


def quantity(value: str | int | float) -> Decimal:
    """A Kubernetes resource quantity ("500m", "2", "2Gi", 1.5) as a number."""
    match = re.fullmatch(r"([0-9]+(?:\.[0-9]+)?)(m|k|M|G|T|Ki|Mi|Gi|Ti)?", str(value))
    assert match, f"not a resource quantity: {value!r}"
    return Decimal(match[1]) * _SUFFIX[match[2] or ""]


def compose_memory(value: str) -> int:
    """A compose memory size ("1g", "512m", "1gb") in bytes."""
    match = re.fullmatch(r"([0-9]+)([bkmg]?)b?", value.lower())
    assert match, f"not a compose memory size: {value!r}"
    return int(match[1]) * 1024 ** "bkmg".index(match[2] or "b")


# Measured peak memory of one request: ~4x its response (npy, npz, safetensors), plus an idle
# process of ~75 MiB (deploy/README.md, "Sizing").
PEAK_PER_RESPONSE = 4
IDLE_BYTES = 75 * 2**20


def memory_needed(workers: int, max_whole_elements: int) -> int:
    """(workers + 1) bodies built whole in flight at 4x the largest (float64) one, plus the
    process. Streamed bodies hold a few MiB whatever their size; what is built whole is
    numpy-legacy (WEIGHTINIT_MAX_WHOLE_ELEMENTS), bodies under WEIGHTINIT_BUFFER_BYTES and
    whole-matrix tensors, all below that bound."""
    return (workers + 1) * PEAK_PER_RESPONSE * max_whole_elements * 8 + IDLE_BYTES
