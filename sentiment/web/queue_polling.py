"""How often Gradio's queue wakes up when it has nothing to do.

Gradio's queue (``gradio/queueing.py``, ``Queue.start_processing``) polls for new events every ``sleep_when_free``
seconds, 1 ms on Linux, and for progress to send every ``progress_update_sleep_when_free``, 10 ms: 1,100 wake-ups a
second that cost an idle app about 6% of a core (measured with ``strace -c``: 1,600 ``epoll_pwait`` calls a second).
On a Space that CPU is the whole machine's, shared with the model. Polling every ``SENTIMENT_QUEUE_POLL_S`` (5 ms)
and sending progress ten times a second (Gradio's own rate on Windows) took the idle app to 2% of a core; an event
then waits at most 5 ms more before it starts. The inference API (``POST /predict``) does not use this queue.
"""

from __future__ import annotations

import logging

import gradio as gr

logger = logging.getLogger(__name__)
PROGRESS_POLL_S = 0.1
ATTRIBUTES = ("sleep_when_free", "progress_update_sleep_when_free")


def set_queue_polling(demo: gr.Blocks, poll_s: float) -> bool:
    """Make ``demo``'s queue poll every ``poll_s`` seconds and send progress every ``PROGRESS_POLL_S``. Call it
    after ``demo.queue()``, which builds a new queue with Gradio's intervals. Returns False, with a warning and
    Gradio's own intervals left, when this Gradio's queue has no such attributes
    (``tests/integration/test_queue_polling.py`` fails first on an upgrade that drops them)."""
    queue = getattr(demo, "_queue", None)
    if queue is None or not all(hasattr(queue, name) for name in ATTRIBUTES):
        logger.warning("this Gradio's queue has no polling intervals to set; it keeps its own (1 ms when idle)")
        return False
    queue.sleep_when_free = poll_s
    queue.progress_update_sleep_when_free = max(poll_s, PROGRESS_POLL_S)
    return True
