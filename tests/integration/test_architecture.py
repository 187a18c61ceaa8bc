"""The shape of ``sentiment/`` stays what the README's Layout section says: layered imports (import-linter's
contracts in pyproject.toml), small modules, few top-level modules, and every subpackage saying what it holds."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "sentiment"
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
MAX_LINES = 300
MAX_TOP_LEVEL_MODULES = 8


def _lint_imports(cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"], cwd=cwd, capture_output=True, text=True, timeout=300, check=False
    )


def test_the_import_contracts_hold() -> None:
    result = _lint_imports(ROOT)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout


def test_a_reverse_import_breaks_the_layering(tmp_path: Path) -> None:
    """The contracts can fail: a model module that imports the service layer (and a sentiment module that imports
    the scheduler) in a copy of the code are both reported."""
    for name in ("sentiment", "finetune", "scheduler"):
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("embedded", "__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    spec = tmp_path / "sentiment" / "models" / "spec.py"
    spec.write_text(spec.read_text() + "\nfrom sentiment.service.serving import SentimentService  # noqa\n")
    labels = tmp_path / "sentiment" / "labels.py"
    labels.write_text(labels.read_text() + "\nimport scheduler  # noqa\n")
    result = _lint_imports(tmp_path)
    assert result.returncode == 1, result.stdout[-3000:]
    assert "sentiment.models is not allowed to import sentiment.service" in result.stdout
    assert "sentiment is not allowed to import scheduler" in result.stdout


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "embedded" not in p.parts)


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_module_is_over_300_lines(path: Path) -> None:
    lines = len(path.read_text().splitlines())
    assert lines <= MAX_LINES, f"{path.relative_to(ROOT)} has {lines} lines; split it by concern"


def test_few_modules_sit_directly_in_the_package() -> None:
    top = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(top) <= MAX_TOP_LEVEL_MODULES, top


@pytest.mark.parametrize(
    "init", sorted(p for p in PACKAGE.rglob("__init__.py") if p.parent != PACKAGE), ids=lambda p: p.parent.name
)
def test_each_subpackage_says_in_one_line_what_it_holds(init: Path) -> None:
    doc = ast.get_docstring(ast.parse(init.read_text()))
    assert doc, f"{init.relative_to(ROOT)} has no docstring"
    first = doc.splitlines()[0]
    assert first.endswith(".") and len(first) <= 116, first
