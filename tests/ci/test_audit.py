"""The dependency audit reports vulnerabilities, fails on them only when strict, and never
fails because the advisory database is unreachable."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

AUDIT = Path(__file__).resolve().parents[2] / ".ci" / "audit.py"


def load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("audit", AUDIT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


VULNERABLE = {
    "dependencies": [
        {
            "name": "h11",
            "version": "0.14.0",
            "vulns": [{"id": "GHSA-x", "fix_versions": ["0.16.0"]}],
        },
        {"name": "numpy", "version": "2.3.0", "vulns": []},
        {"name": "private", "skip_reason": "Dependency not found on PyPI"},
    ]
}


def test_a_vulnerability_is_listed_and_fails_only_when_strict() -> None:
    audit = load()
    lines, code = audit.summarize(VULNERABLE, strict=False)
    assert "pip-audit: h11 0.14.0: GHSA-x (fixed in 0.16.0)" in lines
    assert lines[-1] == (
        "pip-audit: 2 packages audited, 1 known vulnerabilities, 1 not found in the advisory "
        "database"
    )
    assert code == 0
    assert audit.summarize(VULNERABLE, strict=True)[1] == 1


def test_an_unreachable_database_is_not_audited_and_never_fails() -> None:
    audit = load()
    report = {"dependencies": [{"name": "a", "skip_reason": "not found"}] * 3}
    lines, code = audit.summarize(report, strict=True)
    assert lines == [
        "pip-audit: not audited (3 pinned packages; the advisory database is unreachable from here)"
    ]
    assert code == 0


def test_a_clean_audit_passes_strict() -> None:
    audit = load()
    report = {"dependencies": [{"name": "numpy", "version": "2.3.0", "vulns": []}]}
    assert audit.summarize(report, strict=True)[1] == 0
