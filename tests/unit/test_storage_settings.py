"""Where the monitoring memory lives and whether it survives a restart (sentiment/settings/storage.py).

A Space's own disk is wiped on every restart: with a volume mounted at ``SENTIMENT_VOLUME_DIR`` the data folder (and
so the SQLite store) goes on it unless ``SENTIMENT_DATA_DIR`` says otherwise, and ``persistence`` says plainly when
the store will not survive, and how to fix it. Settings are read from the real environment (``monkeypatch``), as the
app reads them.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from sentiment.settings import Settings
from sentiment.settings.storage import VOLUME_FOLDER

PASSWORD = "pw-9f3Kq-secret"
POSTGRES = f"postgresql+psycopg://sentiment:{PASSWORD}@db.internal:5432/sentiment"


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """No storage variable from the caller's environment; the working folder is a temporary one."""
    for name in list(os.environ):
        if name.startswith("SENTIMENT_") or name == "SPACE_ID":
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return monkeypatch


def test_a_mounted_volume_holds_the_data_folder_and_the_store(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """SENTIMENT_VOLUME_MOUNTED=true forces what detection finds on a Space with storage: the data folder becomes
    <volume>/sentiment, the SQLite store is in it, and it survives (no warning) even on a Space."""
    volume = tmp_path / "volume"
    env.setenv("SENTIMENT_VOLUME_DIR", str(volume))
    env.setenv("SENTIMENT_VOLUME_MOUNTED", "true")
    env.setenv("SPACE_ID", "someone/sentiment")
    settings = Settings()
    assert settings.data_dir == volume / VOLUME_FOLDER
    assert settings.store_url == f"sqlite:///{volume / VOLUME_FOLDER / 'sentiment.sqlite'}"
    assert settings.cache_dir == volume / VOLUME_FOLDER / "cache"
    assert settings.persistence.persistent is True and settings.persistence.warning is None


def test_a_real_mount_point_is_detected_and_a_plain_folder_is_not(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Detection without the override: /dev/shm is a real, writable mount point (tmpfs) here; a folder on the root
    disk is not a volume, so the data folder stays ./data."""
    assert os.path.ismount("/dev/shm"), "this test needs /dev/shm mounted, as on every Linux host"
    env.setenv("SENTIMENT_VOLUME_DIR", "/dev/shm")
    assert Settings().data_dir == Path("/dev/shm") / VOLUME_FOLDER
    env.setenv("SENTIMENT_VOLUME_DIR", str(tmp_path))
    assert Settings().volume_is_mounted is False
    assert Settings().data_dir == Path("data")


def test_an_explicit_data_folder_wins_over_the_volume(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    env.setenv("SENTIMENT_VOLUME_DIR", str(tmp_path / "volume"))
    env.setenv("SENTIMENT_VOLUME_MOUNTED", "true")
    env.setenv("SENTIMENT_DATA_DIR", str(tmp_path / "mine"))
    settings = Settings()
    assert settings.data_dir == tmp_path / "mine"
    assert settings.store_url == f"sqlite:///{tmp_path / 'mine' / 'sentiment.sqlite'}"


def test_a_space_without_a_volume_or_database_says_its_memory_is_lost_and_how_to_keep_it(
    env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    env.setenv("SPACE_ID", "someone/sentiment")
    env.setenv("SENTIMENT_VOLUME_DIR", str(tmp_path / "no-volume"))
    persistence = Settings().persistence
    assert persistence.persistent is False
    assert persistence.warning is not None
    for words in ("lost on every restart and deploy", "feedback", "prediction log", "drift history", "references"):
        assert words in persistence.warning
    assert f"storage bucket at {tmp_path / 'no-volume'}" in persistence.warning  # how: attach a volume ...
    assert "set SENTIMENT_DATABASE_URL" in persistence.warning  # ... or a database


def test_a_database_url_survives_on_a_space_and_its_password_is_in_no_sentence(env: pytest.MonkeyPatch) -> None:
    env.setenv("SPACE_ID", "someone/sentiment")
    env.setenv("SENTIMENT_DATABASE_URL", POSTGRES)
    settings = Settings()
    assert settings.persistence.persistent is True and settings.persistence.warning is None
    assert settings.data_dir == Path("data")  # the data folder keeps caches only; it may be wiped


def test_off_a_space_a_local_sqlite_file_persists_but_an_in_memory_store_never_does(env: pytest.MonkeyPatch) -> None:
    """A machine's disk is kept between runs (the operator chose it): no warning for `make run`. A store in memory
    is lost with the process anywhere."""
    assert Settings().persistence.persistent is True
    env.setenv("SENTIMENT_DATABASE_URL", "sqlite://")
    persistence = Settings().persistence
    assert persistence.persistent is False
    assert persistence.warning is not None and "in memory" in persistence.warning


@hypothesis_settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    on_space=st.booleans(),
    mounted=st.booleans(),
    data_dir=st.sampled_from([None, "on-volume", "elsewhere"]),
    database=st.sampled_from([None, "postgres", "sqlite-on-volume", "sqlite-elsewhere", "memory"]),
)
def test_the_rule_for_every_combination(
    env: pytest.MonkeyPatch,
    tmp_path: Path,
    on_space: bool,
    mounted: bool,
    data_dir: str | None,
    database: str | None,
) -> None:
    """The whole class: the store survives iff it is PostgreSQL, or a SQLite file that is on a mounted volume or
    off a Space; a warning is given exactly when it does not survive, it says how to fix it, and it never holds a
    password."""
    volume = tmp_path / "volume"
    fields: dict[str, object] = {"volume_dir": volume, "volume_mounted": mounted}
    if on_space:
        fields["space_id"] = "someone/sentiment"
    if data_dir is not None:
        fields["data_dir"] = volume / "mine" if data_dir == "on-volume" else tmp_path / "elsewhere"
    urls = {
        "postgres": POSTGRES,
        "sqlite-on-volume": f"sqlite:///{volume}/store.sqlite",
        "sqlite-elsewhere": f"sqlite:///{tmp_path}/store.sqlite",
        "memory": "sqlite://",
    }
    if database is not None:
        fields["database_url"] = urls[database]
    settings = Settings(**fields)  # type: ignore[arg-type]

    if database is None:
        on_volume = mounted and (data_dir in (None, "on-volume"))
    else:
        on_volume = mounted and database == "sqlite-on-volume"
    if database == "postgres":
        expected = True
    elif database == "memory":
        expected = False
    else:
        expected = on_volume or not on_space
    persistence = settings.persistence
    assert persistence.persistent is expected
    assert (persistence.warning is None) is expected
    if persistence.warning is not None:
        assert "SENTIMENT_DATABASE_URL" in persistence.warning and str(volume) in persistence.warning
        assert PASSWORD not in persistence.warning
    if data_dir is None and mounted:
        assert settings.data_dir == volume / VOLUME_FOLDER
