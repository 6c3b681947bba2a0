"""The Kubernetes manifests (deploy/k8s), checked offline against the tools and against the code:

- each overlay renders with `kubectl kustomize`;
- every built-in object validates with kubernetes-validate (strict, Kubernetes 1.30); Istio and Prometheus Operator
  objects validate against the project's schemas (deploy/k8s/schemas), and no kind is left without a schema;
- checkov passes, every skip is an annotation with its reason, and every skip is needed;
- the manifests agree with the binary: ports and probe ports are the configuration defaults, probe paths are served
  by a running role, every ANSWER_NINJA_* name is a configuration key (a *_FILE name only where the binary names
  it as the key's file variable), each container's environment is a valid configuration (the highest RTP slice
  included, the secret files stood in for), the autoscaling metrics are in the metrics catalogue, the image tag is
  the binary's version, and the drain fits in the termination grace;
- the host-network roles (gateway, media) are StatefulSets with an RTP slice per pod index in ranges that do not
  overlap, never share a node, and the gateway's media.control_url names exactly the media pods its HPA can reach,
  over mutual TLS whose files are Secret files;
- Answer Ninja reads its secrets from files: no Secret reaches its environment, and every *_FILE path is a file of
  a read-only volume mounted from that Secret key, readable by user 10001 and nobody else;
- the Kamailio edge runs deploy/kamailio as docs/kamailio.md says: every file its configuration reads is mounted,
  where it writes is an emptyDir, its defines are the cluster values, its ports, probes and LoadBalancer Service are
  on the configuration's SIP ports, and `kamailio -c` accepts each overlay's command line;
- NetworkPolicies allow the flows of DESIGN.md and nothing else that matters (a small evaluator), the Istio objects
  point at what exists, the quota covers every overlay at full scale, and secrets are only referenced (each one
  created in docs/kubernetes.md).

Under CI=true a missing tool (kubectl, checkov, promtool, kamailio) fails its test instead of skipping it.
Run: .venv/bin/python -m pytest -q Tests/deploy/test_k8s.py"""
import copy
import ipaddress
import json
import os
import re
import subprocess
import time
import urllib.error
import urllib.request
from fractions import Fraction
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest

from deploy_tools import tool
import yaml

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
SCHEMAS = K8S / "schemas"
DOCS = ROOT / "docs" / "kubernetes.md"
BINARY = ROOT / ".build" / "debug" / "answer-ninja"
EDGE = ROOT / "deploy" / "kamailio"
VENV_BIN = ROOT / ".venv" / "bin"
OVERLAYS = ("dev", "staging", "prod")
KUBERNETES_VERSION = "1.30.0"
NAMESPACE = "answer-ninja"
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "Job")
# Groups whose objects are custom resources: validated against deploy/k8s/schemas, never by kubernetes-validate.
CRD_GROUPS = ("networking.istio.io", "security.istio.io", "monitoring.coreos.com")
ENV_NAME = re.compile(r"\bANSWER_NINJA_[A-Z0-9_]+\b")
# Where every Answer Ninja container finds its secret files (docs/kubernetes.md).
SECRETS_DIR = "/run/secrets/answer-ninja"
# The image's user (deploy/docker/Dockerfile).
IMAGE_USER = 10001
# Where the media role runs in pods of its own (base/media.yaml). dev runs on one node, where a media pod could not
# sit beside the gateway (both answer on the node's port 8080): its gateway runs its calls' media itself.
MEDIA_APART = {"dev": False, "staging": True, "prod": True}
# The host-network roles: each a StatefulSet with a slice of its RTP range per pod index.
HOST_NETWORK_ROLES = ("gateway", "media")
# Ports a node's own UDP sockets may hold: the NodePort range (kube-proxy) and Linux's ephemeral range.
NODE_PORT_RANGE = (30000, 32767)
EPHEMERAL_PORT_RANGE = (32768, 60999)


# --- tools and the binary ---------------------------------------------------------------------------------------

def run_binary(*args, env=None, timeout=60):
    """Runs the debug binary; it may vanish for a minute while the build relinks it, so wait for it."""
    deadline = time.monotonic() + 150
    while not BINARY.exists():
        if time.monotonic() > deadline:
            pytest.fail(f"{BINARY} is missing: build it first (swift build)")
        time.sleep(5)
    return subprocess.run([str(BINARY), *args], capture_output=True, text=True, timeout=timeout, env=env)


def binary_json(*args):
    result = run_binary(*args)
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def keys():
    """The configuration catalogue: key -> entry (environment, kind, default_value)."""
    return {entry["key"]: entry for entry in binary_json("config", "--keys", "--json")["entries"]}


@pytest.fixture(scope="module")
def file_variables(keys):
    """ANSWER_NINJA_<KEY>_FILE -> the key's entry, for the keys the binary lets come from a file (file_environment)."""
    return {entry["file_environment"]: entry for entry in keys.values() if entry.get("file_environment")}


@pytest.fixture(scope="module")
def defaults(keys):
    return {key: entry.get("default_value") for key, entry in keys.items()}


@pytest.fixture(scope="module")
def catalogue():
    """The metrics the code exports: name -> entry (kind, labels)."""
    return {metric["name"]: metric for metric in binary_json("metrics", "--json")["metrics"]}


@pytest.fixture(scope="module")
def rendered():
    """overlay -> (exit status, rendered YAML, stderr, documents)."""
    kubectl = tool("kubectl")
    out = {}
    for overlay in OVERLAYS:
        result = subprocess.run([kubectl, "kustomize", str(K8S / "overlays" / overlay)], capture_output=True, text=True, timeout=120)
        parsed = [d for d in yaml.safe_load_all(result.stdout) if d] if result.returncode == 0 else []
        out[overlay] = (result.returncode, result.stdout, result.stderr, parsed)
    return out


def documents(rendered, overlay):
    status, _, errors, docs = rendered[overlay]
    assert status == 0, f"kubectl kustomize deploy/k8s/overlays/{overlay} failed:\n{errors}"
    return docs


# --- helpers ----------------------------------------------------------------------------------------------------

def find(docs, kind, name=None):
    found = [d for d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]
    if name is not None:
        assert len(found) == 1, f"expected one {kind} {name}, found {len(found)}"
        return found[0]
    return found


def workloads(docs):
    return [d for d in docs if d["kind"] in WORKLOAD_KINDS]


def pod_spec(workload):
    return workload["spec"]["template"]["spec"]


def pod_meta(workload):
    return workload["spec"]["template"].get("metadata", {})


def containers(spec, init=True):
    return list(spec.get("containers", [])) + (list(spec.get("initContainers", [])) if init else [])


def is_ours(container):
    return image_name(container["image"]).rsplit("/", 1)[-1] == "answer-ninja"


def image_name(image):
    return image.split("@")[0].rsplit(":", 1)[0] if ":" in image.split("/")[-1] else image.split("@")[0]


def image_tag(image):
    last = image.split("@")[0].split("/")[-1]
    return last.split(":", 1)[1] if ":" in last else None


def our_containers(docs):
    """(workload, container) for every answer-ninja container."""
    return [(w, c) for w in workloads(docs) for c in containers(pod_spec(w)) if is_ours(c)]


def role(container):
    return container.get("args", [None])[0]


def env_entry(container, name):
    return next((e for e in container.get("env", []) if e["name"] == name), None)


def env_value(container, name):
    entry = env_entry(container, name)
    return entry.get("value") if entry else None


def setting(container, key, keys, defaults):
    """The value a container's process sees for `key`: its literal env value, else the default."""
    value = env_value(container, keys[key]["environment"])
    return value if value is not None else defaults[key]


def seconds(duration):
    """'210s', '3m', '4h', '1h30m', '600ms' -> seconds."""
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)", duration)
    assert parts and "".join(n + u for n, u in parts) == duration, f"not a duration: {duration!r}"
    return sum(float(n) * units[u] for n, u in parts)


def quantity(value):
    """A Kubernetes quantity ('500m', '2', '512Mi', '4Gi') as an exact number."""
    value = str(value)
    suffixes = {"m": Fraction(1, 1000), "Ki": 1024, "Mi": 1024**2, "Gi": 1024**3, "Ti": 1024**4,
                "k": 1000, "K": 1000, "M": 1000**2, "G": 1000**3, "T": 1000**4}
    match = re.fullmatch(r"(\d+(?:\.\d+)?)(m|Ki|Mi|Gi|Ti|k|K|M|G|T)?", value)
    assert match, f"not a quantity: {value!r}"
    return Fraction(match.group(1)) * suffixes.get(match.group(2), 1)


def hpa_for(docs, workload):
    for hpa in find(docs, "HorizontalPodAutoscaler"):
        ref = hpa["spec"]["scaleTargetRef"]
        if ref["kind"] == workload["kind"] and ref["name"] == workload["metadata"]["name"]:
            return hpa
    return None


def max_replicas(docs, workload):
    hpa = hpa_for(docs, workload)
    if hpa:
        return hpa["spec"]["maxReplicas"]
    return workload["spec"].get("replicas", 1) if workload["kind"] != "Job" else workload["spec"].get("parallelism", 1)


def resolve_port(container, port):
    if isinstance(port, int):
        return port
    named = [p["containerPort"] for p in container.get("ports", []) if p.get("name") == port]
    assert named, f"port {port!r} is not a port of container {container['name']}"
    return named[0]


def cluster_values(overlay):
    for document in yaml.safe_load_all((K8S / "overlays" / overlay / "cluster-values.yaml").read_text()):
        if document and document["kind"] == "ConfigMap" and document["metadata"]["name"] == "cluster-values":
            return document["data"]
    raise AssertionError(f"overlays/{overlay}/cluster-values.yaml has no ConfigMap cluster-values")


def edge_config_maps(docs):
    """deploy/kamailio's ConfigMap, under its hashed name."""
    return [d for d in find(docs, "ConfigMap") if re.fullmatch(r"kamailio-config-[a-z0-9]+", d["metadata"]["name"])]


def meshed(workload):
    return pod_meta(workload).get("annotations", {}).get("sidecar.istio.io/inject") != "false" and not pod_spec(workload).get("hostNetwork")


# --- rendering and validation -----------------------------------------------------------------------------------

@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_overlay_renders_with_every_part(rendered, overlay):
    docs = documents(rendered, overlay)
    kinds = {d["kind"] for d in docs}
    for kind in ("Namespace", "ResourceQuota", "LimitRange", "ServiceAccount", "StatefulSet", "Deployment", "Job", "Service",
                 "HorizontalPodAutoscaler", "PodDisruptionBudget", "NetworkPolicy", "ConfigMap", "Gateway", "VirtualService",
                 "DestinationRule", "PeerAuthentication", "AuthorizationPolicy"):
        assert kind in kinds, f"{overlay} renders no {kind}"
    find(docs, "StatefulSet", "gateway")
    if MEDIA_APART[overlay]:
        find(docs, "StatefulSet", "media")
        find(docs, "HorizontalPodAutoscaler", "media")
    else:
        named_media = [d for d in docs if d["metadata"]["name"] in ("media", "answer-ninja-media") and d["kind"] != "ConfigMap"]
        assert not named_media, f"{overlay} runs no media pods, yet renders {[(d['kind'], d['metadata']['name']) for d in named_media]}"
    find(docs, "Deployment", "conversation")
    find(docs, "Deployment", "api")
    find(docs, "Job", "migrate")
    find(docs, "ConfigMap", "adapter-config")
    # The SIP edge: deploy/kamailio's ConfigMap (hashed name) and the Kamailio that runs it.
    find(docs, "Deployment", "kamailio")
    find(docs, "Service", "kamailio")
    assert len(edge_config_maps(docs)) == 1, "deploy/kamailio's ConfigMap kamailio-config is not rendered once"
    stores = {d["metadata"]["name"] for d in find(docs, "StatefulSet")} & {"postgres", "redis"}
    # In-cluster stores in dev and staging only; prod points at managed services.
    assert stores == (set() if overlay == "prod" else {"postgres", "redis"}), stores
    # The per-cluster values were copied in (components/cluster-values) and the local-config object left out.
    assert not [d for d in docs if d["metadata"]["name"] == "cluster-values"]
    # The base's placeholders are all from 192.0.2.0/24 (TEST-NET-1), which no overlay uses.
    assert "192.0.2." not in rendered[overlay][1], "a placeholder address of the base survived: components/cluster-values did not run"
    for document in docs:
        if document["kind"] not in ("Namespace", "ClusterRole", "ClusterRoleBinding"):
            assert document["metadata"].get("namespace"), f"{document['kind']} {document['metadata']['name']} names no namespace"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_built_in_objects_validate_strictly(rendered, overlay):
    problems = []
    for document in documents(rendered, overlay):
        if document["apiVersion"].split("/")[0] in CRD_GROUPS:
            continue
        try:
            kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.SchemaNotFoundError:
            problems.append(f"{document['apiVersion']} {document['kind']}: not a Kubernetes {KUBERNETES_VERSION} kind and no project schema")
        except kubernetes_validate.ValidationError as error:
            problems.append(f"{document['kind']} {document['metadata']['name']}: {error.message} at {list(error.path)}")
    assert not problems, "\n".join(problems)


def test_strict_validation_refuses_a_misspelled_field(rendered):
    gateway = copy.deepcopy(find(documents(rendered, "dev"), "StatefulSet", "gateway"))
    gateway["spec"]["template"]["spec"]["terminationGracePeriod"] = 240
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(gateway, KUBERNETES_VERSION, strict=True)


@pytest.fixture(scope="module")
def project_schemas():
    """(apiVersion, kind) -> validator, from deploy/k8s/schemas/*.json."""
    validators = {}
    for path in sorted(SCHEMAS.glob("*.json")):
        schema = json.loads(path.read_text())
        jsonschema.Draft202012Validator.check_schema(schema)
        for api_version in schema["properties"]["apiVersion"]["enum"]:
            validators[(api_version, schema["properties"]["kind"]["const"])] = jsonschema.Draft202012Validator(schema)
    kinds = {kind for _, kind in validators}
    for kind in ("Gateway", "VirtualService", "DestinationRule", "PeerAuthentication", "AuthorizationPolicy", "ServiceMonitor", "PrometheusRule"):
        assert kind in kinds, f"deploy/k8s/schemas has no schema for {kind}"
    return validators


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_custom_resources_validate_against_the_project_schemas(rendered, project_schemas, overlay):
    problems = []
    for document in documents(rendered, overlay):
        if document["apiVersion"].split("/")[0] not in CRD_GROUPS:
            continue
        validator = project_schemas.get((document["apiVersion"], document["kind"]))
        if validator is None:
            problems.append(f"{document['apiVersion']} {document['kind']} {document['metadata']['name']}: no schema in deploy/k8s/schemas")
            continue
        for error in validator.iter_errors(document):
            problems.append(f"{document['kind']} {document['metadata']['name']}: {error.message} at {list(error.absolute_path)}")
    assert not problems, "\n".join(problems)


def test_the_project_schemas_refuse_what_istio_would(rendered, project_schemas):
    docs = documents(rendered, "dev")
    peer = copy.deepcopy(find(docs, "PeerAuthentication", "default"))
    peer["spec"]["mtls"]["mode"] = "STRICTEST"
    route = copy.deepcopy(find(docs, "VirtualService", "api"))
    route["spec"]["http"][0]["timout"] = "1s"
    ports = copy.deepcopy(find(docs, "PeerAuthentication", "default"))
    ports["spec"]["portLevelMtls"] = {"8080": {"mode": "PERMISSIVE"}}  # port-level mTLS needs a workload selector
    gateway = copy.deepcopy(find(docs, "Gateway", "answer-ninja"))
    del gateway["spec"]["servers"][0]["tls"]["credentialName"]
    for broken in (peer, route, ports, gateway):
        assert not project_schemas[(broken["apiVersion"], broken["kind"])].is_valid(broken), broken["kind"]


# --- checkov ------------------------------------------------------------------------------------------------------

SKIP = re.compile(r"^(CKV2?_K8S_\d+)=(.+)$")


def skips(docs):
    """(check id, kind, name, reason) for every checkov.io/skipN annotation."""
    found = []
    for document in docs:
        for key, value in document["metadata"].get("annotations", {}).items():
            if key.startswith("checkov.io/skip"):
                match = SKIP.match(value)
                assert match, f"{document['kind']} {document['metadata']['name']}: {key} is not 'CKV_K8S_nn=reason': {value!r}"
                found.append((match.group(1), document["kind"], document["metadata"]["name"], match.group(2)))
    return found


def run_checkov(directory):
    result = subprocess.run([tool("checkov"), "-d", str(directory), "--framework", "kubernetes", "--quiet", "--compact",
                             "--skip-download", "-o", "json"], capture_output=True, text=True, timeout=300)
    try:
        reports = json.loads(result.stdout)
    except json.JSONDecodeError:
        raise AssertionError(f"checkov gave no JSON report (exit {result.returncode}):\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    reports = reports if isinstance(reports, list) else [reports]
    failed = [(c["check_id"], c["resource"]) for r in reports for c in r.get("results", {}).get("failed_checks", [])]
    passed = sum(r.get("summary", {}).get("passed", 0) for r in reports)
    return result.returncode, failed, passed


def test_checkov_passes_and_every_skip_is_annotated_and_needed(rendered, tmp_path):
    all_docs = {overlay: documents(rendered, overlay) for overlay in OVERLAYS}
    for overlay, docs in all_docs.items():
        (tmp_path / f"{overlay}.yaml").write_text(rendered[overlay][1])
        for check, kind, name, reason in skips(docs):
            assert len(reason) >= 30, f"{kind} {name}: the skip of {check} needs a real reason, not {reason!r}"
    status, failed, passed = run_checkov(tmp_path)
    assert passed > 100, f"checkov ran only {passed} checks: was anything scanned?"
    assert status == 0 and not failed, "checkov failed:\n" + "\n".join(f"{c} {r}" for c, r in failed)
    # Without the annotations each skipped check must fail on its resource: no skip is left over.
    bare = tmp_path / "bare"
    bare.mkdir()
    for overlay, docs in all_docs.items():
        stripped = copy.deepcopy(docs)
        for document in stripped:
            annotations = document["metadata"].get("annotations", {})
            for key in [k for k in annotations if k.startswith("checkov.io/skip")]:
                del annotations[key]
        (bare / f"{overlay}.yaml").write_text(yaml.safe_dump_all(stripped))
    _, failed_bare, _ = run_checkov(bare)
    failing = {(check, resource.split(".")[0], resource.split(".")[-1]) for check, resource in failed_bare}
    unneeded = {(c, k, n) for docs in all_docs.values() for c, k, n, _ in skips(docs)} - failing
    assert not unneeded, f"skips that checkov does not need (remove them): {sorted(unneeded)}"


# --- agreement with the code ------------------------------------------------------------------------------------

@pytest.mark.parametrize("overlay", OVERLAYS)
def test_ports_are_the_configuration_defaults(rendered, defaults, keys, overlay):
    docs = documents(rendered, overlay)
    http, sip = int(defaults["http.port"]), int(defaults["sip.port"])
    expected = {"http": http, "sip": sip, "sip-tcp": sip}
    # The TLS listeners of the conversation role (wss) and the media role (media-tls) have no default port: where a
    # container declares one, its setting names it, and only there is it set.
    tls_listeners = {"ANSWER_NINJA_CONVERSATION_TLS_PORT": ("wss", "tcp-wss"), "ANSWER_NINJA_MEDIA_TLS_PORT": ("media-tls",)}
    for variable, names in tls_listeners.items():
        tls_ports = {int(v) for _, c in our_containers(docs) if (v := env_value(c, variable))}
        assert len(tls_ports) <= 1, (variable, tls_ports)
        if tls_ports:
            port = tls_ports.pop()
            assert port not in (http, sip), f"{variable} {port} is the port of another listener"
            expected.update({name: port for name in names})
    assert MEDIA_APART[overlay] == ("media-tls" in expected), f"{overlay}: the media role's TLS port is declared exactly where media runs apart"
    for workload, container in our_containers(docs):
        where = f"{workload['kind']} {workload['metadata']['name']}/{container['name']}"
        for variable, names in tls_listeners.items():
            declared = any(p.get("name") == names[0] for p in container.get("ports", []))
            assert declared == (env_value(container, variable) is not None), f"{where}: {variable} set without the port {names[0]}, or the port without it"
            if declared:
                assert env_value(container, variable) == str(expected[names[0]]), f"{where}: a {names[0]} port the role does not open"
        for port in container.get("ports", []):
            assert port.get("name") in expected, f"{where}: port {port} is none the code listens on"
            assert port["containerPort"] == expected[port["name"]], f"{where}: {port['name']} is {port['containerPort']}, the code's default {expected[port['name']]}"
        for name, key in (("ANSWER_NINJA_HTTP_PORT", "http.port"), ("ANSWER_NINJA_SIP_PORT", "sip.port")):
            assert env_value(container, name) in (None, defaults[key]), f"{where}: {name} moves the port away from the probes"
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            if probe in container and "httpGet" in container[probe]:
                assert resolve_port(container, container[probe]["httpGet"]["port"]) == http, f"{where}: {probe} is not on http.port"
        if role(container) != "migrate":
            assert [p["name"] for p in container["ports"] if p["containerPort"] == http] == ["http"], f"{where}: the HTTP port must be named http"
        capabilities = container["securityContext"]["capabilities"].get("add", [])
        assert "NET_BIND_SERVICE" not in capabilities or min(http, sip) < 1024, f"{where}: NET_BIND_SERVICE without a port below 1024"
    pods = {w["metadata"]["name"]: w for w, _ in our_containers(docs)}
    for service in find(docs, "Service"):
        selected = [w for w in pods.values() if all(pod_meta(w)["labels"].get(k) == v for k, v in service["spec"].get("selector", {}).items())]
        if not selected:
            continue
        for port in service["spec"]["ports"]:
            assert port["name"] in expected, f"Service {service['metadata']['name']}: port {port['name']} is none the code listens on"
            assert port["port"] == expected[port["name"]], f"Service {service['metadata']['name']}: {port['name']} is {port['port']}"
            for workload in selected:
                container = next(c for c in containers(pod_spec(workload)) if is_ours(c))
                assert resolve_port(container, port["targetPort"]) == expected[port["name"]]
    sip_service = find(docs, "Service", "gateway-sip")
    assert {(p["protocol"], p["port"]) for p in sip_service["spec"]["ports"]} == {("UDP", sip), ("TCP", sip)}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_environment_name_is_a_configuration_key(rendered, keys, file_variables, overlay):
    for key, entry in keys.items():
        # The naming rule the manifests rely on: key a.b_c is ANSWER_NINJA_A_B_C.
        assert entry["environment"] == "ANSWER_NINJA_" + key.upper().replace(".", "_"), entry
    documents(rendered, overlay)
    # A *_FILE name is known only where the binary gives the key a file_environment (secrets and the store URLs).
    known = {entry["environment"] for entry in keys.values()} | set(file_variables)
    without_file = [e["environment"] + "_FILE" for e in keys.values() if not e.get("file_environment")]
    assert file_variables and without_file and not set(without_file) & known, "the binary should name file variables for some keys only"
    used = set(ENV_NAME.findall(rendered[overlay][1]))
    assert used, "no ANSWER_NINJA_* variable found: the scan is broken"
    assert used & set(file_variables), "no ANSWER_NINJA_*_FILE variable found: the secrets are not read from files"
    unknown = sorted(used - known)
    assert not unknown, (f"{unknown}: not configuration keys of this binary (answer-ninja config --keys). Either the "
                         "manifests misspell them, or the binary predates them (rebuild it and run again).")


def placeholder(entry, field_ref, workload, slot):
    """A stand-in for a value only the cluster knows: a Secret's or the downward API's."""
    if field_ref:
        path = field_ref["fieldPath"]
        if path in ("status.hostIP", "status.podIP"):
            return "10.0.0.7"
        if path == "metadata.name":
            return f"{workload['metadata']['name']}-{slot}"
        if path == "metadata.labels['apps.kubernetes.io/pod-index']":
            return str(slot)
        raise AssertionError(f"no stand-in for fieldRef {path}")
    if entry["kind"] == "url":
        if "postgres" in entry["key"]:
            return "postgres://answer_ninja:placeholder@postgres:5432/answer_ninja"
        if "redis" in entry["key"]:
            return "redis://:placeholder@127.0.0.1:6379"
        return "https://placeholder.invalid/"
    if entry["kind"] == "secret":
        # Account lists are user:password pairs; keys are hex.
        return "alice:placeholder" if entry["key"].endswith("_accounts") else "ab" * 32
    return "placeholder"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_each_container_environment_is_a_valid_configuration(rendered, keys, file_variables, overlay, tmp_path):
    docs = documents(rendered, overlay)
    by_env = {entry["environment"]: entry for entry in keys.values()}
    config_maps = {d["metadata"]["name"]: d.get("data", {}) for d in find(docs, "ConfigMap")}
    unread = None  # (env, a file variable) for the check that the binary really reads the files
    for workload, container in our_containers(docs):
        # The highest pod index the HPA can reach: its RTP slice must still lie in the range.
        slot = max_replicas(docs, workload) - 1
        env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
        # The secret files exist only in the pod: each *_FILE path is stood in for by a file under this directory,
        # holding a stand-in of the Secret's value with the line break `kubectl create secret --from-file` keeps.
        root = tmp_path / "files" / workload["metadata"]["name"] / container["name"]
        for entry in container.get("env", []):
            source = entry.get("valueFrom", {})
            if entry["name"] in file_variables:
                path = entry.get("value")
                assert path and path.startswith("/"), f"{workload['metadata']['name']}: {entry['name']} must be an absolute path, not {entry}"
                standin = root / path.lstrip("/")
                standin.parent.mkdir(parents=True, exist_ok=True)
                standin.write_text(placeholder(file_variables[entry["name"]], None, workload, slot) + "\n")
                env[entry["name"]] = str(standin)
                unread = unread or (env, entry["name"])
            elif "value" in entry:
                env[entry["name"]] = entry["value"]
            elif "configMapKeyRef" in source:
                ref = source["configMapKeyRef"]
                env[entry["name"]] = config_maps[ref["name"]][ref["key"]]
            else:
                env[entry["name"]] = placeholder(by_env.get(entry["name"], {"kind": "string", "key": ""}), source.get("fieldRef"), workload, slot)
        result = run_binary("config", "--json", env=env)
        report = json.loads(result.stdout)
        assert report["valid"], f"{overlay} {workload['metadata']['name']}: {report.get('error')}"
    # The binary reads the stand-ins: a file variable naming a file that is not there is refused.
    assert unread, f"{overlay}: no container reads a secret from a file"
    env, name = unread
    result = run_binary("config", "--json", env={**env, name: str(tmp_path / "no-such-file")})
    report = json.loads(result.stdout)
    assert not report["valid"] and name in report.get("error", ""), f"{name} naming a missing file was accepted: {report}"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_probes_are_health_for_liveness_and_ready_for_readiness(rendered, overlay):
    for workload, container in our_containers(documents(rendered, overlay)):
        if workload["kind"] == "Job":
            continue
        where = f"{workload['metadata']['name']}/{container['name']}"
        # /ready answers 503 while a gateway drains: as a liveness probe it would kill the drain.
        assert container["livenessProbe"]["httpGet"]["path"] == "/health", where
        assert container["startupProbe"]["httpGet"]["path"] == "/health", where
        assert container["readinessProbe"]["httpGet"]["path"] == "/ready", where


def test_the_probe_paths_are_served_by_a_running_role(rendered, tmp_path):
    paths = {container[probe]["httpGet"]["path"] for overlay in OVERLAYS for _, container in our_containers(documents(rendered, overlay))
             for probe in ("startupProbe", "livenessProbe", "readinessProbe") if probe in container}
    assert paths
    deadline = time.monotonic() + 150
    while not BINARY.exists() and time.monotonic() < deadline:
        time.sleep(5)
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "ANSWER_NINJA_HTTP_HOST": "127.0.0.1", "ANSWER_NINJA_HTTP_PORT": "0",
           "ANSWER_NINJA_DATA_DIR": str(tmp_path / "data")}
    process = subprocess.Popen([str(BINARY), "conversation"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    try:
        base = None
        start = time.monotonic()
        while base is None and time.monotonic() - start < 60:
            line = process.stdout.readline()
            assert line, "the conversation role exited before it listened"
            match = re.search(r"http\s+(http://127\.0\.0\.1:\d+)", line)
            base = match.group(1) if match else None
        assert base, "the conversation role never printed its HTTP address"
        for path in sorted(paths | {"/metrics"}):
            try:
                status = urllib.request.urlopen(base + path, timeout=5).status
            except urllib.error.HTTPError as error:
                status = error.code
            assert status in (200, 503), f"{path} answered {status}: not a path the code serves"
        try:
            urllib.request.urlopen(base + "/no-such-path", timeout=5)
            raise AssertionError("an unknown path answered 200: the check above proves nothing")
        except urllib.error.HTTPError as error:
            assert error.code == 404
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_gateway_media_and_conversation_drain_within_their_termination_grace(rendered, keys, defaults, overlay):
    """They drain on SIGTERM: the gateway its calls, the media role its sessions (an AI call's RTP, speech and
    assistant), the conversation role its conversations (an AI call's dialog lives there for the whole call)."""
    docs = documents(rendered, overlay)
    gateways = [(w, c) for w, c in our_containers(docs) if role(c) in ("gateway", "serve", "media", "conversation")]
    assert {role(c) for _, c in gateways} == {"gateway", "conversation"} | ({"media"} if MEDIA_APART[overlay] else set())
    for workload, container in gateways:
        grace = seconds(setting(container, "shutdown.grace", keys, defaults))
        longest_ai_call = seconds(setting(container, "conversation.max_duration", keys, defaults))
        pre_stop = container["lifecycle"]["preStop"]["exec"]["command"]
        assert pre_stop[0] == "sleep" and len(pre_stop) == 2, f"preStop should only wait for the endpoints: {pre_stop}"
        sleep = float(pre_stop[1])
        assert sleep <= 10, "the process drains itself on SIGTERM: a long preStop only delays it"
        termination = pod_spec(workload)["terminationGracePeriodSeconds"]
        assert grace > longest_ai_call, f"shutdown.grace {grace}s must outlast an AI call ({longest_ai_call}s)"
        assert termination > sleep + grace, f"terminationGracePeriodSeconds {termination} leaves no time after preStop {sleep}s + grace {grace}s"
        # Bridged calls can last far longer than any grace: they are cut, and the docs must say so.
        bridged = seconds(setting(container, "sip.max_bridged_duration", keys, defaults))
        if bridged > grace:
            assert "sip.max_bridged_duration" in DOCS.read_text(), "docs/kubernetes.md must say that bridged calls are cut at the grace"
    # Every role that holds a dialog or its media uses the same longest AI call.
    durations = {setting(c, "conversation.max_duration", keys, defaults) for _, c in our_containers(docs) if role(c) in ("gateway", "media", "conversation")}
    assert len(durations) == 1, durations


def rtp_range(docs, component, keys, defaults):
    """(first port, last port, slice size, pods) of a host-network role's RTP range, as its container configures it."""
    container = next(c for c in pod_spec(find(docs, "StatefulSet", component))["containers"] if is_ours(c))
    low, high = int(setting(container, "media.rtp_port_min", keys, defaults)), int(setting(container, "media.rtp_port_max", keys, defaults))
    return low, high, int(setting(container, "media.rtp_port_slot_size", keys, defaults)), max_replicas(docs, find(docs, "StatefulSet", component))


def host_network_roles(overlay):
    return [component for component in HOST_NETWORK_ROLES if component != "media" or MEDIA_APART[overlay]]


@pytest.mark.parametrize("overlay,component", [(o, c) for o in OVERLAYS for c in host_network_roles(o)])
def test_the_host_network_roles_are_stateful_sets_with_an_rtp_slice_per_pod(rendered, keys, defaults, overlay, component):
    docs = documents(rendered, overlay)
    workload = find(docs, "StatefulSet", component)
    spec = pod_spec(workload)
    container = next(c for c in spec["containers"] if is_ours(c))
    assert container["args"] == [component]
    assert spec["hostNetwork"] is True and spec["dnsPolicy"] == "ClusterFirstWithHostNet"
    assert pod_meta(workload)["annotations"]["sidecar.istio.io/inject"] == "false"
    # One host-network Answer Ninja pod per node: SIP's port and http.port (the probes') exist once per node, so a
    # gateway and a media pod never share one either (test_gateway_and_media_pods_never_share_a_node).
    terms = spec["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    labels = pod_meta(workload)["labels"]
    assert any(t["topologyKey"] == "kubernetes.io/hostname" and all(labels.get(k) == v for k, v in t["labelSelector"]["matchLabels"].items()) for t in terms), \
        f"one {component} per node: its ports exist once per node"
    headless = find(docs, "Service", workload["spec"]["serviceName"])
    assert headless["spec"]["clusterIP"] == "None"
    assert all(labels.get(k) == v for k, v in headless["spec"]["selector"].items()), f"Service {headless['metadata']['name']} does not select the {component} pods"
    refs = {e["name"]: e.get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") for e in container["env"]}
    assert refs["ANSWER_NINJA_MEDIA_RTP_PORT_SLOT"] == "metadata.labels['apps.kubernetes.io/pod-index']"
    assert refs["ANSWER_NINJA_MEDIA_PUBLIC_ADDRESS"] == "status.hostIP"
    if component == "gateway":
        assert refs["ANSWER_NINJA_SIP_PUBLIC_HOST"] == "status.hostIP"
    capabilities = container["securityContext"]["capabilities"]
    assert capabilities["drop"] == ["ALL"] and capabilities["add"] == ["SYS_NICE"]
    low, high, size, pods = rtp_range(docs, component, keys, defaults)
    assert low % 2 == 0, "RTP takes the even port of each pair: the range must start on an even port"
    assert size % 2 == 0, "RTP and RTCP take port pairs: the slice size must be even"
    for index in range(pods):
        first, last = low + index * size, low + (index + 1) * size - 1
        assert low <= first and last <= high, f"{component} pod {index}'s RTP slice {first}-{last} leaves {low}-{high}: lower the HPA's maxReplicas ({pods})"
    policy = find(docs, "NetworkPolicy", component)
    assert policy["spec"]["podSelector"]["matchLabels"] == workload["spec"]["selector"]["matchLabels"]
    rtp = [p for rule in policy["spec"]["ingress"] for p in rule.get("ports", []) if p["protocol"] == "UDP" and "endPort" in p]
    assert [(p["port"], p["endPort"]) for p in rtp] == [(low, high)], f"the {component}'s RTP ingress must be the configured range"
    budget = find(docs, "PodDisruptionBudget", component)
    assert budget["spec"]["maxUnavailable"] == 1 and budget["spec"]["selector"]["matchLabels"] == workload["spec"]["selector"]["matchLabels"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_rtp_ranges_of_gateway_and_media_do_not_overlap(rendered, keys, defaults, overlay):
    """A gateway's bridged calls and a media pod's AI calls each bind their own range: two pods on the host network
    must never contend for a port, whichever node they are moved to; and neither range may hold ports the node itself
    hands out (NodePorts, ephemeral ports), where a bind would fail or kube-proxy would take the packets."""
    docs = documents(rendered, overlay)
    ranges = {component: rtp_range(docs, component, keys, defaults)[:2] for component in host_network_roles(overlay)}
    assert set(ranges) == ({"gateway", "media"} if MEDIA_APART[overlay] else {"gateway"})
    for component, (low, high) in ranges.items():
        assert 1024 <= low <= high <= 65535, (component, low, high)
        for name, (first, last) in (("NodePort", NODE_PORT_RANGE), ("ephemeral", EPHEMERAL_PORT_RANGE)):
            assert high < first or low > last, f"the {component}'s RTP range {low}-{high} overlaps the {name} range {first}-{last}"
    if MEDIA_APART[overlay]:
        (gateway_low, gateway_high), (media_low, media_high) = ranges["gateway"], ranges["media"]
        assert gateway_high < media_low or media_high < gateway_low, f"RTP ranges overlap: gateway {ranges['gateway']}, media {ranges['media']}"
        # The ports a role opens are its whole range: the NetworkPolicies admit each role's range and not the other's.
        for component, (low, high) in ranges.items():
            other = ranges["media" if component == "gateway" else "gateway"]
            assert allowed(docs, "in", pod(component), OUTSIDE, low, "UDP") and allowed(docs, "in", pod(component), OUTSIDE, high, "UDP")
            assert not allowed(docs, "in", pod(component), OUTSIDE, other[0], "UDP"), f"the {component} admits the other role's RTP range"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_gateway_and_media_pods_never_share_a_node(rendered, overlay):
    """Both answer on the node's http.port (the probes' and /metrics' port, the code's default everywhere): each
    host-network role is required to keep off a node holding a pod of either role, on both sides."""
    docs = documents(rendered, overlay)
    roles = host_network_roles(overlay)
    http_ports = set()
    for component in roles:
        workload = find(docs, "StatefulSet", component)
        container = next(c for c in pod_spec(workload)["containers"] if is_ours(c))
        http_ports.add(resolve_port(container, "http"))
        terms = pod_spec(workload)["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
        # Against both roles, even where the other runs no pods (dev): its labels as the base gives them.
        for other in HOST_NETWORK_ROLES:
            labels = pod_meta(find(docs, "StatefulSet", other))["labels"] if other in roles else pod(other)
            assert any(t["topologyKey"] == "kubernetes.io/hostname" and t["labelSelector"]["matchLabels"]
                       and all(labels.get(k) == v for k, v in t["labelSelector"]["matchLabels"].items()) for t in terms), \
                f"{component} pods must be required to keep off nodes with {other} pods"
            assert not any(t["labelSelector"].get("matchExpressions") for t in terms), "matchLabels only: the check reads them"
    assert len(http_ports) == 1, f"the host-network roles' HTTP ports differ ({http_ports}): then say why they may share a node"


def files_of(workload, container):
    """mounted_files for a workload's container, its StatefulSet claim templates counted as volumes."""
    claims = [{"name": c["metadata"]["name"], "persistentVolumeClaim": {"claimName": c["metadata"]["name"]}}
              for c in workload["spec"].get("volumeClaimTemplates", [])]
    return mounted_files(container, {**pod_spec(workload), "volumes": pod_spec(workload).get("volumes", []) + claims})[0]


def role_container(docs, name):
    """(workload, container) of the one Answer Ninja container running role `name`."""
    found = [(w, c) for w, c in our_containers(docs) if role(c) == name]
    assert len(found) == 1, f"expected one {name} container, found {len(found)}"
    return found[0]


@pytest.mark.parametrize("overlay,component", [(o, c) for o in OVERLAYS for c in host_network_roles(o)])
def test_the_host_network_roles_reach_the_conversation_service_they_name(rendered, keys, defaults, overlay, component):
    """The media role opens one WebSocket per AI call to the conversation role; so does the gateway, for the calls
    whose assistant it runs itself (every call where no media role runs apart)."""
    docs = documents(rendered, overlay)
    client_workload, client = role_container(docs, component)
    url = setting(client, "conversation.url", keys, defaults)
    # wss://: a host-network pod has no sidecar, so the link is encrypted by the role's own TLS, or not at all.
    match = re.fullmatch(r"wss://([a-z0-9-]+)\.([a-z0-9-]+)\.svc\.cluster\.local:(\d+)(/\S+)", url)
    assert match, f"the {component}'s conversation.url {url!r} is not a wss:// Service URL"
    service = find(docs, "Service", match.group(1))
    assert service["metadata"]["namespace"] == match.group(2)
    port = next((p for p in service["spec"]["ports"] if p["port"] == int(match.group(3))), None)
    assert port, f"Service {match.group(1)} has no port {match.group(3)}"
    assert match.group(4) == "/internal/conversation"
    # That port is the role's TLS listener, which the sidecar leaves alone, with a certificate and key from a Secret;
    # the client trusts the CA that signed it.
    conversation_workload, conversation = role_container(docs, "conversation")
    assert resolve_port(conversation, port["targetPort"]) == int(env_value(conversation, "ANSWER_NINJA_CONVERSATION_TLS_PORT"))
    assert pod_meta(conversation_workload)["annotations"]["traffic.sidecar.istio.io/excludeInboundPorts"] == env_value(conversation, "ANSWER_NINJA_CONVERSATION_TLS_PORT")
    conversation_files = files_of(conversation_workload, conversation)
    # Mutual: the role serves only clients whose certificate its CA signed (the sidecar does not guard 8443).
    for name in ("ANSWER_NINJA_CONVERSATION_TLS_CERTIFICATE", "ANSWER_NINJA_CONVERSATION_TLS_PRIVATE_KEY", "ANSWER_NINJA_CONVERSATION_TLS_CLIENT_CA"):
        assert conversation_files.get(env_value(conversation, name), ("",))[0] == "secret", f"{name} names no file of a Secret volume"
    client_files = files_of(client_workload, client)
    for name in ("ANSWER_NINJA_CONVERSATION_TLS_CA", "ANSWER_NINJA_CONVERSATION_TLS_CLIENT_CERTIFICATE", "ANSWER_NINJA_CONVERSATION_TLS_CLIENT_PRIVATE_KEY"):
        path = env_value(client, name)
        assert path and client_files.get(path, ("",))[0] == "secret", f"the {component}'s {name} {path!r} names no file of a Secret volume"
    # The CA the client trusts is the one in the Secret of the certificate the conversation role serves, and the
    # client's certificate and key come from one Secret.
    served = conversation_files[env_value(conversation, "ANSWER_NINJA_CONVERSATION_TLS_CERTIFICATE")][1]
    assert client_files[env_value(client, "ANSWER_NINJA_CONVERSATION_TLS_CA")][1:] == (served, "ca.crt")
    certificate = client_files[env_value(client, "ANSWER_NINJA_CONVERSATION_TLS_CLIENT_CERTIFICATE")]
    key = client_files[env_value(client, "ANSWER_NINJA_CONVERSATION_TLS_CLIENT_PRIVATE_KEY")]
    assert certificate[1] == key[1] and (certificate[2], key[2]) == ("tls.crt", "tls.key"), (certificate, key)


MEDIA_CONTROL_PATH = "/internal/media-control"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_gateway_names_exactly_the_media_pods_its_hpa_can_reach(rendered, keys, defaults, overlay):
    """media.control_url lists wss://media-N.<headless Service>...:<media.tls_port>/internal/media-control for every pod
    index 0 ... maxReplicas - 1 of the media HPA, and nothing else: a pod left out would take no calls, a name past
    maxReplicas would only be retried for ever. The link is mutual TLS of the roles' own (no sidecar on either side):
    every file is a Secret's, the gateway trusts the CA of the certificate the media pods serve, and the media pods
    ask for client certificates from the CA that signed the gateway's."""
    docs = documents(rendered, overlay)
    gateway_workload, gateway = role_container(docs, "gateway")
    control = env_value(gateway, "ANSWER_NINJA_MEDIA_CONTROL_URL")
    if not MEDIA_APART[overlay]:
        # The gateway runs its calls' media itself: no media role to name, and none of its TLS settings.
        assert control is None and not [e for e in gateway["env"] if e["name"].startswith("ANSWER_NINJA_MEDIA_CONTROL_")], gateway["env"]
        return
    media_workload, media = role_container(docs, "media")
    assert media_workload["kind"] == "StatefulSet"
    service = find(docs, "Service", media_workload["spec"]["serviceName"])
    assert service["spec"]["clusterIP"] == "None", "one DNS name per media pod: a headless Service"
    assert service["spec"].get("publishNotReadyAddresses") is True, "a draining media pod must stay reachable for resumes"
    tls_port = int(setting(media, "media.tls_port", keys, defaults))
    assert tls_port > 0, "the media role's control channel needs its TLS listener (no sidecar encrypts the link)"
    service_port = next(p for p in service["spec"]["ports"] if p["port"] == tls_port)
    assert resolve_port(media, service_port["targetPort"]) == tls_port
    name, namespace = media_workload["metadata"]["name"], media_workload["metadata"]["namespace"]
    pods = max_replicas(docs, media_workload)
    assert hpa_for(docs, media_workload), "the media pods' count is the HPA's"
    expected = [f"wss://{name}-{index}.{service['metadata']['name']}.{namespace}.svc.cluster.local:{tls_port}{MEDIA_CONTROL_PATH}" for index in range(pods)]
    assert control and control.split(",") == expected, f"{overlay}: media.control_url should be\n{','.join(expected)}\nnot\n{control}"
    # The files of both ends are Secret files.
    media_files, gateway_files = files_of(media_workload, media), files_of(gateway_workload, gateway)
    for side, files, container, names in (
            ("media", media_files, media, ("ANSWER_NINJA_MEDIA_TLS_CERTIFICATE", "ANSWER_NINJA_MEDIA_TLS_PRIVATE_KEY", "ANSWER_NINJA_MEDIA_TLS_CLIENT_CA")),
            ("gateway", gateway_files, gateway, ("ANSWER_NINJA_MEDIA_CONTROL_TLS_CA", "ANSWER_NINJA_MEDIA_CONTROL_TLS_CLIENT_CERTIFICATE",
                                                 "ANSWER_NINJA_MEDIA_CONTROL_TLS_CLIENT_PRIVATE_KEY"))):
        for variable in names:
            path = env_value(container, variable)
            assert path and files.get(path, ("",))[0] == "secret", f"the {side}'s {variable} {path!r} names no file of a Secret volume"
    # The certificate and key the media pods serve come from one Secret, whose CA the gateway trusts.
    certificate = media_files[env_value(media, "ANSWER_NINJA_MEDIA_TLS_CERTIFICATE")]
    key = media_files[env_value(media, "ANSWER_NINJA_MEDIA_TLS_PRIVATE_KEY")]
    assert certificate[1] == key[1] and (certificate[2], key[2]) == ("tls.crt", "tls.key"), (certificate, key)
    assert gateway_files[env_value(gateway, "ANSWER_NINJA_MEDIA_CONTROL_TLS_CA")][1:] == (certificate[1], "ca.crt")
    # The gateway's client certificate and key come from one Secret, signed by the CA the media pods ask for: the CA
    # of the conversation role's Secret, which signs the clients the conversation role admits.
    client_certificate = gateway_files[env_value(gateway, "ANSWER_NINJA_MEDIA_CONTROL_TLS_CLIENT_CERTIFICATE")]
    client_key = gateway_files[env_value(gateway, "ANSWER_NINJA_MEDIA_CONTROL_TLS_CLIENT_PRIVATE_KEY")]
    assert client_certificate[1] == client_key[1] and (client_certificate[2], client_key[2]) == ("tls.crt", "tls.key")
    conversation_workload, conversation = role_container(docs, "conversation")
    conversation_client_ca = files_of(conversation_workload, conversation)[env_value(conversation, "ANSWER_NINJA_CONVERSATION_TLS_CLIENT_CA")]
    assert media_files[env_value(media, "ANSWER_NINJA_MEDIA_TLS_CLIENT_CA")] == conversation_client_ca, \
        "the media pods must ask for client certificates from the CA that signs the gateways' (conversation-tls's ca.crt)"
    assert gateway_files[env_value(gateway, "ANSWER_NINJA_CONVERSATION_TLS_CLIENT_CERTIFICATE")] == client_certificate, \
        "the gateway presents to the media pods the client certificate that CA signed (the one it presents to the conversation role)"
    # The NetworkPolicies let the gateway reach that port, from a pod or from its node's address, and nobody else.
    node = {"ip": str(next(ipaddress.ip_network(cluster_values(overlay)["gateway-node-cidr"]).hosts()))}
    assert allowed(docs, "out", pod("gateway"), member("media"), tls_port) and allowed(docs, "out", pod("gateway"), node, tls_port)
    assert allowed(docs, "in", pod("media"), member("gateway"), tls_port) and allowed(docs, "in", pod("media"), node, tls_port)
    assert not allowed(docs, "in", pod("media"), OUTSIDE, tls_port) and not allowed(docs, "in", pod("media"), member("api"), tls_port)


# --- the SIP edge -------------------------------------------------------------------------------------------------

POD_IP = "10.0.0.7"  # stands in for status.podIP


def cfg_defaults(text):
    """kamailio.cfg's `#!define NAME value` lines (the production defaults), values as written (strings quoted)."""
    return {m.group(1): m.group(2).strip() for m in re.finditer(r"^#!define\s+(\w+)(?:[ \t]+(.*))?$", text, re.M) if m.group(2)}


def edge_command(container):
    """(the -f file, {define: value or None}, the -w directory) of the edge's command line, $(NAME)s expanded from
    the container's env as the kubelet does (status.podIP stood in for)."""
    env = {}
    for entry in container.get("env", []):
        if "value" in entry:
            env[entry["name"]] = entry["value"]
        elif entry.get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") == "status.podIP":
            env[entry["name"]] = POD_IP
    line = container["command"] + container.get("args", [])

    def expand(word):
        for name in re.findall(r"\$\((\w+)\)", word):
            assert name in env, f"kamailio's command line uses $({name}), which is no env var of the container"
        return re.sub(r"\$\((\w+)\)", lambda m: env[m.group(1)], word)

    line = [expand(word) for word in line]
    config, directory, defines, i = None, None, {}, 1
    while i < len(line):
        if line[i] in ("-f", "-w", "-m", "-M", "-A"):
            flag, value = line[i], line[i + 1]
            if flag == "-f":
                config = value
            elif flag == "-w":
                directory = value
            elif flag == "-A":
                name, _, define = value.partition("=")
                defines[name] = define if "=" in value else None
            i += 2
        else:
            i += 1
    return line, config, defines, directory


def mounted_files(container, spec):
    """path in the container -> (source kind, source name, key) for every file of a projected, ConfigMap or Secret
    volume, and the set of writable emptyDir mount paths."""
    volumes = {v["name"]: v for v in spec.get("volumes", [])}
    files, writable = {}, set()
    for mount in container.get("volumeMounts", []):
        volume = volumes[mount["name"]]
        if "emptyDir" in volume and not mount.get("readOnly"):
            writable.add(mount["mountPath"])
        sources = volume.get("projected", {}).get("sources", [])
        if "configMap" in volume:
            sources = [{"configMap": {"name": volume["configMap"]["name"], **{k: v for k, v in volume["configMap"].items() if k == "items"}}}]
        if "secret" in volume:
            sources = [{"secret": {"name": volume["secret"]["secretName"], **{k: v for k, v in volume["secret"].items() if k == "items"}}}]
        for source in sources:
            kind = next(iter(source))
            assert "items" in source[kind], f"{mount['mountPath']}: list the {kind}'s items, so that a missing key fails the pod"
            for item in source[kind]["items"]:
                files[f"{mount['mountPath'].rstrip('/')}/{item['path']}"] = (kind, source[kind]["name"], item["key"])
    return files, writable


def quoted(value):
    assert value and value.startswith('"') and value.endswith('"'), f"a string define keeps its quotes: {value!r}"
    return value[1:-1]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_edge_runs_deploy_kamailio_as_docs_kamailio_says(rendered, overlay):
    docs = documents(rendered, overlay)
    values = cluster_values(overlay)
    deployment = find(docs, "Deployment", "kamailio")
    spec, labels = pod_spec(deployment), pod_meta(deployment)["labels"]
    assert labels["app.kubernetes.io/component"] == "kamailio", "the NetworkPolicies select the edge by this label"
    assert deployment["spec"]["replicas"] == 2 and not hpa_for(docs, deployment)
    assert not spec.get("hostNetwork"), "the edge runs on pod addresses behind its LoadBalancer"
    assert pod_meta(deployment)["annotations"]["sidecar.istio.io/inject"] == "false", "no sidecar on SIP from the internet"
    terms = spec["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
    assert any(t["podAffinityTerm"]["topologyKey"] == "kubernetes.io/hostname" and
               all(labels.get(k) == v for k, v in t["podAffinityTerm"]["labelSelector"]["matchLabels"].items()) for t in terms)
    assert find(docs, "PodDisruptionBudget", "kamailio")["spec"]["maxUnavailable"] == 1
    # kamailio.cfg loads its modules from the Debian amd64 path.
    assert "x86_64-linux-gnu" not in (EDGE / "kamailio.cfg").read_text() or spec["nodeSelector"]["kubernetes.io/arch"] == "amd64"
    (container,) = spec["containers"]
    assert re.fullmatch(r"(docker\.io|ghcr\.io)/kamailio/kamailio:5\.6\.\d+-bookworm", container["image"]), container["image"]

    config_map = edge_config_maps(docs)[0]
    cfg = config_map["data"]["kamailio.cfg"]
    assert cfg == (EDGE / "kamailio.cfg").read_text()
    line, config, defines, workdir = edge_command(container)
    assert line[0] == "kamailio" and "-DD" in line and "-E" in line, "in the foreground, logging to the container log"
    setting = {**cfg_defaults(cfg), **defines}

    # Every file the configuration reads is mounted from the ConfigMap or the Secrets; every place it writes is an
    # emptyDir (the root filesystem is read-only).
    files, writable = mounted_files(container, spec)
    assert files[config] == ("configMap", config_map["metadata"]["name"], "kamailio.cfg")
    assert files[quoted(setting["DISPATCHER_LIST"])] == ("configMap", config_map["metadata"]["name"], "dispatcher.list")
    tls_config = quoted(setting["TLS_CONFIG"])
    assert files[tls_config] == ("configMap", config_map["metadata"]["name"], "tls.cfg")
    tls_files = dict(re.findall(r"^(certificate|private_key)\s*=\s*(\S+)", config_map["data"]["tls.cfg"], re.M))
    assert files[tls_files["certificate"]] == ("secret", "kamailio-tls", "tls.crt")
    assert files[tls_files["private_key"]] == ("secret", "kamailio-tls", "tls.key")
    assert "WITH_TRUNK_REGISTRATION" in defines and defines["WITH_TRUNK_REGISTRATION"] is None
    table_dir = re.fullmatch(r"text://(/\S+)", quoted(setting["UACREG_DB_URL"])).group(1)
    assert files[f"{table_dir}/uacreg"] == ("secret", "kamailio-trunk", "uacreg")
    assert files[f"{table_dir}/version"] == ("configMap", config_map["metadata"]["name"], "uacreg-version")
    socket = re.fullmatch(r"unix:(/\S+)", quoted(setting["CTL_SOCKET"])).group(1)
    assert os.path.dirname(socket) in writable, f"the ctl socket's directory {os.path.dirname(socket)} must be an emptyDir"
    assert workdir in writable, f"the working directory (-w {workdir}) must be an emptyDir"
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert "add" not in container["securityContext"]["capabilities"], "5060 and 5061 need no capability"

    # The defines of docs/kamailio.md, from the cluster values.
    assert defines["LISTEN_ADDR"] == POD_IP, "listen on the pod's address"
    public = values["kamailio-public-address"]
    ipaddress.ip_address(public)
    assert quoted(defines["ADVERTISE_ADDR"]) == public
    sip_port, tls_port = int(setting["SIP_PORT"]), int(setting["TLS_PORT"])
    assert quoted(defines["REG_CONTACT_ADDR"]) == f"{public}:{sip_port}", "the trunk must reach the edge where it registered"
    assert quoted(defines["GATEWAY_NETS"]) == values["gateway-node-cidr"]
    assert quoted(defines["TRUSTED_NETS"]) == values["trunk-nets"]
    for network in values["trunk-nets"].split(","):
        ipaddress.ip_network(network)
    # The gateways trust what the edge relays: it comes from the edge pods' network.
    gateway = next(c for w, c in our_containers(docs) if role(c) == "gateway")
    assert env_value(gateway, "ANSWER_NINJA_SIP_TRUSTED_SOURCES") == values["kamailio-pod-cidr"]
    ipaddress.ip_network(values["kamailio-pod-cidr"])
    # Calls out: the gateways send them to the edge by its Service's name, which the edge takes as its own
    # (EDGE_ALIAS; without it Kamailio relays the request to that name, itself), and register nothing.
    proxy = re.fullmatch(r"sip:([^:;>]+):(\d+);transport=tcp", env_value(gateway, "ANSWER_NINJA_SIP_OUTBOUND_PROXY"))
    assert proxy, env_value(gateway, "ANSWER_NINJA_SIP_OUTBOUND_PROXY")
    service = find(docs, "Service", "kamailio")
    assert proxy.group(1) == f"{service['metadata']['name']}.{service['metadata']['namespace']}.svc.cluster.local"
    assert int(proxy.group(2)) == sip_port and any(p["port"] == sip_port and p["protocol"] == "TCP" for p in service["spec"]["ports"])
    assert quoted(defines["EDGE_ALIAS"]) == proxy.group(1)
    assert env_value(gateway, "ANSWER_NINJA_SIP_TRUNK_REGISTER") == "off", "the edge registers for the gateways"
    assert env_value(gateway, "ANSWER_NINJA_SIP_TRUNK_REGISTRAR") == values["trunk-uri"]
    assert env_value(gateway, "ANSWER_NINJA_SIP_TRUNK_USERNAME") == values["trunk-username"]

    # Ports, probes and the Service on kamailio.cfg's SIP_PORT and TLS_PORT.
    ports = {p["name"]: (p["protocol"], p["containerPort"]) for p in container["ports"]}
    # WITH_METRICS: xhttp_prom on METRICS_PORT (kamailio.cfg's default unless the line sets it), named http.
    assert "WITH_METRICS" in defines and defines["WITH_METRICS"] is None
    metrics_port = int(setting["METRICS_PORT"])
    assert ports == {"sip-udp": ("UDP", sip_port), "sip-tcp": ("TCP", sip_port), "sips": ("TCP", tls_port), "http": ("TCP", metrics_port)}, ports
    # Startup and liveness: a TCP connect to the SIP port (docs/kubernetes.md: why not OPTIONS or kamcmd); readiness:
    # /ready on the metrics port, 200 only while a gateway is active (kamailio.cfg's xhttp:request route).
    for probe in ("startupProbe", "livenessProbe"):
        port = container[probe]["tcpSocket"]["port"]
        assert ports.get(port) == ("TCP", sip_port) if isinstance(port, str) else port == sip_port, f"{probe} is not on TCP {sip_port}"
    ready = container["readinessProbe"]["httpGet"]
    assert ready["path"] == "/ready" and ports.get(ready["port"]) == ("TCP", metrics_port), ready
    assert '$hu == "/ready"' in edge_config_maps(docs)[0]["data"]["kamailio.cfg"]
    service = find(docs, "Service", "kamailio")
    assert service["spec"]["type"] == "LoadBalancer"
    assert service["spec"]["externalTrafficPolicy"] == "Local", "the edge needs the sender's own address (pike, TRUSTED_NETS)"
    assert all(labels.get(k) == v for k, v in service["spec"]["selector"].items())
    exposed = {(p["name"], p["protocol"], p["port"]) for p in service["spec"]["ports"]}
    assert exposed == {("sip-udp", "UDP", sip_port), ("sip-tcp", "TCP", sip_port), ("sips", "TCP", tls_port)}, exposed
    for port in service["spec"]["ports"]:
        assert ports[port["targetPort"]] == (port["protocol"], port["port"]), port
    # The metrics are never on the LoadBalancer: a headless Service of their own, which the ServiceMonitor selects.
    metrics = find(docs, "Service", "kamailio-metrics")
    assert metrics["spec"].get("clusterIP") == "None" and metrics["spec"]["selector"] == service["spec"]["selector"]
    assert [(p["name"], p["protocol"], p["port"], p["targetPort"]) for p in metrics["spec"]["ports"]] == [("http", "TCP", metrics_port, "http")]


def test_kamailio_accepts_the_deployed_command_line(rendered, tmp_path):
    """`kamailio -c` on each overlay's command line, $(NAME)s expanded, with the rendered kamailio.cfg: a define that
    lost its quotes, or a cluster value Kamailio cannot parse, fails here rather than in the pod."""
    path = tool("kamailio")

    def check(line):
        result = subprocess.run([path, "-c", *line[1:]], capture_output=True, text=True, timeout=60)
        return result.returncode == 0 and "config file ok" in result.stdout + result.stderr, result.stdout + result.stderr

    for overlay in OVERLAYS:
        docs = documents(rendered, overlay)
        container = pod_spec(find(docs, "Deployment", "kamailio"))["containers"][0]
        config = tmp_path / f"{overlay}.cfg"
        config.write_text(edge_config_maps(docs)[0]["data"]["kamailio.cfg"])
        line, mounted, _, _ = edge_command(container)
        line = [str(config) if word == mounted else word for word in line]
        ok, output = check(line)
        assert ok, f"{overlay}: kamailio -c refuses the command line {line}:\n{output[-3000:]}"
    # The check can fail: the same line with a define's quotes lost.
    broken = [word.replace('GATEWAY_NETS="', "GATEWAY_NETS=").rstrip('"') if word.startswith("GATEWAY_NETS=") else word for word in line]
    assert broken != line and not check(broken)[0], "kamailio -c accepted an unquoted GATEWAY_NETS: the check proves nothing"


# --- autoscaling --------------------------------------------------------------------------------------------------

def adapter_rules(docs):
    config = yaml.safe_load(find(docs, "ConfigMap", "adapter-config")["data"]["config.yaml"])
    return config["rules"]


def series_name_and_labels(query):
    match = re.fullmatch(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?", query.strip())
    assert match, f"seriesQuery {query!r} is not a metric selector"
    labels = dict(re.findall(r'([a-zA-Z_]\w*)\s*!?=~?\s*"([^"]*)"', match.group(2) or ""))
    return match.group(1), labels


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_autoscalers_use_exported_metrics_through_the_adapter(rendered, catalogue, overlay):
    docs = documents(rendered, overlay)
    exposed = {}
    for rule in adapter_rules(docs):
        name, labels = series_name_and_labels(rule["seriesQuery"])
        assert name in catalogue, f"adapter rule on {name}: not a metric the code exports (answer-ninja metrics)"
        for label in set(labels) - {"namespace", "pod"}:
            assert label in catalogue[name]["labels"], f"{name} has no label {label}"
        assert rule["resources"]["overrides"]["namespace"]["resource"] == "namespace"
        assert rule["resources"]["overrides"]["pod"]["resource"] == "pod"
        assert re.fullmatch(rule["name"]["matches"], name), f"name.matches does not match {name}"
        assert rule["name"]["as"] in catalogue, f"the adapter exposes {rule['name']['as']}: HPAs must use catalogue names"
        for marker in ("<<.Series>>", "<<.LabelMatchers>>", "<<.GroupBy>>"):
            assert marker in rule["metricsQuery"]
        exposed[rule["name"]["as"]] = labels.get("role")
    targets = {(w["kind"], w["metadata"]["name"]) for w in workloads(docs)}
    pods_metrics = {}
    for hpa in find(docs, "HorizontalPodAutoscaler"):
        assert hpa["apiVersion"] == "autoscaling/v2"
        ref = hpa["spec"]["scaleTargetRef"]
        assert (ref["kind"], ref["name"]) in targets, f"HPA {hpa['metadata']['name']} scales {ref['kind']} {ref['name']}, which is not rendered"
        assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
        assert hpa["spec"]["behavior"]["scaleDown"]["stabilizationWindowSeconds"] >= 300
        for metric in hpa["spec"]["metrics"]:
            if metric["type"] == "Resource":
                assert metric["resource"]["name"] in ("cpu", "memory")
                continue
            assert metric["type"] == "Pods", f"HPA {hpa['metadata']['name']}: {metric['type']} metrics are not served by our adapter rules"
            name = metric["pods"]["metric"]["name"]
            assert name in catalogue, f"HPA {hpa['metadata']['name']} scales on {name}, which the code does not export"
            assert name in exposed, f"HPA {hpa['metadata']['name']} scales on {name}, which no adapter rule exposes"
            pods_metrics.setdefault(ref["name"], {})[name] = metric["pods"]["target"]["averageValue"]
    # The gateway on the calls it carries, the media role on its AI calls (one conversation WebSocket each); the
    # other roles on CPU and memory.
    assert pods_metrics == {"gateway": {"concurrent_calls": "100"}, **({"media": {"websocket_connections": "20"}} if MEDIA_APART[overlay] else {})}, pods_metrics
    assert exposed == {"concurrent_calls": "gateway", "websocket_connections": "media"}, exposed
    monitors = find(docs, "ServiceMonitor")
    for hpa in find(docs, "HorizontalPodAutoscaler"):
        workload = next(w for w in workloads(docs) if (w["kind"], w["metadata"]["name"]) == (hpa["spec"]["scaleTargetRef"]["kind"], hpa["spec"]["scaleTargetRef"]["name"]))
        names = [m["pods"]["metric"]["name"] for m in hpa["spec"]["metrics"] if m["type"] == "Pods"]
        if not names:
            assert {m["resource"]["name"] for m in hpa["spec"]["metrics"]} == {"cpu", "memory"}, hpa["metadata"]["name"]
            continue
        assert hpa["spec"]["behavior"]["scaleDown"]["stabilizationWindowSeconds"] >= 600, f"HPA {hpa['metadata']['name']}: each removed pod drains"
        # The adapter's rule selects the series of the role these pods run, which Prometheus scrapes from them: a
        # ServiceMonitor selects a Service of these pods by its labels and scrapes its port in the scheme the pod
        # answers (plain HTTP without a sidecar).
        container = next(c for c in containers(pod_spec(workload)) if is_ours(c))
        for name in names:
            assert exposed[name] == role(container), f"HPA {hpa['metadata']['name']} reads {name}{{role={exposed[name]!r}}}, which {role(container)} pods do not export"
        labels = pod_meta(workload)["labels"]
        scraped = [(s, m) for s in find(docs, "Service") for m in monitors
                   if s["spec"].get("selector") and all(labels.get(k) == v for k, v in s["spec"]["selector"].items())
                   and selects(m["spec"]["selector"], s["metadata"]["labels"])
                   and any(e["port"] in [p["name"] for p in s["spec"]["ports"]] for e in m["spec"]["endpoints"])]
        assert scraped, f"no ServiceMonitor scrapes the pods HPA {hpa['metadata']['name']} scales on"
        for _, monitor in scraped:
            assert {e["scheme"] for e in monitor["spec"]["endpoints"]} == ({"https"} if meshed(workload) else {"http"}), monitor["metadata"]["name"]


def test_the_adapter_queries_are_valid_promql(rendered, tmp_path):
    promtool = tool("promtool")
    rules = adapter_rules(documents(rendered, "prod"))
    records = []
    for index, rule in enumerate(rules):
        name, _ = series_name_and_labels(rule["seriesQuery"])
        query = (rule["metricsQuery"].replace("<<.Series>>", name)
                 .replace("<<.LabelMatchers>>", 'namespace="answer-ninja",pod=~"gateway-.*"').replace("<<.GroupBy>>", "pod"))
        records += [{"record": f"adapter:series:{index}", "expr": rule["seriesQuery"]}, {"record": f"adapter:query:{index}", "expr": query}]
    good = tmp_path / "adapter.yaml"
    good.write_text(yaml.safe_dump({"groups": [{"name": "adapter", "rules": records}]}))
    result = subprocess.run([promtool, "check", "rules", str(good)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    broken = tmp_path / "broken.yaml"
    broken.write_text(yaml.safe_dump({"groups": [{"name": "adapter", "rules": [{"record": "adapter:broken", "expr": "sum(concurrent_calls"}]}]}))
    assert subprocess.run([promtool, "check", "rules", str(broken)], capture_output=True, timeout=60).returncode != 0


# --- hardening, quota, secrets ----------------------------------------------------------------------------------

@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_pod_is_hardened_and_pinned(rendered, overlay):
    docs = documents(rendered, overlay)
    version = binary_json("version", "--json")["version"]
    accounts = {a["metadata"]["name"]: a for a in find(docs, "ServiceAccount")}
    for workload in workloads(docs):
        spec, name = pod_spec(workload), workload["metadata"]["name"]
        assert spec.get("securityContext", {}).get("runAsNonRoot") is True, name
        assert spec["securityContext"].get("seccompProfile", {}).get("type") == "RuntimeDefault", name
        assert spec.get("automountServiceAccountToken") is False, name
        account = spec.get("serviceAccountName", "default")
        assert account != "default" and account in accounts, f"{name} needs a ServiceAccount of its own"
        assert accounts[account].get("automountServiceAccountToken") is False
        for container in containers(spec):
            where = f"{name}/{container['name']}"
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False, where
            assert context["readOnlyRootFilesystem"] is True, where
            assert context["runAsNonRoot"] is True, where
            assert "ALL" in context["capabilities"]["drop"], where
            assert context["seccompProfile"]["type"] == "RuntimeDefault", where
            for kind in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(container["resources"][kind]), f"{where}: {kind}"
            tag = image_tag(container["image"])
            assert tag and tag != "latest", f"{where}: image {container['image']} is not pinned"
            assert container["imagePullPolicy"] == "IfNotPresent", where
            if is_ours(container):
                assert tag == version, f"{where}: image tag {tag}, but the binary is {version}"
                assert context["runAsUser"] == 10001, f"{where}: the image's user is 10001"
                mounts = {m["mountPath"] for m in container.get("volumeMounts", [])}
                assert "/tmp" in mounts, f"{where}: a read-only root needs a writable /tmp"
                data_dir = env_value(container, "ANSWER_NINJA_DATA_DIR")
                if role(container) in ("gateway", "media", "api", "migrate", "serve"):
                    assert data_dir and data_dir in mounts, f"{where}: the role writes data_dir; mount a volume there"
        if workload["kind"] == "Deployment":
            strategy = workload["spec"]["strategy"]
            assert strategy["type"] == "RollingUpdate" and strategy["rollingUpdate"]["maxUnavailable"] == 0, name
        if workload["kind"] == "StatefulSet":
            assert workload["spec"]["updateStrategy"]["type"] == "RollingUpdate", name
    for name in ("gateway", "conversation", "api", "kamailio") + (("media",) if MEDIA_APART[overlay] else ()):
        budget = find(docs, "PodDisruptionBudget", name)
        target = next(w for w in workloads(docs) if w["metadata"]["name"] == name)
        assert budget["spec"]["selector"]["matchLabels"] == target["spec"]["selector"]["matchLabels"]


SIDECAR = {"requests": {"cpu": "sidecar.istio.io/proxyCPU", "memory": "sidecar.istio.io/proxyMemory"},
           "limits": {"cpu": "sidecar.istio.io/proxyCPULimit", "memory": "sidecar.istio.io/proxyMemoryLimit"}}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_quota_covers_every_workload_at_full_scale(rendered, overlay):
    docs = documents(rendered, overlay)
    hard = {k: quantity(v) for k, v in find(docs, "ResourceQuota", "answer-ninja")["spec"]["hard"].items()}
    need = {"requests.cpu": 0, "requests.memory": 0, "limits.cpu": 0, "limits.memory": 0, "pods": 0, "requests.storage": 0, "persistentvolumeclaims": 0}
    for workload in workloads(docs):
        pods = max_replicas(docs, workload)
        if workload["kind"] == "Deployment":
            pods += int(workload["spec"]["strategy"]["rollingUpdate"]["maxSurge"])
        need["pods"] += pods
        annotations = pod_meta(workload).get("annotations", {})
        for kind in ("requests", "limits"):
            for resource in ("cpu", "memory"):
                per_pod = sum(quantity(c["resources"][kind][resource]) for c in containers(pod_spec(workload)))
                if meshed(workload):
                    annotation = SIDECAR[kind][resource]
                    assert annotation in annotations, f"{workload['metadata']['name']}: set {annotation} so that the quota can count the sidecar"
                    per_pod += quantity(annotations[annotation])
                need[f"{kind}.{resource}"] += pods * per_pod
        for claim in workload["spec"].get("volumeClaimTemplates", []):
            need["requests.storage"] += pods * quantity(claim["spec"]["resources"]["requests"]["storage"])
            need["persistentvolumeclaims"] += pods
    for claim in find(docs, "PersistentVolumeClaim"):
        need["requests.storage"] += quantity(claim["spec"]["resources"]["requests"]["storage"])
        need["persistentvolumeclaims"] += 1
    short = {k: (float(v), float(hard[k])) for k, v in need.items() if v > hard[k]}
    assert not short, f"{overlay}: the ResourceQuota is short (needed, quota): {short}"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_gateway_media_and_api_share_one_recordings_volume(rendered, overlay):
    """A recording's path, stored in the call record by the gateway (written by itself, or by the media pod that ran
    the call), must open on every API pod: those roles mount one ReadWriteMany claim at <data_dir>/recordings (where
    RecordingFiles keeps them); no other role does."""
    docs = documents(rendered, overlay)
    claim = find(docs, "PersistentVolumeClaim", "recordings")
    # ReadWriteMany across nodes, of a class the overlay names (a default class is a ReadWriteOnce disk on kind, EKS,
    # GKE and AKS: the claim would never bind); dev runs on one node, where ReadWriteOnce is shared by its pods.
    assert claim["spec"]["accessModes"] == (["ReadWriteOnce"] if overlay == "dev" else ["ReadWriteMany"]), claim["spec"]
    assert claim["spec"].get("storageClassName") == cluster_values(overlay)["recordings-storage-class"], claim["spec"]
    mounted = {}
    for workload, container in our_containers(docs):
        volumes = {v["name"]: v for v in pod_spec(workload).get("volumes", [])}
        for mount in container.get("volumeMounts", []):
            source = volumes.get(mount["name"], {}).get("persistentVolumeClaim", {})
            if source.get("claimName") == "recordings":
                assert not mount.get("readOnly"), f"{workload['metadata']['name']}: recordings are written and deleted there"
                data = env_value(container, "ANSWER_NINJA_DATA_DIR")
                assert mount["mountPath"].rstrip("/") == f"{data.rstrip('/')}/recordings", (workload["metadata"]["name"], mount, data)
                mounted[role(container)] = mount["mountPath"]
                # Where the driver applies fsGroup, only a root that is not the group's yet is changed: not 50 Gi of
                # recordings at every pod start.
                assert pod_spec(workload)["securityContext"].get("fsGroupChangePolicy") == "OnRootMismatch", workload["metadata"]["name"]
    assert set(mounted) == {"gateway", "api"} | ({"media"} if MEDIA_APART[overlay] else set()), mounted


def secret_file_modes(volume, directory):
    """path -> mode of every listed file of a secret or projected volume mounted at `directory` (default 0644)."""
    if "secret" in volume:
        default, sources = volume["secret"].get("defaultMode"), [volume["secret"]]
    else:
        default = volume.get("projected", {}).get("defaultMode")
        sources = [s["secret"] for s in volume.get("projected", {}).get("sources", []) if "secret" in s]
    default = 0o644 if default is None else default
    return {f"{directory.rstrip('/')}/{item['path']}": item.get("mode", default) for source in sources for item in source.get("items", [])}


def readable(mode, spec, container):
    """Whether the container's user can read a file of a Secret volume: the kubelet makes such files owned by root,
    group fsGroup (when set, and then also one of every container's groups)."""
    context = {**spec.get("securityContext", {}), **container.get("securityContext", {})}
    user = context.get("runAsUser")
    return bool(user == 0 and mode & 0o400 or spec.get("securityContext", {}).get("fsGroup") is not None and mode & 0o040 or mode & 0o004)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_answer_ninja_reads_its_secrets_from_mounted_files(rendered, keys, file_variables, overlay):
    """No Secret reaches an Answer Ninja process's environment (where /proc/PID/environ, `kubectl describe` and crash
    dumps show it): each secret setting is its *_FILE variable naming a file of a read-only Secret volume."""
    docs = documents(rendered, overlay)
    sensitive = {e["environment"] for e in keys.values() if e["kind"] == "secret" or e.get("file_environment")}
    sources = {}  # configuration key -> {(Secret, key)} across every container: one Secret key per setting
    checked = 0
    for workload, container in our_containers(docs):
        # A StatefulSet's claim templates are volumes of its pods too.
        claims = [{"name": c["metadata"]["name"], "persistentVolumeClaim": {"claimName": c["metadata"]["name"]}}
                  for c in workload["spec"].get("volumeClaimTemplates", [])]
        spec = {**pod_spec(workload), "volumes": pod_spec(workload).get("volumes", []) + claims}
        where = f"{workload['kind']} {workload['metadata']['name']}/{container['name']}"
        for entry in container.get("env", []):
            assert "secretKeyRef" not in entry.get("valueFrom", {}), f"{where}: {entry['name']} comes from a Secret through the environment; mount it and use a *_FILE variable"
            assert entry["name"] not in sensitive, f"{where}: {entry['name']} puts a secret in the environment; use {entry['name']}_FILE"
        for source in container.get("envFrom", []):
            assert "secretRef" not in source, f"{where}: envFrom {source['secretRef']} puts a Secret in the environment"
        files, _ = mounted_files(container, spec)
        volumes = {v["name"]: v for v in spec.get("volumes", [])}
        mounts = {m["mountPath"].rstrip("/"): m for m in container.get("volumeMounts", [])}
        for entry in container.get("env", []):
            if entry["name"] not in file_variables:
                continue
            path = entry.get("value")
            assert path, f"{where}: {entry['name']} must be a literal path, not {entry}"
            assert os.path.dirname(path) == SECRETS_DIR, f"{where}: {entry['name']} is {path}, not a file in {SECRETS_DIR}"
            assert path in files, f"{where}: {entry['name']} names {path}, which no volume of the container provides"
            kind, secret, key = files[path]
            assert kind == "secret", f"{where}: {path} comes from a {kind}, not a Secret"
            mount = mounts[SECRETS_DIR]
            assert mount.get("readOnly") is True, f"{where}: mount {SECRETS_DIR} read-only"
            mode = secret_file_modes(volumes[mount["name"]], SECRETS_DIR)[path]
            assert readable(mode, spec, container), f"{where}: {path} (mode {mode:04o}) cannot be read by user {container['securityContext']['runAsUser']}: set fsGroup or the mode"
            assert not mode & 0o007, f"{where}: {path} (mode {mode:04o}) is readable by any user in the container, not only the process's"
            sources.setdefault(file_variables[entry["name"]]["key"], set()).add((secret, key))
            checked += 1
    assert checked, f"{overlay}: no secret file was checked"
    text = DOCS.read_text()
    for name in {e["name"] for _, c in our_containers(docs) for e in c.get("env", []) if e["name"] in file_variables}:
        assert f"`{name}`" in text, f"docs/kubernetes.md must say which file {name} names"
    mixed = {key: sorted(found) for key, found in sources.items() if len(found) > 1}
    assert not mixed, f"{overlay}: a setting read from different Secret keys by different roles (the profile key must be one): {mixed}"
    # The check can fail: the readability rule refuses a 0440 file without fsGroup and a 0400 file for a non-root user.
    gateway = pod_spec(find(docs, "StatefulSet", "gateway"))
    container = next(c for c in gateway["containers"] if is_ours(c))
    bare = {**gateway, "securityContext": {k: v for k, v in gateway["securityContext"].items() if k != "fsGroup"}}
    assert readable(0o440, gateway, container) and not readable(0o440, bare, container) and not readable(0o400, gateway, container)
    assert container["securityContext"]["runAsUser"] == IMAGE_USER


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_secrets_are_only_referenced(rendered, keys, overlay):
    docs = documents(rendered, overlay)
    assert not find(docs, "Secret"), "no Secret object in git: create them out of band (docs/kubernetes.md)"
    sensitive = {e["environment"] for e in keys.values() if e["kind"] == "secret"} | {"ANSWER_NINJA_STORE_POSTGRES_URL", "ANSWER_NINJA_CACHE_REDIS_URL"}
    # A path setting (a private key's file) names a mounted Secret's file, not the secret itself.
    paths = {e["environment"] for e in keys.values() if e["kind"] == "path"}
    referenced = {}
    for workload in workloads(docs):
        spec = pod_spec(workload)
        for container in containers(spec):
            for entry in container.get("env", []):
                if entry["name"] in paths and entry.get("value", "").startswith("/run/secrets/"):
                    continue
                if entry["name"] in sensitive or re.search(r"(PASSWORD|SECRET|TOKEN|_KEY)$", entry["name"]):
                    assert "secretKeyRef" in entry.get("valueFrom", {}), f"{workload['metadata']['name']}: {entry['name']} must come from a Secret"
                ref = entry.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    referenced.setdefault(ref["name"], set()).add(ref["key"])
        for volume in spec.get("volumes", []):
            if "secret" in volume:
                referenced.setdefault(volume["secret"]["secretName"], set()).update(i["key"] for i in volume["secret"].get("items", []))
            for source in volume.get("projected", {}).get("sources", []):
                if "secret" in source:
                    referenced.setdefault(source["secret"]["name"], set()).update(i["key"] for i in source["secret"].get("items", []))
    assert {"kamailio-tls", "kamailio-trunk"} <= set(referenced), f"the edge's Secrets are not found: {sorted(referenced)}"
    docs_text = re.sub(r"\\\n\s*", " ", DOCS.read_text())  # shell line continuations joined
    # A TLS Secret (kubectl create secret tls) holds tls.crt and tls.key from --cert and --key.
    tls_flags = {"tls.crt": "--cert=", "tls.key": "--key="}
    for name, secret_keys in referenced.items():
        lines = re.findall(rf"kubectl create secret (generic|tls) {re.escape(name)} ([^\n`]*)", docs_text)
        assert lines, f"docs/kubernetes.md must show how to create Secret {name}"
        for key in secret_keys:
            assert any(kind == "tls" and tls_flags.get(key, "--no-such-flag") in rest or
                       kind == "generic" and re.search(rf"--from-(literal|file)={re.escape(key)}=", rest) for kind, rest in lines), \
                f"docs/kubernetes.md must show how to create Secret {name} with key {key}"


# --- network policies --------------------------------------------------------------------------------------------

def selects(selector, labels):
    if selector is None:
        return True
    for key, value in selector.get("matchLabels", {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions", []):
        present, value = expression["key"] in labels, labels.get(expression["key"])
        if expression["operator"] == "In" and value not in expression["values"]:
            return False
        if expression["operator"] == "NotIn" and value in expression["values"]:
            return False
        if expression["operator"] == "Exists" and not present:
            return False
        if expression["operator"] == "DoesNotExist" and present:
            return False
    return True


def peer_matches(peers, other):
    """`other` is {"namespace", "labels"} for a pod or {"ip"} for an address outside the pod network."""
    if not peers:
        return True
    for peer in peers:
        if "ipBlock" in peer:
            if "ip" in other and ipaddress.ip_address(other["ip"]) in ipaddress.ip_network(peer["ipBlock"]["cidr"]) and \
                    not any(ipaddress.ip_address(other["ip"]) in ipaddress.ip_network(e) for e in peer["ipBlock"].get("except", [])):
                return True
            continue
        if "ip" in other:
            continue
        namespace_ok = selects(peer["namespaceSelector"], {"kubernetes.io/metadata.name": other["namespace"]}) \
            if "namespaceSelector" in peer else other["namespace"] == NAMESPACE
        if namespace_ok and selects(peer.get("podSelector"), other["labels"]):
            return True
    return False


def port_matches(ports, port, protocol):
    if not ports:
        return True
    for spec in ports:
        if spec.get("protocol", "TCP") != protocol:
            continue
        if "port" not in spec:
            return True
        if isinstance(spec["port"], int) and spec["port"] <= port <= spec.get("endPort", spec["port"]):
            return True
    return False


def allowed(docs, direction, pod, other, port, protocol="TCP"):
    """Whether the namespace's NetworkPolicies let `pod` (labels) receive from / send to `other` on port/protocol."""
    kind, field, peers = ("Ingress", "ingress", "from") if direction == "in" else ("Egress", "egress", "to")
    policies = [p for p in find(docs, "NetworkPolicy") if p["metadata"]["namespace"] == NAMESPACE and kind in p["spec"]["policyTypes"]
                and selects(p["spec"]["podSelector"], pod)]
    if not policies:
        return True
    return any(peer_matches(rule.get(peers), other) and port_matches(rule.get("ports"), port, protocol)
               for policy in policies for rule in policy["spec"].get(field, []))


def pod(component):
    return {"app.kubernetes.io/name": "answer-ninja", "app.kubernetes.io/part-of": "answer-ninja", "app.kubernetes.io/component": component}


def member(component, namespace=NAMESPACE, labels=None):
    return {"namespace": namespace, "labels": labels if labels is not None else pod(component)}


INGRESS_GATEWAY = member(None, "istio-system", {"istio": "ingressgateway"})
PROMETHEUS = member(None, "monitoring", {"app.kubernetes.io/name": "prometheus"})
KUBE_DNS = member(None, "kube-system", {"k8s-app": "kube-dns"})
OUTSIDE = {"ip": "8.8.8.8"}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_network_policies_allow_the_designed_flows_and_deny_the_rest(rendered, overlay):
    docs = documents(rendered, overlay)
    deny = [p for p in find(docs, "NetworkPolicy") if p["spec"]["podSelector"] == {} and set(p["spec"]["policyTypes"]) == {"Ingress", "Egress"}
            and not p["spec"].get("ingress") and not p["spec"].get("egress")]
    assert deny, "no default-deny policy"
    node = {"ip": str(next(ipaddress.ip_network(cluster_values(overlay)["gateway-node-cidr"]).hosts()))}
    gateway, conversation, api, migrate = (pod(c) for c in ("gateway", "conversation", "api", "migrate"))
    # The edge's pods as deployed (their labels, not a guess of them).
    kamailio = pod_meta(find(docs, "Deployment", "kamailio"))["labels"]
    edge = member(None, labels=kamailio)
    expect = [
        # trunk/kamailio -> gateway SIP, and RTP from anywhere on the configured range only
        (gateway, "in", member("kamailio"), 5060, "UDP", True), (gateway, "in", member("kamailio"), 5060, "TCP", True),
        (gateway, "in", node, 5060, "UDP", True), (gateway, "in", OUTSIDE, 5060, "UDP", False),
        (gateway, "in", OUTSIDE, 20000, "UDP", True), (gateway, "in", OUTSIDE, 29999, "UDP", True), (gateway, "in", OUTSIDE, 30000, "UDP", False),
        (gateway, "in", member("api"), 8080, "TCP", False),
        # gateway -> conversation, from a pod or from its node's address
        (gateway, "out", member("conversation"), 8443, "TCP", True), (conversation, "in", member("gateway"), 8443, "TCP", True),
        (conversation, "in", node, 8443, "TCP", True), (conversation, "in", member("api"), 8080, "TCP", False),
        (gateway, "out", member("conversation"), 8080, "TCP", False), (conversation, "in", member("gateway"), 8080, "TCP", False),
        (conversation, "in", node, 8080, "TCP", False), (conversation, "in", member("api"), 8443, "TCP", False),
        (conversation, "in", OUTSIDE, 8443, "TCP", False),
        (conversation, "in", OUTSIDE, 8080, "TCP", False), (conversation, "in", INGRESS_GATEWAY, 8080, "TCP", True),
        # istio ingress -> api, nobody else
        (api, "in", INGRESS_GATEWAY, 8080, "TCP", True), (api, "in", member("conversation"), 8080, "TCP", False),
        (api, "in", OUTSIDE, 8080, "TCP", False), (api, "in", node, 8080, "TCP", False),
        # the stores
        (api, "out", OUTSIDE, 5432, "TCP", True), (api, "out", OUTSIDE, 6379, "TCP", True), (gateway, "out", OUTSIDE, 5432, "TCP", True),
        (migrate, "out", OUTSIDE, 5432, "TCP", True), (conversation, "out", OUTSIDE, 5432, "TCP", False),
        (conversation, "out", OUTSIDE, 443, "TCP", False), (api, "out", OUTSIDE, 443, "TCP", False),
        # Kamailio at the edge: SIP in from the internet (trunk, devices), and nothing else from there
        (kamailio, "in", OUTSIDE, 5060, "UDP", True), (kamailio, "in", OUTSIDE, 5060, "TCP", True),
        (kamailio, "in", OUTSIDE, 5061, "TCP", True), (kamailio, "in", OUTSIDE, 5062, "TCP", False),
        (kamailio, "in", OUTSIDE, 8080, "TCP", False), (kamailio, "in", member("api"), 8080, "TCP", False),
        # kamailio -> gateway SIP: on the gateway nodes' addresses (host network), or as pods where the CNI sees them
        (kamailio, "out", node, 5060, "UDP", True), (kamailio, "out", node, 5060, "TCP", True),
        (kamailio, "out", member("gateway"), 5060, "UDP", True), (kamailio, "out", member("gateway"), 5060, "TCP", True),
        (gateway, "in", edge, 5060, "UDP", True), (gateway, "in", edge, 5060, "TCP", True), (gateway, "in", edge, 8080, "TCP", False),
        # gateway -> kamailio SIP (a request to a device goes back through the edge by its Path)
        (gateway, "out", edge, 5060, "UDP", True), (gateway, "out", edge, 5060, "TCP", True),
        (kamailio, "in", node, 5060, "UDP", True), (kamailio, "in", node, 5060, "TCP", True), (kamailio, "in", member("gateway"), 5060, "UDP", True),
        # kamailio -> trunk (uac_reg's REGISTER, requests in calls) over UDP, TCP and TLS; nothing else out
        (kamailio, "out", OUTSIDE, 5060, "UDP", True), (kamailio, "out", OUTSIDE, 5060, "TCP", True), (kamailio, "out", OUTSIDE, 5061, "TCP", True),
        (kamailio, "out", OUTSIDE, 443, "TCP", False), (kamailio, "out", OUTSIDE, 5432, "TCP", False),
        (kamailio, "out", member("conversation"), 8080, "TCP", False), (kamailio, "out", node, 8080, "TCP", False),
    ]
    scraped = [gateway, conversation, api]
    if MEDIA_APART[overlay]:
        media = pod("media")
        scraped.append(media)
        expect += [
            # RTP from anywhere on the media role's own range only (not the gateways')
            (media, "in", OUTSIDE, 10000, "UDP", True), (media, "in", OUTSIDE, 19999, "UDP", True),
            (media, "in", OUTSIDE, 9998, "UDP", False), (media, "in", OUTSIDE, 20000, "UDP", False),
            (gateway, "in", OUTSIDE, 10000, "UDP", False), (media, "in", OUTSIDE, 5060, "UDP", False),
            # gateway -> media control channel (mutual TLS, 8444): to the pods or their nodes' addresses, from the gateway
            # pods or their nodes only
            (gateway, "out", member("media"), 8444, "TCP", True), (gateway, "out", node, 8444, "TCP", True),
            (gateway, "out", OUTSIDE, 8444, "TCP", False), (gateway, "out", member("media"), 8080, "TCP", False),
            (media, "in", member("gateway"), 8444, "TCP", True), (media, "in", node, 8444, "TCP", True),
            (media, "in", OUTSIDE, 8444, "TCP", False), (media, "in", member("api"), 8444, "TCP", False),
            (media, "in", edge, 8444, "TCP", False), (media, "in", member("gateway"), 8080, "TCP", False),
            (media, "in", OUTSIDE, 8080, "TCP", False), (media, "in", node, 8080, "TCP", False),
            # media -> conversation (wss, 8443), as pods or from their nodes' addresses; speech providers over HTTPS
            (media, "out", member("conversation"), 8443, "TCP", True), (conversation, "in", member("media"), 8443, "TCP", True),
            (media, "out", member("conversation"), 8080, "TCP", False), (conversation, "in", member("media"), 8080, "TCP", False),
            (media, "out", OUTSIDE, 443, "TCP", True), (media, "out", OUTSIDE, 12000, "UDP", True),
            # no store for the media role, and nothing else in or out
            (media, "out", OUTSIDE, 5432, "TCP", False), (media, "out", OUTSIDE, 6379, "TCP", False),
            (media, "out", OUTSIDE, 5060, "TCP", False), (media, "out", member("api"), 8080, "TCP", False),
            (media, "in", member("kamailio"), 5060, "UDP", False),
        ]
        expect += [(media, "out", KUBE_DNS, 53, "UDP", True), (media, "out", KUBE_DNS, 53, "TCP", True)]
        if overlay != "prod":
            expect += [(pod("postgres"), "in", member("media"), 5432, "TCP", False), (pod("redis"), "in", member("media"), 6379, "TCP", False)]
    # DNS for everyone, scraping from the monitoring namespace
    for component in (gateway, conversation, api, migrate, kamailio):
        expect += [(component, "out", KUBE_DNS, 53, "UDP", True), (component, "out", KUBE_DNS, 53, "TCP", True)]
    for component in (conversation, api, migrate, kamailio):  # the gateway and media pods send RTP over UDP to any port
        expect.append((component, "out", member(None, "default", {}), 53, "UDP", False))
    for component in scraped:
        expect += [(component, "in", PROMETHEUS, 8080, "TCP", True), (component, "in", member(None, "default", {}), 8080, "TCP", False)]
    if overlay != "prod":
        postgres, redis = pod("postgres"), pod("redis")
        expect += [
            (postgres, "in", member("api"), 5432, "TCP", True), (postgres, "in", member("migrate"), 5432, "TCP", True),
            (postgres, "in", node, 5432, "TCP", True), (postgres, "in", member("conversation"), 5432, "TCP", False),
            (redis, "in", member("gateway"), 6379, "TCP", True), (redis, "in", member("api"), 6379, "TCP", True),
            (redis, "in", member("conversation"), 6379, "TCP", False), (postgres, "in", OUTSIDE, 5432, "TCP", False),
        ]
    wrong = [(p.get("app.kubernetes.io/component"), d, o, port, proto, want) for p, d, o, port, proto, want in expect
             if allowed(docs, d, p, o, port, proto) != want]
    assert not wrong, "flows the policies get wrong (pod, direction, peer, port, protocol, expected):\n" + "\n".join(map(str, wrong))


# --- Istio --------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("overlay", OVERLAYS)
def test_istio_objects_point_at_what_exists(rendered, overlay):
    docs = documents(rendered, overlay)
    strict = [p for p in find(docs, "PeerAuthentication") if "selector" not in p["spec"]]
    assert [p["spec"]["mtls"]["mode"] for p in strict] == ["STRICT"], "one namespace-wide STRICT PeerAuthentication"
    # No exception to STRICT: the sidecar-less gateway reaches the conversation role over TLS of the role's own, on a
    # port the sidecar does not intercept (test_the_gateway_reaches_the_conversation_service_it_names).
    permissive = {(p["metadata"]["name"], port) for p in find(docs, "PeerAuthentication")
                  for port, mode in p["spec"].get("portLevelMtls", {}).items() if mode["mode"] != "STRICT"}
    assert permissive == set(), permissive
    for workload in workloads(docs):
        if pod_spec(workload).get("hostNetwork"):
            assert pod_meta(workload)["annotations"]["sidecar.istio.io/inject"] == "false", "a host-network pod cannot have a sidecar"
    services = {(s["metadata"]["name"], s["metadata"]["namespace"]): s for s in find(docs, "Service")}
    gateway = find(docs, "Gateway", "answer-ninja")
    hosts = {h for server in gateway["spec"]["servers"] for h in server["hosts"]}
    destination_rules = {r["spec"]["host"]: r for r in find(docs, "DestinationRule")}
    for service in find(docs, "VirtualService"):
        assert set(service["spec"]["hosts"]) <= hosts, f"VirtualService {service['metadata']['name']}: hosts not on the Gateway"
        assert service["spec"]["gateways"] == ["answer-ninja"]
        for route in service["spec"]["http"]:
            for target in route["route"]:
                host = target["destination"]["host"]
                match = re.fullmatch(r"([a-z0-9-]+)\.([a-z0-9-]+)\.svc\.cluster\.local", host)
                assert match and (match.group(1), match.group(2)) in services, f"{host} is not a Service"
                assert target["destination"]["port"]["number"] in [p["port"] for p in services[(match.group(1), match.group(2))]["spec"]["ports"]]
                rule = destination_rules.get(host)
                assert rule and {"outlierDetection", "connectionPool"} <= set(rule["spec"]["trafficPolicy"]), f"{host} needs a DestinationRule"
    websocket = find(docs, "VirtualService", "conversation-ws")["spec"]["http"][0]
    assert websocket["match"][0]["uri"]["prefix"] == "/internal/conversation"
    assert websocket["timeout"] == "0s", "a WebSocket lives for the whole call: no route timeout"
    authorization = {p["metadata"]["name"]: p for p in find(docs, "AuthorizationPolicy")}
    assert authorization["allow-nothing"]["spec"] == {}
    ingress = "cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account"
    api_rules = authorization["api"]["spec"]["rules"]
    assert any(ingress in s["source"].get("principals", []) for r in api_rules for s in r.get("from", []))
    assert all("/metrics" in o["operation"].get("notPaths", []) for r in api_rules for s in r.get("from", [])
               if ingress in s["source"].get("principals", []) for o in r["to"]), "the public host must not serve /metrics"
    blocks = {b for r in authorization["conversation"]["spec"]["rules"] for s in r.get("from", []) for b in s["source"].get("ipBlocks", [])}
    assert blocks == set(), "no plain-text caller is admitted by address: the gateway comes over TLS"


# --- wiring and docs ------------------------------------------------------------------------------------------------

def test_the_monitoring_kustomization_is_included_once_it_exists():
    monitoring = ROOT / "deploy" / "monitoring" / "kustomization.yaml"
    for overlay in OVERLAYS:
        resources = yaml.safe_load((K8S / "overlays" / overlay / "kustomization.yaml").read_text())["resources"]
        assert ("../../../monitoring" in resources) == monitoring.exists(), \
            f"overlays/{overlay}: include ../../../monitoring exactly when deploy/monitoring/kustomization.yaml exists"


def test_the_docs_give_the_commands():
    text = DOCS.read_text()
    assert ".venv/bin/python -m pytest -q Tests/deploy/test_k8s.py" in text
    for overlay in OVERLAYS:
        assert f"kubectl apply -k deploy/k8s/overlays/{overlay}" in text, overlay
    for topic in ("SYS_NICE", "pod-index", "status.hostIP", "terminationGracePeriodSeconds", "prometheus-adapter", "PeerAuthentication",
                  "externalTrafficPolicy", "GATEWAY_NETS", "ANSWER_NINJA_SIP_TRUSTED_SOURCES", "ANSWER_NINJA_MEDIA_CONTROL_URL",
                  "media.tls_client_ca", "*.media.answer-ninja.svc.cluster.local", "websocket_connections", "anti-affinity"):
        assert topic in text, topic
    # Every value an overlay must set for its cluster is explained.
    for overlay in OVERLAYS:
        for key in cluster_values(overlay):
            assert re.search(rf"^\|[^|\n]*`{re.escape(key)}`", text, re.M), f"docs/kubernetes.md's table does not explain the cluster value {key}"
