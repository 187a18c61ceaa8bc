"""The model pool is bounded (sentiment/inference/pool.py): switching models releases the old ones, the serving
predictor is never evicted, and one predictor under two keys counts once."""

from __future__ import annotations

import gc
import weakref
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from sentiment.inference.pool import ModelPool
from sentiment.inference.predictor import Predictor
from sentiment.models.runs import runs_dir
from sentiment.service.metrics import ServiceMetrics
from sentiment.service.serving import SentimentService
from sentiment.settings import Settings
from tiny_models import build_tiny_bert

TOKEN = "pool-admin"


def test_switching_a_to_b_to_c_keeps_only_the_serving_model_and_size_others(tmp_path: Path) -> None:
    """With a pool of one, after vader -> a -> b -> c only c (serving) and b (the most recent other) are alive:
    the weak references to vader and a are dead once nothing holds them. Fails if the pool keeps every model."""
    settings = Settings(
        data_dir=tmp_path / "data", model="vader", scheduler_enabled=False, model_pool_size=1, admin_token=TOKEN
    )
    for seed, name in enumerate("abc"):
        build_tiny_bert(runs_dir(settings.data_dir) / name, seed=seed)
    service = SentimentService(
        settings, ServiceMetrics(CollectorRegistry()), predictor=Predictor.load("vader", settings)
    )
    alive = {"vader": weakref.ref(service.predictor)}
    try:
        for name in "abc":
            service.switch_model(name, TOKEN)
            alive[name] = weakref.ref(service.predictor)
            assert service.predict("what a lovely day").model == service.predictor.info.name
            assert service.pool.get(str(runs_dir(settings.data_dir) / name)) is service.predictor  # reused
        gc.collect()
        assert [name for name, ref in alive.items() if ref() is not None] == ["b", "c"]
        assert alive["c"]() is service.predictor and len(service.pool) == 2
        assert service.served == ["vader", "a", "b"]  # rollback keeps the names, not the models
    finally:
        service.stop()


def test_the_serving_predictor_is_never_evicted(settings: Settings, embedded_predictor: Predictor) -> None:
    pool = ModelPool(settings, size=0)
    pool.pin(embedded_predictor, "embedded", embedded_predictor.info.name)
    vader = pool.get("vader")  # loaded for an evaluation, not kept: size 0 holds only the serving model
    assert vader.info.name == "vader" and len(pool) == 1
    assert pool.get("embedded") is embedded_predictor and pool.get(embedded_predictor.info.name) is embedded_predictor
    other = pool.get("vader")
    assert other is not vader  # loaded again: nothing but the serving model was kept


def test_the_least_recently_used_other_is_dropped_with_all_its_keys(
    settings: Settings, embedded_predictor: Predictor
) -> None:
    pool = ModelPool(settings, size=1)
    pool.add("embedded", embedded_predictor)
    pool.add(embedded_predictor.info.name, embedded_predictor)  # one model, two keys: counts once
    assert len(pool) == 1
    vader = pool.get("vader")  # a second model: the embedded one (least recently used) goes, under both keys
    assert len(pool) == 1 and pool.get("vader") is vader
    ref = weakref.ref(vader)
    pool.pin(embedded_predictor, "embedded")  # serving again; vader is the one other
    assert pool.get("vader") is vader and len(pool) == 2
    del vader
    pool.pin(Predictor.load("vader", settings), "vader")  # a new serving model: the old vader is dropped
    gc.collect()
    assert ref() is None and len(pool) == 2


def test_the_pool_size_comes_from_settings(settings: Settings) -> None:
    assert ModelPool(settings).size == settings.model_pool_size
    assert ModelPool(settings.model_copy(update={"model_pool_size": 0})).size == 0
    with pytest.raises(ValueError, match="size >= 0"):
        ModelPool(settings, size=-1)
