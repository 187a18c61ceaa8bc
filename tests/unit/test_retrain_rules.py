"""The retrain job's pure rules on known inputs: the promote/keep verdict (``sentiment.service.retrain.judge``), the
held-out split by prediction id (``held_out``), and the progress' ETA and time bound (``Progress``)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sentiment.evaluation.uncertainty import Interval, PairedComparison
from sentiment.service.retrain import Progress, held_out, judge, verdict

N = 100


def _paired(accuracy_difference: float, mcnemar_p: float, f1_interval: tuple[float, float]) -> PairedComparison:
    return PairedComparison(
        macro_f1_difference=sum(f1_interval) / 2,
        macro_f1_interval=Interval(*f1_interval),
        bootstrap_p_value=0.5,
        accuracy_difference=accuracy_difference,
        mcnemar_p_value=mcnemar_p,
        only_a_correct=5,
        only_b_correct=5,
        significant=False,
    )


@pytest.mark.parametrize(
    ("paired", "forgetting_loss", "expected", "because"),
    [
        (_paired(0.0, 1.0, (-0.05, 0.05)), 0.0, "promote", "promote: not worse"),
        (_paired(-0.02, 0.40, (-0.06, 0.03)), 0.01, "promote", "promote: not worse"),  # worse, not significantly
        (_paired(-0.10, 0.01, (-0.20, 0.01)), 0.0, "keep", "McNemar p=0.01"),  # McNemar: significantly worse
        (_paired(0.01, 0.50, (-0.09, -0.01)), 0.0, "keep", "interval below 0"),  # macro-F1 interval below 0
        (_paired(0.05, 0.01, (0.01, 0.10)), 0.011, "keep", "forgets the shipped test set"),  # better, but forgot
        (None, 0.0, "keep", "no held-out production labels"),
    ],
)
def test_the_verdict_rule_on_known_inputs(
    paired: PairedComparison | None, forgetting_loss: float, expected: str, because: str
) -> None:
    """Promote only if not worse on held-out labels by either paired test and at most 0.01 accuracy lost on the
    forgetting set; a significant improvement does not excuse forgetting; the reason names the deciding figure."""
    decided, reason = verdict(paired, forgetting_loss, tolerance=0.01, alpha=0.05)
    assert decided == expected
    assert because in reason and reason.startswith(expected)


def _probs(predicted: np.ndarray) -> np.ndarray:
    out = np.full((len(predicted), 3), 0.1)
    out[np.arange(len(predicted)), predicted] = 0.8
    return out


def test_judge_keeps_a_challenger_that_is_right_less_often_on_held_out_labels() -> None:
    """Champion right on all 100 held-out rows, challenger wrong on 30 of them (McNemar: 30 discordant rows all one
    way, p ~ 2e-9): keep, with the scores of both (accuracy 1.0 and 0.7) and ECE from their probabilities."""
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 3, N)
    wrong = truth.copy()
    wrong[:30] = (truth[:30] + 1) % 3
    labels = [("negative", "neutral", "positive")[i] for i in truth]
    same = _probs(truth)
    report = judge(("champ", "chall"), (same, _probs(wrong), labels), (same, same, labels), "vader_tweets")
    assert report.verdict == "keep" and "McNemar" in report.reason
    assert report.held_out["champion"].accuracy == 1.0 and report.held_out["challenger"].accuracy == pytest.approx(0.7)
    assert report.paired is not None and report.paired.only_a_correct == 30 and report.paired.only_b_correct == 0
    assert report.held_out["champion"].ece == pytest.approx(0.2)  # confidence 0.8, all right
    assert report.as_dict()["forgetting"]["challenger"]["n"] == N


def test_judge_promotes_an_equal_challenger_that_forgets_nothing() -> None:
    truth = np.arange(N) % 3
    labels = [("negative", "neutral", "positive")[i] for i in truth]
    same = _probs(truth)
    report = judge(("champ", "chall"), (same, same, labels), (same, same, labels), "vader_tweets")
    assert report.verdict == "promote"


@settings(max_examples=50, deadline=None)
@given(ids=st.lists(st.uuids().map(lambda u: u.hex), min_size=1, max_size=50), share=st.floats(0.01, 0.99))
def test_held_out_depends_on_the_id_alone_and_grows_with_the_share(ids: list[str], share: float) -> None:
    """The same id is always on the same side (whatever else is in the data), and a held-out id stays held out
    at any larger share (so raising SENTIMENT_RETRAIN_HOLDOUT_SHARE never releases a held-out label to training)."""
    first = [held_out(pid, share) for pid in ids]
    assert first == [held_out(pid, share) for pid in reversed(ids)][::-1]
    assert all(held_out(pid, min(share + 0.005, 1.0)) for pid, out in zip(ids, first, strict=True) if out)


def test_held_out_takes_the_share_of_random_ids() -> None:
    """10,000 random ids at share 0.2: 20% held out within 4 standard errors (0.016)."""
    rng = np.random.default_rng(1)
    ids = [rng.bytes(16).hex() for _ in range(10_000)]
    assert np.mean([held_out(pid, 0.2) for pid in ids]) == pytest.approx(0.2, abs=0.016)


def test_progress_eta_and_time_bound_follow_the_clock() -> None:
    """Two steps of four in 10 s: ETA 10 s; past max_seconds ``should_stop`` turns true and says it timed out; a
    cancel stops too."""
    now = [0.0]
    progress = Progress(max_seconds=30, clock=lambda: now[0])
    assert progress.snapshot()["eta_s"] is None
    progress.set_state("training")
    now[0] = 10.0
    progress.update(2, 4, 0.9)
    assert progress.snapshot()["eta_s"] == 10.0 and not progress.should_stop()
    now[0] = 30.0
    assert progress.should_stop() and progress.snapshot()["stopped_at_time_limit"]
    cancelled = Progress(max_seconds=30, clock=lambda: 0.0)
    cancelled.cancel()
    assert cancelled.should_stop() and cancelled.cancelled


@pytest.mark.parametrize(
    ("paired", "loss"),
    [(None, 0.0), (_paired(-0.2, 0.001, (-0.3, -0.1)), 0.0), (_paired(0.0, 1.0, (-0.05, 0.05)), 0.0)],
)
def test_the_tab_says_the_verdict_once_then_its_reason(paired: PairedComparison | None, loss: float) -> None:
    """The reason starts with its verdict ("keep: ..."); the tab's status line bolds that word and does not repeat it
    (it read "**promote**. promote: not worse ...")."""
    from sentiment.web.ui.retrain import retrain_markdown

    decided, reason = verdict(paired, loss)
    status = {"state": "finished", "challenger": {"run": "run-1"}, "verdict": decided, "reason": reason}
    line = retrain_markdown(status).split("\n")[-1]
    assert line == f"Challenger `run-1`: **{decided}**{reason.removeprefix(decided)}"
    assert f"**{decided}**: " in line and f"{decided}**. {decided}" not in line


def test_the_trainer_takes_the_retrain_learning_rate_not_the_clis() -> None:
    """A retrain continues a trained adapter: the CLI's 1e-3 (made for a fresh one) undid what it knew in
    benchmarks/retrain_loop.py, so the job trains at ``SENTIMENT_RETRAIN_LEARNING_RATE`` unless told otherwise."""
    from finetune.args import TrainArgs
    from finetune.retrain import LoraTrainer
    from sentiment.settings import Settings

    settings = Settings()
    assert settings.retrain_learning_rate < TrainArgs.learning_rate
    assert LoraTrainer(settings).learning_rate == settings.retrain_learning_rate
    assert LoraTrainer(settings.model_copy(update={"retrain_learning_rate": 3e-4})).learning_rate == 3e-4
    assert LoraTrainer(settings, learning_rate=2e-3).learning_rate == 2e-3


def _population(rng: np.random.Generator, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A window's traffic: the champion's calibrated probabilities and served classes, the true labels drawn from
    those probabilities (calibrated by construction), and a challenger that is right more often where the champion
    is confident (its correctness tracks the champion's confidence, as a retrained model's does)."""
    from sentiment.labels import LABELS

    logits = rng.normal(size=(size, len(LABELS))) * 2.0
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    labels = np.array([rng.choice(len(LABELS), p=p) for p in probs])
    served = probs.argmax(axis=1)
    confidence = probs[np.arange(size), served]
    challenger_right = rng.random(size) < np.clip(confidence + 0.08, 0, 1)
    return probs, served, labels, challenger_right


def test_window_accuracy_is_the_cards_interval_for_the_champion_and_covers_the_challengers_accuracy() -> None:
    """The champion's interval is ``ppi_accuracy`` (the Monitoring card's) on the same rows; the challenger's, with the
    champion's confidence as its proxy, covers the challenger's true accuracy on the whole window in at least 87% of
    300 simulated 90% intervals (n=60 labels of N=3,000) and is never wider than the labels-only interval."""
    from sentiment.labels import LABELS
    from sentiment.monitoring.ppi import RANDOM_SAMPLE, LabelledRows, WindowPredictions, ppi_accuracy
    from sentiment.service.retrain.judge import window_accuracy

    rng = np.random.default_rng(7)
    probs, served, labels, right = _population(rng, 3_000)
    truth = right.mean()
    window = WindowPredictions.of(probs, [LABELS[i] for i in served])
    covered = 0
    for _ in range(300):
        drawn = rng.choice(len(probs), size=60, replace=False)
        labelled = LabelledRows.of(
            [LABELS[i] for i in labels[drawn]],
            probs[drawn],
            inclusion=60 / 3_000,
            provenance=RANDOM_SAMPLE,
            served=[LABELS[i] for i in served[drawn]],
        )
        result = window_accuracy(labelled, window, right[drawn])
        assert result.champion == ppi_accuracy(labelled, window)
        assert result.challenger.width_ratio <= 1.0 + 1e-9 and (result.challenger.n, result.challenger.N) == (60, 3000)
        covered += result.challenger.lower <= truth <= result.challenger.upper
    assert covered / 300 >= 0.87, covered
    assert "challenger" in result.line() and f"{60} held-out sampled labels and 3,000 predictions" in result.line()


def test_window_accuracy_refuses_labels_that_are_no_uniform_random_sample() -> None:
    """Feedback (self-selected) and rows drawn with unequal chances give no interval: ``SampleDesignError``."""
    from sentiment.errors import SampleDesignError
    from sentiment.labels import LABELS
    from sentiment.monitoring.ppi import FEEDBACK, RANDOM_SAMPLE, LabelledRows, WindowPredictions
    from sentiment.service.retrain.judge import window_accuracy

    probs, served, labels, right = _population(np.random.default_rng(3), 400)
    window = WindowPredictions.of(probs, [LABELS[i] for i in served])
    names = [LABELS[i] for i in labels[:40]]
    feedback = LabelledRows.of(names, probs[:40], inclusion=0.1, provenance=FEEDBACK)
    unequal = LabelledRows.of(names, probs[:40], inclusion=np.linspace(0.05, 0.5, 40), provenance=RANDOM_SAMPLE)
    for rows in (feedback, unequal):
        with pytest.raises(SampleDesignError):
            window_accuracy(rows, window, right[:40])


def test_a_report_read_back_from_its_stored_form_is_the_same_report() -> None:
    """``ChallengerReport.from_dict(report.as_dict())`` (what the store keeps through a restart) gives the report
    back: with held-out labels and a window interval, and with none (NaN scores, no paired comparison)."""
    from sentiment.labels import LABELS
    from sentiment.monitoring.ppi import RANDOM_SAMPLE, LabelledRows, WindowPredictions
    from sentiment.service.retrain.judge import ChallengerReport, window_accuracy

    probs, _, labels, right = _population(np.random.default_rng(5), 500)
    names = [LABELS[i] for i in labels]
    rows = LabelledRows.of(names[:50], probs[:50], inclusion=0.1, provenance=RANDOM_SAMPLE)
    window = window_accuracy(rows, WindowPredictions.of(probs), right[:50])
    full = replace(judge(("a", "b"), (probs, probs[::-1], names), (probs, probs, names), "vader_tweets"), window=window)
    empty = judge(("a", "b"), (probs[:0], probs[:0], []), (probs, probs, names), "vader_tweets")
    assert ChallengerReport.from_dict(full.as_dict()) == full
    back = ChallengerReport.from_dict(empty.as_dict())
    assert back.paired is None and back.window is None and back.window_note == empty.window_note
    assert back.as_dict().keys() == empty.as_dict().keys() and np.isnan(back.held_out["champion"].accuracy)
