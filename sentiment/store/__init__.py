"""The one database that holds all monitoring memory: SQLite by default, PostgreSQL when replicas share it.

Every record kind lives in it: prediction log, feedback, evaluations, drift history, references, monitoring state.

``engine`` opens it and migrates it (Alembic); ``schema`` is its tables. The modules that own a kind of record
(``sentiment.monitoring.prediction_log``, ``sentiment.datasets.feedback``, ...) read and write their tables through
a ``Store``; nothing else opens a database.
"""

from sentiment.store.engine import BACKENDS, Store, create_store_engine, safe_url

__all__ = ["BACKENDS", "Store", "create_store_engine", "safe_url"]
