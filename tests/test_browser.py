"""A person in headless Chromium: types a text and sees the label, uploads a CSV and downloads the scored copy."""

from __future__ import annotations

import csv
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from appserver import REPO, RunningApp

pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.slow]

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = REPO / "artifacts" / "screenshots"


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium is not installed at {CHROMIUM}: run 'make test' (it installs it) or set CHROMIUM_PATH")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium")),
            executable_path=CHROMIUM,
            headless=True,
            args=ARGS,
            accept_downloads=True,
            viewport={"width": 1280, "height": 900},
        )
        page = context.new_page()
        yield page
        context.close()


def test_a_person_classifies_a_text_and_scores_a_csv(page, running_app: RunningApp, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.goto(running_app.url, wait_until="networkidle")
    expect(page.locator("#model-info")).to_contain_text("embedded", timeout=30_000)

    page.locator("#text-input textarea").fill("This airline lost my bag and nobody helped. Awful.")
    page.locator("#predict-button").click()
    expect(page.locator("#label-output")).to_contain_text("negative", timeout=30_000)
    page.screenshot(path=str(SCREENSHOTS / "predict.png"), full_page=True)

    source = tmp_path / "tweets.csv"
    source.write_text("id,text\n1,I love this so much!\n2,Worst day ever.\n3,The meeting is at 3pm.\n")
    page.get_by_role("tab", name="Batch (CSV)").click()
    page.locator("#csv-upload input[type=file]").set_input_files(str(source))
    page.wait_for_timeout(1500)  # the upload event fills the column dropdown
    page.locator("#score-button").click()
    link = page.locator('a[href$="/tweets_scored.csv"]')
    expect(link.first).to_be_visible(timeout=60_000)
    with page.expect_download() as download_info:
        link.first.click()
    target = tmp_path / "downloaded.csv"
    download_info.value.save_as(str(target))
    with target.open(newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["id", "text", "label", "score_negative", "score_neutral", "score_positive", "error"]
    assert [r[0] for r in rows[1:]] == ["1", "2", "3"]
    assert rows[1][2] == "positive" and rows[2][2] == "negative"
    page.screenshot(path=str(SCREENSHOTS / "batch.png"), full_page=True)
    if os.environ.get("UPDATE_SCREENSHOTS"):
        docs = REPO / "docs"
        docs.mkdir(exist_ok=True)
        shutil.copy(SCREENSHOTS / "predict.png", docs / "screenshot-predict.png")
        shutil.copy(SCREENSHOTS / "batch.png", docs / "screenshot-batch.png")
