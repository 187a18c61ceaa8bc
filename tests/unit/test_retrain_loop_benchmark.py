"""benchmarks/retrain_loop.py's feeding rule: the labels fed to the simulated loop never include a text of the split
every new-domain figure is reported on, grow as nested prefixes (labels accumulate), carry ids the app accepts, and
are cut (not padded) when the pool is smaller than asked. The table in benchmarks/README.md rests on these; the run
itself (minutes of LoRA training) is no test."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import retrain_loop as rl

from sentiment.datasets.feedback import check_prediction_id


def _pool(n: int) -> pd.DataFrame:
    """``n`` labelled rows with distinct texts ``fed 0`` .. ``fed n-1``."""
    return pd.DataFrame(
        {
            "text": [f"fed {i}" for i in range(n)],
            "label": [("negative", "neutral", "positive")[i % 3] for i in range(n)],
        }
    )


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(0, 120),
    overlap=st.sets(st.integers(0, 119), max_size=60),
    sizes=st.lists(st.integers(1, 150), min_size=1, max_size=4, unique=True),
    seed=st.integers(0, 2**16),
)
def test_fed_labels_never_touch_the_reported_split_and_accumulate(
    n: int, overlap: set[int], sizes: list[int], seed: int
) -> None:
    """For any pool (some texts in it twice), any texts shared with the reported split and any sizes: no fed text
    is a reported one; each feed holds min(size, what is left) distinct texts; a smaller feed is the start of every
    larger one; every id is 32 hex digits that the app's feedback store accepts, and no id repeats."""
    pool = pd.concat([_pool(n), _pool(n)[: n // 3]], ignore_index=True)  # some texts twice
    reported = {f"fed {i}" for i in overlap} | {"other text"}
    feeds = rl.feed(pool, sizes, reported, seed)
    available = len(set(pool["text"]) - reported)
    assert sorted(feeds) == sorted(sizes)
    previous = None
    for size in sorted(sizes):
        fed = feeds[size]
        assert not set(fed["text"]) & reported
        assert len(fed) == min(size, available) == fed["text"].nunique()
        assert all(check_prediction_id(pid) == pid for pid in fed["prediction_id"])
        assert fed["prediction_id"].is_unique
        if previous is not None:
            assert fed.iloc[: len(previous)].equals(previous)
        previous = fed


def test_the_same_seed_feeds_the_same_labels_and_another_seed_others() -> None:
    """The feed is a function of the seed (a rerun reproduces the table), and a different seed shuffles differently."""
    pool = _pool(100)
    first, again, other = (rl.feed(pool, [50], set(), seed)[50] for seed in (0, 0, 1))
    assert first.equals(again)
    assert list(first["text"]) != list(other["text"])


def test_a_configuration_keeps_the_apps_value_where_its_field_is_empty() -> None:
    """``--alt SIZE:MIX_RATIO:STEPS:LEARNING_RATE``: an empty or missing field is the app's value (learning rate
    None: ``LoraTrainer`` as the app runs it); a given one replaces it."""
    assert rl.Config.parse("400:3::", 1.0, 200) == rl.Config(400, 3.0, 200, None)
    assert rl.Config.parse("400", 1.0, 200) == rl.Config(400, 1.0, 200, None)
    assert rl.Config.parse("200::50:1e-4", 1.0, 200) == rl.Config(200, 1.0, 50, 1e-4)
