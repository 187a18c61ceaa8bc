"""Predictors kept loaded by spec, so that a second evaluation of the same model does not load it again.

The pool is bounded: a roberta-base predictor holds ~500 MB, and a server that switches models or evaluates others
must not keep every model it ever loaded. It holds the serving predictor (pinned: never evicted while it serves)
and at most ``size`` others, dropping the least recently used; a dropped predictor is freed once the requests still
running on it finish. One predictor may be known under several keys (the spec it was loaded from and its model
name): it counts once, and is dropped with all its keys.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict

from sentiment.inference.predictor import Predictor
from sentiment.settings import Settings

logger = logging.getLogger(__name__)


class ModelPool:
    """The serving predictor plus at most ``size`` (default ``settings.model_pool_size``) others, by spec."""

    def __init__(self, settings: Settings, size: int | None = None) -> None:
        self.settings = settings
        self.size = settings.model_pool_size if size is None else size
        if self.size < 0:
            raise ValueError(f"a model pool holds size >= 0 models besides the serving one, not {self.size}")
        self._models: OrderedDict[str, Predictor] = OrderedDict()  # least recently used first
        self._pinned: Predictor | None = None
        self._lock = threading.Lock()

    def get(self, spec: str) -> Predictor:
        """The predictor of ``spec``, loaded on first use (outside the lock: loading can take a while)."""
        key = spec.strip()
        with self._lock:
            if key in self._models:
                self._models.move_to_end(key)
                return self._models[key]
        predictor = Predictor.load(key, self.settings)
        self.add(key, predictor)
        return predictor

    def add(self, spec: str, predictor: Predictor) -> None:
        """Keep ``predictor`` under ``spec`` (most recently used), dropping the oldest others beyond ``size``."""
        with self._lock:
            self._models[spec.strip()] = predictor
            self._models.move_to_end(spec.strip())
            self._evict()

    def pin(self, predictor: Predictor, *keys: str) -> None:
        """Make ``predictor`` the serving one, under ``keys``: it is never evicted until another is pinned; the
        one it replaces becomes an ordinary entry (kept while ``size`` allows, most recently used)."""
        with self._lock:
            self._pinned = predictor
            for key in keys:
                self._models[key.strip()] = predictor
                self._models.move_to_end(key.strip())
            self._evict()

    def __len__(self) -> int:
        """Distinct predictors held, the serving one included."""
        with self._lock:
            return len({id(p) for p in self._models.values()})

    def _evict(self) -> None:
        """Drop least recently used predictors (with every key they have) until at most ``size`` are not pinned."""
        while True:
            others = [p for p in self._models.values() if p is not self._pinned]
            if len({id(p) for p in others}) <= self.size:
                return
            oldest = others[0]
            keys = [k for k, p in self._models.items() if p is oldest]
            for key in keys:
                del self._models[key]
            logger.info("released model %s from the pool (keys %s)", oldest.info.name, keys)
