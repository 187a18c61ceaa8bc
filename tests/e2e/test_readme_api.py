"""The README's "The inference API" section runs as written against the app: each ``curl`` line and each Python block,
with ``http://localhost:7860`` pointed at the running app (``tests/integration/test_readme.py`` runs the CLI lines)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO

from appserver import RunningApp
from sentiment.labels import LABELS

SECTION = "## The inference API"
README_URL = "http://localhost:7860"


def section_blocks(text: str, heading: str) -> list[tuple[str, str]]:
    """The fenced code blocks (language, body) of the section that starts with ``heading``, up to the next ``## ``."""
    start = text.index(heading)
    end = text.find("\n## ", start + len(heading))
    body = text[start : end if end != -1 else len(text)]
    return [(lang.strip(), code) for lang, code in re.findall(r"^```(\w*)\n(.*?)^```", body, re.M | re.S)]


BLOCKS = section_blocks((REPO / "README.md").read_text(), SECTION)


def test_the_section_has_a_curl_line_and_a_block_for_each_python_client() -> None:
    """The extraction itself still finds what the README shows (so the tests below cannot pass on nothing)."""
    assert [lang for lang, _ in BLOCKS] == ["bash", "python", "python"]
    assert "httpx" in BLOCKS[1][1] and "InferenceClient" in BLOCKS[2][1]


def _run(argv: list[str], cwd: Path) -> str:
    # huggingface_hub refuses every request while HF_HUB_OFFLINE (or TRANSFORMERS_OFFLINE) is 1, as the README says:
    # a client process unsets them
    env = {k: v for k, v in os.environ.items() if k not in {"HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"}}
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_the_readme_example_runs_against_the_app(running_app: RunningApp, index: int, tmp_path: Path) -> None:
    lang, code = BLOCKS[index]
    code = code.replace(README_URL, running_app.url)
    if lang == "bash":
        for line in (line for line in code.splitlines() if line.startswith("curl ")):
            scores = json.loads(_run(["bash", "-c", line], tmp_path))
            assert {s["label"] for s in scores} == set(LABELS)
        return
    script = tmp_path / "example.py"
    script.write_text(code)
    out = _run([sys.executable, str(script)], tmp_path)
    assert any(label in out for label in LABELS), out
