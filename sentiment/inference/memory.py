"""Memory of a long-running server: handing freed heap pages back to the OS after a large job.

Why memory stays flat otherwise (widths padded to multiples of 16, oneDNN's cache at its default) and what was tried:
benchmarks/README.md#widths-in-multiples-of-16 and #trim-the-heap-after-large-jobs-not-per-allocation.
"""

from __future__ import annotations

import functools
from collections.abc import Callable


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
