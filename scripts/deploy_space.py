"""Deploy the app to its Hugging Face Space: upload exactly the files the Space needs in one commit, then wait until
the Space runs them and answers /health and a prediction.

    python scripts/deploy_space.py --dry-run                 # list the files, validate the README front matter
    HF_TOKEN=... python scripts/deploy_space.py --space-id user/sentiment
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
# What the Space runs: the app, its packages, the embedded model, the pinned requirements and the README (whose
# front matter configures the Space), and the fine-tuning package, whose LoRA loop the app's retrain job runs. Tests,
# the monitoring stack and local data stay out.
INCLUDE = [
    "app.py",
    "requirements.txt",
    "README.md",
    "docs/*.png",
    "sentiment/**/*.py",
    "sentiment/embedded/*",
    "scheduler/**/*.py",
    "finetune/**/*.py",
]
EXCLUDE_PARTS = {"__pycache__", ".pytest_cache"}

logger = logging.getLogger("deploy_space")


class DeployError(RuntimeError):
    pass


def space_files(root: Path = ROOT) -> list[Path]:
    """Paths (relative to ``root``) that the Space needs, sorted."""
    found: set[Path] = set()
    for pattern in INCLUDE:
        for path in root.glob(pattern):
            rel = path.relative_to(root)
            if path.is_file() and not EXCLUDE_PARTS & set(rel.parts) and path.suffix != ".pyc":
                found.add(rel)
    return sorted(found)


def front_matter(readme: Path) -> dict[str, object]:
    text = readme.read_text()
    match = re.match(r"^---\n(.*?)\n---\n", text, re.S)
    if not match:
        raise DeployError(f"{readme} has no YAML front matter (--- ... ---) at the top: the Space needs one")
    data = yaml.safe_load(match.group(1))
    if not isinstance(data, dict):
        raise DeployError(f"{readme} front matter is not a mapping")
    return data


def gradio_pin(requirements: Path) -> str:
    match = re.search(r"^gradio==([^\s#]+)", requirements.read_text(), re.M)
    if not match:
        raise DeployError(f"{requirements} does not pin gradio (gradio==X.Y.Z)")
    return match.group(1)


def validate(root: Path = ROOT) -> list[str]:
    """Problems with the Space configuration; empty when it is deployable."""
    meta = front_matter(root / "README.md")
    pin = gradio_pin(root / "requirements.txt")
    problems = []
    if meta.get("sdk") != "gradio":
        problems.append(f"sdk is {meta.get('sdk')!r}, expected 'gradio'")
    if str(meta.get("sdk_version")) != pin:
        problems.append(f"sdk_version is {meta.get('sdk_version')!r} but requirements.txt pins gradio=={pin}")
    if str(meta.get("python_version")) != "3.11":
        problems.append(f"python_version is {meta.get('python_version')!r}, expected '3.11' (pandas 3, transformers 5)")
    app_file = str(meta.get("app_file", ""))
    if not (root / app_file).is_file():
        problems.append(f"app_file {app_file!r} does not exist")
    return problems


def stage(files: list[Path], destination: Path, root: Path = ROOT) -> None:
    for rel in files:
        target = destination / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / rel, target)


def wait_until_serving(space_id: str, token: str, timeout_s: float) -> str:
    """Wait for the Space to run the new commit; returns its URL. Fails on a build or runtime error."""
    from huggingface_hub import HfApi

    api = HfApi(token=token)
    deadline = time.monotonic() + timeout_s
    stage_name = "unknown"
    while time.monotonic() < deadline:
        runtime = api.get_space_runtime(space_id)
        stage_name = str(runtime.stage)
        if stage_name == "RUNNING":
            break
        if stage_name in {"BUILD_ERROR", "RUNTIME_ERROR", "CONFIG_ERROR", "NO_APP_FILE"}:
            raise DeployError(f"the Space reports {stage_name}; see its logs on the Hub")
        time.sleep(15)
    else:
        raise DeployError(f"the Space did not start within {timeout_s:.0f} s (last stage {stage_name})")
    host = getattr(api.space_info(space_id), "host", None) or f"https://{space_id.replace('/', '-').lower()}.hf.space"
    return str(host).rstrip("/")


def check_live(url: str, timeout_s: float = 300) -> None:
    """The live Space answers /health as ready and classifies one text."""
    import httpx
    from gradio_client import Client

    deadline = time.monotonic() + timeout_s
    while True:
        try:
            response = httpx.get(f"{url}/health", timeout=10)
            if response.status_code == 200 and response.json().get("ready"):
                break
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise DeployError(f"{url}/health did not report ready within {timeout_s:.0f} s")
        time.sleep(5)
    label, details = Client(url, verbose=False).predict("I love this!", api_name="/predict")
    if label.get("label") not in {"negative", "neutral", "positive"}:
        raise DeployError(f"the live Space answered an unexpected prediction: {label}")
    logger.info("live: %s serves %s; 'I love this!' -> %s", url, details.get("model"), label["label"])


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--space-id", default=os.environ.get("HF_SPACE_ID"), help="owner/name of the Space")
    parser.add_argument("--revision", default="local", help="the git commit being deployed (commit message)")
    parser.add_argument("--dry-run", action="store_true", help="list the files and validate; upload nothing")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds to wait for the Space to run")
    parser.add_argument("--root", type=Path, default=ROOT, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        files = space_files(args.root)
        problems = validate(args.root)
        if problems:
            raise DeployError("the Space configuration is invalid: " + "; ".join(problems))
        if args.dry_run:
            for rel in files:
                print(rel.as_posix())
            logger.info("%d files; front matter valid", len(files))
            return 0
        token = os.environ.get("HF_TOKEN")
        if not token:
            raise DeployError("HF_TOKEN is not set: create a write token on the Hub and set it as a secret")
        if not args.space_id:
            raise DeployError("no Space id: pass --space-id owner/name or set HF_SPACE_ID")
        from huggingface_hub import HfApi

        with tempfile.TemporaryDirectory() as tmp:
            stage(files, Path(tmp), args.root)
            HfApi(token=token).upload_folder(
                folder_path=tmp,
                repo_id=args.space_id,
                repo_type="space",
                commit_message=f"Deploy {args.revision}",
                delete_patterns=["*.py"],
            )
        logger.info("uploaded %d files to %s in one commit", len(files), args.space_id)
        check_live(wait_until_serving(args.space_id, token, args.timeout))
    except DeployError as exc:
        logger.error("%s", exc)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
