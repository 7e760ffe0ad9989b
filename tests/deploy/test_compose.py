"""compose.yaml (local multi-replica run) and its nginx config, checked without Docker."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

import yaml

from .helpers import (
    ROOT,
    UID,
    compose_memory,
    memory_needed,
    project_version,
    settings_env_names,
)

COMPOSE = ROOT / "compose.yaml"
NGINX = ROOT / "deploy" / "compose" / "nginx.conf"
README = ROOT / "deploy" / "README.md"


def _compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return data


def _service() -> dict[str, Any]:
    service: dict[str, Any] = _compose()["services"]["weightinit"]
    return service


def _nginx() -> str:
    return re.sub(r"#[^\n]*", "", NGINX.read_text())


def test_compose_parses_with_the_service_and_a_load_balancer() -> None:
    compose = _compose()
    assert set(compose["services"]) == {"weightinit", "lb"}
    assert "version" not in compose  # obsolete in the Compose Specification


def test_service_builds_from_the_repository_dockerfile() -> None:
    build = _service()["build"]
    context = ROOT / build["context"]
    assert context.resolve() == ROOT
    assert (context / build.get("dockerfile", "Dockerfile")).is_file()
    assert _service()["image"] == f"weightinit:{project_version()}"


def test_several_replicas_reachable_only_through_the_load_balancer() -> None:
    service = _service()
    assert service["deploy"]["replicas"] >= 2
    # published ports on a replicated service would collide; only the balancer publishes
    assert "ports" not in service
    assert "8000" in [str(p) for p in service["expose"]]


def test_replicas_are_hardened_like_the_kubernetes_pods() -> None:
    service = _service()
    assert service["user"] == f"{UID}:{UID}"
    assert service["read_only"] is True
    assert "/tmp" in service["tmpfs"]
    assert service["cap_drop"] == ["ALL"]
    assert "no-new-privileges:true" in service["security_opt"]


def test_env_sets_every_limit_and_workers_equal_the_cpu_limit() -> None:
    service = _service()
    env = {k: str(v) for k, v in service["environment"].items()}
    assert {n for n in env if n.startswith("WEIGHTINIT_")} == settings_env_names()
    limits = service["deploy"]["resources"]["limits"]
    assert Decimal(env["WEIGHTINIT_THREADS"]) == Decimal(str(limits["cpus"])) >= 1
    needed = memory_needed(
        int(env["WEIGHTINIT_THREADS"]), int(env["WEIGHTINIT_MAX_WHOLE_ELEMENTS"])
    )
    assert compose_memory(str(limits["memory"])) >= needed


def test_load_balancer_mounts_existing_files_and_waits_for_healthy_replicas() -> None:
    lb = _compose()["services"]["lb"]
    assert re.fullmatch(r"nginx:[0-9][0-9.]*(-alpine)?", lb["image"]), "a pinned official nginx"
    for volume in lb["volumes"]:
        source = volume.split(":")[0]
        assert (ROOT / source).exists(), f"{source} does not exist"
    assert "./deploy/compose/nginx.conf:/etc/nginx/nginx.conf:ro" in lb["volumes"]
    assert lb["depends_on"]["weightinit"]["condition"] == "service_healthy"


def test_nginx_forwards_to_every_replica_on_the_published_port() -> None:
    conf = _nginx()
    [published] = _compose()["services"]["lb"]["ports"]
    container_port = str(published).rsplit(":", 1)[1]
    assert re.search(rf"\blisten\s+{container_port}\s*;", conf)
    assert re.search(r"\bserver\s+weightinit:8000\b", conf)
    assert re.search(r"\bproxy_pass\s+http://weightinit\s*;", conf)
    assert conf.count("{") == conf.count("}")


def test_nginx_enforces_the_body_limit_with_the_services_problem_json() -> None:
    """A replica refuses an oversized body before reading it and closes the connection, which
    nginx (still sending) would turn into a 502; so nginx enforces the same limit itself."""
    conf = _nginx()
    limit = int(_service()["environment"]["WEIGHTINIT_MAX_BODY_BYTES"])
    match = re.search(r"\bclient_max_body_size\s+([0-9]+)([km]?)\s*;", conf)
    assert match, "client_max_body_size is set"
    assert int(match[1]) * {"": 1, "k": 1024, "m": 1024**2}[match[2]] == limit
    assert re.search(r"\berror_page\s+413\s+@too_large\s*;", conf)
    block = conf.split("location @too_large", 1)[1]
    assert re.search(r"default_type\s+application/problem\+json\s*;", block)
    returned = re.search(r"return\s+413\s+'(.*?)'\s*;", block, flags=re.S)
    assert returned, "the @too_large location returns a body"
    body = json.loads(returned[1])
    assert body["status"] == 413
    assert body["limit"] == "WEIGHTINIT_MAX_BODY_BYTES"
    assert body["value"] == limit
    assert body["type"] == "https://weightinit.dev/problems/too-large"


def test_deploy_readme_documents_both_ways_to_scale_out() -> None:
    text = README.read_text()
    assert "docker compose up --build" in text
    assert "kubectl apply -k deploy/kubernetes" in text
    for path in sorted((ROOT / "deploy" / "kubernetes").glob("*.yaml")):
        if path.name != "kustomization.yaml":
            assert f"`{path.name}`" in text, path.name
    for name in settings_env_names():
        assert f"`{name}`" in text, name


def test_files_referenced_by_the_deploy_readme_exist() -> None:
    for ref in set(re.findall(r"`((?:app|tests|deploy)/[\w./-]+)`", README.read_text())):
        assert (ROOT / ref).exists(), ref
