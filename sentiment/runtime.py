"""Process-level tuning for a long-running server on a small CPU machine; called once by entry points.

Memory of a long-running server: in bf16 the CPU kernels are generated and kept per input shape, so passes are
padded to multiples of 16 (``sentiment/models/packing.py``), which keeps memory flat, and oneDNN's primitive cache is
left at its default size (a smaller one rebuilds primitives all the time): measured in
benchmarks/README.md#widths-in-multiples-of-16.
"""

from __future__ import annotations

import functools
from collections.abc import Callable


def share_the_gil_quickly(interval_ms: float) -> None:
    """Hand the GIL over every ``interval_ms`` instead of Python's 5 ms.

    The model runs on its own thread, beside the event loop that serves HTTP. Each torch call gives the GIL away
    and must take it back; when the event loop is busy, a waiting thread only gets it after the switch interval, which
    slows every forward pass under concurrent clients (measured in benchmarks/README.md#hand-the-gil-over-quickly).
    Pure-Python threads pay a few microseconds per extra switch.
    """
    import sys

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
    import sys

    if "matplotlib" in sys.modules or importlib.util.find_spec("matplotlib") is not None:
        return False
    sys.modules["matplotlib"] = None  # type: ignore[assignment]
    return True


def release_free_memory() -> bool:
    """Hand the heap's free pages back to the OS (glibc ``malloc_trim``); False where there is no glibc.

    A large job (a CSV of thousands of rows) leaves hundreds of MB of freed activation and parsing buffers inside
    the heap, which glibc keeps: resident memory stays at the job's peak. Trimming once after such a job costs a few
    milliseconds; doing it per allocation (mallopt thresholds) costs throughput on large batches (measured in
    benchmarks/README.md#trim-the-heap-after-large-jobs-not-per-allocation).
    """
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim``, looked up once (``find_library`` runs ``ldconfig`` in a subprocess)."""
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    if not name:
        return None
    try:
        return ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):
        return None
