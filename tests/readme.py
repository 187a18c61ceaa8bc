"""The README's code blocks, read from README.md itself (so the tests cannot drift from what a reader sees), and a
fresh folder that stands for the reader's clone, for running them exactly as printed.

The README's commands run from the root of a clone (its "Running the commands in this README" says so). A test's
clone is a new folder holding links to the repository's own files and folders (the ones git tracks or would track)
and a *copy* of ``examples/``: nothing in it is made up by a test, and whatever a command writes lands in the
folder, not in the repository."""

from __future__ import annotations

import functools
import hashlib
import os
import re
import shlex
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import warm_python
from conftest import CACHE, REPO

README = REPO / "README.md"
# The README lines run as written (tests/integration/test_readme.py; the Ray ones by test_ray_engine.py)
PREFIXES = ("python -m sentiment", "python -m finetune", "python benchmarks/")
SHIPPED_MODEL = REPO / "sentiment" / "embedded"
EXAMPLES = REPO / "examples"
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


def readme_commands(text: str) -> list[str]:
    """The lines of the README's shell code blocks that start with one of ``PREFIXES``, as written, less a trailing
    comment."""
    return [line for block in readme_blocks(text) if block.shell for line in block.lines() if line.startswith(PREFIXES)]


COMMANDS = readme_commands(README.read_text(encoding="utf-8"))


def _digest(folder: Path) -> str:
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    return hashlib.sha256(b"".join(p.name.encode() + p.read_bytes() for p in files)).hexdigest()


def output_tail(done: subprocess.CompletedProcess[str]) -> str:
    """The end of a finished line's stdout and stderr, for a failure message."""
    return re.sub(r"\n{3,}", "\n\n", done.stdout[-3000:] + "\n" + done.stderr[-3000:])


def run_readme_line(
    command: str, extra: Sequence[str], folder: Path, timeout: float = 300
) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """Run the README line ``command`` as printed, ``python`` being this interpreter (the activated virtual
    environment's; forked from tests/warm_python.py's, which imported its libraries already), with ``extra`` appended,
    from a fresh clone in ``folder/clone`` with the data folder ``folder/data``; returns the clone and the finished
    process (its output captured). The reader's shell has no ``PYTHONPATH`` (the clone's root is what imports resolve
    to) and no ``RAY_ADDRESS``. Fails if the line exits non-zero or changed the shipped model or the repository's
    ``examples/``."""
    assert command in COMMANDS, f"not a line of the README (any more?): {command}"
    clone = scratch_clone(folder / "clone")
    env = {
        **{k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "RAY_ADDRESS"}},
        "HF_HUB_OFFLINE": "1",
        "SENTIMENT_DATA_DIR": str(folder / "data"),
        "SENTIMENT_CACHE_DIR": str(CACHE),
    }
    python, *args = shlex.split(command)
    assert python == "python"
    shipped, examples = _digest(SHIPPED_MODEL), _digest(EXAMPLES)
    done = warm_python.run([*args, *extra], clone, env, timeout)
    output = output_tail(done)
    assert done.returncode == 0, f"{command} exited {done.returncode}:\n{output}"
    assert _digest(SHIPPED_MODEL) == shipped, f"{command} changed the shipped model in {SHIPPED_MODEL}"
    assert _digest(EXAMPLES) == examples, f"{command} changed the repository's examples/"
    return clone, done
