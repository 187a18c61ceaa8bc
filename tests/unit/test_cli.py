"""The command lines: ``python -m sentiment``'s global options work on either side of every subcommand's name;
``python -m finetune``'s subcommands take only their own arguments."""

from __future__ import annotations

import argparse
import csv
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
