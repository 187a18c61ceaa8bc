"""The command lines: ``python -m sentiment``'s global options work on either side of every subcommand's name;
``python -m finetune``'s subcommands take only their own arguments."""

from __future__ import annotations

import argparse
import csv
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from sentiment.__main__ import build_parser, main


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    (action,) = (a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def _global_options(parser: argparse.ArgumentParser) -> list[str]:
    """The main parser's own options (not --help): the ones a user may write before the subcommand."""
    return [
        a.option_strings[-1]
        for a in parser._actions
        if a.option_strings and not isinstance(a, (argparse._HelpAction, argparse._SubParsersAction))
    ]


def _required_arguments(sub: argparse.ArgumentParser) -> list[str]:
    """A minimal valid argument list for a subcommand: a value for each positional and each required option."""
    argv: list[str] = []
    for action in sub._actions:
        value = str(next(iter(action.choices))) if action.choices else "x"
        if not action.option_strings and action.nargs not in ("*", "?"):
            argv += [value] * (action.nargs if isinstance(action.nargs, int) else 1)
        elif action.option_strings and action.required:
            argv += [action.option_strings[-1], value]
    return argv


PARSER = build_parser()
SUBCOMMANDS = sorted(_subcommands(PARSER))
GLOBAL_OPTIONS = _global_options(PARSER)
# Option values as people write them: anything that does not look like an option itself.
VALUES = st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"), min_size=1).filter(
    lambda v: not v.startswith("-")
)


def test_the_walk_finds_every_subcommand_and_the_model_option() -> None:
    assert {"predict", "datasets", "score", "evaluate", "replay"} <= set(SUBCOMMANDS)
    assert "--model" in GLOBAL_OPTIONS


@pytest.mark.parametrize("command", SUBCOMMANDS)
@pytest.mark.parametrize("option", GLOBAL_OPTIONS)
@hypothesis_settings(max_examples=15, deadline=None)
@given(first=VALUES, second=VALUES)
def test_a_global_option_parses_the_same_before_and_after_the_subcommand_and_the_later_one_wins(
    command: str, option: str, first: str, second: str
) -> None:
    rest = _required_arguments(_subcommands(PARSER)[command])
    dest = option.lstrip("-").replace("-", "_")
    before = vars(PARSER.parse_args([option, first, command, *rest]))
    after = vars(PARSER.parse_args([command, *rest, option, first]))
    assert before == after
    assert before[dest] == first
    assert vars(PARSER.parse_args([option, second, command, *rest, option, first]))[dest] == first
    # Absent on both sides: the main parser's default, not overwritten by the subcommand's copy.
    assert vars(PARSER.parse_args([command, *rest]))[dest] is None


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SENTIMENT_DATA_DIR", str(tmp_path / "data"))
    return tmp_path


def test_the_model_after_the_subcommand_is_the_one_that_serves(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--model", "embedded", "predict", "what a day", "--model", "vader"]) == 0
    first_line = capsys.readouterr().out.splitlines()[0]
    assert first_line.startswith("# model: vader"), first_line


def test_score_takes_the_model_after_the_file_names(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source, target = data_dir / "in.csv", data_dir / "out.csv"
    source.write_text("id,text\n1,I love it\n2,worst service ever\n")
    assert main(["score", str(source), str(target), "--model", "vader"]) == 0
    rows = list(csv.DictReader(target.open()))
    assert [r["label"] for r in rows] == ["positive", "negative"]
    assert '"scored": 2' in capsys.readouterr().out


def test_finetune_runs_refuses_arguments_it_does_not_take(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from finetune.__main__ import main as finetune_main

    with pytest.raises(SystemExit) as refused:
        finetune_main(["runs", "--model", "vader"])
    assert refused.value.code == 2 and "unrecognized arguments: --model vader" in capsys.readouterr().err
    assert finetune_main(["runs"]) == 0
    assert "no runs in" in capsys.readouterr().out


def test_a_wrong_input_prints_its_message_and_a_bug_its_traceback_both_exit_2(
    data_dir: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A ``SentimentError`` is the user's to fix: one line, no traceback. A library's bare ``ValueError`` is a bug:
    the traceback is logged. The exit code stays 2 for both, as before the error hierarchy."""
    empty = data_dir / "empty.csv"
    empty.write_text("")
    assert main(["score", str(empty), str(data_dir / "out.csv"), "--model", "vader"]) == 2
    assert capsys.readouterr().err.strip() == "error: empty.csv is empty"
    assert not [r for r in caplog.records if r.exc_info]

    import sentiment.service.batch_jobs

    def broken(*args: object, **kwargs: object) -> None:
        raise ValueError("boom")

    monkeypatch.setattr(sentiment.service.batch_jobs, "score_inputs", broken)  # what `score` runs, either engine
    source = data_dir / "in.csv"
    source.write_text("text\nfine\n")
    assert main(["score", str(source), str(data_dir / "out.csv"), "--model", "vader"]) == 2
    assert "error: internal error (ValueError: boom)" in capsys.readouterr().err
    (record,) = [r for r in caplog.records if r.exc_info]
    assert record.name == "sentiment.__main__" and "boom" in str(record.exc_info[1])


def test_a_bad_combination_of_settings_names_the_variables_without_a_traceback(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """As ``python app.py`` does: the settings are read inside the CLI's error edge, so the user reads which
    variables disagree and why, in one message, exit 2."""
    monkeypatch.setenv("SENTIMENT_DRIFT_MIN_WINDOW", "900")
    monkeypatch.setenv("SENTIMENT_DRIFT_WINDOW", "500")
    assert main(["info"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: invalid settings:") and "SENTIMENT_DRIFT_MIN_WINDOW=900" in err
    assert "Traceback" not in err and not [r for r in caplog.records if r.exc_info]


# --- --engine ray: every refusal a user can cause is one line and exit 2 (issue #25 item 8, issue #26 item 4) ----

REPO = Path(__file__).resolve().parents[2]


def _run_cli(args: list[str], tmp_path: Path, site: Path | None = None) -> subprocess.CompletedProcess[str]:
    """``python -m sentiment ARGS`` as a user runs it, from the repository root, optionally with a ``sitecustomize``
    folder first on the path (to take a package away before anything imports it)."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "SENTIMENT_DATA_DIR": str(tmp_path / "data")}
    env["PYTHONPATH"] = os.pathsep.join(str(p) for p in (site, REPO) if p is not None)
    return subprocess.run(
        [sys.executable, "-m", "sentiment", *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )


def test_the_ray_engine_without_ray_installed_is_one_line_saying_how_to_install_it(tmp_path: Path) -> None:
    """Issue #26: ``score --engine ray`` without Ray printed "internal error" and a traceback around the right
    message. Ray is taken away for real (``sys.modules['ray'] = None`` in a ``sitecustomize`` of a child process):
    stderr is exactly one line naming the requirements file, exit 2, nothing written."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text("import sys\nsys.modules['ray'] = None  # import ray -> ImportError\n")
    source = tmp_path / "reviews.csv"
    source.write_text("id,text\n1,great\n")
    done = _run_cli(
        ["score", str(source), str(tmp_path / "out.csv"), "--engine", "ray", "--actors", "2"], tmp_path, site
    )
    assert (done.returncode, done.stderr.strip().splitlines()) == (
        2,
        ["error: --engine ray needs Ray, which is not installed: pip install -r requirements-scale.txt"],
    )
    assert not (tmp_path / "out.csv").exists()


@pytest.mark.parametrize(
    ("address", "says"),
    [
        ("nonsense", "--address 'nonsense' is not a Ray address: give the head node's HOST:PORT"),
        ("127.0.0.1:{port}", "no Ray cluster answers at 127.0.0.1:{port} (Connection refused): start one there"),
        ("ray://127.0.0.1:{port}", "no Ray cluster answers at ray://127.0.0.1:{port} (Connection refused)"),
    ],
    ids=["not-an-address", "nothing-listens", "ray-client-nothing-listens"],
)
def test_a_ray_address_that_does_not_answer_is_one_line_at_once(
    data_dir: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    address: str,
    says: str,
) -> None:
    """An address where nothing listens made ``ray.init`` wait for minutes (measured here: over 300 s), then die by
    its signal handler; a malformed one was an "internal error". Now both are one line within seconds, exit 2, no
    traceback, saying how to start a cluster or to leave ``--address`` out."""
    pytest.importorskip("ray")
    with socket.socket() as probe:  # a port nothing listens on (bound, never listening: refused at once)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        source = data_dir / "reviews.csv"
        source.write_text("id,text\n1,great\n")
        started = time.monotonic()
        argv = [
            "score",
            str(source),
            str(data_dir / "out.csv"),
            "--engine",
            "ray",
            "--address",
            address.format(port=port),
        ]
        assert main([*argv, "--model", "vader", "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: " + says.format(port=port))
    assert "leave out --address to start a Ray instance on this machine" in err[0]
    assert time.monotonic() - started < 30
    assert not [r for r in caplog.records if r.exc_info] and not (data_dir / "out.csv").exists()


def test_a_cluster_without_cpus_is_refused_and_fewer_cpus_than_actors_only_warned(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The check ``score_plans_on_ray`` makes on ``ray.cluster_resources()`` before starting any actor: no CPU at
    all can never run a replica (Ray Data would wait for ever); fewer CPUs than actors can, on an autoscaling
    cluster, so it is a warning."""
    from sentiment.tables.ray_engine import cluster_cpu_problem

    assert "has no CPUs to run the model on" in str(cluster_cpu_problem({"memory": 1e9}, actors=1))
    assert "has no CPUs" in str(cluster_cpu_problem({"CPU": 0.5, "GPU": 1.0}, actors=1))
    assert cluster_cpu_problem({"CPU": 2.0}, actors=2) is None and not caplog.records
    assert cluster_cpu_problem({"CPU": 2.0}, actors=8) is None
    assert "2 CPUs for 8 actors" in caplog.records[-1].getMessage()
