"""A person in headless Chromium, tab by tab: what each tab shows when it opens and after one action.

Each test asserts the visible state (one tab bar and only the selected tab's content, real table headers rather than
Gradio's "1 2 3" placeholders, one progress indicator per action, the Monitoring tab filled on open and in words,
readable legends, admin-only buttons disabled with the reason when no admin token is set) and writes a screenshot to
``artifacts/screenshots/`` (CI uploads it); the README's pictures (``docs/screenshot-*.png``) are taken by the same
tests, so they show the page as it is, and written there only with ``SENTIMENT_UPDATE_SCREENSHOTS=1`` (every run
rewrote them, a few pixels apart, and left each clone's working tree changed after ``make test``).
"""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from browser import EVENT_TIMEOUT, LONG, SCREENSHOTS, chromium_page
from conftest import ADMIN_TOKEN

from appserver import REPO, RunningApp, call_api, metric_value

pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.slow]

# Counts, from before a click until read, the most progress indicators ("processing | 1.2s") shown at one time.
WATCH_PROGRESS = """() => {
    window.__mostProgress = 0;
    const count = () => {
        const shown = [...document.querySelectorAll('.progress-text')].filter(e => e.getClientRects().length > 0);
        window.__mostProgress = Math.max(window.__mostProgress, shown.length);
    };
    window.__progressWatch?.disconnect();
    window.__progressWatch = new MutationObserver(count);
    window.__progressWatch.observe(document.body, {subtree: true, childList: true, attributes: true});
    count();
}"""


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with chromium_page(tmp_path_factory.mktemp("chromium"), accept_downloads=True) as page:
        yield page


def _open(page: Any, app: RunningApp, tab: str | None = None) -> None:
    from playwright.sync_api import expect

    # the page itself, then the event the tests need (the header names the model), each bounded by LONG: not "network
    # idle" within 60 s, which also waits for every load event, queued behind whatever job the app is running
    page.goto(app.url, wait_until="load", timeout=LONG)
    expect(page.locator("#model-info")).to_contain_text("embedded", timeout=LONG)
    if tab:
        page.get_by_role("tab", name=tab).click()


def _headers(page: Any, elem_id: str) -> list[str]:
    from playwright.sync_api import expect

    expect(page.locator(f"#{elem_id} thead th").first).to_be_visible()
    return [h.strip() for h in page.locator(f"#{elem_id} thead th").all_inner_texts()]


def _most_progress(page: Any) -> int:
    return int(page.evaluate("() => window.__mostProgress"))


def _inside(page: Any, inner: str, outer: str) -> bool:
    """Whether the box of ``inner`` lies within the box of ``outer`` (a clipped legend sticks out of its plot)."""
    a, b = page.locator(inner).bounding_box(), page.locator(outer).bounding_box()
    assert a is not None and b is not None, (inner, outer)
    left, top = a["x"] >= b["x"], a["y"] >= b["y"]
    right = a["x"] + a["width"] <= b["x"] + b["width"] + 1
    bottom = a["y"] + a["height"] <= b["y"] + b["height"] + 1
    return left and top and right and bottom


def _settles_inside(page: Any, inner: str, outer: str) -> bool:
    """``_inside`` once the chart has laid itself out: Vega re-renders a plot when its container's width changes (a
    scrollbar appearing as the tab below it grows), and for a moment the old legend overhangs the new box. A legend
    that stays clipped still fails, after ``EVENT_TIMEOUT``."""
    from waiting import WaitTimeout, wait_until

    try:
        return wait_until(lambda: _inside(page, inner, outer), f"{inner} inside {outer}", EVENT_TIMEOUT / 1000)
    except WaitTimeout:
        return False


DOCS = REPO / "docs"
TABS = {  # each tab, and an element only that tab holds
    "Predict": "#text-input",
    "Batch (CSV)": "#csv-upload",
    "Evaluate": "#evaluate-button",
    "Monitoring": "#refresh-button",
    "Models": "#switch-button",
    "Label": "#label-start",
    "Retrain": "#retrain-start",
}


def _shot(page: Any, name: str, docs: bool = False) -> None:
    """The whole page to ``artifacts/screenshots/``; with ``docs``, also the first screen a visitor sees (1280x800)
    to ``artifacts/screenshots/docs/``, and to ``docs/screenshot-<name>.png`` (the README's picture) when
    ``SENTIMENT_UPDATE_SCREENSHOTS=1``."""
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
    if docs:
        (SCREENSHOTS / "docs").mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "docs" / f"screenshot-{name}.png"))
        if os.environ.get("SENTIMENT_UPDATE_SCREENSHOTS") == "1":
            page.screenshot(path=str(DOCS / f"screenshot-{name}.png"))


def test_one_tab_bar_and_each_tab_shows_only_its_own_content(page: Any, running_app: RunningApp) -> None:
    """A ``gr.api`` between two tabs once split the page into two tab bars, the Predict form staying on screen
    above every other tab; finding tabs by role and name did not notice. Exactly one ``tablist``, and after each
    click the selected tab's own element is visible and every other tab's is hidden."""
    from playwright.sync_api import expect

    _open(page, running_app)
    expect(page.get_by_role("tablist")).to_have_count(1)
    for tab, own in TABS.items():
        page.get_by_role("tab", name=tab).click()
        expect(page.get_by_role("tab", name=tab)).to_have_attribute("aria-selected", "true")
        expect(page.locator(own)).to_be_visible()
        for other, theirs in TABS.items():
            if other != tab:
                expect(page.locator(theirs)).to_be_hidden()
    expect(page.get_by_role("tablist")).to_have_count(1)


def test_predict_tab_classifies_a_text_with_one_progress_indicator(page: Any, running_app: RunningApp) -> None:
    from playwright.sync_api import expect

    _open(page, running_app)
    expect(page.locator("#model-info")).not_to_contain_text("Offline")
    page.get_by_text("Several texts (one per line)").click()
    assert _headers(page, "predictions") == [
        "text",
        "label",
        "score_negative",
        "score_neutral",
        "score_positive",
        "truncated",
        "error",
        "prediction_id",
    ]

    page.evaluate(WATCH_PROGRESS)
    page.locator("#text-input textarea").fill("This airline lost my bag and nobody helped. Awful.")
    page.locator("#predict-button").click()
    expect(page.locator("#label-output")).to_contain_text("negative", timeout=LONG)
    assert _most_progress(page) <= 1  # a prediction may end before the indicator is drawn
    details = page.locator("#prediction-details")
    expect(details).to_contain_text("prediction_id")
    assert not re.search(r"\d\.\d{5,}", details.inner_text()), details.inner_text()  # rounded for reading
    page.get_by_text("Several texts (one per line)").click()  # closed again: the first screen as a visitor has it
    page.evaluate("window.scrollTo(0, 0)")
    _shot(page, "predict", docs=True)


def test_predict_tab_says_what_is_wrong_with_a_blank_text_then_classifies_the_next(
    page: Any, running_app: RunningApp
) -> None:
    """A blank text is refused with the message that says what to fix, shown on the page (since ``/predict`` is
    batched, by its validator as the call is submitted), and the next text is classified as usual."""
    from playwright.sync_api import expect

    _open(page, running_app)
    page.locator("#text-input textarea").fill("   ")
    page.locator("#predict-button").click()
    expect(page.get_by_text("text is only whitespace").first).to_be_visible(timeout=LONG)
    page.locator("#text-input textarea").fill("Best flight ever, thank you so much!")
    page.locator("#predict-button").click()
    expect(page.locator("#label-output")).to_contain_text("positive", timeout=LONG)


def test_batch_tab_names_the_encoding_and_scores_a_file(page: Any, running_app: RunningApp, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    _open(page, running_app, "Batch (CSV)")
    source = tmp_path / "tweets.csv"
    texts = ["I love this so much!", "Worst day ever.", "The meeting is at 3pm."]
    with source.open("w", newline="", encoding="utf-8") as handle:  # no BOM
        csv.writer(handle).writerows([["id", "text"], *([str(i), texts[i % 3]] for i in range(300))])
    page.locator("#csv-upload input[type=file]").set_input_files(str(source))
    expect(page.locator("#csv-note")).to_have_text("2 columns, comma-separated, UTF-8")
    expect(page.locator("#csv-column input")).to_have_value("text")

    page.evaluate(WATCH_PROGRESS)
    page.locator("#score-button").click()
    link = page.locator('a[href$="/tweets_scored.csv"]')
    expect(link.first).to_be_visible(timeout=60_000)
    assert _most_progress(page) == 1  # on the scored file only, not once per output
    with page.expect_download() as download_info:
        link.first.click()
    target = tmp_path / "downloaded.csv"
    download_info.value.save_as(str(target))
    with target.open(newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == [
        *("id", "text", "label", "score_negative", "score_neutral", "score_positive", "error", "prediction_id")
    ]
    assert [r[0] for r in rows[1:4]] == ["0", "1", "2"] and len(rows) == 301
    assert rows[1][2] == "positive" and rows[2][2] == "negative"
    _shot(page, "batch", docs=True)


def test_evaluate_tab_shows_real_headers_then_a_readable_comparison(page: Any, running_app: RunningApp) -> None:
    from playwright.sync_api import expect

    _open(page, running_app, "Evaluate")
    assert _headers(page, "evaluation-metrics")[:3] == ["model", "dataset", "split"]
    assert _headers(page, "evaluation-classes") == ["model", "class", "precision", "recall", "F1", "support"]
    comparison = ["metric", "B minus A", "95% interval", "test", "p-value", "verdict"]
    assert _headers(page, "evaluation-comparison") == comparison
    assert _headers(page, "evaluation-history")[:3] == ["id", "created_at", "model"]
    expect(page.get_by_label(re.compile(r"^Sample size"))).to_have_value("500")  # what runs if left as it is
    _shot(page, "evaluate-empty")

    page.get_by_label(re.compile(r"^Sample size")).fill("120")
    page.evaluate(WATCH_PROGRESS)
    page.locator("#evaluate-button").click()
    table = page.locator("#evaluation-comparison")
    expect(table).to_contain_text("exact McNemar", timeout=LONG)
    assert _most_progress(page) == 1  # five outputs, one indicator
    expect(table).to_contain_text("paired bootstrap")
    text = table.inner_text()
    assert not re.search(r"\d\.\d{4,}", text), text  # rounded for reading; /compare keeps full precision
    assert re.search(r"(is better|no significant difference)", text)
    expect(page.locator("#evaluation-metrics")).to_contain_text("vader")
    expect(page.locator("#evaluation-confusion")).to_contain_text("rows: true")
    expect(page.get_by_role("img", name="Reliability diagram of vader")).to_be_visible()
    expect(page.locator("#evaluation-confusion")).to_contain_text("ECE")
    expect(page.locator("#evaluation-metrics")).to_contain_text("ECE")
    # every column on the page (the issue's table hid macro-F1's interval, weighted-F1 and ECE past its right edge)
    headers = page.locator("#evaluation-metrics thead th")
    for i in range(headers.count()):
        box, table_box = headers.nth(i).bounding_box(), page.locator("#evaluation-metrics").bounding_box()
        assert box and table_box and box["x"] + box["width"] <= table_box["x"] + table_box["width"] + 1, i
    diagram = page.get_by_role("img", name="Reliability diagram of embedded").bounding_box()
    assert diagram is not None and diagram["width"] >= 350  # big enough to read its bins
    expect(page.locator("#evaluation-history")).to_contain_text("visitor")  # the README's word, and the gauges'
    expect(page.locator("#evaluation-history")).not_to_contain_text("user")
    _shot(page, "evaluate")


def test_monitoring_tab_is_filled_on_open_and_draws_both_samples(page: Any, running_app: RunningApp) -> None:
    from playwright.sync_api import expect

    event, _ = call_api(running_app.url, "predict", "what a lovely morning")  # something for the charts to draw
    assert event == "complete"
    _open(page, running_app, "Monitoring")
    expect(page.locator("#monitoring-status")).to_contain_text("Logged predictions")  # no Refresh clicked
    traffic_legend = "#traffic-plot [aria-label^='Symbol legend']"
    expect(page.locator(traffic_legend)).to_be_visible()
    assert _settles_inside(page, traffic_legend, "#traffic-plot")
    expect(page.locator("#traffic-plot [aria-label^='X-axis titled']")).to_have_attribute(
        "aria-label", re.compile(r"^X-axis titled 'time \(UTC\)'.*: \d\d:\d\d(, \d\d:\d\d)*(, ending with \d\d:\d\d)?$")
    )
    expect(page.locator("#drift-button")).to_be_enabled()
    expect(page.locator("#drift-results")).to_be_hidden()  # the statistics wait behind "Details"
    page.locator("#monitoring-details").get_by_text("Details: each drift test").click()
    assert _headers(page, "drift-results")[:2] == ["feature", "test"]

    page.get_by_label("Admin token (to run jobs)").fill(ADMIN_TOKEN)
    page.evaluate(WATCH_PROGRESS)
    page.locator("#drift-button").click()
    expect(page.locator("#job-result")).to_contain_text("results", timeout=LONG)
    assert _most_progress(page) <= 1  # on the job's result; the refresh after it shows none
    legend = page.locator("#confidence-plot [aria-label^='Symbol legend']")
    expect(legend).to_have_attribute("aria-label", re.compile(r"current, reference"), timeout=LONG)
    assert _settles_inside(page, "#confidence-plot [aria-label^='Symbol legend']", "#confidence-plot")
    # refreshed after the job (without Refresh): the status line reports the check just run
    expect(page.locator("#monitoring-status")).not_to_contain_text("no drift check yet", timeout=LONG)
    expect(page.locator("#monitoring-status")).not_to_contain_text("no reference sample yet")
    # the label mix counts the very predictions the check compared, and says how many
    event, (overview,) = call_api(running_app.url, "monitoring")
    assert event == "complete"
    checked = overview["drift"]["window_size"]
    expect(page.locator("#labels-plot")).to_contain_text(f"Label mix: the last drift check's {checked:,} predictions")
    assert _headers(page, "jobs")[:3] == ["job", "every (s)", "next run (UTC)"]  # "not run yet" says when it will
    _shot(page, "monitoring")


def test_models_tab_shows_the_serving_model_on_open_and_refuses_a_wrong_token(
    page: Any, running_app: RunningApp
) -> None:
    from playwright.sync_api import expect

    _open(page, running_app, "Models")
    card = page.locator("#serving-now")
    expect(card).to_contain_text("Serving now: embedded")
    for field in ("Revision", "Precision", "Calibrated", "Serving since", "Replaced"):
        expect(card).to_contain_text(field)
    expect(page.locator("#serving-json")).to_be_hidden()  # the JSON waits behind "Details"
    assert _headers(page, "runs") == ["run", "base", "datasets", "best epoch", "minutes", "test macro-F1"]
    expect(page.locator("#no-runs")).to_contain_text("python -m finetune")  # why the table is empty, how to fill it
    expect(page.locator("#switch-button")).to_be_enabled()

    page.get_by_label("Admin token", exact=True).fill("not-the-token")
    page.evaluate(WATCH_PROGRESS)
    page.locator("#switch-button").click()
    expect(page.get_by_text("wrong or missing admin token").first).to_be_visible(timeout=LONG)
    expect(card).to_contain_text("Serving now: embedded")
    assert _most_progress(page) <= 1
    _shot(page, "models")


def test_without_an_admin_token_jobs_and_switching_are_disabled_and_say_why(
    page: Any, app_without_admin: RunningApp
) -> None:
    """The app as a Space runs it out of the box: model ``auto`` falls back to the embedded model offline."""
    from playwright.sync_api import expect

    _open(page, app_without_admin)
    header = page.locator("#model-info")
    expect(header).to_contain_text("Offline: serving the embedded model")
    expect(header).not_to_contain_text("HF_HUB_OFFLINE")  # the technical reason is for /health and the log
    assert "HF_HUB_OFFLINE" in httpx.get(f"{app_without_admin.url}/health", timeout=10).json()["model"]["note"]

    page.get_by_role("tab", name="Monitoring").click()
    expect(page.locator("#monitoring-status")).to_contain_text("Logged predictions")
    expect(page.locator("#drift-button")).to_be_disabled()
    expect(page.locator("#evaluation-button")).to_be_disabled()
    expect(page.locator("#jobs-note")).to_contain_text("no admin token is set")
    expect(page.locator("#traffic-plot [aria-label^='Symbol legend']")).to_be_visible()  # drawn, for the screenshot
    _shot(page, "monitoring-no-admin")

    page.get_by_role("tab", name="Models").click()
    expect(page.locator("#switch-button")).to_be_disabled()
    expect(page.locator("#switch-note")).to_contain_text("no admin token is set")
    # the offline fallback in a sentence: the raw reason (exception, errno, the switch) is for /health and the log
    card = page.locator("#serving-now")
    expect(card).to_contain_text("Offline: the Hub model")
    expect(card).to_contain_text("this app is set to work offline")
    for raw in ("Error", "Errno", "HF_HUB_OFFLINE", "Hub not used"):
        expect(card).not_to_contain_text(raw)
    page.locator("#serving-details").get_by_text("Details (JSON)").click()
    expect(page.locator("#serving-json")).to_contain_text("this app is set to work offline")
    expect(page.locator("#serving-json")).not_to_contain_text("HF_HUB_OFFLINE")
    _shot(page, "models-no-admin")


@pytest.fixture(scope="module")
def shifted_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningApp]:
    """An app whose drift window is small enough for a short replay, and whose production evaluation counts a few
    visitors' labels (unreviewed), so every reading of the answer card can be filled in a test."""
    from conftest import CACHE

    from appserver import start_app

    app = start_app(
        tmp_path_factory.mktemp("shifted-app"),
        {
            "SENTIMENT_MODEL": "embedded",
            "SENTIMENT_ADMIN_TOKEN": ADMIN_TOKEN,
            "SENTIMENT_CACHE_DIR": str(CACHE),
            "SENTIMENT_SCHEDULER_ENABLED": "false",
            "SENTIMENT_DRIFT_WINDOW": "200",
            "SENTIMENT_DRIFT_MIN_WINDOW": "100",
            "SENTIMENT_PRODUCTION_MIN_LABELS": "5",
            "SENTIMENT_PRODUCTION_UNREVIEWED": "true",
            "SENTIMENT_EVALUATION_DATASETS": '["vader_tweets"]',
            "SENTIMENT_EVALUATION_SAMPLE_SIZE": "30",
        },
    )
    yield app
    app.stop()


def _shifted_traffic(url: str, count: int) -> None:
    """The texts ``python -m sentiment replay --dataset vader_tweets --shift-to vader_nyt --max-texts <count>`` sends
    (tweets, then news sentences), sent as the *Batch* box sends them: a hundred lines a call instead of a request
    per text, the same predictions in the same order in the log. (The replay itself, a request per text at a rate,
    is tested in ``test_app_http.py``.)"""
    from conftest import CACHE

    from sentiment.datasets import load_split
    from sentiment.settings import Settings

    settings = Settings(cache_dir=CACHE)
    half = count // 2
    texts = [
        text
        for name, n in (("vader_tweets", half), ("vader_nyt", count - half))
        for text in load_split(name, "all", settings)["text"].sample(frac=1.0, random_state=0).tolist()[:n]
    ]
    for start in range(0, count, 100):  # one text per line: a line break inside a text would split it
        lines = [" ".join(text.split()) for text in texts[start : start + 100]]
        event, _ = call_api(url, "predict_batch", "\n".join(lines), timeout=LONG / 1000)
        assert event == "complete"


def test_the_monitoring_tab_answers_first_after_a_replay_of_shifted_traffic(page: Any, shifted_app: RunningApp) -> None:
    """Send tweets then news sentences (what ``python -m sentiment replay --shift-to`` sends), label five
    predictions, run the drift check and the evaluation: the card at the top of the Monitoring tab gives the
    headline, the realised accuracy from those 5 labels, the estimated accuracy against the reference, the drift
    verdict and the feature that moved most; /monitoring returns the same answer as JSON."""
    from playwright.sync_api import expect

    _shifted_traffic(shifted_app.url, 300)
    for text, label in [("I love it", "positive"), ("awful, just awful", "negative")] + [
        ("it is a chair", "neutral")
    ] * 3:
        event, (_, details) = call_api(shifted_app.url, "predict", text)
        assert event == "complete"
        event, outcome = call_api(shifted_app.url, "feedback", details["prediction_id"], label, "")
        assert event == "complete", outcome
    event, report = call_api(shifted_app.url, "run_drift_check", ADMIN_TOKEN, timeout=LONG / 1000)
    assert event == "complete" and report[0]["status"] in {"ok", "warning", "drift"}, report
    event, _ = call_api(shifted_app.url, "run_evaluation", ADMIN_TOKEN, timeout=LONG / 1000)
    assert event == "complete"

    _open(page, shifted_app, "Monitoring")
    card = page.locator("#monitoring-status")
    expect(card.locator("h3")).to_contain_text("Measured on 5 labelled predictions: accuracy", timeout=LONG)
    expect(card).to_contain_text("Realised accuracy:")
    expect(card).to_contain_text("from 5 labels")
    expect(card).to_contain_text(re.compile(r"Estimated accuracy now: \d\.\d\d \(\d\.\d\d-\d\.\d\d, 200 predictions"))
    expect(card).to_contain_text(re.compile(r"vs \d\.\d\d at the reference"))
    # one window of shifted traffic: seen, not confirmed (SENTIMENT_DRIFT_CONFIRM_WINDOWS=2), never "ok"
    assert report[0]["raw_status"] == "drift" and report[0]["status"] != "drift", report[0]
    expect(card).to_contain_text(
        re.compile(
            r"Drift: drift seen in 1 window, not yet confirmed: confirmed after 2 windows that share no prediction"
        )
    )
    expect(card).to_contain_text(re.compile(r"the next such window comes in ~\d+ predictions"))
    expect(card).not_to_contain_text("Drift: ok")
    expect(card).not_to_contain_text("Drift: no drift")
    expect(card).to_contain_text("What moved, strongest first:")
    expect(card).not_to_contain_text("Holm")  # the statistics wait behind "Details"
    expect(card).to_contain_text("Logged predictions")
    assert metric_value(shifted_app.metrics(), "sentiment_drift_status") == 0.5  # the gauge says the same
    for plot in ("#traffic-plot", "#labels-plot", "#confidence-plot"):  # drawn, for the screenshot
        expect(page.locator(f"{plot} [aria-label^='Y-axis']")).to_be_visible()
    _shot(page, "monitoring-answer")

    event, (overview,) = call_api(shifted_app.url, "monitoring")
    answer = overview["answer"]
    assert answer["realised"]["labels"] == 5 and answer["estimate"]["n"] == 200
    assert answer["drift_unconfirmed"] == "drift" and "not yet confirmed" in answer["verdict"]
    assert all(words in card.inner_text() for words in answer["what_moved"])
