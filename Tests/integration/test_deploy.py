"""deploy/: the Kubernetes manifests checked against the Kubernetes API models (every field
known, required fields present), the configs they carry accepted by `ferry check`, the
Dockerfile's stages and runtime packages, and the systemd unit (systemd-analyze verify)."""
import base64
import pathlib
import re
import shutil
import subprocess

import pytest
import yaml
from kubernetes import client

from conftest import ROOT, ferry_binary

DEPLOY = ROOT / "deploy"
MANIFESTS = sorted((DEPLOY / "kubernetes").glob("*.yaml"))
MODELS = {("v1", "ConfigMap"): "V1ConfigMap", ("apps/v1", "Deployment"): "V1Deployment",
          ("v1", "Service"): "V1Service", ("policy/v1", "PodDisruptionBudget"): "V1PodDisruptionBudget"}


def documents(path):
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def without_none(value):
    if isinstance(value, dict):
        return {k: without_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [without_none(v) for v in value]
    return value


def normalized(value):
    """Plain values as the API serializes them (numbers in quantities and ports as given)."""
    if isinstance(value, dict):
        return {k: normalized(v) for k, v in value.items()}
    if isinstance(value, list):
        return [normalized(v) for v in value]
    return str(value)


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.name)
def test_manifests_match_the_kubernetes_models(path):
    api = client.ApiClient()
    for doc in documents(path):
        model_name = MODELS[(doc["apiVersion"], doc["kind"])]
        # Raises ValueError when a required field is missing (client-side validation).
        model = api._ApiClient__deserialize(doc, model_name)
        # A field the model does not know would be dropped here: a typo shows as a difference.
        assert normalized(without_none(api.sanitize_for_serialization(model))) == normalized(doc), \
            f"{path.name}: {doc['kind']} {doc['metadata']['name']} has fields the API does not know"


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.name)
def test_deployments_probe_the_admin_endpoints_and_roll_safely(path):
    docs = documents(path)
    deployments = [doc for doc in docs if doc["kind"] == "Deployment"]
    assert deployments
    for deployment in deployments:
        spec = deployment["spec"]
        assert spec["strategy"]["type"] == "RollingUpdate"
        assert spec["strategy"]["rollingUpdate"] == {"maxUnavailable": 0, "maxSurge": 1}
        pod = spec["template"]["spec"]
        ferry = next(c for c in pod["containers"] if c["name"] == "ferry")
        admin_port = next(p["containerPort"] for p in ferry["ports"] if p["name"] == "admin")
        assert ferry["readinessProbe"]["httpGet"] == {"path": "/ready", "port": "admin"}
        assert ferry["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "admin"}
        for container in pod["containers"]:
            assert container["resources"]["requests"]["cpu"] and container["resources"]["requests"]["memory"]
            assert container["securityContext"]["allowPrivilegeEscalation"] is False
        # The config the pod mounts: its admin listener is the probed port, on all interfaces.
        volume = next(v for v in pod["volumes"] if v["name"] == "config")
        config_map = next(doc for doc in docs if doc["kind"] == "ConfigMap"
                          and doc["metadata"]["name"] == volume["configMap"]["name"])
        config = yaml.safe_load(config_map["data"]["ferry.yaml"])
        assert config["admin"]["address"] == f"0.0.0.0:{admin_port}"
        drain = sum(int(config[key].rstrip("s")) for key in ("drain_grace", "drain_timeout"))
        assert pod["terminationGracePeriodSeconds"] > drain, "Kubernetes must not kill Ferry mid-drain"


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.name)
def test_config_maps_pass_ferry_check(path, tmp_path):
    for doc in documents(path):
        if doc["kind"] != "ConfigMap":
            continue
        mounted = pathlib.Path("/etc/ferry")
        for name, data in doc.get("binaryData", {}).items():
            (tmp_path / name).write_bytes(base64.b64decode(data))
        text = doc["data"]["ferry.yaml"].replace(str(mounted) + "/", str(tmp_path) + "/")
        if "/etc/ferry-tls/" in text:
            # `check` loads the certificate as starting would: a stand-in for the Secret's.
            subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                            "-days", "1", "-subj", "/CN=localhost", "-keyout", str(tmp_path / "tls.key"),
                            "-out", str(tmp_path / "tls.crt")], check=True, capture_output=True)
            text = text.replace("/etc/ferry-tls/", str(tmp_path) + "/")
        if "/etc/ferry-admin/" in text:
            # A stand-in for the Secret's token.
            (tmp_path / "token").write_text("a-token\n")
            text = text.replace("/etc/ferry-admin/", str(tmp_path) + "/")
        (tmp_path / "ferry.yaml").write_text(text)
        result = subprocess.run([ferry_binary(), "check", "--config", str(tmp_path / "ferry.yaml")],
                                capture_output=True, text=True, timeout=30)
        assert result.returncode == 0, result.stderr
        assert "REST: " in result.stdout


def test_descriptor_set_in_the_manifests_is_the_embedded_one():
    embedded = re.search(r'base64 = "([A-Za-z0-9+/=]+)"', (ROOT / "Sources/NodeService/NodeDescriptorSet.swift").read_text())
    for path in MANIFESTS:
        config_map = next(doc for doc in documents(path) if doc["kind"] == "ConfigMap")
        assert config_map["binaryData"]["node.pb"] == embedded.group(1), path.name


def test_dockerfile_builds_in_one_stage_and_runs_unprivileged_in_another():
    text = (DEPLOY / "Dockerfile").read_text()
    stages = re.findall(r"^FROM (\S+) AS (\w+)$", text, re.M)
    assert [name for _, name in stages] == ["build", "runtime"]
    assert "--static-swift-stdlib" in text and "COPY --from=build" in text
    assert re.search(r"^USER 65532", text, re.M) and "EXPOSE 8080 9901" in text
    runtime = text[text.index("AS runtime"):]
    packages = re.search(r"install -y --no-install-recommends ([^&]+)&&", runtime.replace("\\\n", " ")).group(1).split()
    assert {"libevent-core-2.1-7", "libnghttp2-14", "libssl3", "libyaml-0-2"} <= set(packages)
    if shutil.which("apt-cache"):
        # The runtime stage is Debian 12, as is this machine: every package must exist here.
        for package in packages:
            shown = subprocess.run(["apt-cache", "show", package], capture_output=True, text=True)
            assert shown.returncode == 0 and shown.stdout, f"no Debian package {package}"


def test_systemd_unit_verifies_and_is_hardened(tmp_path):
    unit = (DEPLOY / "systemd" / "ferry.service").read_text()
    for setting in ("NoNewPrivileges=yes", "ProtectSystem=strict", "DynamicUser=yes", "PrivateTmp=yes",
                    "CapabilityBoundingSet=", "SystemCallFilter=@system-service", "ExecReload=/bin/kill -HUP $MAINPID",
                    "KillSignal=SIGTERM"):
        assert setting in unit
    if not shutil.which("systemd-analyze"):
        pytest.skip("systemd-analyze is not installed")
    # Verified with the binary where the unit expects it.
    local = tmp_path / "ferry.service"
    local.write_text(unit.replace("/usr/local/bin/ferry", ferry_binary()))
    result = subprocess.run(["systemd-analyze", "verify", str(local)], capture_output=True, text=True, timeout=60)
    problems = [line for line in result.stderr.splitlines() if "ferry.service" in line]
    assert not problems, result.stderr
