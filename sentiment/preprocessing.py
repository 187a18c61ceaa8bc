"""Text normalisation that a model was trained with, applied before tokenisation.

The cardiffnlp Twitter models were trained on tweets whose user mentions were replaced by ``@user`` and links by
``http`` (their model card asks callers to do the same); feeding raw handles and URLs costs accuracy. The embedded
model is trained with the same rule so that both see the same text.
"""

from __future__ import annotations

from collections.abc import Callable

Preprocessor = Callable[[str], str]


def twitter(text: str) -> str:
    """Replace ``@handles`` with ``@user`` and links with ``http``, as the cardiffnlp model card specifies."""
    words = []
    for word in text.split(" "):
        if word.startswith("@") and len(word) > 1:
            word = "@user"
        elif word.startswith("http"):
            word = "http"
        words.append(word)
    return " ".join(words)


def identity(text: str) -> str:
    return text


PREPROCESSORS: dict[str, Preprocessor] = {"twitter": twitter, "none": identity}


def get_preprocessor(name: str) -> Preprocessor:
    try:
        return PREPROCESSORS[name]
    except KeyError:
        raise ValueError(f"unknown preprocessing {name!r}; known: {', '.join(sorted(PREPROCESSORS))}") from None
