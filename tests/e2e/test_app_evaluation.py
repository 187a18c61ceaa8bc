"""Evaluation through the running app: two real models compared over gradio_client, gauges on /metrics."""

from __future__ import annotations

import pytest
from conftest import ADMIN_TOKEN
from gradio_client import Client, handle_file
from prometheus_client.parser import text_string_to_metric_families

from appserver import RunningApp, metric_value

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.fixture(scope="module")
def client(running_app: RunningApp) -> Client:
    return Client(running_app.url, verbose=False)


def test_embedded_and_vader_on_amazon_give_two_reports_and_a_comparison(
    client: Client, running_app: RunningApp
) -> None:
    result = client.predict("embedded", "vader", "vader_amazon", "test", 0, 0, api_name="/compare")
    a, b, comparison = result["a"], result["b"], result["comparison"]
    assert (a["model"], b["model"]) == ("embedded", "vader")
    assert a["n"] == b["n"] == 554 and a["row_ids"] == b["row_ids"]
    assert a["metrics"]["confusion"] != b["metrics"]["confusion"]
    assert comparison["macro_f1_difference"] == pytest.approx(b["metrics"]["macro_f1"] - a["metrics"]["macro_f1"])
    text = running_app.metrics()
    for report in (a, b):
        key = {"model": report["model"], "dataset": "vader_amazon", "split": "test", "source": "visitor"}
        assert metric_value(text, "model_accuracy", key) == pytest.approx(report["metrics"]["accuracy"])
        assert metric_value(text, "model_evaluation_timestamp_seconds", key) > 0


def test_the_whole_tweet_test_split_with_the_embedded_model(client: Client) -> None:
    report = client.predict("embedded", "vader_tweets", "test", 0, 0, api_name="/evaluate")
    print(
        f"embedded on vader_tweets/test: n={report['n']}, {report['seconds']:.1f} s, "
        f"macro-F1 {report['metrics']['macro_f1']:.3f}"
    )
    assert report["n"] == 630
    history = client.predict(api_name="/evaluations")
    assert history[0]["model"] == "embedded" and history[0]["dataset"] == "vader_tweets"


def test_a_seed_changes_the_rows_and_the_same_seed_repeats_them(client: Client) -> None:
    first = client.predict("vader", "vader_nyt", "test", 100, 1, api_name="/evaluate")
    second = client.predict("vader", "vader_nyt", "test", 100, 1, api_name="/evaluate")
    third = client.predict("vader", "vader_nyt", "test", 100, 2, api_name="/evaluate")
    assert first["row_ids"] == second["row_ids"] != third["row_ids"]


def test_a_local_path_as_a_model_is_refused(client: Client) -> None:
    with pytest.raises(Exception, match="local path"):
        client.predict("/etc", "vader_tweets", "test", 10, 0, api_name="/evaluate")


def _scheduled_series(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        if family.name.startswith("model_")
        for sample in family.samples
        if sample.labels.get("source") == "scheduled"
    }


def test_a_visitors_three_row_evaluation_leaves_the_scheduled_series_unchanged(
    client: Client, running_app: RunningApp
) -> None:
    """The reported case: a 3-row /evaluate overwrote model_accuracy{dataset="vader_tweets",split="test"}, the series
    the hourly job writes from 300 rows and the accuracy alert reads."""
    client.predict(ADMIN_TOKEN, api_name="/run_evaluation")
    before = _scheduled_series(running_app.metrics())
    key = {"model": "embedded", "dataset": "vader_tweets", "split": "test", "source": "scheduled"}
    assert before[("model_evaluation_samples", tuple(sorted(key.items())))] == 300
    report = client.predict("embedded", "vader_tweets", "test", 3, 0, api_name="/evaluate")
    assert report["n"] == 3
    text = running_app.metrics()
    assert _scheduled_series(text) == before
    visitor = {**key, "source": "visitor"}
    assert metric_value(text, "model_evaluation_samples", visitor) == 3
    assert metric_value(text, "model_accuracy", visitor) == pytest.approx(report["metrics"]["accuracy"])


def test_an_uploaded_star_file_needs_its_label_map_and_is_evaluated_whole(
    client: Client, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The Evaluate tab's upload: no split or sample size chosen means the whole file; labels 1/3/5 are refused until
    mapped."""
    path = tmp_path_factory.mktemp("upload") / "stars.csv"
    path.write_text("review,stars\nI love it,5\nI hate it,1\nIt is a chair,3\nSo good,5\n", encoding="utf-8")
    args = ("vader", "(none)", "vader_tweets", None, None, 0, handle_file(str(path)))  # no split, no sample size
    with pytest.raises(Exception, match="label_map"):
        client.predict(*args, "", api_name="/evaluate_models")
    table, *_ = client.predict(*args, "1:negative,3:neutral,5:positive", api_name="/evaluate_models")
    row = dict(zip(table["headers"], table["data"][0], strict=True))
    assert (row["dataset"], row["split"], row["n"]) == ("uploaded", "all", 4)
    assert row["rows used"] == "4 of 4: the whole file"
    assert row["labels"] == "label_map: 1 -> negative, 3 -> neutral, 5 -> positive"
