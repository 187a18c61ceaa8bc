"""The monitoring stack, proven: promtool on config and rules (with alert unit tests), a real Prometheus scraping
the running app and answering every dashboard query, metric names cross-checked both ways, a valid compose file
and a linted Dockerfile."""

from __future__ import annotations

import csv
import json
import re
import shutil
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from conftest import ADMIN_TOKEN
from gradio_client import Client, handle_file
from promserver import GRAFANA, RULES, dashboards, panel_queries, query, start_prometheus, wait_for_scrapes_and_rules

from appserver import REPO, RunningApp, metric_value
from sentiment.datasets import load_split
from sentiment.datasets.fetch import Distribution, fetch
from sentiment.settings import Settings
from waiting import WaitTimeout, wait_until

COMPOSE_WHEEL = Distribution(  # ships compose_spec.json, the Compose Specification's JSON schema
    requirement="docker-compose==1.29.2",
    filename="docker_compose-1.29.2-py2.py3-none-any.whl",
    sha256="8d5589373b35c8d3b1c8c1182c6e4a4ff14bffa3dd0b605fcd08f73c94cef809",
    source=False,
)
METRIC_NAME = re.compile(r"\b((?:sentiment|model|scheduler|process)_[a-z0-9_]+)\b")


def _promtool(*args: str) -> subprocess.CompletedProcess[str]:
    if shutil.which("promtool") is None:
        pytest.fail("promtool is not installed: 'make test' installs Debian's prometheus package")
    return subprocess.run(["promtool", *args], capture_output=True, text=True, timeout=60, check=False)


def _rule_expressions() -> list[str]:
    exprs = []
    for path in RULES:
        for group in yaml.safe_load(path.read_text())["groups"]:
            exprs += [rule["expr"] for rule in group["rules"]]
    return exprs


def test_promtool_accepts_the_config_and_the_rules() -> None:
    config = _promtool("check", "config", str(GRAFANA / "prometheus" / "prometheus.yml"))
    assert config.returncode == 0, config.stdout + config.stderr
    rules = _promtool("check", "rules", *map(str, RULES))
    assert rules.returncode == 0, rules.stdout + rules.stderr


def test_every_alert_fires_on_a_bad_series_and_stays_silent_on_a_healthy_one() -> None:
    tests = GRAFANA / "prometheus" / "tests" / "alerts_test.yml"
    result = _promtool("test", "rules", str(tests))
    assert result.returncode == 0, result.stdout + result.stderr
    alerts = {r["alert"] for g in yaml.safe_load(RULES[1].read_text())["groups"] for r in g["rules"]}
    tested = {a["alertname"] for t in yaml.safe_load(tests.read_text())["tests"] for a in t["alert_rule_test"]}
    assert alerts == tested


def test_the_dashboards_are_exactly_what_the_builder_generates() -> None:
    sys.path.insert(0, str(GRAFANA))
    import build_dashboards

    for name, board in build_dashboards.DASHBOARDS.items():
        assert (GRAFANA / "dashboards" / name).read_text() == build_dashboards.render(board), name
    kinds = {p["type"] for board in dashboards().values() for p in board["panels"]}
    assert kinds <= {"timeseries", "stat", "bargauge", "table", "heatmap", "state-timeline"}  # Grafana's own, no plugin


# Metrics of an evaluation; model_estimated_* come from the drift check alone, which no visitor can run.
MODEL_QUALITY = re.compile(r"\b(model_(?!estimated_)[a-z0-9_]+)(\{[^}]*\})?")


def test_every_model_quality_query_reads_only_the_scheduled_evaluation() -> None:
    """A visitor's evaluation is exported with source="visitor": no alert, recording rule, panel or template variable
    may read it, or a 3-row sample would move the owner's figures (the promtool tests show it cannot fire or clear
    an alert)."""
    exprs = [q[2] for q in panel_queries()] + _rule_expressions()
    exprs += [var["definition"] for board in dashboards().values() for var in board["templating"]["list"]]
    uses = [(expr, m.group(1), m.group(2) or "") for expr in exprs for m in MODEL_QUALITY.finditer(expr)]
    assert uses, "no panel or rule reads model quality"
    unscoped = [f"{name} in {expr}" for expr, name, selector in uses if 'source="scheduled"' not in selector]
    assert not unscoped


def test_the_compose_file_is_valid_against_the_compose_specification(settings: Settings) -> None:
    """The Compose Specification's JSON schema accepts the file (YAML anchors merged, as compose merges them). No
    Docker engine or compose plugin runs here: CI's docker job runs ``docker compose config`` on it too."""
    import jsonschema

    wheel = fetch(COMPOSE_WHEEL, settings.cache_dir)
    with zipfile.ZipFile(wheel) as archive:
        schema = json.loads(archive.read("compose/config/compose_spec.json"))
    compose = yaml.safe_load((GRAFANA / "docker-compose.yml").read_text())
    errors = [e.message for e in jsonschema.Draft7Validator(schema).iter_errors(compose)]
    assert not errors
    assert (GRAFANA / ".env.example").exists()


# ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?message}, ${NAME?message}, as compose interpolates them
INTERPOLATION = re.compile(r"\$\{(?P<name>\w+)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")
SECRET = re.compile(r"PASSWORD|TOKEN|SECRET", re.IGNORECASE)


def test_no_credential_has_a_default_and_a_missing_password_stops_compose() -> None:
    """Every password the stack uses comes from the environment with ``${VAR:?message}``, so compose refuses to
    start without it; no literal password sits in the file (a key naming a password or token holds an
    interpolation); the only token with a fallback is the admin token, whose empty default turns admin actions off.
    The example .env file leaves each password empty."""
    text = (GRAFANA / "docker-compose.yml").read_text()
    uses = [m.groupdict() for m in INTERPOLATION.finditer(text.replace("$$", ""))]
    secrets = {u["name"]: u for u in uses if SECRET.search(u["name"])}
    assert {"POSTGRES_PASSWORD", "GRAFANA_ADMIN_PASSWORD"} <= set(secrets)
    for use in uses:
        if SECRET.search(use["name"]) and use["name"] != "SENTIMENT_ADMIN_TOKEN":
            assert use["op"] == ":?" and use["arg"].strip(), use  # refused when unset or empty, saying why
    assert all(u["arg"] == "" for u in uses if u["name"] == "SENTIMENT_ADMIN_TOKEN")

    def literal_secrets(node: Any, key: str = "") -> list[str]:
        if isinstance(node, dict):
            return [found for k, v in node.items() for found in literal_secrets(v, str(k))]
        if isinstance(node, list):
            return [found for item in node for found in literal_secrets(item, key)]
        return [f"{key}={node}"] if SECRET.search(key) and "${" not in str(node) else []

    assert not literal_secrets(yaml.safe_load(text))
    example = dict(line.split("=", 1) for line in (GRAFANA / ".env.example").read_text().splitlines() if "=" in line)
    assert example["POSTGRES_PASSWORD"] == "" and example["GRAFANA_ADMIN_PASSWORD"] == ""


def test_the_compose_file_is_two_replicas_on_one_postgres_behind_a_balancer_scraped_one_by_one() -> None:
    """The reference deployment's shape: two replicas of one image, both on the PostgreSQL service (its password
    from the same variable), neither published (clients come through the balancer); the balancer mounts the nginx
    configuration; Prometheus scrapes each replica as its own target (so ``instance`` differs)."""
    compose = yaml.safe_load((GRAFANA / "docker-compose.yml").read_text())
    services = compose["services"]
    replicas = [services["app-1"], services["app-2"]]
    assert replicas[0]["image"] == replicas[1]["image"] == "sentiment-space:latest"
    for replica in replicas:
        url = replica["environment"]["SENTIMENT_DATABASE_URL"]
        assert url.startswith("postgresql+psycopg://sentiment:${POSTGRES_PASSWORD:?")
        assert url.endswith("@postgres:5432/sentiment")
        assert replica["environment"]["SENTIMENT_PROXY_HOPS"] == "1"  # the balancer is one proxy
        assert "ports" not in replica
        assert replica["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert replicas[0]["volumes"] != replicas[1]["volumes"]  # a data folder each
    assert services["postgres"]["environment"]["POSTGRES_USER"] == "sentiment"
    assert services["postgres"]["environment"]["POSTGRES_DB"] == "sentiment"
    assert "./nginx/nginx.conf:/etc/nginx/nginx.conf:ro" in services["lb"]["volumes"]
    assert services["lb"]["ports"] == ["7860:7860"]
    assert "http://lb:7860" in services["replay"]["command"]
    scrape = yaml.safe_load((GRAFANA / "prometheus" / "prometheus.yml").read_text())["scrape_configs"]
    targets = [t for job in scrape for config in job["static_configs"] for t in config["targets"]]
    assert targets == ["app-1:7860", "app-2:7860"]


def test_the_dockerfile_passes_hadolint() -> None:
    binary = Path(sys.executable).parent / "hadolint"
    result = subprocess.run(
        [str(binary), str(REPO / "Dockerfile")], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture(scope="module")
def prometheus(running_app: RunningApp, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Prometheus on loopback scraping the running app every second, with the project's rules."""
    server = start_prometheus(tmp_path_factory.mktemp("prometheus"), [running_app.url.removeprefix("http://")])
    yield server.url
    server.stop()


@pytest.fixture(scope="module")
def driven(
    running_app: RunningApp, prometheus: str, session_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> str:
    """Predictions (the Gradio API and the inference API), a CSV batch, bad input, an evaluation and a drift check;
    returns once Prometheus has scraped their results twice and evaluated its rules on them.

    Each step waits for the event the next one depends on: the prediction log is written by a background thread,
    so the drift check runs only once the app reports every row written (else it may see too few and leave the
    drift panels empty); the panels read Prometheus, so the test starts only after scrapes that began after the
    jobs finished, and a rule evaluation after those scrapes.
    """
    client = Client(running_app.url, verbose=False)
    written_before = metric_value(running_app.metrics(), "sentiment_prediction_log_rows_total", {"outcome": "written"})
    client.predict("I love this!", api_name="/predict")
    client.predict("great\nawful\nfine", api_name="/predict_batch")
    with pytest.raises(Exception, match="empty"):
        client.predict("", api_name="/predict")
    path = tmp_path_factory.mktemp("csv") / "tweets.csv"
    texts = load_split("vader_tweets", "test", session_settings)["text"].tolist()[:150]
    with path.open("w", newline="") as handle:
        csv.writer(handle).writerows([["text"], *([t] for t in texts)])
    client.predict(handle_file(str(path)), "text", api_name="/score_csv")
    # the inference API (endpoint="api"): both routes, and a refusal for the refusals panel
    assert httpx.post(f"{running_app.url}/predict", json={"inputs": "so good"}, timeout=60).status_code == 200
    assert httpx.post(f"{running_app.url}/", json={"inputs": ["meh", "bad"]}, timeout=60).status_code == 200
    assert httpx.post(f"{running_app.url}/predict", json={"inputs": []}, timeout=60).status_code == 422
    expected = written_before + 1 + 3 + len(texts) + 1 + 2
    wait_until(
        lambda: metric_value(running_app.metrics(), "sentiment_prediction_log_rows_total", {"outcome": "written"}),
        f"the prediction log to hold all {expected:.0f} rows",
        accept=lambda written: written >= expected,
    )
    _label_the_review_sample(running_app)  # the production-truth panels: a prediction-powered interval
    evaluations = client.predict(ADMIN_TOKEN, api_name="/run_evaluation")
    assert evaluations, "the evaluation job returned no report"
    report = client.predict(ADMIN_TOKEN, api_name="/run_drift_check")
    assert report["status"] in {"ok", "warning", "drift"}, report  # enough rows: every drift panel has data
    wait_for_scrapes_and_rules(prometheus, after=time.time(), scrapes=2)
    return prometheus


def _label_the_review_sample(app: RunningApp) -> None:
    """Label every sampled prediction still waiting (the app samples all of them), over ``/review_sample``: the
    served label, except every fifth row (so the interval is not the degenerate "always right"). The window then
    runs to now and the next drift job computes its prediction-powered interval."""
    headers = {"x-admin-token": ADMIN_TOKEN}
    listing = httpx.get(f"{app.url}/review_sample", params={"limit": 10_000}, headers=headers, timeout=60)
    assert listing.status_code == 200, listing.text
    rows = listing.json()["rows"]
    assert len(rows) >= 25, "too few sampled predictions for an interval (SENTIMENT_PPI_MIN_LABELS)"
    labels = ("negative", "neutral", "positive")
    lines = ["review_id,label"] + [
        f"{row['id']},{labels[(labels.index(row['served_label']) + 1) % 3] if i % 5 == 0 else row['served_label']}"
        for i, row in enumerate(rows)
    ]
    answer = httpx.post(f"{app.url}/review_sample/bulk", content="\n".join(lines).encode(), headers=headers, timeout=60)
    assert answer.status_code == 200, answer.text


def _scrape_health(prometheus: str, running_app: RunningApp, names: set[str]) -> str:
    """Why a panel may be empty: the scrape target's state in Prometheus and whether the app exposes the series."""
    targets = httpx.get(f"{prometheus}/api/v1/targets", timeout=10).json()["data"]["activeTargets"]
    states = [
        f"{t['scrapeUrl']}: health={t['health']} lastError={t['lastError']!r} "
        f"lastScrape={t['lastScrape']} lastScrapeDuration={t['lastScrapeDuration']:.3f}s"
        for t in targets
    ]
    exposed = running_app.metrics()
    absent = sorted(n for n in names if f"\n{n}" not in exposed and f"\n{n}_" not in exposed)
    return "\n".join([*states, f"not in the app's /metrics now: {absent or 'none'}"])


@pytest.mark.e2e
@pytest.mark.slow
def test_every_panel_query_is_valid_and_returns_data(driven: str, running_app: RunningApp) -> None:
    """Every panel has data once what its description says it waits for ("Empty until ...": an evaluation, a drift
    check with enough predictions, a scheduled job) has happened, which the ``driven`` fixture makes sure of. The
    fixture waits for scrapes and a rule evaluation after the jobs; each query is still retried for a bounded time
    because a recording rule over ``rate()`` needs its own evaluation rounds."""
    empty: list[str] = []
    for board, title, expr, _ in panel_queries():
        try:
            wait_until(lambda e=expr: query(driven, e)["data"]["result"], f"data for {title}", timeout=60, interval=1)
        except WaitTimeout:
            empty.append(f"{board} / {title}: {expr}")
    if empty:
        names = {n for line in empty for n in METRIC_NAME.findall(line)}
        why = _scrape_health(driven, running_app, names)
        pytest.fail("panels without data:\n" + "\n".join(empty) + "\n" + why)


def test_a_panel_that_may_be_empty_says_until_what() -> None:
    """A panel that has no data on a fresh start says in its description what fills it, so a person reading an
    empty panel knows whether to worry; the builder's ``empty_until`` is the only way that text gets there."""
    for board, title, _, may_be_empty in panel_queries():
        description = next(p.get("description", "") for p in dashboards()[board]["panels"] if p["title"] == title)
        if may_be_empty:
            assert re.search(r"Empty until [a-z].+\.$", description), (board, title, description)


@pytest.mark.e2e
@pytest.mark.slow
def test_template_variables_resolve(driven: str) -> None:
    for board in dashboards().values():
        for var in board["templating"]["list"]:
            metric = re.match(r"label_values\((\w+(?:\{[^}]*\})?), (\w+)\)", var["definition"])
            assert metric is not None
            values = httpx.get(
                f"{driven}/api/v1/label/{metric.group(2)}/values", params={"match[]": metric.group(1)}, timeout=10
            ).json()["data"]
            assert values, var["name"]


@pytest.mark.e2e
@pytest.mark.slow
def test_metric_names_match_between_the_app_and_the_dashboards_and_rules(driven: str, running_app: RunningApp) -> None:
    exposed = set()
    for line in running_app.metrics().splitlines():
        if line and not line.startswith("#"):
            exposed.add(line.split("{")[0].split(" ")[0])
    families = {re.sub(r"_(bucket|sum|count)$", "", n) for n in exposed}
    referenced = set()
    for expr in [q[2] for q in panel_queries()] + _rule_expressions():
        referenced |= set(METRIC_NAME.findall(expr))
    missing = sorted(n for n in referenced if n not in exposed and n not in families)
    assert not missing, f"queried but not exposed by the app: {missing}"
    ours = {f for f in families if f.startswith(("sentiment_", "model_", "scheduler_"))}
    used = {re.sub(r"_(bucket|sum|count)$", "", n) for n in referenced}
    unused = sorted(ours - used)
    assert not unused, f"exposed but used by no panel or rule: {unused}"
