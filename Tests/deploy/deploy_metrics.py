"""The metric names the deploy tree uses, so a test can hold them against the code's catalogue and a real scrape.

Sources read under deploy/:
- PrometheusRule objects: every rule's `expr`;
- Grafana dashboards (any JSON with `panels`): every target's `expr` and every query variable's query;
- HorizontalPodAutoscalers: the names of their Pods, Object and External metrics;
- prometheus-adapter configurations (a ConfigMap whose data holds a config with `rules:`, or such a file itself,
  for a configMapGenerator): each rule's seriesQuery and metricsQuery.

Names come out of a small PromQL tokenizer rather than a regular expression over the text: string literals, label
matchers, label lists after by/on/ignoring/group_left, durations and numbers hold identifiers that are not metrics."""
import json
import re
from pathlib import Path

import yaml

# PromQL's functions and aggregation operators (Prometheus 2.x and 3.x); an identifier before "(" must be one.
FUNCTIONS = frozenset("""
    abs absent absent_over_time acos acosh asin asinh atan atanh avg_over_time ceil changes clamp clamp_max clamp_min
    cos cosh count_over_time days_in_month day_of_month day_of_week day_of_year deg delta deriv double_exponential_smoothing
    exp floor histogram_avg histogram_count histogram_fraction histogram_quantile histogram_stddev histogram_stdvar
    histogram_sum holt_winters hour idelta increase info irate label_join label_replace last_over_time ln log10 log2
    mad_over_time max_over_time min_over_time minute month pi predict_linear present_over_time quantile_over_time rad
    rate resets round scalar sgn sin sinh sort sort_by_label sort_by_label_desc sort_desc sqrt stddev_over_time
    stdvar_over_time sum_over_time tan tanh time timestamp vector year
    sum min max avg group stddev stdvar count count_values bottomk topk quantile limitk limit_ratio
    start end
""".split())
AGGREGATIONS = frozenset("sum min max avg group stddev stdvar count count_values bottomk topk quantile limitk limit_ratio".split())
# Keywords; those in LABEL_LIST_KEYWORDS take a parenthesised list of label names.
KEYWORDS = frozenset("by without on ignoring group_left group_right bool and or unless offset atan2".split())
LABEL_LIST_KEYWORDS = frozenset("by without on ignoring group_left group_right".split())
LITERALS = frozenset(("inf", "nan"))

IDENTIFIER = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")
DURATION = re.compile(r"(?:[0-9]+(?:ms|[smhdwy]))+")
NUMBER = re.compile(r"0[xX][0-9a-fA-F]+|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")
# prometheus-adapter's Go templates: <<.Series>>, <<.LabelMatchers>>, <<.GroupBy>>.
ADAPTER_TEMPLATE = re.compile(r"<<[^>]*>>")
# Grafana's variables: $__rate_interval, ${DS_PROMETHEUS}, [[var]], $var.
GRAFANA_INTERVAL = re.compile(r"\$(?:__rate_interval|__interval|__range)\b|\$\{(?:__rate_interval|__interval|__range)\}")
GRAFANA_VARIABLE = re.compile(r"\$\{[^}]*\}|\[\[[^\]]*\]\]|\$[A-Za-z_][A-Za-z0-9_]*")
LABEL_VALUES = re.compile(r"^\s*label_values\((.*),\s*[A-Za-z_][A-Za-z0-9_]*\s*\)\s*$", re.S)


class PromQLError(ValueError):
    """An expression the tokenizer cannot read; the message says where."""


def _skip_string(text, i):
    """Index after the string literal starting at text[i] (", ' or `), honouring backslash escapes but in `...`."""
    quote = text[i]
    j = i + 1
    while j < len(text):
        if text[j] == "\\" and quote != "`":
            j += 2
            continue
        if text[j] == quote:
            return j + 1
        j += 1
    raise PromQLError(f"unterminated string at {i} in {text!r}")


def _closing(text, i, opening, closing):
    """Index after the bracket that closes text[i] (== opening), skipping strings inside."""
    depth = 0
    j = i
    while j < len(text):
        c = text[j]
        if c in "\"'`":
            j = _skip_string(text, j)
            continue
        if c == opening:
            depth += 1
        elif c == closing:
            depth -= 1
            if depth == 0:
                return j + 1
        j += 1
    raise PromQLError(f"unbalanced {opening} at {i} in {text!r}")


MATCHER = re.compile(r"""\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)\s*,?""")


def parse_matchers(body):
    """[(label, op, value)] of a label-matcher block's contents; anything else in it is an error."""
    matchers = []
    i = 0
    body = body.strip().lstrip(",")
    while i < len(body.rstrip()):
        match = MATCHER.match(body, i)
        if not match:
            raise PromQLError(f"unreadable label matchers {body!r}")
        raw = match.group(3)
        value = raw[1:-1] if raw[0] == "`" else re.sub(r"\\(.)", r"\1", raw[1:-1])
        matchers.append((match.group(1), match.group(2), value))
        i = match.end()
    return matchers


def _next_significant(text, j):
    while j < len(text) and text[j].isspace():
        j += 1
    return j


def promql_selectors(expr):
    """[(metric name, [(label, op, value)])] for every vector selector of an expression, in order of appearance."""
    text = expr
    selectors = []
    i = 0
    while i < len(text):
        c = text[i]
        if c.isspace() or c in "+-*/%^=!<>,()@":
            i += 1
            continue
        if c == "#":  # a comment runs to the end of the line
            newline = text.find("\n", i)
            i = len(text) if newline < 0 else newline + 1
            continue
        if c in "\"'`":
            i = _skip_string(text, i)
            continue
        if c == "{":  # a selector without a name outside the braces: {__name__="x", ...}
            end = _closing(text, i, "{", "}")
            matchers = parse_matchers(text[i + 1:end - 1])
            for label, op, value in matchers:
                if label == "__name__" and op == "=":
                    selectors.append((value, [m for m in matchers if m[0] != "__name__"]))
            i = end
            continue
        if c == "[":  # a range or subquery: durations only
            i = _closing(text, i, "[", "]")
            continue
        duration = DURATION.match(text, i)
        if duration:
            i = duration.end()
            continue
        if c.isdigit() or c == ".":
            number = NUMBER.match(text, i)
            if not number:
                raise PromQLError(f"unreadable number at {i} in {text!r}")
            i = number.end()
            continue
        identifier = IDENTIFIER.match(text, i)
        if not identifier:
            raise PromQLError(f"unexpected {c!r} at {i} in {text!r}")
        word = identifier.group(0)
        i = identifier.end()
        after = _next_significant(text, i)
        lower = word.lower()
        if lower in LABEL_LIST_KEYWORDS:
            if after < len(text) and text[after] == "(":
                i = _closing(text, after, "(", ")")
            continue
        if lower in KEYWORDS or lower in LITERALS:
            continue
        if word in FUNCTIONS and (after < len(text) and text[after] == "(" or word in AGGREGATIONS):
            continue
        if after < len(text) and text[after] == "(":
            raise PromQLError(f"unknown function {word!r} in {text!r}")
        matchers = []
        if after < len(text) and text[after] == "{":
            end = _closing(text, after, "{", "}")
            matchers = parse_matchers(text[after + 1:end - 1])
            i = end
        selectors.append((word, matchers))
    return selectors


def promql_metric_names(expr):
    """The metric names an expression selects, in order of appearance (repeats kept)."""
    return [name for name, _ in promql_selectors(expr)]


def grafana_to_promql(expr, interval="5m"):
    """A dashboard expression as plain PromQL: interval variables become `interval`, other variables `x`, and
    `label_values(expr, label)` its expression."""
    text = GRAFANA_INTERVAL.sub(interval, expr)
    text = GRAFANA_VARIABLE.sub("x", text)
    match = LABEL_VALUES.match(text)
    if match:
        text = match.group(1)
    elif re.match(r"^\s*label_values\(\s*[A-Za-z_][A-Za-z0-9_]*\s*\)\s*$", text):
        text = ""  # label_values(label): no metric
    return text


def adapter_to_promql(query):
    """A prometheus-adapter query with its templates removed (the series name comes from seriesQuery)."""
    return ADAPTER_TEMPLATE.sub("", query)


def _yaml_documents(path):
    try:
        return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]
    except yaml.YAMLError:
        return []


def dashboard_queries(dashboard):
    """(where, expr) for every Prometheus query of a Grafana dashboard: panel targets (rows' nested panels too)
    and query variables."""
    found = []

    def panels(items):
        for panel in items or []:
            yield panel
            yield from panels(panel.get("panels"))

    for panel in panels(dashboard.get("panels")):
        for target in panel.get("targets") or []:
            if target.get("expr"):
                found.append((f"panel {panel.get('title', '?')!r} target {target.get('refId', '?')}", target["expr"]))
    for variable in (dashboard.get("templating") or {}).get("list") or []:
        if variable.get("type") == "query":
            query = variable.get("query")
            if isinstance(query, dict):
                query = query.get("query")
            if query:
                found.append((f"variable {variable.get('name')}", query))
    return found


def rule_expressions(rule_object):
    """(where, expr) for every rule of a PrometheusRule."""
    found = []
    for group in (rule_object.get("spec") or {}).get("groups") or []:
        for rule in group.get("rules") or []:
            name = rule.get("alert") or rule.get("record")
            kind = "alert" if "alert" in rule else "record"
            found.append((f"{kind} {name}", str(rule.get("expr", ""))))
    return found


def hpa_metric_names(hpa):
    """Names of an HPA's Pods, Object and External metrics (Resource metrics are the kubelet's cpu and memory)."""
    names = []
    for metric in (hpa.get("spec") or {}).get("metrics") or []:
        for kind in ("pods", "object", "external"):
            source = metric.get(kind) or {}
            # autoscaling/v2: source.metric.name; v2beta1: source.metricName.
            name = (source.get("metric") or {}).get("name") or source.get("metricName")
            if name:
                names.append(name)
    return names


def adapter_rules(config):
    """The rule entries of a prometheus-adapter config (its own file format or a Helm values' `rules:`)."""
    if not isinstance(config, dict):
        return []
    rules = []
    for key in ("rules", "externalRules"):
        value = config.get(key)
        if isinstance(value, list):
            rules.extend(value)
        elif isinstance(value, dict):  # Helm values: rules: {custom: [...], external: [...]}
            for sub in ("custom", "external"):
                rules.extend(value.get(sub) or [])
    return [rule for rule in rules if isinstance(rule, dict) and ("seriesQuery" in rule or "metricsQuery" in rule)]


def _adapter_queries(rules, where):
    found = []
    for index, rule in enumerate(rules):
        for field in ("seriesQuery", "metricsQuery"):
            if rule.get(field):
                found.append((f"{where} rule {index} {field}", adapter_to_promql(str(rule[field]))))
    return found


def promql_sources(root):
    """(file relative to root, where, PromQL) for every expression in deploy/, and (file, where, name) for the
    HPAs' metric names, as two lists."""
    root = Path(root)
    deploy = root / "deploy"
    expressions, hpa_names = [], []
    for path in sorted(deploy.rglob("*")):
        if not path.is_file():
            continue
        relative = str(path.relative_to(root))
        if path.suffix == ".json":
            try:
                dashboard = json.loads(path.read_text())
            except ValueError:
                continue
            if isinstance(dashboard, dict) and "panels" in dashboard:
                for where, expr in dashboard_queries(dashboard):
                    expressions.append((relative, where, grafana_to_promql(expr)))
            continue
        if path.suffix not in (".yaml", ".yml"):
            continue
        for doc in _yaml_documents(path):
            if not isinstance(doc, dict):
                continue
            kind = doc.get("kind")
            name = (doc.get("metadata") or {}).get("name", "?")
            if kind == "PrometheusRule":
                for where, expr in rule_expressions(doc):
                    expressions.append((relative, where, expr))
            elif kind == "HorizontalPodAutoscaler":
                for metric in hpa_metric_names(doc):
                    hpa_names.append((relative, f"HorizontalPodAutoscaler {name}", metric))
            elif kind == "ConfigMap":
                for key, value in (doc.get("data") or {}).items():
                    try:
                        config = yaml.safe_load(value) if isinstance(value, str) else None
                    except yaml.YAMLError:
                        continue
                    for item in _adapter_queries(adapter_rules(config), f"ConfigMap {name} {key}"):
                        expressions.append((relative, *item))
            elif kind is None:  # a prometheus-adapter config kept as a file for a configMapGenerator
                for item in _adapter_queries(adapter_rules(doc), "prometheus-adapter config"):
                    expressions.append((relative, *item))
    return expressions, hpa_names


def base_name(name, histograms):
    """`x` for `x_bucket`, `x_sum` or `x_count` when `x` is a histogram of the catalogue, else `name`."""
    for suffix in ("_bucket", "_sum", "_count"):
        if name.endswith(suffix) and name[: -len(suffix)] in histograms:
            return name[: -len(suffix)]
    return name


def selectors_used(root):
    """(file relative to root, where, series name, [(label, op, value)]) for every selector in deploy/, and for every
    HPA metric name (no matchers)."""
    expressions, hpa_names = promql_sources(root)
    found = []
    for relative, where, expr in expressions:
        for name, matchers in promql_selectors(expr):
            found.append((relative, where, name, matchers))
    for relative, where, name in hpa_names:
        found.append((relative, where, name, []))
    return found


def metric_names_used(root, histograms=frozenset()):
    """{metric name: ["file: where", ...]} for every metric name deploy/ uses; histogram series names are mapped
    back to the histogram when it is in `histograms` (the catalogue's histogram names)."""
    used = {}
    for relative, where, name, _ in selectors_used(root):
        used.setdefault(base_name(name, histograms), []).append(f"{relative}: {where}")
    return {name: sorted(set(places)) for name, places in used.items()}
