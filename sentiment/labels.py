"""The three canonical classes and the mapping of the label names that models use onto them.

A model's config names its outputs (``LABEL_2``, ``Pos``, ``2``): those names map here, in one place, so that the
predictor, the UI and the evaluator never disagree about what a model output means. The label column of a user's
own file is a different question (``0`` there may be negative, neutral or one star) and is answered per column by
``sentiment.datasets.label_map``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from sentiment.errors import LabelMappingError

LABELS: tuple[str, str, str] = ("negative", "neutral", "positive")
LABEL_TO_ID: dict[str, int] = {label: i for i, label in enumerate(LABELS)}

_ALIASES: dict[str, str] = {
    "negative": "negative",
    "neg": "negative",
    "label_0": "negative",
    "0": "negative",
    "neutral": "neutral",
    "neu": "neutral",
    "label_1": "neutral",
    "1": "neutral",
    "positive": "positive",
    "pos": "positive",
    "label_2": "positive",
    "2": "positive",
}


def canonical_label(value: object) -> str:
    """Map one model output label (``NEG``, ``Positive``, ``LABEL_1``, ``2`` ...) to its canonical name.

    Integers follow the convention of three-class sentiment models' configs and of tweet_eval: 0 negative,
    1 neutral, 2 positive. That convention holds for model outputs only: never use this for a user's label column
    (see ``sentiment.datasets.label_map``). Raises ``LabelMappingError`` for anything else, listing what it accepts."""
    key = str(value).strip().lower()
    if key.endswith(".0"):
        key = key[:-2]
    try:
        return _ALIASES[key]
    except KeyError:
        raise LabelMappingError(
            f"unknown sentiment label {value!r}; expected one of negative/neutral/positive, "
            "neg/neu/pos, LABEL_0/LABEL_1/LABEL_2 or 0/1/2 (any case)"
        ) from None


def model_label_order(id2label: Mapping[int, str]) -> list[int]:
    """Return, for each canonical class in ``LABELS`` order, the model output index that holds it.

    ``id2label`` is a transformers config's ``{output index: name}``. A model is refused unless its labels map
    one-to-one onto the three canonical classes: a two-class or emotion model served as if it were a sentiment model
    would produce confident nonsense. Raises ``LabelMappingError`` naming every problem (unknown, repeated, missing).
    """
    found: dict[str, int] = {}
    problems: list[str] = []
    for index, name in sorted(id2label.items()):
        try:
            label = canonical_label(name)
        except LabelMappingError:
            problems.append(f"{index}={name!r} is not a sentiment label")
            continue
        if label in found:
            problems.append(f"{index}={name!r} repeats {label!r}")
        found[label] = int(index)
    missing = [label for label in LABELS if label not in found]
    if missing:
        problems.append(f"missing {', '.join(missing)}")
    if problems or len(id2label) != len(LABELS):
        labels = ", ".join(f"{i}: {n}" for i, n in sorted(id2label.items()))
        raise LabelMappingError(
            f"the model's labels {{{labels}}} cannot be mapped to negative/neutral/positive ({'; '.join(problems)})"
        )
    return [found[label] for label in LABELS]


def canonical_labels(values: Iterable[object]) -> list[str]:
    """Map many labels at once; the ``LabelMappingError`` names the first bad value and its 0-based position."""
    out: list[str] = []
    for position, value in enumerate(values):
        try:
            out.append(canonical_label(value))
        except LabelMappingError as exc:
            raise LabelMappingError(f"row {position}: {exc}") from None
    return out
