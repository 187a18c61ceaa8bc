"""Process-wide set-up (sentiment/runtime.py): only entry points change the process, and the library works without."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sentiment.runtime import skip_absent_matplotlib
from sentiment.settings import Settings


def test_an_absent_matplotlib_is_refused_without_searching_the_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """Gradio tries ``import matplotlib`` twice per event; where it is not installed that must not cost a search of
    every sys.path entry each time. (The test environment has matplotlib, a dependency of quapy; the Space's has not:
    the test makes it absent for ``find_spec``, as on the Space.)"""
    real_find_spec = importlib.util.find_spec

    def absent(name: str, *args: object, **kwargs: object) -> object:
        return None if name == "matplotlib" else real_find_spec(name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(importlib.util, "find_spec", absent)
    searches: list[str] = []
    original = importlib.machinery.PathFinder.find_spec

    def counting(name: str, *args: object, **kwargs: object) -> object:
        searches.append(name)
        return original(name, *args, **kwargs)  # type: ignore[arg-type]

    # setitem records what sys.modules held (a module, or nothing) and puts it back after the test: the marker
    # skip_absent_matplotlib sets must not outlive the test
    monkeypatch.setitem(sys.modules, "matplotlib", sys.modules.get("matplotlib"))
    del sys.modules["matplotlib"]
    assert skip_absent_matplotlib()
    monkeypatch.setattr(importlib.machinery.PathFinder, "find_spec", staticmethod(counting))
    for _ in range(3):
        with pytest.raises(ModuleNotFoundError):
            import matplotlib  # noqa: F401
    assert "matplotlib" not in searches


# --- configure_process: the one process-wide set-up ----------------------------------------------------------------
REPO = Path(__file__).resolve().parents[2]

_PROBE = """
import codecs, csv, json, sys
from pathlib import Path

import prometheus_client.metrics
import torch
from gradio.state_holder import SessionState


def state() -> dict:
    from sentiment.web import gradio_sessions

    try:
        codecs.lookup_error("sentiment-utf8-else-cp1252")
        handler = True
    except LookupError:
        handler = False
    return {
        "switch_interval": sys.getswitchinterval(),
        "torch_threads": torch.get_num_threads(),
        "csv_field_limit": csv.field_size_limit(),
        "gradio_sessions_patched": SessionState.__init__ is not gradio_sessions.EAGER_INIT,
        "prometheus_created": prometheus_client.metrics._use_created,
        "matplotlib_marked": "matplotlib" in sys.modules and sys.modules["matplotlib"] is None,
        "codec_handler": handler,
    }


before = state()
import app
import sentiment.service.serving
import sentiment.web.ui.blocks
from prometheus_client import CollectorRegistry

from sentiment.service.metrics import ServiceMetrics
from sentiment.settings import Settings

threads = 1 if torch.get_num_threads() != 1 else 2
settings = Settings(data_dir=Path(sys.argv[1]), model="vader", scheduler_enabled=False, torch_threads=threads)
app.create_app(settings, sentiment.service.serving.SentimentService(settings, ServiceMetrics(CollectorRegistry())))
built = state()

from sentiment.runtime import configure_process

configure_process(settings)
plain = state()
configure_process(settings, web=True)
once = state()
configure_process(settings, web=True)
twice = state()
print(json.dumps({"before": before, "built": built, "plain": plain, "once": once, "twice": twice, "threads": threads}))
"""


def _run_fresh(code: str, *args: str) -> str:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False"}
    env.pop("SENTIMENT_TORCH_THREADS", None)
    done = subprocess.run(
        [sys.executable, "-c", code, *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_building_an_app_changes_nothing_process_wide_and_configure_process_does(tmp_path: Path) -> None:
    """Importing the app and building one (as tests do) must leave the process as it was; only the entry point's
    ``configure_process`` changes it (the server's part only with ``web=True``), and a second call changes nothing
    more."""
    seen = json.loads(_run_fresh(_PROBE, str(tmp_path)).strip().splitlines()[-1])
    before, built, plain, once, twice = (seen[k] for k in ("before", "built", "plain", "once", "twice"))
    assert built == before
    server_only = ("switch_interval", "gradio_sessions_patched", "matplotlib_marked")
    assert all(plain[k] == before[k] for k in server_only)  # a CLI leaves the GIL and Gradio alone
    assert all(plain[k] == once[k] for k in plain if k not in server_only)
    assert before["prometheus_created"] and not before["gradio_sessions_patched"] and not before["codec_handler"]
    assert once["switch_interval"] == pytest.approx(Settings().gil_switch_interval_ms / 1000)
    assert once["torch_threads"] == seen["threads"] != before["torch_threads"]
    assert once["csv_field_limit"] >= Settings().max_upload_bytes > before["csv_field_limit"]
    assert once["gradio_sessions_patched"] and not once["prometheus_created"] and once["codec_handler"]
    assert once["matplotlib_marked"] == (importlib.util.find_spec("matplotlib") is None)
    assert twice == once


_READ_MIXED = """
import codecs, csv, json, sys
from pathlib import Path

from sentiment.tables.reading import read_table

table = read_table(Path(sys.argv[1]))
print(json.dumps({"texts": table["text"].tolist(), "limit": csv.field_size_limit()}))
"""


def test_a_library_user_reads_mixed_encodings_and_long_cells_without_configure_process(tmp_path: Path) -> None:
    """The decode handler of mixed UTF-8/Latin-1 files and the csv field limit are process-wide, but the reader must
    not depend on an entry point having set them: a fresh process that only reads a file gets every row right."""
    long_cell = "long " * 40_000  # 200,000 characters: over csv's default field limit of 131,072
    path = tmp_path / "mixed.csv"
    path.write_bytes(
        b"text,id\n" + "café au lait,1\n".encode() + "crème brûlée,2\n".encode("latin-1") + f"{long_cell},3\n".encode()
    )
    seen = json.loads(_run_fresh(_READ_MIXED, str(path)).strip().splitlines()[-1])
    assert seen["texts"] == ["café au lait", "crème brûlée", long_cell]
