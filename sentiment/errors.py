"""The project's domain errors, in one hierarchy: each says what was wrong with the input and how to fix it.

Every error the project raises on purpose is a ``SentimentError`` (a ``ValueError``: the caller's input or request
was wrong, not the code). The UI shows its message as it is; any other exception that reaches the UI is a bug,
logged with its traceback and shown as an internal error (``sentiment.web.ui.errors``).

``reason`` is the ``sentiment_errors_total{reason}`` label the serving path counts the error under when it refuses a
text or a file with it (``sentiment.service.metrics.ERROR_REASONS``). ``None``: the error is not a refusal of
something to score (an admin action, feedback, a dataset, an evaluation) and is not counted there, so the error
ratio of the alerts stays "refused or failed inputs per text scored".
"""

from __future__ import annotations

from typing import ClassVar


class SentimentError(ValueError):
    """Base of every domain error; the message is shown to the user as it is."""

    reason: ClassVar[str | None] = None


# --- refusals of a text or a file to score: counted by reason ---------------------------------------------------
class InvalidTextError(SentimentError):
    """A text that cannot be scored (not a string), or a request with too many texts."""

    reason = "invalid_input"


class EmptyTextError(InvalidTextError):
    """A text that is empty or only whitespace."""

    reason = "empty_text"


class TextTooLongError(InvalidTextError):
    """A text over the model's token limit where the caller asked not to truncate (``truncate=false``)."""

    reason = "text_too_long"


class RequestRefusedError(InvalidTextError):
    """A request of several texts refused as a whole, before any text was scored: ``problems`` holds the index and
    the error of every text that cannot be scored (the others are not scored either, so nothing is logged)."""

    def __init__(self, problems: list[tuple[int, InvalidTextError]]) -> None:
        self.problems = problems
        first, error = problems[0]
        super().__init__(f"text {first}: {error}" + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""))


class BatchInputError(SentimentError):
    """A file that cannot be scored at all (binary, empty, no such column); says what to change."""

    reason = "bad_file"


class EmptyFileError(BatchInputError):
    """A file with nothing to score: empty, blank, or a header without data rows. In a folder of inputs it is
    skipped (and listed); alone, it is refused."""


class FileTooLargeError(BatchInputError):
    """A file over the upload limit (``SENTIMENT_MAX_UPLOAD_MB``)."""

    reason = "file_too_large"


class ModelUnavailableError(SentimentError):
    """The model is still loading, or failed to load; the message says which and why."""

    reason = "model_unavailable"


# --- everything else: shown to the user, not counted in sentiment_errors_total ------------------------------------
class EngineError(SentimentError):
    """A batch engine that cannot run as asked: Ray not installed, a cluster address that does not answer, a
    cluster without CPUs; the message says what to do."""


class ModelLoadError(SentimentError):
    """A model spec that could not be turned into a working model; the message says why and what to do."""


class AccessDeniedError(SentimentError):
    """An admin action without the right token (or with admin actions switched off)."""


class DatasetError(SentimentError):
    """A dataset name, split or labelled file that cannot be used as asked (unknown name, missing column)."""


class DatasetUnavailableError(DatasetError):
    """A registry dataset that is not cached here and could not be fetched."""


class LabelMappingError(DatasetError):
    """Label values that do not map onto the three classes; the message gives a ``label_map`` that would."""


class EvaluationInputError(SentimentError):
    """An evaluation that cannot run as asked (a sample size below 1)."""


class FeedbackError(SentimentError):
    """Feedback that cannot be recorded or reviewed as given."""


class RateLimitedError(FeedbackError):
    """Too much feedback from one client in a short time; ``retry_after_s``: seconds until the next is accepted (the
    message says it too, and a plain HTTP answer would carry it as ``Retry-After``)."""

    def __init__(self, message: str, retry_after_s: float = 0.0) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class MonitoringError(SentimentError):
    """A monitoring action that cannot run here (the prediction log is off, too few predictions to pin)."""


class EstimationInputError(MonitoringError):
    """Inputs a performance estimator cannot use; the message says what shape or content it needs."""


class StoreError(SentimentError):
    """The store cannot be used as configured (an address that is not a database, an unknown backend, a schema newer
    than this code)."""


class StoreUnavailableError(StoreError):
    """The store does not answer now (unreachable, lost mid-run); monitoring memory waits, predictions are served."""


class CalibrationError(SentimentError):
    """A calibration map that cannot be fitted or used (unknown method, too few labelled rows, wrong shape)."""


def text_error(message: str, reason: str | None) -> InvalidTextError:
    """The exception of a row error recorded as (message, reason) in a ``BatchResult``: the same class that
    ``validate_text`` raised for it, so one text is refused exactly as each row of a batch is."""
    classes: dict[str | None, type[InvalidTextError]] = {c.reason: c for c in (EmptyTextError, TextTooLongError)}
    return classes.get(reason, InvalidTextError)(message)


class StoreTransferError(StoreError):
    """Moving monitoring memory into or out of the store failed: an old data folder that cannot be read, an export
    folder without a readable manifest or of another schema revision, or an import into a store that is not empty."""


class SampleDesignError(MonitoringError):
    """Labelled rows that a prediction-powered interval cannot use as they are: too few, without a known inclusion
    probability, or drawn with unequal probabilities where the estimator needs a uniform sample (use the
    inverse-probability-weighted one then). The message says which rows and what to do."""


class SelfSelectedLabelsError(SampleDesignError):
    """Labelled rows that were not drawn at random (visitor feedback, hand-picked reviews): an interval computed from
    them has no coverage guarantee, so it is refused. Label rows of the random review sample instead."""


class ReviewError(SentimentError):
    """A review-sample action that cannot be done as asked: an id not in the sample, a label that is not one of the
    three, a sample that is off (the prediction log is off or SENTIMENT_REVIEW_RATE is 0)."""


class RetrainError(SentimentError):
    """A retrain action that cannot be done as asked: a job already running, no job to cancel or judge, a serving
    model without weights to fine-tune, a challenger not yet judged; the message says what to do instead."""


class NotEnoughLabelsError(RetrainError):
    """Too few production labels (accepted feedback with its text, labelled review-sample rows) to retrain on:
    ``needed`` says how many more the owner must give (SENTIMENT_RETRAIN_MIN_LABELS sets the minimum)."""

    def __init__(self, have: int, minimum: int) -> None:
        self.have, self.minimum, self.needed = have, minimum, max(0, minimum - have)
        super().__init__(
            f"{have} production labels can be trained on; retraining needs at least {minimum}: label "
            f"{self.needed} more (the Label tab's review sample, or accept feedback given with its text); "
            "SENTIMENT_RETRAIN_MIN_LABELS sets the minimum"
        )


class RetrainCancelledError(RetrainError):
    """A retrain job stopped by the owner before it finished: nothing was kept."""
