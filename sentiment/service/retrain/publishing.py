"""Publishing a challenger's run to the Hugging Face Hub from the app (the model registry), as ``python -m finetune
publish`` does; the publishing itself is injected (``job.Publisher``: ``finetune``'s, wired by ``scheduler.retrain``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

from sentiment.errors import RetrainError
from sentiment.models.hub import hub_status
from sentiment.service.retrain.challenger import Challenger
from sentiment.service.retrain.job import Publisher

logger = logging.getLogger(__name__)
HUB_REPO = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}/[A-Za-z0-9][A-Za-z0-9._-]{0,95}$")


def publish_challenger(
    finished: Callable[[], Challenger],
    publisher: Publisher | None,
    repo: str,
    revision: str | None,
    hub_timeout_s: float,
) -> dict[str, Any]:
    """Publish the challenger ``finished()`` returns to the Hub model repository ``repo`` (``owner/name``), with a
    model card written from its report (``HF_TOKEN`` from the environment); returns run, repo, revision and URL.
    Where the Hub cannot be reached (offline, ``HF_HUB_OFFLINE``) it uploads nothing: it writes the card, builds and
    checks the folder (a dry run, which loads the run back: seconds), and raises ``RetrainError`` naming the command
    that publishes the run later. ``RetrainError`` too for a repository that is not owner/name."""
    repo, revision = (repo or "").strip(), (revision or "").strip() or None
    if not HUB_REPO.match(repo):
        raise RetrainError(f"{repo!r} is not a Hub model repository: give it as owner/name")
    challenger = finished()
    if publisher is None:
        raise RetrainError("publishing is not set up in this app")
    reachable, reason = hub_status(hub_timeout_s)
    if not reachable:
        command = f"python -m finetune publish {challenger.run} --repo {repo}"
        command += f" --revision {revision}" if revision else ""
        try:  # the card written and the folder checked, so that the command publishes the run as it is
            publisher(challenger.folder, repo, challenger.as_state(), revision=revision, dry_run=True)
        except Exception as exc:  # the refusal below is the answer; this only prepares for later
            logger.warning("publishing %s: the dry run failed: %s: %s", challenger.run, type(exc).__name__, exc)
        raise RetrainError(
            f"cannot publish {challenger.run} to the Hub: {reason}. Nothing was uploaded; where the Hub can be "
            f"reached, publish it from here or run: {command}"
        )
    publisher(challenger.folder, repo, challenger.as_state(), revision=revision)
    logger.info("published %s to %s%s", challenger.run, repo, f"@{revision}" if revision else "")
    return {"run": challenger.run, "repo": repo, "revision": revision, "url": f"https://huggingface.co/{repo}"}
