"""The Grafana dashboard "WRLS jobs" (config/grafana): every query is built on
series the exporter really exposes, checked against a scrape of a running one."""

from __future__ import annotations

import json
import re
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import yaml

from tests.support import services as svc
from tests.support.helpers import free_port, wait_run_ended, wait_worker_ready
from tests.support.processes import WRLS_APP

GRAFANA = Path(__file__).resolve().parents[2] / "config" / "grafana"
DASHBOARD = GRAFANA / "dashboards" / "wrls-jobs.json"

# What the issue asks the dashboard to show, by panel title.
PANELS = (
    "Runs by job and outcome",
    "Failures and time-outs",
    "Stalled steps now",
    "Last success and overdue",
    "Schedule lag",
    "Missed ticks",
    "Queue depth",
    "Dead letters per queue",
    "Step duration percentiles",
    "Import progress",
)
# PromQL's functions and aggregations (Prometheus 2.53): any other word before
# "(" is a misspelling, and would otherwise hide the metric names inside it.
FUNCTIONS = frozenset(
    """
    abs absent absent_over_time acos acosh asin asinh atan atanh avg avg_over_time bottomk ceil changes clamp
    clamp_max clamp_min cos cosh count count_over_time count_values day_of_month day_of_week day_of_year
    days_in_month deg delta deriv end exp floor group histogram_avg histogram_count histogram_fraction
    histogram_quantile histogram_stddev histogram_stdvar histogram_sum holt_winters hour idelta increase irate
    label_join label_replace last_over_time limit_ratio limitk ln log10 log2 mad_over_time max max_over_time min
    min_over_time minute month pi predict_linear present_over_time quantile quantile_over_time rad rate resets
    round scalar sgn sin sinh sort sort_by_label sort_by_label_desc sort_desc sqrt start stddev stddev_over_time
    stdvar stdvar_over_time sum sum_over_time tan tanh time timestamp topk vector year
""".split()
)
KEYWORDS = frozenset(
    {
        "and",
        "or",
        "unless",
        "bool",
        "offset",
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
        "inf",
        "nan",
    }
)


def load() -> dict:
    return json.loads(DASHBOARD.read_text())


def panels(items: list[dict]) -> Iterator[dict]:
    """Every panel, those inside collapsed rows included."""
    for panel in items:
        yield panel
        yield from panels(panel.get("panels", []))


def queries(dashboard: dict) -> list[str]:
    exprs = [target["expr"] for panel in panels(dashboard["panels"]) for target in panel.get("targets", [])]
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            query = variable["query"]
            exprs.append(query["query"] if isinstance(query, dict) else query)
    return exprs


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression (or a Grafana variable query) reads."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`', '""', expr)  # strings: matcher values, regexes
    text = re.sub(r"\blabel_values\(([^()]*?),\s*\w+\s*\)", r" \1 ", text)  # Grafana: label_values(metric, label)
    text = re.sub(r"\blabel_values\(\s*\w+\s*\)", " ", text)
    text = re.sub(r"\$\{[^}]*\}|\$\w+", " ", text)  # Grafana variables
    text = re.sub(r"\{[^}]*\}", " ", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", " ", text)  # ranges and subqueries
    text = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)  # label lists
    names = set()
    for match in re.finditer(r"(?<![\w.])[A-Za-z_:][\w:]*", text):
        word = match.group()
        if text[match.end() :].lstrip().startswith("("):
            assert word in FUNCTIONS, f"{word}() is not a PromQL function, in {expr!r}"
        elif word.lower() not in KEYWORDS:
            names.add(word)
    return names


def series_names(exposition: str) -> set[str]:
    """The series names Prometheus stores from this scrape, from its # TYPE lines.

    Every family the exporter serves is declared, with or without samples yet
    (a stalled step, a time-out); a histogram is queried as _bucket, _sum and _count.
    """
    names = set()
    for line in exposition.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split()
            names.update({f"{name}_bucket", f"{name}_sum", f"{name}_count"} if kind == "histogram" else {name})
    return names


def test_the_dashboard_shows_what_the_issue_asks_on_the_provisioned_datasource():
    dashboard = load()
    assert dashboard["title"] == "WRLS jobs"
    assert dashboard["uid"] == "wrls-jobs"  # links to it survive re-provisioning
    titles = [panel["title"] for panel in panels(dashboard["panels"])]
    assert set(PANELS) <= set(titles), f"missing panels: {sorted(set(PANELS) - set(titles))}"
    assert len(titles) == len(set(titles))

    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    datasource = yaml.safe_load((GRAFANA / "provisioning" / "datasources" / "prometheus.yml").read_text())
    [provisioned] = datasource["datasources"]
    assert (provisioned["type"], provisioned["url"]) == ("prometheus", "http://prometheus:9090")
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["current"]["value"] == provisioned["uid"]
    assert variables["job"]["query"] == "label_values(wrls_runs_started_total, job)"
    chosen = {"type": "prometheus", "uid": "${datasource}"}
    for panel in panels(dashboard["panels"]):
        for target in panel.get("targets", []):
            assert panel["datasource"] == target["datasource"] == chosen, panel["title"]

    dashboards = yaml.safe_load((GRAFANA / "provisioning" / "dashboards" / "wrls.yml").read_text())
    [provider] = dashboards["providers"]
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards"  # config/grafana/dashboards, mounted


def test_every_query_uses_only_series_the_exporter_exposes(service, processes, vhost):
    used = set().union(*map(metric_names, queries(load())))
    # The issue's series are all there: a reading of the queries that found nothing would prove nothing.
    assert {
        "wrls_runs_total",
        "wrls_steps_timed_out_total",
        "wrls_steps_stalled",
        "wrls_job_last_success_timestamp_seconds",
        "wrls_schedule_expected_period_seconds",
        "wrls_schedule_lag_seconds",
        "wrls_ticks_total",
        "wrls_queue_ready",
        "wrls_queue_dead_lettered",
        "wrls_step_duration_seconds_bucket",
        "wrls_run_items",
    } <= used

    # A run in the ledger first, so the job variable's series has a value to offer.
    processes("worker", "--queues", "short", "control", "schedule")
    wait_worker_ready(vhost)
    wait_run_ended(service, service.trigger("pipeline"))
    port = free_port()
    processes("exporter", extra_env={"WRLS_METRICS_PORT": str(port)}, app=WRLS_APP)  # the one Prometheus scrapes

    def scrape() -> str | None:
        try:
            return urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
        except OSError:  # not listening yet
            return None

    exposition = svc.wait_for(scrape, 30, interval_s=0.5, what="the exporter to answer")
    assert re.search(r'^wrls_runs_started_total\{[^}]*job="pipeline"', exposition, re.MULTILINE)
    missing = sorted(used - series_names(exposition))
    assert missing == []
