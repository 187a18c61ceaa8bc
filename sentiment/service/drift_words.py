"""A drift check in the words an owner reads first: the verdict, and what moved and by how much.

The statistics (tests, p-values, effect sizes) stay behind the Monitoring tab's details; these phrases lead. Each
comes from what the check itself compared (``FeatureDrift.distribution``), so the words and the pictures agree:
"texts got longer: median 95 vs 77 characters", "more negative: 56% vs 28%", "the topics changed: a classifier
tells them apart 73% of the time".

A verdict is never "ok" while a higher level was seen and not yet confirmed (``DriftReport.unconfirmed``): it then
says what was seen, in how many windows, and what confirms it.
"""

from __future__ import annotations

from collections.abc import Callable

from sentiment.monitoring.drift import DriftReport, FeatureDrift

LEVEL_WORDS = {"ok": "no drift", "warning": "a small change (warning)", "drift": "drift"}
# feature -> (unit, words when the current median is higher, words when lower, decimals)
MEDIANS = {
    "text_length": ("characters", "texts got longer", "texts got shorter", 0),
    "token_count": ("tokens", "texts got longer in tokens", "texts got shorter in tokens", 0),
    "confidence": ("confidence", "the model is more sure", "the model is less sure", 2),
}
FEATURE_NAMES = {  # what a check compared, for a result that kept no summary to quote numbers from
    "text_length": "the length of the texts",
    "token_count": "the length of the texts in tokens",
    "confidence": "the model's confidence",
    "label": "the label mix",
    "surface": "the marks in the texts (links, mentions, hashtags, emoji)",
    "embedding": "the topics",
}
SURFACE_WORDS = {
    "url": "texts with links",
    "mention": "texts with @mentions",
    "hashtag": "texts with hashtags",
    "emoji": "texts with emoji",
    "plain": "plain texts (no link, mention, hashtag or emoji)",
}


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def _median_phrase(row: FeatureDrift) -> str | None:
    medians = (row.distribution or {}).get("median")
    if row.test != "ks" or not medians:
        return None
    unit, higher, lower, digits = MEDIANS.get(
        row.feature, (row.feature, f"{row.feature} rose", f"{row.feature} fell", 2)
    )
    now, before = medians["current"], medians["reference"]
    words = higher if now > before else lower
    if unit == "confidence":
        return f"{words}: median confidence {now:.{digits}f} vs {before:.{digits}f}"
    return f"{words}: median {now:,.{digits}f} vs {before:,.{digits}f} {unit}"


def _category_phrase(row: FeatureDrift) -> str | None:
    """The category whose share moved most, as "more X: 56% vs 28%" (labels) or "more texts with links: ..."."""
    summary = row.distribution or {}
    if row.test != "chi2" or summary.get("kind") != "categories":
        return None
    moves = list(zip(summary["categories"], summary["current"], summary["reference"], strict=True))
    if not moves:
        return None
    category, now, before = max(moves, key=lambda m: abs(m[1] - m[2]))
    name = SURFACE_WORDS.get(category, category) if row.feature == "surface" else category
    more = ("more" if now > before else "fewer") if row.feature == "surface" else ("more" if now > before else "less")
    return f"{more} {name}: {now:.0%} vs {before:.0%}"


def _topic_phrase(row: FeatureDrift) -> str | None:
    if row.test != "domain_auc":
        return None
    return (
        f"the topics changed: a classifier tells current texts from the reference apart {row.statistic:.0%} of the "
        "time (50%: no better than chance)"
    )


PHRASES: tuple[Callable[[FeatureDrift], str | None], ...] = (_median_phrase, _category_phrase, _topic_phrase)


def phrase(row: FeatureDrift) -> str:
    """What ``row`` compared, in words with both numbers; a test without a plain reading says which test moved."""
    for make in PHRASES:
        if (words := make(row)) is not None:
            return words
    return f"{FEATURE_NAMES.get(row.feature, row.feature.replace('_', ' '))} changed"


def what_moved(report: DriftReport | None, severity: Callable[[FeatureDrift], float]) -> list[str]:
    """One phrase per feature whose tests went past ok, the feature furthest past its threshold first; a feature
    tested twice (confidence: KS and PSI) is read from the test that has a plain reading, else its strongest."""
    if report is None:
        return []
    moved = sorted((row for row in report.results if row.level != "ok"), key=severity, reverse=True)
    by_feature: dict[str, list[FeatureDrift]] = {}
    for row in moved:
        by_feature.setdefault(row.feature, []).append(row)
    phrases = []
    for rows in by_feature.values():
        readable = [row for row in rows if any(make(row) is not None for make in PHRASES)]
        phrases.append(phrase((readable or rows)[0]))
    return phrases


def verdict(report: DriftReport | None, confirm_windows: int, to_confirm: int | None) -> str:
    """The drift line in words: no check yet, not enough data, the confirmed level, or what was seen and is not
    yet confirmed (with the windows that confirm it and about how many predictions away the next one is)."""
    if report is None:
        return "no check yet"
    if report.status not in LEVEL_WORDS:
        return f"not enough predictions yet: {report.window_size:,} of {report.min_window:,} needed"
    confirmed = LEVEL_WORDS[report.status]
    seen = report.unconfirmed
    if seen is None:
        return f"**{confirmed}**"
    words = (
        f"**{LEVEL_WORDS[seen]} seen in {_plural(report.windows, 'window')}, not yet confirmed**: confirmed after "
        f"{_plural(confirm_windows, 'window')} that share no prediction"
    )
    if to_confirm is not None:
        words += f"; the next such window comes in ~{to_confirm:,} predictions"
    return words if report.status == "ok" else f"**{confirmed}** (confirmed); {words}"
