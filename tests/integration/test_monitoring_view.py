"""What the Monitoring tab's charts count: the predictions the last drift check compared, not the newest rows.

The issue's tab titled its label mix "last drift window" while counting about 500 rows where the last check had
used 194 (more traffic had arrived since). A real service with the tiny model and a real SQLite log: a check on a
short window, more traffic after it, and the overview still counts the check's own rows and says how many.
"""

from __future__ import annotations

from pathlib import Path

from sentiment.settings import Settings
from tiny_models import started_service


def test_the_label_mix_and_confidence_count_the_checks_own_window_after_more_traffic(
    tiny_model_dir: Path, settings: Settings
) -> None:
    texts = [f"text number {i}, {'great' if i % 3 else 'awful'} day" for i in range(80)]
    with started_service(
        tiny_model_dir, settings, drift_window=500, drift_min_window=10, reference_production_rows=0
    ) as service:
        monitoring = service.monitoring
        empty = monitoring.overview()
        assert empty.window == "no predictions yet" and empty.labels.empty
        service.predict_many(texts[:30])
        before = monitoring.overview()
        assert before.window == "the newest 30 predictions (no drift check yet)"
        report = monitoring.check_drift()
        assert report.window_size == 30
        service.predict_many(texts[30:])  # 50 more after the check: the newest window is now 80
        after = monitoring.overview()
        assert after.window == "the last drift check's 30 predictions"
        assert int(after.labels["count"].sum()) == 30 == report.window_size
        current = after.confidence[after.confidence["sample"] == "current"]
        assert abs(current["share"].sum() - 1.0) < 1e-9  # shares of the same 30 rows
        assert monitoring.log is not None and len(monitoring.log.window(last=500)) == 80
