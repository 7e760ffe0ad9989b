"""``weightinit diagnose``: --local and remote give the same document; the table; errors."""

from __future__ import annotations

import json
from pathlib import Path

from weightinit_client import Client

from .test_cli import one_error_line, run

SPEC = {
    "mlp": {"sizes": [16, 32, 32, 4], "activation": "tanh"},
    "compare": ["zeros", "glorot_uniform"],
    "seed": 4,
    "batch": 16,
}


def test_diagnose_local_and_remote_write_the_same_document(server: str, tmp_path: Path) -> None:
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps(SPEC))
    local, remote = tmp_path / "local.json", tmp_path / "remote.json"
    assert run("diagnose", str(spec), "--local", "-o", str(local)).returncode == 0
    done = run("diagnose", str(spec), "--url", server, "-o", str(remote))
    assert done.returncode == 0, done.stderr
    assert json.loads(local.read_text()) == json.loads(remote.read_text())
    with Client(server) as client:
        assert client.diagnose(SPEC) == json.loads(remote.read_text())


def test_diagnose_prints_one_table_per_run(tmp_path: Path) -> None:
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps(SPEC))
    done = run("diagnose", str(spec), "--local")
    assert done.returncode == 0, done.stderr
    out = done.stdout.decode()
    assert "== zeros" in out and "== glorot_uniform" in out
    assert "act std" in out and "predicted" in out
    zeros_rows = out.split("== glorot_uniform")[0].splitlines()[2:]
    assert len(zeros_rows) == 3 and all(row.rstrip().endswith("yes") for row in zeros_rows)


def test_diagnose_refusals_are_one_line(tmp_path: Path) -> None:
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({**SPEC, "mlp": {"sizes": [4, 4], "activation": "nope"}}))
    assert "activation" in one_error_line(run("diagnose", str(spec), "--local"))
    spec.write_text(json.dumps(SPEC))
    bad = run("diagnose", str(spec), "--local", "-o", str(tmp_path / "x.txt"))
    assert bad.returncode == 2 and ".svg" in one_error_line(bad)
