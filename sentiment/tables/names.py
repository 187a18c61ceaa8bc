"""Column names of a scored copy: every one distinct, so no reader (pandas, ``csv.DictReader``, a database import,
the scorer's own ``--text-column``) can shadow one column with another.

Two rules, one comparison (names are equal when they are equal ignoring case and surrounding spaces, as
spreadsheets and SQL databases compare them):

* **Input columns** named alike (``text,text``): the first keeps its name, each later one becomes ``<name>_2``,
  ``<name>_3``... (the first number no column of the file already uses); a later empty name becomes
  ``column_<position>``. The summary lists each renamed column (``columns_renamed``: new name -> name as written).
* **Added columns** (label, probabilities, error, prediction id) never take an input column's name: the added one
  becomes ``predicted_<role>`` (``scoring_error``, ``sentiment_prediction_id``), then ``..._2``, ``_3``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from itertools import count

from sentiment.labels import LABELS

# the roles of the added columns, and their names by default
NEW_COLUMNS = ["label", *(f"score_{label}" for label in LABELS), "error", "prediction_id"]
_FALLBACK_NAMES = {"error": "scoring_error", "prediction_id": "sentiment_prediction_id"}  # else predicted_<role>


def _key(name: str) -> str:
    return name.strip().casefold()


def _candidates(name: str, position: int) -> Iterator[str]:
    """Names for a later column called ``name`` at 1-based ``position``: ``name_2``, ``name_3``... (``column_N``
    first for an empty name)."""
    base = name.strip() or f"column_{position}"
    if not name.strip():
        yield base
    for number in count(2):
        yield f"{base}_{number}"


def unique_names(names: Sequence[str]) -> tuple[list[str], dict[str, str]]:
    """``names`` with every repeat renamed (see the module's rule), in order, and new name -> name as written for
    each renamed one. Names that are already distinct come back unchanged (as written, spaces included)."""
    first: dict[str, int] = {}
    for position, name in enumerate(names):
        first.setdefault(_key(name), position)
    taken = set(first)
    unique: list[str] = []
    renamed: dict[str, str] = {}
    for position, name in enumerate(names):
        if first[_key(name)] == position:
            unique.append(name)
            continue
        new = next(c for c in _candidates(name, position + 1) if _key(c) not in taken)
        taken.add(_key(new))
        unique.append(new)
        renamed[new] = name
    return unique, renamed


def added_column_names(columns: Sequence[str]) -> dict[str, str]:
    """Role -> name of each added column, none equal (ignoring case and surrounding spaces) to an input column or
    to another added one: ``label``, else ``predicted_label``, else ``predicted_label_2``, ``_3``..."""
    taken = {_key(c) for c in columns}
    names: dict[str, str] = {}
    for role in NEW_COLUMNS:
        name = role
        fallback = _FALLBACK_NAMES.get(role, f"predicted_{role}")
        attempt = 1
        while _key(name) in taken:
            name = fallback if attempt == 1 else f"{fallback}_{attempt}"
            attempt += 1
        taken.add(_key(name))
        names[role] = name
    return names
