"""Predictors kept loaded by spec, so that a second evaluation of the same model does not load it again."""

from __future__ import annotations

import threading
from collections import OrderedDict

from sentiment.inference.predictor import Predictor
from sentiment.settings import Settings


class ModelPool:
    """Predictors loaded by spec, kept (at most ``size``) so a second evaluation does not reload."""

    def __init__(self, settings: Settings, size: int = 3) -> None:
        self.settings = settings
        self.size = size
        self._models: OrderedDict[str, Predictor] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, spec: str) -> Predictor:
        key = spec.strip()
        with self._lock:
            if key in self._models:
                self._models.move_to_end(key)
                return self._models[key]
        predictor = Predictor.load(key, self.settings)  # outside the lock: loading can take a while
        with self._lock:
            self._models[key] = predictor
            while len(self._models) > self.size:
                self._models.popitem(last=False)
        return predictor

    def add(self, spec: str, predictor: Predictor) -> None:
        with self._lock:
            self._models[spec] = predictor
