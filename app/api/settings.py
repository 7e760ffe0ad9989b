"""Service settings: defined with every limit in :mod:`app.jobs.limits` (one module)."""

from __future__ import annotations

from app.jobs.limits import Settings, SettingsError

__all__ = ["Settings", "SettingsError"]
