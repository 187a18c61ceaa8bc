"""The tier rules of tests/conftest.py, on a throw-away test tree run by a real pytest: each test is marked with its
folder's tier (a test may say itself that it is end-to-end), and a test outside the tiers or a unit test that is slow
or needs the app stops the run before anything runs."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import REPO, TESTS

UNIT = "def test_pure():\n    assert 1 + 1 == 2\n"
INTEGRATION = (
    "import pytest\n\n\ndef test_with_sqlite():\n    pass\n\n\n"
    "@pytest.mark.e2e\ndef test_that_also_drives_the_app():\n    pass\n"
)
E2E = "def test_over_http():\n    pass\n"


def _tree(root: Path, files: dict[str, str]) -> Path:
    shutil.copy(REPO / "pyproject.toml", root / "pyproject.toml")
    (root / "tests").mkdir()
    shutil.copy(TESTS / "conftest.py", root / "tests" / "conftest.py")
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def _collect(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *args],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _ids(done: subprocess.CompletedProcess[str]) -> set[str]:
    return {line.split("::")[-1] for line in done.stdout.splitlines() if "::" in line}


def test_each_folder_marks_its_tier_and_a_test_can_say_it_is_end_to_end(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {"tests/unit/test_u.py": UNIT, "tests/integration/test_i.py": INTEGRATION, "tests/e2e/test_e.py": E2E},
    )
    assert _ids(_collect(root, "-m", "unit")) == {"test_pure"}
    assert _ids(_collect(root, "-m", "integration")) == {"test_with_sqlite"}
    assert _ids(_collect(root, "-m", "e2e")) == {"test_that_also_drives_the_app", "test_over_http"}


def test_a_loose_file_and_a_slow_or_app_bound_unit_test_stop_the_run_naming_each(tmp_path: Path) -> None:
    heavy = (
        "import pytest\n\n\n@pytest.mark.slow\ndef test_slow():\n    pass\n\n\n"
        "def test_needs_the_app(running_app):\n    pass\n\n\n" + UNIT
    )
    root = _tree(tmp_path, {"tests/unit/test_u.py": heavy, "tests/test_loose.py": E2E})
    done = _collect(root)
    assert done.returncode != 0
    errors = done.stdout + done.stderr
    assert "tests/test_loose.py::test_over_http: in no tier" in errors
    assert "tests/unit/test_u.py::test_slow: a unit test that is ['slow']" in errors
    assert "tests/unit/test_u.py::test_needs_the_app: a unit test that is ['running_app']" in errors
    assert "test_pure:" not in errors
