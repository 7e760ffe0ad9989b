"""Service settings from the environment (read once, when the app is created)."""

from __future__ import annotations

import os
from dataclasses import dataclass


class SettingsError(ValueError):
    """An environment variable holds an unusable value (the service refuses to start)."""


def _int_env(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise SettingsError(f"{name} must be a positive integer, got {raw!r}") from None
    if value < 1:
        raise SettingsError(f"{name} must be a positive integer, got {raw!r}")
    return value


@dataclass(frozen=True)
class Settings:
    """Limits (checked before any array exists) and the size of the generation pool."""

    max_elements: int = 1 << 28
    max_json_elements: int = 1 << 20
    max_matrix_elements: int = 1 << 22
    max_body_bytes: int = 1 << 20
    max_layers: int = 1000
    workers: int = max(1, os.cpu_count() or 1)

    @classmethod
    def from_env(cls) -> Settings:
        d = cls()
        return cls(
            max_elements=_int_env("WEIGHTINIT_MAX_ELEMENTS", d.max_elements),
            max_json_elements=_int_env("WEIGHTINIT_MAX_JSON_ELEMENTS", d.max_json_elements),
            max_matrix_elements=_int_env("WEIGHTINIT_MAX_MATRIX_ELEMENTS", d.max_matrix_elements),
            max_body_bytes=_int_env("WEIGHTINIT_MAX_BODY_BYTES", d.max_body_bytes),
            max_layers=_int_env("WEIGHTINIT_MAX_LAYERS", d.max_layers),
            workers=_int_env("WEIGHTINIT_WORKERS", d.workers),
        )
