"""Cheap per-session state in Gradio, so that REST API calls cost the model and little else.

Gradio gives every API call without a ``session_hash`` (``POST /gradio_api/call/<api>``, curl, most scripts) a new
session, and builds each new session's full UI config at once: every component's ``get_config()`` through
``inspect.signature``, kept for Gradio's deep links. With this app's blocks that was the largest single cost of a
prediction request after the model, in CPU and in memory held by the session store (measured in
benchmarks/README.md#build-gradio-session-config-lazily).

``install()`` makes that config lazy: a session computes a component's config only when something reads it (a deep
link, or Gradio updating that component), which yields exactly the configs the eager version holds. It patches
``gradio.state_holder.SessionState`` and so applies only to the Gradio release it was written and tested against; on
any other it logs a warning and leaves Gradio as it is (slower, never wrong).
``tests/integration/test_gradio_sessions.py`` checks both the equivalence and the cost.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from copy import copy
from typing import Any

import gradio
from gradio.state_holder import SessionState

logger = logging.getLogger(__name__)

TESTED_GRADIO = "6.31.0"
EAGER_INIT = SessionState.__init__  # Gradio's own, kept for the equivalence test
_INSTALLED = False


def _lazy_init(self: Any, blocks: Any) -> None:
    # Gradio 6.31.0's SessionState.__init__, less the eager ``config_values`` comprehension.
    self.blocks_config = copy(blocks.default_config)
    self._config_ids = frozenset(blocks.blocks)  # the blocks whose config a deep link covers
    self.config_values = {}
    self.state_data = {}
    self._state_ttl = {}
    self.is_closed = False
    self.STATE_TTL_WHEN_CLOSED = 1 if os.getenv("GRADIO_IS_E2E_TEST", None) else 3600


def _lazy_components(self: Any) -> Iterator[dict[str, Any]]:
    blocks = self.blocks_config.blocks
    lazy_ids: frozenset[int] = getattr(self, "_config_ids", frozenset())  # empty for a session built eagerly
    for key in [k for k in blocks if k in lazy_ids and k not in self.config_values]:
        self.config_values[key] = self.blocks_config.config_for_block(key, [], blocks[key])
    for config in self.config_values.values():
        if config:
            yield config


def install() -> bool:
    """Make Gradio session configs lazy (idempotent); False, with a warning, on an untested Gradio release."""
    global _INSTALLED
    if _INSTALLED:
        return True
    if gradio.__version__ != TESTED_GRADIO:
        logger.warning(
            "gradio %s is not %s: leaving its per-session config eager (each API call costs more CPU and memory)",
            gradio.__version__,
            TESTED_GRADIO,
        )
        return False
    SessionState.__init__ = _lazy_init  # type: ignore[method-assign]
    SessionState.components = property(_lazy_components)  # type: ignore[method-assign,assignment]
    _INSTALLED = True
    return True
