"""The running app over HTTP: the named API through gradio_client, /health, and /metrics moving exactly."""

from __future__ import annotations

import csv
from pathlib import Path

import httpx
import pytest
from gradio_client import Client, handle_file

from appserver import RunningApp, metric_value

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.fixture(scope="module")
def client(running_app: RunningApp) -> Client:
    return Client(running_app.url, verbose=False)


def _predictions(app: RunningApp) -> dict[str, float]:
    text = app.metrics()
    return {
        label: metric_value(text, "sentiment_predictions_total", {"sentiment": label})
        for label in ("negative", "neutral", "positive")
    }


def test_every_action_is_a_named_endpoint(client: Client) -> None:
    endpoints = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert {"/predict", "/predict_batch", "/inspect_csv", "/score_csv", "/model_info"} <= set(endpoints)


def test_health_names_the_serving_model(running_app: RunningApp) -> None:
    body = httpx.get(f"{running_app.url}/health", timeout=10).json()
    assert body["status"] == "ready"
    assert body["model"]["name"] == "embedded" and body["model"]["revision"].startswith("adapter:")


def test_single_prediction_returns_the_label_and_all_three_probabilities(
    client: Client, running_app: RunningApp
) -> None:
    before = _predictions(running_app)
    label, details = client.predict("I absolutely love this phone, best purchase ever!", api_name="/predict")
    assert label["label"] == "positive" == details["label"]
    assert {c["label"] for c in label["confidences"]} == {"negative", "neutral", "positive"}
    assert details["model"] == "embedded"
    after = _predictions(running_app)
    assert after["positive"] - before["positive"] == 1
    assert sum(after.values()) - sum(before.values()) == 1


def test_several_texts_give_a_table_and_bad_lines_do_not_sink_it(client: Client, running_app: RunningApp) -> None:
    before = sum(_predictions(running_app).values())
    table = client.predict(
        "Great service!\nTerrible, never again.\nThe store opens at nine.", api_name="/predict_batch"
    )
    assert table["headers"][:2] == ["text", "label"]
    assert [row[1] for row in table["data"]][:2] == ["positive", "negative"]
    assert sum(_predictions(running_app).values()) - before == 3


def test_bad_input_gets_a_clear_error_and_is_counted(client: Client, running_app: RunningApp) -> None:
    errors = metric_value(running_app.metrics(), "sentiment_errors_total", {"reason": "empty_text"})
    with pytest.raises(Exception, match="whitespace"):
        client.predict("   ", api_name="/predict")
    assert metric_value(running_app.metrics(), "sentiment_errors_total", {"reason": "empty_text"}) == errors + 1
    label, _ = client.predict("x" * 100_000, api_name="/predict")  # long text: truncated and flagged, not refused
    assert label["label"] in {"negative", "neutral", "positive"}


def test_a_csv_comes_back_with_every_row_and_column_plus_five(
    client: Client, running_app: RunningApp, tmp_path: Path
) -> None:
    path = tmp_path / "reviews.csv"
    rows = [["id", "text", "stars"]] + [
        [str(i), t, str(s)]
        for i, (t, s) in enumerate(
            [
                ("Loved it, would buy again", 5),
                ("Broke after a day. Awful.", 1),
                ("", 3),
                ("It is blue.", 3),
                ("=1+1 formula attempt", 2),
            ]
        )
    ]
    with path.open("w", newline="") as handle:
        csv.writer(handle).writerows(rows)
    before = sum(_predictions(running_app).values())
    column, _ = client.predict(handle_file(str(path)), api_name="/inspect_csv")
    assert column == "text"
    out, summary, _ = client.predict(handle_file(str(path)), "text", api_name="/score_csv")
    with open(out, newline="") as handle:
        result = list(csv.reader(handle))
    added = ["label", "score_negative", "score_neutral", "score_positive", "error", "prediction_id"]
    assert result[0] == rows[0] + added
    assert len(result) == len(rows)
    assert [r[0] for r in result[1:]] == ["0", "1", "2", "3", "4"]
    assert result[5][1] == "'=1+1 formula attempt"
    assert summary["scored"] == 4 and summary["skipped"] == {"empty text": 1}
    assert sum(_predictions(running_app).values()) - before == 4
    _, again, _ = client.predict(handle_file(str(path)), "text", api_name="/score_csv")
    assert again["rows"] == 5  # a client may score the same (cached) upload twice


def test_metrics_is_an_exact_route_with_the_serving_metrics(running_app: RunningApp) -> None:
    response = httpx.get(f"{running_app.url}/metrics", timeout=10, follow_redirects=False)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    for name in (
        "sentiment_predictions_total",
        "sentiment_prediction_latency_seconds_bucket",
        "sentiment_text_length_bucket",
        "sentiment_confidence_bucket",
        "sentiment_batch_size_bucket",
        "sentiment_errors_total",
        "sentiment_requests_in_progress",
        "sentiment_model_info",
    ):
        assert name in response.text
    assert metric_value(response.text, "sentiment_model_info", {"model": "embedded", "source": "embedded"}) == 1


def test_replay_sends_a_dataset_at_a_rate_and_stops_by_itself(running_app: RunningApp) -> None:
    from conftest import CACHE

    from sentiment.monitoring.replay import replay
    from sentiment.settings import Settings

    before = sum(_predictions(running_app).values())
    stats = replay(
        running_app.url, "vader_tweets", Settings(cache_override=CACHE), rate=20, max_texts=12, shift_to="vader_movies"
    )
    assert (stats.sent, stats.failed) == (12, 0)
    assert stats.seconds >= 11 / 20
    assert sum(_predictions(running_app).values()) - before == 12
