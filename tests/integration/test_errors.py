"""One error hierarchy: every domain error is a ``SentimentError`` (a ``ValueError``) that carries the metric reason
it counts as; reasons are never chosen by reading a message; at the UI edge a domain error shows its message and
anything else is an internal error with an incident id that the log and ``sentiment_errors_total`` both record."""

from __future__ import annotations

import ast
import logging
import re
from collections.abc import Iterator
from pathlib import Path

import gradio as gr
import numpy as np
import pytest
from gradio_client import Client
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

import sentiment.errors as errors_module
from finetune.publish import PublishError
from sentiment.errors import (
    BatchInputError,
    EmptyTextError,
    FileTooLargeError,
    InvalidTextError,
    SentimentError,
    text_error,
)
from sentiment.inference.predictor import Predictor, validate_text
from sentiment.results import BatchResult
from sentiment.service.metrics import ERROR_REASONS, ServiceMetrics
from sentiment.service.serving import SentimentService
from sentiment.settings import Settings
from sentiment.web.ui.blocks import build_blocks
from sentiment.web.ui.errors import error_edge

ROOT = Path(__file__).resolve().parents[2]
INCIDENT = re.compile(r"internal error \(id ([0-9a-f]{8})\); it has been logged")


def _all_subclasses(cls: type) -> list[type]:
    found = []
    for sub in cls.__subclasses__():
        found += [sub, *_all_subclasses(sub)]
    return found


DOMAIN_ERRORS = [SentimentError, *_all_subclasses(SentimentError)]
FILE_ERRORS = [BatchInputError, *_all_subclasses(BatchInputError)]


def _errors(metrics: ServiceMetrics) -> dict[str, float]:
    return {
        reason: metrics.registry.get_sample_value("sentiment_errors_total", {"reason": reason}) or 0.0
        for reason in ERROR_REASONS
    }


@pytest.fixture
def service(settings: Settings) -> SentimentService:
    settings = settings.model_copy(update={"max_upload_mb": 0.001})  # 1,048 bytes
    predictor = Predictor.load("vader", settings)
    return SentimentService(settings, ServiceMetrics(CollectorRegistry()), predictor=predictor)


# --- the hierarchy ----------------------------------------------------------------------------------------------
def test_every_error_class_of_the_module_is_a_domain_error() -> None:
    defined = [v for v in vars(errors_module).values() if isinstance(v, type) and issubclass(v, Exception)]
    assert len(defined) >= 15 and set(defined) <= set(DOMAIN_ERRORS)
    assert PublishError in DOMAIN_ERRORS  # finetune's error joins the hierarchy too


@pytest.mark.parametrize("cls", DOMAIN_ERRORS, ids=lambda c: c.__name__)
def test_a_domain_error_is_a_value_error_with_a_known_reason_or_none(cls: type[SentimentError]) -> None:
    """``None``: not a refusal of a text or file to score, so not counted in ``sentiment_errors_total``;
    ``internal`` is never a domain error's reason (it means a bug)."""
    assert issubclass(cls, ValueError)
    assert not issubclass(cls, RuntimeError | PermissionError | OSError)
    assert cls.reason is None or (cls.reason in ERROR_REASONS and cls.reason != "internal")
    assert cls.__doc__, f"{cls.__name__} says what it means"


def test_the_scoring_refusals_have_their_own_reasons() -> None:
    assert (EmptyTextError.reason, InvalidTextError.reason) == ("empty_text", "invalid_input")
    assert (FileTooLargeError.reason, BatchInputError.reason) == ("file_too_large", "bad_file")
    assert issubclass(EmptyTextError, InvalidTextError) and issubclass(FileTooLargeError, BatchInputError)


def _exception_classes(path: Path) -> Iterator[tuple[str, list[str]]]:
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ClassDef):
            bases = [ast.unparse(b) for b in node.bases]
            if any(b.endswith(("Error", "Exception")) for b in bases):
                yield node.name, bases


def test_domain_errors_are_defined_only_in_sentiment_errors() -> None:
    """A new error class elsewhere in ``sentiment/`` would escape the hierarchy (and its reason); ``finetune`` may
    define its own, as a ``SentimentError``."""
    stray = [
        f"{path.relative_to(ROOT)}: {name}"
        for path in (ROOT / "sentiment").rglob("*.py")
        if path.name != "errors.py" and "embedded" not in path.parts
        for name, _ in _exception_classes(path)
    ]
    assert stray == []
    for path in (ROOT / "finetune").rglob("*.py"):
        for name, bases in _exception_classes(path):
            assert bases == ["SentimentError"], f"{path.name}: {name}({', '.join(bases)})"


# --- reasons travel with the error, never read from its text ----------------------------------------------------
@hsettings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cls=st.sampled_from(FILE_ERRORS), message=st.text(max_size=60) | st.sampled_from(["limit", "the limit is 1 MB"]))
def test_a_refused_file_counts_its_class_reason_whatever_its_message(
    service: SentimentService, cls: type[BatchInputError], message: str
) -> None:
    before = _errors(service.metrics)
    service._refused_file(cls(message))
    after = _errors(service.metrics)
    assert {r: after[r] - before[r] for r in ERROR_REASONS if after[r] != before[r]} == {cls.reason: 1}


def test_a_too_large_file_and_a_binary_one_named_limit_count_apart(service: SentimentService, tmp_path: Path) -> None:
    """The old rule (``"limit" in message``) counted any refusal of a file whose name holds "limit" as too large."""
    large = tmp_path / "reviews.csv"
    large.write_text("text\n" + "a fine review\n" * 200)
    binary = tmp_path / "speed_limits.csv"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 2)
    before = _errors(service.metrics)
    with pytest.raises(FileTooLargeError, match="the limit is"):
        service.inspect_file(large)
    with pytest.raises(BatchInputError, match=r"speed_limits\.csv is not a text file") as refused:
        service.score_file(binary)
    assert type(refused.value) is BatchInputError
    after = _errors(service.metrics)
    assert after["file_too_large"] - before["file_too_large"] == 1
    assert after["bad_file"] - before["bad_file"] == 1


def test_each_row_keeps_its_reason_beside_its_unchanged_message(service: SentimentService) -> None:
    result = service.predictor.predict_batch(["", "  \n", 3, None, "fine"])
    assert result.errors == [
        "empty text",
        "text is only whitespace",
        "expected text, got int",
        "expected text, got NoneType",
        None,
    ]
    assert result.error_reasons == ("empty_text", "empty_text", "invalid_input", "invalid_input", None)
    with pytest.raises(EmptyTextError, match="only whitespace"):
        validate_text(" ")
    with pytest.raises(InvalidTextError, match="got int") as refused:
        validate_text(3)
    assert not isinstance(refused.value, EmptyTextError)


@hsettings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.tuples(st.text(max_size=30), st.sampled_from(["empty_text", "invalid_input"])), max_size=6))
def test_row_errors_count_their_reason_not_their_message(
    service: SentimentService, rows: list[tuple[str, str]]
) -> None:
    """Messages that say "empty" or "whitespace" under invalid_input, and the reverse, count as their reason."""
    n = len(rows)
    result = BatchResult(
        probabilities=np.full((n, 3), np.nan, dtype=np.float32),
        truncated=np.zeros(n, bool),
        errors=[message for message, _ in rows],
        tokens=np.zeros(n, np.int64),
        error_reasons=tuple(reason for _, reason in rows),
    )
    before = _errors(service.metrics)
    service.metrics.observe_scoring("predict_batch", [m for m, _ in rows], result, 0.01)
    after = _errors(service.metrics)
    for reason in ("empty_text", "invalid_input"):
        assert after[reason] - before[reason] == sum(1 for _, r in rows if r == reason)


def test_one_text_is_refused_with_the_class_of_its_row(service: SentimentService) -> None:
    before = _errors(service.metrics)
    with pytest.raises(EmptyTextError, match="text is only whitespace"):
        service.predict("   ")
    with pytest.raises(InvalidTextError, match="expected text, got int") as refused:
        service.predict(3)
    assert not isinstance(refused.value, EmptyTextError)
    after = _errors(service.metrics)
    assert (after["empty_text"] - before["empty_text"], after["invalid_input"] - before["invalid_input"]) == (1, 1)
    assert isinstance(text_error("x", None), InvalidTextError)


# --- the UI edge ------------------------------------------------------------------------------------------------
def test_the_edge_shows_a_domain_error_as_it_is_and_a_bug_as_an_incident(caplog: pytest.LogCaptureFixture) -> None:
    metrics = ServiceMetrics(CollectorRegistry())
    wrap = error_edge(metrics)

    @wrap
    def refuse() -> None:
        raise FileTooLargeError("big.csv is 9.0 MB; the limit is 1.0 MB")

    @wrap
    def crash() -> None:
        int("not a number")  # a library's bare ValueError: a bug here, not the visitor's fault

    with pytest.raises(gr.Error) as shown:
        refuse()
    assert shown.value.message == "big.csv is 9.0 MB; the limit is 1.0 MB"
    assert _errors(metrics)["internal"] == 0
    with caplog.at_level(logging.ERROR, logger="sentiment.web.ui.errors"), pytest.raises(gr.Error) as shown:
        crash()
    found = INCIDENT.fullmatch(shown.value.message)
    assert found, shown.value.message
    assert "not a number" not in shown.value.message
    (record,) = [r for r in caplog.records if found.group(1) in r.getMessage()]
    assert record.exc_info is not None and record.exc_info[0] is ValueError
    assert _errors(metrics)["internal"] == 1


@pytest.mark.e2e
def test_a_library_value_error_reaches_an_api_caller_as_an_internal_error_with_its_id(
    service: SentimentService, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def boom(text: object) -> None:
        raise ValueError("boom")

    monkeypatch.setattr(service, "predict", boom)
    monkeypatch.setattr(service, "predict_each", boom)  # /predict's handler when Gradio batches its calls
    demo = build_blocks(service).queue()
    demo.launch(prevent_thread_lock=True, quiet=True)
    try:
        client = Client(demo.local_url, verbose=False)
        with caplog.at_level(logging.ERROR, logger="sentiment.web.ui.errors"), pytest.raises(Exception) as failed:
            client.predict("hello", api_name="/predict")
        with pytest.raises(Exception, match="no text: enter one text per line"):  # a domain error says what to fix
            client.predict(" \n ", api_name="/predict_batch")
    finally:
        demo.close()
    found = INCIDENT.search(str(failed.value))
    assert found, str(failed.value)
    assert "boom" not in str(failed.value)
    logged = [r for r in caplog.records if found.group(1) in r.getMessage()]
    assert logged and logged[0].exc_info is not None and "boom" in str(logged[0].exc_info[1])
    assert _errors(service.metrics)["internal"] == 1
