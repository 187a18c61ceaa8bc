"""Memory of a long-running server: handing freed heap pages back to the OS after a large job.

How it grew: in bf16 the CPU kernels are generated and kept per input shape, and a server used
to grow by hundreds of MB over varied traffic (+961 MB over 300 varied batches of the embedded model). An earlier
fix bounded oneDNN's primitive cache to 8 entries (+535 MB); the cause was the number of distinct widths, and
passes are now padded to multiples of 16 (``sentiment/models/packing.py``), which keeps memory flat. The cache is
left at oneDNN's default again: at 8 it rebuilt primitives all the time and CSV scoring in the app ran at 59-78% of
the bare predictor's rate against 90-98% at the default, for ~30 MB more. Also tried and not used: making glibc return
freed buffers at once (mallopt mmap/trim thresholds) saved ~200 MB but cost 30-40% of the throughput on large batches.
"""

from __future__ import annotations

import functools
from collections.abc import Callable


def release_free_memory() -> bool:
    """Hand the heap's free pages back to the OS (glibc ``malloc_trim``); False where there is no glibc.

    A large job (a CSV of thousands of rows) leaves hundreds of MB of freed activation and parsing buffers inside
    the heap, which glibc keeps: resident memory stays at the job's peak. Trimming once after such a job costs a few
    milliseconds; doing it per allocation (mallopt thresholds) cost 30-40% of the throughput (see above).
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
