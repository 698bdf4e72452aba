"""The Prometheus alert rules: valid, unit-tested with promtool, and written
against the series the exporter really serves."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from wrls_actors.jobs import JOBS
from wrls_actors.runtime import Service, Settings
from wrls_actors.runtime.metrics import make_app
from wrls_actors.schedules import SCHEDULES

CONFIG = Path(__file__).resolve().parents[2] / "config" / "prometheus"
RULES = CONFIG / "alerts.yml"
RULE_TESTS = CONFIG / "alerts_test.yml"
SEVERITIES = {"critical", "warning"}
# PromQL words that look like series names.
KEYWORDS = {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right", "offset", "bool"}


def promtool() -> str:
    """promtool from PATH or the virtual environment (scripts/tools.sh puts it there)."""
    found = shutil.which("promtool") or shutil.which("promtool", path=str(Path(sys.executable).parent))
    if found is None:
        message = "promtool is not installed (`make test` installs it: scripts/tools.sh)"
        if os.environ.get("CI"):
            pytest.fail(message + "; CI must have it")
        pytest.skip(message)
    return found


def alerts() -> list[dict]:
    return [rule for group in yaml.safe_load(RULES.read_text())["groups"] for rule in group["rules"]]


def series_names(expr: str) -> set[str]:
    """Series names in a PromQL expression: identifiers that are not functions, keywords or label names."""
    expr = re.sub(r'"(?:\\.|[^"\\])*"', "", expr)  # strings
    expr = re.sub(r"\{[^}]*\}", "", expr)  # label matchers
    expr = re.sub(r"\[[^\]]*\]", "", expr)  # ranges
    expr = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", expr)  # label lists
    identifiers = re.findall(r"(?<![\w:])([a-zA-Z_:][\w:]*)(?![\w:])(?!\s*\()", expr)
    return set(identifiers) - KEYWORDS


def exporter_series() -> set[str]:
    """Every series name on the exporter's /metrics, with nothing for it to read (families are listed anyway)."""
    unreachable = {
        "WRLS_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/nothing",
        "WRLS_BROKER_URL": "amqp://guest:guest@127.0.0.1:1/",
        "WRLS_RABBITMQ_MANAGEMENT_URL": "http://guest:guest@127.0.0.1:1",
        "WRLS_MESSAGE_KEY": "k" * 32,
    }
    app = make_app(Service(Settings.from_env("WRLS", unreachable), JOBS, SCHEDULES))
    body = b"".join(app({"PATH_INFO": "/metrics"}, lambda status, headers: None)).decode()
    names = set()
    for name, kind in re.findall(r"^# TYPE (\S+) (\S+)$", body, re.MULTILINE):
        names.add(name)
        if kind == "histogram":
            names |= {f"{name}_bucket", f"{name}_sum", f"{name}_count"}
    return names


def test_promtool_accepts_the_rules():
    result = subprocess.run([promtool(), "check", "rules", str(RULES)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_passes_its_promtool_unit_tests():
    result = subprocess.run([promtool(), "test", "rules", str(RULE_TESTS)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_says_how_bad_what_it_means_and_what_to_do_first():
    rules = alerts()
    assert len(rules) >= 10
    for rule in rules:
        assert rule["labels"]["severity"] in SEVERITIES, rule["alert"]
        assert rule["annotations"]["summary"].strip(), rule["alert"]
        assert "First:" in rule["annotations"]["description"], rule["alert"]


def test_every_alert_fires_in_a_unit_test_and_stays_quiet_in_another():
    cases = [case for test in yaml.safe_load(RULE_TESTS.read_text())["tests"] for case in test["alert_rule_test"]]
    fires = {case["alertname"] for case in cases if case.get("exp_alerts")}
    quiet = {case["alertname"] for case in cases if not case.get("exp_alerts")}
    names = {rule["alert"] for rule in alerts()}
    assert names - fires == set(), "never seen firing"
    assert names - quiet == set(), "never seen staying quiet"


def test_rules_use_only_series_the_exporter_serves():
    served = exporter_series() | {"up"}  # `up` is Prometheus' own, per scrape target
    assert "wrls_ticks_total" in served and "wrls_run_duration_seconds_bucket" in served
    for rule in alerts():
        used = series_names(rule["expr"])
        assert used, rule["alert"]
        assert used <= served, f"{rule['alert']} uses {sorted(used - served)}, not served by the exporter"


def test_prometheus_keeps_the_exporters_job_label_and_loads_the_rules():
    # The exporter labels per-job series with `job` (the WRLS job); without
    # honor_labels Prometheus renames it exported_job and the rules match nothing.
    config = yaml.safe_load((CONFIG / "prometheus.yml").read_text())
    scrape = next(c for c in config["scrape_configs"] if c["job_name"] == "wrls-exporter")
    assert scrape.get("honor_labels") is True
    assert "alerts.yml" in {Path(path).name for path in config.get("rule_files", [])}
