"""Publish a run to the Hugging Face Hub (the model registry): adapter, head, metadata and model card, in one
commit, tagged with a revision. ``dry_run`` builds and validates exactly the folder that would be uploaded."""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

from sentiment.errors import SentimentError
from sentiment.inference.calibration import CALIBRATION_FILE
from sentiment.models.registry import METADATA_FILE, load_local
from sentiment.settings import Settings

logger = logging.getLogger(__name__)
PUBLISHED_FILES = (
    "adapter_config.json",
    "adapter_model.safetensors",
    METADATA_FILE,
    "README.md",
    "training_args.json",
    "history.json",
    "metrics.json",
    "run.json",
    CALIBRATION_FILE,
)
REQUIRED = ("adapter_config.json", "adapter_model.safetensors", METADATA_FILE, "README.md")


class PublishError(SentimentError):
    """A run that cannot be published as asked (unfinished, no token, the upload failed); says what to do."""


def build_folder(run: Path, target: Path, settings: Settings) -> list[str]:
    """Copy the publishable files of ``run`` into ``target`` and check them: the card parses as a model card and
    the adapter loads back through the project's own loader. Returns the file names."""
    from huggingface_hub import ModelCard

    missing = [name for name in REQUIRED if not (run / name).exists()]
    if missing:
        raise PublishError(f"{run} is not a finished run: missing {', '.join(missing)}")
    target.mkdir(parents=True, exist_ok=True)
    copied = []
    for name in PUBLISHED_FILES:
        if (run / name).exists():
            shutil.copy2(run / name, target / name)
            copied.append(name)
    _without_server_paths(target, settings.data_dir)
    card = ModelCard.load(target / "README.md")
    if not card.data.to_dict().get("base_model"):
        raise PublishError("the model card names no base_model in its metadata")
    load_local(target, settings)  # raises ModelLoadError if the adapter does not load back
    return copied


def _without_server_paths(folder: Path, data_dir: Path) -> None:
    """Write the paths under the data folder in the published text files relative to it (``runs/<name>``): the run's
    ``training_args.json`` and ``run.json`` name its output folder and base by their paths on this machine."""
    prefixes = sorted({f"{data_dir}/", f"{data_dir.resolve()}/"}, key=len, reverse=True)
    for path in folder.iterdir():
        if path.suffix in {".json", ".md"}:
            text = path.read_text(encoding="utf-8")
            for prefix in prefixes:
                text = text.replace(prefix, "")
            path.write_text(text, encoding="utf-8")


def publish(
    run: Path,
    repo: str,
    settings: Settings,
    *,
    revision: str | None = None,
    dry_run: bool = False,
    out: Path | None = None,
) -> Path:
    """Build, validate and (unless ``dry_run``) upload the run; returns the built folder."""
    folder = out or settings.data_dir / "publish" / run.name
    if folder.exists():
        shutil.rmtree(folder)
    files = build_folder(run, folder, settings)
    logger.info("built %s with %s", folder, ", ".join(files))
    if dry_run:
        return folder
    token = os.environ.get("HF_TOKEN")
    if not token:
        raise PublishError("HF_TOKEN is not set: nothing was uploaded")
    from huggingface_hub import HfApi

    api = HfApi(token=token)
    try:
        api.create_repo(repo, repo_type="model", exist_ok=True)
        commit = api.upload_folder(folder_path=str(folder), repo_id=repo, commit_message=f"Publish run {run.name}")
        if revision:
            api.create_tag(repo, tag=revision, revision=commit.oid)
    except Exception as exc:  # network, auth, quota: one clear message; upload_folder is a single commit
        raise PublishError(
            f"publishing to {repo} failed ({type(exc).__name__}: {exc}); the Hub is unchanged "
            "or holds the complete commit"
        ) from exc
    logger.info("published %s to %s%s", run.name, repo, f"@{revision}" if revision else "")
    return folder
