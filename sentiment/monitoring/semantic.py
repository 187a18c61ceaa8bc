"""Say what changed when the domain classifier separates the current window from the reference.

The classifier's cross-fitted scores rank every row by how "current" it looks. With text logging on
(``SENTIMENT_LOG_TEXT``) and texts on both sides, the explanation quotes the most typical current texts (highest
scores) and the most typical reference texts (lowest); otherwise it compares the features the log keeps (length,
tokens, label and surface mix, confidence) of the current rows the classifier is surest about with the reference,
so that a reader sees *which* traffic moved without any text being stored.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sentiment.monitoring.domain_classifier import as_matrix, domain_scores

EXAMPLES = 3  # quoted texts per side
TOP_SHARE = 0.25  # the share of current rows, by score, whose features are described
QUOTE_CHARS = 160


def _quote(text: object) -> str:
    flat = " ".join(str(text).split())
    return flat if len(flat) <= QUOTE_CHARS else flat[: QUOTE_CHARS - 1] + "…"


def _has_text(frame: pd.DataFrame) -> bool:
    return "text" in frame.columns and len(frame) > 0 and bool(frame["text"].notna().all())


def _shares(frame: pd.DataFrame, column: str) -> str:
    shares = frame[column].value_counts(normalize=True).sort_index()
    return ", ".join(f"{name} {share:.0%}" for name, share in shares.items())


def _profile(frame: pd.DataFrame) -> list[str]:
    return [
        f"{frame['n_chars'].mean():.0f}",
        f"{frame['n_tokens'].mean():.1f}",
        f"{frame['confidence'].mean():.2f}",
        _shares(frame, "label"),
        _shares(frame, "surface"),
    ]


def explain_domain_shift(reference: pd.DataFrame, current: pd.DataFrame, column: str = "embedding") -> str:
    """Markdown that says what separates ``current`` from ``reference`` (frames with the log's feature columns,
    ``column`` holding embeddings and, when text logging allows, ``text``)."""
    scores = domain_scores(as_matrix(reference[column]), as_matrix(current[column]))
    ref = reference.iloc[scores.reference_rows].reset_index(drop=True)
    cur = current.iloc[scores.current_rows].reset_index(drop=True)
    lines = ["**What changed (semantic drift):** a classifier on the model's embeddings tells the windows apart."]
    if _has_text(ref) and _has_text(cur):
        lines.append("\nMost typical of the current window:")
        lines += [f"- {_quote(cur['text'][i])}" for i in np.argsort(-scores.current)[:EXAMPLES]]
        lines.append("\nMost typical of the reference:")
        lines += [f"- {_quote(ref['text'][i])}" for i in np.argsort(scores.reference)[:EXAMPLES]]
        return "\n".join(lines)
    top = cur.iloc[np.argsort(-scores.current)[: max(1, int(TOP_SHARE * len(cur)))]]
    lines += [
        f"\nText logging is off: the {len(top)} current predictions that look least like the reference, "
        "by the features the log keeps:\n",
        "| rows | mean chars | mean tokens | mean confidence | labels | surface |",
        "|---|---|---|---|---|---|",
        "| " + " | ".join([f"most current-like {len(top)}", *_profile(top)]) + " |",
        "| " + " | ".join([f"whole window {len(cur)}", *_profile(cur)]) + " |",
        "| " + " | ".join([f"reference {len(ref)}", *_profile(ref)]) + " |",
    ]
    return "\n".join(lines)
