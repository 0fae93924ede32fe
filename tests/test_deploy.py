"""Deployment files: the Kubernetes manifests in deploy/ are valid against the Kubernetes OpenAPI schemas
(kubernetes-validate, offline, strict: unknown fields fail) and fit together; the policies in the ConfigMap are
valid kumahc input; the Dockerfile installs from the runtime lock file, runs as a non-root user and serves /policies.
No Docker engine is needed (the image is not built here)."""

from __future__ import annotations

import json
import re
import shlex

import kubernetes_validate
import pytest
import yaml
from click.testing import CliRunner
from helpers import REPO

from kumahc.cli import main

DEPLOY = REPO / "deploy"
MANIFESTS = sorted(p for p in DEPLOY.glob("*.yaml") if p.name != "kustomization.yaml")
K8S_VERSION = "1.31.0"


def _docs(path):
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def _by_kind() -> dict[str, dict]:
    return {d["kind"]: d for p in MANIFESTS for d in _docs(p)}


@pytest.mark.parametrize("path", MANIFESTS, ids=[p.name for p in MANIFESTS])
def test_manifest_valid_against_kubernetes_schemas(path) -> None:
    for doc in _docs(path):
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def test_validator_rejects_a_broken_manifest() -> None:
    broken = json.loads(json.dumps(_by_kind()["Deployment"]))
    broken["spec"]["replicas"] = "two"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, K8S_VERSION, strict=True)
    broken = json.loads(json.dumps(_by_kind()["Deployment"]))
    broken["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, K8S_VERSION, strict=True)


def test_kustomization_lists_every_manifest() -> None:
    listed = yaml.safe_load((DEPLOY / "kustomization.yaml").read_text())["resources"]
    assert sorted(listed) == [p.name for p in MANIFESTS]


def test_manifests_fit_together() -> None:
    kinds = _by_kind()
    dep, svc, cm = kinds["Deployment"], kinds["Service"], kinds["ConfigMap"]
    assert dep["spec"]["replicas"] == 2
    pod = dep["spec"]["template"]
    assert svc["spec"]["selector"].items() <= pod["metadata"]["labels"].items()
    (container,) = pod["spec"]["containers"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert container["readinessProbe"]["httpGet"] == {"path": "/ready", "port": "admin"}
    assert {p["targetPort"] for p in svc["spec"]["ports"]} == set(ports)
    args = container["args"]
    assert args[0] == "/policies"
    assert args[args.index("--xds-address") + 1] == f"0.0.0.0:{ports['xds']}"
    assert args[args.index("--admin-address") + 1] == f"0.0.0.0:{ports['admin']}"
    (mount,) = container["volumeMounts"]
    (volume,) = pod["spec"]["volumes"]
    assert (mount["mountPath"], mount["name"], volume["name"]) == ("/policies", "policies", "policies")
    assert volume["configMap"]["name"] == cm["metadata"]["name"]
    assert {d["metadata"]["namespace"] for d in (dep, svc, cm)} == {kinds["Namespace"]["metadata"]["name"]}
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True


def test_configmap_policies_are_valid(tmp_path) -> None:
    data = _by_kind()["ConfigMap"]["data"]
    for name, text in data.items():
        (tmp_path / name).write_text(text)
    r = CliRunner().invoke(main, ["validate", "--strict", str(tmp_path)])
    assert (r.exit_code, r.stdout, r.stderr) == (0, f"ok: 4 resources in {len(data)} files\n", "")


def _dockerfile() -> list[tuple[str, str]]:
    text = (REPO / "Dockerfile").read_text().replace("\\\n", " ")
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def test_dockerfile_installs_from_the_lock_as_non_root() -> None:
    steps = _dockerfile()
    assert re.fullmatch(r"python:3\.11-slim(-\w+)?", dict(steps)["FROM"])
    runs = [rest for word, rest in steps if word == "RUN"]
    installs = [r for r in runs if "pip install" in r]
    # The first install is the runtime lock, with every hash checked; kumahc itself adds no dependency after it, and
    # nothing installs the full lock or the test extra (the image carries no test tools).
    assert "--require-hashes" in installs[0] and "-r requirements-runtime.lock" in installs[0]
    assert all("--no-deps" in r for r in installs)
    assert not any("requirements.lock" in r or "[test]" in r for r in installs)
    copied = [s for word, rest in steps if word == "COPY" for s in shlex.split(rest)[:-1]]
    assert "requirements-runtime.lock" in copied and "requirements.lock" not in copied
    users = [rest for word, rest in steps if word == "USER"]
    assert users and users[-1] not in ("root", "0")
    assert json.loads(dict(steps)["ENTRYPOINT"]) == ["kumahc", "serve"]
    assert json.loads(dict(steps)["VOLUME"]) == ["/policies"]
    assert json.loads(dict(steps)["CMD"])[0] == "/policies"
    for word, rest in steps:
        if word == "COPY":
            for source in shlex.split(rest)[:-1]:
                assert (REPO / source).exists(), source
