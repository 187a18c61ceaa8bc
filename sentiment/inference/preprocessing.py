"""Text normalisation that a model was trained with, applied before tokenisation.

The cardiffnlp Twitter models were trained on tweets whose user mentions were replaced by ``@user`` and links by
``http`` (their model card asks callers to do the same); feeding raw handles and URLs costs accuracy. The embedded
model is trained with the same function (``finetune/`` calls ``get_preprocessor``), so training and serving see the
same text.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from sentiment.errors import ModelLoadError

Preprocessor = Callable[[str], str]

# A token is a maximal run of non-whitespace, whitespace being every character ``str.isspace`` accepts (tab,
# newline, carriage return, no-break and other Unicode spaces). Splitting on " " alone glued "@shop\nawful" into
# one token, and the whole of it, the word included, became "@user".
_TOKEN = re.compile(r"\S+")


def _replace(match: re.Match[str]) -> str:
    token = match.group(0)
    if token.startswith("@") and len(token) > 1:
        return "@user"
    if token.startswith("http"):
        return "http"
    return token


def twitter(text: str) -> str:
    """Replace each ``@handle`` token with ``@user`` and each link token with ``http``, as the cardiffnlp model
    card specifies (TweetEval, Barbieri et al. 2020); every other token and all whitespace (kind and amount) are kept
    exactly as they were."""
    return _TOKEN.sub(_replace, text)


def identity(text: str) -> str:
    """No normalisation (``preprocessing: none``)."""
    return text


PREPROCESSORS: dict[str, Preprocessor] = {"twitter": twitter, "none": identity}


def get_preprocessor(name: str) -> Preprocessor:
    """The function registered as ``name`` in ``PREPROCESSORS``; raises ``ValueError`` naming the known ones."""
    try:
        return PREPROCESSORS[name]
    except KeyError:
        raise ModelLoadError(f"unknown preprocessing {name!r}; known: {', '.join(sorted(PREPROCESSORS))}") from None
