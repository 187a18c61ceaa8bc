"""The review sample on an app of this module's own (``review_app``: it draws every prediction into the sample,
``SENTIMENT_REVIEW_RATE=1``, and no other test's traffic waits in its queue): ``/review_sample`` over plain HTTP
refuses anyone without the admin token and lets the owner list, label, skip and import labels; the named Gradio
endpoints do the same for ``gradio_client``; ``/health`` and ``/monitoring`` count labelled and waiting rows; in real
Chromium the Label view labels with the keys 1, 2, 3 and skips with s; and 30 labels put the prediction-powered
interval on the Monitoring card."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from browser import SCREENSHOTS, chromium_page
from conftest import ADMIN_TOKEN, SHARED_APP_ENV
from gradio_client import Client

from appserver import RunningApp, start_app

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
ADMIN = {"X-Admin-Token": ADMIN_TOKEN}


@pytest.fixture(scope="module")
def review_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningApp]:
    """The app as an owner runs it with a review sample, drawing every prediction (rate 1) so each test labels what
    it sent; its own process, so the Label view's queue holds only this module's texts (the shared app's would hold
    every other test's traffic, thousands of rows to set aside first)."""
    app = start_app(tmp_path_factory.mktemp("review-app"), SHARED_APP_ENV)
    yield app
    app.stop()


def _sent(app: RunningApp, n: int) -> list[str]:
    """Send ``n`` unique texts in one request and wait until the log's writer has drawn them all into the sample;
    returns the texts."""
    tag = uuid.uuid4().hex[:8]
    texts = [f"review e2e {tag} number {i}: the seats were fine" for i in range(n)]
    assert httpx.post(f"{app.url}/predict", json={"inputs": texts}, timeout=120).status_code == 200
    deadline = time.monotonic() + 60
    while not set(texts) <= {r["text"] for r in _rows(app, "all")}:
        assert time.monotonic() < deadline, "the sampled rows did not reach the store within 60 s"
        time.sleep(0.2)  # polling a condition (the writer thread's commit), bounded by the deadline
    return texts


def _rows(app: RunningApp, state: str) -> list[dict[str, Any]]:
    response = httpx.get(f"{app.url}/review_sample", params={"state": state, "limit": 10_000}, headers=ADMIN)
    assert response.status_code == 200, response.text
    return list(response.json()["rows"])


def _clear_queue(app: RunningApp) -> None:
    """Skip what other tests left waiting, so the Label view shows this test's texts next (oldest first)."""
    for row in _rows(app, "waiting"):
        httpx.post(f"{app.url}/review_sample", json={"id": row["id"], "skip": True}, headers=ADMIN, timeout=60)


def test_review_sample_over_http_is_the_owners_alone(review_app: RunningApp) -> None:
    """Without the token, or with a wrong one, every route is 403 and shows no text; with it the owner lists rows
    (each with its text and inclusion probability 1.0), labels one (labeller ``api``), is told by name what is wrong
    with a bad label or id (422), and imports a CSV whose bad row is reported while its good row is labelled."""
    url = review_app.url
    texts = _sent(review_app, 3)
    for headers in ({}, {"X-Admin-Token": "not-the-token"}):
        for response in (
            httpx.get(f"{url}/review_sample", headers=headers),
            httpx.get(f"{url}/review_sample/next", headers=headers),
            httpx.post(f"{url}/review_sample", json={"id": 1, "label": "negative"}, headers=headers),
            httpx.post(f"{url}/review_sample/bulk", content=b"review_id,label\n1,negative\n", headers=headers),
        ):
            assert response.status_code == 403 and "wrong or missing admin token" in response.text
            assert texts[0] not in response.text
    mine = {r["text"]: r for r in _rows(review_app, "all") if r["text"] in texts}
    assert {r["inclusion_probability"] for r in mine.values()} == {1.0}
    first, second, third = (mine[t]["id"] for t in texts)
    labelled = httpx.post(f"{url}/review_sample", json={"id": first, "label": "Positive"}, headers=ADMIN).json()
    assert (labelled["item"]["label"], labelled["item"]["labeller"]) == ("positive", "api")
    assert "for this week's interval" in labelled["progress"]["text"]
    bad = httpx.post(f"{url}/review_sample", json={"id": second, "label": "great"}, headers=ADMIN)
    assert bad.status_code == 422 and "unknown label 'great'" in bad.json()["detail"]
    missing = httpx.post(f"{url}/review_sample", json={"id": 10**9, "label": "neutral"}, headers=ADMIN)
    assert missing.status_code == 422 and "no sampled prediction has review id" in missing.json()["detail"]
    csv = f"review_id,label\n{second},neutral\n{third},maybe\n".encode()
    summary = httpx.post(f"{url}/review_sample/bulk", content=csv, headers=ADMIN).json()
    assert (summary["recorded"], summary["not_used_rows"]) == (1, {"not a label": [2]})
    by_text = {r["text"]: (r["label"], r["labeller"]) for r in _rows(review_app, "labelled")}
    assert (by_text[texts[0]], by_text[texts[1]]) == (("positive", "api"), ("neutral", "bulk"))
    assert texts[2] not in by_text
    health = httpx.get(f"{url}/health").json()["review_sample"]
    monitoring = httpx.get(f"{url}/monitoring", timeout=60).json()
    assert health["enabled"] and "even when SENTIMENT_LOG_TEXT is off" in health["texts"]
    assert health["labelled"] >= 2 and health["waiting"] >= 1
    assert monitoring["review_sample"]["labelled"] >= 2
    assert monitoring["answer"]["review_sample"]["waiting"] >= 1


def test_gradio_client_labels_through_the_named_endpoints(review_app: RunningApp) -> None:
    """``/review_next``, ``/review_label``, ``/review_skip`` and ``/review_sample`` work for ``gradio_client`` with the
    token, and a wrong token is refused with the reason."""
    _clear_queue(review_app)
    texts = _sent(review_app, 2)
    client = Client(review_app.url, verbose=False)
    shown = client.predict(ADMIN_TOKEN, api_name="/review_next")
    assert shown["item"]["text"] == texts[0]
    answer = client.predict(ADMIN_TOKEN, shown["item"]["id"], "negative", api_name="/review_label")
    assert (answer["item"]["label"], answer["item"]["labeller"]) == ("negative", "api")
    following = client.predict(ADMIN_TOKEN, api_name="/review_next")["item"]
    assert following["text"] == texts[1]
    assert client.predict(ADMIN_TOKEN, following["id"], api_name="/review_skip")["item"]["skipped"] == 1
    listed = client.predict(ADMIN_TOKEN, "skipped", 10_000, api_name="/review_sample")
    assert texts[1] in {r["text"] for r in listed["rows"]}
    with pytest.raises(Exception, match="wrong or missing admin token"):
        client.predict("not-the-token", api_name="/review_next")


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with chromium_page(tmp_path_factory.mktemp("chromium-label")) as page:
        yield page


@pytest.mark.browser
def test_the_label_view_labels_with_the_keys_1_2_3_and_skips_with_s(page: Any, review_app: RunningApp) -> None:
    """A person opens the Label tab, gives the token, starts, and presses 1, 2, 3 and s: each key labels (or skips)
    the text on screen and shows the next one; the store then holds negative, neutral, positive by ``admin`` for the
    first three texts and the fourth skipped; the progress line counts towards this week's interval."""
    from browser import LONG
    from playwright.sync_api import expect

    _clear_queue(review_app)
    texts = _sent(review_app, 5)
    page.goto(review_app.url, wait_until="load", timeout=LONG)
    page.get_by_role("tab", name="Label").click()
    page.locator("#label-admin-token input").fill(ADMIN_TOKEN)
    page.locator("#label-start").click()
    shown = page.locator("#label-text textarea")
    expect(shown).to_have_value(texts[0])
    expect(page.locator("#label-progress")).to_contain_text("of 50 for this week's interval")
    expect(page.locator("#label-question")).to_contain_text("how accurate is the model")
    for key, following in zip("123s", texts[1:], strict=True):
        page.keyboard.press(key)
        expect(shown).to_have_value(following)
    page.locator("#label-admin-token input").focus()
    page.keyboard.press("1")  # typed into the token box: no label
    expect(shown).to_have_value(texts[4])
    by_text = {r["text"]: (r["label"], r["labeller"]) for r in _rows(review_app, "labelled")}
    assert [by_text.get(t) for t in texts[:3]] == [("negative", "admin"), ("neutral", "admin"), ("positive", "admin")]
    assert texts[3] in {r["text"] for r in _rows(review_app, "skipped")}
    assert texts[4] in {r["text"] for r in _rows(review_app, "waiting")}


@pytest.mark.browser
def test_thirty_labels_given_in_the_label_view_put_the_ppi_interval_on_the_monitoring_card(
    page: Any, review_app: RunningApp
) -> None:
    """Issue 28's must-show: the owner labels 30 sampled predictions with the Label view's keys; the Monitoring
    card then leads with the prediction-powered interval ("accuracy a (l-u, 90%) from n sampled labels and N
    predictions") and the class shares, and ``/monitoring`` and ``/metrics`` carry the same interval. Fails if the
    card still waits for labels, or if the figures are not computed from the review sample."""
    from browser import LONG
    from playwright.sync_api import expect

    _clear_queue(review_app)
    texts = _sent(review_app, 31)  # the 31st stays waiting: the window ends at its prediction
    page.goto(review_app.url, wait_until="load", timeout=LONG)
    page.get_by_role("tab", name="Label").click()
    page.locator("#label-admin-token input").fill(ADMIN_TOKEN)
    page.locator("#label-start").click()
    shown = page.locator("#label-text textarea")
    for i, following in enumerate(texts[1:]):
        expect(shown).to_have_value(texts[i])
        page.keyboard.press("3" if i % 3 else "1")  # the owner's own judgement: the truth the interval estimates
        expect(shown).to_have_value(following)
    truth = httpx.get(f"{review_app.url}/monitoring", timeout=60).json()["answer"]["production_truth"]
    assert truth["labelled"] >= 30 and truth["needed"] == 0 and truth["headline"], truth
    accuracy = truth["ppi"]["intervals"]["0.90"]["accuracy"]
    assert accuracy["lower"] <= accuracy["estimate"] <= accuracy["upper"]
    page.get_by_role("tab", name="Monitoring").click()
    card = page.locator("#monitoring-status")
    expect(card).to_contain_text("Production truth (random sample, PPI++): accuracy", timeout=LONG)
    expect(card).to_contain_text(f"from {truth['labelled']:,} sampled labels and")
    expect(card).to_contain_text("class shares negative")
    metrics = httpx.get(f"{review_app.url}/metrics").text
    assert 'sentiment_production_truth{bound="lower",level="0.90",quantity="accuracy"}' in metrics
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "monitoring-ppi-card.png"), full_page=True)
