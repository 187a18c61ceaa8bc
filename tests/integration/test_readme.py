"""Every ``python -m sentiment``, ``python -m finetune`` and ``python benchmarks/...`` line in the README's code blocks
runs and exits 0, and every other line of its shell blocks is either run by ``tests/e2e/test_readme_api.py`` (``curl``)
or named in ``NOT_RUN`` with the reason. A line whose ``Run`` names a test ``elsewhere`` is run as written by that
test (the Ray lines, by the file that has a cluster running).

Each line runs as written, with the test's interpreter for ``python`` (the README's convention is an activated
``.venv``), from a fresh stand-in for the reader's clone (``tests/readme.py``: the repository's files, and a copy of
``examples/``, whose files the README's lines read; the test writes no input of its own), with a temporary data folder.
Only arguments from ``RUNS`` are appended to keep it short (argparse keeps the last value of an option, so an appended
``--sample-size`` overrides). A README line that ``RUNS`` does not know fails: a new example must be given a deliberate
way to run here.
"""

from __future__ import annotations

import ast
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from conftest import CACHE, REPO
from readme import BLOCKS, COMMANDS, EXAMPLES, PREFIXES, output_tail, readme_commands, run_readme_line

# The progress line of a long command, on stderr (``sentiment/tables/progress.py``).
PROGRESS = r"{name}: [\d,]+ texts {done}, [\d,]+ texts/s, 100% of [\d,]+ texts"
COMMAND_TIMEOUT_S = 300


@dataclass(frozen=True)
class Run:
    """How the test runs one README line."""

    extra: tuple[str, ...] = ()  # appended to the line; ``{name}`` is the value of the fixture ``name``
    why: str = ""  # why those arguments (what the README's own line would cost)
    outputs: tuple[str, ...] = ()  # files the line must leave in the working folder
    stderr: str = ""  # a pattern its stderr must hold (a long command's progress line)
    slow: bool = False
    elsewhere: str = ""  # ``path::test``: the test that runs the line instead (it shares that file's set-up)


RUNS: dict[str, Run] = {
    "python -m sentiment score examples/reviews.csv reviews_scored.csv --text-column text": Run(
        outputs=("reviews_scored.csv",), stderr=r"reviews\.csv: 12 rows scored, .*100% of the input", slow=True
    ),
    "python -m sentiment score examples/reviews.csv reviews_scored.csv --engine ray --actors 2": Run(
        elsewhere="tests/integration/test_ray_engine.py::"
        "test_the_readme_line_starts_its_own_ray_while_another_cluster_runs_and_scores_as_the_local_engine",
        why="its point (a Ray of its own beside a running cluster) needs that file's cluster, which takes half a "
        "minute of CPU to start",
    ),
    "python -m sentiment score 'examples/*.csv' scored/ --engine ray --address HEAD:6379 --actors 8": Run(
        elsewhere="tests/integration/test_ray_engine.py::test_the_readme_line_joins_a_running_cluster_by_its_address",
        why="HEAD:6379 stands for your cluster: there, that file's two-node cluster on loopback",
    ),
    'python -m sentiment predict "what a day" "worst service ever"': Run(slow=True),
    'python -m sentiment predict --model vader "what a day"': Run(),
    "python -m sentiment datasets": Run(),
    "python -m finetune --preset embedded": Run(
        extra=(
            "--output_dir",
            "embedded-retrained",
            "--max_steps",
            "2",
            "--datasets",
            "vader_tweets",
            "--eval_datasets",
            "vader_tweets",
            "--base",
            "{tiny_model_dir}",
            "--max_length",
            "32",
        ),
        why="two epochs of MiniLM on four datasets take ~15 min (tests/integration/test_finetune.py trains MiniLM "
        "itself); the preset's own output_dir would overwrite sentiment/embedded",
        outputs=("embedded-retrained/adapter_model.safetensors", "embedded-retrained/README.md"),
        slow=True,
    ),
    "python -m sentiment evaluate --model embedded --dataset vader_tweets --split test": Run(
        extra=("--sample-size", "60"), why="the whole test split is 630 tweets", slow=True
    ),
    "python -m sentiment evaluate --model embedded --compare vader --dataset vader_amazon --json report.json": Run(
        extra=("--sample-size", "60"), why="the whole test split is 557 reviews", outputs=("report.json",), slow=True
    ),
    "python -m sentiment evaluate --model embedded --dataset examples/mine.csv": Run(slow=True),
    "python -m sentiment evaluate --model embedded --dataset examples/stars.csv --label-map "
    "'1:negative,3:neutral,5:positive'": Run(slow=True),
    "python -m finetune.calibrate": Run(
        extra=("--model", "vader", "--datasets", "vader_tweets"),
        why="scoring the validation and test splits of four sets with the embedded model takes minutes",
        stderr=PROGRESS.format(name="calibration", done="scored"),
    ),
    "python -m finetune.calibrate --write temperature": Run(
        extra=("--model", "{calibration_model}", "--datasets", "vader_tweets"),
        why="writes beside the model: a copy of the tiny test model here, never the shipped one",
        stderr=PROGRESS.format(name="calibration", done="scored"),
        slow=True,
    ),
    "python benchmarks/drift_calibration.py": Run(
        extra=("--model", "vader", "--windows", "5", "--size", "100"),
        why="200 windows of 500 on the embedded model's profile of 1,260 tweets take minutes",
    ),
    "python benchmarks/drift_scenarios.py": Run(
        extra=(
            "--model",
            "vader",
            "--days",
            "1",
            "--runs",
            "1",
            "--checks",
            "3",
            "--candidates",
            "2",
            "--workers",
            "1",
            "--cache",
            "scenarios.pkl",
        ),
        why="100 simulated days of 288 checks and 160 shifted runs on the embedded model take a quarter of an hour; "
        "the lexicon has no embeddings, so this runs every check but the semantic one",
    ),
    "python benchmarks/performance_estimation.py": Run(
        extra=("--cache", "{scored_cache}", "--max-rows", "120", "--windows", "1", "--sizes", "60", "--bootstrap", "2"),
        why="scoring 11,000 texts and 30 windows of 200 and 500 per set take minutes; every window is read by each "
        "of the 18 variants' 30 bootstrap replicas (an importance-weighted one fits a classifier per read): one "
        "window and two replicas still fit, read and tabulate every variant on every set",
        slow=True,
    ),
    "python benchmarks/ppi_coverage.py": Run(
        extra=(
            "--cache",
            "{scored_cache}",
            "--max-rows",
            "120",
            "--window",
            "100",
            "--labels",
            "25",
            "50",
            "--windows",
            "20",
        ),
        why="2,000 windows per set, each read with 4 n, take a minute and a half of CPU after scoring 11,000 texts "
        "for minutes: 120 rows a set and 20 windows of 100 with 2 n still read every design and print both tables; "
        "the cache is the one performance_estimation.py's line wrote, as the README's order has it",
        slow=True,
    ),
    "python benchmarks/logging_overhead.py": Run(
        extra=(
            "--model",
            "vader",
            "--requests",
            "20",
            "--rows",
            "1000",
            "--rounds",
            "1",
            "--database-url",
            "{postgres_database}",
        ),
        why="10,000 records per backend and round, and 200 embedded predictions per app; the session's PostgreSQL "
        "(an empty database of its own) rather than a second server",
    ),
    "python -m sentiment replay --dataset airline_tweets --rate 5 --url http://localhost:7860 --max-texts 600": Run(
        extra=("--url", "{replay_app}", "--rate", "50", "--max-texts", "10"),
        why="needs an app (started here, on a free port); 600 texts at 5/s take two minutes",
        stderr=PROGRESS.format(name="replay", done="sent"),
        slow=True,
    ),
}

# Lines of the README's shell blocks that no test runs, and why. Every other line is run: by this file (PREFIXES) or,
# for curl, by tests/e2e/test_readme_api.py.
NOT_RUN: dict[str, str] = {
    "make run": "installs and then serves until stopped; tests/e2e start the same app (python app.py)",
    "make test": "is this test suite",
    "source .venv/bin/activate": "the tests run with the virtual environment's interpreter already",
    "cp grafana/.env.example grafana/.env": "sets up the Docker stack below",
    "docker compose -p sentiment -f grafana/docker-compose.yml up -d --build": (
        "no Docker engine here; tests/integration/test_grafana.py runs Prometheus and promtool on the same files, "
        "tests/e2e/test_load_balancer.py runs its nginx in front of two app replicas and checks it with docker-compose "
        "config"
    ),
    "SENTIMENT_DATABASE_URL=sqlite:///data/sentiment.sqlite python -m sentiment export /tmp/sentiment-export": (
        "would write into the checkout's data folder and a fixed /tmp folder; tests/integration/test_store_transfer.py"
        "::test_the_cli_moves_a_store_from_sqlite_to_postgresql runs the same command on a SQLite file of its own"
    ),
    "SENTIMENT_DATABASE_URL=postgresql+psycopg://app:secret@db:5432/sentiment python -m sentiment import "
    "/tmp/sentiment-export": (
        "names a database host of the reader's; tests/integration/test_store_transfer.py"
        "::test_the_cli_moves_a_store_from_sqlite_to_postgresql runs the same command against the tests' PostgreSQL"
    ),
    "docker compose -p sentiment -f grafana/docker-compose.yml --profile replay up -d replay": (
        "no Docker engine here; the replay it runs is the README's replay line, run by this file"
    ),
}


def test_every_readme_command_has_a_way_to_run_and_every_entry_is_still_in_the_readme() -> None:
    assert len(COMMANDS) >= 8, COMMANDS  # the extraction itself still finds the README's examples
    unknown = [c for c in COMMANDS if c not in RUNS]
    assert not unknown, f"README commands with no entry in RUNS (say how to run them here): {unknown}"
    stale = [c for c in RUNS if c not in COMMANDS]
    assert not stale, f"RUNS entries no longer in README.md: {stale}"


def test_every_line_of_every_shell_block_is_run_by_a_test_or_says_why_not() -> None:
    """A new shell line (a command that needs a file, a step before the examples) cannot slip in untested: it is run
    here, run by the README API test (curl), or named in ``NOT_RUN`` with a reason."""
    lines = [line for block in BLOCKS if block.shell for line in block.lines()]
    unaccounted = [line for line in lines if not line.startswith((*PREFIXES, "curl ")) and line not in NOT_RUN]
    assert not unaccounted, f"README shell lines no test runs; run them or add them to NOT_RUN: {unaccounted}"
    stale = [line for line in NOT_RUN if line not in lines]
    assert not stale, f"NOT_RUN entries no longer in README.md: {stale}"


def test_every_file_a_readme_example_names_is_shipped_in_examples() -> None:
    """Each ``examples/...`` path in a code block is a file of the repository (the README's lines read them as they
    are; a test never makes them up), and each shipped example is used by some block."""
    code = "\n".join(block.code for block in BLOCKS)
    named = set(re.findall(r"examples/[\w.*-]+", code))
    assert named, "no README code block reads a file from examples/"
    missing = [name for name in named if "*" not in name and not (REPO / name).is_file()]
    assert not missing, f"README code names example files that are not shipped: {missing}"
    unused = [p.name for p in EXAMPLES.iterdir() if f"examples/{p.name}" not in named and p.suffix == ".csv"]
    assert not unused, f"example files no README block uses: {unused}"


def test_the_extraction_reads_shell_blocks_only_and_drops_comments() -> None:
    text = (
        "`python -m sentiment datasets` inline\n"
        "```python\npython -m sentiment predict x\n```\n"
        "```\npython benchmarks/a.py   # what it measures\nmake run\n```\n"
        '```bash\n  python -m sentiment predict "a #1 day" # quoted\n```\n'
        "```text\npython -m sentiment in a layout tree\n```\n"
    )
    assert readme_commands(text) == ["python benchmarks/a.py", 'python -m sentiment predict "a #1 day"']


def test_make_says_what_each_install_step_does_and_lets_pip_show_its_progress() -> None:
    """``make run`` and ``make test`` on a fresh machine take minutes: every pip and apt-get step is announced by a
    ``==>`` line, pip runs without ``--quiet``/``-q`` (its own output: collecting, downloading, installing) and apt-get
    without ``-qq`` (``-q`` keeps its one line per package, without the progress meter that garbles a log)."""
    dry = subprocess.run(
        ["make", "--dry-run", "--always-make", "-C", str(REPO), "run", "test", "VENV=/nonexistent-venv"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    pips = [i for i, line in enumerate(dry) if "pip install" in line]
    apts = [i for i, line in enumerate(dry) if "apt-get install" in line]
    assert len(pips) >= 3 and len(apts) == 1, dry  # pip itself, requirements.txt, requirements-dev.txt; Debian's
    for i in pips:
        assert not re.search(r"\s(--quiet|-q+)(\s|$)", dry[i]), f"a silent install step: {dry[i]}"
    for i in apts:
        assert "-qq" not in dry[i], f"a silent install step: {dry[i]}"
    for i in pips + apts:
        announced = [line for line in dry[max(0, i - 3) : i + 1] if "==>" in line]
        assert announced, f"an install step with no line saying what it does: {dry[i]}"


@pytest.fixture
def calibration_model(tiny_model_dir: Path, tmp_path: Path) -> Iterator[Path]:
    """A copy of the tiny model to write a calibration map beside; checks that the map was written."""
    import shutil

    folder = tmp_path / "model-to-calibrate"
    shutil.copytree(tiny_model_dir, folder)
    yield folder
    assert (folder / "calibration.json").is_file(), "the --write line stored no calibration map"


@pytest.fixture(scope="module")
def scored_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the two benchmark lines that score every set keep those scores: the first line to run scores and
    writes them, the other reads them (``load_or_score``), as a reader running the README in order would."""
    return tmp_path_factory.mktemp("scored") / "scored.npz"


@pytest.fixture
def postgres_database(postgres: Any) -> str:
    """An empty database on the session's PostgreSQL server (the benchmark writes its rows there)."""
    return str(postgres.create_database())


@pytest.fixture
def replay_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An app of its own (the shared ``running_app`` must not see replayed traffic); VADER starts fastest. One line
    uses it: it stops after that line rather than idling through the rest of the file."""
    from appserver import start_app

    app = start_app(
        tmp_path_factory.mktemp("replay-app"),
        {"SENTIMENT_MODEL": "vader", "SENTIMENT_SCHEDULER_ENABLED": "false", "SENTIMENT_CACHE_DIR": str(CACHE)},
    )
    yield app.url
    app.stop()


def _param(command: str) -> object:
    run = RUNS.get(command, Run())
    return pytest.param(command, marks=[pytest.mark.slow] if run.slow else [], id=command)


@pytest.mark.parametrize("command", [_param(c) for c in COMMANDS if not RUNS.get(c, Run()).elsewhere])
def test_the_readme_command_runs(command: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    if command not in RUNS:
        pytest.fail(f"no entry in RUNS for this README command; add one saying how to run it: {command}")
    run = RUNS[command]
    values = {name: str(request.getfixturevalue(name)) for a in run.extra for name in re.findall(r"{(\w+)}", a)}
    extra = tuple(a.format(**values) for a in run.extra)
    clone, done = run_readme_line(command, extra, tmp_path, timeout=COMMAND_TIMEOUT_S)
    output = output_tail(done)
    missing = [name for name in run.outputs if not (clone / name).is_file()]
    assert not missing, f"{command} did not write {missing}:\n{output}"
    if run.stderr:
        assert re.search(run.stderr, done.stderr), f"{command} showed no progress ({run.stderr}):\n{output}"


def test_a_line_run_elsewhere_names_a_test_that_runs_it_as_written() -> None:
    """A ``Run(elsewhere=...)`` names a test function that exists and whose module holds the line exactly (it runs
    it with ``run_readme_line``, which fails on a line the README no longer has)."""
    for command, run in RUNS.items():
        if not run.elsewhere:
            continue
        path, name = run.elsewhere.split("::")
        source = (REPO / path).read_text(encoding="utf-8")
        tests = {node.name for node in ast.walk(ast.parse(source)) if isinstance(node, ast.FunctionDef)}
        assert name in tests, f"{run.elsewhere} (said to run {command!r}) is not a test of {path}"
        assert repr(command) in source or f'"{command}"' in source, f"{path} does not hold the line {command!r}"
