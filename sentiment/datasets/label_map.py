"""How the label column of a user's own file maps onto negative / neutral / positive.

A user's file is not a model config: ``0`` means negative in TweetEval, neutral in a -1/0/1 polarity file and a
one-star review elsewhere. Guessing per cell mis-maps whole files silently (a -1/0/1 file read as 0 negative,
1 neutral scored 0.33 with a perfect model), so the rule is decided once per *column*, from the set of distinct
values, and a column is mapped automatically only when that set has one reading:

- **names**: every value is a class name or an abbreviation of one, in any case (``Negative``, ``NEG``, ``neu``,
  ``posit``): at least three letters that begin exactly one class name;
- **polarity**: every value is an integer in -1, 0, 1 and -1 occurs (a column of 0/1 alone could be
  negative/positive or negative/neutral): -1 negative, 0 neutral, 1 positive.

Anything else (0/1/2, 1..5 stars, mixed words and numbers, ``LABEL_0``) is refused with the values found and how to
name the mapping: ``label_map="-1:negative,0:neutral,1:positive"`` or the same as JSON. Model output labels
(``LABEL_0`` in a model's config) are a different, legitimate mapping: ``sentiment.labels.canonical_label``.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sentiment.errors import LabelMappingError
from sentiment.labels import LABELS

RULES = {
    "names": "class names or their abbreviations",
    "polarity": "polarity -1/0/1: -1 negative, 0 neutral, 1 positive",
    "label_map": "the label_map given",
}
POLARITY = {"-1": "negative", "0": "neutral", "1": "positive"}
MIN_ABBREVIATION = 3  # "neg"/"neu" are the shortest prefixes that tell negative from neutral
MAX_SHOWN = 12


def normalise(value: object) -> str | None:
    """The key a label value is compared by: numbers by value (``1``, ``1.0``, ``"+1"`` are ``"1"``), words
    stripped and case-folded; ``None`` for a missing label (empty cell, NaN)."""
    if value is None:
        return None
    text = str(value).strip()
    if not text:
        return None
    try:
        number = float(text)
    except ValueError:
        return text.casefold()
    if math.isnan(number):
        return None
    if math.isinf(number):
        return text.casefold()
    return str(int(number)) if number.is_integer() else repr(number)


def class_of_name(key: str) -> str | None:
    """The class a name or abbreviation stands for (``neg``, ``Neutral``, ``posit``), or None."""
    if len(key) < MIN_ABBREVIATION:
        return None
    matches = [label for label in LABELS if label.startswith(key.casefold())]
    return matches[0] if len(matches) == 1 else None


def _is_integer(key: str) -> bool:
    return re.fullmatch(r"-?[0-9]+", key) is not None


@dataclass(frozen=True)
class LabelMapping:
    """The mapping used for one label column: which rule, and every distinct value found -> its class."""

    rule: str
    mapping: dict[str, str]
    column: str = "label"

    def apply(self, values: Sequence[object]) -> list[str | None]:
        """Each value's class; None for a missing label; ``KeyError`` for a value the column did not hold."""
        out: list[str | None] = []
        for value in values:
            key = normalise(value)
            out.append(None if key is None else self.mapping[key])
        return out

    def describe(self) -> str:
        """One line for a report: the column, the rule and every value -> class."""
        pairs = ", ".join(f"{k} -> {v}" for k, v in sorted(self.mapping.items()))
        return f"column {self.column!r} by {RULES[self.rule]} ({pairs})"

    def as_dict(self) -> dict[str, Any]:
        """The JSON form (``column``, ``rule``, ``map``)."""
        return {"column": self.column, "rule": self.rule, "map": dict(sorted(self.mapping.items()))}


def parse_label_map(spec: str | Mapping[str, str] | None) -> dict[str, str] | None:
    """``"-1:negative,0:neutral,1:positive"`` (``=`` also works, ``;`` also separates) or a JSON object, to
    normalised value -> class. Empty means none given. Raises ``LabelMappingError`` with an example for bad JSON,
    an item that is not value:class, a class outside ``LABELS``, or one value mapped twice."""
    if spec is None or (isinstance(spec, str) and not spec.strip()):
        return None
    pairs: list[tuple[object, object]]
    if isinstance(spec, Mapping):
        pairs = list(spec.items())
    elif spec.strip().startswith("{"):
        try:
            loaded = json.loads(spec)
        except json.JSONDecodeError as exc:
            raise LabelMappingError(f'label_map is not valid JSON ({exc}); e.g. {{"-1": "negative"}}') from None
        if not isinstance(loaded, dict):
            raise LabelMappingError("label_map as JSON must be an object: value -> class")
        pairs = list(loaded.items())
    else:
        pairs = []
        for item in spec.replace(";", ",").split(","):
            if not item.strip():
                continue
            sep = ":" if ":" in item else "="
            left, found, right = item.rpartition(sep)
            if not found or not left.strip():
                raise LabelMappingError(f"label_map item {item.strip()!r} is not value:class, e.g. '-1:negative'")
            pairs.append((left, right))
    out: dict[str, str] = {}
    for raw_key, raw_target in pairs:
        key = normalise(raw_key)
        target = class_of_name(str(raw_target).strip())
        if key is None:
            raise LabelMappingError(f"label_map has an empty value on the left of {raw_target!r}")
        if target is None:
            raise LabelMappingError(
                f"label_map maps {raw_key!r} to {raw_target!r}, which is not one of {', '.join(LABELS)}"
            )
        if key in out and out[key] != target:
            raise LabelMappingError(f"label_map maps {raw_key!r} twice ({out[key]} and {target})")
        out[key] = target
    if not out:
        raise LabelMappingError("label_map is empty; e.g. '-1:negative,0:neutral,1:positive'")
    return out


def _ordered(keys: Iterable[str]) -> list[str]:
    """Numbers by value first, then words: how a person reads a label set."""
    return sorted(keys, key=lambda k: (not _is_integer(k), int(k) if _is_integer(k) else 0, k))


def _shown(keys: Iterable[str]) -> str:
    ordered = _ordered(keys)
    text = ", ".join(ordered[:MAX_SHOWN])
    return text + (f" ... ({len(ordered)} distinct values)" if len(ordered) > MAX_SHOWN else "")


def _refusal(column: str, keys: set[str], why: str) -> LabelMappingError:
    template = ",".join(f"{k}:…" for k in _ordered(keys)[:MAX_SHOWN])
    hint = f" (is {column!r} the label column?)" if len(keys) > MAX_SHOWN else ""
    return LabelMappingError(
        f"label column {column!r} holds {_shown(keys)}{hint}: {why}. Name the mapping with label_map, "
        f"e.g. label_map='{template}' with each … one of {', '.join(LABELS)} (or the same as a JSON object)"
    )


def infer_label_mapping(
    values: Iterable[object], label_map: str | Mapping[str, str] | None = None, column: str = "label"
) -> LabelMapping:
    """Decide the mapping of one label column from its distinct values (missing labels ignored). Raises
    ``LabelMappingError`` when the column has no labels, ``label_map`` misses one of its values, or no rule above
    reads it; the message lists the values found and how to write ``label_map``."""
    keys = {key for key in map(normalise, values) if key is not None}
    if not keys:
        raise LabelMappingError(f"label column {column!r} has no labels")
    explicit = parse_label_map(label_map)
    if explicit is not None:
        unmapped = keys - set(explicit)
        if unmapped:
            raise LabelMappingError(
                f"label_map does not say what {_shown(unmapped)} in column {column!r} mean "
                f"(the column holds {_shown(keys)}); add them, e.g. '{_ordered(unmapped)[0]}:neutral'"
            )
        return LabelMapping("label_map", {k: explicit[k] for k in keys}, column)
    named = {key: class_of_name(key) for key in keys}
    if all(named.values()):
        return LabelMapping("names", {k: v for k, v in named.items() if v is not None}, column)
    if all(_is_integer(k) for k in keys):
        if keys <= set(POLARITY) and "-1" in keys:
            return LabelMapping("polarity", {k: POLARITY[k] for k in keys}, column)
        why = (
            "numbers other than the -1/0/1 polarity scale have no single meaning (0/1/2 is negative/neutral/"
            "positive in TweetEval, 1-5 are star ratings, 0/1 may be negative/positive)"
        )
        raise _refusal(column, keys, why)
    unknown = [k for k, v in named.items() if v is None]
    what = "" if len(unknown) == len(keys) else f" ({_shown(unknown)})"
    raise _refusal(column, keys, f"not all of them are class names{what} (negative/neutral/positive or abbreviated)")
