"""What the UI writes for people, without a browser: the header, the file note, the comparison table, the traffic
bars, and the labels the API listing shows."""

from __future__ import annotations

import codecs
import itertools
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import gradio as gr
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sentiment.evaluation.uncertainty import Interval, PairedComparison
from sentiment.results import ModelInfo, Prediction
from sentiment.service.monitoring import CONFIDENCE_CENTRES
from sentiment.tables.reading import sniff
from sentiment.web.ui.api import api_endpoint
from sentiment.web.ui.batch import file_note
from sentiment.web.ui.blocks import model_headline
from sentiment.web.ui.charts import MAX_BARS, MIN_BARS, confidence_lines, count_top, share_top, traffic_bars
from sentiment.web.ui.evaluation import COMPARISON_COLUMNS, comparison_table
from sentiment.web.ui.model_card import HUB_REASONS, OPERATOR_NOTE, model_card, note_sentence
from sentiment.web.ui.predict import SHOWN_DIGITS, details

HUB_MODEL = "cardiffnlp/twitter-roberta-base-sentiment-latest"
REASON = "https://huggingface.co is unreachable (ConnectError: [Errno -2] Name or service not known)"


def _health(name: str, source: str, note: str = "") -> dict[str, Any]:
    model = {"name": name, "source": source, "revision": "r1", "note": note}
    return {"status": "ready", "model": model, "error": None}


@pytest.mark.parametrize(
    ("name", "source", "words"),
    [("embedded", "embedded", "Offline: serving the embedded model"), ("vader", "lexicon", "the VADER lexicon")],
)
def test_a_fallback_of_auto_is_said_in_plain_words_without_the_technical_reason(
    name: str, source: str, words: str
) -> None:
    line = model_headline(_health(name, source, f"auto: Hub not used ({REASON})"), "auto", HUB_MODEL)
    assert words in line and HUB_MODEL in line
    assert "ConnectError" not in line and "Hub not used" not in line


@pytest.mark.parametrize(("spec", "source"), [("embedded", "embedded"), ("auto", "hub"), ("vader", "lexicon")])
def test_a_model_served_as_asked_is_not_called_offline(spec: str, source: str) -> None:
    line = model_headline(_health("m", source), spec, HUB_MODEL)
    assert line.startswith("**Model**: `m`") and "Offline" not in line


def test_a_model_that_failed_to_load_says_so() -> None:
    health = {"status": "failed", "model": None, "error": "cannot load model 'x'"}
    assert model_headline(health, "x", HUB_MODEL) == "**Model**: failed - cannot load model 'x'"


@pytest.mark.parametrize(
    ("content", "suffix", "note"),
    [
        (b"text,id\nhello,1\n", ".csv", "2 columns, comma-separated, UTF-8"),
        (codecs.BOM_UTF8 + b"text;id\nhello;1\n", ".csv", "2 columns, semicolon-separated, UTF-8 with BOM"),
        ("text\tid\nhello\t1\n".encode("utf-16"), ".tsv", "2 columns, tab-separated, UTF-16"),
        ("text,id\ncafé,1\n".encode("latin-1"), ".csv", "2 columns, comma-separated, Latin-1"),
        (
            "text,id\ncafé,1\n".encode() + "crème,2\n".encode("latin-1"),
            ".csv",
            "2 columns, comma-separated, UTF-8 and Latin-1 mixed",
        ),
        (b"I loved it\nnot great at all\n", ".txt", "plain text, one text per line, UTF-8"),
        (b"one text, with a comma\nanother\n", ".csv", "plain text, one text per line, UTF-8"),  # content decides
        (b"text\nhello there\n", ".csv", "1 column, UTF-8"),
        (b"body,id\nhello,1\n", ".csv", "2 columns, comma-separated, UTF-8; choose the text column"),
    ],
)
def test_the_file_note_names_separator_and_encoding_as_people_do(
    tmp_path: Path, content: bytes, suffix: str, note: str
) -> None:
    path = tmp_path / f"upload{suffix}"
    path.write_bytes(content)
    fmt = sniff(path)
    guess = "text" if "text" in fmt.columns else None
    assert file_note(fmt, guess) == note


COMPARISON = PairedComparison(
    macro_f1_difference=-0.05816870367879523,
    macro_f1_interval=Interval(-0.11297590591751384, -0.005917545187110437, 0.95),
    bootstrap_p_value=0.038,
    accuracy_difference=0.015999999999999903,
    mcnemar_p_value=0.5007663934164358,
    only_a_correct=50,
    only_b_correct=58,
    significant=True,
)


def test_the_comparison_is_a_rounded_table_that_names_each_test_and_its_verdict() -> None:
    table = comparison_table(COMPARISON, "embedded", "vader")
    assert list(table.columns) == COMPARISON_COLUMNS
    assert table.to_dict(orient="records") == [
        {
            "metric": "macro-F1",
            "B minus A": "-0.058",
            "95% interval": "-0.113 to -0.006",
            "test": "paired bootstrap",
            "p-value": "0.038",
            "verdict": "embedded is better",
        },
        {
            "metric": "accuracy",
            "B minus A": "+0.016",
            "95% interval": "-",
            "test": "exact McNemar (50 rows only A right, 58 only B)",
            "p-value": "0.501",
            "verdict": "no significant difference",
        },
    ]
    tiny = comparison_table(replace(COMPARISON, bootstrap_p_value=0.0, mcnemar_p_value=1e-9), "a", "b")
    assert list(tiny["p-value"]) == ["< 0.001", "< 0.001"] and tiny["verdict"][1] == "b is better"
    assert list(comparison_table(None, "a", "b").columns) == COMPARISON_COLUMNS


NOW = 1_795_000_000.0  # a fixed instant, so the bars do not depend on when the test runs
LABELS = ["negative", "neutral", "positive"]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 24 * 60 - 1), st.sampled_from(LABELS), st.integers(1, 50)), min_size=1, max_size=40
    )
)
def test_traffic_bars_are_few_in_time_order_in_utc_and_lose_no_recent_prediction(
    rows: list[tuple[int, str, int]],
) -> None:
    minute_now = int(NOW // 60) * 60
    frame = (
        pd.DataFrame([{"bucket": minute_now - 60 * ago, "label": label, "n": n} for ago, label, n in rows])
        .groupby(["bucket", "label"], as_index=False)["n"]
        .sum()
    )
    bars, minutes = traffic_bars(frame, NOW)
    times = list(dict.fromkeys(bars["time (UTC)"]))
    assert (
        MIN_BARS <= len(times) <= MAX_BARS and len(bars) == len(times) * 3
    )  # every class on every bar, zeros included
    assert list(bars["label"][:3]) == LABELS
    starts = [time.strptime(t, "%H:%M") for t in times]
    assert all(t.tm_min % minutes == 0 for t in starts)
    # the last bar holds "now", the bars step by `minutes` (gaps are zero bars, never missing bars)
    assert times[-1] == time.strftime("%H:%M", time.gmtime(NOW // (minutes * 60) * minutes * 60))
    clock = [(t.tm_hour * 60 + t.tm_min) for t in starts]
    assert all((b - a) % (24 * 60) == minutes for a, b in itertools.pairwise(clock))
    recent = frame[frame["bucket"] > NOW - 23 * 3600]["n"].sum()
    assert recent <= bars["predictions"].sum() <= frame["n"].sum()


def test_a_fresh_app_draws_twelve_empty_minutes_up_to_now_on_a_whole_number_axis() -> None:
    """The issue's fresh app drew one bar across the whole chart on an axis reading 0.000000: now the last
    ``MIN_BARS`` minutes, every class on each, and an axis from 0 to 5."""
    bars, minutes = traffic_bars(pd.DataFrame(), NOW)
    assert minutes == 1 and list(bars.columns) == ["time (UTC)", "label", "predictions"]
    times = list(dict.fromkeys(bars["time (UTC)"]))
    assert len(times) == MIN_BARS and times[-1] == time.strftime("%H:%M", time.gmtime(NOW))
    assert list(bars["label"][:3]) == LABELS and bars["predictions"].sum() == 0
    assert count_top(bars) == 5


@given(st.lists(st.integers(0, 400), min_size=1, max_size=30))
@settings(max_examples=40, deadline=None)
def test_the_axes_hold_the_tallest_bar_and_the_highest_share(counts: list[int]) -> None:
    """Given explicitly (Gradio keeps the axis of the first data drawn), each axis reaches the tallest stacked bar
    (at least 5) and the highest share of either sample (at most 1): no bar or line runs off the plot."""
    frame = pd.DataFrame(
        {"time (UTC)": [f"{i // 3:02d}:00" for i in range(len(counts))], "label": "x", "predictions": counts}
    )
    tallest = frame.groupby("time (UTC)")["predictions"].sum().max()
    assert count_top(frame) >= max(5, tallest * 1.05) and count_top(frame) <= max(5, tallest * 1.1 + 1)
    total = max(sum(counts), 1)
    lines = pd.DataFrame({"confidence": range(len(counts)), "share": [c / total for c in counts], "sample": "current"})
    top = share_top(lines)
    assert max(c / total for c in counts) <= top <= 1.0


def test_the_confidence_lines_always_hold_both_samples() -> None:
    current = pd.DataFrame(
        {"confidence": CONFIDENCE_CENTRES, "share": [0.1] * len(CONFIDENCE_CENTRES), "sample": "current"}
    )
    lines = confidence_lines(current)
    assert list(lines.columns) == ["confidence", "share", "sample"]
    by_sample = lines.groupby("sample")["share"]
    assert by_sample.count().to_dict() == {"current": len(CONFIDENCE_CENTRES), "reference": 0}  # NaN: no line
    assert by_sample.size().to_dict() == {"current": len(CONFIDENCE_CENTRES), "reference": len(CONFIDENCE_CENTRES)}
    assert confidence_lines(pd.DataFrame())["share"].isna().all()
    nothing_logged = current.assign(share=0.0)  # what the service reports before any prediction
    assert confidence_lines(nothing_logged)["share"].isna().all()


def test_api_endpoint_names_each_return_and_refuses_a_wrong_count() -> None:
    def pair() -> tuple[int, str]:
        return 1, "a"

    pair.__annotations__["return"] = tuple[int, str]  # as without `from __future__ import annotations`

    with gr.Blocks() as demo:
        api_endpoint(pair, "pair", "Two values.", returns=["number", "letter"])
        with pytest.raises(ValueError, match="2 value"):
            api_endpoint(pair, "pair_again", "Two values.", returns=["only one"])
        pair.__annotations__["return"] = "tuple[int, str]"  # as with `from __future__ import annotations`
        with pytest.raises(ValueError, match="1 value"):
            api_endpoint(pair, "pair_as_text", "Two values.", returns=["number", "letter"])
    returns = demo.get_api_info()["named_endpoints"]["/pair"]["returns"]
    assert [r["label"] for r in returns] == ["number", "letter"]


# --- the Models card, the Predict details, the evaluation history's word for who ran it -------------------------


def _figures(note: str, previously: list[str] | None = None) -> dict[str, Any]:
    info = ModelInfo(
        "embedded", "embedded", "adapter:578c", precision="bf16", note=note, calibration="temperature T=1.3"
    )
    return {"serving": info.as_dict(), "spec": "auto", "previously_served": previously or []}


@given(reason=st.text(max_size=200), broken=st.booleans())
@settings(max_examples=80, deadline=None)
def test_a_load_note_reaches_the_page_only_as_one_of_a_few_fixed_sentences(reason: str, broken: bool) -> None:
    """Whatever a fallback's technical reason says (exception names, hosts, errno), the page's sentence is one of
    a fixed few built from the hub model's name: no text of the note can pass through."""
    note = f"auto: Hub not used ({reason})" + ("; embedded model failed (OSError: x)" if broken else "")
    sentence = note_sentence(note, HUB_MODEL)
    whys = [words for _, words in HUB_REASONS] + ["the Hub could not be used"]
    serves = "and the embedded model could not be loaded, so the VADER lexicon serves." if broken else "so the"
    assert any(f"({why})" in sentence for why in whys) and serves in sentence
    assert sentence.replace(HUB_MODEL, "").count("(") == 1  # only the reason's own words in brackets
    assert note_sentence(reason, HUB_MODEL) in {"", OPERATOR_NOTE}  # any other note: a pointer to /health


def test_the_models_card_reads_as_a_card_without_the_exception_of_the_issue() -> None:
    """The issue's Models tab showed a JSON dump with ``ConnectError: [Errno -2] Name or service not known``."""
    figures = _figures(note_sentence(f"auto: Hub not used ({REASON})", HUB_MODEL), ["vader"])
    card = model_card(figures, NOW - 3 * 3600, NOW, {"status": "ready"}, HUB_MODEL)
    assert card.startswith("### Serving now: `embedded`")
    for row in ("- **Revision:** `adapter:578c`", "- **Precision:** bf16", "- **Calibrated:** yes: temperature T=1.3"):
        assert row in card
    assert "(3 h 0 min ago)" in card and "- **Replaced:** `vader` (switch back to it to roll back)" in card
    assert "the Hub cannot be reached from this machine" in card
    assert "ConnectError" not in card and "Errno" not in card and "{" not in card
    fresh = model_card(_figures(""), None, NOW, {"status": "ready"}, HUB_MODEL)
    assert "nothing: the model the app started with" in fresh
    assert "still loading" in model_card({"serving": None}, None, NOW, {"status": "loading"}, HUB_MODEL)


def test_the_details_round_the_probabilities_for_reading() -> None:
    scores = {"negative": 0.9730817079544067, "neutral": 0.017, "positive": 0.009918292045593262}
    shown = details(Prediction("negative", scores, False, model="m", prediction_id="p"))
    assert shown["scores"] == {"negative": 0.9731, "neutral": 0.017, "positive": 0.0099}
    assert all(len(str(v).split(".")[1]) <= SHOWN_DIGITS for v in shown["scores"].values())
