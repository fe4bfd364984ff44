"""deploy/: the Grafana dashboard and the Prometheus rules use only metrics a real scrape has,
and promtool accepts the rules, fires them on the series they are for, and takes the sample
scrape configuration."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import Database, LiveServer, start_server

from .scrape import TOKEN, until, value
from .test_metrics import press

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
DASHBOARD = DEPLOY / "grafana" / "helppoint-dashboard.json"
RULES = DEPLOY / "prometheus" / "alerts.yml"
RULE_TESTS = DEPLOY / "prometheus" / "alerts.test.yml"
SCRAPE_CONFIG = DEPLOY / "prometheus" / "prometheus.yml"
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"
METRIC = re.compile(r"\b(helppoint_[a-z0-9_]+)")


def dashboard_expressions() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["panels"], "the dashboard has no panels"
    found = []
    for panel in dashboard["panels"]:
        assert panel["targets"], f"panel {panel['title']!r} queries nothing"
        found.extend(target["expr"] for target in panel["targets"])
    return found


def rule_expressions() -> list[str]:
    rules = yaml.safe_load(RULES.read_text())
    return [rule["expr"] for group in rules["groups"] for rule in group["rules"]]


@pytest.fixture
def scraped(sqlite_database: Database) -> Iterator[dict[str, Any]]:
    """A real scrape of a server that has stored an alarm."""
    server: LiveServer
    server, stop = start_server(sqlite_database, {"metrics_token": TOKEN})
    try:
        asyncio.run(press(server, "HP-02"))
        yield until(
            server.base_url, lambda s: value(s, "helppoint_press_to_console_seconds_count") == 1
        )
    finally:
        stop()


def test_every_metric_the_dashboard_and_rules_use_is_in_a_real_scrape(
    scraped: dict[str, Any],
) -> None:
    expressions = dashboard_expressions() + rule_expressions()
    used = {name for expr in expressions for name in METRIC.findall(expr)}
    assert len(used) >= 15, used
    missing = sorted(used - scraped.keys())
    assert missing == [], f"used in deploy/ but not exposed at /metrics: {missing}"
    wanted = {
        "helppoint_alarms_total",
        "helppoint_standing_alarms",
        "helppoint_press_to_stored_seconds_bucket",
        "helppoint_press_to_console_seconds_bucket",
        "helppoint_units",
        "helppoint_sia_messages_total",
        "helppoint_outbox_backlog",
        "helppoint_outbox_oldest_undelivered_seconds",
        "helppoint_notifications",
        "helppoint_ingest_writer_restarts_total",
        "helppoint_gc_pause_seconds_bucket",
        "helppoint_websocket_links",
    }
    assert wanted <= used, f"not on the dashboard or in a rule: {sorted(wanted - used)}"


def test_the_rules_name_the_alerts_the_scheme_needs() -> None:
    rules = yaml.safe_load(RULES.read_text())
    names = {rule["alert"] for group in rules["groups"] for rule in group["rules"]}
    assert {
        "HelppointUnitDown",
        "HelppointAlarmStandingOverTarget",
        "HelppointOutboxStuck",
        "HelppointWriterRestarting",
    } <= names


def promtool(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PROMTOOL, *args], capture_output=True, text=True, timeout=120, cwd=cwd, check=False
    )


def test_promtool_accepts_the_rules_and_fires_them_as_tested() -> None:
    checked = promtool("check", "rules", str(RULES))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS" in checked.stdout
    tested = promtool("test", "rules", RULE_TESTS.name, cwd=RULE_TESTS.parent)
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_promtool_accepts_the_sample_scrape_configuration(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text(TOKEN)
    shutil.copy(RULES, tmp_path / "helppoint-alerts.yml")
    config = SCRAPE_CONFIG.read_text()
    config = config.replace("/etc/prometheus/helppoint-metrics-token", str(token))
    config = config.replace(
        "/etc/prometheus/helppoint-alerts.yml", str(tmp_path / "helppoint-alerts.yml")
    )
    (tmp_path / "prometheus.yml").write_text(config)
    checked = promtool("check", "config", str(tmp_path / "prometheus.yml"))
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_a_broken_rule_is_caught(tmp_path: Path) -> None:
    """The check can fail: promtool refuses a rule with a bad expression."""
    broken = tmp_path / "broken.yml"
    broken.write_text(RULES.read_text().replace("> 300", "> > 300"))
    assert promtool("check", "rules", str(broken)).returncode != 0
