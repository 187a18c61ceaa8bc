"""Process-wide set-up, done once by entry points (``app.py``, ``python -m sentiment``, ``python -m finetune``, the
benchmarks): never at import and never inside ``create_app``, so importing the package or building an app in a test
changes nothing global.

``configure_process(settings)`` is the one place. Each step is idempotent and callable alone, and the library does
not depend on it for correctness: ``codec_for`` registers the decode handler it names, ``records`` raises the csv
field limit to the file it reads. What the set-up adds is torch's thread count, the metrics' exposition format, and for
the app's server the GIL switch interval, lazy Gradio sessions and no per-event matplotlib search.

Logging stays apart (``sentiment.logs.configure_logging``, also called by entry points only): each entry point picks
its own level (the server INFO, the CLI WARNING, fine-tuning INFO) and some configure it before they have settings.

Memory of a long-running server: in bf16 the CPU kernels are generated and kept per input shape, so passes are
padded to multiples of 16 (``sentiment/models/packing.py``), which keeps memory flat, and oneDNN's primitive cache is
left at its default size (a smaller one rebuilds primitives all the time): measured in
benchmarks/README.md#widths-in-multiples-of-16.
"""

from __future__ import annotations

import csv
import logging
import sys

import prometheus_client

from sentiment.settings import Settings
from sentiment.tables.encoding import register_codec_handlers
from sentiment.tables.reading import allow_csv_fields

logger = logging.getLogger(__name__)


def configure_process(settings: Settings, *, web: bool = False) -> None:
    """Apply every process-wide setting of ``settings`` (idempotent: twice is once).

    ``web=True`` adds what only the app's server needs (the GIL switch interval for its event loop beside the model
    thread, lazy Gradio sessions, the matplotlib marker); the CLIs and benchmarks leave the GIL and Gradio alone.
    """
    if settings.torch_threads:
        import torch  # here, not at import: a process that never sets threads need not load torch for it

        torch.set_num_threads(settings.torch_threads)
    allow_csv_fields(settings.max_upload_bytes)  # a field of an accepted upload is never a rejected row
    register_codec_handlers()
    # No *_created series: they double the series count and no panel reads them.
    prometheus_client.disable_created_metrics()
    if web:
        from sentiment.web import gradio_sessions

        share_the_gil_quickly(settings.gil_switch_interval_ms)  # the model thread and the event loop share the GIL

        gradio_sessions.install()  # API calls must not pay for a full UI config each
        skip_absent_matplotlib()  # nor for a failed import
    logger.debug("process configured (csv field limit %d)", csv.field_size_limit())


def share_the_gil_quickly(interval_ms: float) -> None:
    """Hand the GIL over every ``interval_ms`` instead of Python's 5 ms.

    The model runs on its own thread, beside the event loop that serves HTTP. Each torch call gives the GIL away
    and must take it back; when the event loop is busy, a waiting thread only gets it after the switch interval, which
    slows every forward pass under concurrent clients (measured in benchmarks/README.md#hand-the-gil-over-quickly).
    Pure-Python threads pay a few microseconds per extra switch.
    """
    sys.setswitchinterval(interval_ms / 1000)


def skip_absent_matplotlib() -> bool:
    """Make Gradio's per-event ``import matplotlib`` fail at once when matplotlib is not installed.

    Gradio wraps every event in a context manager that tries ``import matplotlib`` twice (to switch its backend). A
    module that is absent is never cached as absent, so each event searched every ``sys.path`` entry again (measured
    in benchmarks/README.md#mark-an-absent-matplotlib-as-absent). ``sys.modules[name] = None`` is Python's documented
    way to say "not importable": the import raises ``ModuleNotFoundError`` at once, which Gradio already handles.
    Nothing changes where matplotlib is installed. Returns True when the marker was set.
    """
    import importlib.util

    if "matplotlib" in sys.modules or importlib.util.find_spec("matplotlib") is not None:
        return False
    sys.modules["matplotlib"] = None  # type: ignore[assignment]
    return True
