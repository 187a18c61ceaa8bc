"""Write tests/data/legacy_data_dir/: a data folder as the app wrote it before the one store (commit 0a40166).

The legacy import (``sentiment.store.legacy``) is tested against this folder, so it must be what that code really
wrote, not a hand-made imitation: this script runs the service of commit 0a40166 itself (the embedded model, its
prediction log, feedback store, evaluation store, drift history and reference files). It was run as::

    git -C /work/main worktree add /tmp/legacy-src 0a40166
    cd /tmp/legacy-src && HF_HUB_OFFLINE=1 PYTHONPATH=/tmp/legacy-src \
        /work/main/.venv/bin/python /work/wt/transfer/tests/data/make_legacy_data_dir.py \
        /work/wt/transfer/tests/data
    git -C /work/main worktree remove /tmp/legacy-src

What it does, in order (every file below is written by the old code, except ``legacy_feedback_v1.sqlite``):
- scores 30 texts (the log keeps their text): after 20 the automatic production reference is pinned by the first
  drift check (a profile ``<16hex>.json`` and ``pinned-<key>.json``), and the estimation reference
  (``estimation-<key>.json``) is fitted on the labelled reference file;
- resets the reference (``serving-<key>.json``, the pinned pointer goes), scores 30 more texts, pins the newest 20 by
  hand (a second production profile and pointer) and checks drift again: two rows in ``drift_history.sqlite``;
- gives 10 feedback rows through the feedback service (one conflict, one identical repeat that stays one row, two
  owner decisions);
- runs one evaluation on the labelled reference file (``evaluations.sqlite``);
- writes ``legacy_feedback_v1.sqlite``: a feedback file of the version before identical feedback was one row
  (``session`` column, ``user_version`` 0), with the v1 schema that version created, naming predictions of this log.
"""

from __future__ import annotations

import csv
import shutil
import sqlite3
import sys
import tempfile
from pathlib import Path

from sentiment.service.serving import SentimentService
from sentiment.settings import Settings

POSITIVE = ["I love this {}", "what a wonderful {}", "the {} made my day", "great {}, really happy", "best {} ever"]
NEGATIVE = ["I hate this {}", "what an awful {}", "the {} ruined my day", "terrible {}, so angry", "worst {} ever"]
NEUTRAL = ["the {} arrives at noon", "a {} is on the table", "they sell the {} downtown", "the {} is blue"]
THINGS = ["flight", "phone", "movie", "coffee", "hotel", "book", "song", "game", "car", "meal", "show", "app"]

V1_SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    prediction_id TEXT NOT NULL,
    label TEXT NOT NULL,
    source TEXT NOT NULL,
    session TEXT NOT NULL,
    reviewed TEXT NOT NULL DEFAULT 'unreviewed',
    created_at REAL NOT NULL,
    reviewed_at REAL,
    text TEXT,
    UNIQUE (prediction_id, label, session)
);
CREATE INDEX IF NOT EXISTS feedback_prediction ON feedback (prediction_id);
CREATE INDEX IF NOT EXISTS feedback_session ON feedback (session, created_at);
"""


def texts(n: int, offset: int) -> list[str]:
    templates = [t for group in zip(POSITIVE, NEGATIVE, NEUTRAL, strict=False) for t in group]
    return [templates[(i + offset) % len(templates)].format(THINGS[(i + offset) % len(THINGS)]) for i in range(n)]


def labelled_file(path: Path) -> Path:
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["text", "label"])
        for thing in THINGS:  # 12 things x 14 templates: 168 labelled rows
            for template in POSITIVE:
                writer.writerow([template.format(thing), "positive"])
            for template in NEGATIVE:
                writer.writerow([template.format(thing), "negative"])
            for template in NEUTRAL:
                writer.writerow([template.format(thing), "neutral"])
    return path


def main(out: Path) -> None:
    work = Path(tempfile.mkdtemp())
    data = work / "data"
    reference = labelled_file(work / "reference.csv")
    settings = Settings(
        data_dir=data,
        model="embedded",
        log_text=True,
        reference_dataset=str(reference),
        reference_split="train",  # 117 rows: the estimator needs 50 labelled ones
        drift_window=20,
        drift_min_window=10,
        reference_production_rows=20,
    )
    service = SentimentService(settings)
    service.start()
    assert service.wait_ready(300), "the embedded model did not load"
    first = service.predict_each(texts(30, 0))
    service.monitoring.check_drift()  # pins the automatic reference (20 rows) and fits the estimation reference
    service.monitoring.reset_reference()
    second = service.predict_each(texts(30, 7))
    service.monitoring.pin_reference(20)
    service.monitoring.check_drift()
    ids = [p.prediction_id for p in first + second]
    fb = service.feedback
    fb.give(ids[0], "positive", "198.51.100.1", text="loved it")
    fb.give(ids[0], "negative", "198.51.100.2")  # a conflict: a second label for one prediction
    fb.give(ids[0], "positive", "198.51.100.3")  # an identical repeat: still one row
    for i, label in zip(range(1, 9), ["negative", "neutral", "positive"] * 3, strict=False):
        fb.give(ids[i], label, f"198.51.100.{10 + i}")
    rows = fb.store.rows().sort_values("id")
    fb.review([int(rows["id"].iloc[1])], "accepted")
    fb.review([int(rows["id"].iloc[2])], "dropped")
    service.evaluation.evaluate("embedded", "", "test", None, 0, uploaded=reference, source="cli")
    service.stop()

    target = out / "legacy_data_dir"
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    for name in ("predictions.sqlite", "feedback.sqlite", "evaluations.sqlite", "drift_history.sqlite"):
        with sqlite3.connect(data / name) as conn:  # one self-contained file each (no -wal beside it)
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        shutil.copy2(data / name, target / name)
    shutil.copytree(data / "reference", target / "reference")
    _v1_feedback(out / "legacy_feedback_v1.sqlite", ids)
    shutil.rmtree(work)


def _v1_feedback(path: Path, ids: list[str]) -> None:
    """The previous feedback version's file: one row per (prediction, label, session), as its tests built it."""
    path.unlink(missing_ok=True)
    rows = [  # id, prediction, label, source, session, reviewed, created_at, reviewed_at, text
        (1, ids[0], "positive", "visitor", "s1", "unreviewed", 10.0, None, None),
        (2, ids[0], "positive", "visitor", "s2", "accepted", 11.0, 50.0, "great"),
        (3, ids[0], "positive", "visitor", "s3", "unreviewed", 12.0, None, "also great"),
        (4, ids[0], "negative", "visitor", "s4", "unreviewed", 13.0, None, None),
        (5, ids[1], "neutral", "visitor", "s1", "dropped", 14.0, 40.0, None),
        (6, ids[1], "neutral", "visitor", "s5", "accepted", 15.0, 60.0, None),
        (7, ids[2], "negative", "visitor", "s6", "unreviewed", 16.0, None, None),
        (8, ids[2], "negative", "visitor", "s7", "unreviewed", 17.0, None, None),
    ]
    with sqlite3.connect(path) as conn:
        conn.executescript(V1_SCHEMA)
        conn.executemany("INSERT INTO feedback VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    conn.close()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
