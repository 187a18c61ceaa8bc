"""Per-text features that monitoring keeps instead of the text itself (privacy): length, style, confidence.

The same functions build the reference profile and the production log, so the two are always comparable.
"""

from __future__ import annotations

import re

SURFACE_KINDS: tuple[str, ...] = ("url", "mention", "hashtag", "emoji", "plain")
_URL = re.compile(r"https?://|www\.", re.IGNORECASE)
_MENTION = re.compile(r"(?:^|\s)@\w")
_HASHTAG = re.compile(r"(?:^|\s)#\w")
_EMOJI = re.compile("[\U0001f300-\U0001faff\u2600-\u27bf]")


def surface_kind(text: str) -> str:
    """The most social-media-like mark a text carries (link > mention > hashtag > emoji), else ``plain``: one of
    ``SURFACE_KINDS``. Emoji are the code points U+1F300-U+1FAFF and U+2600-U+27BF (symbols and dingbats).

    Tweets are full of these marks and edited prose has none, so this catches a change of *kind* of input that
    length alone would miss (short formal sentences, say).
    """
    if _URL.search(text):
        return "url"
    if _MENTION.search(text):
        return "mention"
    if _HASHTAG.search(text):
        return "hashtag"
    if _EMOJI.search(text):
        return "emoji"
    return "plain"
