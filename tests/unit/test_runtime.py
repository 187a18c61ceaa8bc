"""Process-level tuning (sentiment/runtime.py)."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import sys

import pytest

from sentiment.runtime import skip_absent_matplotlib


def test_an_absent_matplotlib_is_refused_without_searching_the_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """Gradio tries ``import matplotlib`` twice per event; where it is not installed that must not cost a search of
    every sys.path entry each time."""
    if importlib.util.find_spec("matplotlib") is not None:
        pytest.skip("matplotlib is installed here: nothing to skip")
    searches: list[str] = []
    original = importlib.machinery.PathFinder.find_spec

    def counting(name: str, *args: object, **kwargs: object) -> object:
        searches.append(name)
        return original(name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.delitem(sys.modules, "matplotlib", raising=False)
    assert skip_absent_matplotlib()
    monkeypatch.setattr(importlib.machinery.PathFinder, "find_spec", staticmethod(counting))
    for _ in range(3):
        with pytest.raises(ModuleNotFoundError):
            import matplotlib  # noqa: F401
    assert "matplotlib" not in searches
    monkeypatch.delitem(sys.modules, "matplotlib")
