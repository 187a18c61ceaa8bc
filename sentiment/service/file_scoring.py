"""Scoring uploaded files for the service: a part of ``SentimentService`` kept in its own module (one concern per
file); it scores through the service's own ``_score``, so files share the model, the metrics and the log."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sentiment.errors import BatchInputError
from sentiment.inference.memory import release_free_memory
from sentiment.results import BatchResult
from sentiment.service.files import JobFolders
from sentiment.service.metrics import ServiceMetrics
from sentiment.settings import Settings
from sentiment.tables.reading import TableFormat, guess_text_column, sniff
from sentiment.tables.scoring import ProgressFn, score_file
from sentiment.tables.summary import ScoreSummary

logger = logging.getLogger("sentiment.service.serving")  # the service's log, as before the split


@dataclass(frozen=True)
class ScoredFile:
    path: Path
    summary: ScoreSummary


class FileScoring:
    """Inspecting and scoring uploaded files, and cleaning their job folders; mixed into ``SentimentService``."""

    settings: Settings
    metrics: ServiceMetrics
    files: JobFolders

    def _score(self, endpoint: str, texts: Sequence[object]) -> BatchResult:
        raise NotImplementedError  # SentimentService._score

    def inspect_file(self, path: Path) -> tuple[TableFormat, str | None]:
        """Columns of an uploaded file and the one that obviously holds the text (``None`` if unclear)."""
        try:
            fmt = sniff(path, self.settings.max_upload_bytes)
        except BatchInputError as exc:
            self._refused_file(exc)
            raise
        return fmt, guess_text_column(fmt.columns)

    def score_file(self, path: Path, text_column: str | None = None, progress: ProgressFn | None = None) -> ScoredFile:
        """Score an uploaded file into ``<name>_scored.csv`` (``.tsv`` when tab-separated) in a fresh job folder under
        the data folder."""
        job_dir = self.files.new()
        try:
            out_path = job_dir / sniff(path, self.settings.max_upload_bytes).scored_name(path)
            summary = score_file(
                path,
                out_path,
                lambda texts: self._score("score_csv", texts),
                text_column,
                chunk_rows=self.settings.csv_chunk_rows,
                max_bytes=self.settings.max_upload_bytes,
                progress=progress,
            )
        except BatchInputError as exc:
            shutil.rmtree(job_dir, ignore_errors=True)
            self._refused_file(exc)
            raise
        except BaseException:
            shutil.rmtree(job_dir, ignore_errors=True)
            raise
        finally:
            self.files.done(job_dir)  # renaming the result into place made the folder's time "now"
            release_free_memory()  # the job's buffers are free: give the pages back rather than keep its peak
        return ScoredFile(out_path, summary)

    def _refused_file(self, exc: BatchInputError) -> None:
        """An expected refusal (the caller gets the message): counted, and one log line, no traceback."""
        reason = exc.reason or "bad_file"  # the precise subclass says which (FileTooLargeError: file_too_large)
        self.metrics.error(reason)
        logger.info("refused a file (%s): %s", reason, exc)

    def clean_interrupted_jobs(self) -> int:
        """Remove what a killed process left mid-job (``*.partial`` files); see ``JobFolders.clean_interrupted``."""
        return self.files.clean_interrupted()

    def sweep_scored_files(self) -> int:
        """Delete job folders older than ``batch_retention_s``; see ``JobFolders.sweep``."""
        return self.files.sweep()
