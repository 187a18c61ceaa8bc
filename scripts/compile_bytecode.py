"""Byte-compile, once and before the tests start, the modules that the tests' processes import.

``make test`` installs the test environment without byte-compiling it (``pip install --no-compile``: compiling every
installed module took two minutes of one core, and the tests import a fraction of them), and lets the test run write
bytecode. But a run's first processes (the workers, the apps, the README's command lines, Ray's actors) start
together, and each would compile the same torch, transformers and Gradio modules from source at once. Here two
processes import the two halves of what they use, in parallel, and write that bytecode first; the tests compile only
what is left (modules that one process alone imports).

    python scripts/compile_bytecode.py       # the Makefile runs it once per install (a stamp in the venv)
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# Each line runs in a process of its own, both at once.
GROUPS = (
    # the serving stack: the app (Gradio, the store, the UI), the Ray engine and Ray, the browser driver
    "import app, ray, sentiment.tables.ray_engine, playwright.sync_api",
    # the model stack: torch, transformers' auto classes and BERT (the embedded model), peft, the fine-tuning loop
    "import finetune.train, peft, transformers.models.auto.modeling_auto; "
    "from transformers import AutoTokenizer, BertForSequenceClassification",
)

logger = logging.getLogger("compile_bytecode")


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = str(REPO)
    started = time.monotonic()
    processes = [subprocess.Popen([sys.executable, "-c", code], cwd=REPO, env=env) for code in GROUPS]
    failed = [code for code, process in zip(GROUPS, processes, strict=True) if process.wait() != 0]
    for code in failed:  # a warm-up only: the tests that need these imports fail on their own, and say why
        logger.warning("compile_bytecode: importing failed (the tests compile what they import): %s", code)
    logger.info("compile_bytecode: the tests' imports compiled in %.0f s", time.monotonic() - started)
    return 0


if __name__ == "__main__":
    sys.exit(main())
