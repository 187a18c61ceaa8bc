"""The public API as ``gradio_client`` sees it on a running app: which endpoints are listed, their parameters (and
which are optional), that every listed endpoint is described and names what it returns, and that the README's table
says exactly the same. An intended change to the API updates ``PUBLIC`` / ``ADMIN``, the README and the code together.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO
from gradio_client import Client, handle_file

from appserver import RunningApp

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

# endpoint -> parameters in order; a trailing "?" marks an optional one (the client fills in its default)
PUBLIC: dict[str, tuple[str, ...]] = {
    "/predict": ("text",),
    "/predict_batch": ("texts",),
    "/inspect_csv": ("file",),
    "/score_csv": ("file", "text_column?"),
    "/model_info": (),
    "/evaluate_models": (
        *("model_a?", "model_b?", "dataset?", "split?", "sample_size?", "seed?"),
        *("upload?", "label_map?"),
    ),
    "/evaluate": ("model", "dataset", "split?", "sample_size?", "seed?"),
    "/compare": ("model_a", "model_b", "dataset", "split?", "sample_size?", "seed?"),
    "/evaluations": ("limit?",),
    "/serving_model": (),
    "/monitoring_view": (),
    "/monitoring": (),
    "/feedback": ("prediction_id", "label", "text?"),
}
# listed (and callable) only when SENTIMENT_ADMIN_TOKEN is set
ADMIN: dict[str, tuple[str, ...]] = {
    "/switch_model": ("spec?", "admin_token"),
    "/run_drift_check": ("admin_token",),
    "/run_evaluation": ("admin_token",),
    "/pin_reference": ("admin_token", "rows?"),
    "/reset_reference": ("admin_token",),
    "/review_feedback": ("admin_token", "decision?", "feedback_ids?"),
    "/review_sample": ("admin_token", "state?", "limit?"),
    "/review_next": ("admin_token",),
    "/review_label": ("admin_token", "review_id", "label"),
    "/review_skip": ("admin_token", "review_id"),
    "/retrain_start": ("admin_token",),
    "/retrain_status": ("admin_token",),
    "/retrain_cancel": ("admin_token",),
    "/challenger_report": ("admin_token",),
    "/promote": ("admin_token", "force?"),
    "/rollback": ("admin_token", "to?"),
    "/publish_challenger": ("admin_token", "repo", "revision?"),
}
AUTO_LABEL = re.compile(r"^(value_\d+|parameter_\d+|\d+(st|nd|rd|th))$")  # what Gradio writes when nothing is named


def _endpoints(app: RunningApp) -> dict[str, Any]:
    api = Client(app.url, verbose=False).view_api(print_info=False, return_format="dict")
    assert not api["unnamed_endpoints"]
    return dict(api["named_endpoints"])


def _signature(endpoint: dict[str, Any]) -> tuple[str, ...]:
    return tuple(p["parameter_name"] + ("?" if p["parameter_has_default"] else "") for p in endpoint["parameters"])


def test_with_an_admin_token_the_public_and_the_admin_endpoints_are_listed(running_app: RunningApp) -> None:
    endpoints = _endpoints(running_app)
    assert {name: _signature(e) for name, e in endpoints.items()} == {**PUBLIC, **ADMIN}


def test_without_an_admin_token_only_the_public_endpoints_are_listed(app_without_admin: RunningApp) -> None:
    endpoints = _endpoints(app_without_admin)
    assert {name: _signature(e) for name, e in endpoints.items()} == PUBLIC


def test_every_listed_endpoint_is_described_and_names_its_returns(running_app: RunningApp) -> None:
    for name, endpoint in _endpoints(running_app).items():
        assert endpoint["description"], f"{name} has no description"
        labels = [r["label"] for r in endpoint["returns"]]
        assert labels and not [x for x in labels if AUTO_LABEL.match(x)], f"{name} returns unnamed values: {labels}"


def _readme_table() -> dict[str, tuple[str, ...]]:
    readme = (REPO / "README.md").read_text()
    section = readme.split("## Using it from a program", 1)[1].split("\n## ", 1)[0]
    table: dict[str, tuple[str, ...]] = {}
    for line in section.splitlines():
        row = re.match(r"^\| `(/\w+)`( \(admin\))? \|([^|]*)\|", line)
        if row:
            params = re.findall(r"`(\w+)`( \(optional\))?", row.group(3))
            table[row.group(1)] = tuple(name + ("?" if optional else "") for name, optional in params)
    return table


def test_the_readme_lists_exactly_the_pinned_endpoints() -> None:
    assert _readme_table() == {**PUBLIC, **ADMIN}


def test_inspect_csv_returns_plain_values_and_score_csv_guesses_the_column(
    running_app: RunningApp, tmp_path: Path
) -> None:
    """As the README shows them: ``column, note = ...`` and ``/score_csv`` without a column."""
    client = Client(running_app.url, verbose=False)
    path = tmp_path / "reviews.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([["id", "text", "stars"], ["1", "Loved it", "5"], ["2", "Awful.", "1"]])
    column, note = client.predict(handle_file(str(path)), api_name="/inspect_csv")
    assert (column, note) == ("text", "3 columns, comma-separated, UTF-8")
    _, summary, _ = client.predict(handle_file(str(path)), api_name="/score_csv")
    assert summary["text_column"] == "text" and summary["scored"] == 2


def test_evaluate_models_runs_without_an_upload(running_app: RunningApp) -> None:
    client = Client(running_app.url, verbose=False)
    metrics, _, _, comparison, _ = client.predict(sample_size=60, api_name="/evaluate_models")
    assert [row[0] for row in metrics["data"]] == ["embedded", "vader"]
    assert comparison["headers"] == ["metric", "B minus A", "95% interval", "test", "p-value", "verdict"]
    assert [row[0] for row in comparison["data"]] == ["macro-F1", "accuracy"]
