"""A request answered from a shared forward pass gets its own row of every per-row field (embeddings included:
without them the prediction log has none and the semantic drift test skips every window with such a row)."""

from __future__ import annotations

from dataclasses import fields

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from sentiment.inference.micro_batcher import row_of
from sentiment.results import BatchResult


def _result(n: int, with_ids: bool) -> BatchResult:
    rng = np.random.default_rng(n)
    errors = [None if k % 3 else "empty text" for k in range(n)]
    return BatchResult(
        probabilities=rng.dirichlet(np.ones(3), n).astype(np.float32),
        truncated=np.arange(n) % 2 == 0,
        errors=errors,
        tokens=np.arange(n, dtype=np.int64),
        model="m",
        prediction_ids=tuple(f"id{k}" for k in range(n)) if with_ids else (),
        error_reasons=tuple(None if e is None else "empty_text" for e in errors),
        embeddings=rng.standard_normal((n, 16)).astype(np.float32),
    )


@settings(max_examples=40, derandomize=True, deadline=None)
@given(st.integers(2, 20).flatmap(lambda n: st.tuples(st.just(n), st.integers(0, n - 1))), st.booleans())
def test_a_row_carries_every_per_row_field_of_its_text_and_the_shared_ones(case: tuple[int, int], ids: bool) -> None:
    n, i = case
    full = _result(n, ids)
    row = row_of(full, i)
    for f in fields(BatchResult):
        value, got = getattr(full, f.name), getattr(row, f.name)
        if isinstance(value, np.ndarray):
            np.testing.assert_array_equal(got, value[i : i + 1])
        elif isinstance(value, list | tuple) and len(value) == n:
            assert list(got) == list(value[i : i + 1]), f.name
        else:
            assert got == value, f.name  # the model's name; no ids when none were given
    assert row.embeddings is not None and row.embeddings.shape == (1, 16)


def test_a_result_without_embeddings_gives_rows_without_them() -> None:
    full = BatchResult(np.full((2, 3), 1 / 3, np.float32), np.zeros(2, bool), [None, None], np.ones(2, np.int64))
    assert row_of(full, 1).embeddings is None and row_of(full, 1).errors == [None]
