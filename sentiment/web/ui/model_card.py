"""The Models tab's card: which model serves, in words a visitor reads (name, revision, precision, calibration,
since when, what it replaced), and why a fallback happened as a sentence, never as an exception's text.

The technical note a model carries (``ModelInfo.note``: "auto: Hub not used (https://huggingface.co is unreachable
(ConnectError: ...))") is for the operator: ``/health`` and the log keep it. The page says what it means.
"""

from __future__ import annotations

import time
from typing import Any

SOURCES = {
    "hub": "downloaded from the Hugging Face Hub",
    "embedded": "shipped with the app",
    "lexicon": "a word list (no neural network)",
    "local": "a local folder (a fine-tuning run)",
}
# Fragments of the Hub checks' reasons (``sentiment.models.hub.hub_status``, ``registry._load_auto``) -> words
HUB_REASONS = (
    ("HF_HUB_OFFLINE", "this app is set to work offline"),
    ("did not answer", "the Hub did not answer in time"),
    ("unreachable", "the Hub cannot be reached from this machine"),
    ("answered HTTP", "the Hub answered with a server error"),
    ("failed", "it could not be loaded"),
)
OPERATOR_NOTE = "The model loaded with a technical note for the operator (see `/health` or the log)."


def note_sentence(note: str, hub_model: str) -> str:
    """``note`` in one or two sentences for the page: a known reason in words, anything else as a pointer to
    ``/health``. The result never quotes the note, so no exception text or host name reaches the page."""
    if not note:
        return ""
    if not note.startswith("auto: Hub not used"):
        return OPERATOR_NOTE
    why = next((words for fragment, words in HUB_REASONS if fragment in note), "the Hub could not be used")
    sentence = f"Offline: the Hub model `{hub_model}` is not used ({why}), so the embedded model serves."
    if "embedded model failed" in note:
        sentence = (
            f"Offline: the Hub model `{hub_model}` is not used ({why}) and the embedded model could not be loaded, "
            "so the VADER lexicon serves."
        )
    return sentence


def _since(started: float | None, now: float) -> str:
    if started is None:
        return "-"
    minutes = max(0, int(now - started) // 60)
    ago = f"{minutes} min" if minutes < 120 else f"{minutes // 60} h {minutes % 60} min"
    return f"{time.strftime('%Y-%m-%d %H:%M', time.gmtime(started))} UTC ({ago} ago)"


def model_card(figures: dict[str, Any], since: float | None, now: float, health: dict[str, Any], hub_model: str) -> str:
    """The card as Markdown. ``figures`` is ``/serving_model``'s answer (its ``serving`` note already in words);
    ``health`` says why there is no model when none serves."""
    info = figures["serving"]
    if info is None:
        if health.get("status") == "failed":
            return "### No model is serving\nLoading failed: see `/health` or the log for the reason."
        return "### The model is still loading\nThis card fills in once it serves (usually within seconds)."
    before = figures["previously_served"]
    replaced = (
        f"`{before[0]}` (switch back to it to roll back)" if before else "nothing: the model the app started with"
    )
    calibrated = f"yes: {info['calibration']}" if info.get("calibrated") else "no (raw model probabilities)"
    rows = [
        ("Revision", f"`{info['revision']}`"),
        ("Source", SOURCES.get(info["source"], info["source"])),
        ("Precision", info.get("precision") or "-"),
        ("Calibrated", calibrated),
        ("Serving since", _since(since, now)),
        ("Replaced", replaced),
        ("Asked for", f"`{figures['spec']}`"),
    ]
    fields = "\n".join(f"- **{name}:** {value}" for name, value in rows)
    card = f"### Serving now: `{info['name']}`\n\n{fields}\n"
    return card + (f"\n{info['note']}\n" if info.get("note") else "")
