"""CI/CD: the workflows lint clean, the deploy dry run lists exactly what the Space needs, refuses a front matter
that does not match the gradio pin, and the listed files alone run the app offline."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from conftest import CACHE
from gradio_client import Client

from appserver import REPO, start_app

sys.path.insert(0, str(REPO / "scripts"))
import deploy_space


def test_both_workflows_pass_actionlint() -> None:
    binary = Path(sys.executable).parent / "actionlint"
    workflows = sorted(str(p) for p in (REPO / ".github" / "workflows").glob("*.yml"))
    assert len(workflows) == 2
    result = subprocess.run([str(binary), *workflows], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_ci_publishes_the_image_to_ghcr_on_main_only_tagged_by_commit_and_latest() -> None:
    """The publish job: only for a push to main, only after lint, the tests and the image's own checks pass, with
    the one permission it needs (packages: write) and the workflow's own token, pushing ghcr.io/<owner>/<repo> (in
    lower case, as registries require) as :<commit sha> and :latest."""
    import yaml

    workflow = yaml.safe_load((REPO / ".github" / "workflows" / "ci.yml").read_text())
    job = workflow["jobs"]["publish"]
    assert job["if"] == "github.event_name == 'push' && github.ref == 'refs/heads/main'"
    assert set(job["needs"]) == {"lint", "test", "docker"}
    assert job["permissions"] == {"contents": "read", "packages": "write"}
    assert workflow["permissions"] == {"contents": "read"}  # every other job keeps read-only
    steps = {step.get("uses", "").split("@")[0]: step for step in job["steps"]}
    naming = next(step["run"] for step in job["steps"] if "GITHUB_ENV" in step.get("run", ""))
    assert "IMAGE=ghcr.io/${GITHUB_REPOSITORY,,}" in naming
    login = steps["docker/login-action"]["with"]
    assert login == {
        "registry": "ghcr.io",
        "username": "${{ github.actor }}",
        "password": "${{ secrets.GITHUB_TOKEN }}",
    }
    push = steps["docker/build-push-action"]["with"]
    assert push["push"] is True and push["context"] == "."
    assert push["tags"].splitlines() == ["${{ env.IMAGE }}:${{ github.sha }}", "${{ env.IMAGE }}:latest"]


def test_cis_compose_check_sets_every_password_the_compose_file_requires() -> None:
    """CI's docker job runs ``docker compose config`` with a .env made from the example: each variable the compose
    file refuses to start without (``${VAR:?...}``) must be filled there, or the check fails on a missing password
    rather than on the file."""
    import re

    import yaml

    compose = (REPO / "grafana" / "docker-compose.yml").read_text()
    code = "\n".join(line for line in compose.splitlines() if not line.lstrip().startswith("#"))
    required = set(re.findall(r"\$\{(\w+):\?", code))
    assert {"POSTGRES_PASSWORD", "GRAFANA_ADMIN_PASSWORD", "GRAFANA_ADMIN_USER"} <= required
    example = dict(
        line.split("=", 1) for line in (REPO / "grafana" / ".env.example").read_text().splitlines() if "=" in line
    )
    steps = yaml.safe_load((REPO / ".github" / "workflows" / "ci.yml").read_text())["jobs"]["docker"]["steps"]
    check = next(step["run"] for step in steps if "docker compose" in step.get("run", ""))
    for name in required:
        assert example.get(name) or f"s/^{name}=$/{name}=" in check, f"CI's compose check leaves {name} unset"


def test_the_dry_run_lists_the_space_files_and_leaves_the_rest_out(capsys: pytest.CaptureFixture[str]) -> None:
    assert deploy_space.main(["--dry-run"]) == 0
    listed = capsys.readouterr().out.split()
    assert {
        "app.py",
        "requirements.txt",
        "README.md",
        "sentiment/inference/predictor.py",
        "scheduler/runner.py",
        "finetune/train.py",  # the retrain job's LoRA loop
        "sentiment/embedded/adapter_model.safetensors",
        "sentiment/embedded/adapter_config.json",
    } <= set(listed)
    for path in listed:
        assert not path.startswith(("tests/", "grafana/", "data/", "artifacts/", ".github/", "benchmarks/"))
        assert "__pycache__" not in path


def _copy_repo_files(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    for rel in deploy_space.space_files(REPO):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / rel, root / rel)
    return root


def test_a_front_matter_whose_sdk_version_differs_from_the_pin_is_refused(tmp_path: Path) -> None:
    root = _copy_repo_files(tmp_path)
    readme = root / "README.md"
    readme.write_text(readme.read_text().replace("sdk_version: 6.31.0", "sdk_version: 5.0.0", 1))
    problems = deploy_space.validate(root)
    assert any("sdk_version is '5.0.0' but requirements.txt pins gradio==6.31.0" in p for p in problems)
    assert deploy_space.main(["--dry-run", "--root", str(root)]) == 1


def test_a_deploy_without_a_token_fails_before_uploading(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HF_TOKEN", raising=False)
    assert deploy_space.main(["--space-id", "someone/space"]) == 1


@pytest.mark.e2e
@pytest.mark.slow
def test_the_listed_files_alone_run_the_app_offline(tmp_path: Path) -> None:
    root = _copy_repo_files(tmp_path)
    app = start_app(tmp_path / "data", {"SENTIMENT_CACHE_DIR": str(CACHE)}, cwd=root)
    try:
        health = httpx.get(f"{app.url}/health", timeout=10).json()
        assert health["model"]["name"] == "embedded"
        label, _ = Client(app.url, verbose=False).predict("What a wonderful day!", api_name="/predict")
        assert label["label"] == "positive"
    finally:
        app.stop()
