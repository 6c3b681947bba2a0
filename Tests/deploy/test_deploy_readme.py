"""deploy/README.md, the operator's runbook, held to the manifests it is about (the issue: "the docs match the
manifests"):

- it covers each task the issue names: deploy, scale, upgrade and roll back, back up and restore PostgreSQL, rotate
  secrets, and troubleshoot one-way audio, registration failures and an HPA that does not scale;
- every kubectl command (in a ```sh block, or inline) names objects the overlays render, in the namespace they live
  in: `kind/name` and `kind name ...` forms, a StatefulSet's pods by index (below its HPA's maximum), `-c` against
  the pod's containers, `-l` against the labels of what it lists, Secrets and their keys as the manifests read them
  and docs/kubernetes.md creates them, `rollout` only on what rolls out, `get --raw` paths (a custom metric the
  adapter serves to an HPA, a pod's port and path through the API server's proxy), `apply -k` and `kustomize`
  paths (after any `cd`), `kustomize edit set image` on an overlay and an image the manifests run;
- what a command runs inside a pod (`-- CMD`, `sh -c '...'`) reads only paths that container mounts, with the
  database user and name of its environment, and `kamcmd` talks to the edge's ctl socket with RPC methods of modules
  kamailio.cfg loads (read from the module files);
- every `answer-ninja` command is a subcommand of the binary, with options its --help lists;
- every metric named is in `answer-ninja metrics --json` (with its labels), every alert in the PrometheusRule;
- the HPA table gives the rendered HPAs' metrics, targets and bounds in each overlay; the Secrets table names every
  Secret the manifests read (and no other) with keys docs/kubernetes.md gives it; the links resolve.

Each check is shown to refuse a broken line (test_the_checks_refuse). Under CI=true a missing kubectl or kamailio
fails instead of skipping. Run: .venv/bin/python -m pytest -q Tests/deploy/test_deploy_readme.py"""
import json
import re
import shlex
from pathlib import Path

import pytest
import yaml

from deploy_tools import tool
# test_k8s's helpers, and its fixtures `rendered` (each overlay through kubectl kustomize) and `catalogue` (the metrics).
from test_k8s import (NAMESPACE, OVERLAYS, ROOT, catalogue, containers, documents, env_value, find, image_name,  # noqa: F401
                      is_ours, max_replicas, pod_spec, rendered, run_binary, workloads)

README = ROOT / "deploy" / "README.md"
DOCS = ROOT / "docs" / "kubernetes.md"
RULES = ROOT / "deploy" / "monitoring" / "prometheus-rule.yaml"
EDGE_CONFIG = ROOT / "deploy" / "kamailio" / "kamailio.cfg"
TIERS = ROOT / "tools" / "test"

# The tasks of the issue, each a heading of the runbook (the troubleshooting cases under "Troubleshoot").
TOPICS = {
    "deploy": r"## Deploy",
    "scale": r"## Scale",
    "upgrade and roll back": r"## Upgrade and roll back",
    "back up and restore PostgreSQL": r"## Back up and restore PostgreSQL",
    "rotate secrets": r"## Rotate secrets",
    "troubleshoot": r"## Troubleshoot",
    "one-way audio": r"### One-way audio",
    "registration failures": r"### Registration failures",
    "an HPA that does not scale": r"### An HPA that does not scale",
    "the checks": r"## The checks",
}
TROUBLESHOOTING = ("one-way audio", "registration failures", "an HPA that does not scale")

# kubectl's names of the kinds the runbook may name.
KINDS = {
    **dict.fromkeys(("statefulset", "statefulsets", "sts"), "StatefulSet"),
    **dict.fromkeys(("deployment", "deployments", "deploy"), "Deployment"),
    **dict.fromkeys(("job", "jobs"), "Job"),
    **dict.fromkeys(("hpa", "horizontalpodautoscaler", "horizontalpodautoscalers"), "HorizontalPodAutoscaler"),
    **dict.fromkeys(("secret", "secrets"), "Secret"),
    **dict.fromkeys(("service", "services", "svc"), "Service"),
    **dict.fromkeys(("configmap", "configmaps", "cm"), "ConfigMap"),
    **dict.fromkeys(("pvc", "persistentvolumeclaim", "persistentvolumeclaims"), "PersistentVolumeClaim"),
    **dict.fromkeys(("pod", "pods", "po"), "Pod"),
    **dict.fromkeys(("endpoints", "ep"), "Endpoints"),
    **dict.fromkeys(("pdb", "poddisruptionbudget", "poddisruptionbudgets"), "PodDisruptionBudget"),
    **dict.fromkeys(("networkpolicy", "networkpolicies", "netpol"), "NetworkPolicy"),
    **dict.fromkeys(("servicemonitor", "servicemonitors"), "ServiceMonitor"),
    **dict.fromkeys(("prometheusrule", "prometheusrules"), "PrometheusRule"),
    **dict.fromkeys(("namespace", "namespaces", "ns"), "Namespace"),
    **dict.fromkeys(("apiservice", "apiservices"), "APIService"),
    **dict.fromkeys(("node", "nodes", "no"), "Node"),
}
CLUSTER_SCOPED = {"Namespace", "APIService", "Node"}
ROLLS_OUT = {"Deployment", "StatefulSet", "DaemonSet"}
# What the runbook may name that the overlays do not render, and where it comes from.
OUTSIDE = {
    ("APIService", "v1beta1.custom.metrics.k8s.io"): "registered by the prometheus-adapter installation",
}
KUBECTL_VERBS = {"get", "describe", "delete", "patch", "scale", "wait", "edit", "label", "annotate", "logs", "exec",
                 "port-forward", "top", "rollout", "apply", "create", "kustomize", "diff", "version", "cp"}
# kubectl flags that take a value (the others are switches); the long forms are read as the short ones.
VALUE_FLAGS = {"-n", "-c", "-l", "-o", "-p", "-f", "-k", "--type", "--replicas", "--for", "--timeout", "--since", "--tail",
               "--from-literal", "--from-file", "--cert", "--key", "--raw", "--field-selector", "--sort-by", "--dry-run",
               "--context", "--to-revision", "--template"}
LONG = {"--namespace": "-n", "--container": "-c", "--selector": "-l", "--output": "-o", "--patch": "-p",
        "--filename": "-f", "--kustomize": "-k"}
SEPARATORS = {"|", "||", "&&", ";", "&", "(", ")", ";;"}
REDIRECTIONS = {">", ">>", "<", "<<", ">&", "<&", ">|"}
KEYWORDS = {"do", "done", "then", "else", "fi", "{", "}"}
# A name in backticks is taken for a metric when it has labels, a Prometheus suffix, or a catalogue family's prefix.
METRIC = re.compile(r"([a-z][a-z0-9]*(?:_[a-z0-9]+)+)(\{[^}]*\})?")
METRIC_SUFFIXES = ("_total", "_seconds", "_bytes", "_cores", "_fds", "_bucket", "_count", "_sum", "_info")
METRIC_FAMILIES = ("rtp_", "sip_", "process_", "answer_ninja_", "websocket_", "concurrent_", "store_journal_", "cache_",
                   "conversation_", "http_requests", "media_sessions", "turn_latency", "call_stage", "calls_", "webhook_")
HISTOGRAM_SERIES = ("_bucket", "_sum", "_count")
ALERT = re.compile(r"\bAnswerNinja[A-Z][A-Za-z]*\b")
# An absolute path a command inside a pod reads or writes (alone, or after `unix:`, `--opt=`).
POD_PATH = re.compile(r"(?:^|(?<=[:=]))(/(?:run|var|etc|tmp|data)(?:/[\w.-]+)*)")


# --- markdown and shell -------------------------------------------------------------------------------------------

def sh_blocks(text):
    return re.findall(r"^```sh\n(.*?)^```", text, re.M | re.S)


def prose(text):
    return re.sub(r"^```.*?^```", "", text, flags=re.M | re.S)


def inline_code(text):
    """The prose's code spans, each on one line (a span may wrap)."""
    return [" ".join(span.split()) for span in re.findall(r"`([^`]+)`", prose(text))]


def section(text, heading):
    """The text under a heading, to the next heading of its level or higher."""
    level = len(heading) - len(heading.lstrip("#"))
    match = re.search(rf"^{re.escape(heading)}\b.*$", text, re.M)
    if not match:
        return ""
    end = re.search(rf"^#{{1,{level}}} ", text[match.end():], re.M)
    return text[match.end():match.end() + end.start()] if end else text[match.end():]


def substitutions(line):
    """The line with each $(...) outside single quotes replaced by `$SUBST<n>`, and the commands inside."""
    out, inner, quote, i = [], [], None, 0
    while i < len(line):
        char = line[i]
        if quote == "'":
            quote = None if char == "'" else quote
        elif char == "'" and quote is None:
            quote = "'"
        elif char == '"':
            quote = None if quote == '"' else '"'
        elif line.startswith("$(", i):
            depth, j = 1, i + 2
            while j < len(line) and depth:
                depth += {"(": 1, ")": -1}.get(line[j], 0)
                j += 1
            out.append(f"$SUBST{len(inner)}")
            inner.append(line[i + 2:j - 1])
            i = j
            continue
        out.append(char)
        i += 1
    return "".join(out), inner


def simple_commands(script, bindings=None):
    """The simple commands of a shell script, each a list of words: continuation lines joined, comments dropped,
    $(...) taken out as commands of their own, split at | || && ; and the shell's keywords, redirections and leading
    assignments removed. `for VAR in $(...)` binds VAR to the command that lists its values (in `bindings`)."""
    bindings = {} if bindings is None else bindings
    commands = []
    for line in script.replace("\\\n", " ").splitlines():
        line, inner = substitutions(line)
        listed = [simple_commands(command, bindings) for command in inner]
        for found in listed:
            commands += found
        lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|<>()")
        lexer.whitespace_split = True
        lexer.commenters = "#"
        current, skip = [], False
        for token in list(lexer) + [";"]:
            if skip:
                skip = False
            elif token in REDIRECTIONS:
                skip = True
            elif token in SEPARATORS:
                while current and re.fullmatch(r"[A-Za-z_]\w*=.*", current[0]):
                    current.pop(0)
                if current and current[0] == "for":
                    if len(current) == 4 and current[2] == "in" and re.fullmatch(r"\$SUBST\d+", current[3]):
                        source = listed[int(current[3][6:])]
                        bindings[current[1]] = source[-1] if source else []
                elif current:
                    commands.append(current)
                current = []
            elif not current and token in KEYWORDS:
                continue
            else:
                current.append(token)
    return commands


def parse_kubectl(words):
    """(flags: name -> [values], positional words, the command after `--`)."""
    flags, positional, inner, i = {}, [], None, 1
    while i < len(words):
        word = words[i]
        if word == "--":
            inner = words[i + 1:]
            break
        if word.startswith("-") and word != "-":
            name, equals, value = word.partition("=")
            name = LONG.get(name, name)
            if equals:
                flags.setdefault(name, []).append(value)
            elif name in VALUE_FLAGS:
                flags.setdefault(name, []).append(words[i + 1] if i + 1 < len(words) else "")
                i += 1
            else:
                flags.setdefault(name, []).append(True)
        else:
            positional.append(word)
        i += 1
    return flags, positional, inner


def parse_selector(selector):
    """[(key, operator, values)] of a label selector: k=v, k==v, k!=v, k in (a,b), k notin (a,b), k, !k."""
    terms = []
    for term in re.split(r",(?![^()]*\))", selector):
        term = term.strip()
        if match := re.fullmatch(r"([\w./-]+)\s+(in|notin)\s+\(([^)]*)\)", term):
            terms.append((match[1], match[2], [v.strip() for v in match[3].split(",")]))
        elif match := re.fullmatch(r"([\w./-]+)\s*(==|=|!=)\s*([\w.-]*)", term):
            terms.append((match[1], "!=" if match[2] == "!=" else "=", [match[3]]))
        elif match := re.fullmatch(r"(!?)([\w./-]+)", term):
            terms.append((match[2], "absent" if match[1] else "present", []))
        else:
            terms.append((term, "invalid", []))
    return terms


def selected(labels, terms):
    for key, operator, values in terms:
        value = labels.get(key)
        if (operator in ("=", "in") and value not in values or operator in ("!=", "notin") and value in values
                or operator == "present" and key not in labels or operator == "absent" and key in labels
                or operator == "invalid"):
            return False
    return True


def help_subcommands(text):
    section_text = text.split("SUBCOMMANDS:", 1)[1] if "SUBCOMMANDS:" in text else ""
    return set(re.findall(r"^  ([a-z][\w-]*)\s", section_text, re.M))


def under(path, mount):
    return path == mount or path.startswith(mount.rstrip("/") + "/")


# --- what the runbook is checked against --------------------------------------------------------------------------

class Runbook:
    """The rendered overlays, the binary, the alerts and the edge's modules; each method returns the problems it
    finds in a runbook's text (an empty list: none)."""

    def __init__(self, rendered, catalogue):
        self.docs = {overlay: documents(rendered, overlay) for overlay in OVERLAYS}
        self.catalogue = catalogue
        self.helps = {}
        self.edge = EDGE_CONFIG.read_text()
        self.alerts = {rule["alert"] for group in yaml.safe_load(RULES.read_text())["spec"]["groups"]
                       for rule in group["rules"] if "alert" in rule}
        self.created = self.secrets_docs_create()
        self.used = self.secrets_used()

    # objects of the render

    def objects(self, kind, name=None, namespace=None):
        """(overlay, object) of a kind, by name and namespace when given."""
        return [(overlay, d) for overlay, docs in self.docs.items() for d in docs if d["kind"] == kind
                and (name is None or d["metadata"]["name"] == name)
                and (namespace is None or d["metadata"].get("namespace") == namespace)]

    def templates(self, namespace):
        """(overlay, workload, pod labels, pod spec) of every workload in a namespace."""
        return [(overlay, w, w["spec"]["template"].get("metadata", {}).get("labels", {}), pod_spec(w))
                for overlay, docs in self.docs.items() for w in workloads(docs)
                if w["metadata"].get("namespace") == namespace]

    def namespaces(self):
        return {d["metadata"]["name"] for _, d in self.objects("Namespace")} | {
            d["metadata"].get("namespace") for docs in self.docs.values() for d in docs} - {None}

    def labelled(self, kind, namespace):
        """The label sets of what `kubectl get KIND -l ...` lists in a namespace."""
        if kind == "Pod":
            return [labels for _, _, labels, _ in self.templates(namespace)]
        found = [d["metadata"].get("labels", {}) for _, d in self.objects(kind, namespace=namespace)]
        if kind == "PersistentVolumeClaim":
            found += [t["metadata"].get("labels", {}) for _, s in self.objects("StatefulSet", namespace=namespace)
                      for t in s["spec"].get("volumeClaimTemplates", [])]
        return found

    def secrets_used(self):
        """(namespace, name) -> the keys the manifests read from that Secret (None: every key)."""
        used = {}

        def add(namespace, name, items):
            keys = used.setdefault((namespace, name), set())
            if keys is not None:
                used[(namespace, name)] = None if items is None else keys | {i["key"] for i in items}

        for overlay, workload, _, spec in self.templates(NAMESPACE):
            for volume in spec.get("volumes", []):
                if "secret" in volume:
                    add(NAMESPACE, volume["secret"]["secretName"], volume["secret"].get("items"))
                for source in volume.get("projected", {}).get("sources", []):
                    if "secret" in source:
                        add(NAMESPACE, source["secret"]["name"], source["secret"].get("items"))
            for container in containers(spec):
                for entry in container.get("env", []):
                    if ref := entry.get("valueFrom", {}).get("secretKeyRef"):
                        add(NAMESPACE, ref["name"], [{"key": ref["key"]}])
        # The Istio ingress gateway reads its certificates in its own namespace.
        for _, gateway in self.objects("Gateway"):
            for server in gateway["spec"]["servers"]:
                if name := server.get("tls", {}).get("credentialName"):
                    add("istio-system", name, None)
        return used

    def secrets_docs_create(self):
        """(namespace, name) -> the keys docs/kubernetes.md's `kubectl create secret` lines give it."""
        created = {}
        for block in sh_blocks(DOCS.read_text()):
            for words in simple_commands(block):
                if words[:3] != ["kubectl", "create", "secret"]:
                    continue
                flags, positional, _ = parse_kubectl(words)
                keys = {"tls.crt", "tls.key"} if positional[2] == "tls" else set()
                keys |= {v.split("=", 1)[0] for flag in ("--from-literal", "--from-file") for v in flags.get(flag, [])}
                created.setdefault(((flags.get("-n") or [None])[0], positional[3]), set()).update(keys)
        return created

    def pod_targets(self, name, namespace, bindings):
        """(overlay, pod spec) of what a pod name stands for: a StatefulSet's pod by index, or a variable bound to a
        `kubectl get pods -l ...` listing; or a problem."""
        if name.startswith("$"):
            source = bindings.get(name.lstrip("$").strip("{}"))
            if not source or source[0] != "kubectl":
                return [], f"the pod name {name} comes from nothing the runbook lists"
            flags, positional, _ = parse_kubectl(source)
            terms = parse_selector((flags.get("-l") or [""])[0])
            found = [(o, spec) for o, _, labels, spec in self.templates((flags.get("-n") or [None])[0])
                     if selected(labels, terms)]
            return found, None if found else f"the pods {name} stands for are none"
        match = re.fullmatch(r"(.+)-(\d+)", name)
        found = []
        for overlay, sts in self.objects("StatefulSet", match[1] if match else name, namespace):
            if int(match[2]) < max_replicas(self.docs[overlay], sts):
                found.append((overlay, pod_spec(sts)))
        return found, None if found else f"pod {name} in {namespace}: no StatefulSet of the overlays has it"

    # the checks

    def topic_problems(self, text):
        problems = []
        headings = [line for line in text.splitlines() if line.startswith("#")]
        for topic, heading in TOPICS.items():
            if not any(re.fullmatch(rf"{re.escape(heading)}\b.*", line) for line in headings):
                problems.append(f"no heading for {topic!r} ({heading} ...)")
        troubleshooting = section(text, TOPICS["troubleshoot"])
        for topic in TROUBLESHOOTING:
            if not re.search(rf"^{re.escape(TOPICS[topic])}\b", troubleshooting, re.M):
                problems.append(f"{topic!r} is not under {TOPICS['troubleshoot']}")
        return problems

    def link_problems(self, text):
        return [f"link {target} leads nowhere" for target in re.findall(r"\]\(([^)#\s]+)", text)
                if "://" not in target and not (README.parent / target).exists()]

    def alert_problems(self, text):
        return [f"alert {name} is not in {RULES.relative_to(ROOT)}" for name in sorted(set(ALERT.findall(text)) - self.alerts)]

    def metric(self, name):
        """The catalogue entry a series name belongs to (a histogram's _bucket, _sum and _count too)."""
        if name in self.catalogue:
            return self.catalogue[name]
        for suffix in HISTOGRAM_SERIES:
            base = name.removesuffix(suffix)
            if base != name and self.catalogue.get(base, {}).get("kind") == "histogram":
                return self.catalogue[base]
        return None

    def metric_problems(self, text):
        problems = []
        for span in inline_code(text):
            match = METRIC.fullmatch(span)
            if not match or not (match[2] or match[1].endswith(METRIC_SUFFIXES) or match[1].startswith(METRIC_FAMILIES)):
                continue
            entry = self.metric(match[1])
            if entry is None:
                problems.append(f"metric {match[1]} is not in `answer-ninja metrics --json`")
                continue
            for label in re.findall(r"(\w+)\s*!?=~?", match[2] or ""):
                if label not in entry["labels"]:
                    problems.append(f"metric {match[1]} has no label {label} (it has {entry['labels']})")
        return problems

    def table_problems(self, text):
        """The Scale section's table against the rendered HPAs: names, metrics, targets, bounds per overlay."""
        problems, seen = [], set()
        table = [line for line in section(text, TOPICS["scale"]).splitlines() if line.startswith("| `")]
        if not table:
            return ["the Scale section has no table of the HPAs"]
        for row in table:
            cells = [cell.strip() for cell in row.strip().strip("|").split("|")]
            bounds = [b.strip() for b in cells[2].split("/")]
            if len(bounds) != len(OVERLAYS):
                problems.append(f"{row}: bounds for {' / '.join(OVERLAYS)} expected")
                continue
            for name in re.findall(r"`([\w-]+)`", cells[0]):
                seen.add(name)
                for overlay, bound in zip(OVERLAYS, bounds):
                    hpa = find(self.docs[overlay], "HorizontalPodAutoscaler")
                    hpa = next((h for h in hpa if h["metadata"]["name"] == name), None)
                    if hpa is None:
                        if bound != "none":
                            problems.append(f"HPA {name} in {overlay}: the table says {bound}, the overlay has none")
                        continue
                    actual = f"{hpa['spec'].get('minReplicas', 1)}-{hpa['spec']['maxReplicas']}"
                    if bound != actual:
                        problems.append(f"HPA {name} in {overlay}: the table says {bound}, the overlay {actual}")
                    for metric in hpa["spec"]["metrics"]:
                        if metric["type"] == "Pods":
                            named = [m[1] for m in (METRIC.fullmatch(s) for s in re.findall(r"`([^`]+)`", cells[1])) if m]
                            target = metric["pods"]["target"]["averageValue"]
                            if metric["pods"]["metric"]["name"] not in named or not re.search(rf"\b{target}\b", cells[1]):
                                problems.append(f"HPA {name} in {overlay} scales on {metric['pods']['metric']['name']} "
                                                f"at {target} a pod; the table says {cells[1]}")
                        elif metric["type"] == "Resource":
                            resource = metric["resource"]["name"]
                            utilisation = metric["resource"]["target"]["averageUtilization"]
                            if not re.search(rf"\b{resource}\s+{utilisation}\s*%", cells[1], re.I):
                                problems.append(f"HPA {name} in {overlay} scales on {resource} at {utilisation} %; "
                                                f"the table says {cells[1]}")
        rendered_names = {h["metadata"]["name"] for _, h in self.objects("HorizontalPodAutoscaler")}
        problems += [f"HPA {name} is not in the table" for name in sorted(rendered_names - seen)]
        return problems

    def secret_table_problems(self, text):
        """The Rotate secrets table names every Secret the manifests read, and only those, with keys they are given."""
        rows = [line for line in section(text, TOPICS["rotate secrets"]).splitlines() if line.startswith("| `")]
        if not rows:
            return ["the Rotate secrets section has no table of the Secrets"]
        named = {}
        for row in rows:
            # `name` (`key`, ...), `name`, ...: the keys in parentheses are the preceding name's.
            for name, keys in re.findall(r"`([^`]+)`((?:\s*\([^)]*\))?)", row.strip().strip("|").split("|")[0]):
                named[name] = set(re.findall(r"`([^`]+)`", keys))
        read = {name: namespace for namespace, name in self.used}
        problems = [f"Secret {name} is read by the manifests, and not in the table" for name in sorted(set(read) - set(named))]
        problems += [f"Secret {name} of the table is read by no manifest" for name in sorted(set(named) - set(read))]
        for name in sorted(set(named) & set(read)):
            if (read[name], name) not in self.created:
                problems.append(f"Secret {name}: docs/kubernetes.md does not create it")
            else:
                problems += self.key_problems(name, read[name], named[name])
        return problems

    # commands

    def command_problems(self, text):
        problems = []
        for block in sh_blocks(text):
            cwd, bindings = ROOT, {}
            for words in simple_commands(block, bindings):
                if words[0] == "cd":
                    target = (cwd / words[1]).resolve() if len(words) > 1 and words[1] != "-" else ROOT
                    if not target.is_dir():
                        problems.append(f"cd {words[1]}: no such directory")
                    cwd = target if target.is_dir() else cwd
                    continue
                problems += self.top_level(words, cwd, bindings)
        for span in inline_code(text):
            if re.match(r"(kubectl|answer-ninja|kustomize) ", span):
                for words in simple_commands(span):
                    problems += self.top_level(words, ROOT, {})
        return problems

    def top_level(self, words, cwd, bindings):
        if words[0] == "kubectl":
            return self.kubectl(words, cwd, bindings)
        if words[0] == "answer-ninja":
            return self.answer_ninja(words)
        if words[0] == "kustomize":
            return self.kustomize(words, cwd)
        if words[0] == "grep":
            return self.grep(words)
        if words[0].endswith("/python") and words[1:3] == ["-m", "pytest"]:
            return [f"{w}: no such test file" for w in words[3:] if not w.startswith("-") and not (cwd / w).exists()]
        if words[0] == "tools/test":
            script = (cwd / words[0])
            if not script.exists():
                return ["tools/test is missing"]
            tiers = set(re.findall(r"^\s+(\w+)\)", script.read_text(), re.M))
            return [f"tools/test has no tier {tier}" for tier in words[1:] if tier not in tiers]
        return []

    def grep(self, words):
        """A grep for a series at the start of a /metrics line names the start of an exported name."""
        names = set(self.catalogue) | {name + suffix for name, entry in self.catalogue.items()
                                       if entry["kind"] == "histogram" for suffix in HISTOGRAM_SERIES}
        problems = []
        for pattern in words[1:]:
            if match := re.match(r"\^([a-z_][a-z0-9_]*)", pattern):
                if not any(name.startswith(match[1]) for name in names):
                    problems.append(f"grep {pattern}: no exported metric starts so")
        return problems

    def kustomize(self, words, cwd):
        if words[1:4] != ["edit", "set", "image"]:
            return [f"{' '.join(words)}: only `kustomize edit set image` is expected"]
        problems = []
        if not (cwd / "kustomization.yaml").exists() or cwd.parent != ROOT / "deploy" / "k8s" / "overlays":
            problems.append(f"kustomize edit set image in {cwd}: not an overlay of deploy/k8s")
        images = {image_name(c["image"]) for docs in self.docs.values() for w in workloads(docs)
                  for c in containers(pod_spec(w))}
        for change in words[4:]:
            name, _, new = change.partition("=")
            if name not in images:
                problems.append(f"kustomize edit set image {name}: no container runs image {name}")
            if new and image_name(new.split("@")[0]).rsplit("/", 1)[-1] != name.rsplit("/", 1)[-1]:
                problems.append(f"kustomize edit set image {change}: not the same image in another registry")
        return problems

    def answer_ninja(self, words):
        """Each word a subcommand while the help names subcommands (an unknown one gets the parent's help, exit 0),
        then every --option one the subcommand's help lists."""
        rest, path = list(words[1:]), ()
        if not rest:
            return []
        while subcommands := help_subcommands(self.help(path) or ""):
            if not rest or rest[0] not in subcommands:
                named = " ".join(path + tuple(rest[:1]))
                return [f"answer-ninja {named}: not a subcommand of the binary (one of {sorted(subcommands)})"]
            path += (rest.pop(0),)
        text = self.help(path)
        if text is None:
            return [f"answer-ninja {' '.join(path)} --help fails"]
        return [f"answer-ninja {' '.join(path)} has no option {word.split('=')[0]}" for word in rest
                if word.startswith("--") and not re.search(rf"(?<![\w-]){re.escape(word.split('=')[0])}(?![\w-])", text)]

    def help(self, path):
        if path not in self.helps:
            result = run_binary(*path, "--help")
            self.helps[path] = result.stdout if result.returncode == 0 else None
        return self.helps[path]

    def kubectl(self, words, cwd, bindings):
        flags, positional, inner = parse_kubectl(words)
        if not positional:
            return []
        verb, args = positional[0], positional[1:]
        if verb not in KUBECTL_VERBS:
            return [f"kubectl {verb}: not a verb the runbook is checked for"]
        namespace = (flags.get("-n") or [None])[0]
        problems = []
        if verb == "kustomize" or "-k" in flags:
            for path in args[:1] if verb == "kustomize" else flags["-k"]:
                if not (cwd / path / "kustomization.yaml").exists():
                    problems.append(f"kubectl {verb} {path}: no kustomization there")
            return problems
        if verb in ("apply", "version") or "-f" in flags:
            return problems
        if verb == "get" and "--raw" in flags:
            return self.raw(flags["--raw"][0], bindings)
        if verb == "create":
            if args[:1] == ["secret"] and len(args) >= 3:
                problems += self.secret(args[2], namespace, words, args[1])
            elif args[:1] not in (["namespace"], ["secret"]):
                problems.append(f"kubectl create {' '.join(args)}: only Secrets and the namespace are created by hand")
            return problems
        if verb == "rollout":
            if not args:
                return ["kubectl rollout without a subcommand"]
            args = args[1:]
        if verb == "top":
            args = args[1:] if args[:1] in (["pods"], ["pod"], ["nodes"], ["node"]) else args
        kinds, references, kind_given = [], [], False
        for arg in args:
            if "/" in arg:
                kind, _, name = arg.partition("/")
                if kind not in KINDS:
                    problems.append(f"kubectl {verb}: unknown kind {kind}")
                    continue
                references.append((KINDS[kind], name))
            elif verb in ("logs", "exec", "port-forward", "cp"):
                references.append(("Pod", arg))
            elif not kind_given:
                kind_given = True
                unknown = [k for k in arg.split(",") if k not in KINDS]
                if unknown:
                    problems.append(f"kubectl {verb}: unknown kind {', '.join(unknown)}")
                    continue
                kinds = [KINDS[k] for k in arg.split(",")]
            else:
                references += [(kind, arg) for kind in kinds[:1]]
        if verb == "top" and not kinds:
            kinds = ["Pod"]
        listed = [kind for kind in kinds if not any(ref[0] == kind for ref in references)]
        if verb in ("logs", "exec") and not references and "-l" in flags:
            listed = ["Pod"]
        namespaced = [k for k in [r[0] for r in references] + listed if k not in CLUSTER_SCOPED]
        if namespaced and namespace is None:
            problems.append(f"kubectl {verb} {' '.join(args)}: no namespace (-n)")
            return problems
        if namespace is not None and namespace not in self.namespaces():
            problems.append(f"namespace {namespace} is in no overlay")
            return problems
        if verb == "rollout":
            problems += [f"kubectl rollout {positional[1]} {kind}/{name}: a {kind} does not roll out"
                         for kind, name in references if kind not in ROLLS_OUT]
        targets = []  # (overlay, pod spec) the command reaches
        for kind, name in references:
            found, problem = self.reference(kind, name, namespace, bindings)
            targets += found
            if problem:
                problems.append(problem)
        if "-l" in flags:
            terms = parse_selector(flags["-l"][0])
            for kind in listed or [r[0] for r in references]:
                if not any(selected(labels, terms) for labels in self.labelled(kind, namespace)):
                    problems.append(f"-l {flags['-l'][0]}: selects no {kind} in {namespace}")
            if "Pod" in listed:
                targets += [(o, spec) for o, _, labels, spec in self.templates(namespace) if selected(labels, terms)]
        if "-c" in flags:
            container = flags["-c"][0]
            missing = {tuple(c["name"] for c in containers(spec)) for _, spec in targets
                       if container not in [c["name"] for c in containers(spec)]}
            problems += [f"-c {container}: not a container of the pod ({', '.join(names)})" for names in sorted(missing)]
        if verb == "patch":
            problems += self.patch(references, namespace, flags)
        if inner:
            problems += self.inside(inner, targets, (flags.get("-c") or [None])[0])
        return problems

    def reference(self, kind, name, namespace, bindings):
        """(overlay, pod spec) of what a named object runs, and a problem if it is not what the overlays render."""
        namespace = None if kind in CLUSTER_SCOPED else namespace
        if (kind, name) in OUTSIDE:
            return [], None
        if kind == "Pod":
            return self.pod_targets(name, namespace, bindings)
        if kind == "Secret":
            return [], (self.secret(name, namespace, [], None) or [None])[0]
        if kind == "Endpoints":
            kind = "Service"
        if kind == "Namespace":
            return [], None if name in self.namespaces() else f"namespace {name} is in no overlay"
        found = self.objects(kind, name, namespace)
        if not found:
            return [], f"{kind} {name} is in no overlay (namespace {namespace})"
        return [(o, pod_spec(d)) for o, d in found if "template" in d.get("spec", {})], None

    def secret(self, name, namespace, words, secret_type):
        """A Secret the manifests read and docs/kubernetes.md creates; keys given with --from-* only those."""
        if (namespace, name) not in self.used:
            return [f"Secret {name} in {namespace}: the manifests read no such Secret"]
        if (namespace, name) not in self.created:
            return [f"Secret {name} in {namespace}: docs/kubernetes.md does not create it"]
        flags, _, _ = parse_kubectl(words) if words else ({}, [], None)
        keys = {v.split("=", 1)[0] for flag in ("--from-literal", "--from-file") for v in flags.get(flag, [])}
        if secret_type == "tls":
            keys |= {"tls.crt", "tls.key"}
        return self.key_problems(name, namespace, keys)

    def key_problems(self, name, namespace, keys):
        read, created = self.used[(namespace, name)], self.created[(namespace, name)]
        return [f"Secret {name}: key {key} is not one docs/kubernetes.md gives it" for key in sorted(keys - created)] + \
            [f"Secret {name}: key {key} is read by no manifest" for key in sorted(keys) if read is not None and key not in read]

    def patch(self, references, namespace, flags):
        problems = []
        try:
            body = json.loads(flags.get("-p", ["{}"])[0])
        except json.JSONDecodeError as error:
            return [f"kubectl patch -p: not JSON ({error})"]
        for kind, name in references:
            if kind == "Secret" and (namespace, name) in self.used:
                keys = set(body.get("stringData", {})) | set(body.get("data", {}))
                problems += self.key_problems(name, namespace, keys)
            elif kind == "HorizontalPodAutoscaler":
                unknown = set(body.get("spec", {})) - {"minReplicas", "maxReplicas", "metrics", "behavior"}
                problems += [f"kubectl patch hpa {name}: no field spec.{field}" for field in sorted(unknown)]
        return problems

    def raw(self, path, bindings):
        if match := re.fullmatch(r"/apis/custom\.metrics\.k8s\.io/v1beta1/namespaces/([^/]+)/pods/\*/(\w+)", path):
            namespace, metric = match.groups()
            served = {rule["name"]["as"] for _, cm in self.objects("ConfigMap", "adapter-config")
                      for rule in yaml.safe_load(cm["data"]["config.yaml"])["rules"]}
            read = {m["pods"]["metric"]["name"] for _, h in self.objects("HorizontalPodAutoscaler", namespace=namespace)
                    for m in h["spec"]["metrics"] if m["type"] == "Pods"}
            problems = [] if metric in served else [f"custom metric {metric}: no prometheus-adapter rule serves it"]
            problems += [] if metric in read else [f"custom metric {metric}: no HPA in {namespace} reads it"]
            return problems + ([] if metric in self.catalogue else [f"custom metric {metric} is not in the catalogue"])
        if match := re.fullmatch(r"/api/v1/namespaces/([^/]+)/pods/([^/:]+)(?::(\w+))?/proxy(/.*)", path):
            namespace, pod, port, route = match.groups()
            found, problem = self.pod_targets(pod, namespace, bindings)
            if problem:
                return [problem]
            problems = []
            ports = {str(v) for _, spec in found for c in containers(spec) for p in c.get("ports", [])
                     for v in (p["containerPort"], p.get("name"))}
            if port and port not in ports:
                problems.append(f"pod {pod} has no port {port} (it has {sorted(ports)})")
            routes = {c[kind]["httpGet"]["path"] for _, spec in found for c in containers(spec)
                      for kind in ("livenessProbe", "readinessProbe", "startupProbe") if "httpGet" in c.get(kind, {})}
            routes |= {e["path"] for _, sm in self.objects("ServiceMonitor") for e in sm["spec"]["endpoints"]}
            if route not in routes:
                problems.append(f"pod {pod} serves no {route} the manifests name ({sorted(routes)})")
            return problems
        return [f"kubectl get --raw {path}: a path the runbook is not checked for"]

    def inside(self, command, targets, container_name):
        """What runs in a container: its paths mounted there, pg_* with the database's user and name, kamcmd on the
        edge's socket with methods of its modules, answer-ninja in our image."""
        chosen = [c for _, spec in targets for c in containers(spec)
                  if c["name"] == container_name or container_name is None and c is spec["containers"][0]]
        if not chosen:
            return [f"{' '.join(command)}: runs in no container the overlays render"]
        script = command[command.index("-c") + 1] if command[0] in ("sh", "bash") and "-c" in command else None
        commands = simple_commands(script) if script is not None else [command]
        problems = []
        for words in commands:
            for word in words:
                for path in POD_PATH.findall(word):
                    for container in chosen:
                        mounts = [m["mountPath"] for m in container.get("volumeMounts", [])]
                        if not any(under(path, mount) for mount in mounts):
                            problems.append(f"{path}: not mounted in container {container['name']} ({', '.join(mounts)})")
            if words[0] in ("pg_dump", "pg_restore", "psql"):
                for flag, variable in (("-U", "POSTGRES_USER"), ("-d", "POSTGRES_DB")):
                    for container in chosen:
                        expected = env_value(container, variable)
                        given = next((words[i + 1] for i, w in enumerate(words[:-1]) if w == flag), None)
                        if given != expected:
                            problems.append(f"{words[0]} {flag} {given}: the container's {variable} is {expected}")
            if words[0] == "kamcmd":
                problems += self.kamcmd(words)
            if words[0] == "answer-ninja":
                problems += [f"answer-ninja runs in container {c['name']}, whose image is {c['image']}"
                             for c in chosen if not is_ours(c)]
                problems += self.answer_ninja(words)
        return sorted(set(problems))

    def kamcmd(self, words):
        """`kamcmd -s SOCKET METHOD ...`: the ctl socket of kamailio.cfg, a method of a module it loads."""
        tool("kamailio")
        socket = re.search(r'#!define CTL_SOCKET "([^"]+)"', self.edge)[1]
        modules = Path(re.search(r'^mpath="([^"]+)"', self.edge, re.M)[1])
        given = next((words[i + 1] for i, w in enumerate(words[:-1]) if w == "-s"), None)
        problems = [] if given == socket else [f"kamcmd -s {given}: the edge's ctl socket is {socket}"]
        method = next((w for w in words[1:] if not w.startswith("-") and w != given), None)
        if method is None:
            return problems + ["kamcmd without an RPC method"]
        module = method.split(".")[0]
        if not re.search(rf'^\s*loadmodule "{re.escape(module)}\.so"', self.edge, re.M):
            return problems + [f"kamcmd {method}: kamailio.cfg loads no module {module}"]
        library = modules / f"{module}.so"
        if not library.exists():
            return problems + [f"kamcmd {method}: {library} is missing (the kamailio packages install it)"]
        # The RPC names are C strings in the module (the linker may share the tail of a longer string).
        if method.encode() + b"\0" not in library.read_bytes():
            problems.append(f"kamcmd {method}: module {module} has no such RPC method")
        return problems


@pytest.fixture(scope="module")
def runbook(rendered, catalogue):
    return Runbook(rendered, catalogue)


@pytest.fixture(scope="module")
def text():
    return README.read_text()


# --- the runbook ------------------------------------------------------------------------------------------------

def test_the_runbook_covers_each_task_of_the_issue(runbook, text):
    assert runbook.topic_problems(text) == []


def test_every_command_names_what_the_overlays_render(runbook, text):
    assert runbook.command_problems(text) == []


def test_every_metric_named_is_exported(runbook, text):
    assert runbook.metric_problems(text) == []


def test_every_alert_named_is_in_the_rule(runbook, text):
    assert runbook.alert_problems(text) == []


def test_the_hpa_table_is_what_the_overlays_render(runbook, text):
    assert runbook.table_problems(text) == []


def test_the_secrets_table_names_every_secret_the_manifests_read(runbook, text):
    assert runbook.secret_table_problems(text) == []


def test_the_links_resolve(runbook, text):
    assert runbook.link_problems(text) == []


def test_the_runbook_says_how_to_run_the_checks_as_docs_kubernetes_does(text):
    docs_command = sh_blocks(section(DOCS.read_text(), "## What is checked"))
    assert docs_command, "docs/kubernetes.md's 'What is checked' has no command"
    checks = "".join(sh_blocks(section(text, TOPICS["the checks"])))
    assert docs_command[-1].strip() in checks, "the runbook's checks must include docs/kubernetes.md's command"
    assert "Tests/deploy/test_deploy_readme.py" in checks


# --- each check refuses what it is for ----------------------------------------------------------------------------

def sh(*lines):
    return "```sh\n" + "\n".join(lines) + "\n```\n"


BROKEN = [
    # (what is wrong, a runbook fragment, a word of the problem reported)
    ("an object no overlay renders", sh("kubectl -n answer-ninja rollout status statefulset/gatewy"), "gatewy"),
    ("the wrong namespace", sh("kubectl -n monitoring rollout status statefulset/gateway"), "gateway"),
    ("no namespace", sh("kubectl rollout status statefulset/gateway"), "no namespace"),
    ("a namespace no overlay has", sh("kubectl -n answer_ninja get hpa"), "answer_ninja"),
    ("an unknown kind", sh("kubectl -n answer-ninja get widget gateway"), "widget"),
    ("an unknown verb", sh("kubectl -n answer-ninja frob statefulset/gateway"), "frob"),
    ("a container the pod lacks", sh("kubectl -n answer-ninja logs deploy/api -c sidecar"), "sidecar"),
    ("a container of another pod", sh("kubectl -n answer-ninja logs -l app.kubernetes.io/component=gateway -c api"), "-c api"),
    ("a selector that selects nothing", sh("kubectl -n answer-ninja get pods -l app.kubernetes.io/component=switchboard"), "switchboard"),
    ("a pod index beyond the HPA's maximum", sh("kubectl -n answer-ninja delete pod gateway-10"), "gateway-10"),
    ("rollout on what does not roll out", sh("kubectl -n answer-ninja rollout restart hpa/gateway"), "does not roll out"),
    ("a Secret no manifest reads", sh("kubectl -n answer-ninja get secret answer-ninja-db"), "answer-ninja-db"),
    ("a Secret key docs/kubernetes.md does not give",
     sh("""kubectl -n answer-ninja patch secret answer-ninja-store --type merge -p '{"stringData":{"database-url":"x"}}'"""), "database-url"),
    ("a created Secret's unknown key", sh("kubectl create secret generic answer-ninja-api -n answer-ninja --from-literal=jwt=x"), "jwt"),
    ("a patch that is not JSON", sh("kubectl -n answer-ninja patch hpa gateway --type merge -p '{spec: 1}'"), "not JSON"),
    ("an HPA field that does not exist", sh("""kubectl -n answer-ninja patch hpa gateway --type merge -p '{"spec":{"replicas":4}}'"""), "spec.replicas"),
    ("an overlay that does not exist", sh("kubectl apply -k deploy/k8s/overlays/qa"), "overlays/qa"),
    ("a directory that does not exist", sh("cd deploy/k8s/overlays/qa"), "qa"),
    ("kustomize edit outside an overlay", sh("kustomize edit set image answer-ninja=R/answer-ninja:1.0.0"), "not an overlay"),
    ("kustomize edit of an image nobody runs", sh("cd deploy/k8s/overlays/prod", "kustomize edit set image answer-ninja-gw=R/answer-ninja-gw:1"), "answer-ninja-gw"),
    ("a custom metric no adapter rule serves",
     sh('kubectl get --raw "/apis/custom.metrics.k8s.io/v1beta1/namespaces/answer-ninja/pods/*/calls_in_progress"'), "calls_in_progress"),
    ("a port the pod does not have", sh('kubectl get --raw "/api/v1/namespaces/answer-ninja/pods/gateway-0:9090/proxy/metrics"'), "9090"),
    ("a path the pod does not serve", sh('kubectl get --raw "/api/v1/namespaces/answer-ninja/pods/gateway-0:8080/proxy/stats"'), "/stats"),
    ("a path the container does not mount", sh("kubectl -n answer-ninja exec deploy/api -c api -- ls /var/lib/postgresql/data"), "/var/lib/postgresql/data"),
    ("the wrong database user",
     sh("kubectl -n answer-ninja exec statefulset/postgres -c postgres -- pg_dump -U postgres -d answer_ninja"), "POSTGRES_USER"),
    ("a path inside sh -c the container does not mount",
     sh("""kubectl -n answer-ninja exec statefulset/postgres -c postgres -- sh -c 'cat /run/secrets/answer-ninja/postgres-url'"""), "/run/secrets/answer-ninja"),
    ("an RPC method the module lacks",
     sh("kubectl -n answer-ninja exec deploy/kamailio -c kamailio -- kamcmd -s unix:/run/kamailio/kamailio_ctl uac.reg_list"), "uac.reg_list"),
    ("a module the edge does not load",
     sh("kubectl -n answer-ninja exec deploy/kamailio -c kamailio -- kamcmd -s unix:/run/kamailio/kamailio_ctl usrloc.dump"), "usrloc"),
    ("another ctl socket",
     sh("kubectl -n answer-ninja exec deploy/kamailio -c kamailio -- kamcmd -s unix:/var/run/kamailio/kamailio_ctl dispatcher.list"), "ctl socket"),
    ("answer-ninja in another image", sh("kubectl -n answer-ninja exec deploy/kamailio -c kamailio -- answer-ninja version"), "whose image"),
    ("a pod variable bound to nothing", sh('kubectl -n answer-ninja exec "$pod" -c kamailio -- kamcmd dispatcher.list'), "$pod"),
    ("a subcommand the binary lacks", sh("answer-ninja frobnicate --json"), "frobnicate"),
    ("a nested subcommand the binary lacks", "Read it with `answer-ninja pcap dump FILE`.\n", "dump"),
    ("an option the subcommand lacks", sh("answer-ninja migrate --dry-run"), "--dry-run"),
    ("a test file that does not exist", sh(".venv/bin/python -m pytest -q Tests/deploy/test_nothing.py"), "test_nothing.py"),
    ("a tier tools/test does not have", sh("tools/test deploy nothing"), "nothing"),
    ("a grep for a metric nobody exports", sh("kubectl get --raw /api/v1/namespaces/answer-ninja/pods/gateway-0:8080/proxy/metrics | grep '^rtp_vanished'"), "rtp_vanished"),
    ("an inline command naming a missing object", "Then `kubectl -n answer-ninja rollout restart deployment/gatekeeper`.\n", "gatekeeper"),
]


@pytest.mark.parametrize("what, fragment, word", BROKEN, ids=[b[0] for b in BROKEN])
def test_the_command_checks_refuse(runbook, what, fragment, word):
    problems = runbook.command_problems(fragment)
    assert any(word in problem for problem in problems), f"{what} was not reported: {problems}"


def test_the_other_checks_refuse(runbook, text):
    assert any("rtp_packets_vanished_total" in p for p in runbook.metric_problems("See `rtp_packets_vanished_total`.\n"))
    assert any("codec" in p for p in runbook.metric_problems('See `rtp_packets_total{codec="pcmu"}`.\n'))
    assert any("AnswerNinjaImaginary" in p for p in runbook.alert_problems("Then AnswerNinjaImaginary fires.\n"))
    assert any("'scale'" in p for p in runbook.topic_problems(text.replace("\n## Scale\n", "\n## Sizes\n")))
    moved = text.replace("\n### One-way audio", "\n## One-way audio")
    assert any("'one-way audio' is not under" in p for p in runbook.topic_problems(moved))
    gateway_row = next(line for line in section(text, TOPICS["scale"]).splitlines() if line.startswith("| `gateway`"))
    assert any("gateway in prod" in p for p in runbook.table_problems(text.replace(gateway_row, gateway_row.replace("3-10", "2-10"))))
    assert any("scales on" in p for p in runbook.table_problems(text.replace(gateway_row, gateway_row.replace("100 a pod", "50 a pod"))))
    assert any("media is not in the table" in p for p in runbook.table_problems(text.replace("| `media` |", "| media |")))
    assert any("nowhere" in p for p in runbook.link_problems("See [the guide](../docs/nothing.md).\n"))
    kamailio_row = next(line for line in section(text, TOPICS["rotate secrets"]).splitlines() if line.startswith("| `kamailio-tls`"))
    assert any("kamailio-trunk is read by the manifests" in p
               for p in runbook.secret_table_problems(text.replace(kamailio_row, kamailio_row.replace(", `kamailio-trunk`", ""))))
    assert any("answer-ninja-db of the table" in p
               for p in runbook.secret_table_problems(text.replace(kamailio_row, kamailio_row.replace("`kamailio-tls`", "`kamailio-tls`, `answer-ninja-db`"))))
    assert any("key uacreg-table" in p
               for p in runbook.secret_table_problems(text.replace(kamailio_row, kamailio_row.replace("`uacreg`", "`uacreg-table`"))))
