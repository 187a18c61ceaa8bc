"""Tweet preprocessing replaces mentions and links and loses nothing else, whatever whitespace separates words (the
shipped model on the reported case: tests/integration/test_preprocessing_embedded.py)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sentiment.inference.preprocessing import get_preprocessor, twitter

WHITESPACE = [" ", "\t", "\n", "\r", "\r\n", "\u00a0", "\u2003", "\u3000", "\u2028", "\x0b", "\x0c"]
WORD_CHARS = st.characters(categories=["L", "N", "P", "S"])  # no separators: a word never contains whitespace


def _is_mention(token: str) -> bool:
    return token.startswith("@") and len(token) > 1


def _is_link(token: str) -> bool:
    return token.startswith("http")


@st.composite
def tweets(draw: st.DrawFn) -> tuple[str, list[str]]:
    """A text of words, @handles and links joined by random runs of whitespace, and the words in order."""
    word = st.text(WORD_CHARS, min_size=1, max_size=8)
    mention = st.builds(lambda s: "@" + s, st.text(WORD_CHARS, min_size=1, max_size=8))
    link = st.builds(lambda s: "https://" + s, st.text(WORD_CHARS, min_size=0, max_size=8))
    tokens = draw(st.lists(st.one_of(word, mention, link), min_size=1, max_size=12))
    gap = st.lists(st.sampled_from(WHITESPACE), min_size=1, max_size=3).map("".join)
    gaps = draw(st.lists(gap, min_size=len(tokens) + 1, max_size=len(tokens) + 1))
    lead = draw(st.sampled_from(["", gaps[-1]]))
    text = lead + "".join(t + g for t, g in zip(tokens, gaps, strict=False))
    return text, tokens


@settings(max_examples=300, deadline=None)
@given(tweets())
def test_every_other_token_and_all_whitespace_survive_in_order(case: tuple[str, list[str]]) -> None:
    text, tokens = case
    out = twitter(text)
    expected = ["@user" if _is_mention(t) else "http" if _is_link(t) else t for t in tokens]
    assert out.split() == expected
    # Whitespace is kept as it was: the same runs, the same characters, in the same places.
    assert [c for c in out if c.isspace()] == [c for c in text if c.isspace()]
    assert twitter(out) == out  # idempotent: a preprocessed text is a fixed point


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("@shop\nawful", "@user\nawful"),
        ("@shop\tawful", "@user\tawful"),
        ("see https://t.co/x\nawful", "see http\nawful"),
        ("@a\r\n@b  http://x\u00a0ok", "@user\r\n@user  http\u00a0ok"),
        ("@ alone and mail@example.com stay", "@ alone and mail@example.com stay"),
    ],
)
def test_known_inputs(text: str, expected: str) -> None:
    assert twitter(text) == expected


def test_training_uses_the_same_preprocessing_function_as_serving() -> None:
    """finetune/ must not carry its own copy of the rule: train/serve skew would be silent."""
    from finetune import train

    assert train.get_preprocessor is get_preprocessor
    assert get_preprocessor("twitter") is twitter
