"""The package re-exports each module's public names, and only names that exist."""

from __future__ import annotations

import importlib

import pytest

import app.core.diagnostics as diagnostics

MODULES = ["activations", "chain", "coordinate_check", "ops", "propagation", "residual"]


def test_every_exported_name_exists() -> None:
    for name in diagnostics.__all__:
        assert hasattr(diagnostics, name), name


@pytest.mark.parametrize("module", MODULES)
def test_each_module_declares_what_exists(module: str) -> None:
    mod = importlib.import_module(f"app.core.diagnostics.{module}")
    for name in mod.__all__:
        assert hasattr(mod, name), f"{module}.{name}"
