"""The model registry: specs, a tiny locally-built transformer through the real loading code, adapters, fallback."""

from __future__ import annotations

import ast
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from sentiment.errors import LabelMappingError, ModelLoadError
from sentiment.inference.predictor import Predictor
from sentiment.models.registry import load_model
from sentiment.models.spec import ModelSpec
from sentiment.settings import Settings
from tiny_models import build_tiny_bert


def test_spec_parsing(tmp_path: Path) -> None:
    assert ModelSpec.parse("auto").kind == "auto"
    assert ModelSpec.parse("Embedded").kind == "embedded"
    assert ModelSpec.parse("vader").kind == "vader"
    hub = ModelSpec.parse("cardiffnlp/twitter-roberta-base-sentiment-latest@abc123")
    assert (hub.kind, hub.name, hub.revision) == ("hub", "cardiffnlp/twitter-roberta-base-sentiment-latest", "abc123")
    assert ModelSpec.parse(str(tmp_path)).kind == "local"
    with pytest.raises(ValueError, match="neither a known name"):
        ModelSpec.parse("not a model")


def test_tiny_local_model_loads_like_a_real_checkpoint(tiny_model_dir: Path, settings: Settings) -> None:
    model = load_model(str(tiny_model_dir), settings)
    assert model.info.source == "local"
    assert model.info.revision.startswith("sha256:")
    assert model.info.max_length == 64  # the tokenizer's limit, below BERT's position embeddings


def test_outputs_are_reordered_into_canonical_order(tmp_path: Path, settings: Settings) -> None:
    """A model listing its classes as POS, NEG, NEU gets the same probabilities moved to negative/neutral/positive."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    folder = build_tiny_bert(tmp_path / "m", {0: "POS", 1: "NEG", 2: "NEU"}, seed=3)
    predictor = Predictor.load(str(folder), settings.model_copy(update={"precision": "fp32"}))
    text = "i love this so much"
    got = predictor.predict_one(text).scores
    tok = AutoTokenizer.from_pretrained(folder)
    raw = AutoModelForSequenceClassification.from_pretrained(folder).eval()
    with torch.inference_mode():
        probs = torch.softmax(raw(**tok(text, return_tensors="pt")).logits, dim=-1)[0].numpy()
    assert got["positive"] == pytest.approx(float(probs[0]), abs=1e-6)
    assert got["negative"] == pytest.approx(float(probs[1]), abs=1e-6)
    assert got["neutral"] == pytest.approx(float(probs[2]), abs=1e-6)


def test_a_model_with_unmappable_labels_is_refused(tmp_path: Path, settings: Settings) -> None:
    folder = build_tiny_bert(tmp_path / "emotion", {0: "anger", 1: "joy", 2: "sadness"})
    with pytest.raises(LabelMappingError, match="anger"):
        load_model(str(folder), settings)


def test_peft_adapter_folder_loads_its_base_then_the_adapter(
    tmp_path: Path, tiny_model_dir: Path, settings: Settings
) -> None:
    """An adapter_config.json means: load the base named in it, apply the adapter; outputs equal the PEFT model's."""
    from peft import LoraConfig, TaskType, get_peft_model
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    base = AutoModelForSequenceClassification.from_pretrained(tiny_model_dir)
    peft_model = get_peft_model(
        base,
        LoraConfig(
            task_type=TaskType.SEQ_CLS,
            r=4,
            target_modules=["query", "value"],
            modules_to_save=["classifier"],
            init_lora_weights=False,
        ),
    )
    peft_model.peft_config["default"].base_model_name_or_path = str(tiny_model_dir)
    adapter_dir = tmp_path / "adapter"
    peft_model.save_pretrained(adapter_dir)
    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    text = "what a great day"
    with torch.inference_mode():
        expected = torch.softmax(peft_model.eval()(**tok(text, return_tensors="pt")).logits, -1)[0].numpy()

    merged = settings.cache_dir / "merged"
    cached_before = set(merged.iterdir()) if merged.exists() else set()
    model = load_model(str(adapter_dir), settings.model_copy(update={"precision": "fp32"}))
    assert model.info.revision.startswith("adapter:")
    output = model.forward([text], batch_size=8)
    np.testing.assert_allclose(output.probabilities[0], expected, atol=1e-5)

    # The merged weights were cached: a new process loads them without importing peft, with the same outputs.
    (entry,) = set(merged.iterdir()) - cached_before
    assert (entry / "model.safetensors").exists()
    script = (
        "import sys; from sentiment.models.registry import load_model; from sentiment.settings import Settings\n"
        f"settings = Settings(cache_override={str(settings.cache_dir)!r}, precision='fp32')\n"
        f"m = load_model({str(adapter_dir)!r}, settings)\n"
        f"print(repr(m.forward([{text!r}], batch_size=8).probabilities[0].tolist()), 'peft' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True)
    probabilities, peft_imported = out.stdout.strip().rsplit(" ", 1)
    np.testing.assert_allclose(ast.literal_eval(probabilities), expected, atol=1e-5)
    assert peft_imported == "False"

    # A damaged cache entry is merged again, not an error.
    weights = entry / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    again = load_model(str(adapter_dir), settings.model_copy(update={"precision": "fp32"}))
    np.testing.assert_allclose(again.forward([text], batch_size=8).probabilities[0], expected, atol=1e-5)
    assert weights.stat().st_size > 100


def test_a_corrupt_adapter_fails_with_a_clear_error(tmp_path: Path, settings: Settings) -> None:
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "adapter_config.json").write_text("{not json")
    with pytest.raises(ModelLoadError, match="broken"):
        load_model(str(folder), settings)


def test_weights_cut_in_half_fail_as_a_load_error_naming_the_folder(
    tiny_model_dir: Path, tmp_path: Path, settings: Settings
) -> None:
    """safetensors raises its own error type: it must still become a ModelLoadError (the app shows the reason and
    an admin switch answers with it) rather than an internal error."""
    import shutil

    folder = shutil.copytree(tiny_model_dir, tmp_path / "cut")
    weights = folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    with pytest.raises(ModelLoadError, match=r"cut.*SafetensorError"):
        load_model(str(folder), settings)


def test_missing_folder_and_offline_hub_ids_fail_fast(settings: Settings) -> None:
    started = time.perf_counter()
    with pytest.raises(ModelLoadError, match="cannot load"):
        load_model("someone/not-cached-model", settings)
    assert time.perf_counter() - started < 10  # offline: no retries against an unreachable Hub
    with pytest.raises(ModelLoadError, match="does not exist"):
        load_model("/nonexistent/folder", settings)


def test_auto_serves_the_embedded_model_offline_and_says_why(settings: Settings) -> None:
    model = load_model("auto", settings)
    assert model.info.name == "embedded"
    assert model.info.source == "embedded"
    assert "HF_HUB_OFFLINE" in model.info.note
    assert model.info.revision.startswith("adapter:")


def test_vader_probabilities_follow_the_documented_rule() -> None:
    from sentiment.models.lexicon import vader_probabilities

    probs = vader_probabilities(np.array([-0.8, -0.06, -0.04, 0.0, 0.04, 0.06, 0.9]))
    assert probs.argmax(axis=1).tolist() == [0, 0, 1, 1, 1, 2, 2]
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-6)
    assert probs[6, 2] > 0.95 and probs[0, 0] > 0.9


@pytest.mark.parametrize("size", [0, 1, (1 << 20) + 7])  # empty, tiny, and past one read block
def test_file_digests_are_the_sha256_of_the_whole_content(tmp_path: Path, size: int) -> None:
    import hashlib

    from sentiment.datasets.fetch import sha256_of
    from sentiment.models.adapters import file_digest

    content = np.random.default_rng(size).integers(0, 256, size, dtype=np.uint8).tobytes()
    path = tmp_path / "weights.bin"
    path.write_bytes(content)
    expected = hashlib.sha256(content).hexdigest()
    assert sha256_of(path) == expected
    assert file_digest(path) == expected[:12]
    assert file_digest(path, length=64) == expected


@pytest.mark.parametrize(
    ("env", "offline"),
    [
        ({"HF_HUB_OFFLINE": "1"}, True),
        ({"TRANSFORMERS_OFFLINE": "yes"}, True),  # transformers' own variable counts too, as in huggingface_hub
        ({"HF_HUB_OFFLINE": "0"}, False),
    ],
)
def test_offline_mode_and_endpoint_are_huggingface_hubs_own(env: dict[str, str], offline: bool) -> None:
    """Each process reads the variables when huggingface_hub is first imported: set them per subprocess."""
    import os

    base = {k: v for k, v in os.environ.items() if k not in {"HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"}}
    code = (
        "from sentiment.models.hub import hub_endpoint, hub_offline_flag, hub_status\n"
        "print(hub_offline_flag(), hub_endpoint(), hub_status(0.5)[0] if hub_offline_flag() else '-')"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        env={**base, **env, "HF_ENDPOINT": "http://127.0.0.1:9/"},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.split()
    assert out == [str(offline), "http://127.0.0.1:9", "False" if offline else "-"]


@given(
    rows=st.lists(st.lists(st.integers(0, 30_000), min_size=1, max_size=20), min_size=1, max_size=8),
    extra=st.integers(0, 5),
)
@hsettings(max_examples=50, deadline=None, derandomize=True)
def test_padding_keeps_every_row_and_masks_only_its_tokens(rows: list[list[int]], extra: int) -> None:
    """One padding for serving and fine-tuning: the longest row by default, or a wider width the caller rounds to."""
    from sentiment.models.transformer import pad_rows

    longest = max(len(r) for r in rows)
    for width in (None, longest + extra):
        ids, mask = pad_rows(rows, pad_id=1, width=width)
        assert ids.dtype == mask.dtype == torch.int64
        assert tuple(ids.shape) == tuple(mask.shape) == (len(rows), width or longest)
        for i, row in enumerate(rows):
            assert ids[i, : len(row)].tolist() == row
            assert set(ids[i, len(row) :].tolist()) <= {1}
            assert mask[i].tolist() == [1] * len(row) + [0] * (ids.shape[1] - len(row))


def test_one_list_of_named_models_for_specs_and_menus() -> None:
    from sentiment.models.spec import NAMED_MODELS, PACKAGED_MODELS, offered_models

    assert NAMED_MODELS == ("auto", "embedded", "vader")
    for name in NAMED_MODELS:
        assert ModelSpec.parse(f" {name.upper()} ") == ModelSpec(kind=name, name=name)
    assert (
        offered_models("owner/model@rev")
        == [*PACKAGED_MODELS, "owner/model@rev"]
        == ["embedded", "vader", "owner/model@rev"]
    )
    with pytest.raises(ValueError, match="use 'auto', 'embedded', 'vader', a Hub id"):
        ModelSpec.parse("  ")


def test_the_app_and_the_lexicon_model_load_without_torch() -> None:
    """Importing the app and serving VADER never import torch or transformers (2-3 s of a process's start): the
    transformer backend, the precision modes and the fine-tuning loop load with the first transformer model or
    retrain job. Fails when a module-level import brings them back."""
    code = (
        "import sys, app\n"
        "from sentiment.inference.predictor import Predictor\n"
        "from sentiment.settings import Settings\n"
        "assert Predictor.load('vader', Settings()).predict_one('what a day').label\n"
        "print(sorted(m for m in ('torch', 'transformers', 'peft') if m in sys.modules))\n"
    )
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=root)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"
