"""The committed non-English sentences (drift scenario d): they load offline, span many languages, hold no English,
and the script that extracts them from spaCy's wheel keeps exactly the non-English example lists."""

from __future__ import annotations

import functools
import importlib.util
import re
import tempfile
import zipfile
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import assume, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from sentiment.datasets.non_english import NON_ENGLISH_FILE, load_non_english
from sentiment.errors import DatasetError, DatasetUnavailableError
from sentiment.models.adapters import minilm_path

REPO = Path(__file__).resolve().parents[2]
_WORD = re.compile(r"[^\W\d_]+")  # runs of letters, any script
# spaCy's own English examples (spacy/lang/en/examples.py), which the extraction drops
ENGLISH = [
    "Apple is looking at buying U.K. startup for $1 billion",
    "Autonomous cars shift insurance liability toward manufacturers",
    "San Francisco considers banning sidewalk delivery robots",
    "London is a big city in the United Kingdom.",
    "Where are you?",
    "Who is the president of France?",
    "What is the capital of the United States?",
    "When was Barack Obama born?",
]


@pytest.fixture(scope="module")
def english_words() -> frozenset[str]:
    """Whole words of the embedded model's (English, uncased) WordPiece vocabulary, plus "a" and "i"."""
    lines = (minilm_path() / "vocab.txt").read_text(encoding="utf-8").split()
    return frozenset(w for w in lines if w.isalpha() and len(w) > 1) | {"a", "i"}


def _looks_english(text: str, words: frozenset[str]) -> bool:
    """Three or more words, at least 90% of them whole English words: a conservative detector (short non-English
    questions such as "Qui est le président de la France ?" reach 86%)."""
    found = _WORD.findall(text.lower())
    return len(found) >= 3 and sum(w in words for w in found) >= 0.9 * len(found)


def test_the_sentences_load_offline_in_many_languages() -> None:
    frame = load_non_english()
    assert list(frame.columns) == ["language", "text"]
    assert len(frame) >= 400
    counts = frame["language"].value_counts()
    assert len(counts) >= 50 and counts.min() >= 2  # no language is a single stray line
    assert not frame.duplicated().any()
    assert frame["text"].str.len().between(1, 300).all()


def test_the_detector_finds_english_and_no_row_is_english(english_words: frozenset[str]) -> None:
    assert sum(_looks_english(t, english_words) for t in ENGLISH) >= 7  # the detector can fail this file
    frame = load_non_english()
    assert "en" not in set(frame["language"])
    english = frame[[_looks_english(t, english_words) for t in frame["text"]]]
    assert english.empty, english.to_dict("records")


def test_a_missing_or_malformed_file_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(DatasetUnavailableError, match="extract_non_english"):
        load_non_english(tmp_path / "absent.tsv")
    cases = {
        "empty.tsv": "",
        "no_header.tsv": "de\tWo bist du?\n",
        "empty_text.tsv": "language\ttext\nde\t \n",
        "extra_tab.tsv": "language\ttext\nde\tWo\tbist du?\n",
    }
    for name, content in cases.items():
        (tmp_path / name).write_text(content, encoding="utf-8")
        with pytest.raises(DatasetError, match="language<TAB>text"):
            load_non_english(tmp_path / name)


@functools.cache
def _script() -> ModuleType:
    """scripts/extract_non_english.py as a module (scripts/ is not a package)."""
    spec = importlib.util.spec_from_file_location("extract_non_english", REPO / "scripts" / "extract_non_english.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_extraction_keeps_the_non_english_lists_and_splits_a_concatenated_one(tmp_path: Path) -> None:
    wheel = tmp_path / "spacy-0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("spacy/lang/de/examples.py", 'sentences = ["Wo bist du?", "Wo  bist\\tdu?", "U.K. Start"]')
        archive.writestr("spacy/lang/en/examples.py", 'sentences = ["Where are you?"]')
        archive.writestr("spacy/lang/xx/examples.py", 'sentences = ["Wo bist du?"]')
        archive.writestr("spacy/lang/bg/examples.py", 'sentences = [\n    "Едно изречение. "\n    "Второ.Трето."\n]')
        archive.writestr("spacy/lang/fr/stop_words.py", 'sentences = ["pas un exemple"]')
    assert _script().extract(wheel) == [
        ("bg", "Едно изречение."),
        ("bg", "Второ."),
        ("bg", "Трето."),
        ("de", "Wo bist du?"),  # whitespace collapsed, then the duplicate dropped
        ("de", "U.K. Start"),
    ]


_CODES = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=2, max_size=3)


@hypothesis_settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(_CODES, st.text(min_size=1, max_size=40)), min_size=1, max_size=8))
def test_what_the_script_writes_loads_back_unchanged(rows: list[tuple[str, str]]) -> None:
    """Any text (quotes, "NA", "#", line separators, tabs) survives ``clean``, ``write`` and the loader."""
    script = _script()
    cleaned = [(code, script.clean(text)) for code, text in rows if script.clean(text)]
    assume(cleaned)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "rows.tsv"
        script.write(cleaned, path)
        assert list(load_non_english(path).itertuples(index=False, name=None)) == cleaned


def test_the_committed_file_is_what_the_script_writes() -> None:
    rows = list(load_non_english().itertuples(index=False, name=None))
    assert all(_script().clean(text) == text for _, text in rows)
    with tempfile.TemporaryDirectory() as tmp:
        _script().write(rows, Path(tmp) / "again.tsv")
        assert (Path(tmp) / "again.tsv").read_bytes() == NON_ENGLISH_FILE.read_bytes()
