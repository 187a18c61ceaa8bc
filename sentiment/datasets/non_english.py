"""Real non-English sentences, committed with the code: traffic for a language shift (drift scenario d, issue 18).

``data/non_english.tsv`` holds spaCy's per-language example sentences (``spacy==3.8.18``, MIT; provenance and
licence in ``data/README.md``; rebuilt by ``scripts/extract_non_english.py``): 487 sentences in 66 languages and
many scripts, headlines and short questions of 6 to 273 characters, with no English rows and no social-media marks.

They carry no sentiment labels, so they are not a registry dataset (``DATASETS`` yields labelled ``text, label``
frames for evaluation and training): they are offered only as unlabelled traffic, for drift benchmarks and tests
that need to know what the monitor does when the model's users stop writing English.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from sentiment.errors import DatasetError, DatasetUnavailableError

NON_ENGLISH_FILE = Path(__file__).with_name("data") / "non_english.tsv"


def load_non_english(path: Path = NON_ENGLISH_FILE) -> pd.DataFrame:
    """The sentences as a frame of ``language`` (spaCy's language code: ISO 639-1 where there is one, else 639-3,
    e.g. ``grc`` Ancient Greek, ``dsb`` Lower Sorbian) and ``text``, one row per sentence, in the file's order.

    Raises ``DatasetUnavailableError`` when the file is missing (a deployment that ships only ``*.py``, such as the
    Space, leaves it out: run from a checkout of the repository) and ``DatasetError`` naming the first line that is not
    ``language<TAB>text`` with both fields non-empty (or a header that is not that)."""
    if not path.is_file():
        raise DatasetUnavailableError(
            f"{path} is missing: the non-English sentences ship with a checkout of the repository, not with the "
            "app's deployment; rebuild it with scripts/extract_non_english.py"
        )
    # Read by hand, not by pandas: a stray tab there silently turns the first column into the index.
    header, *lines = path.read_text(encoding="utf-8").splitlines() or [""]
    if header.split("\t") != ["language", "text"]:
        raise DatasetError(f"{path} starts with {header[:40]!r}: expected a header 'language<TAB>text'")
    rows = [line.split("\t") for line in lines]
    bad = next((i for i, row in enumerate(rows, start=2) if len(row) != 2 or not row[0] or not row[1].strip()), None)
    if bad is not None:
        raise DatasetError(f"{path} line {bad} is not 'language<TAB>text' (one tab, both fields non-empty)")
    return pd.DataFrame(rows, columns=["language", "text"])
