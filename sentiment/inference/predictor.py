"""One object that owns the serving model: preprocess -> forward -> postprocess.

Every part of the product (UI, CSV scorer, evaluator, scheduled jobs) uses the same ``Predictor`` instance, so they
all see the same model. Input problems are reported per text: one empty line never sinks the others.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from sentiment.errors import CalibrationError, EmptyTextError, InvalidTextError, TextTooLongError
from sentiment.inference.calibration import Calibration
from sentiment.inference.preprocessing import get_preprocessor
from sentiment.labels import LABELS
from sentiment.models.protocol import SentimentModel
from sentiment.models.registry import EMBEDDED_DIR, load_model
from sentiment.results import BatchResult, ModelInfo, Prediction
from sentiment.settings import Settings, setting_default

logger = logging.getLogger(__name__)

# A model reads at most max_length tokens, and a token is rarely more than a few characters: a text is cut to
# CHARS_PER_TOKEN characters per token before tokenising (and flagged truncated), so a huge cell costs what a
# short one does (measured in benchmarks/README.md#cut-long-texts-before-tokenising).
CHARS_PER_TOKEN = 10
MAX_TEXT_CHARS = 100_000  # characters, for models without a token limit (the lexicon)
TOO_LONG = "the text is longer than the model's token limit; send truncate=true or shorten it"


def model_folder(info: ModelInfo) -> Path | None:
    """The folder a loaded model came from (where its calibration map lives), or ``None`` (Hub, lexicon)."""
    if info.source == "embedded":
        return EMBEDDED_DIR
    if info.source == "local" and info.folder:
        return Path(info.folder)
    return None


# Code points U+D800-U+DFFF only exist in pairs inside UTF-16; alone in a Python str (JSON's "\ud83d", a JavaScript
# string cut inside an emoji) they are not Unicode text: no UTF-8 encoding exists, and tokenizers raise on them.
_SURROGATE = re.compile("[\ud800-\udfff]")


def validate_text(text: object) -> str:
    """Return the text if it can be scored, else raise ``EmptyTextError`` (empty or whitespace only) or
    ``InvalidTextError`` (not a string, or not valid Unicode: a surrogate code point, which has no UTF-8 form)
    saying what is wrong with it. Every path that scores text passes here (the predictor, the UI's validator, the
    API's checks), so one rule holds for the UI, the APIs, files, the CLI, Ray and evaluations."""
    if not isinstance(text, str):
        raise InvalidTextError(f"expected text, got {type(text).__name__}")
    if (surrogate := _SURROGATE.search(text)) is not None:
        raise InvalidTextError(
            f"text is not valid Unicode: a lone surrogate U+{ord(surrogate.group()):04X} at character "
            f"{surrogate.start()} (half of a character such as an emoji, often from a string cut inside it); "
            "send whole characters, as UTF-8"
        )
    if not text.strip():
        raise EmptyTextError("empty text" if not text else "text is only whitespace")
    return text


def displayable(text: str) -> str:
    """``text`` with each surrogate replaced by U+FFFD, so a refused text can still be echoed back (JSON encoders
    such as orjson and every UTF-8 writer refuse surrogates)."""
    return _SURROGATE.sub("\ufffd", text)


class Predictor:
    """Scores texts with one loaded model; thread-safe for concurrent callers (inference is stateless).

    ``batch_size`` is the most texts per forward pass; ``max_chars`` the characters a text keeps before tokenising.
    """

    def __init__(
        self,
        model: SentimentModel,
        batch_size: int = setting_default("batch_size"),
        calibration: Calibration | None = None,
        allow_label_changes: bool = False,
    ) -> None:
        if calibration is not None and not calibration.keeps_labels:
            if not allow_label_changes:
                raise CalibrationError(
                    f"the {calibration.method} calibration map changes the predicted label of some texts "
                    f"({calibration.label_change_note()}); serve a label-keeping map (`python -m finetune.calibrate "
                    "--write temperature`) or opt in with SENTIMENT_CALIBRATION_MAY_CHANGE_LABELS=true"
                )
            logger.warning(
                "serving a %s calibration map that CHANGES ANSWERS: served labels are its argmax, not the model's "
                "(%s); SENTIMENT_CALIBRATION_MAY_CHANGE_LABELS=true asked for it",
                calibration.method,
                calibration.label_change_note(),
            )
        self.model = model
        self.batch_size = batch_size
        self.calibration = calibration
        if calibration is not None:
            # Calibrated scores are a different model output: the revision says so, so that drift references and
            # evaluations kept per revision are never compared across the change.
            info = model.info
            model.info = replace(
                info, calibration=calibration.describe(), revision=f"{info.revision}+cal:{calibration.key()}"
            )
        self._preprocess = get_preprocessor(model.info.preprocessing)
        max_length = model.info.max_length
        self.max_chars = min(MAX_TEXT_CHARS, CHARS_PER_TOKEN * max_length) if max_length else MAX_TEXT_CHARS

    @classmethod
    def load(cls, spec: str, settings: Settings, calibrated: bool = True) -> Predictor:
        """The predictor of a model spec, with the calibration map stored beside the model when there is one
        (``calibrated=False``: the raw probabilities, e.g. to fit a new map). Raises what ``load_model`` raises
        (``ModelLoadError``, ``LabelMappingError``, ``ValueError`` for a bad spec); a damaged map is ignored, and so
        is a map that changes labels unless ``settings.calibration_may_change_labels`` opts in (logged: the model
        then serves its raw probabilities, and ``/health`` says it is not calibrated)."""
        model = load_model(spec, settings)
        calibration = Calibration.load(folder) if calibrated and (folder := model_folder(model.info)) else None
        allowed = settings.calibration_may_change_labels
        if calibration is not None and not calibration.keeps_labels and not allowed:
            logger.warning(
                "not applying the %s calibration map of %s: it changes the predicted label of some texts (%s); "
                "serving the model's raw probabilities. Refit a label-keeping map with `python -m finetune.calibrate "
                "--model %s --write temperature`, or opt in with SENTIMENT_CALIBRATION_MAY_CHANGE_LABELS=true",
                calibration.method,
                spec,
                calibration.label_change_note(),
                spec,
            )
            calibration = None
        return cls(model, batch_size=settings.batch_size, calibration=calibration, allow_label_changes=allowed)

    @property
    def info(self) -> ModelInfo:
        """What serves (name, revision, precision, calibration)."""
        return self.model.info

    def warm_up(self) -> None:
        """One pass over a few lengths, so the first real requests do not pay for lazy initialisation (kernel
        selection per shape is noticeable in bf16)."""
        self.predict_batch(["warm-up", "a short warm-up text " * 4, "a longer warm-up text " * 16])

    def refusals(
        self, texts: Sequence[object], refuse_long: bool | Sequence[bool] = False
    ) -> list[InvalidTextError | None]:
        """Why each text would be refused (``None``: it can be scored), without scoring any: ``validate_text``, and
        for each text with ``refuse_long`` set, whether it is over the model's token limit (a tokenisation, no
        forward pass; over ``max_chars`` characters needs not even that). A caller checks a whole request here
        before scoring any of it."""
        return self._admit(texts, refuse_long)[0]

    def _admit(
        self, texts: Sequence[object], refuse_long: bool | Sequence[bool]
    ) -> tuple[list[InvalidTextError | None], list[str], list[int]]:
        """(each text's refusal or None; the preprocessed texts to score; which of them were cut at ``max_chars``,
        as positions in ``texts``)."""
        flags = [refuse_long] * len(texts) if isinstance(refuse_long, bool) else list(refuse_long)
        refused: list[InvalidTextError | None] = [None] * len(texts)
        cleaned: dict[int, str] = {}
        cut: list[int] = []
        for i, text in enumerate(texts):
            try:
                text = validate_text(text)
            except InvalidTextError as exc:
                refused[i] = exc
                continue
            if len(text) > self.max_chars:
                if flags[i]:
                    refused[i] = TextTooLongError(TOO_LONG)
                    continue
                text = text[: self.max_chars]
                cut.append(i)
            cleaned[i] = self._preprocess(text)
        measured = [i for i in cleaned if flags[i]]
        tokenize = getattr(self.model, "tokenize", None)  # the lexicon has no token limit
        if measured and tokenize is not None:
            _, over = tokenize([cleaned[i] for i in measured])
            for i in np.asarray(measured)[over]:
                refused[int(i)] = TextTooLongError(TOO_LONG)
                del cleaned[int(i)]
        return refused, list(cleaned.values()), [i for i in cut if i in cleaned]

    def predict_batch(
        self, texts: Sequence[object], embed: bool = False, refuse_long: bool | Sequence[bool] = False
    ) -> BatchResult:
        """Score ``n`` texts into arrays (``BatchResult``: ``(n, 3)`` float32 probabilities in ``LABELS`` order,
        calibrated when a map is loaded: a label-keeping one unless opted in, so each row's argmax, the served
        label, is the model's own). Never raises for a bad text: its row is NaN with an error. A text longer
        than ``max_chars`` characters is cut first and flagged truncated. ``embed``: also each text's embedding
        (``sentiment.models.embedding``) from the same pass, when the model has one (not the lexicon).
        ``refuse_long`` (for all texts, or per text): a text over the token limit is refused (``TextTooLongError``
        row error, not scored) instead of truncated; texts that share a pass do not share that choice."""
        n = len(texts)
        probabilities = np.full((n, len(LABELS)), np.nan, dtype=np.float32)
        truncated = np.zeros(n, dtype=bool)
        tokens = np.zeros(n, dtype=np.int64)
        refused, cleaned, cut = self._admit(texts, refuse_long)
        errors: list[str | None] = [None if exc is None else str(exc) for exc in refused]
        # each error's metric reason, so nobody reads it from the message
        reasons: list[str | None] = [None if exc is None else exc.reason for exc in refused]
        good = [i for i, exc in enumerate(refused) if exc is None]
        embeddings: np.ndarray | None = None
        if good:
            # Only asked when wanted, so a model (or test double) without the keyword still serves.
            output = (
                self.model.forward(cleaned, self.batch_size, embed=True)
                if embed
                else self.model.forward(cleaned, self.batch_size)
            )
            if output.embeddings is not None:
                embeddings = np.full((n, output.embeddings.shape[1]), np.nan, dtype=np.float32)
                embeddings[good] = output.embeddings
            scores = output.probabilities
            probabilities[good] = scores if self.calibration is None else self.calibration.apply(scores)
            truncated[good] = output.truncated
            tokens[good] = output.tokens
            truncated[cut] = True
        return BatchResult(
            probabilities=probabilities,
            truncated=truncated,
            errors=errors,
            tokens=tokens,
            model=self.info.name,
            error_reasons=tuple(reasons),
            embeddings=embeddings,
        )

    def predict(self, texts: Sequence[object]) -> list[Prediction]:
        """Predictions in input order; invalid texts come back with ``error`` set instead of raising."""
        return self.predict_batch(texts).predictions()

    def predict_one(self, text: object) -> Prediction:
        """Score one text; raises ``InvalidTextError`` for text that cannot be scored."""
        validate_text(text)
        return self.predict([text])[0]
