"""Label spellings map onto the canonical classes, models with unmappable labels are refused, and a user's label
column is mapped only when its set of values has one reading."""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sentiment.datasets.label_map import LabelMapping, infer_label_mapping, normalise, parse_label_map
from sentiment.errors import LabelMappingError
from sentiment.labels import LABELS, canonical_label, canonical_labels, model_label_order


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


@pytest.mark.parametrize("bad", ["joy", "LABEL_3", "", "5", None, -1])
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


# --- a user's label column -------------------------------------------------------------------------------------

POLARITY = {"-1": "negative", "0": "neutral", "1": "positive"}
NAME_SPELLINGS = [
    spelling
    for label in LABELS
    for n in range(3, len(label) + 1)
    for spelling in (label[:n], label[:n].upper(), label[:n].capitalize())
]
NUMBERS = st.integers(-3, 10).flatmap(lambda n: st.sampled_from([str(n), f"{n}.0", f" {n} ", n, float(n)]))
VALUES = st.one_of(
    NUMBERS,
    st.sampled_from(NAME_SPELLINGS),
    st.sampled_from(["LABEL_0", "LABEL_1", "LABEL_2", "ne", "n", "p", "mixed", "none", "2.5", "-0.5", "+1"]),
    st.text(min_size=1, max_size=6),
)


def _oracle(keys: set[str]) -> dict[str, str] | None:
    """The documented rule, written out independently: the mapping a column must get, or None (must refuse)."""
    named = {}
    for key in keys:
        hits = [label for label in LABELS if len(key) >= 3 and label.startswith(key)]
        named[key] = hits[0] if len(hits) == 1 else None
    if all(named.values()):
        return {k: v for k, v in named.items() if v}
    if keys <= set(POLARITY) and "-1" in keys:
        return {k: POLARITY[k] for k in keys}
    return None


POLARITY_SPELLINGS = st.sampled_from([-1, 0, 1, "-1", "0", "1", "-1.0", "1.0", "+1", " 0 ", -1.0])
COLUMNS = st.one_of(  # mixed columns, and columns that should map (so both outcomes are exercised)
    st.lists(VALUES, min_size=1, max_size=8),
    st.lists(st.sampled_from(NAME_SPELLINGS), min_size=1, max_size=8),
    st.lists(POLARITY_SPELLINGS, min_size=1, max_size=8),
)


@settings(max_examples=400, deadline=None)
@given(COLUMNS)
def test_a_label_column_is_mapped_by_the_documented_rule_or_refused(values: list[object]) -> None:
    keys = {k for k in map(normalise, values) if k is not None}
    expected = _oracle(keys) if keys else None
    try:
        mapping = infer_label_mapping(values)
    except LabelMappingError:
        assert expected is None
        return
    assert expected is not None and mapping.mapping == expected
    numeric = all(k.lstrip("-").isdigit() for k in keys)
    assert not numeric or (mapping.rule == "polarity" and "-1" in keys)  # 0/1/2 and stars are never guessed
    # The rule is decided by the set of values: order and repetition of the cells change nothing.
    assert infer_label_mapping([*reversed(values), *values]).mapping == mapping.mapping


@settings(max_examples=200, deadline=None)
@given(
    st.sets(st.integers(0, 10), min_size=1, max_size=6),
    st.data(),
)
def test_numbers_without_minus_one_need_a_label_map_and_then_follow_it(numbers: set[int], data: st.DataObject) -> None:
    values = [str(n) for n in sorted(numbers)] * 2
    with pytest.raises(LabelMappingError, match="label_map") as err:
        infer_label_mapping(values)
    assert all(str(n) in str(err.value) for n in sorted(numbers)[:12])  # the values found are shown
    chosen = {str(n): data.draw(st.sampled_from(LABELS)) for n in numbers}
    as_text = ",".join(f"{k}:{v}" for k, v in chosen.items())
    for spec in (as_text, json.dumps(chosen), chosen):
        mapping = infer_label_mapping(values, spec)
        assert (mapping.rule, mapping.mapping) == ("label_map", chosen)
    missing = dict(list(chosen.items())[1:])
    if missing:
        with pytest.raises(LabelMappingError, match="does not say what"):
            infer_label_mapping(values, missing)


@pytest.mark.parametrize(
    ("values", "rule", "expected"),
    [
        (["-1", "0", "1", "1"], "polarity", {"-1": "negative", "0": "neutral", "1": "positive"}),
        ([-1, 1], "polarity", {"-1": "negative", "1": "positive"}),
        (["-1.0", "+1"], "polarity", {"-1": "negative", "1": "positive"}),
        (["NEG", "Neutral", "posit"], "names", {"neg": "negative", "neutral": "neutral", "posit": "positive"}),
    ],
)
def test_columns_with_one_reading_are_mapped(values: list[object], rule: str, expected: dict[str, str]) -> None:
    mapping = infer_label_mapping(values)
    assert (mapping.rule, mapping.mapping) == (rule, expected)
    assert isinstance(mapping, LabelMapping) and mapping.as_dict()["map"] == dict(sorted(expected.items()))


@pytest.mark.parametrize(
    ("values", "shown"),
    [
        (["0", "1", "2"], "0, 1, 2"),
        (["1", "2", "3", "4", "5"], "1, 2, 3, 4, 5"),
        (["0", "1"], "0, 1"),
        (["LABEL_0", "LABEL_1", "LABEL_2"], "label_0, label_1, label_2"),
        (["pos", "neg", "0"], "0, neg, pos"),
        (["ne", "pos"], "ne, pos"),  # "ne" begins both negative and neutral
    ],
)
def test_columns_with_more_than_one_reading_are_refused_showing_the_values(values: list[str], shown: str) -> None:
    with pytest.raises(LabelMappingError, match="label_map=") as err:
        infer_label_mapping(values)
    assert f"holds {shown}" in str(err.value)


@pytest.mark.parametrize("bad", ["0:joy", "0 negative", "{not json", "[1, 2]", "0:negative,0:positive", ",,"])
def test_a_malformed_label_map_is_refused_saying_what_is_wrong(bad: str) -> None:
    with pytest.raises(LabelMappingError, match="label_map"):
        parse_label_map(bad)
