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
from sentiment.service.monitoring import CONFIDENCE_CENTRES
from sentiment.tables.reading import sniff
from sentiment.web.ui.api import api_endpoint
from sentiment.web.ui.batch import file_note
from sentiment.web.ui.blocks import model_headline
from sentiment.web.ui.charts import MAX_BARS, confidence_lines, traffic_bars
from sentiment.web.ui.evaluation import COMPARISON_COLUMNS, comparison_table

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
    assert len(times) <= MAX_BARS and len(bars) == len(times) * 3  # every class on every bar, zeros included
    assert list(bars["label"][:3]) == LABELS
    starts = [time.strptime(t, "%H:%M") for t in times]
    assert all(t.tm_min % minutes == 0 for t in starts)
    # the last bar holds "now", the bars step by `minutes` (gaps are zero bars, never missing bars)
    assert times[-1] == time.strftime("%H:%M", time.gmtime(NOW // (minutes * 60) * minutes * 60))
    clock = [(t.tm_hour * 60 + t.tm_min) for t in starts]
    assert all((b - a) % (24 * 60) == minutes for a, b in itertools.pairwise(clock))
    recent = frame[frame["bucket"] > NOW - 23 * 3600]["n"].sum()
    assert recent <= bars["predictions"].sum() <= frame["n"].sum()


def test_no_traffic_gives_one_empty_bar_per_class_now() -> None:
    bars, minutes = traffic_bars(pd.DataFrame(), NOW)
    assert minutes == 1 and list(bars.columns) == ["time (UTC)", "label", "predictions"]
    assert list(bars["label"]) == LABELS and list(bars["predictions"]) == [0, 0, 0]
    assert set(bars["time (UTC)"]) == {time.strftime("%H:%M", time.gmtime(NOW))}


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
