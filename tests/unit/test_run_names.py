"""Fine-tuning runs are served and named by their run name, and never by a name the registry means otherwise."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sentiment.models.registry import local_name
from sentiment.models.runs import run_path, runs_dir
from sentiment.models.spec import NAMED_MODELS
from sentiment.settings import Settings


def _run(data_dir: Path, name: str) -> Path:
    folder = runs_dir(data_dir) / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "adapter_config.json").write_text("{}")
    return folder


@given(st.sampled_from(NAMED_MODELS), st.lists(st.booleans(), min_size=8, max_size=8))
def test_a_run_named_like_a_registry_model_is_never_that_name(
    tmp_path_factory: pytest.TempPathFactory, named: str, upper: list[bool]
) -> None:
    """A run folder called ``embedded``, ``VADER``, ``Auto``... (any case) is not servable by that name, which
    always means the registry's model, and, configured by its path, is named by its path: its predictions, reviews
    and metrics never mix with the registry model's."""
    data_dir = tmp_path_factory.mktemp("data")
    name = "".join(c.upper() if u else c for c, u in zip(named, upper, strict=False))
    folder = _run(data_dir, name)
    assert run_path(data_dir, name) is None
    assert local_name(folder, Settings(data_dir=data_dir)) == str(folder)


def test_a_run_is_named_by_its_run_name_and_other_folders_by_their_path(tmp_path: Path) -> None:
    """Inside ``<data_dir>/runs``: the folder's name (servable by it); elsewhere, the path the owner configured."""
    data_dir = tmp_path / "data"
    run = _run(data_dir, "20261207-120000-retrain-abc123")
    elsewhere = tmp_path / "models" / "mine"
    elsewhere.mkdir(parents=True)
    settings = Settings(data_dir=data_dir)
    assert run_path(data_dir, run.name) == run and local_name(run, settings) == run.name
    assert local_name(elsewhere, settings) == str(elsewhere)
    assert run_path(data_dir, "../models/mine") is None
