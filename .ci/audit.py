"""Audit the pinned dependencies (requirements.lock) with pip-audit; print one report.

    python .ci/audit.py [--strict]

Known vulnerabilities are listed (package, version, advisory id, fixed versions). Without
``--strict`` this only reports (``make check`` runs it so: a new advisory for a pinned tool
must not block a landing by itself); with ``--strict`` (``make audit``) any vulnerability
fails. Either way, an advisory database that cannot be reached (no network, PyPI's JSON API
blocked) is reported as "not audited" and never fails: the audit is skipped, not passed.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

LOCK = Path(__file__).resolve().parents[1] / "requirements.lock"
COMMAND = [
    sys.executable,
    "-m",
    "pip_audit",
    "--requirement",
    str(LOCK),
    "--no-deps",  # every line is pinned; nothing to resolve
    "--disable-pip",
    "--format",
    "json",
    "--progress-spinner",
    "off",
]


def summarize(report: dict[str, Any], *, strict: bool) -> tuple[list[str], int]:
    """The report's lines and the exit code for pip-audit's JSON ``report``."""
    dependencies = report.get("dependencies", [])
    skipped = [d["name"] for d in dependencies if "skip_reason" in d]
    found = [(d, v) for d in dependencies for v in d.get("vulns", [])]
    lines = []
    for dep, vuln in found:
        fixed = ", ".join(vuln.get("fix_versions", [])) or "no fix yet"
        lines.append(f"pip-audit: {dep['name']} {dep['version']}: {vuln['id']} (fixed in {fixed})")
    audited = len(dependencies) - len(skipped)
    if audited == 0:
        lines.append(
            f"pip-audit: not audited ({len(skipped)} pinned packages; the advisory database "
            "is unreachable from here)"
        )
        return lines, 0
    lines.append(
        f"pip-audit: {audited} packages audited, {len(found)} known vulnerabilities, "
        f"{len(skipped)} not found in the advisory database"
    )
    return lines, 1 if strict and found else 0


def main(argv: list[str]) -> int:
    strict = argv == ["--strict"]
    try:
        done = subprocess.run(COMMAND, capture_output=True, text=True, timeout=300, check=False)
        report = json.loads(done.stdout)
    except (subprocess.TimeoutExpired, json.JSONDecodeError) as error:
        print(f"pip-audit: not audited (the advisory database did not answer: {error!r})")
        return 0
    lines, code = summarize(report, strict=strict)
    print("\n".join(lines))
    return code


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
