"""The Kubernetes overlays, rendered offline with `kubectl kustomize` and validated against the
Kubernetes schemas that `kubernetes-validate` ships; every TOUCHLINE_* variable they set must
be a real setting (the same list the compose test checks against)."""

from __future__ import annotations

import base64
import copy
import shutil
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from pydantic import ValidationError

from touchline.notify.settings import NotifySettings
from touchline.shared import topics
from touchline.shared.admin import config_rows
from touchline.shared.settings import CommonSettings, refuse_dev_secrets

ROOT = Path(__file__).resolve().parents[3]
K8S = ROOT / "deploy" / "k8s"
OVERLAYS = ("dev", "prod")
# The oldest Kubernetes minor still supported upstream when these manifests were written.
KUBERNETES_VERSION = "1.33.0"
APP_SERVICES = ("ingest", "health", "touch", "notify", "console")
Manifest = dict[str, Any]


@cache
def render(overlay: str) -> tuple[Manifest, ...]:
    kubectl = shutil.which("kubectl")
    assert kubectl, "kubectl (with its built-in kustomize) must be on PATH to render deploy/k8s"
    out = subprocess.run(
        [kubectl, "kustomize", str(K8S / "overlays" / overlay)], check=True, capture_output=True, text=True
    ).stdout
    return tuple(d for d in yaml.safe_load_all(out) if d)


def find(manifests: tuple[Manifest, ...], kind: str, name: str) -> Manifest:
    matches = [m for m in manifests if m["kind"] == kind and m["metadata"]["name"] == name]
    assert len(matches) == 1, f"{kind}/{name}: {len(matches)} found"
    return matches[0]


def containers(manifest: Manifest) -> list[Manifest]:
    spec = manifest.get("spec", {}).get("template", {}).get("spec", {})
    return list(spec.get("containers", [])) + list(spec.get("initContainers", []))


def schema_problems(manifest: Manifest) -> str | None:
    try:
        kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as exc:
        return str(exc).splitlines()[0]
    return None


def env_of(manifests: tuple[Manifest, ...], deployment: str) -> dict[str, str]:
    """The environment one Deployment's container sees: its ConfigMaps, then its secret refs
    resolved from the rendered Secret when the overlay has one ("<secret:key>" otherwise)."""
    container = containers(find(manifests, "Deployment", deployment))[0]
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        env |= find(manifests, "ConfigMap", source["configMapRef"]["name"]).get("data", {})
    for var in container.get("env", []):
        ref = var["valueFrom"]["secretKeyRef"]
        secrets = [m for m in manifests if m["kind"] == "Secret" and m["metadata"]["name"] == ref["name"]]
        data = secrets[0].get("data", {}) if secrets else {}
        env[var["name"]] = _b64(data[ref["key"]]) if ref["key"] in data else f"<{ref['name']}:{ref['key']}>"
    return env


def _b64(value: str) -> str:
    return base64.b64decode(value).decode()


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_rendered_manifest_validates_against_the_kubernetes_schemas(overlay: str) -> None:
    manifests = render(overlay)
    problems = {f"{m['kind']}/{m['metadata']['name']}": schema_problems(m) for m in manifests}
    assert {k: v for k, v in problems.items() if v} == {}


def test_the_schema_check_refuses_a_misspelt_field_and_a_wrong_type() -> None:
    deployment = copy.deepcopy(find(render("prod"), "Deployment", "touchline-ingest"))
    deployment["spec"]["template"]["spec"]["containers"][0]["livenesProbe"] = {}
    assert schema_problems(deployment) is not None
    deployment = copy.deepcopy(find(render("prod"), "Deployment", "touchline-ingest"))
    deployment["spec"]["replicas"] = "two"
    assert "'two' is not of type" in str(schema_problems(deployment))


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_touchline_variable_named_is_a_real_setting(overlay: str) -> None:
    known = {name for name, _, _ in config_rows()}
    named: set[str] = set()
    for m in render(overlay):
        if m["kind"] == "ConfigMap":
            named |= set(m.get("data", {}))
        for container in containers(m):
            named |= {var["name"] for var in container.get("env", [])}
    touchline = {n for n in named if n.startswith("TOUCHLINE_")}
    assert len(touchline) > 20
    assert touchline - known == set(), "not settings of any service"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_each_service_runs_its_command_with_probes_resources_a_service_and_a_disruption_budget(overlay: str) -> None:
    manifests = render(overlay)
    for service in APP_SERVICES:
        name = f"touchline-{service}"
        container = containers(find(manifests, "Deployment", name))[0]
        assert container["args"] == [service]
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        # The console has no /readyz (it holds no consumer or pool of its own): its readiness is /healthz.
        expected_ready = "/healthz" if service == "console" else "/readyz"
        assert container["readinessProbe"]["httpGet"]["path"] == expected_ready
        assert {"cpu", "memory"} <= set(container["resources"]["requests"]) & set(container["resources"]["limits"])
        port = int(env_of(manifests, name)[f"TOUCHLINE_{service.upper()}_PORT"])
        assert container["ports"][0]["containerPort"] == port
        assert env_of(manifests, name)[f"TOUCHLINE_{service.upper()}_HOST"] == "0.0.0.0"
        assert find(manifests, "Service", name)["spec"]["ports"][0]["port"] == port
        assert find(manifests, "PodDisruptionBudget", name)["spec"]["selector"]["matchLabels"] == {
            "app.kubernetes.io/name": name
        }
    jobs = {tuple(containers(m)[0]["args"]) for m in manifests if m["kind"] == "Job"}
    assert jobs == {("migrate",), ("topics", "create")}
    hpa = find(manifests, "HorizontalPodAutoscaler", "touchline-ingest")
    assert hpa["spec"]["metrics"][0]["resource"]["name"] == "cpu"
    assert hpa["spec"]["scaleTargetRef"]["name"] == "touchline-ingest"


def test_in_prod_the_autoscaler_owns_ingest_replicas_and_health_stays_within_the_partitions() -> None:
    manifests = render("prod")
    assert "replicas" not in find(manifests, "Deployment", "touchline-ingest")["spec"]
    health = find(manifests, "Deployment", "touchline-health")["spec"]["replicas"]
    consumers = int(env_of(manifests, "touchline-health")["TOUCHLINE_HEALTH_CONSUMERS"])
    assert health * consumers <= topics.EVENTS.partitions


def test_prod_runs_as_prod_and_generates_no_secret_the_operator_must_create_it() -> None:
    manifests = render("prod")
    assert find(manifests, "ConfigMap", "touchline-common")["data"]["TOUCHLINE_ENV"] == "prod"
    assert [m for m in manifests if m["kind"] == "Secret"] == []
    assert all(m["metadata"].get("namespace") == "touchline" for m in manifests)


def test_the_dev_secrets_start_a_dev_deployment_but_are_refused_under_the_prod_config() -> None:
    dev, prod = render("dev"), render("prod")
    dev_env = env_of(dev, "touchline-notify")
    assert dev_env["TOUCHLINE_ENV"] == "dev"
    CommonSettings(_env_file=None, **_fields(dev_env, "TOUCHLINE_"))  # type: ignore[call-arg]
    # The prod config with the dev overlay's Secret pasted in: every service refuses to start.
    pasted = {k: dev_env[k] if v.startswith("<") else v for k, v in env_of(prod, "touchline-notify").items()}
    with pytest.raises(ValidationError, match="dev default secret"):
        CommonSettings(_env_file=None, **_fields(pasted, "TOUCHLINE_"))  # type: ignore[call-arg]
    notify = NotifySettings(_env_file=None, **_fields(pasted, "TOUCHLINE_NOTIFY_"))  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="dev default secret"):
        refuse_dev_secrets(notify, env=pasted["TOUCHLINE_ENV"])


def _fields(env: dict[str, str], prefix: str) -> dict[str, str]:
    """Environment variables of one settings class as its field names (prefix stripped)."""
    others = ("INGEST_", "HEALTH_", "TOUCH_", "NOTIFY_", "CONSOLE_")
    out = {}
    for name, value in env.items():
        rest = name.removeprefix(prefix)
        if rest != name and (prefix != "TOUCHLINE_" or not rest.startswith(others)):
            out[rest.lower()] = value
    return out
