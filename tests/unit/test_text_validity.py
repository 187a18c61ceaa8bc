"""Text that is not valid Unicode (a surrogate code point, U+D800-U+DFFF: no UTF-8 form exists, and the tokenizer
raises on it) is refused by the one shared rule, ``validate_text``, before any model sees it; valid Unicode is never
refused for its encoding. Issue #25, item 1: ``{"inputs": "great \\ud83d phone"}`` gave a 500 and failed the
requests it shared a forward pass with.

Properties over every string hypothesis makes, on each layer a path goes through here (the rule itself, the
predictor every path scores with, the UI's validator); the HTTP routes, the CLI and evaluations are checked in
``tests/e2e/test_api_edge.py`` and ``tests/integration/test_request_admission.py``."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

from sentiment.errors import EmptyTextError, InvalidTextError
from sentiment.inference.predictor import Predictor, displayable, validate_text
from sentiment.service.metrics import ServiceMetrics
from sentiment.settings import Settings
from sentiment.web.ui.errors import text_validator

SURROGATES = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)
UNICODE = st.text(alphabet=st.characters(blacklist_categories=("Cs",)))  # every code point but the surrogates


@st.composite
def with_a_surrogate(draw: st.DrawFn) -> str:
    """Any text with at least one surrogate anywhere in it: alone, high or low, at the start, the middle or the end,
    paired with another (a pair of surrogate code points is no character in a Python str either)."""
    return draw(st.text()) + draw(SURROGATES) + draw(st.text())


@given(text=with_a_surrogate())
def test_any_text_holding_a_surrogate_is_refused_naming_the_code_point(text: str) -> None:
    """The refusal is an ``InvalidTextError`` (422 on the API, a row error in batches) that says the text is not
    valid Unicode and names the first surrogate and where it is; a whitespace-only text with a surrogate is
    refused for the surrogate, not as empty."""
    with pytest.raises(InvalidTextError, match="not valid Unicode") as refused:
        validate_text(text)
    assert not isinstance(refused.value, EmptyTextError)
    first = next(i for i, c in enumerate(text) if 0xD800 <= ord(c) <= 0xDFFF)
    assert f"U+{ord(text[first]):04X} at character {first}" in str(refused.value)
    assert refused.value.reason == "invalid_input"


@given(text=UNICODE)
def test_valid_unicode_is_never_refused_for_its_encoding(text: str) -> None:
    """Every string without a surrogate can be encoded as UTF-8, and is either accepted as it is or refused only
    as empty."""
    text.encode("utf-8")  # the premise: it has a UTF-8 form
    try:
        assert validate_text(text) is text
    except EmptyTextError:
        assert not text.strip()


@given(text=st.text())
def test_displayable_text_always_encodes_and_keeps_every_valid_character(text: str) -> None:
    """What the UI and the CLI echo of a refused text: UTF-8 encodable, the same length, each surrogate one U+FFFD."""
    shown = displayable(text)
    shown.encode("utf-8")
    assert len(shown) == len(text)
    assert all(s == c or (s == "\ufffd" and 0xD800 <= ord(c) <= 0xDFFF) for s, c in zip(shown, text, strict=True))


def test_the_issue_case_is_refused_with_its_position() -> None:
    """The exact text of the issue, as ``json.loads('{"inputs": "great \\ud83d phone"}')`` gives it."""
    with pytest.raises(InvalidTextError) as refused:
        validate_text("great \ud83d phone")
    assert str(refused.value).startswith("text is not valid Unicode: a lone surrogate U+D83D at character 6")


@pytest.fixture(scope="module")
def tiny_predictor(tmp_path_factory: pytest.TempPathFactory) -> Predictor:
    from tiny_models import build_tiny_bert

    folder = build_tiny_bert(tmp_path_factory.mktemp("tiny") / "model")
    return Predictor.load(str(folder), Settings(data_dir=tmp_path_factory.mktemp("data"), model=str(folder)))


@hypothesis_settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(bad=with_a_surrogate(), good=st.lists(st.sampled_from(["fine", "great phone", "awful"]), min_size=1))
def test_a_batch_refuses_only_the_row_holding_a_surrogate(tiny_predictor: Predictor, bad: str, good: list[str]) -> None:
    """The predictor (every path's scorer: UI batches, API, files, CLI, Ray, evaluations) with a real tokenizer: the
    bad row carries the error and its reason, every other row is scored exactly as without it. Before the rule,
    the tokenizer raised ``TypeError`` for the whole batch."""
    texts = [*good, bad]
    result = tiny_predictor.predict_batch(texts)
    alone = tiny_predictor.predict_batch(good)
    assert result.errors[-1] is not None and "not valid Unicode" in result.errors[-1]
    assert result.error_reason(len(good)) == "invalid_input"
    assert result.errors[:-1] == [None] * len(good)
    np.testing.assert_allclose(result.probabilities[:-1], alone.probabilities, rtol=1e-5, atol=1e-6)
    assert np.isnan(result.probabilities[-1]).all()


@given(text=with_a_surrogate())
def test_the_ui_validator_refuses_it_before_the_call_joins_a_batch(text: str) -> None:
    """Gradio's ``/predict`` validator (``web.ui.errors.text_validator``) uses the same rule: the call is answered
    invalid with the message, and counted once under ``invalid_input``."""
    metrics = ServiceMetrics(CollectorRegistry())
    [[verdict]] = asyncio.run(text_validator(metrics)([text]))
    assert verdict["is_valid"] is False and "not valid Unicode" in verdict["message"]
    assert metrics.errors.labels(reason="invalid_input")._value.get() == 1
