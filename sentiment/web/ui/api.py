"""Helpers that keep the public Gradio API deliberate: every listed endpoint has a name, a description and labelled
returns; everything the page needs for itself (loading a tab, refreshing after a job) stays private.

``view_api()`` names a return after its component's label (``value_24`` when there is none) and names the returns of
``gr.api`` endpoints "1st", "2nd", ...: ``api_endpoint`` gives those real names.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import gradio as gr
from gradio.context import get_blocks_context

PRIVATE = "private"


def api_endpoint(fn: Callable[..., Any], name: str, description: str, returns: Sequence[str], **kwargs: Any) -> None:
    """``gr.api`` with the returns labelled ``returns`` (one label per returned value, in order).

    Gradio counts the returned values from the return annotation; in a module with ``from __future__ import
    annotations`` that annotation is a string and a tuple counts as one value: the count check catches it."""
    dependency = gr.api(fn, api_name=name, api_description=description, **kwargs)
    blocks = get_blocks_context()
    assert blocks is not None  # gr.api above has already refused to run outside a Blocks
    outputs = dependency["outputs"]  # the Dependency is its event's config: block ids
    if len(outputs) != len(returns):
        raise ValueError(f"/{name} returns {len(outputs)} value(s) by its type hints; {len(returns)} labels given")
    for block_id, label in zip(outputs, returns, strict=True):
        block = blocks.blocks[block_id]
        assert isinstance(block, gr.components.Component)  # gr.api's outputs are gr.components.Api
        block.label = label


def on_open(tab: gr.Tab, fn: Callable[..., Any], outputs: Sequence[gr.components.Component]) -> None:
    """Fill ``outputs`` each time the tab is opened (a page event, not an API endpoint)."""
    tab.select(fn, None, list(outputs), api_visibility=PRIVATE, show_progress="hidden", show_progress_on=outputs[0])
