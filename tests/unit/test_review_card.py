"""The answer card counts the random review sample's labels waiting for review (issue 28: the card said "labels: 0"
while 50 waited), apart from the feedback labels the production evaluation counts."""

from __future__ import annotations

from sentiment.monitoring.review_queue import ReviewCounts
from sentiment.service.answer import Answer
from sentiment.web.ui.answer import answer_markdown


def _answer(review: ReviewCounts | None) -> Answer:
    return Answer("embedded", True, None, 0, 50, None, None, None, review=review)


def test_the_card_says_how_many_sampled_predictions_wait_for_review() -> None:
    """50 waiting, 12 labelled of 70 drawn: the card says so in a line of its own and ``/monitoring``'s answer
    carries the counts; the feedback line still says its own 0 of 50."""
    answer = _answer(ReviewCounts(sampled=70, labelled=12, waiting=50, skipped=8))
    card = answer_markdown(answer)
    assert "- Review sample: **50 wait for review**, 12 labelled of 70 drawn at random" in card
    assert "waiting for labels, 0 of 50 needed" in card
    assert answer.as_dict()["review_sample"] == {"sampled": 70, "labelled": 12, "waiting": 50, "skipped": 8}


def test_without_a_sample_the_card_has_no_review_line() -> None:
    answer = _answer(None)
    assert "Review sample" not in answer_markdown(answer)
    assert answer.as_dict()["review_sample"] is None
