"""Validators on batched Gradio events, as Gradio documents them.

Gradio runs an event's ``validator=`` when a call is submitted, before the call joins the queue, and answers an
invalid one at once (HTTP 422; ``gradio_client`` raises ``ValidationError``; the page marks the input). On a
``batch=True`` event, Gradio 6.31.0 hands its queue the validator's result as a tuple, and the queue reads only lists
or dicts: every call passes, whatever the validator said. ``/predict`` (``sentiment.web.ui.predict``) relies on its
validator to keep a text that cannot be scored out of a batch, because a batch succeeds or fails as a whole.

``install()`` reads that tuple as the list it is. It patches ``gradio.queueing`` and so applies only to the Gradio
release it was written and tested against; on any other it logs a warning and returns False, and ``/predict`` then
runs unbatched (slower, never wrong). ``tests/integration/test_predict_batching.py`` checks it.
"""

from __future__ import annotations

import logging
from typing import Any

import gradio
from gradio import queueing

logger = logging.getLogger(__name__)

TESTED_GRADIO = "6.31.0"
_READ_LISTS_ONLY = queueing.process_validation_response  # Gradio's own


def _read_tuples_too(validation_response: Any, fn: Any = None) -> Any:
    if isinstance(validation_response, tuple):  # a batched validator's result for the one call being submitted
        validation_response = list(validation_response)
    return _READ_LISTS_ONLY(validation_response, fn)


def install() -> bool:
    """Make validators of batched events work (idempotent); False, with a warning, on an untested Gradio release."""
    if queueing.process_validation_response is _read_tuples_too:
        return True
    if gradio.__version__ != TESTED_GRADIO:
        logger.warning(
            "gradio %s is not %s: validators of batched events may not run there; /predict answers one call at a time",
            gradio.__version__,
            TESTED_GRADIO,
        )
        return False
    queueing.process_validation_response = _read_tuples_too
    return True
