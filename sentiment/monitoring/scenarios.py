"""Shifted traffic for drift tests and benchmarks: a change of topic that keeps every surface feature.

``topic_shift`` writes, for each template text (e.g. a held-out tweet of the reference source), a text from
another source (e.g. a movie-review snippet) with the template's label, cut to the template's length and carrying
the template's social-media mark (its first link, mention, hashtag or emoji). Length, surface kind and label mix
then match the template's source; only what the texts are about changed. No surface test can see that; a test on
the model's own representation must.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from sentiment.monitoring.features import surface_kind

_MARKS = {
    "url": re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE),
    "mention": re.compile(r"@\w+"),
    "hashtag": re.compile(r"#\w+"),
    "emoji": re.compile("[\U0001f300-\U0001faff\u2600-\u27bf]"),
}


def mark_of(text: str) -> str:
    """The token that gives ``text`` its surface kind (``features.surface_kind``), or "" for a plain text."""
    kind = surface_kind(text)
    found = _MARKS[kind].search(text) if kind in _MARKS else None
    return found.group(0) if found else ""


def topic_shift(
    templates: Sequence[str],
    template_labels: Sequence[str],
    others: Sequence[str],
    other_labels: Sequence[str],
    rng: np.random.Generator,
) -> tuple[list[str], list[str]]:
    """(texts, labels): per template, an unused text of ``others`` with the same label, cut to the template's
    length (in characters, with the template's mark in front). A label ``others`` has run out of is drawn again
    from its texts (with replacement). Raises ``ValueError`` when ``others`` lacks a label altogether."""
    bodies = [" ".join(str(text).split()) for text in others]
    pools: dict[str, list[int]] = {}
    for i, label in enumerate(other_labels):
        pools.setdefault(label, []).append(i)
    unused = {label: [int(i) for i in rng.permutation(rows)] for label, rows in pools.items()}
    texts: list[str] = []
    for template, label in zip(templates, template_labels, strict=True):
        if label not in pools:
            raise ValueError(f"no text of the other source is labelled {label!r}: pick a source with every label")
        mark = mark_of(template)
        room = max(1, len(template) - (len(mark) + 1 if mark else 0))
        candidates = unused[label] or [int(i) for i in rng.permutation(pools[label])]
        # the first unused text long enough to be cut to the template's length (else the longest of them)
        row = next((i for i in candidates if len(bodies[i]) >= room), max(candidates, key=lambda i: len(bodies[i])))
        if unused[label]:
            unused[label].remove(row)
        texts.append(f"{mark} {bodies[row][:room]}" if mark else bodies[row][:room])
    return texts, list(template_labels)


# texts -> the serving model's features of them (``monitoring.reference.features_of``: label, confidence, n_tokens)
Scorer = Callable[[list[str]], pd.DataFrame]


def matched_topic_shift(
    templates: Sequence[str],
    template_labels: Sequence[str],
    others: Sequence[str],
    other_labels: Sequence[str],
    score: Scorer,
    rng: np.random.Generator,
    candidates: int = 8,
) -> list[str]:
    """``topic_shift`` that also keeps the model's outputs: ``candidates`` shifted versions of each template are
    scored, and among those with the template's predicted label (all, when none has it) the one nearest to the
    template in confidence and token count (each difference in units of the templates' standard deviation) is
    kept. The predicted label mix, the confidence distribution and the token counts then match the template's
    source as well as its length and marks do, so the surface tests (label, confidence, tokens) must stay quiet;
    measured in benchmarks/drift_scenarios.py (scenario c)."""
    drafts = [topic_shift(templates, template_labels, others, other_labels, rng)[0] for _ in range(candidates)]
    own = score(list(templates))
    flat = [text for draft in drafts for text in draft]
    found = score(flat)
    labels, conf, tokens = (
        found["label"].to_numpy(),
        found["confidence"].to_numpy(float),
        found["n_tokens"].to_numpy(float),
    )
    conf_scale = max(float(own["confidence"].std()), 1e-6)
    token_scale = max(float(own["n_tokens"].std()), 1e-6)
    n = len(templates)
    chosen = []
    for i in range(n):
        options = np.arange(candidates) * n + i
        same = options[labels[options] == own["label"].iloc[i]]
        pick = same if len(same) else options
        distance = (
            np.abs(conf[pick] - float(own["confidence"].iloc[i])) / conf_scale
            + np.abs(tokens[pick] - float(own["n_tokens"].iloc[i])) / token_scale
        )
        chosen.append(flat[int(pick[int(np.argmin(distance))])])
    return chosen
