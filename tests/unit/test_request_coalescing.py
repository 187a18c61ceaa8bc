"""One-text API requests that arrive while the model is busy share the next call (``sentiment.web.coalescing``):
each gets its own text's answer, a failing call fails only its own requests, and a lone request goes at once."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence

import pytest

from sentiment.results import Prediction
from sentiment.web.coalescing import RequestCoalescer


class GatedScorer:
    """Answers each text with a Prediction naming it; the first call waits for ``release`` so others pile up."""

    def __init__(self, fail_on: str | None = None) -> None:
        self.calls: list[list[str]] = []
        self.entered = threading.Event()
        self.release = threading.Event()
        self.fail_on = fail_on

    def __call__(self, texts: Sequence[str], truncate: Sequence[bool] = ()) -> list[Prediction]:
        self.calls.append(list(texts))
        if len(self.calls) == 1:
            self.entered.set()
            assert self.release.wait(30), "the test never released the first call"
        if self.fail_on in texts:
            raise RuntimeError(f"model failed on {self.fail_on}")
        return [Prediction(label=t, scores={t: 1.0}, model="m") for t in texts]


async def _wait_for(event: threading.Event) -> None:
    assert await asyncio.to_thread(event.wait, 30)


def test_requests_waiting_for_a_busy_model_share_the_next_call_and_each_gets_its_own_answer() -> None:
    async def scenario() -> tuple[list[Prediction], list[list[str]]]:
        scorer = GatedScorer()
        coalescer = RequestCoalescer(scorer, max_texts=4)
        first = asyncio.ensure_future(coalescer("a"))
        await _wait_for(scorer.entered)  # "a" is being scored alone: a lone request does not wait for company
        rest = [asyncio.ensure_future(coalescer(t)) for t in "bcdefg"]
        await asyncio.sleep(0)  # let the six queue behind the busy call
        scorer.release.set()
        return await asyncio.gather(first, *rest), scorer.calls

    answers, calls = asyncio.run(scenario())
    assert [p.label for p in answers] == list("abcdefg")
    assert calls == [["a"], ["b", "c", "d", "e"], ["f", "g"]]  # at most max_texts a call, in arrival order


def test_a_failing_call_fails_only_the_request_whose_text_fails_and_the_next_call_still_runs() -> None:
    """A call of ["b", "boom"] raises because of "boom": each is then scored alone, so "b" gets its answer and only
    "boom" its exception (one bad text never fails the requests it shares a pass with); "c" after them is served.
    Fails if the coalescer hands the call's exception to every request of it again."""

    async def scenario() -> list[object]:
        scorer = GatedScorer(fail_on="boom")
        coalescer = RequestCoalescer(scorer, max_texts=2)
        first = asyncio.ensure_future(coalescer("a"))
        await _wait_for(scorer.entered)
        rest = [asyncio.ensure_future(coalescer(t)) for t in ("b", "boom", "c")]
        await asyncio.sleep(0)
        scorer.release.set()
        return await asyncio.gather(first, *rest, return_exceptions=True)

    a, b, boom, c = asyncio.run(scenario())
    assert isinstance(a, Prediction) and a.label == "a"
    assert isinstance(b, Prediction) and b.label == "b"  # shared the failing call, answered on its own
    assert isinstance(boom, RuntimeError) and "boom" in str(boom)
    assert isinstance(c, Prediction) and c.label == "c"


def test_a_request_whose_client_left_is_dropped_without_failing_the_others() -> None:
    async def scenario() -> tuple[list[Prediction], list[list[str]]]:
        scorer = GatedScorer()
        coalescer = RequestCoalescer(scorer, max_texts=8)
        first = asyncio.ensure_future(coalescer("a"))
        await _wait_for(scorer.entered)
        gone, kept = asyncio.ensure_future(coalescer("gone")), asyncio.ensure_future(coalescer("kept"))
        await asyncio.sleep(0)
        gone.cancel()
        scorer.release.set()
        return await asyncio.gather(first, kept), scorer.calls

    answers, calls = asyncio.run(scenario())
    assert [p.label for p in answers] == ["a", "kept"]
    assert calls[1] == ["gone", "kept"]


def test_max_texts_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        RequestCoalescer(GatedScorer(), max_texts=0)


def test_after_a_call_of_several_the_next_waits_for_company_and_after_a_call_of_one_it_does_not() -> None:
    """Closed-loop clients answered together come back one by one: the first back waits (at most ``wait_s``) for
    as many as the last call had, instead of going alone. A lone request after a lone one never waits: with
    ``wait_s`` of 30 s, it would miss its 10 s deadline if it did."""

    async def scenario() -> list[list[str]]:
        scorer = GatedScorer()
        coalescer = RequestCoalescer(scorer, max_texts=8, wait_s=30.0)
        first = asyncio.ensure_future(coalescer("a"))
        await _wait_for(scorer.entered)
        burst = [asyncio.ensure_future(coalescer(t)) for t in "bcd"]
        await asyncio.sleep(0)
        scorer.release.set()
        await asyncio.gather(first, *burst)  # calls: [a], [b, c, d]
        back = [asyncio.ensure_future(coalescer("e"))]  # the first client back...
        for t in "fg":
            await asyncio.sleep(0.01)  # ...and the others, a little later each
            back.append(asyncio.ensure_future(coalescer(t)))
        await asyncio.wait_for(asyncio.gather(*back), 10)  # calls: [e, f, g]
        lone = RequestCoalescer(scorer, max_texts=8, wait_s=30.0)
        await asyncio.wait_for(lone("h"), 10)
        await asyncio.wait_for(lone("i"), 10)
        return scorer.calls

    assert asyncio.run(scenario()) == [["a"], ["b", "c", "d"], ["e", "f", "g"], ["h"], ["i"]]
