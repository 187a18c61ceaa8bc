"""The model registry: one string (a *spec*) names a model, and ``load_model`` turns it into a ready backend.

Specs: ``auto`` (the Hub model when the Hub answers, else ``embedded``), ``embedded`` (MiniLM + the LoRA adapter
this project trains and ships), ``vader`` (lexicon baseline), a Hub id with an optional ``@revision``, or a local
folder holding a sequence-classification model or a PEFT adapter (``adapter_config.json``).
"""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sentiment.errors import ModelLoadError
from sentiment.labels import model_label_order
from sentiment.models.adapters import file_digest, load_adapter
from sentiment.models.hub import hub_status
from sentiment.models.lexicon import LexiconModel
from sentiment.models.protocol import SentimentModel
from sentiment.models.runs import runs_dir
from sentiment.models.spec import NAMED_MODELS, ModelSpec
from sentiment.results import ModelInfo
from sentiment.settings import Settings

if TYPE_CHECKING:  # torch and transformers load with the first transformer model, never for the lexicon
    from sentiment.models.transformer import TransformerModel

logger = logging.getLogger(__name__)


EMBEDDED_DIR = Path(__file__).parents[1] / "embedded"  # the model this project trains, shipped as data
METADATA_FILE = "sentiment.json"  # written by finetune/: labels and preprocessing of a trained model
TWITTER_PREPROCESSED = {"cardiffnlp/"}  # Hub owners whose models expect @user/http normalisation


def load_model(spec: str, settings: Settings) -> SentimentModel:
    """Load the model a spec names; ``auto`` never fails while the lexicon can load, it falls back and says why.

    Raises ``ModelLoadError`` for a spec that names nothing or a model that cannot be loaded, and
    ``LabelMappingError`` for one whose labels are not negative/neutral/positive.
    """
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
    """The VADER lexicon (Hutto & Gilbert 2014), versioned by the installed ``vaderSentiment`` release."""
    from importlib.metadata import version

    return LexiconModel(
        ModelInfo(name="vader", source="lexicon", revision=f"vaderSentiment-{version('vaderSentiment')}")
    )


def load_embedded(settings: Settings) -> TransformerModel:
    """The model this project ships (MiniLM + LoRA); ``ModelLoadError`` says how to train it when it is missing."""
    if not (EMBEDDED_DIR / "adapter_config.json").exists():
        raise ModelLoadError(
            f"the embedded adapter is missing from {EMBEDDED_DIR}; train it with: python -m finetune --preset embedded"
        )
    model = load_local(EMBEDDED_DIR, settings)
    model.info = replace(model.info, name="embedded", source="embedded")
    return model


def load_hub(repo_id: str, revision: str | None, settings: Settings) -> TransformerModel:
    """A Hub model at ``revision`` (default branch when None); from the local HF cache only when the Hub does not
    answer within ``settings.hub_timeout_s`` seconds. Raises ``ModelLoadError`` when neither has it."""
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
    """A folder with a full model, or with a PEFT adapter whose base the registry can load.

    Its revision is ``sha256:<12 hex>`` of the weights file. Raises ``ModelLoadError`` for a missing folder or any
    file that does not load (the message names the folder and the cause).
    """
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    if not folder.is_dir():
        raise ModelLoadError(f"model folder {folder} does not exist")
    metadata = _read_metadata(folder)
    try:
        if (folder / "adapter_config.json").exists():
            model, tokenizer_dir, revision = load_adapter(folder, metadata, settings.cache_dir / "merged")
        else:
            model = AutoModelForSequenceClassification.from_pretrained(folder, local_files_only=True)
            tokenizer_dir, revision = folder, _folder_revision(folder)
        tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir, local_files_only=True)
    except ModelLoadError:
        raise
    except Exception as exc:  # any broken file (safetensors raises its own SafetensorError) is a load error
        raise ModelLoadError(f"cannot load the model in {folder}: {type(exc).__name__}: {exc}") from exc
    loaded = _transformer(
        tokenizer,
        model,
        settings,
        name=local_name(folder, settings),
        source="local",
        revision=revision,
        preprocessing=str(metadata.get("preprocessing", "none")),
    )
    loaded.info = replace(loaded.info, folder=str(folder))
    return loaded


def local_name(folder: Path, settings: Settings) -> str:
    """The public name of a model loaded from ``folder``: a fine-tuning run's name when the folder is one of
    ``<data_dir>/runs`` (what the Models tab lists and a visitor or the retrain job serves it by; the server's path
    to the data folder shows nowhere: not in ``/health``, the page header or a metric label), else (or when the run
    is named like a registry model, ``run_path``) the folder as the owner configured it (``SENTIMENT_MODEL``)."""
    runs = runs_dir(settings.data_dir)
    try:
        inside = folder.parent.resolve() == runs.resolve()  # the folder's own name: a linked run keeps it
    except OSError:
        inside = False
    return folder.name if inside and folder.name.lower() not in NAMED_MODELS else str(folder)


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


def _transformer(
    tokenizer: Any, model: Any, settings: Settings, *, name: str, source: str, revision: str, preprocessing: str
) -> TransformerModel:
    from sentiment.models.precision import apply_precision, resolve_precision
    from sentiment.models.transformer import TransformerModel, count_parameters, model_max_length

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
