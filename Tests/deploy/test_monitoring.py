"""deploy/monitoring (deploy issue): the PrometheusRule's alerts pass promtool and its unit tests, every alert has
a test that makes it fire and one that keeps it quiet, the dashboards' queries parse, and every metric name the
deploy tree uses (alerts, dashboards, HPAs, prometheus-adapter rules) is in the code's catalogue and in a real
/metrics scrape of `serve` taken after one AI call."""
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from deploy_tools import tool
import yaml

import deploy_metrics

ROOT = Path(__file__).resolve().parents[2]
BINARY = ROOT / ".build" / "debug" / "answer-ninja"
MONITORING = ROOT / "deploy" / "monitoring"
RULE_OBJECT = MONITORING / "prometheus-rule.yaml"
RULES_FILE = "answer-ninja.rules.yml"  # the name the unit tests' rule_files give
DASHBOARDS = MONITORING / "dashboards"
# Prometheus makes `up` per target; it is the one series the code cannot export.
SYNTHETIC = {"up"}
# The SIP edge's metrics (Kamailio's xhttp_prom): not Answer Ninja's catalogue; Tests/deploy/test_kamailio_edge.py
# checks each one used here against a real scrape of the edge.
EDGE_PREFIX = "kamailio_"
# Labels Prometheus (and the Operator, through the ServiceMonitor) puts on every scraped series.
TARGET_LABELS = {"namespace", "job", "pod", "instance", "service", "endpoint", "container"}
ROLES = {"gateway", "conversation", "api", "media"}


def binary():
    """The debug binary; it is missing for a while when the build relinks it, so wait (bounded) for it."""
    deadline = time.monotonic() + 120
    while not BINARY.exists():
        if time.monotonic() > deadline:
            pytest.fail(f"{BINARY} does not exist: build first (swift build)")
        time.sleep(2)
    return str(BINARY)


def seconds(duration):
    """A Prometheus duration (1m, 1h30m, 90s) in seconds."""
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
    parts = re.findall(r"([0-9]+)(ms|[smhdwy])", str(duration))
    assert parts and "".join(n + u for n, u in parts) == str(duration), f"not a duration: {duration!r}"
    return sum(int(n) * units[u] for n, u in parts)


def rule_object():
    return yaml.safe_load(RULE_OBJECT.read_text())


def alert_rules():
    return [rule for group in rule_object()["spec"]["groups"] for rule in group["rules"] if "alert" in rule]


def unit_test_files():
    return sorted(MONITORING.glob("tests/*.yml")) + sorted(MONITORING.glob("tests/*.yaml"))


@pytest.fixture(scope="module")
def catalogue():
    """`answer-ninja metrics --json`: name → its entry (kind, labels, ...)."""
    result = subprocess.run([binary(), "metrics", "--json"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return {metric["name"]: metric for metric in json.loads(result.stdout)["metrics"]}


@pytest.fixture(scope="module")
def catalogue_labels(catalogue):
    return {name: set(entry["labels"]) for name, entry in catalogue.items()}


@pytest.fixture(scope="module")
def histograms(catalogue):
    return frozenset(name for name, entry in catalogue.items() if entry["kind"] == "histogram")


@pytest.fixture(scope="module")
def rules_dir(tmp_path_factory):
    """The PrometheusRule's spec as a plain rules file, with the unit tests beside it (their rule_files name it)."""
    directory = tmp_path_factory.mktemp("rules")
    (directory / RULES_FILE).write_text(yaml.safe_dump({"groups": rule_object()["spec"]["groups"]}, sort_keys=False))
    for path in unit_test_files():
        shutil.copy(path, directory / path.name)
    return directory


# --- the objects ---------------------------------------------------------------------------------------------------


def rendered():
    result = subprocess.run([tool("kubectl"), "kustomize", str(MONITORING)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def test_kustomization_renders_the_rule_the_service_monitor_and_every_dashboard():
    objects = rendered()
    kinds = sorted(obj["kind"] for obj in objects)
    dashboards = sorted(DASHBOARDS.glob("*.json"))
    assert kinds == sorted(["PrometheusRule", "ServiceMonitor", "ServiceMonitor"] + ["ConfigMap"] * len(dashboards)), kinds
    for obj in objects:
        assert obj["metadata"]["namespace"] == "answer-ninja", obj["metadata"]
        assert obj["metadata"]["labels"]["app.kubernetes.io/part-of"] == "answer-ninja", obj["metadata"]
    shipped = {}
    for config_map in (obj for obj in objects if obj["kind"] == "ConfigMap"):
        labels = config_map["metadata"]["labels"]
        assert labels.get("grafana_dashboard") == "1", config_map["metadata"]
        assert not re.search(r"-[a-z0-9]{10}$", config_map["metadata"]["name"]), "name suffix hash must be off"
        shipped.update(config_map["data"])
    assert sorted(shipped) == [path.name for path in dashboards], "every dashboards/*.json is generated, once"
    for name, text in shipped.items():
        assert json.loads(text) == json.loads((DASHBOARDS / name).read_text())


def test_service_monitors_scrape_the_http_port_of_every_role_as_the_mesh_allows():
    monitors = [obj for obj in rendered() if obj["kind"] == "ServiceMonitor"]
    assert monitors
    for monitor in monitors:
        spec = monitor["spec"]
        assert spec["selector"]["matchLabels"]["app.kubernetes.io/part-of"] == "answer-ninja"
        assert spec["namespaceSelector"]["matchNames"] == ["answer-ninja"]
        # The alerts group by job; the component label makes it the role's name.
        assert spec["jobLabel"] == "app.kubernetes.io/component"
        for endpoint in spec["endpoints"]:
            assert (endpoint["port"], endpoint["path"], endpoint["interval"]) == ("http", "/metrics", "15s"), endpoint
    schemes = {}
    for monitor in monitors:
        for expression in monitor["spec"]["selector"].get("matchExpressions", []):
            if expression["key"] == "app.kubernetes.io/component" and expression["operator"] == "In":
                for role in expression["values"]:
                    assert role not in schemes, f"{role} is scraped twice"
                    schemes[role] = {(e["scheme"], bool(e.get("tlsConfig", {}).get("certFile"))) for e in monitor["spec"]["endpoints"]}
    assert set(schemes) == ROLES | {"kamailio"}, schemes
    # The meshed roles accept only Istio mTLS (STRICT, test_k8s.py): scraped over HTTPS with a mesh client
    # certificate; the sidecar-less host-network roles (gateway, media) and the edge (no sidecar) in plain HTTP.
    assert schemes["api"] == schemes["conversation"] == {("https", True)}, schemes
    assert schemes["gateway"] == schemes["media"] == schemes["kamailio"] == {("http", False)}, schemes


def test_every_alert_has_a_severity_annotations_and_a_for():
    rule = rule_object()
    assert (rule["apiVersion"], rule["kind"]) == ("monitoring.coreos.com/v1", "PrometheusRule")
    alerts = alert_rules()
    assert len(alerts) >= 10
    for alert in alerts:
        assert re.fullmatch(r"AnswerNinja[A-Za-z0-9]+", alert["alert"]), alert["alert"]
        assert alert["labels"]["severity"] in ("warning", "critical"), alert
        assert alert["annotations"].get("summary") and alert["annotations"].get("description"), alert
        assert seconds(alert["for"]) > 0, alert
    # The guide's thresholds, each at both severities where it has two.
    severities = {}
    for alert in alerts:
        severities.setdefault(alert["alert"], set()).add(alert["labels"]["severity"])
    for name in ("AnswerNinjaHTTPErrors", "AnswerNinjaSIPErrors", "AnswerNinjaTurnLatencyHigh"):
        assert severities.get(name) == {"warning", "critical"}, (name, severities.get(name))
    assert severities.get("AnswerNinjaTargetDown") == {"critical"}
    assert seconds(next(a for a in alerts if a["alert"] == "AnswerNinjaTargetDown")["for"]) == 60


def test_every_selector_is_scoped_to_the_namespace():
    """http_requests_total and process_* are names every other application exports too: each selector of the rules
    names namespace answer-ninja, each of the dashboards the $namespace variable."""
    problems = []
    for relative, where, expr in deploy_metrics.promql_sources(ROOT)[0]:
        if not relative.startswith("deploy/monitoring/"):
            continue
        if relative.endswith(".json"):
            if where.startswith("variable "):
                continue
            panel = next(e for w, e in deploy_metrics.dashboard_queries(json.loads((ROOT / relative).read_text())) if w == where)
            wanted = ("namespace", "=", "$namespace")
            selectors = deploy_metrics.promql_selectors(deploy_metrics.GRAFANA_INTERVAL.sub("5m", panel))
        else:
            wanted = ("namespace", "=", "answer-ninja")
            selectors = deploy_metrics.promql_selectors(expr)
        for name, matchers in selectors:
            if wanted not in matchers:
                problems.append(f"{relative}: {where}: {name} without {wanted[0]}{wanted[1]}{wanted[2]!r}")
    assert not problems, "\n".join(problems)


def test_selectors_match_on_labels_the_metric_has(catalogue_labels, histograms):
    """A matcher on a label the metric does not carry selects nothing, silently."""
    problems = []
    for relative, where, name, matchers in deploy_metrics.selectors_used(ROOT):
        base = deploy_metrics.base_name(name, histograms)
        if base not in catalogue_labels:
            continue  # the catalogue test reports it
        allowed = catalogue_labels[base] | TARGET_LABELS | ({"le"} if name.endswith("_bucket") else set())
        for label, _, _ in matchers:
            if label not in allowed:
                problems.append(f"{relative}: {where}: {name} has no label {label!r} (it has {sorted(catalogue_labels[base])})")
    assert not problems, "\n".join(problems)


def test_resource_alerts_are_ratios_to_the_limits_each_process_reads():
    """AnswerNinjaMemoryHigh and AnswerNinjaCPUHigh divide by the limits each process reads from its own cgroup
    (process_memory_limit_bytes, process_cpu_limit_cores), never by numbers copied from a manifest: an overlay that
    changes a container's limits cannot leave the alerts behind."""
    rules = [r for group in rule_object()["spec"]["groups"] for r in group["rules"] if r.get("alert") in ("AnswerNinjaMemoryHigh", "AnswerNinjaCPUHigh")]
    assert len(rules) == 4, [r.get("alert") for r in rules]
    for rule in rules:
        expr = " ".join(rule["expr"].split())
        if rule["alert"] == "AnswerNinjaMemoryHigh":
            assert re.fullmatch(r'process_resident_memory_bytes\{[^}]*\} / process_memory_limit_bytes\{[^}]*\} > 0\.\d+', expr), expr
        else:
            assert re.fullmatch(r'rate\(process_cpu_seconds_total\{[^}]*\}\[5m\]\) / process_cpu_limit_cores\{[^}]*\} > 0\.\d+', expr), expr


# --- promtool ------------------------------------------------------------------------------------------------------


def test_promtool_check_rules_accepts_the_rules(rules_dir):
    result = subprocess.run([tool("promtool"), "check", "rules", RULES_FILE], cwd=rules_dir, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {sum(len(g['rules']) for g in rule_object()['spec']['groups'])} rules found" in result.stdout


def test_promtool_unit_tests_pass(rules_dir):
    files = [path.name for path in unit_test_files()]
    assert files, "deploy/monitoring/tests/ holds the promtool unit tests"
    for name in files:
        assert yaml.safe_load((rules_dir / name).read_text())["rule_files"] == [RULES_FILE], name
    result = subprocess.run([tool("promtool"), "test", "rules", *files], cwd=rules_dir, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("SUCCESS") == len(files), result.stdout


def test_every_alert_has_a_test_that_fires_it_and_one_that_keeps_it_quiet():
    """Each (alert, severity) fires in some test case, and each alert is expected quiet in some case evaluated after
    its longest `for`, so that "quiet" is not just "not yet"."""
    fired, quiet = set(), {}
    for path in unit_test_files():
        for case in yaml.safe_load(path.read_text())["tests"]:
            for check in case.get("alert_rule_test") or []:
                name = check["alertname"]
                if check.get("exp_alerts"):
                    for alert in check["exp_alerts"]:
                        fired.add((name, alert["exp_labels"]["severity"]))
                else:
                    quiet[name] = max(quiet.get(name, 0), seconds(check["eval_time"]))
    problems = []
    longest_for = {}
    for alert in alert_rules():
        key = (alert["alert"], alert["labels"]["severity"])
        longest_for[alert["alert"]] = max(longest_for.get(alert["alert"], 0), seconds(alert["for"]))
        if key not in fired:
            problems.append(f"no test case fires {key}")
    for name, longest in longest_for.items():
        if quiet.get(name, -1) < longest:
            problems.append(f"no test case expects {name} quiet at or after its for ({longest}s)")
    assert not problems, "\n".join(problems)


def test_dashboard_queries_pass_promtool(tmp_path):
    """Every dashboard query, its Grafana variables made concrete, as a recording rule promtool must accept."""
    rules, seen = [], []
    for path in sorted(DASHBOARDS.glob("*.json")):
        for where, expr in deploy_metrics.dashboard_queries(json.loads(path.read_text())):
            promql = deploy_metrics.grafana_to_promql(expr)
            assert "$" not in promql, (path.name, where, promql)
            rules.append({"record": f"dashboard:check:{len(rules)}", "expr": promql})
            seen.append(f"{path.name}: {where}")
    assert len(rules) >= 20, seen
    (tmp_path / "dashboards.rules.yml").write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
    result = subprocess.run([tool("promtool"), "check", "rules", "dashboards.rules.yml"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr + "\n".join(f"dashboard:check:{i} is {where}" for i, where in enumerate(seen))


def test_dashboards_are_grafana_json_on_the_prometheus_variable():
    titles = set()
    dashboards = sorted(DASHBOARDS.glob("*.json"))
    assert {path.stem for path in dashboards} >= {"calls", "latency", "media", "capacity"}
    for path in dashboards:
        board = json.loads(path.read_text())
        assert board["schemaVersion"] >= 36 and board["uid"] and board["title"] not in titles, path.name
        titles.add(board["title"])
        variables = {v["name"]: v for v in board["templating"]["list"]}
        assert variables["DS_PROMETHEUS"]["type"] == "datasource" and variables["DS_PROMETHEUS"]["query"] == "prometheus"
        ids = [panel["id"] for panel in board["panels"]]
        assert len(ids) == len(set(ids)), path.name
        for panel in board["panels"]:
            assert panel["targets"], (path.name, panel["title"])
            for item in [panel, *panel["targets"]]:
                assert item["datasource"] == {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}, (path.name, panel["title"])


# --- metric names --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("expr, names", [
    ('sum by (job, le) (rate(turn_latency_seconds_bucket{job=~"a|b", le="+Inf"}[5m])) > 1e9', ["turn_latency_seconds_bucket"]),
    ("a / on(pod) group_left(node) b unless on (namespace, pod) (c == bool 1) offset 5m", ["a", "b", "c"]),
    ('{__name__="websocket_connections", pod!=""} * 2 + count_values("v", d) @ start()', ["websocket_connections", "d"]),
    ('label_replace(up, "dst", "$1", "instance", "(.*):.*") # a comment, no_metric\n + 0x1f - Inf', ["up"]),
    ("changes(process_start_time_seconds[15m:1m]) > 2 and sum without (pod) (x) < avg(y) by (job)", ["process_start_time_seconds", "x", "y"]),
])
def test_promql_tokenizer_finds_the_metric_names(expr, names):
    assert deploy_metrics.promql_metric_names(expr) == names


def test_promql_tokenizer_refuses_an_unknown_function():
    with pytest.raises(deploy_metrics.PromQLError):
        deploy_metrics.promql_metric_names("rates(x[5m])")


def test_grafana_and_adapter_templates_become_promql():
    assert deploy_metrics.grafana_to_promql('rate(x{namespace="$namespace"}[$__rate_interval])') == 'rate(x{namespace="x"}[5m])'
    assert deploy_metrics.grafana_to_promql("label_values(answer_ninja_role_up, namespace)") == "answer_ninja_role_up"
    query = deploy_metrics.adapter_to_promql("sum(<<.Series>>{<<.LabelMatchers>>}) by (<<.GroupBy>>)")
    assert deploy_metrics.promql_metric_names(query) == []


def test_metric_names_used_reads_rules_dashboards_hpas_and_adapter_rules(tmp_path):
    """The extraction on a small tree with one of each source, so a source that stops being read fails here."""
    deploy = tmp_path / "deploy"
    (deploy / "monitoring" / "dashboards").mkdir(parents=True)
    (deploy / "k8s" / "base").mkdir(parents=True)
    (deploy / "monitoring" / "rule.yaml").write_text(yaml.safe_dump({"apiVersion": "monitoring.coreos.com/v1", "kind": "PrometheusRule", "metadata": {"name": "r"},
        "spec": {"groups": [{"name": "g", "rules": [{"alert": "A", "expr": "rate(h_bucket[5m]) > 0"}]}]}}))
    (deploy / "monitoring" / "dashboards" / "d.json").write_text(json.dumps({"panels": [{"title": "row", "panels": [
        {"title": "p", "targets": [{"refId": "A", "expr": "sum(rate(panel_total[$__rate_interval]))"}]}]}],
        "templating": {"list": [{"name": "ns", "type": "query", "query": {"query": "label_values(var_metric, namespace)"}}]}}))
    (deploy / "k8s" / "base" / "hpa.yaml").write_text(yaml.safe_dump_all([
        {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "gateway"},
         "spec": {"metrics": [{"type": "Pods", "pods": {"metric": {"name": "hpa_metric"}, "target": {"type": "AverageValue", "averageValue": "100"}}},
                              {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}}]}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "adapter"}, "data": {"config.yaml": yaml.safe_dump({"rules": [
            {"seriesQuery": 'series_metric{namespace!="",pod!=""}', "metricsQuery": "sum(<<.Series>>{<<.LabelMatchers>>} / query_metric) by (<<.GroupBy>>)"}]})}},
    ]))
    (deploy / "k8s" / "base" / "adapter-config.yaml").write_text(yaml.safe_dump({"rules": [{"seriesQuery": "file_metric", "metricsQuery": "<<.Series>>"}]}))
    used = deploy_metrics.metric_names_used(tmp_path, histograms=frozenset({"h"}))
    assert set(used) == {"h", "panel_total", "var_metric", "hpa_metric", "series_metric", "query_metric", "file_metric"}, used
    assert used["hpa_metric"] == ["deploy/k8s/base/hpa.yaml: HorizontalPodAutoscaler gateway"]


def expected_series(name, histograms):
    """The series names a scrape must hold for a used metric name."""
    return [f"{name}_bucket", f"{name}_sum", f"{name}_count"] if name in histograms else [name]


def test_every_metric_name_used_in_deploy_is_in_the_catalogue(catalogue, histograms):
    used = deploy_metrics.metric_names_used(ROOT, histograms)
    assert "turn_latency_seconds" in used and "concurrent_calls" in used, sorted(used)
    unknown = {name: places for name, places in used.items() if name not in catalogue and name not in SYNTHETIC and not name.startswith(EDGE_PREFIX)}
    assert not unknown, "not in `answer-ninja metrics --json`:\n" + "\n".join(f"  {name}: {', '.join(places)}" for name, places in sorted(unknown.items()))


# --- a real scrape -------------------------------------------------------------------------------------------------


def free_port():
    """A port free for TCP and UDP alike (SIP listens on both)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind(("127.0.0.1", 0))
            port = tcp.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                try:
                    udp.bind(("127.0.0.1", port))
                except OSError:
                    continue
            return port
    raise RuntimeError("no free port")


def rtp_range(size=200):
    """An even-based UDP range whose ports bind now, between the default range (20000-29999, other tests' servers)
    and the kernel's ephemeral ports (32768 up, where the caller's own sockets land)."""
    for _ in range(50):
        base = random.randrange(30000, 32768 - size, size)
        try:
            for port in range(base, base + size, 25):
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                    udp.bind(("127.0.0.1", port))
        except OSError:
            continue
        return base, base + size - 1
    raise RuntimeError("no free RTP range")


def get(url, timeout=5):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return None, ""


def scraped_names(text):
    return {match.group(1) for match in re.finditer(r"^([A-Za-z_:][A-Za-z0-9_:]*)(?:\{|\s)", text, flags=re.M)}


def scraped_label_values(text):
    """{(series name, label): {values}} of a scrape."""
    values = {}
    for match in re.finditer(r"^([A-Za-z_:][A-Za-z0-9_:]*)\{(.*)\}\s", text, flags=re.M):
        for label, value in re.findall(r'([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"', match.group(2)):
            values.setdefault((match.group(1), label), set()).add(value)
    return values


@pytest.fixture
def serve(tmp_path):
    """`answer-ninja serve` on loopback ports in a fresh data directory; stopped (TERM, then KILL) afterwards."""
    http_port, sip_port = free_port(), free_port()
    while sip_port == http_port:
        sip_port = free_port()
    rtp_min, rtp_max = rtp_range()
    env = dict(os.environ,
               ANSWER_NINJA_DATA_DIR=str(tmp_path / "data"),
               ANSWER_NINJA_HTTP_HOST="127.0.0.1", ANSWER_NINJA_HTTP_PORT=str(http_port),
               ANSWER_NINJA_SIP_HOST="127.0.0.1", ANSWER_NINJA_SIP_PORT=str(sip_port),
               ANSWER_NINJA_MEDIA_RTP_PORT_MIN=str(rtp_min), ANSWER_NINJA_MEDIA_RTP_PORT_MAX=str(rtp_max),
               # The assistant (the default), not the fixed greeting: the latency histograms need an AI turn.
               ANSWER_NINJA_SIP_ANSWER_MODE="assistant")
    log = open(tmp_path / "serve.log", "w")
    process = subprocess.Popen([binary(), "serve"], env=env, stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path)
    try:
        base = f"http://127.0.0.1:{http_port}"
        deadline = time.monotonic() + 60
        while get(f"{base}/ready", timeout=2)[0] != 200:
            assert process.poll() is None, f"serve exited {process.returncode}:\n{(tmp_path / 'serve.log').read_text()[-3000:]}"
            assert time.monotonic() < deadline, f"/ready not 200 within 60 s:\n{(tmp_path / 'serve.log').read_text()[-3000:]}"
            time.sleep(0.3)
        yield base, sip_port, tmp_path / "serve.log"
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        log.close()


def test_a_scrape_after_one_call_has_every_metric_name_used_in_deploy(serve, histograms):
    base, sip_port, log = serve
    call = subprocess.run([binary(), "call", f"sip:demo@127.0.0.1:{sip_port}", "--say", "Hello, I am calling about your car warranty.",
                           "--duration", "6", "--json"], capture_output=True, text=True, timeout=60)
    assert call.returncode == 0, call.stdout + call.stderr + log.read_text()[-3000:]
    result = json.loads(call.stdout)
    turns = result.get("voice_to_voice_ms") or []
    # One AI turn at least, measured: null means our reply never came back (media did not flow).
    assert result["answered"] and turns and all(isinstance(ms, (int, float)) for ms in turns), result
    used = deploy_metrics.metric_names_used(ROOT, histograms)
    expected = {series: name for name in used if name not in SYNTHETIC and not name.startswith(EDGE_PREFIX) for series in expected_series(name, histograms)}
    # The call's counters are written as it ends; give the scrape a few seconds to show them.
    deadline = time.monotonic() + 10
    while True:
        status, text = get(f"{base}/metrics")
        assert status == 200, status
        missing = sorted(set(expected) - scraped_names(text))
        if not missing or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert "up" not in scraped_names(text)
    problems = [f"  not in the scrape: {series}: {', '.join(used[expected[series]])}" for series in missing]
    # An equality matcher on a label the scrape shows must name a value the code writes (direction="out", not
    # "sent"); values that need an event (reason="srtp_auth") are checked once the series is in the scrape at all.
    scraped = scraped_label_values(text)
    for relative, where, name, matchers in deploy_metrics.selectors_used(ROOT):
        for label, op, value in matchers:
            seen = scraped.get((name, label))
            if op == "=" and label not in TARGET_LABELS and seen and value not in seen:
                problems.append(f"  a label value the code does not write: {relative}: {where}: {name}{{{label}={value!r}}}, the scrape has {sorted(seen)}")
    assert not problems, "used in deploy/ but not in a scrape after one call:\n" + "\n".join(problems)
