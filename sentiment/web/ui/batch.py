"""The Batch (CSV) tab: upload a file, see what was read (columns, separator, encoding), score it, download it.

API endpoints: ``/inspect_csv`` returns the guessed text column and the note as plain values (the page's own upload
event, which also fills the column choices, is private); ``/score_csv`` scores a file, guessing the text column when
none is given.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gradio as gr
import pandas as pd

from sentiment.errors import BatchInputError
from sentiment.labels import LABELS
from sentiment.service.serving import SentimentService
from sentiment.tables.encoding import MIXED
from sentiment.tables.reading import TableFormat
from sentiment.tables.summary import label_counts_frame
from sentiment.web.ui.api import PRIVATE

SEPARATORS = {"\t": "tab", ",": "comma", ";": "semicolon", "|": "pipe"}


def encoding_name(fmt: TableFormat) -> str:
    """The encoding as a person names it ("utf-8-sig" is only how Python reads UTF-8 with or without a BOM)."""
    if fmt.encoding in {"utf-8", "utf-8-sig"}:
        return "UTF-8 with BOM" if fmt.bom else "UTF-8"
    names = {"utf-16": "UTF-16", "latin-1": "Latin-1", MIXED: "UTF-8 and Latin-1 mixed"}
    return names.get(fmt.encoding, fmt.encoding)


def file_note(fmt: TableFormat, guess: str | None) -> str:
    """What was read from a file, in words: "3 columns, comma-separated, UTF-8"."""
    if not fmt.header:
        return f"plain text, one text per line, {encoding_name(fmt)}"
    if len(fmt.columns) == 1:  # nothing is separated: naming a separator would be a guess the reader never made
        return f"1 column, {encoding_name(fmt)}" + ("" if guess else "; choose the text column")
    sep = SEPARATORS.get(fmt.delimiter, repr(fmt.delimiter))
    return f"{len(fmt.columns)} columns, {sep}-separated, {encoding_name(fmt)}" + (
        "" if guess else "; choose the text column"
    )


def batch_tab(service: SentimentService, wrap: Any) -> None:
    """Build the tab inside the current Blocks; ``wrap`` turns domain errors into ``gr.Error``."""

    def _inspect(file: str | None) -> tuple[TableFormat | None, str | None]:
        if not file:
            return None, None
        return service.inspect_file(Path(file))

    @wrap
    def inspect_csv(file: str | None) -> tuple[str | None, str]:
        fmt, guess = _inspect(file)
        return guess, file_note(fmt, guess) if fmt else ""

    @wrap
    def show_columns(file: str | None) -> tuple[dict[str, Any], str]:
        fmt, guess = _inspect(file)
        if fmt is None:
            return gr.update(choices=[], value=None), ""
        return gr.update(choices=fmt.columns, value=guess), file_note(fmt, guess)

    @wrap
    def score_csv(
        file: str | None,
        text_column: str | None = None,
        progress: gr.Progress = gr.Progress(),  # noqa: B008 (Gradio injects it)
    ) -> tuple[str, dict[str, Any], pd.DataFrame]:
        if not file:
            raise BatchInputError("no file: upload a CSV, TSV or text file first")
        if not Path(file).exists():
            raise BatchInputError(
                "the uploaded file has expired (uploads are kept for a limited time): upload it again"
            )
        progress(0, desc="reading")
        scored = service.score_file(Path(file), text_column or None, progress=lambda f, d: progress(f, desc=d))
        return str(scored.path), scored.summary.as_dict(), label_counts_frame(scored.summary)

    with gr.Tab("Batch (CSV)"):
        gr.Markdown(
            "Upload a CSV, TSV or text file (one text per line). The result is the same file with `label`, "
            "`score_negative/neutral/positive` and `error` columns added (renamed `predicted_...` if your file "
            f"already has such a column). Limit: {service.settings.max_upload_mb:g} MB."
        )
        with gr.Row():
            with gr.Column():
                # No ``file_types``: Gradio would refuse by extension before the service reads the content (a
                # table saved as .dat or without a name, uncounted, with a traceback); the reader decides.
                upload = gr.File(label="File", elem_id="csv-upload")
                column = gr.Dropdown(label="Text column", choices=[], allow_custom_value=True, elem_id="csv-column")
                note = gr.Markdown(label="What was read", elem_id="csv-note")
                score_btn = gr.Button("Score file", variant="primary", elem_id="score-button")
                inspect_api = gr.Button(visible=False)  # the trigger of the /inspect_csv endpoint: API only
            with gr.Column():
                result_file = gr.File(label="Scored file", elem_id="csv-result")
                summary = gr.JSON(label="Summary")
                chart = gr.BarPlot(x="label", y="count", label="Predicted classes", sort=list(LABELS), y_lim=[0, None])

    upload.change(show_columns, upload, [column, note], api_visibility=PRIVATE, show_progress_on=column)
    inspect_api.click(
        inspect_csv,
        upload,
        [column, note],
        api_name="inspect_csv",
        api_description="The guessed text column of a file (None when unclear) and what was read from it.",
    )
    score_btn.click(
        score_csv,
        [upload, column],
        [result_file, summary, chart],
        api_name="score_csv",
        api_description="Score a CSV/TSV/text file (text column guessed when not given); returns the scored file, "
        "a summary and the label counts.",
        show_progress_on=result_file,
    )
