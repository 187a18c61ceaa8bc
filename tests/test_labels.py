"""Label spellings map onto the canonical classes, and models with unmappable labels are refused."""

import pytest

from sentiment.labels import LABELS, LabelMappingError, canonical_label, canonical_labels, model_label_order


@pytest.mark.parametrize(
    ("spelling", "expected"),
    [
        ("negative", "negative"),
        ("NEGATIVE", "negative"),
        ("Neg", "negative"),
        ("NEG", "negative"),
        ("LABEL_0", "negative"),
        ("label_0", "negative"),
        (0, "negative"),
        ("0", "negative"),
        (-1, "negative"),
        ("neutral", "neutral"),
        ("Neutral", "neutral"),
        ("NEU", "neutral"),
        ("LABEL_1", "neutral"),
        (1, "neutral"),
        ("positive", "positive"),
        ("Positive ", "positive"),
        ("POS", "positive"),
        ("LABEL_2", "positive"),
        (2, "positive"),
        (2.0, "positive"),
    ],
)
def test_every_accepted_spelling_maps_to_its_class(spelling: object, expected: str) -> None:
    assert canonical_label(spelling) == expected


@pytest.mark.parametrize("bad", ["joy", "LABEL_3", "", "5", None])
def test_unknown_labels_are_refused_with_the_accepted_spellings(bad: object) -> None:
    with pytest.raises(LabelMappingError, match="expected one of negative/neutral/positive"):
        canonical_label(bad)


def test_canonical_labels_names_the_row_of_a_bad_value() -> None:
    with pytest.raises(LabelMappingError, match="row 2"):
        canonical_labels(["pos", "neg", "angry"])


def test_model_order_follows_the_models_own_label_positions() -> None:
    # cardiffnlp's latest model uses lower-case names; older ones LABEL_0..2; others any order and case.
    assert model_label_order({0: "negative", 1: "neutral", 2: "positive"}) == [0, 1, 2]
    assert model_label_order({0: "LABEL_0", 1: "LABEL_1", 2: "LABEL_2"}) == [0, 1, 2]
    assert model_label_order({0: "POS", 1: "NEG", 2: "NEU"}) == [1, 2, 0]
    assert model_label_order({2: "Negative", 0: "Positive", 1: "Neutral"}) == [2, 1, 0]
    assert len(LABELS) == 3


@pytest.mark.parametrize(
    "id2label",
    [
        {0: "negative", 1: "positive"},  # two-class model
        {0: "anger", 1: "joy", 2: "sadness"},  # emotion model
        {0: "neg", 1: "NEGATIVE", 2: "pos"},  # a class twice, one missing
        {0: "negative", 1: "neutral", 2: "positive", 3: "mixed"},
    ],
)
def test_models_whose_labels_cannot_be_mapped_are_refused_listing_them(id2label: dict[int, str]) -> None:
    with pytest.raises(LabelMappingError) as err:
        model_label_order(id2label)
    for name in id2label.values():
        assert name in str(err.value)
