"""Logging set-up for entry points only (app, CLIs); library modules just use ``logging.getLogger(__name__)``."""

from __future__ import annotations

import logging
import os
import sys


def configure_logging(level: str | int = "INFO") -> None:
    """One format for the process; quiet the progress bars and load reports that libraries print to stderr."""
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # APScheduler narrates every job it adds and starts at INFO, Alembic every migration step; the app logs its own
    # one-line schedule and "the store ... is at schema revision N" instead. At DEBUG everything shows.
    if logging.getLogger().getEffectiveLevel() > logging.DEBUG:
        logging.getLogger("apscheduler").setLevel(logging.WARNING)
        logging.getLogger("alembic").setLevel(logging.WARNING)
    # Through the environment, read when those libraries are imported: importing transformers here to set its level
    # would cost every entry point a second of CPU, and most (the lexicon app, most commands) never use it.
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    if "huggingface_hub" in sys.modules:  # imported already (Gradio imports it): it read the environment then
        from huggingface_hub.utils import disable_progress_bars

        disable_progress_bars()
    if "transformers" in sys.modules:
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
