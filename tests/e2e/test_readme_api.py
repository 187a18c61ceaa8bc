"""Every Python block and every ``curl`` line of the README runs as printed against the app, each block on its own (a
fresh process: a block that leans on a name another block defined fails), from a fresh stand-in for the reader's clone
(``tests/readme.py``: the repository's files and a copy of ``examples/``, the files the blocks read; the test writes
none), with ``http://localhost:7860`` pointed at the running app. ``tests/integration/test_readme.py`` runs the CLI
lines.

Each block's output is checked against what the README says it shows (``EXPECTED``), so a block that runs but
answers something else fails too; a Python block ``EXPECTED`` does not know fails, so a new example is checked
deliberately."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from conftest import ADMIN_TOKEN
from gradio_client import Client
from readme import BLOCKS, Block, scratch_clone

from appserver import RunningApp
from sentiment.labels import LABELS

README_URL = "http://localhost:7860"
LABEL = "|".join(LABELS)
# A Python block, known by a line it holds -> patterns its output must match, each on some line.
EXPECTED: dict[str, tuple[str, ...]] = {
    'api_name="/score_csv"': (
        r"^text \| 3 columns, comma-separated, UTF-8$",  # /inspect_csv: the text column of examples/reviews.csv
        r"reviews_scored\.csv 12 rows scored; \{",  # /score_csv scored its 12 rows into a downloaded copy
        rf"^({LABEL}) ({LABEL}) .*embedded",  # /predict, /predict_batch's first row, /model_info
    ),
    "import httpx": (rf"^({LABEL}) 0\.\d+$", r"^\S+ \['[0-9a-f]{32}', '[0-9a-f]{32}'\]$"),
    "InferenceClient(": (rf"label='({LABEL})'",),
    'api_name="/evaluate"': (
        r"^embedded vader_tweets 0\.\d+ ",  # /evaluate on a sample of the test split
        r"^-?\d\.\d+ (True|False)$",  # /compare: the macro-F1 difference and whether it is significant
        r"^\[.*'accuracy'.*\] \['embedded'",  # /evaluate_models on examples/stars.csv
    ),
}


def _client_env() -> dict[str, str]:
    # huggingface_hub refuses every request while HF_HUB_OFFLINE (or TRANSFORMERS_OFFLINE) is 1, as the README says:
    # a client process unsets them
    return {k: v for k, v in os.environ.items() if k not in {"HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "PYTHONPATH"}}


def _run(argv: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    full_env = {**_client_env(), **(env or {})}
    done = subprocess.run(argv, cwd=cwd, env=full_env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


PYTHON_BLOCKS = [b for b in BLOCKS if b.lang == "python"]
CURL_LINES = [line for b in BLOCKS if b.shell for line in b.lines() if line.startswith("curl ")]


def _expected(block: Block) -> tuple[str, ...]:
    keys = [key for key in EXPECTED if key in block.code]
    assert len(keys) == 1, f"README line {block.line}: a Python block EXPECTED knows {keys}; say what it must print"
    return EXPECTED[keys[0]]


def test_the_extraction_finds_every_python_block_and_curl_line() -> None:
    """The extraction itself still finds what the README shows (so the tests below cannot pass on nothing), and each
    entry of ``EXPECTED`` still names a block."""
    assert len(PYTHON_BLOCKS) == len(EXPECTED), [b.line for b in PYTHON_BLOCKS]
    assert all(_expected(block) for block in PYTHON_BLOCKS)
    assert any("/predict" in line for line in CURL_LINES) and any("/monitoring" in line for line in CURL_LINES)


@pytest.mark.parametrize("block", PYTHON_BLOCKS, ids=[f"README.md:{b.line}" for b in PYTHON_BLOCKS])
def test_the_readme_python_block_runs_alone_against_the_app(
    running_app: RunningApp, block: Block, tmp_path: Path
) -> None:
    clone = scratch_clone(tmp_path / "clone")
    script = tmp_path / "example.py"
    script.write_text(block.code.replace(README_URL, running_app.url))
    out = _run([sys.executable, str(script)], clone)
    for pattern in _expected(block):
        assert re.search(pattern, out, re.M), f"README.md:{block.line} printed no line matching {pattern!r}:\n{out}"


@pytest.mark.parametrize("line", CURL_LINES)
def test_the_readme_curl_line_answers_json(running_app: RunningApp, line: str, tmp_path: Path) -> None:
    clone, env = scratch_clone(tmp_path), {}
    if "/review_sample" in line:  # the owner's lines: $TOKEN is the admin token, review id 12 and labels.csv exist
        env["TOKEN"] = ADMIN_TOKEN
        _sample_at_least(running_app, 12)
        (clone / "labels.csv").write_text("review_id,label\n1,neutral\n")
    answer = json.loads(_run(["bash", "-c", line.replace(README_URL, running_app.url)], clone, env))
    if "/review_sample" in line:
        assert "detail" not in answer, answer
        assert {"progress", "rows", "recorded"} & set(answer), answer
    elif "/monitoring" in line:
        assert {"logged", "drift", "reference_source", "label_mix", "jobs", "answer"} <= set(answer), answer
    else:
        assert {s["label"] for s in answer} == set(LABELS)


def _sample_at_least(app: RunningApp, n: int) -> None:
    """Send ``n`` predictions, then wait (for the log's writer) until the app's review sample, which takes every
    prediction in the test app, holds ``n`` rows."""
    headers = {"X-Admin-Token": ADMIN_TOKEN}
    texts = [f"readme review example {i}" for i in range(n)]
    assert httpx.post(f"{app.url}/predict", json={"inputs": texts}, timeout=120).status_code == 200
    deadline = time.monotonic() + 60
    while httpx.get(f"{app.url}/review_sample", headers=headers, timeout=60).json()["counts"]["sampled"] < n:
        assert time.monotonic() < deadline, "the review sample did not reach the rows the README's lines name"
        time.sleep(0.2)  # polling a condition (the writer thread's commit), bounded by the deadline


def test_get_monitoring_serves_what_the_gradio_endpoint_returns(running_app: RunningApp) -> None:
    """``GET /monitoring`` (curl) and the ``/monitoring`` endpoint (gradio_client) answer the same figures as strict
    JSON; before, Gradio's own ``{"detail":"Monitoring is not enabled."}`` answered the plain GET."""
    response = httpx.get(f"{running_app.url}/monitoring", timeout=60)
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    plain = json.loads(response.text, parse_constant=lambda c: pytest.fail(f"not strict JSON: {c}"))
    gradio = Client(running_app.url, verbose=False).predict(api_name="/monitoring")
    assert set(plain) == set(gradio)
    # the figures that no write in flight (the log's writer thread, a scheduled check) can change between the calls
    for key in ("reference_source", "feedback", "jobs"):
        assert plain[key] == gradio[key], key
    assert plain["answer"].keys() == gradio["answer"].keys()
