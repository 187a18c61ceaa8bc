"""The README's code blocks, read from README.md itself (so the tests cannot drift from what a reader sees), and a
fresh folder that stands for the reader's clone, for running them exactly as printed.

The README's commands run from the root of a clone (its "Running the commands in this README" says so). A test's
clone is a new folder holding links to the repository's own files and folders (the ones git tracks or would track)
and a *copy* of ``examples/``: nothing in it is made up by a test, and whatever a command writes lands in the
folder, not in the repository."""

from __future__ import annotations

import functools
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from conftest import REPO

README = REPO / "README.md"
# Folders a command may write into: copied, never linked, so the repository's own stay as they are.
COPIED = {"examples"}
SHELL_FENCES = {"", "sh", "bash", "shell", "console"}


@dataclass(frozen=True)
class Block:
    """One fenced code block of the README: its language, its text, the line its fence opens on and its section."""

    lang: str
    code: str
    line: int
    section: str

    @property
    def shell(self) -> bool:
        return self.lang in SHELL_FENCES

    def lines(self) -> list[str]:
        """Its commands: non-empty lines less a trailing comment (one outside quotes)."""
        found = []
        for raw in self.code.splitlines():
            line = re.sub(r"\s+#[^'\"]*$", "", raw.strip())
            if line and not line.startswith("#"):
                found.append(line)
        return found


def readme_blocks(text: str) -> list[Block]:
    """Every fenced block of ``text``, in order, with the ``## `` heading it sits under."""
    blocks, section, fence, start, body = [], "", None, 0, []
    for number, raw in enumerate(text.splitlines(), start=1):
        if fence is None and raw.startswith("## "):
            section = raw[3:].strip()
        if raw.strip().startswith("```"):
            if fence is None:
                fence, start, body = raw.strip()[3:].strip(), number, []
            else:
                blocks.append(Block(fence, "\n".join(body) + "\n", start, section))
                fence = None
        elif fence is not None:
            body.append(raw)
    return blocks


BLOCKS = readme_blocks(README.read_text(encoding="utf-8"))


@functools.cache
def _repository_entries() -> tuple[str, ...]:
    """The top-level names of what a clone holds: files git tracks, and new ones it does not ignore (a change being
    made is tested as it is)."""
    listed = subprocess.run(
        ["git", "-C", str(REPO), "ls-files", "--cached", "--others", "--exclude-standard"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return tuple(sorted({line.split("/", 1)[0] for line in listed.splitlines() if line}))


def scratch_clone(folder: Path) -> Path:
    """``folder`` made into a fresh stand-in for the reader's clone (see the module's docstring); returns it."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in _repository_entries():
        source = REPO / name
        if not source.exists():
            continue  # deleted in the working tree
        if name in COPIED:
            shutil.copytree(source, folder / name)
        else:
            (folder / name).symlink_to(source, target_is_directory=source.is_dir())
    return folder
