"""The deploy files say what the code accepts: known settings only, real commands, probes on the
health endpoints, a policy that loads."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from archiver.cli.main import app
from archiver.config import ENV_PREFIX, Settings
from archiver.policy.loader import load_policies
from tests.conftest import ROOT

DEPLOY = ROOT / "deploy"
KNOWN = {ENV_PREFIX + name.upper() for name in Settings.model_fields}
COMMANDS = {c.name for c in app.registered_commands} | {g.name for g in app.registered_groups}


def deploy_files() -> list[Path]:
    return [*sorted(p for p in DEPLOY.rglob("*") if p.is_file()), ROOT / "docs" / "operations.md"]


def k8s_documents() -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for path in sorted((DEPLOY / "k8s").glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        docs.extend(d for d in yaml.safe_load_all(path.read_text()) if d)
    return docs


@pytest.mark.parametrize("path", deploy_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_archiver_variable_in_deploy_files_is_a_setting(path: Path) -> None:
    used = set(re.findall(r"\bARCHIVER_[A-Z_]+\b", path.read_text()))
    assert used <= KNOWN, f"{path.name}: unknown settings {sorted(used - KNOWN)} (start would fail)"


def test_systemd_units_run_existing_commands() -> None:
    units = sorted((DEPLOY / "systemd").glob("*.service"))
    assert {u.name for u in units} >= {"archiver.service", "archiver-worker.service"}
    for unit in units:
        text = unit.read_text()
        for line in re.findall(r"^Exec\w+=(.*)$", text, re.M):
            if "/archiver " in line:
                command = line.split("/archiver ", 1)[1].split()[0]
                assert command in COMMANDS, f"{unit.name}: no command {command!r}"
        if "Type=oneshot" not in text:
            assert "Restart=on-failure" in text and "NoNewPrivileges=yes" in text, unit.name


def test_kubernetes_daemon_probes_the_health_endpoints_and_workers_run_worker() -> None:
    docs = k8s_documents()
    kinds = {(d["kind"], d["metadata"]["name"]) for d in docs}
    assert {("Deployment", "archiver-daemon"), ("Deployment", "archiver-worker")} <= kinds
    assert {("ConfigMap", "archiver-policies"), ("Secret", "archiver-credentials")} <= kinds
    deployments = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Deployment"}
    daemon = deployments["archiver-daemon"]["spec"]["template"]["spec"]["containers"][0]
    assert daemon["args"] == ["run"]
    assert daemon["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert daemon["readinessProbe"]["httpGet"]["path"] == "/readyz"
    worker = deployments["archiver-worker"]["spec"]["template"]["spec"]["containers"][0]
    assert worker["args"][0] == "worker"
    for container in (daemon, worker):
        assert container["args"][0] in COMMANDS
        refs = {next(iter(r.values()))["name"] for r in container["envFrom"]}
        assert refs == {"archiver-env", "archiver-credentials"}
    files = [p.name for p in (DEPLOY / "k8s").glob("*.yaml") if p.name != "kustomization.yaml"]
    kustomization = yaml.safe_load((DEPLOY / "k8s" / "kustomization.yaml").read_text())
    assert sorted(kustomization["resources"]) == sorted(files)


def test_the_policies_shipped_in_the_config_map_load(tmp_path: Path) -> None:
    (config_map,) = [d for d in k8s_documents() if d["metadata"]["name"] == "archiver-policies"]
    for name, text in config_map["data"].items():
        (tmp_path / name).write_text(text)
    policies = load_policies(tmp_path, {})
    assert policies.accounts, "the example ConfigMap schedules at least one account"


def test_compose_runs_daemon_and_workers_on_the_real_services() -> None:
    compose = yaml.safe_load((DEPLOY / "compose" / "compose.yaml").read_text())
    services = compose["services"]
    assert {"postgres", "seaweedfs", "rabbitmq", "redis", "daemon"} <= set(services)
    workers = [s for s in services.values() if s.get("command", [""])[0] == "worker"]
    assert len(workers) >= 2
    spools = [v for w in workers for v in w["volumes"] if v.endswith(":/var/lib/archiver")]
    assert len(set(spools)) == len(workers), "each worker keeps its own spool"
