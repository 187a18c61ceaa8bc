"""A real Prometheus (Debian's package) on loopback, scraping the apps under test every second with the project's
rules, and the dashboards' queries to run against it."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from appserver import REPO, free_port
from waiting import wait_until

GRAFANA = REPO / "grafana"
RULES = [GRAFANA / "prometheus" / "rules" / "recording.yml", GRAFANA / "prometheus" / "rules" / "alerts.yml"]
# Grafana's macros and template variables, as a person looking at every model, dataset and split sets them.
MACROS = {"$__rate_interval": "1m", "$__range": "5m", "$model": ".*", "$dataset": ".*", "$split": ".*"}


@dataclass
class Prometheus:
    url: str
    process: subprocess.Popen[bytes]
    folder: Path

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


def start_prometheus(folder: Path, targets: list[str]) -> Prometheus:
    """Prometheus with the project's config (scrape and rule evaluation every second, no Alertmanager) scraping
    ``targets`` (``host:port``); fails the test if it does not become ready."""
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.fail("prometheus is not installed: 'make test' installs Debian's prometheus package")
    config = yaml.safe_load((GRAFANA / "prometheus" / "prometheus.yml").read_text())
    config["global"] = {"scrape_interval": "1s", "evaluation_interval": "1s"}
    config["rule_files"] = [str(p) for p in RULES]
    config.pop("alerting")
    config["scrape_configs"][0]["static_configs"] = [{"targets": targets}]
    (folder / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    log = (folder / "prometheus.log").open("wb")
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={folder / 'prometheus.yml'}",
            f"--storage.tsdb.path={folder / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/-/ready", timeout=2).status_code == 200:
                return Prometheus(url, process, folder)
        except httpx.HTTPError:
            time.sleep(0.3)
    process.kill()
    pytest.fail(f"prometheus did not start: {(folder / 'prometheus.log').read_text()[-2000:]}")


def targets(prometheus: str) -> list[dict[str, Any]]:
    return list(httpx.get(f"{prometheus}/api/v1/targets", timeout=10).json()["data"]["activeTargets"])


def wait_for_scrapes_and_rules(prometheus: str, after: float, scrapes: int) -> None:
    """Return once every target has been scraped ``scrapes`` times starting after ``after`` (so ``rate()`` has two
    samples of every new series) and every rule group has been evaluated after the last of those scrapes."""
    scraped: list[float] = []

    def last_scrape() -> float:
        found = targets(prometheus)
        assert found and all(t["health"] == "up" for t in found), found
        return min(timestamp(t["lastScrape"]) for t in found)

    while len(scraped) < scrapes:
        floor = scraped[-1] if scraped else after
        scraped.append(wait_until(last_scrape, f"a scrape after {floor}", accept=floor.__lt__))

    def oldest_rule_evaluation() -> float:
        groups = httpx.get(f"{prometheus}/api/v1/rules", timeout=10).json()["data"]["groups"]
        return min(timestamp(g["lastEvaluation"]) for g in groups)

    wait_until(oldest_rule_evaluation, "a rule evaluation after the last scrape", accept=lambda t: t > scraped[-1])


def timestamp(rfc3339: str) -> float:
    """Prometheus' API times (RFC 3339 with up to nanoseconds and any offset) as Unix seconds."""
    return datetime.fromisoformat(re.sub(r"(\.\d{6})\d+", r"\1", rfc3339)).timestamp()


def query(prometheus: str, expr: str) -> dict[str, Any]:
    """An instant query, Grafana's macros replaced; asserts Prometheus accepted it."""
    for macro, value in MACROS.items():
        expr = expr.replace(macro, value)
    response = httpx.get(f"{prometheus}/api/v1/query", params={"query": expr}, timeout=10)
    body: dict[str, Any] = response.json()
    assert body["status"] == "success", f"{expr}: {body}"
    return body


def dashboards() -> dict[str, dict[str, Any]]:
    return {p.name: json.loads(p.read_text()) for p in sorted((GRAFANA / "dashboards").glob("*.json"))}


def panel_queries() -> list[tuple[str, str, str, bool]]:
    """(dashboard, panel, expression, may_be_empty) for every target of every panel."""
    out = []
    for name, board in dashboards().items():
        for panel in board["panels"]:
            for target in panel["targets"]:
                out.append((name, panel["title"], target["expr"], "Empty until" in panel.get("description", "")))
    return out


def legends() -> dict[str, str]:
    """Each panel expression's legend format (what Grafana names its series by)."""
    return {
        t["expr"]: t["legendFormat"] for board in dashboards().values() for p in board["panels"] for t in p["targets"]
    }
